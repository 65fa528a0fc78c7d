#!/usr/bin/env bash
# Starts the whole system on one machine: Temporal dev server (SQLite file, Web UI on 8233),
# migrations, bootstrap admin, API and a worker serving every task queue. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .data

[ -f .env ] && { set -a; . ./.env; set +a; }
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund

# Development secrets are generated once and kept in the ignored .data folder.
[ -f .data/jwt-secret ] || openssl rand -hex 32 > .data/jwt-secret
[ -f .data/admin-password ] || openssl rand -base64 18 > .data/admin-password
[ -f .data/phi-key ] || echo "dev1:$(openssl rand -base64 32)" > .data/phi-key
[ -f .data/blind-index-key ] || openssl rand -base64 32 > .data/blind-index-key
export JWT_SECRET="${JWT_SECRET:-$(cat .data/jwt-secret)}"
export PHI_ENCRYPTION_KEYS="${PHI_ENCRYPTION_KEYS:-$(cat .data/phi-key)}"
export BLIND_INDEX_KEY="${BLIND_INDEX_KEY:-$(cat .data/blind-index-key)}"
export BOOTSTRAP_ADMIN_EMAIL="${BOOTSTRAP_ADMIN_EMAIL:-admin@clinic.local}"
export BOOTSTRAP_ADMIN_PASSWORD="${BOOTSTRAP_ADMIN_PASSWORD:-$(cat .data/admin-password)}"
export PORT="${PORT:-8088}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/clinic}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

pg_isready -q -h 127.0.0.1 -p 5432 || { echo "error: PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
redis-cli -u "$REDIS_URL" ping >/dev/null || { echo "error: Redis is not answering at $REDIS_URL" >&2; exit 1; }

if [ -z "${TEMPORAL_ADDRESS:-}" ]; then
  export TEMPORAL_ADDRESS=127.0.0.1:7233
  temporal_bin="$(bash scripts/temporal-cli.sh)"
  if ! "$temporal_bin" operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then
    # Search attributes, SQLite pragmas (WAL, synchronous=normal) and one task-queue partition: one list, shared with the benchmarks.
    mapfile -t server_args < <(grep -v '^#' scripts/temporal-dev-server.args | grep -v '^$')
    "$temporal_bin" server start-dev --db-filename .data/temporal.db --ip 127.0.0.1 --port 7233 --ui-port 8233 \
      --ui-codec-endpoint "http://127.0.0.1:$PORT/codec" \
      "${server_args[@]}" --log-level warn > .data/temporal.log 2>&1 &
    pids+=($!)
    for _ in $(seq 1 60); do "$temporal_bin" operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 && break; sleep 1; done
  fi
fi

# Card payments: without a real Stripe key the SDK talks to stripe-mock (STRIPE_API_BASE, default port 12111).
if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
  export STRIPE_API_BASE="${STRIPE_API_BASE:-http://127.0.0.1:12111}"
  mock_port="${STRIPE_API_BASE##*:}"
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$mock_port") 2>/dev/null; then
    "$(bash scripts/stripe-mock.sh)" -http-addr "127.0.0.1:$mock_port" > .data/stripe-mock.log 2>&1 &
    pids+=($!)
  fi
fi

npm run --silent build
node dist/scripts/build-workflow-bundle.js
node dist/scripts/migrate.js

node dist/workers/main.js & pids+=($!)
node dist/api/main.js & pids+=($!)

cat <<INFO

  API           http://127.0.0.1:$PORT/api/v1
  API docs      http://127.0.0.1:$PORT/docs   (OpenAPI: /openapi.json)
  Temporal UI   http://127.0.0.1:8233   (to decode: sign in at http://127.0.0.1:$PORT/codec/sign-in, then in the
                UI's Codec Server settings use your browser setting with "Include cross-origin credentials")
  Admin login   $BOOTSTRAP_ADMIN_EMAIL / password in .data/admin-password

INFO
wait -n "${pids[@]}"
