#!/usr/bin/env bash
# Runs every test: typecheck, lint, then jest (unit tests and integration tests against a real
# Temporal dev server started for the run, PostgreSQL and Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
export TEMPORAL_CLI_PATH="$(bash scripts/temporal-cli.sh)"
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "error: PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
redis-cli ping >/dev/null || { echo "error: Redis is not answering on 127.0.0.1:6379" >&2; exit 1; }
npx tsc -p tsconfig.json --noEmit
npx eslint .
# The worker-process tests run the built entry point and the pre-built workflow bundle.
npm run --silent build
out=$(node dist/scripts/build-workflow-bundle.js 2>&1) || { echo "$out" >&2; exit 1; }
npx jest "$@"
