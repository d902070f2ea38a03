FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY cypher ./cypher
COPY schema ./schema
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["tracegraph", "serve"]
