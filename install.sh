#!/bin/sh
# tenement installer: downloads the `ten` release for this machine, checks it against the
# release's SHA256SUMS, and installs it. Safe for `curl -fsSL <release>/install.sh | sh`: all work
# happens in functions called from the last line, so a download cut short runs nothing.
#
# Environment:
#   TENEMENT_VERSION       release to install, e.g. v0.3.0 (default: the latest release)
#   TENEMENT_DOWNLOAD_URL  folder holding ten-<target>.tar.gz and SHA256SUMS (default: the GitHub
#                          release of TENEMENT_VERSION, or the latest one)
#   TENEMENT_INSTALL_DIR   where `ten` goes (default: /usr/local/bin as root, ~/.local/bin otherwise)
#
# Supported: Linux on x86_64 (x86_64-unknown-linux-gnu) and arm64 (aarch64-unknown-linux-gnu).

# `make release` writes the repository's owner/name here in the copy it publishes.
TENEMENT_REPO="@TENEMENT_REPO@"

say() {
  printf 'tenement: %s\n' "$*"
}

fail() {
  printf 'tenement install: error: %s\n' "$*" >&2
  exit 1
}

has() {
  command -v "$1" >/dev/null 2>&1
}

detect_target() {
  os=$(uname -s 2>/dev/null || echo unknown)
  arch=$(uname -m 2>/dev/null || echo unknown)
  case "$os" in
    Linux) ;;
    *) fail "unsupported operating system '$os': tenement runs on Linux only" ;;
  esac
  case "$arch" in
    x86_64 | amd64) echo "x86_64-unknown-linux-gnu" ;;
    aarch64 | arm64) echo "aarch64-unknown-linux-gnu" ;;
    *) fail "unsupported architecture '$arch': releases exist for x86_64 and aarch64" ;;
  esac
}

download_base() {
  if [ -n "${TENEMENT_DOWNLOAD_URL:-}" ]; then
    echo "${TENEMENT_DOWNLOAD_URL%/}"
    return
  fi
  case "$TENEMENT_REPO" in
    @*) fail "this copy of install.sh names no release; set TENEMENT_DOWNLOAD_URL to the folder holding ten-<target>.tar.gz and SHA256SUMS" ;;
  esac
  if [ -n "${TENEMENT_VERSION:-}" ]; then
    echo "https://github.com/$TENEMENT_REPO/releases/download/$TENEMENT_VERSION"
  else
    echo "https://github.com/$TENEMENT_REPO/releases/latest/download"
  fi
}

# fetch URL FILE: downloads URL into FILE, failing on any HTTP error.
fetch() {
  if has curl; then
    # Plain HTTP only when the URL given says so; a redirect never leaves HTTPS.
    curl --proto '=https,http' --proto-redir '=https' -fsSL --retry 2 -o "$2" "$1" || return 1
  elif has wget; then
    wget -q -O "$2" "$1" || return 1
  else
    fail "neither curl nor wget is installed"
  fi
}

sha256_of() {
  if has sha256sum; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif has shasum; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    fail "neither sha256sum nor shasum is installed, so the download cannot be verified"
  fi
}

install_dir() {
  if [ -n "${TENEMENT_INSTALL_DIR:-}" ]; then
    echo "$TENEMENT_INSTALL_DIR"
  elif [ "$(id -u)" -eq 0 ]; then
    echo "/usr/local/bin"
  else
    echo "$HOME/.local/bin"
  fi
}

main() {
  set -eu
  target=$(detect_target)
  base=$(download_base)
  archive="ten-$target.tar.gz"
  dest=$(install_dir)
  has tar || fail "tar is not installed"

  tmp=$(mktemp -d 2>/dev/null || mktemp -d -t tenement)
  trap 'rm -rf "$tmp"' EXIT INT TERM

  say "downloading $base/$archive"
  fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" ||
    fail "cannot download $base/SHA256SUMS (no such release, or the network is down)"
  fetch "$base/$archive" "$tmp/$archive" ||
    fail "cannot download $base/$archive (no release for $target, or the network is down)"

  expected=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")
  [ -n "$expected" ] || fail "SHA256SUMS has no line for $archive"
  actual=$(sha256_of "$tmp/$archive")
  [ "$actual" = "$expected" ] ||
    fail "checksum mismatch for $archive: expected $expected, got $actual; nothing was installed"

  mkdir "$tmp/unpacked"
  tar -xzf "$tmp/$archive" -C "$tmp/unpacked" ten ||
    fail "$archive does not hold 'ten' at its top level"
  [ -f "$tmp/unpacked/ten" ] || fail "$archive does not hold 'ten' at its top level"
  mkdir -p "$dest" || fail "cannot create $dest (set TENEMENT_INSTALL_DIR to a folder you can write)"
  # Checked where it will run (a temp dir may be mounted noexec), then moved into place in one
  # step, so a running `ten` is never overwritten half-way.
  staged="$dest/.ten.new.$$"
  cp "$tmp/unpacked/ten" "$staged" || fail "cannot write to $dest"
  chmod 0755 "$staged"
  if ! "$staged" --version >/dev/null 2>&1; then
    rm -f "$staged"
    fail "the downloaded ten does not run on this machine (ten --version failed in $dest); nothing was installed"
  fi
  mv -f "$staged" "$dest/ten" || { rm -f "$staged"; fail "cannot write $dest/ten"; }

  version=$("$dest/ten" --version)
  say "installed $version at $dest/ten"
  case ":$PATH:" in
    *":$dest:"*) ;;
    *) say "$dest is not on your PATH; add it, e.g.: export PATH=\"$dest:\$PATH\"" ;;
  esac
  say "next steps:"
  say "  ten init            # writes a tenement.toml to start from"
  say "  ten serve           # runs your tenants; see 'ten --help'"
}

main "$@"
