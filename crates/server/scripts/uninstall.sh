#!/bin/sh
# Removes the Leitstand agent: stops it, removes binary, configuration,
# state and unit. LEITSTAND_PREFIX as for the installer.
set -eu
PREFIX="${LEITSTAND_PREFIX:-}"
STATE="$PREFIX/var/lib/leitstand"
if [ -z "$PREFIX" ] && [ "$(id -u)" != 0 ]; then
  echo "leitstand: please run as root" >&2
  exit 1
fi
if [ -z "$PREFIX" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now leitstand-agent >/dev/null 2>&1 || true
fi
if [ -f "$STATE/agent.pid" ]; then
  kill "$(cat "$STATE/agent.pid")" 2>/dev/null || true
fi
rm -f "$PREFIX/usr/local/bin/leitstand-agent" "$PREFIX/etc/systemd/system/leitstand-agent.service"
rm -rf "$PREFIX/etc/leitstand" "$STATE"
if [ -z "$PREFIX" ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload 2>/dev/null || true
fi
echo "leitstand: agent removed"
