#!/usr/bin/env bash
# The whole check: lint, format, types, then the test suite (strict pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# pytest exits 5 when it collects nothing, which fails this script as it should.
.venv/bin/pytest "$@"
