# lookalike server image: slim, non-root, models mounted at /models or baked in at build time.
#   docker build -t lookalike .                                   # models mounted at run time
#   docker build -t lookalike --build-arg MODELS=clip-vit-b-32 .  # models baked into the image
#   docker build -t lookalike --build-arg EXTRAS=all .            # faces, OCR and moderation too
# See docs/deploy.md.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ARG EXTRAS=""
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/lookalike \
    && /opt/lookalike/bin/pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}"

FROM python:${PYTHON_VERSION}-slim
ARG MODELS=""
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home lookalike \
    && mkdir -p /data /models \
    && chown lookalike:lookalike /data /models
COPY --from=build /opt/lookalike /opt/lookalike
ENV PATH=/opt/lookalike/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LOOKALIKE_DATA_DIR=/data \
    LOOKALIKE_MODEL_DIR=/models \
    LOOKALIKE_HOST=0.0.0.0 \
    LOOKALIKE_PORT=8000
USER lookalike
RUN for model in $MODELS; do lookalike models download "$model"; done
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
# Listening beyond localhost needs LOOKALIKE_API_KEYS (or --allow-unauthenticated behind a
# proxy that authenticates); the server refuses to start otherwise and says so.
CMD ["lookalike", "serve"]
