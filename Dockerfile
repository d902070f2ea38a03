# Three stages: the dashboard's npm packages, the wheel (the service with its Cypher files
# and the dashboard, pyproject.toml's force-include table), and a slim runtime holding the
# pinned dependencies and that wheel, nothing of the build. The context is an allowlist
# (.dockerignore); tests/unit/test_docker_context.py checks both without a Docker engine.

# npm packages exactly as web/package-lock.json pins them; runtime ones only (eslint and
# prettier are for make lint). Node 22: canonicalize's declared engine.
FROM node:22-slim AS web
WORKDIR /build/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim AS wheel
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
COPY cypher ./cypher
COPY web/index.html ./web/index.html
COPY web/src ./web/src
COPY --from=web /build/web/node_modules ./web/node_modules
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
WORKDIR /app
# The pinned runtime packages first (a layer that changes only with the lock), then the
# wheel without resolving anything again.
COPY requirements/main.lock requirements/main.lock
RUN pip install --no-cache-dir -r requirements/main.lock
COPY --from=wheel /dist /dist
RUN pip install --no-cache-dir --no-deps /dist/*.whl && rm -rf /dist
EXPOSE 8000
CMD ["tracegraph", "serve"]
