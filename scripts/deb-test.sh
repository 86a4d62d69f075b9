#!/usr/bin/env bash
# Builds the .deb and installs it the way an owner would, then checks the
# service: it starts, answers /healthz over HTTPS, and keeps its data
# across a restart. With systemd running this goes through systemctl.
# In a container without systemd (this project's CI) the unit is run by
# hand as systemd would: its ExecStart, as its User, with its
# EnvironmentFile, StateDirectory and only the capability it grants.
# Listens on loopback only; stops the service and removes the package.
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

systemd=
[ -d /run/systemd/system ] && systemd=1
pid=
start() {
  if [ -n "$systemd" ]; then
    as_root systemctl start chat
    return
  fi
  value() { sed -n "s/^$1=//p" "$unit" | head -1; }
  local user group state exec_start cap
  user=$(value User) group=$(value Group) state=$(value StateDirectory)
  exec_start=$(value ExecStart) cap=$(value AmbientCapabilities | tr 'A-Z' 'a-z')
  as_root install -d -o "$user" -g "$group" -m "$(value StateDirectoryMode)" "/var/lib/$state"
  (
    cd "$(value WorkingDirectory)"
    set -a; . "$(value EnvironmentFile)"; set +a
    exec setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
      --inh-caps="-all,+${cap#cap_}" --ambient-caps="-all,+${cap#cap_}" \
      --bounding-set="-all,+${cap#cap_}" $exec_start
  ) > /tmp/chat-deb-test.log 2>&1 &
  pid=$!
}
stop() {
  if [ -n "$systemd" ]; then as_root systemctl stop chat; return; fi
  kill -TERM "$pid"
  wait "$pid" || fail "the service did not stop cleanly (log: /tmp/chat-deb-test.log)"
}
cleanup() {
  if [ -n "$systemd" ]; then as_root systemctl stop chat || true
  elif [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  as_root cp "$env_backup" /etc/chat/chat.env
  DEBIAN_FRONTEND=noninteractive as_root apt-get purge -y -qq chat >/dev/null || true
  as_root rm -rf /var/lib/chat
}
trap cleanup EXIT

healthy() {
  for _ in $(seq 150); do
    if curl -skf -o /dev/null "https://127.0.0.1:$port/healthz"; then return 0; fi
    sleep 0.2
  done
  [ -z "$systemd" ] && tail -20 /tmp/chat-deb-test.log >&2
  fail "no answer on https://127.0.0.1:$port/healthz"
}

if [ -n "$systemd" ]; then echo "starting chat.service with systemctl"
else echo "no systemd here: running chat.service's ExecStart as its user with its capability"; fi
start
healthy
echo "healthy on https://127.0.0.1:$port"
[ "$(stat -c %U /var/lib/chat/chat.db)" = chat ] || fail "the database is not the chat user's"
redirect=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: chat.example' "http://127.0.0.1:$http/r/general")
[ "$redirect" = "308 https://chat.example:$port/r/general" ] || [ "$port" = 443 -a "$redirect" = "308 https://chat.example/r/general" ] \
  || fail "port $http does not redirect to HTTPS: $redirect"

device=$(cat /proc/sys/kernel/random/uuid)
curl -skf -o /dev/null -b "device_id=$device" --data-urlencode "name=Debian Tester" \
  "https://127.0.0.1:$port/api/set_name" || fail "could not pick a name"

if [ -n "$systemd" ]; then as_root systemctl restart chat; else stop; start; fi
healthy
curl -skf -b "device_id=$device" "https://127.0.0.1:$port/" | grep -q "Debian Tester" \
  || fail "the name did not survive the restart"
echo "restarted: the data is still there"
stop
pid=
echo "deb-test: passed"
