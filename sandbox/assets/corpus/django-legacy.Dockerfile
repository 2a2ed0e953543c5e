FROM python:3.8-slim-buster

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /srv/app
RUN apt-get update && apt-get install -y openssl curl libpq5
RUN pip install Django==3.1.4 psycopg2-binary==2.8.6 requests==2.19.1 PyYAML==5.3
COPY . .
RUN python manage.py collectstatic --noinput

CMD ["python", "manage.py", "runserver", "0.0.0.0:8000"]
