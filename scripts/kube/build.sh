#!/usr/bin/env bash
# Builds the Kubernetes control plane used by the end-to-end tests, once per version, into a cache
# outside the clone:  ~/.cache/meshpilot/kube-v1.34.2/bin/{etcd,kube-apiserver,kube-controller-manager,helm}
#
#   scripts/kube/build.sh            build what is missing, print the bin dir on the last line
#   MESHPILOT_CACHE=/some/dir ...    cache root instead of ~/.cache/meshpilot
#
# Idempotent: a binary that already exists is not rebuilt; binaries are written to a temporary name
# and renamed, and a lock file serialises concurrent runs (several test files may ask at once).
# Needs Go (>= 1.26 for etcd-mod) and the Go module proxy. Cold build: about 5 min on 2 cores.
set -euo pipefail

KUBE_VERSION=v1.34.2
HELM_VERSION=v3.22.0
here="$(cd "$(dirname "$0")" && pwd)"
cache_root="${MESHPILOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshpilot}"
bin="$cache_root/kube-$KUBE_VERSION/bin"
mkdir -p "$bin"

if ! command -v go >/dev/null 2>&1; then
  echo "scripts/kube/build.sh: Go is required to build the test cluster (https://go.dev/dl/)" >&2
  exit 1
fi

# One build at a time; a second caller waits and then finds everything built.
exec 9>"$bin/.build.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

export GOFLAGS="-buildvcs=false -trimpath"
export CGO_ENABLED=0
ldflags="-s -w"
kube_ldflags="$ldflags -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean"

# build NAME MODULE_DIR PACKAGE LDFLAGS
build() {
  local name="$1" dir="$2" pkg="$3" flags="$4"
  if [[ -x "$bin/$name" ]]; then return 0; fi
  echo "building $name ..." >&2
  local start=$SECONDS
  (cd "$here/$dir" && go build -ldflags "$flags" -o "$bin/.$name.tmp" "$pkg")
  mv -f "$bin/.$name.tmp" "$bin/$name"
  echo "built $name in $((SECONDS - start))s" >&2
}

build etcd etcd-mod ./cmd/etcd "$ldflags"
build kube-apiserver apiserver-mod ./cmd/kube-apiserver "$kube_ldflags"
build kube-controller-manager apiserver-mod ./cmd/kube-controller-manager "$kube_ldflags"
# kubectl at the apiserver's version (Debian's kubernetes-client is 1.20, far outside the skew policy).
build kubectl apiserver-mod ./cmd/kubectl "$kube_ldflags"

if [[ ! -x "$bin/helm" ]]; then
  echo "installing helm $HELM_VERSION ..." >&2
  start=$SECONDS
  tmp_gobin="$(mktemp -d "$bin/.helm.XXXXXX")"
  GOBIN="$tmp_gobin" GOFLAGS="$GOFLAGS" go install -ldflags "$ldflags -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv -f "$tmp_gobin/helm" "$bin/helm"
  rmdir "$tmp_gobin"
  echo "installed helm in $((SECONDS - start))s" >&2
fi

echo "$bin"
