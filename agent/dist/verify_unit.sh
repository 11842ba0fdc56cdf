#!/usr/bin/env bash
# Checks agent/dist/slimcached.service with `systemd-analyze verify`, which prints warnings
# without failing: any output is a failure. The unit's ExecStart is pointed at the daemon
# given (verify requires the binary to exist). Exit 77 (skipped) without systemd-analyze.
#   agent/dist/verify_unit.sh build/dev/agent/slimcached
set -euo pipefail
daemon=${1:?usage: verify_unit.sh PATH/TO/slimcached}
here=$(cd "$(dirname "$0")" && pwd)
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
daemon=$(cd "$(dirname "$daemon")" && pwd)/$(basename "$daemon")
[ -x "$daemon" ] || { echo "verify_unit: $daemon is not executable" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=/usr/sbin/slimcached|ExecStart=$daemon|" "$here/slimcached.service" >"$tmp/slimcached.service"
out=$(systemd-analyze verify "$tmp/slimcached.service" 2>&1) || true
if [ -n "$out" ]; then
  echo "$out" >&2
  echo "verify_unit: systemd-analyze verify printed the above" >&2
  exit 1
fi
echo "systemd-analyze verify: clean"
