#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager and kube-scheduler v1.20.2 for the
# Kubernetes test cluster (tests/k8s/), from Debian's `kubernetes` source package: it ships
# the whole upstream tree with vendor/, so it builds offline with Debian's Go 1.19 in
# GOPATH mode (the Go module proxy is not needed).
#
# The binaries are cached outside the work tree, keyed by the source package version and
# this script's own hash:
#     ${CE_DRILL_K8S_CACHE:-/var/cache/ce-drill}/k8s-<version>-<hash>/bin/
# When that cache is complete this is a no-op.  Otherwise it builds (~13 min on 2 cores)
# into a temporary directory beside it and renames it into place, so an interrupted build
# never leaves a half cache.  Progress goes to stderr; the last line on stdout is the bin dir.
#
# env: CE_DRILL_K8S_CACHE (cache root), CE_DRILL_K8S_WORK (build work dir, default
# /var/tmp/ce-drill-k8s-build; removed after a successful build, kept after a failed one
# so that a retry resumes from the unpacked source and the Go build cache).
set -euo pipefail

# The Debian source package pinned here is bookworm's; if a point release replaces it,
# take the version `apt-cache showsrc kubernetes` lists (same v1.20.2 tree).
VER=1.20.5+really1.20.2-1.1+deb12u1
UPSTREAM=1.20.5+really1.20.2
K8S_VERSION=v1.20.2
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler)

CACHE_ROOT=${CE_DRILL_K8S_CACHE:-/var/cache/ce-drill}
SCRIPT_HASH=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
DEST=$CACHE_ROOT/k8s-$VER-$SCRIPT_HASH
BIN=$DEST/bin

log() { echo "build-k8s: $*" >&2; }

complete() {
    local c
    for c in "${COMPONENTS[@]}"; do
        [ -x "$BIN/$c" ] || return 1
    done
}

if complete; then
    echo "$BIN"
    exit 0
fi

trap 'log "FAILED at line $LINENO (exit $?); nothing was cached"' ERR

if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
"${sudo[@]}" mkdir -p "$CACHE_ROOT"

# One build at a time per cache root: a second caller waits, then finds the cache.
exec 9>>"$CACHE_ROOT/.build.lock"
flock 9
if complete; then
    echo "$BIN"
    exit 0
fi

t_start=$(date +%s)
WK=${CE_DRILL_K8S_WORK:-/var/tmp/ce-drill-k8s-build}
mkdir -p "$WK/apt/parts" "$WK/apt/lists/partial" "$WK/src"

GO=/usr/lib/go-1.19/bin/go
if [ ! -x "$GO" ]; then
    log "installing golang-1.19-go"
    export DEBIAN_FRONTEND=noninteractive
    # Another apt run (setup.sh) may hold the dpkg lock: wait for it instead of failing.
    if ! apt-cache show golang-1.19-go >/dev/null 2>&1; then
        "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=900 update -qq >&2
    fi
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends \
        golang-1.19-go >&2
fi

SRC=$WK/src
if [ ! -f "$SRC/.fetched" ]; then
    log "fetching the kubernetes=$VER source package"
    # deb-src entries derived from the machine's own Debian sources, in a private apt state
    # so that the system's package lists are left alone.
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$WK/apt/parts/src.sources"
    apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$WK/apt/parts"
        -o "Dir::State::Lists=$WK/apt/lists" -o APT::Sandbox::User=root)
    apt-get "${apt_opts[@]}" update -qq >&2
    (cd "$SRC" && apt-get "${apt_opts[@]}" source --download-only "kubernetes=$VER" >&2)
    touch "$SRC/.fetched"
fi

export GOPATH=$WK/gopath GOCACHE=$WK/gocache GO111MODULE=off GOPROXY=off GOFLAGS= \
    CGO_ENABLED=0 GOTOOLCHAIN=local
export PATH=/usr/lib/go-1.19/bin:$PATH
K=$GOPATH/src/k8s.io/kubernetes

if [ ! -f "$K/.unpacked" ]; then
    log "unpacking and patching"
    rm -rf "$K" "$SRC/unpack"
    mkdir -p "$SRC/unpack" "$GOPATH/src/k8s.io"
    tar xzf "$SRC/kubernetes_$UPSTREAM.orig.tar.gz" -C "$SRC/unpack"
    tar xJf "$SRC/kubernetes_$VER.debian.tar.xz" -C "$SRC/unpack"
    tree=$SRC/unpack/kubernetes-${K8S_VERSION#v}
    while read -r p; do
        case $p in '' | '#'*) continue ;; esac
        patch -d "$tree" -p1 -s <"$SRC/unpack/debian/patches/$p"
    done <"$SRC/unpack/debian/patches/series"
    mv "$tree" "$K"
    rm -rf "$SRC/unpack"
    touch "$K/.unpacked"
fi
cd "$K"

# pkg/generated/openapi is not in the source tarball; the apiserver needs it.
if [ ! -f "$K/.openapi" ]; then
    log "generating pkg/generated/openapi"
    nice -n 19 go build -p 2 -o "$WK/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen
    dirs=$({
        find pkg cmd plugin -name '*.go' -not -name '*_test.go'
        find -L vendor -name '*.go' -not -name '*_test.go' \
            -not -path 'vendor/k8s.io/code-generator/*' -not -path 'vendor/k8s.io/sample-apiserver/*'
    } | xargs grep -l '+k8s:openapi-gen=' | xargs -n1 dirname | LC_ALL=C sort -u |
        sed 's|^|k8s.io/kubernetes/|' | paste -sd,) || true # grep -l exits 1 when a batch has no tag
    [ -n "$dirs" ] || {
        log "no +k8s:openapi-gen packages found"
        exit 1
    }
    nice -n 19 "$WK/openapi-gen" --logtostderr -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi \
        -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
        -r "$WK/violations.report" >&2
    touch "$K/.openapi"
fi

TMP=$(mktemp -d "$CACHE_ROOT/.k8s-build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/bin"
V=k8s.io/kubernetes/vendor/k8s.io
ldflags="-s -w"
for pkg in component-base/version client-go/pkg/version; do
    ldflags+=" -X $V/$pkg.gitVersion=$K8S_VERSION -X $V/$pkg.gitMajor=1 -X $V/$pkg.gitMinor=20"
done
ldflags+=" -X $V/component-base/version.gitTreeState=clean"
for c in "${COMPONENTS[@]}"; do
    log "go build $c ($(date +%T))"
    /usr/bin/time -f "build-k8s: $c: %e s wall, go build max RSS %M KB" \
        nice -n 19 go build -p 2 -trimpath -ldflags "$ldflags" -o "$TMP/bin/$c" "k8s.io/kubernetes/cmd/$c"
done
"$TMP/bin/kube-apiserver" --version >&2

rm -rf "$DEST"
chmod 755 "$TMP"
mv "$TMP" "$DEST"
trap - EXIT
cd /
rm -rf "$WK"
log "built in $(($(date +%s) - t_start)) s"
echo "$BIN"
