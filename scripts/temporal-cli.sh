#!/usr/bin/env bash
# Prints the path of a Temporal CLI. Uses `temporal` from PATH, else builds the official CLI from
# its Go module once into a per-user cache that every clone on this machine finds again.
set -euo pipefail
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
dir="${CLINIC_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clinic-backend/bin}"
if [ ! -x "$dir/temporal" ]; then
  command -v go >/dev/null || { echo "error: Go is needed to build the Temporal CLI (or put 'temporal' on PATH)" >&2; exit 1; }
  mkdir -p "$dir"
  # v1.6+ carry a replace directive and cannot be go-installed; fall back through older releases.
  for v in v1.5.1 v1.5.0 v1.4.1 v1.3.0; do
    echo "building the Temporal CLI $v into $dir (first time only; takes a few minutes)" >&2
    if (cd /tmp && GOBIN="$dir" go install "github.com/temporalio/cli/cmd/temporal@$v") >&2; then break; fi
  done
  [ -x "$dir/temporal" ] || { echo "error: no Temporal CLI version could be built" >&2; exit 1; }
fi
echo "$dir/temporal"
