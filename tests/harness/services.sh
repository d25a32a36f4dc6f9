#!/usr/bin/env bash
# Starts and stops the services the integration and e2e tests need: a scratch PostgreSQL 15
# (initdb + pg_ctl as an unprivileged user, a free port, its Unix socket in the scratch
# directory) and a scratch redis-server. Used as ctest fixtures (tests/CMakeLists.txt).
#
#   services.sh start STATE_DIR     writes STATE_DIR/env (KEY=VALUE lines) for the tests
#   services.sh stop STATE_DIR      stops both and removes the scratch directory
#   services.sh restart-pg STATE_DIR  restarts PostgreSQL (fast shutdown: sessions are cut)
# With PROTEAN_TEST_NO_REDIS=1, start starts PostgreSQL only (a test's private server).
# With PROTEAN_PG_DURABLE=1, PostgreSQL runs with production durability (fsync,
# synchronous_commit and full_page_writes on) instead of the scratch settings (bench/run.sh
# --durable); the tests never set it.
set -euo pipefail

cmd=${1:?usage: services.sh start|stop|restart-pg STATE_DIR}
state=${2:?usage: services.sh start|stop STATE_DIR}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_db_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A port nobody listens on, below the kernel's ephemeral range (32768 and up by default), so
# that outgoing connections of parallel tests cannot take it before the server binds it.
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "services.sh: no free port found" >&2
  return 1
}

stop() {
  [ -f "$state/scratch" ] || return 0
  local scratch
  scratch=$(cat "$state/scratch")
  if [ -d "$scratch/pgdata" ]; then
    as_db_user "$pg_bin/pg_ctl" -D "$scratch/pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -f "$scratch/redis.pid" ]; then
    kill "$(cat "$scratch/redis.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$(cat "$scratch/redis.pid" 2>/dev/null)" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -rf "$scratch"
  rm -f "$state/scratch" "$state/env"
}

start() {
  mkdir -p "$state"
  stop
  local scratch pg_port redis_port
  scratch=$(mktemp -d /tmp/protean-admin-test.XXXXXX)
  echo "$scratch" >"$state/scratch"
  chmod 755 "$scratch"
  mkdir "$scratch/pgdata" "$scratch/socket"
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$scratch"; fi

  as_db_user "$pg_bin/initdb" -D "$scratch/pgdata" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$scratch/initdb.log" 2>&1 \
    || { cat "$scratch/initdb.log" >&2; exit 1; }
  # Tuned for a scratch server: no durability needed, enough connections for e2e tests. A
  # port taken between the check and the bind (other test suites start servers too) is
  # retried with another.
  local attempt durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if [ "${PROTEAN_PG_DURABLE:-0}" = 1 ]; then
    durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  fi
  for attempt in 1 2 3 4 5; do
    pg_port=$(free_port)
    as_db_user "$pg_bin/pg_ctl" -D "$scratch/pgdata" -l "$scratch/postgres.log" -w -t 60 start \
      -o "-p $pg_port -k $scratch/socket -c listen_addresses=127.0.0.1 $durability \
          -c max_connections=200 \
          -c shared_buffers=256MB" >/dev/null && break
    if [ "$attempt" = 5 ]; then cat "$scratch/postgres.log" >&2; exit 1; fi
    echo "services.sh: PostgreSQL did not start on port $pg_port; trying another" >&2
  done

  redis_port=""
  if [ "${PROTEAN_TEST_NO_REDIS:-0}" != 1 ] && command -v redis-server >/dev/null; then
    for attempt in 1 2 3 4 5; do
      redis_port=$(free_port)
      redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$scratch" --save '' \
        --appendonly no --daemonize yes --pidfile "$scratch/redis.pid" \
        --logfile "$scratch/redis.log" >/dev/null
      for _ in $(seq 1 50); do
        if [ -f "$scratch/redis.pid" ] && kill -0 "$(cat "$scratch/redis.pid")" 2>/dev/null \
          && (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then
          break 2
        fi
        sleep 0.1
      done
      echo "services.sh: Redis did not start on port $redis_port; trying another" >&2
      redis_port=""
    done
  fi

  cat >"$state/env" <<ENV
PGHOST=127.0.0.1
PGPORT=$pg_port
PGUSER=postgres
PGSOCKETDIR=$scratch/socket
REDIS_HOST=127.0.0.1
REDIS_PORT=$redis_port
SCRATCH_DIR=$scratch
ENV
  echo "services.sh: PostgreSQL on 127.0.0.1:$pg_port${redis_port:+, Redis on 127.0.0.1:$redis_port}"
}

restart_pg() {
  local scratch
  scratch=$(cat "$state/scratch")
  # pg_ctl restart reuses the options of the running server (postmaster.opts).
  as_db_user "$pg_bin/pg_ctl" -D "$scratch/pgdata" -l "$scratch/postgres.log" -m fast -w -t 60 \
    restart >/dev/null || { cat "$scratch/postgres.log" >&2; exit 1; }
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart-pg) restart_pg ;;
  *) echo "usage: services.sh start|stop|restart-pg STATE_DIR" >&2; exit 2 ;;
esac
