# The README's two commands: `make demo` and `make test`. Each sets up .venv when it is missing
# or older than the project's metadata, so a fresh machine with only Python 3.11 is enough.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out
# The assignment `make demo` releases, collects sample submissions of, grades and exports
# (any of assignments/source/, which the demo lists: `make demo DEMO_ASSIGNMENT=05_gpu_kernels`).
DEMO_ASSIGNMENT ?= 01_tensors_vectorization

.PHONY: demo test lint venv sandbox browser clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,cluster]'
	touch $(STAMP)

venv: $(STAMP)

# bubblewrap isolates student code in the grader; install it where apt can, carry on where not.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
	  && (apt-get install -y -qq bubblewrap >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1)) ; } \
	  || echo "note: bubblewrap not installed; the grader falls back to resource limits only"

demo: $(STAMP) sandbox
	$(BIN)/toolkit bench --quick --table $(OUT)/bench.txt --json $(OUT)/bench.json --plot $(OUT)/bench.png
	@echo "== the course's assignments: $$(ls assignments/source | tr '\n' ' ')=="
	@echo "== the instructor's side, for $(DEMO_ASSIGNMENT): release, collect a Canvas download, grade, export =="
	rm -rf $(OUT)/course && mkdir -p $(OUT)/course/source
	cp assignments/nbgrader_config.py $(OUT)/course/ && cp -r assignments/source/$(DEMO_ASSIGNMENT) $(OUT)/course/source/
	$(BIN)/autograder generate $(DEMO_ASSIGNMENT) --course $(OUT)/course
	$(BIN)/python -m autograder.samples $(DEMO_ASSIGNMENT) --course $(OUT)/course --zip $(OUT)/canvas_download.zip --roster $(OUT)/course/roster.csv --times $(OUT)/canvas_submissions.json
	$(BIN)/autograder collect $(OUT)/canvas_download.zip --times $(OUT)/canvas_submissions.json --course $(OUT)/course
	$(BIN)/autograder grade $(DEMO_ASSIGNMENT) --course $(OUT)/course
	$(BIN)/autograder status $(DEMO_ASSIGNMENT) --course $(OUT)/course
	$(BIN)/autograder export $(DEMO_ASSIGNMENT) --course $(OUT)/course --to csv,canvas,gradescope,html --out $(OUT)/exports

# Debian's Chromium renders the HTML feedback in a test; the test skips, saying why, without it.
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
	  && (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1)) ; } \
	  || echo "note: chromium not installed; the browser check of the HTML feedback is skipped"

# ruff, configured in pyproject.toml; `make test` lints before it tests.
lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) lint sandbox browser
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
