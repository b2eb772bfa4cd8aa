# syntax=docker/dockerfile:1
# One image for every process. The default command is the web server; docker-compose.yml
# runs the Celery worker and beat from the same image with other commands.
#   docker build -t chatbot .
#   docker run --rm -p 127.0.0.1:8000:8000 chatbot ./start_services.sh   # embedded try-out
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/app/var \
    DJANGO_ENV_FILE=/app/var/.env \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc \
    PORT=8000 \
    BIND_HOST=0.0.0.0
# BIND_HOST: the container's own interface; what the host exposes is `-p` / compose's ports.
# A public bind keeps DEBUG off (config/settings.py).

WORKDIR /app

# pg_dump / pg_restore for `make backup` and `make restore` (Debian 12's PostgreSQL 15, the
# major version docker-compose.yml and render.yaml run).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first, so this layer is rebuilt only when requirements.txt changes. The
# stamp tells start_services.sh they are already installed.
COPY requirements.txt .
RUN python -m venv "$VENV" \
 && "$VENV/bin/pip" install -r requirements.txt \
 && sha256sum requirements.txt | cut -d' ' -f1 > "$VENV/.requirements.sha"

COPY . .

# Static files are collected into the image (whitenoise serves them). Production settings
# demand secrets and the embedded mode writes generated ones to DJANGO_ENV_FILE: pointing
# that at /dev/null sends the throwaway keys nowhere, so no secret ends up in a layer.
# DEBUG=False selects the hashed, compressed manifest storage used in production.
RUN DJANGO_ENV_FILE=/dev/null DATA_DIR=/tmp/build-data DEBUG=False \
      python manage.py collectstatic --noinput -v 0 \
 && rm -rf /tmp/build-data \
 && useradd --system --user-group --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /app/var "$PROMETHEUS_MULTIPROC_DIR" \
 && chown -R app:app /app/var /app/staticfiles "$PROMETHEUS_MULTIPROC_DIR"

USER app
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "config.asgi:application"]
