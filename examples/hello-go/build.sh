#!/usr/bin/env bash
# Build the hello-go example into examples/hello-go/hello-go (the path tenement.toml runs).
set -euo pipefail
cd "$(dirname "$0")"
CGO_ENABLED=0 go build -o hello-go .
echo "built $(pwd)/hello-go"
