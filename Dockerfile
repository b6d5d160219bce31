# Two images from one file:
#   docker build --target api    -t unlearn-audit-api .     light: FastAPI + SQLAlchemy + Celery client, no torch
#   docker build --target worker -t unlearn-audit-worker .  CUDA: torch, transformers, bitsandbytes, llm-compressor

# ---- base: the project's source and the light dependencies ------------------------------------------
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 UNLEARN_AUDIT_DATA_DIR=/data PYTHONPATH=/app
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY worker ./worker
COPY migrations ./migrations

# ---- api: no torch; serves the API and runs the migrations -------------------------------------------
FROM base AS api
RUN pip install ".[s3]" && useradd --system --uid 1000 audit && mkdir -p /data && chown audit /data
USER audit
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# slow clients are cut off: headers within UNLEARN_AUDIT_HEADER_TIMEOUT_S, idle connections after 5 s, 16 KB of headers
CMD ["uvicorn", "service.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", \
     "--http", "service.server:BoundedH11Protocol", "--timeout-keep-alive", "5", "--h11-max-incomplete-event-size", "16384"]

# ---- worker: CUDA runtime, torch for CUDA, the engine ------------------------------------------------
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS worker
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 UNLEARN_AUDIT_DATA_DIR=/data \
    HF_HOME=/data/hf-cache NUMBA_CACHE_DIR=/data/numba-cache VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONPATH=/app
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev gcc \
    && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/venv
WORKDIR /app
COPY --from=base /app /app
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128 && pip install ".[worker,s3]" \
    && useradd --system --uid 1000 audit && mkdir -p /data && chown audit /data
USER audit
CMD ["unlearn-audit", "worker", "--queues", "gpu", "--concurrency", "1"]
