# Sourced by ops/up and ops/test: installs what is missing on a fresh Debian machine, as root or
# as a normal user, then leaves the caller in the project root with a PATH that finds everything.
#   bun                    npm install -g bun (root) or into ~/.local (user)
#   the lockfile's packages bun install --frozen-lockfile
#   Debian packages below  apt-get (root), sudo apt-get (user with password-less sudo), or a
#                          message saying what to install (anyone else)
# It exports nothing but PATH: no AKIS_* variable may leak, because every child (nodes, tests)
# inherits the environment and the config loader refuses unknown AKIS_* keys.
# The install path is tested by tests/bootstrap.test.ts (shims hide the tools and fake the installers).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

say() { printf '\033[1m[akis]\033[0m %s\n' "$*" >&2; }

# Debian packages: "<command> <package> [systemd unit to stop and disable once installed]".
# Adding a package is one line. nats-server's unit runs NATS *without JetStream* on
# 127.0.0.1:4222, the port where ops/up starts its own server, so it is stopped.
debian_packages=(
  "nats-server nats-server nats-server"
  "clickhouse-server clickhouse-server"
  "nginx nginx nginx"
  "wrk wrk"
  "chromium chromium"   # the dashboard's browser tests and `ops bench ui` (driven by playwright-core)
)

# Debian puts daemons in sbin, which a normal user's PATH lacks; bun's own installer and a user
# npm install put bun in ~/.bun/bin and ~/.local/bin. (BOOTSTRAP_SBIN_DIRS: tests only.)
path_add() { case ":$PATH:" in *":$1:"*) ;; *) [ -d "$1" ] && PATH="$PATH:$1" ;; esac; return 0; }
for d in ${BOOTSTRAP_SBIN_DIRS:-/usr/local/sbin /usr/sbin /sbin} "${HOME:-/nonexistent}/.bun/bin" "${HOME:-/nonexistent}/.local/bin"; do path_add "$d"; done
export PATH

# How to run a command as root: directly, through password-less sudo, or not at all.
if [ "$(id -u)" = 0 ]; then as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then as_root="sudo -n"
else as_root="-"
fi

if ! command -v bun >/dev/null 2>&1; then
  command -v npm >/dev/null 2>&1 || { say "missing 'bun' and 'npm': install Node.js/npm (sudo apt-get install npm) or bun (https://bun.sh) and run again"; exit 1; }
  if [ "$(id -u)" = 0 ]; then npm_args=(install -g bun)
  else npm_args=(install -g --prefix "$HOME/.local" bun)
  fi
  say "installing bun (npm ${npm_args[*]})"
  npm_log="$(mktemp)"
  if ! npm "${npm_args[@]}" >"$npm_log" 2>&1; then
    tail -n 15 "$npm_log" >&2; rm -f "$npm_log"
    say "npm ${npm_args[*]} failed (above); install bun (https://bun.sh) and run again"; exit 1
  fi
  rm -f "$npm_log"
  if [ "$(id -u)" != 0 ]; then mkdir -p "$HOME/.local/bin"; path_add "$HOME/.local/bin"; fi
  hash -r
  command -v bun >/dev/null 2>&1 || { say "bun was installed but is not on PATH ($PATH)"; exit 1; }
fi

missing_pkgs=() stop_units=()
for line in "${debian_packages[@]}"; do
  read -r cmd pkg unit <<<"$line"
  command -v "$cmd" >/dev/null 2>&1 && continue
  missing_pkgs+=("$pkg")
  if [ -n "${unit:-}" ]; then stop_units+=("$unit"); fi
done
if [ "${#missing_pkgs[@]}" -gt 0 ]; then
  if [ "$as_root" = "-" ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing ${missing_pkgs[*]}: install the Debian package(s) (sudo apt-get install ${missing_pkgs[*]}) and run again"
    exit 1
  fi
  say "installing ${missing_pkgs[*]} (${as_root:+$as_root }apt-get)"
  $as_root apt-get update -qq >&2
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null
  hash -r
  for unit in "${stop_units[@]}"; do
    if command -v systemctl >/dev/null 2>&1 && { systemctl is-active --quiet "$unit" || systemctl is-enabled --quiet "$unit"; } 2>/dev/null; then
      say "stopping and disabling the $unit service the package may have started (akis starts its own, with its own settings)"
      # Without systemd as PID 1 (a container) the package started nothing: systemctl removes the
      # unit's links and then fails to stop it, which is no reason to warn.
      $as_root systemctl disable --now "$unit" >&2 || { [ ! -d /run/systemd/system ] || say "could not stop $unit; stop it before ops/up uses its port"; }
    fi
  done
  for line in "${debian_packages[@]}"; do
    read -r cmd pkg _ <<<"$line"
    command -v "$cmd" >/dev/null 2>&1 || { say "installed $pkg but '$cmd' is still not found (PATH=$PATH)"; exit 1; }
  done
fi
unset line cmd pkg unit d missing_pkgs stop_units npm_args npm_log

# nginx's stream module (device TCP pass-through) is a separate package where it is dynamic.
if command -v nginx >/dev/null 2>&1 && nginx -V 2>&1 | grep -q 'with-stream=dynamic' && [ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ] && [ "$as_root" != "-" ]; then say "installing libnginx-mod-stream"; $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnginx-mod-stream >/dev/null; fi
if [ ! -d node_modules ] || [ bun.lock -nt node_modules ]; then
  say "installing packages (bun install --frozen-lockfile)"
  bun install --frozen-lockfile >&2
  touch node_modules
fi
