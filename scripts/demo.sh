#!/usr/bin/env bash
# Runs `ten serve` on the bundled example config and prints what to try.
set -euo pipefail
port="${1:-8080}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/examples"
ten="$root/bin/ten"
[ -s tenement-data/.tenement/api_token ] || "$ten" token-gen >/dev/null
cat <<MSG
tenement demo: serving examples/tenement.toml on http://localhost:$port (Ctrl-C stops it)

In another terminal:
  export PATH=$root/bin:\$PATH; cd $root/examples
  ten ps                                              # alice and bob start with the daemon
  curl http://alice.notes.localhost:$port/notes       # alice's notes (her own process + SQLite file)
  curl -d '{"text":"hi"}' -H 'content-type: application/json' http://bob.notes.localhost:$port/notes
  curl http://carol.go.localhost:$port/               # a new tenant, woken on the first request
  ten spawn node:dave && curl http://dave.node.localhost:$port/
  ten ps --all; ten logs notes:alice
  ten report                                          # one health summary, as cron would get it

Dashboard: http://localhost:$port/ (sign in with the token in
  $root/examples/tenement-data/.tenement/api_token)

MSG
exec "$ten" serve --port "$port"
