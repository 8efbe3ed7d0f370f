#!/bin/sh
# The one install recipe of the container image, run verbatim by the wheel test
# (tests/e2e/test_wheel.py) since no Docker engine runs where the tests do.
#
#   install.sh wheel SOURCE OUTDIR      build the wheel; grpcio-tools lives only in pip's build env
#   install.sh venv VENV LOCK WHEELDIR  a fresh venv: the locked runtime dependencies (hashes
#                                       checked), then the wheel alone, with no resolution
set -eu
PYTHON="${PYTHON:-python3}"
case "${1:-}" in
wheel)
    "$PYTHON" -m pip wheel --no-deps --wheel-dir "$3" "$2"
    ;;
venv)
    "$PYTHON" -m venv "$2"
    "$2/bin/python" -m pip install --require-hashes --only-binary :all: -r "$3"
    "$2/bin/python" -m pip install --no-deps "$4"/matcher-*.whl
    ;;
*)
    echo "usage: $0 wheel SOURCE OUTDIR | venv VENV LOCK WHEELDIR" >&2
    exit 2
    ;;
esac
