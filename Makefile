# Every target sets up what it needs: a fresh clone with Python runs `make run`; `make test` also
# needs Node.js and npm, for buf (the proto's linter and breaking-change check, from npm).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
GEN    := matcher_api/v1/matcher_pb2.py
PROTOS := $(wildcard proto/matcher/v1/*.proto)
ADDRESS ?= localhost:50051
FEED   ?= data/suppliers.jsonl
# npm ci writes node_modules/.package-lock.json: it stands for the whole install
NODE   := node_modules/.package-lock.json
BUF    := node_modules/.bin/buf
# the Node client example, which the e2e tests run against a server
NODE_EXAMPLE := examples/node/node_modules/.package-lock.json

.PHONY: all setup system gen lock wheel run test lint typecheck check bench stress data clean dev-certs proto-lint

all: test

# Every package at the version the lock file pins (hashes checked), then this project, editable.
$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(STAMP) $(GEN)

# PostgreSQL with PostGIS, and Redis, from Debian's packages: the tests and the bench start their own
# throwaway servers from them (devtools/). Installs only what is missing; `make run` needs none.
system:
	@sh devtools/system_packages.sh

# Generated code lives apart from the domain, in matcher_api/v1/, and is never committed,
# linted or type-checked.
$(GEN): $(PROTOS) $(STAMP) devtools/protogen.py
	$(PY) -m devtools.protogen

gen: $(GEN)

# The lock files, from pyproject.toml: requirements.lock (what the wheel runs on, installed by the
# Dockerfile) and requirements-dev.lock (that plus the dev tools, installed by make). Run after
# changing a dependency, and commit both.
LOCK := $(BIN)/uv pip compile pyproject.toml --quiet --python-version 3.11 --python-platform linux \
	--generate-hashes --custom-compile-command "make lock"
lock: | $(STAMP)
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev -o requirements-dev.lock

# The wheel, as the Dockerfile builds it: generated stubs and the sample feed inside.
wheel: | $(STAMP)
	PYTHON=$(PY) sh deploy/install.sh wheel . dist

# Node tools, pinned by package-lock.json: buf.
$(NODE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(NODE_EXAMPLE): examples/node/package.json examples/node/package-lock.json
	npm ci --prefix examples/node --no-audit --no-fund --loglevel=error
	touch $@

# buf.yaml: STANDARD lint rules and comments on everything; then no change may break a client
# of v1 as released (proto/v1-baseline.binpb, an image `buf build` made when v1 was settled).
proto-lint: $(NODE)
	$(BUF) lint
	$(BUF) breaking --against proto/v1-baseline.binpb

run: setup
	$(BIN)/matcher-server --address $(ADDRESS) --feed $(FEED)

lint: setup proto-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy matcher matcher_api devtools examples/python

check: lint typecheck

test: setup system proto-lint $(NODE_EXAMPLE)
	$(BIN)/ruff check .
	$(BIN)/mypy matcher matcher_api devtools examples/python
	$(BIN)/pytest -q

bench: setup system
	$(PY) -m bench

# The attacks of issue #11 against a real server with TLS and tokens on a 100k-supplier feed,
# a few minutes: figures in bench/results/stress.json and the README's reliability section.
stress: setup
	$(PY) -m devtools.stress

data: setup
	$(PY) -m devtools.sample_feed --out $(FEED)

# Throwaway TLS material and a descriptor set for grpcurl: README "Running with TLS and tokens".
dev-certs: setup
	$(PY) -m devtools.dev_certs --out dev-certs
	$(PY) -m devtools.protoset --out dev-certs/matcher.protoset

clean:
	rm -rf $(VENV) node_modules examples/node/node_modules matcher_api/v1 build dist .pytest_cache .mypy_cache .ruff_cache
