#!/usr/bin/env bash
# Installs the Debian packages the tests need, only when missing (browser e2e: chromium; ops/ proxy
# examples: nginx, haproxy;
# promtool from prometheus: checks and unit-tests ops/prometheus/lifeline-alerts.yml).
# Called by `npm run setup` and .ci/run; safe to run again.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# nginx and haproxy: the shipped proxy examples in ops/ are checked and exercised by tests.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
# redis-server: several nodes on one Redis (issue 14): the store and broker tests, the e2e and the bench start their own.
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
if [ ${#need[@]} -eq 0 ]; then echo "system deps: all present"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
echo "system deps: installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
