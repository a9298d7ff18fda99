# syntax=docker/dockerfile:1.7
# check=skip=JSONArgsRecommended

ARG PYTHON_VERSION=3.12
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.4.18

# ---- build the wheels -------------------------------------------------------
FROM ${BASE_IMAGE} AS Builder
ARG BASE_IMAGE=ignored-in-stage
WORKDIR /src
COPY --from=ghcr.io/astral-sh/uv:0.4.18 /uv /usr/local/bin/uv
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    # dependencies first, for layer caching
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-install-project
COPY <<EOF /src/version.py
# generated
FROM = "not an instruction"
EOF
RUN <<-SCRIPT
	set -eu
	echo "FROM busybox" > /tmp/notes
	SCRIPT

# ---- runtime ------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim@sha256:2ec5a4a5c3e919570f57675471f081d6299668d909feabd8d4803c6c61af666c AS runtime
COPY --from=builder /src/.venv /app/.venv
COPY --from=0 /src /app
RUN --mount=type=bind,from=busybox:1.36,source=/bin/busybox,target=/busybox /busybox true
USER 10001
CMD ["/app/.venv/bin/python", "-m", "app"]
