#!/usr/bin/env bash
# Resource exhaustion with a real slimcached: each case must end in a clear, logged reason
# while the daemon keeps running (`slimctl status` answers afterwards).
#   tests/reliability/resource_exhaustion.sh --slimcached PATH --slimctl PATH --make-checkpoint PATH
# Cases:
#   disk_full      the state directory is a 256 KiB tmpfs (mounted by the script) and the
#                  import needs ~800 KiB: the import fails naming the cause; after the
#                  file system grows (remount) the same import succeeds without a restart.
#   memory_budget  the memory tier (128 KiB) holds fewer experts than the model: pinning
#                  one more than fits fails with a reason; after an unpin it succeeds.
#   admin_flood    64 simultaneous admin connections, half of them sending garbage: the
#                  extra ones are told "busy", garbage is answered as a bad request, and
#                  status answers once they are gone.
# Exit: 0 pass, 1 fail, 77 skip (not root: tmpfs mounts need it). Every wait is bounded.
set -uo pipefail
slimcached="" slimctl="" mkckpt=""
while [ $# -gt 0 ]; do
  case "$1" in
    --slimcached) slimcached=$2; shift 2 ;;
    --slimctl) slimctl=$2; shift 2 ;;
    --make-checkpoint) mkckpt=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "resource_exhaustion: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (mounts a small tmpfs)"; exit 77; }
work=$(mktemp -d /tmp/slimcache-exhaust-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  umount "$work/state" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
ctl() { "$slimctl" "$@" --socket "$work/admin.sock" --timeout 20; }

"$mkckpt" "$work/ckpt" >/dev/null || { echo "cannot write the checkpoint"; exit 1; }
mkdir -p "$work/state"
mount -t tmpfs -o size=256k tmpfs "$work/state" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
cat > "$work/slimcached.toml" <<TOML
[node]
name = "exhaust$$"
state_dir = "$work/state"
[budgets]
disk = "64MiB"
memory = "128KiB"
[network]
gossip_port = 0
transfer_port = 0
execution_port = 0
[gossip]
profile = "local"
[admin]
socket_path = "$work/admin.sock"
TOML
"$slimcached" --config "$work/slimcached.toml" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status >/dev/null 2>&1 || { echo "FAIL: slimcached did not start"; cat "$work/log"; exit 1; }

# --- disk_full
out=$(ctl import --model-dir "$work/ckpt" 2>&1); rc=$?
if [ "$rc" = 0 ]; then fail "disk_full: the import into a 256 KiB file system succeeded: $out"
elif grep -qi -E "space|ENOSPC|full" <<<"$out"; then ok "disk_full: import refused: $(tail -n1 <<<"$out")"
else fail "disk_full: the error does not name the cause: $out"; fi
grep -qi "import failed" "$work/log" && ok "disk_full: logged: $(grep -i -m1 'import failed' "$work/log")" || fail "disk_full: nothing logged"
ctl status >/dev/null || fail "disk_full: status does not answer after the failed import"
mount -o remount,size=16m "$work/state" || fail "disk_full: cannot grow the tmpfs"
out=$(ctl import --model-dir "$work/ckpt" 2>&1) && ok "disk_full: after the file system grew: $out" || fail "disk_full: import still fails after the file system grew: $out"
q=$(ctl cache ls --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["experts"]), len(d["quarantined"]))')
[ "$q" = "64 0" ] && ok "disk_full: 64 experts on disk, none quarantined" || fail "disk_full: cache ls reports experts/quarantined = $q"

# --- memory_budget
pinned=0 refused=""
for e in $(seq 0 15); do
  if out=$(ctl cache pin 0 "$e" 2>&1); then pinned=$((pinned + 1)); else refused=$out; break; fi
done
if [ -z "$refused" ]; then fail "memory_budget: all 16 experts of layer 0 fit a 128 KiB memory tier"
else ok "memory_budget: $pinned experts pinned, the next refused: $refused"; fi
ctl status >/dev/null || fail "memory_budget: status does not answer"
ctl cache unpin 0 0 >/dev/null || fail "memory_budget: unpin failed"
ctl cache pin 0 "$pinned" >/dev/null && ok "memory_budget: the refused pin succeeds after an unpin" || fail "memory_budget: pin after unpin failed"
grep -q "cache of .* pages\|memory" "$work/log" || true

# --- admin_flood
python3 - "$work/admin.sock" <<'PY' || fail "admin_flood: the flood itself failed"
import socket, sys, time
path = sys.argv[1]
conns = []
for i in range(64):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect(path)
    if i % 2:
        try:
            s.sendall(b"\x00\x00\x00\x05garbage-not-json" * 4)
        except OSError:
            pass  # already told "busy" and closed
    conns.append(s)
answered = 0
for s in conns:
    try:
        if s.recv(4096):
            answered += 1
    except OSError:
        pass
for s in conns:
    s.close()
print("ok: admin_flood: 64 connections, %d answered (busy or bad request), all closed" % answered)
PY
ok=0
for _ in $(seq 50); do ctl status >/dev/null 2>&1 && { ok=1; break; }; sleep 0.1; done
[ "$ok" = 1 ] && ok "admin_flood: status answers after the flood" || fail "admin_flood: status does not answer after the flood"
grep -i -m3 -E "busy|bad request|garbage|refus" "$work/log" | sed 's/^/  log: /'
kill -0 "$pid" 2>/dev/null || fail "slimcached is no longer running"
[ "$failures" = 0 ] && echo "resource_exhaustion: PASS" && exit 0
echo "resource_exhaustion: $failures failure(s); daemon log:"; tail -n 20 "$work/log"; exit 1
