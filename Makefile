# The two commands of README.md: `make main` (the main job) and `make test` (the test suite).
PY := .venv/bin/python

.PHONY: install main test

install:
	bash tools/install.sh

main: install
	bash tools/main_job.sh

test: install
	$(PY) -m pytest tests
