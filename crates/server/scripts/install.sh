#!/bin/sh
# Leitstand agent installer, made by the Leitstand server at __SERVER__.
# It installs the agent binary, its configuration and a systemd unit, enrols
# this host with a single-use token, and starts the agent. Running it again
# is harmless. LEITSTAND_PREFIX installs below another root (for tests).
set -eu

SERVER="__SERVER__"
TOKEN="__TOKEN__"
# With the server's private CA: the chain is not checked, the key is pinned.
CURL_OPTS="__CURL_OPTS__"
PRIVATE_CA="__PRIVATE_CA__"
PREFIX="${LEITSTAND_PREFIX:-}"
BIN="$PREFIX/usr/local/bin/leitstand-agent"
CONF_DIR="$PREFIX/etc/leitstand"
CONF="$CONF_DIR/agent.toml"
STATE="$PREFIX/var/lib/leitstand"
UNIT="$PREFIX/etc/systemd/system/leitstand-agent.service"

say() { printf 'leitstand: %s\n' "$*"; }
fail() { printf 'leitstand: %s\n' "$*" >&2; exit 1; }

if [ -z "$PREFIX" ] && [ "$(id -u)" != 0 ]; then
  fail "please run as root, e.g.: curl -fsSL '$SERVER/install.sh?token=…' | sudo sh"
fi
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) fail "this agent build is for Linux x86_64; this host is $(uname -s)/$(uname -m)" ;;
esac
command -v curl >/dev/null 2>&1 || fail "curl is needed"

mkdir -p "$(dirname "$BIN")" "$CONF_DIR" "$STATE" "$(dirname "$UNIT")"
chmod 0700 "$STATE"

say "downloading the agent from $SERVER"
tmp="$BIN.download.$$"
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2086 # CURL_OPTS is a list of options
curl $CURL_OPTS -fsSL "$SERVER/downloads/leitstand-agent" -o "$tmp" || fail "download failed"
# shellcheck disable=SC2086
want="$(curl $CURL_OPTS -fsSL "$SERVER/downloads/leitstand-agent.sha256" | cut -d' ' -f1)" || fail "checksum download failed"
have="$(sha256sum "$tmp" | cut -d' ' -f1)"
[ "$want" = "$have" ] || fail "checksum mismatch (expected $want, got $have); nothing was changed"
chmod 0755 "$tmp"
mv "$tmp" "$BIN"
trap - EXIT

if [ -n "$PRIVATE_CA" ]; then
  # shellcheck disable=SC2086
  curl $CURL_OPTS -fsSL "$SERVER/downloads/ca.pem" -o "$CONF_DIR/ca.pem" || fail "CA download failed"
fi
if [ ! -f "$CONF" ]; then
  cat > "$CONF" <<CONF
# Leitstand agent configuration; every value is optional.
interval_secs = 10
state_dir = "$STATE"
CONF
  if [ -n "$PRIVATE_CA" ]; then
    printf '# Trust only the server'"'"'s own CA.\nca_file = "%s"\n' "$CONF_DIR/ca.pem" >> "$CONF"
  fi
fi

if [ -f "$STATE/identity.toml" ]; then
  say "already enrolled; keeping the identity"
else
  "$BIN" --config "$CONF" --state "$STATE" enroll --server "$SERVER" --token "$TOKEN" || fail "enrollment failed (see above)"
fi

cat > "$UNIT" <<UNIT
[Unit]
Description=Leitstand agent
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$BIN --config $CONF --state $STATE run
Restart=always
RestartSec=10
Nice=10

[Install]
WantedBy=multi-user.target
UNIT

if [ -z "$PREFIX" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
  systemctl enable leitstand-agent >/dev/null 2>&1
  systemctl restart leitstand-agent
  say "installed and started (systemctl status leitstand-agent)"
else
  # No systemd: run the agent directly, once.
  if [ -f "$STATE/agent.pid" ] && kill -0 "$(cat "$STATE/agent.pid")" 2>/dev/null; then
    kill "$(cat "$STATE/agent.pid")" 2>/dev/null || true
  fi
  nohup "$BIN" --config "$CONF" --state "$STATE" run >> "$STATE/agent.log" 2>&1 &
  echo $! > "$STATE/agent.pid"
  say "installed and started without systemd (pid $(cat "$STATE/agent.pid"), log $STATE/agent.log)"
fi
