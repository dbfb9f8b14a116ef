# Two commands do everything on a fresh machine (see README.md):
#   make demo   set up, then run the smart-glasses demo offline on the default local models
#   make test   set up, then run lint, type checks and the whole test suite
.PHONY: setup demo test lint typecheck pytest bench clean

setup:
	./scripts/setup.sh

demo: setup
	.venv/bin/python examples/smart_glasses_demo.py --summary out/demo-summary.json

lint:
	.venv/bin/ruff check edgesdk tests examples scripts

typecheck:
	.venv/bin/mypy

pytest:
	.venv/bin/pytest -q -rs

test: setup lint typecheck pytest

bench: setup
	.venv/bin/edgesdk bench --quick --out out/bench

clean:
	rm -rf .venv out .mypy_cache .ruff_cache .pytest_cache
