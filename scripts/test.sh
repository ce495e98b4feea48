#!/usr/bin/env bash
# The test command (`npm test`): type-check and build, then run every test file with node:test
# through tsx. Files are listed explicitly: on Node 20 a quoted glob or a bare `--test` finds nothing.
# Fails when the runner reports zero tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# Prometheus/promtool and docker-compose are real components of the tests; installs them if missing.
bash scripts/install-system-deps.sh
npm run build --silent
# Tests and scripts are type-checked too (tsx only strips types).
npx tsc -p tsconfig.test.json
npx tsc -p bench/tsconfig.json
mapfile -t files < <(find test -name '*.test.ts' | sort)
if [ ${#files[@]} -eq 0 ]; then
  echo "no test files found under test/" >&2
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# Three files at once (node's default is cores - 1, i.e. one here): most of a file's time is spent
# waiting on real timers, processes and sockets, not on the CPU, and every test binds free ports
# only and waits for conditions, never for time, so files do not disturb each other.
# TEST_CONCURRENCY overrides it (1 runs the files one by one).
node --import tsx --test --test-reporter=spec --test-timeout=300000 --test-concurrency="${TEST_CONCURRENCY:-3}" "$@" "${files[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
tests=$(grep -E '^ℹ tests [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
if [ "$status" -eq 0 ] && [ "${tests:-0}" -eq 0 ]; then
  echo "the test runner ran no tests" >&2
  exit 1
fi
exit "$status"
