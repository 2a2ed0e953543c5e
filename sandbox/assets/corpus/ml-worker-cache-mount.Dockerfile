# syntax=docker/dockerfile:1.6
FROM python:3.11-slim
RUN --mount=type=cache,target=/var/cache/apt \
    apt-get update && apt-get install -y --no-install-recommends libgomp1
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install numpy==1.26.4 scikit-learn==1.4.1.post1 pillow==8.4.0
COPY worker.py /app/worker.py
CMD ["python", "/app/worker.py"]
