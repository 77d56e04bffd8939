# Sourced by ops/up and ops/test: installs what is missing on a fresh Debian machine.
# bun from npm, the packages from the lockfile, nats-server and clickhouse-server from apt.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

say() { printf '\033[1m[akis]\033[0m %s\n' "$*" >&2; }

need_apt() { # $1 = command, $2 = Debian package
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    if [ -z "${AKIS_APT_UPDATED:-}" ]; then
      say "apt-get update"; apt-get update -qq >&2; export AKIS_APT_UPDATED=1
    fi
    say "installing $2 (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    say "missing '$1': install the Debian package '$2' (sudo apt-get install $2) and run again"; exit 1
  fi
}

if ! command -v bun >/dev/null 2>&1; then
  if command -v npm >/dev/null 2>&1; then
    say "installing bun (npm install -g bun)"
    npm install -g bun >/dev/null 2>&1 || { say "npm install -g bun failed; install bun (https://bun.sh) and run again"; exit 1; }
  else
    say "missing 'bun' and 'npm': install Node.js/npm or bun and run again"; exit 1
  fi
fi
need_apt nats-server nats-server
need_apt clickhouse-server clickhouse-server
need_apt nginx nginx; nginx -V 2>&1 | grep -q 'with-stream=dynamic' && [ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ] && need_apt no-such-command-ngx-stream libnginx-mod-stream; need_apt wrk wrk
need_apt chromium chromium   # the dashboard's browser tests and `ops bench ui` (driven by playwright-core)
if [ ! -d node_modules ] || [ bun.lock -nt node_modules ]; then
  say "installing packages (bun install --frozen-lockfile)"
  bun install --frozen-lockfile >&2
  touch node_modules
fi
