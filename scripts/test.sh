#!/usr/bin/env bash
# The whole check: lint, format, types, the Kubernetes binaries, then the test suite (strict pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The k8s tests (tests/k8s/) run a real Kubernetes control plane.  Its first build keeps
# both cores busy for 13-15 min, so it runs here, before the tests rather than beside them;
# after that it is cached outside the tree and this is a no-op.  A failed build fails.
CE_DRILL_K8S_BIN=$(bash scripts/build-k8s.sh | tail -n 1)
export CE_DRILL_K8S_BIN
# Two workers, a test file at a time on each, so a file's stack or control plane starts once:
# the real drills spend most of their time waiting on scaled manual time, and the other worker
# fills it.
# pytest exits 5 when it collects nothing, which fails this script as it should.
.venv/bin/pytest -n 2 --dist loadfile "$@"
