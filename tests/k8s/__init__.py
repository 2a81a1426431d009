"""Tests against a real Kubernetes v1.20 control plane on loopback (marker ``k8s``).

``cluster`` starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler built
by ``scripts/build-k8s.sh``; ``fakelet`` stands in for the kubelets, so pods get a status
but no container ever runs.
"""
