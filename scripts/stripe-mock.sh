#!/usr/bin/env bash
# Prints the path of stripe-mock (Stripe's own mock API server). Uses `stripe-mock` from PATH, else
# builds it from its Go module once into the per-user cache the Temporal CLI uses (never committed).
set -euo pipefail
if command -v stripe-mock >/dev/null 2>&1; then command -v stripe-mock; exit 0; fi
dir="${CLINIC_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clinic-backend/bin}"
if [ ! -x "$dir/stripe-mock" ]; then
  command -v go >/dev/null || { echo "error: Go is needed to build stripe-mock (or put 'stripe-mock' on PATH)" >&2; exit 1; }
  mkdir -p "$dir"
  echo "building stripe-mock into $dir (first time only)" >&2
  (cd /tmp && GOBIN="$dir" go install github.com/stripe/stripe-mock@latest) >&2
fi
echo "$dir/stripe-mock"
