#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing (as root,
# from Debian's packages), checks that PostgreSQL answers, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
# Turns journal export text into real journal files for the system-events tests.
[ -x /lib/systemd/systemd-journal-remote ] || [ -x /usr/lib/systemd/systemd-journal-remote ] || need+=(systemd-journal-remote)
# rpm, dnf and a repository tool for the real dnf runs of the agent's update action.
command -v dnf >/dev/null 2>&1 || need+=(dnf)
command -v rpmbuild >/dev/null 2>&1 || need+=(rpm)
command -v createrepo_c >/dev/null 2>&1 || need+=(createrepo-c)
# rsyslog with its TLS driver: the real forwarder in the SOC receiver's test.
[ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || need+=(rsyslog-gnutls)
# A real SMTP server for the notification tests.
/usr/bin/python3 -c "import aiosmtpd" >/dev/null 2>&1 || need+=(python3-aiosmtpd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need[*]} from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} missing and not root; the tests that need them say SKIPPED (they fail when CI=true)"
  fi
fi

# PostgreSQL tests use LEITSTAND_TEST_PG or postgres://postgres@127.0.0.1:5432/test.
pg="${LEITSTAND_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}"
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -d "$pg"; then
  if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast
fi
