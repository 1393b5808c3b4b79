#!/usr/bin/env bash
# CTest monitoring_alert_rules: checks deploy/monitoring/topupd-alerts.yml with promtool and runs
# its unit tests (topupd-alerts-test.yml: the breaker, lease, intake, Redis, backlog and exception
# alerts fire on their figures). Exit 77 (CTest: skipped) only when promtool is not installed.
set -euo pipefail
kit="$(cd "$(dirname "$0")/../../deploy/monitoring" && pwd)"
if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIPPED: promtool not installed (Debian package prometheus; deploy/install-deps.sh installs it)"
  exit 77
fi
promtool check rules "$kit/topupd-alerts.yml"
cd "$kit" && promtool test rules topupd-alerts-test.yml
