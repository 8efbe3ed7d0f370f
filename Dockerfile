# matcher-server in a container: the wheel built in one stage, installed into a venv with the
# locked dependencies, and only that venv copied into a slim runtime image run by a non-root user.
#
# Every install step is deploy/install.sh, which tests/e2e/test_wheel.py also runs (with $SRC,
# $WHEELS and $VENV pointed at temporary directories), because no Docker engine runs where the
# tests do: the test executes this file's RUN lines and copies what its COPY lines name.
#
#   docker build -t matcher .
#   docker run -p 50051:50051 -p 9464:9464 -v "$PWD/data:/feeds:ro" \
#       -e MATCHER_FEED=/feeds/suppliers.jsonl matcher

FROM python:3.11-slim-bookworm AS build
ENV SRC=/src WHEELS=/wheels VENV=/opt/matcher PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in requirements.lock ./
COPY deploy/install.sh deploy/
COPY proto proto
COPY devtools/__init__.py devtools/protogen.py devtools/
COPY data/suppliers.jsonl data/
COPY matcher matcher
COPY matcher_api matcher_api
RUN sh deploy/install.sh wheel "$SRC" "$WHEELS"
RUN sh deploy/install.sh venv "$VENV" "$SRC/requirements.lock" "$WHEELS"

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin matcher
COPY --from=build /opt/matcher /opt/matcher
# [::] so that the port is reachable from outside the container; metrics on their own port.
ENV PATH=/opt/matcher/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MATCHER_ADDRESS=[::]:50051 \
    MATCHER_METRICS_ADDRESS=[::]:9464
USER 10001:10001
EXPOSE 50051 9464
# SIGTERM drains (health NOT_SERVING at once, calls in flight finish within --grace-seconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["matcher-server"]
