# Two commands on a fresh machine:  `make demo`  and  `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= configs/quickstart.yaml
# test files run in this many processes (one per core on the 2-core target)
TEST_WORKERS ?= 2

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found (Python >= 3.10 needed; set PY=...)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v chromium >/dev/null 2>&1; then \
		(apt-get install -y -q chromium chromium-driver || (apt-get update -q && apt-get install -y -q chromium chromium-driver)) >/dev/null 2>&1 \
		|| echo "note: chromium not installed; the real-browser app test will be skipped"; fi
	@if $(BIN)/python -m pip list 2>/dev/null | grep -Ei '^(nvidia-|triton|cuda-)'; then \
		echo "error: CUDA packages were installed (see above); the CPU torch pin in constraints.txt was not honoured"; exit 1; fi
	@$(BIN)/python -c "import torch,sys; v=torch.__version__; sys.exit(0 if '+cpu' in v or not torch.version.cuda else 'error: torch '+v+' is a CUDA build')"
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null 2>&1 || true
	touch $(STAMP)

demo: setup
	$(BIN)/python train.py --config $(CONFIG) $(ARGS)

test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/python benchmarks/bench_sim.py

clean:
	rm -rf $(VENV)
