#!/usr/bin/env bash
# Loads the example bank history (examples/bank/domain.toml: domain "Bank") into a Message DB,
# in the shape Protean writes it. Used by the README demo (scripts/demo.sh).
#
#   examples/bank/load_history.sh MESSAGE_DB_URI [--events N] [--seed S]
#
# MESSAGE_DB_URI   libpq URI of the event store database, e.g.
#                  postgresql://postgres@127.0.0.1:5432/message_store
#                  (the Message DB schema is created there first when it is missing)
# --events N       about N events (default 5000: 500 users, 4,500 transactions of which
#                  about 10% at v1, 50 profile updates, 10 events of an unknown type)
# --seed S         random seed (default 2024: the same history, the same balances, every time)
#
# The generator is bench's protean-gen-history ($PROTEAN_GEN_HISTORY, else the first one
# found under build/, else built with the release preset). It appends after what the store
# holds; the same seed twice fails on the unique (stream_name, position) index (the streams
# exist already): pass another --seed to add a second history.
set -euo pipefail

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 1 ] || usage
case "$1" in -h|--help) usage ;; esac
uri=$1
shift
events=5000
seed=2024
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=${2:?--events needs a value}; shift 2 ;;
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    *) echo "load_history.sh: unknown argument: $1" >&2; usage ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
gen=${PROTEAN_GEN_HISTORY:-}
if [ -z "$gen" ]; then
  for candidate in "$root/build/release" "$root/build/debug" "$root"/build/*; do
    if [ -x "$candidate/bench/protean-gen-history" ]; then
      gen="$candidate/bench/protean-gen-history"
      break
    fi
  done
fi
if [ -z "$gen" ]; then
  echo "load_history.sh: building protean-gen-history (release preset)" >&2
  (cd "$root" && cmake --preset release >/dev/null &&
     cmake --build --preset release --target protean-gen-history >/dev/null)
  gen="$root/build/release/bench/protean-gen-history"
fi

has_schema=$(psql -X -A -t -q "$uri" -c "SELECT to_regclass('message_store.messages') IS NOT NULL")
if [ "$has_schema" != "t" ]; then
  psql -X -q -v ON_ERROR_STOP=1 "$uri" -f "$root/storage/sql/message_db.sql" >/dev/null
fi

# Names as in examples/bank/domain.toml: domain Bank, aggregates User and Transaction.
"$gen" --uri "$uri" --events "$events" --seed "$seed" --domain Bank \
  --user-category user --transaction-category transaction
