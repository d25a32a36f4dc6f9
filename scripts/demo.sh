#!/usr/bin/env bash
# The README demo: sets everything up and runs the main job on its embedded default.
#  1. installs the Debian packages and builds (release preset);
#  2. starts a scratch PostgreSQL 15 (and Redis) in a temporary directory;
#  3. creates the event store (Message DB schema) and the bank's projection database, and
#     loads the example bank history (examples/bank);
#  4. starts protean-admind, rebuilds every projection of examples/bank through the CLI
#     (progress on stderr, the result lines on stdout) and shows the rebuilt balances;
#  5. stops the daemon and the scratch servers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
preset=${DEMO_PRESET:-release}

bash scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
bin="build/$preset"

state="$root/build/demo-services"
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  bash tests/harness/services.sh stop "$state" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== starting a scratch PostgreSQL 15"
bash tests/harness/services.sh start "$state"
# shellcheck disable=SC1090
source "$state/env"
pg="postgresql://postgres@127.0.0.1:$PGPORT"
psql -q -X -v ON_ERROR_STOP=1 "$pg/postgres" -c "CREATE DATABASE message_store" -c "CREATE DATABASE bank"
psql -q -X -v ON_ERROR_STOP=1 "$pg/message_store" -f storage/sql/message_db.sql

export MESSAGE_DB_URL="$pg/message_store"
export DATABASE_URL="$pg/bank"

echo "== loading the example bank history"
PROTEAN_GEN_HISTORY="$root/$bin/bench/protean-gen-history" \
  bash examples/bank/load_history.sh "$MESSAGE_DB_URL"

port=$(( 40000 + RANDOM % 20000 ))
echo "== starting protean-admind on 127.0.0.1:$port"
"$bin/server/protean-admind" --listen "127.0.0.1:$port" --domain-root "$root" &
daemon_pid=$!
for _ in $(seq 1 100); do
  if "$bin/client/protean-admin" jobs --server "127.0.0.1:$port" >/dev/null 2>&1; then break; fi
  sleep 0.1
done

echo "== protean-admin rebuild --domain=examples/bank"
"$bin/client/protean-admin" rebuild --domain=examples/bank --server "127.0.0.1:$port"

echo "== the rebuilt projection (first rows of balances)"
psql -X "$DATABASE_URL" -c "SELECT * FROM balances ORDER BY user_id LIMIT 5"
