FROM openjdk:8
RUN apt-get update
RUN apt-get install -y curl unzip
ADD target/legacy-service.jar /opt/legacy-service.jar
EXPOSE 8080
CMD ["java", "-jar", "/opt/legacy-service.jar"]
