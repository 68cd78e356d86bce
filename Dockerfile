# The chat server image: one daphne process per container (docker-compose.yml runs several).
# Build: docker build -t chatserver:local .

# --- build stage: compilers exist only here, in case a dependency has no wheel ----------------
FROM python:3.11-slim AS build

RUN apt-get update \
    && apt-get install --yes --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

# A virtualenv is a single folder to copy into the runtime stage.
RUN python -m venv /opt/chatserver
ENV PATH=/opt/chatserver/bin:$PATH

WORKDIR /src
# .dockerignore keeps secrets, .env files, certificates and local data out of this copy.
COPY . .
RUN pip install --no-cache-dir --upgrade pip \
    && pip install --no-cache-dir .

# --- runtime stage ---------------------------------------------------------------------------
FROM python:3.11-slim

ENV PATH=/opt/chatserver/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHATSERVER_DATA_DIR=/var/lib/chatserver \
    DEBUG=false

# A fixed uid, so that an operator can grant it read access to the key file that compose
# mounts as a secret (docs/deployment.md).
RUN groupadd --system --gid 10001 chatserver \
    && useradd --system --uid 10001 --gid chatserver --home-dir /var/lib/chatserver \
        --no-create-home --shell /usr/sbin/nologin chatserver \
    && install --directory --owner=chatserver --group=chatserver --mode=0700 /var/lib/chatserver

COPY --from=build /opt/chatserver /opt/chatserver
COPY deploy/healthcheck.py /usr/local/lib/chatserver/healthcheck.py
# The web client is in the installed package (setup.py), served by the app itself.

USER chatserver
WORKDIR /var/lib/chatserver
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/lib/chatserver/healthcheck.py"]

# Migrations run once in their own job (the migrate service in docker-compose.yml), never
# from each replica, so that replicas starting together do not race on the schema.
CMD ["chatserver", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-migrate"]
