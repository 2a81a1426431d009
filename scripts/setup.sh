#!/usr/bin/env bash
# Set up ce-drill on a fresh Debian/Ubuntu machine: the real components from
# Debian packages (PostgreSQL, Prometheus + promtool, Alertmanager + amtool,
# stress-ng, tmux) and ce-drill with its dev tools in ./.venv.  Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(prometheus prometheus-alertmanager postgresql postgresql-contrib stress-ng tmux fonts-wqy-microhei chromium)

if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "setup: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -qq
        # The packages try to start their services; with no init system here that is refused
        # harmlessly (ce-drill starts its own instances on its own ports).
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
else
    echo "setup: no apt-get here; install ${APT_PACKAGES[*]} yourself" >&2
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev,dask]'
echo "setup: ready — .venv/bin/ce-drill $(.venv/bin/ce-drill --version | awk '{print $NF}')"
