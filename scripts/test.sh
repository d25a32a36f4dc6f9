#!/usr/bin/env bash
# Sets everything up and runs every test: installs the Debian packages, builds with the
# given preset (default: debug), and runs ctest (unit, integration and e2e tests). ctest
# starts a scratch PostgreSQL 15 and Redis for the integration and e2e tests and stops
# them afterwards, also when tests fail.
#   scripts/test.sh [debug|release|asan] [extra ctest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-debug}
shift || true

bash scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"

state="build/$preset/test-services"
# Belt and braces: the ctest fixture stops the services; this also covers ctest being killed.
trap 'bash tests/harness/services.sh stop "$state" >/dev/null 2>&1 || true' EXIT
ctest --preset "$preset" -j2 "$@"
