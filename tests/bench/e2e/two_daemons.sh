#!/usr/bin/env bash
# Distributed expert execution with two real slimcached processes on loopback.
#   tests/bench/e2e/two_daemons.sh --slimcached PATH --slimctl PATH --client-lib PATH
# Node 1 imports a small generated OLMoE-style checkpoint (2 layers x 4 experts, bf16,
# make_checkpoint.py) and is its origin; node 2 joins, adopts the model with an empty disk
# tier and learns from the placement directory that node 1 holds every expert. An engine on
# node 2 (moe_client_check.py: slimcache_moe_forward through ctypes) must get every expert
# from the peer over TLS with the reference outputs (the placement may move copies to node 2
# meanwhile: those run locally, still with the reference outputs); an engine on node 1 runs
# them locally; after node 1 stops, node 2's calls must either run on a local copy or fail
# with SLIMCACHE_E_EXPERT_FAILED, and never hang.
# Exit: 0 pass, 1 fail, 77 skip (no python3). Every wait is bounded; a trap stops the daemons.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
slimcached="" slimctl="" lib=""
while [ $# -gt 0 ]; do
  case "$1" in
    --slimcached) slimcached=$2; shift 2 ;;
    --slimctl) slimctl=$2; shift 2 ;;
    --client-lib) lib=$2; shift 2 ;;
    *) echo "two_daemons: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
work=$(mktemp -d /tmp/slimcache-exec2-XXXXXX)
tag=$(basename "$work" | tr -cd 'a-zA-Z0-9' | tail -c 6)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
python3 "$here/make_checkpoint.py" "$work/ckpt" || exit 1
python3 -c "import base64,os; print(base64.b64encode(os.urandom(32)).decode())" > "$work/keyring"
chmod 600 "$work/keyring"
mkdir -p "$work/dropin"
config() {  # name seeds
  cat <<EOT
[node]
name = "$1"
state_dir = "$work/$1"
[budgets]
disk = "16MiB"
memory = "1MiB"
[network]
gossip_port = 0
transfer_port = 0
execution_port = 0
[cluster]
label = "exec-$tag"
seeds = [$2]
[security]
keyring_files = ["$work/keyring"]
[admin]
socket_path = "$work/$1/run/admin.sock"
EOT
}
wait_for() {  # what seconds command...
  local what=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "FAIL: $what within ${secs}s"; exit 1
}
n1="e$tag"1 n2="e$tag"2
config "$n1" "" > "$work/n1.toml"
"$slimcached" -c "$work/n1.toml" --drop-in "$work/dropin" > "$work/n1.log" 2>&1 & pids+=($!)
wait_for "node 1 up" 20 "$slimctl" status --socket "$work/$n1/run/admin.sock"
gossip=$(grep -o "gossip on 127.0.0.1:[0-9]*" "$work/n1.log" | grep -o "[0-9]*$")
"$slimctl" import --socket "$work/$n1/run/admin.sock" --model-dir "$work/ckpt" || { echo "FAIL: import"; exit 1; }
config "$n2" "\"127.0.0.1:$gossip\"" > "$work/n2.toml"
"$slimcached" -c "$work/n2.toml" --drop-in "$work/dropin" > "$work/n2.log" 2>&1 & pids+=($!)
wait_for "node 2 up" 20 "$slimctl" status --socket "$work/$n2/run/admin.sock"
# A node's engine segment is named in its status (cache.shm_name) once it has a model.
shm_of() {  # node name
  "$slimctl" status --socket "$work/$1/run/admin.sock" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["cache"]["shm_name"])'
}
# Node 2's engine segment exists once it adopted the model, and names node 1 as holder once
# its placement epoch published the directory.
holder_known() {
  local shm
  shm=$(shm_of "$n2") || return 1
  python3 - "$lib" "$shm" <<'PY'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
class W(ctypes.Structure):
    _fields_ = [("location", ctypes.c_int32), ("holders", ctypes.c_uint32), ("holder", (ctypes.c_char * 96) * 4)]
c = ctypes.c_void_p()
if lib.slimcache_open(sys.argv[2].encode(), ctypes.byref(c), None, 0) != 0: sys.exit(1)
w = W()
ok = all(lib.slimcache_locate(c, l, e, ctypes.byref(w)) == 0 and w.location == 3 and w.holders > 0
         for l in range(2) for e in range(4))
lib.slimcache_close(c)
sys.exit(0 if ok else 1)
PY
}
wait_for "node 2 learning the holders" 60 holder_known
shm1=$(shm_of "$n1") && shm2=$(shm_of "$n2") || { echo "FAIL: no engine segment name in status"; exit 1; }
echo "== node 2: experts from the peer"
python3 "$here/moe_client_check.py" "$lib" "$shm2" "$work/$n2/run/exec.sock" "$work/ckpt" --expect peer || exit 1
echo "== node 1: from its memory tier (node 2's requests loaded it) or its own daemon"
python3 "$here/moe_client_check.py" "$lib" "$shm1" "$work/$n1/run/exec.sock" "$work/ckpt" --expect local || exit 1
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null
echo "== node 1 stopped: node 2 runs a local copy or fails fast"
python3 "$here/moe_client_check.py" "$lib" "$shm2" "$work/$n2/run/exec.sock" "$work/ckpt" --expect failed-or-local --calls 2 || exit 1
echo "PASS"
