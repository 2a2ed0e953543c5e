FROM debian
RUN apt-get update && apt-get install -y cron ca-certificates
COPY crontab /etc/cron.d/jobs
RUN chmod 0644 /etc/cron.d/jobs && crontab /etc/cron.d/jobs
CMD ["cron", "-f"]
