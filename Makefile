# Two commands do everything on a fresh machine:
#   make run    set up and start the mentor (the built index ships in index/; rebuilt only if stale)
#   make test   set up (including test-only tools) and run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast setup browser index lint eval bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: pip takes the CPU build from local disk.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The browser test drives Debian's Chromium (never a downloaded browser); CJK fonts make
# screenshots and charts readable.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; fi; \
	fi

index: setup
	$(VENV)/bin/kefu-mentor build

run: setup
	$(PY) app.py

test: setup browser
	$(VENV)/bin/kefu-mentor build --check
	$(PY) -m pytest

# The one-minute tier: everything but new processes, the browser, notebooks and load.
test-fast: setup
	$(PY) -m pytest -m "not slow"

lint: setup
	$(VENV)/bin/ruff check kefu_mentor tests app.py

eval: setup
	$(VENV)/bin/kefu-mentor eval

clean:
	rm -rf index .cache $(VENV)
