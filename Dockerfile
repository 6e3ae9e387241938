# syntax=docker/dockerfile:1
# Cartograph API image (CPU only). Built by `docker compose build` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Unprivileged runtime user. The code stays root-owned (read-only to the app); only the state
# directory is writable. A named volume mounted on /var/lib/cartograph starts as a copy of this
# directory, ownership included, so the volume is writable by this user too.
RUN groupadd --system --gid 10001 cartograph \
    && useradd --system --uid 10001 --gid cartograph --create-home --home-dir /home/cartograph \
       --shell /usr/sbin/nologin cartograph \
    && mkdir -p /var/lib/cartograph/artifacts /var/lib/cartograph/data /var/lib/cartograph/incoming \
    && chown -R cartograph:cartograph /var/lib/cartograph

WORKDIR /app

# 1) torch, CPU build, from the PyTorch CPU index, before anything else: a plain PyPI resolve
#    would pull the CUDA build and its nvidia-* wheels (several GB). Keep the pin equal to
#    constraints.txt.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# 2) The other dependencies, from the metadata only, so this layer is rebuilt when pyproject.toml
#    or constraints.txt change, not on every code edit. The empty packages are placeholders that
#    let setuptools build the project; the real code replaces them in step 4.
COPY pyproject.toml README.md constraints.txt /app/
RUN mkdir -p kg gnn api cartograph \
    && touch kg/__init__.py gnn/__init__.py api/__init__.py cartograph/__init__.py \
    && pip install --no-cache-dir -c constraints.txt . \
    && rm -rf kg gnn api cartograph build ./*.egg-info

# 3) Data files the installed package reads at run time (found through the variables below).
COPY cypher/ /app/cypher/
COPY data/sample/ /app/data/sample/

# 4) The code itself (dependencies are already installed; --no-deps keeps pip off the network
#    resolver and keeps the CPU torch in place).
COPY kg/ /app/kg/
COPY gnn/ /app/gnn/
COPY api/ /app/api/
COPY cartograph/ /app/cartograph/
RUN pip install --no-cache-dir --no-deps --force-reinstall -c constraints.txt . \
    && rm -rf build ./*.egg-info

ENV CARTOGRAPH_CYPHER_DIR=/app/cypher \
    CARTOGRAPH_SAMPLE_DIR=/app/data/sample \
    CARTOGRAPH_HOME=/var/lib/cartograph \
    CARTOGRAPH_ARTIFACTS_DIR=/var/lib/cartograph/artifacts \
    CARTOGRAPH_DATA_DIR=/var/lib/cartograph/data \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HOME=/home/cartograph

USER 10001:10001

EXPOSE 8000

CMD ["cartograph", "quickstart", "--host", "0.0.0.0", "--port", "8000"]
