# crampbot: the bot, the daily posts and the content API in one small image.
# Build: docker build -t crampbot .      Run: see compose.yaml and docs/deploying.md
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock ./
RUN python -m venv /venv \
    && /venv/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
RUN /venv/bin/pip install --no-deps --no-build-isolation .

FROM python:3.11-slim
RUN groupadd --gid 10001 crampbot \
    && useradd --uid 10001 --gid crampbot --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin crampbot \
    && mkdir -p /data /app \
    && chown crampbot:crampbot /data
COPY --from=build /venv /venv
COPY --chown=crampbot:crampbot seeds /app/seeds
WORKDIR /app
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CRAMPBOT_DB=/data/crampbot.db \
    CRAMPBOT_SEEDS=/app/seeds \
    CRAMPBOT_API_HOST=0.0.0.0 \
    CRAMPBOT_API_PORT=8080
USER crampbot
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('CRAMPBOT_API_PORT') or '8080'; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
CMD ["crampbot", "run"]
