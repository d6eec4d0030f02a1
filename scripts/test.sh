#!/usr/bin/env bash
# The README's test command (and what .ci/run runs): installs everything the tests need on a fresh
# machine (Debian packages, PostgreSQL started, npm ci), then type-checks, lints, builds dist/ and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
need_pkgs=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need_pkgs+=(slapd)
command -v ldapadd >/dev/null 2>&1 || need_pkgs+=(ldap-utils)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v kubectl >/dev/null 2>&1 || need_pkgs+=(kubectl)
command -v unzip >/dev/null 2>&1 || need_pkgs+=(unzip)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)   # the example app test drives a real browser
# The gRPC API tests drive idport with Python's grpcio (an independent client) and protoc from grpcio-tools.
/usr/bin/python3 -c 'import grpc, grpc_tools' >/dev/null 2>&1 || need_pkgs+=(python3-grpcio python3-grpc-tools)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# PostgreSQL runs on the machine; start it if it stopped.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done

fi
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

npm ci --no-audit --no-fund
npm run typecheck
npm run lint
npm run build
npm test
