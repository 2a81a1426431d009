"""Drills against a Kubernetes staging cluster: the agent-coordinator Deployment as the target.

``ce-drill run SCENARIO --target k8s --config FILE`` drills the manual's failure
modes on a real cluster instead of the local stack, and judges them with the same
judge, against the same drill plan:

* :mod:`~ce_drill.k8s.config` — the drill config file (which cluster, namespace,
  Deployment, releases, Prometheus, database, allowlist, kill switch), read once
  with located errors;
* :mod:`~ce_drill.k8s.kube` — the kubeconfig, the allowlist and the guard that
  re-checks both before every change the drill makes;
* :mod:`~ce_drill.k8s.rollout` — releases and the rollout undo ``kubectl`` does;
* :mod:`~ce_drill.k8s.charter` — the target as the activities see it, fixed at the start;
* :mod:`~ce_drill.k8s.killswitch`, :mod:`~ce_drill.k8s.permissions` (what a drill
  may do, asked of the API server), :mod:`~ce_drill.k8s.redact` (secrets never
  written);
* :mod:`~ce_drill.k8s.actions`, :mod:`~ce_drill.k8s.probes`,
  :mod:`~ce_drill.k8s.controls` — the Chaos Toolkit activities of
  ``experiments/k8s/*.json``, next to chaosk8s's own;
* :mod:`~ce_drill.k8s.evidence` and :mod:`~ce_drill.k8s.runner` — what the judge
  reads, and the drill from start to scorecard.
"""
