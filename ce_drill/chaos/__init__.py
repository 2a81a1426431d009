"""Chaos Toolkit activities for drills against the local staging stack.

Experiments (``experiments/local/*.json``) name these functions as python
providers: probes that read Prometheus, Alertmanager's view of alerts, the
service's health and PostgreSQL's lock table (with the manual's own lock-wait
query); actions that deploy the leaking 5.1, hold a lock on the hot table,
push a pod over its memory limit and roll back; controls that record every
activity on the stack's timeline and abort the drill when the error rate
passes its stop condition.

Every activity finds the stack through the experiment's configuration
(``ce_drill_run_dir``, from ``CE_DRILL_RUN_DIR``); the drills a run breaks on
purpose come as ``ce_drill_breaks`` (``CE_DRILL_BREAKS``, comma-separated).
"""
