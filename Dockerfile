# deskgraph's image: the wheel of this checkout on python:3.12-slim, run as a user of its own.
# docker-compose.yml runs it (README, "Docker Compose"); on its own:
#   docker build -t deskgraph . && docker run -e DESKGRAPH_DATABASE_URL=... -e DESKGRAPH_TOKEN_SECRET=... deskgraph
FROM python:3.12-slim AS build
WORKDIR /src
COPY . .
# The wheel and those of its dependencies (the same versions pip picks for `make install`).
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --create-home --home-dir /srv/deskgraph deskgraph
USER deskgraph
WORKDIR /srv/deskgraph
# Production by default: a token secret, key or JWKS must then come from the environment.
ENV DESKGRAPH_ENV=production \
    DESKGRAPH_HOST=0.0.0.0 \
    DESKGRAPH_PORT=8000 \
    PYTHONUNBUFFERED=1
EXPOSE 8000
# Ready: the database answers and is migrated (GET /readyz; 503 otherwise).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('DESKGRAPH_PORT', '8000')}/readyz\", timeout=4)"]
# SIGTERM: requests in flight are answered, subscriptions closed (1012), then it exits.
STOPSIGNAL SIGTERM
CMD ["deskgraph", "serve"]
