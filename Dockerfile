# syntax=docker/dockerfile:1
# The analyzer image: runs `image-factory` (the gate and verify-rebuild jobs, record, refresh, render).
# The base is pinned by digest; bump it by rebuilding on a vetted digest (this image is itself a managed
# image candidate: enroll it in images.yaml like any other).
# NOTE: this digest was NOT resolved against Docker Hub (the machines this was written on reach no
# registry). Before the first build, replace it with the vetted digest of python:3.11-slim, e.g. from
# `image-factory status` after `image-factory refresh`.
ARG PYTHON_BASE=python:3.11-slim@sha256:79a3a3fd0332eb198443c49d00953631176713878966d4ad713f2f5bf16bcd25

FROM ${PYTHON_BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements.txt pyproject.toml ./
COPY analyzer ./analyzer
# The package and its runtime dependencies ([project.dependencies]: no test or Pulumi tooling), at the
# versions pinned in requirements.txt (used as constraints).
RUN python -m venv /opt/image-factory \
    && /opt/image-factory/bin/pip install -c requirements.txt .

FROM ${PYTHON_BASE}
# git: `record` commits state with GitPython, which drives the git CLI.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin image-factory
COPY --from=build /opt/image-factory /opt/image-factory
ENV PATH=/opt/image-factory/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/image-factory
USER 10001:10001
WORKDIR /home/image-factory
ENTRYPOINT ["image-factory"]
CMD ["--help"]
