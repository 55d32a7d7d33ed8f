#!/usr/bin/env bash
# Builds a release into a folder (default dist/): ten-<target>.tar.gz per target, each holding the
# compiled `ten` at its top level, SHA256SUMS over them, and install.sh with the repository named.
#
#   scripts/release.sh [--out DIR] [--target T]... [--binary FILE] [--repo OWNER/NAME]
#
# Without --binary, `deno compile --target T` builds each target (it downloads the runtime base
# for T, so it needs internet access). --binary FILE packages an already built executable instead
# (one --target then). --repo (or $TENEMENT_REPO, else the GitHub origin remote) is written into
# the published install.sh so it downloads from that repository's releases.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/dist"
targets=()
binary=""
repo="${TENEMENT_REPO:-}"
deno_bin="${DENO:-deno}"

while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --target) targets+=("$2"); shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --repo) repo="$2"; shift 2 ;;
    *) echo "release: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
if [ -n "$binary" ] && [ ${#targets[@]} -ne 1 ]; then
  echo "release: --binary packages one executable, so give exactly one --target" >&2
  exit 2
fi
for t in "${targets[@]}"; do
  case "$t" in
    x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu) ;;
    *) echo "release: unsupported target '$t'" >&2; exit 2 ;;
  esac
done
if [ -z "$repo" ]; then
  origin="$(git -C "$root" remote get-url origin 2>/dev/null || true)"
  repo="$(sed -nE 's#^(https://github\.com/|git@github\.com:)([^/]+/[^/.]+)(\.git)?$#\2#p' <<<"$origin")"
fi
if ! [[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]]; then
  echo "release: warning: no GitHub repository known (--repo OWNER/NAME or TENEMENT_REPO);" \
    "the published install.sh will need TENEMENT_DOWNLOAD_URL" >&2
  repo=""
fi

mkdir -p "$out"
archives=()
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  if [ -n "$binary" ]; then
    cp "$binary" "$work/$t/ten"
  else
    "$deno_bin" compile -A --frozen --unstable-kv --unstable-net --unstable-no-legacy-abort --unstable-raw-imports --target "$t" \
      --include "$root/src/logs/log_writer_worker.ts" \
      -o "$work/$t/ten" "$root/main.ts"
  fi
  chmod 0755 "$work/$t/ten"
  tar -czf "$out/ten-$t.tar.gz" -C "$work/$t" --owner=0 --group=0 ten
  archives+=("ten-$t.tar.gz")
  echo "release: $out/ten-$t.tar.gz"
done
(cd "$out" && sha256sum "${archives[@]}" >SHA256SUMS)
if [ -n "$repo" ]; then
  sed "s#@TENEMENT_REPO@#$repo#" "$root/install.sh" >"$out/install.sh"
else
  cp "$root/install.sh" "$out/install.sh"
fi
echo "release: $out/SHA256SUMS, $out/install.sh${repo:+ (downloads from github.com/$repo)}"
