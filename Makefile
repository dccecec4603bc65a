# The two commands a newcomer needs: `make run` and `make test`.
# Both bootstrap .venv from pyproject.toml on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PROTO := protos/contextstore/v1/context_store.proto
PY_OUT := client/python
GENERATED := contextstore/v1/context_store_pb2.py contextstore/v1/context_store_pb2.pyi \
	contextstore/v1/context_store_pb2_grpc.py contextstore/v1/context_store_pb2_grpc.pyi

# protoc from grpcio-tools (pinned), with mypy-protobuf for typed stubs.
protoc = $(BIN)/python -m grpc_tools.protoc -I protos \
	--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy \
	--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc \
	--python_out=$(1) --grpc_python_out=$(1) --mypy_out=quiet:$(1) --mypy_grpc_out=quiet:$(1) \
	$(PROTO)

.PHONY: run test lint proto check-proto pytest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/contextstore serve

test: check-proto lint pytest

pytest: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/mypy server client/python tests
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

proto: $(STAMP)
	$(call protoc,$(PY_OUT))

# Generated code is committed; fail when it no longer matches the contract.
check-proto: $(STAMP)
	@tmp=$$(mktemp -d) && mkdir -p $$tmp/contextstore/v1 && $(call protoc,$$tmp) && \
	for f in $(GENERATED); do \
		cmp -s $$tmp/$$f $(PY_OUT)/$$f || { echo "$(PY_OUT)/$$f is out of date: run make proto" >&2; \
		rm -rf $$tmp; exit 1; }; \
	done; rm -rf $$tmp; echo "generated code is up to date"

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache .hypothesis
