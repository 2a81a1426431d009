"""Prometheus and Alertmanager configuration generated from the playbook.

The manual's alert rules and priority matrix become recording and alerting
rules over a fixed metrics contract, promtool unit tests that prove each rule
fires exactly when the manual says, Alertmanager routes to the manual's
notification channels, and the same rule groups as a Kubernetes
PrometheusRule — at the manual's own timing or compressed for drills.
"""
