#!/usr/bin/env bash
# Builds the .deb and installs it the way an owner would, then checks the
# service through systemctl: it starts as its own user with only the
# capability it is granted, answers /healthz over HTTPS, redirects port 80,
# and keeps its data across `systemctl restart`. Listens on loopback only;
# stops the service and purges the package at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
fail() { echo "deb-test: $*" >&2; exit 1; }

deb=$(scripts/package.sh | tail -1)
echo "package: $deb ($(stat -c %s "$deb") bytes)"
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --allow-downgrades "./$deb" >/dev/null

unit=/lib/systemd/system/chat.service
[ -f "$unit" ] || unit=/usr/lib/systemd/system/chat.service
for f in /usr/bin/chat-server /usr/share/chat/site/pkg/chat.wasm /etc/chat/chat.env "$unit"; do
  [ -e "$f" ] || fail "$f is not installed"
done
getent passwd chat >/dev/null || fail "no chat user"
[ "$(stat -c %U:%G /etc/chat/chat.env)" = root:chat ] || fail "chat.env is not root:chat"
if command -v systemd-analyze >/dev/null; then
  # Warnings about other units on this machine are not ours.
  systemd-analyze verify "$unit" 2>&1 | grep -i "chat.service" && fail "the unit does not verify"
fi

# Loopback only, on the unit's privileged ports when they are free (the
# capability is what lets the chat user bind them).
port=443 http=80
if ss -ltn | grep -qE "127.0.0.1:443\b|\*:443\b|0.0.0.0:443\b"; then port=18443; fi
if ss -ltn | grep -qE "127.0.0.1:80\b|\*:80\b|0.0.0.0:80\b"; then http=18080; fi
env_backup=$(mktemp)
as_root cp /etc/chat/chat.env "$env_backup"
as_root sed -i -e "s/^CHAT_ADDR=.*/CHAT_ADDR=127.0.0.1:$port/" \
  -e "s/^CHAT_HTTP_ADDR=.*/CHAT_HTTP_ADDR=127.0.0.1:$http/" /etc/chat/chat.env

# systemctl against the machine's systemd, or, in a container that has
# none (this project's CI), against a systemd of the test's own: PID 1 of
# new PID and mount namespaces, with private /run and /tmp, no boot units,
# and the unit's default boot dependencies dropped (nothing else of a
# booted system is there). The unit itself is as installed: its user,
# sandboxing and capability are systemd's doing in both cases.
work=$(mktemp -d)
sd=
if [ -d /run/systemd/system ]; then
  sdctl() { as_root systemctl "$@"; }
  echo "systemd: the machine's"
else
  cat > "$work/boot.sh" <<'BOOT'
#!/bin/sh
set -e
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/lock /run/systemd/system/chat.service.d
printf '[Unit]\nDescription=systemd for the package test\n' > /run/systemd/system/pkgtest.target
printf '[Unit]\nDefaultDependencies=no\n[Service]\nStandardOutput=append:/run/chat-test.log\nStandardError=inherit\n' \
  > /run/systemd/system/chat.service.d/pkgtest.conf
exec /lib/systemd/systemd --system --unit=pkgtest.target
BOOT
  chmod +x "$work/boot.sh"
  as_root unshare --pid --fork --mount --propagation private --mount-proc "$work/boot.sh" > "$work/systemd.log" 2>&1 &
  for _ in $(seq 100); do
    sd=$(pgrep -f "systemd --system --unit=pkgtest.target" | head -1 || true)
    if [ -n "$sd" ] && as_root nsenter -t "$sd" -m -p systemctl is-system-running >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  [ -n "$sd" ] || { cat "$work/systemd.log" >&2; fail "could not start a systemd of the test's own"; }
  sdctl() { as_root nsenter -t "$sd" -m -p systemctl "$@"; }
  echo "systemd: the test's own (PID $sd; this machine runs none)"
fi
# What the service's own PID namespace shows (its PIDs are not ours).
in_ns() { if [ -n "$sd" ]; then as_root nsenter -t "$sd" -m -p "$@"; else "$@"; fi; }
service_log() {
  if [ -n "$sd" ]; then as_root nsenter -t "$sd" -m -p cat /run/chat-test.log 2>/dev/null | tail -20
  else as_root journalctl -u chat --no-pager | tail -20; fi
}
cleanup() {
  sdctl stop chat 2>/dev/null || true
  [ -n "$sd" ] && as_root kill -9 "$sd" 2>/dev/null
  as_root cp "$env_backup" /etc/chat/chat.env
  DEBIAN_FRONTEND=noninteractive as_root apt-get purge -y -qq chat >/dev/null || true
  as_root rm -rf /var/lib/chat /var/lib/private/chat "$work"
}
trap cleanup EXIT
sdctl daemon-reload

healthy() {
  for _ in $(seq 150); do
    if curl -skf -o /dev/null "https://127.0.0.1:$port/healthz"; then return 0; fi
    sleep 0.2
  done
  service_log >&2
  sdctl status chat --no-pager >&2 || true
  fail "no answer on https://127.0.0.1:$port/healthz"
}

sdctl start chat
healthy
echo "chat.service is active and healthy on https://127.0.0.1:$port"
[ "$(sdctl show -p User --value chat)" = chat ] || fail "the unit does not run as chat"
main=$(sdctl show -p MainPID --value chat)
status=$(in_ns cat "/proc/$main/status")
uid=$(echo "$status" | awk '/^Uid:/ {print $2}')
[ "$uid" = "$(id -u chat)" ] || fail "the service runs as uid $uid, not chat"
echo "$status" | grep -q "^CapEff:.*0000000000000400$" \
  || fail "the service holds more than CAP_NET_BIND_SERVICE: $(echo "$status" | grep CapEff)"
echo "$status" | grep -q "^NoNewPrivs:.*1" || fail "NoNewPrivileges is not in force"
echo "runs as chat, capabilities $(echo "$status" | awk '/^CapEff:/ {print $2}') (CAP_NET_BIND_SERVICE only), no new privileges"
[ "$(stat -c %U /var/lib/chat/chat.db)" = chat ] || fail "the database is not the chat user's"
redirect=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: chat.example' "http://127.0.0.1:$http/r/general")
[ "$redirect" = "308 https://chat.example:$port/r/general" ] || { [ "$port" = 443 ] && [ "$redirect" = "308 https://chat.example/r/general" ]; } \
  || fail "port $http does not redirect to HTTPS: $redirect"

device=$(cat /proc/sys/kernel/random/uuid)
curl -skf -o /dev/null -b "device_id=$device" --data-urlencode "name=Debian Tester" \
  "https://127.0.0.1:$port/api/set_name" || fail "could not pick a name"

sdctl restart chat
healthy
[ "$(sdctl show -p MainPID --value chat)" != "$main" ] || fail "systemctl restart did not restart the service"
curl -skf -b "device_id=$device" "https://127.0.0.1:$port/" | grep -q "Debian Tester" \
  || fail "the name did not survive systemctl restart"
echo "systemctl restart: the data is still there"
sdctl stop chat
echo "deb-test: passed"
