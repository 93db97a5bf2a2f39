# Everyday commands. Each installs what it needs into .venv on first use.
.PHONY: run test lint typecheck migrate bench bench-quick soak ci

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

bench-quick:
	benchmarks/run --quick

# 10 minutes on PostgreSQL (IMPRINT_TEST_DATABASE_URL, else postgres@127.0.0.1:5432), 2 workers.
soak:
	.venv/bin/python benchmarks/soak.py --backend postgresql --duration 600 --workers 2

ci:
	bash .ci/run
