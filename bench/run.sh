#!/usr/bin/env bash
# The protean-admin benchmark (issue 6), one command. See bench/README.md.
#
#   bench/run.sh [--events N] [--scale] [--sample N] [--batch-size N] [--seed S]
#                [--durable] [--shadow] [--build-dir DIR] [--no-build]
#
#   --events N      size of the run (default 1000000: 100,000 users, 900,000 transactions,
#                   10,000 profile updates, 10 unknown events)
#   --scale         runs 200000, 1000000 and 5000000 events, one after the other
#   --sample N      events replayed by the per-event-transaction baseline (default 20000)
#   --batch-size N  the engine's batch size (default 500, the CLI's default)
#   --durable       PostgreSQL with production durability (fsync, synchronous_commit and
#                   full_page_writes on) instead of the scratch server's (all three off)
#   --shadow        the shadow scenario instead (protean-shadow-bench): a writer appends ~200
#                   events/s while the shadow is built; reports the server-stopped window
#   --build-dir D   a configured build directory (default build/release, configured with
#                   the release preset when missing)
#   --no-build      use the binaries in the build directory as they are
#
# It builds the benchmark (Release), starts a scratch PostgreSQL 15 (tests/harness/services.sh,
# state under bench/.state/, stopped on exit), and for each size creates a database, loads
# the Message DB schema, generates the workload and runs protean-bench on it, which prints
# the results table. Exits 1 when any method's Balances differ from the reference.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sizes=(1000000)
sample=20000
batch_size=500
seed=1
build_dir="$root/build/release"
build=1
durable=0
shadow=0
while [ $# -gt 0 ]; do
  case "$1" in
    --events) sizes=("${2:?--events needs a value}"); shift 2 ;;
    --scale) sizes=(200000 1000000 5000000); shift ;;
    --sample) sample=${2:?}; shift 2 ;;
    --batch-size) batch_size=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --durable) durable=1; shift ;;
    --shadow) shadow=1; shift ;;
    --build-dir) build_dir=$(cd "${2:?}" && pwd); shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$build" = 1 ]; then
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    if [ "$build_dir" = "$root/build/release" ]; then
      cmake --preset release >/dev/null
    else
      cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
  fi
  targets=(protean-bench protean-gen-history)
  [ "$shadow" = 1 ] && targets=(protean-shadow-bench)
  cmake --build "$build_dir" -j2 --target "${targets[@]}"
fi
bench_bin="$build_dir/bench/protean-bench"
[ "$shadow" = 1 ] && bench_bin="$build_dir/bench/protean-shadow-bench"
[ -x "$bench_bin" ] || { echo "run.sh: $bench_bin is missing" >&2; exit 1; }
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
[ "$build_type" = "Release" ] || echo "run.sh: warning: $build_dir is a '$build_type' build; time a Release build" >&2

state="$root/bench/.state/run-$$"
cleanup() {
  bash "$root/tests/harness/services.sh" stop "$state" >/dev/null 2>&1 || true
  rmdir "$state" "$root/bench/.state" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
PROTEAN_PG_DURABLE=$durable bash tests/harness/services.sh start "$state" >&2
# shellcheck disable=SC1091
source "$state/env"
pg="postgresql://postgres@127.0.0.1:$PGPORT"

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
     "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(. /etc/os-release && echo "$PRETTY_NAME")," \
     "$(psql -X -A -t "$pg/postgres" -c 'SHOW server_version' | cut -d' ' -f1) on the same machine"
echo "PostgreSQL $(psql -X -A -t "$pg/postgres" -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')")"
if [ "$shadow" = 1 ]; then
  echo "shadow scenario: engine batch size $batch_size, a writer at 200 events/s, seed $seed"
else
  echo "engine batch size $batch_size, per-event sample $sample events, seed $seed"
fi
status=0
for events in "${sizes[@]}"; do
  db="bench_$events"
  echo
  echo "== $events events"
  psql -X -q -v ON_ERROR_STOP=1 "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  psql -X -q -v ON_ERROR_STOP=1 "$pg/$db" -f storage/sql/message_db.sql >/dev/null
  if [ "$shadow" = 1 ]; then
    "$bench_bin" --uri "$pg/$db" --events "$events" --seed "$seed" \
      --batch-size "$batch_size" || status=1
  else
    "$bench_bin" --uri "$pg/$db" --events "$events" --seed "$seed" --sample "$sample" \
      --batch-size "$batch_size" || status=1
  fi
  psql -X -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" || true
done
exit $status
