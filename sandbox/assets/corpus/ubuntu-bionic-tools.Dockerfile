FROM ubuntu:18.04
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update
RUN apt-get install -y curl openssl openssh-client git
RUN apt-get install -y python3 python3-pip
RUN pip3 install requests==2.22.0 urllib3==1.25.8
COPY scripts/ /opt/scripts/
ENTRYPOINT ["/opt/scripts/run.sh"]
