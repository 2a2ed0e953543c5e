FROM registry.example.com/platform/python-base:latest
COPY --chown=1000:1000 app/ /app/
RUN pip install --no-cache-dir -e /app
# Start the worker.
ENTRYPOINT ["python", "-m", "app.worker"]
