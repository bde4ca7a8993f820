# One image for the four platform services; docker-compose.yml picks the service by its command.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml ./
COPY services ./services
RUN pip install --no-cache-dir . && rm -rf build

ENV UFOP_DATA_DIR=/data
VOLUME /data

# exec form: nameko is PID 1 and gets the SIGTERM of `docker stop`, so it stops its workers
# cleanly (no shell in between that would swallow the signal)
CMD ["nameko", "run", "--config", "/app/services/common/ufop_common/nameko.yaml", "gateway.service"]
