# Everyday commands. Each installs what it needs into .venv on first use.
.PHONY: run test lint typecheck migrate bench ci

run:
	scripts/serve

test:
	scripts/test

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

typecheck:
	.venv/bin/mypy

migrate:
	.venv/bin/imprint-sessions db upgrade

bench:
	benchmarks/run

ci:
	bash .ci/run
