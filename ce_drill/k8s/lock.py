"""Hold ``ACCESS EXCLUSIVE`` on a staging table, the DSN taken from the environment.

Run as ``python -m ce_drill.k8s.lock TABLE SECONDS`` with the DSN in
``CE_DRILL_DSN``: the lock holder of the local drills
(:mod:`ce_drill.chaos.lockholder`), which takes its DSN as an argument — on a
cluster the DSN carries a password, and an argument shows in every process
listing.  It prints the backend pid once the lock is held.
"""

from __future__ import annotations

import os
import sys

from ce_drill.chaos.lockholder import main as hold
from ce_drill.k8s.redact import ENV_DSN

if __name__ == "__main__":
    hold([os.environ[ENV_DSN], *sys.argv[1:]])
