# The two commands a newcomer needs: `make run` and `make test`.
# Both bootstrap .venv from pyproject.toml on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# make run installs what the contextstore command needs; make test adds the
# development tools (.[dev]). Each stamp is redone when pyproject.toml changes.
RUN_STAMP := $(VENV)/.run-stamp
STAMP := $(VENV)/.dev-stamp
PROTO := protos/contextstore/v1/context_store.proto
PY_OUT := protos/python
GENERATED := contextstore/v1/context_store_pb2.py contextstore/v1/context_store_pb2.pyi \
	contextstore/v1/context_store_pb2_grpc.py contextstore/v1/context_store_pb2_grpc.pyi

# protoc from grpcio-tools (pinned), with mypy-protobuf for typed stubs.
protoc = $(BIN)/python -m grpc_tools.protoc -I protos \
	--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy \
	--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc \
	--python_out=$(1) --grpc_python_out=$(1) --mypy_out=quiet:$(1) --mypy_grpc_out=quiet:$(1) \
	$(PROTO)

# buf, from npm, pinned by protos/package-lock.json. `buf breaking` compares the
# contract with the one at BUF_AGAINST (on a branch: BUF_AGAINST=main).
BUF := protos/node_modules/.bin/buf
BUF_AGAINST ?= HEAD~1

# Tools nobody here wrote, which the tests drive the server with.
TOOLS := .tools/bin
GRPCURL_VERSION := v1.9.4
HEALTH_PROBE_VERSION := v0.4.61
GHZ_VERSION := v0.120.0

# Clients in other languages, each with its own Makefile (deps, proto, build,
# and ci: what make test runs) and a conformance runner for tests/conformance.
LANGS := go java rust typescript

.PHONY: run test lint buf tools clients proto check-proto pytest bench redis h2load cluster clean

$(VENV)/.venv-stamp:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

$(RUN_STAMP): pyproject.toml $(VENV)/.venv-stamp
	$(BIN)/python -m pip install --quiet -e '.[server,bench,cli]'
	touch $@

$(STAMP): pyproject.toml $(VENV)/.venv-stamp
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/contextstore serve

test: check-proto lint pytest

tools: $(TOOLS)/grpcurl $(TOOLS)/grpc-health-probe $(TOOLS)/ghz

$(TOOLS)/grpcurl:
	GOBIN=$(CURDIR)/$(TOOLS) go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

$(TOOLS)/grpc-health-probe:
	GOBIN=$(CURDIR)/$(TOOLS) go install \
		github.com/grpc-ecosystem/grpc-health-probe@$(HEALTH_PROBE_VERSION)

$(TOOLS)/ghz:
	GOBIN=$(CURDIR)/$(TOOLS) go install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)

clients:
	@for lang in $(LANGS); do $(MAKE) -C client/$$lang ci || exit 1; done

pytest: $(STAMP) tools clients redis h2load
	$(BIN)/pytest

$(BUF): protos/package.json protos/package-lock.json
	@# npm install, not npm ci: the registry here lacks buf's other-platform
	@# binaries, so ci refuses the lock; install still takes the locked versions.
	cd protos && npm install --no-audit --no-fund --loglevel=error
	touch $@

buf: $(BUF)
	$(BUF) lint protos
	@if git cat-file -e $(BUF_AGAINST):$(PROTO) 2>/dev/null; then \
		$(BUF) breaking protos --against '.git#ref=$(BUF_AGAINST),subdir=protos' && \
		echo "buf breaking: no breaking change against $(BUF_AGAINST)"; \
	else echo "buf breaking: no contract at $(BUF_AGAINST) to compare with"; fi

lint: buf $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/mypy server client/python protos/python/contextstore/units benchmarks tests devtools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

proto: $(STAMP)
	$(call protoc,$(PY_OUT))
	@for lang in $(LANGS); do $(MAKE) -C client/$$lang proto || exit 1; done

# Generated code is committed; fail when it no longer matches the contract.
check-proto: $(STAMP)
	@tmp=$$(mktemp -d) && mkdir -p $$tmp/contextstore/v1 && $(call protoc,$$tmp) && \
	for f in $(GENERATED); do \
		cmp -s $$tmp/$$f $(PY_OUT)/$$f || { echo "$(PY_OUT)/$$f is out of date: run make proto" >&2; \
		rm -rf $$tmp; exit 1; }; \
	done; rm -rf $$tmp; echo "generated code is up to date"

# The full benchmark suite (benchmarks/, not packaged): each figure a ratio
# measured side by side, with its target beside it; writes BENCHMARKS.md.
# Not part of make test.
bench: $(STAMP) tools redis h2load
	$(BIN)/python -m benchmarks --report BENCHMARKS.md

# redis-server and redis-benchmark, the suite's yardstick, from Debian's packages.
redis:
	@command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq redis-server redis-tools; }

# h2load, figure F1's second load generator (HTTP/2, unpinned), from Debian's nghttp2-client.
h2load:
	@command -v h2load >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nghttp2-client; }

# On one machine, the distributed deployment: a 3-primary Redis Cluster and two servers
# over it, on 127.0.0.1:50051 and :50052, until Ctrl-C (devtools/cluster.py).
cluster: $(RUN_STAMP) redis
	$(BIN)/python -m devtools.cluster

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache .hypothesis protos/node_modules .tools
