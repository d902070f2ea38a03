FROM python:3.11-slim
WORKDIR /app
# The pinned runtime packages first (a layer that changes only with the lock), then the
# project itself without resolving anything again.
COPY requirements/main.lock requirements/main.lock
RUN pip install --no-cache-dir -r requirements/main.lock
COPY pyproject.toml README.md ./
COPY src ./src
COPY cypher ./cypher
COPY schema ./schema
RUN pip install --no-cache-dir --no-deps .
EXPOSE 8000
CMD ["tracegraph", "serve"]
