#!/usr/bin/env bash
# Installs the npm packages the tests drive a browser with (tests/browser/package-lock.json:
# playwright-core, which uses Debian's /usr/bin/chromium and downloads no browser of its own).
# Idempotent: nothing is fetched when node_modules already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  echo "install-test-drivers: installing Debian's nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
lock=tests/browser/package-lock.json
stamp=tests/browser/node_modules/.installed-from-lock
if [ -f "$stamp" ] && cmp -s "$lock" "$stamp"; then
  echo "install-test-drivers: tests/browser is up to date"
  exit 0
fi
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
cp "$lock" "$stamp"
echo "install-test-drivers: done"
