#!/usr/bin/env bash
# Installs what the examples, tests and benchmarks need from Debian's packages, when missing:
# python3 (notes example, fixtures), go (Go example), promtool (metrics check), wrk and nginx
# (benchmarks), caddy (the ten caddy test), pebble with pebble-challtestsrv and openssl (the ACME
# tests: a local certificate authority and its test DNS), bubblewrap (isolation = "sandbox"), chromium (the dashboard test, headless). Needs root or sudo for apt; does nothing when everything is present.
set -euo pipefail
need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1 || need+=(pebble)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-prereqs: please install: ${need[*]}" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-prereqs: installing ${need[*]}" >&2
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
