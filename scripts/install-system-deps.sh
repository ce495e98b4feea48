#!/usr/bin/env bash
# Debian packages the tests use: a real Prometheus and promtool (metrics and dashboard tests) and
# docker-compose (to validate docker-compose.yml; no engine is needed for `config -q`), a C
# compiler for the benchmark's native load generator (test/integration/bench-native-generator.test.ts),
# `ss` (iproute2: keepalive timers), `prlimit` (util-linux: descriptor exhaustion) and python3 (reads an
# accepted socket's options back from the kernel: test/helpers/socket-options.py) for the hardening tests,
# and openssl (a self-signed certificate for the HTTPS collector: test/integration/otlp-sender.test.ts).
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v prlimit >/dev/null 2>&1 || need+=(util-linux)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
