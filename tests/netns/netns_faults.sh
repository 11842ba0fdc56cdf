#!/usr/bin/env bash
# Network faults with real slimcached processes in their own network namespaces.
#   tests/netns/netns_faults.sh --slimcached PATH --slimctl PATH [--scenario NAME]... [--long] [--keep]
# Scenarios: partition (minority partition, then heal), lossy (one node behind a 30 % lossy
# link), flap (one node's link goes down and up repeatedly), impaired (one node's link
# delays and reorders packets). Default: all four.
# Topology: a hub namespace with a bridge; node i lives in namespace <prefix>-i with a veth
# (10.201.0.i/24) whose peer is on the bridge. Nothing is configured in the caller's
# namespace. Faults: `ip link set down` on the hub side (partition, flap); `tc netem loss`
# on both ends of the link, or, when the kernel has no sch_netem, a tc eBPF program that
# drops the same fraction at random (lossy_link.bpf.c, built with clang). Delay and
# reordering without sch_netem: an HTB root on both ends of the link with a fast default
# class and a slow class (low rate, deep queue: queueing delay), and a cls_bpf classifier
# (impaired_link.bpf.c) sending a random 30 % of the packets to the slow class, so that
# fast packets overtake queued ones (reordering). udp_probe.py measures the RTTs and
# reordering the link actually produces, and the qdisc counters are printed.
# Asserts: membership converges after heal within 2 x the suspicion timeout (from the
# gossip timing the daemons resolved, `slimctl config check --json`), a reachable node
# behind a lossy link is never declared dead, every node's `slimctl members --json`
# agrees, and (when the daemons serve `placement`) no node's placement epoch changes more
# than once while partitioned.
# Exit: 0 pass, 1 fail, 77 skip (not root, no `ip netns`, or a fault tool missing).
# Every wait is bounded in time; namespaces and daemons are removed by a trap.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
slimcached="" slimctl="" long=0 keep=0 scenarios=()
while [ $# -gt 0 ]; do
  case "$1" in
    --slimcached) slimcached=$2; shift 2 ;;
    --slimctl) slimctl=$2; shift 2 ;;
    --scenario) scenarios+=("$2"); shift 2 ;;
    --long) long=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "netns_faults: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(partition lossy flap impaired)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null && command -v tc >/dev/null || skip "needs iproute2 (ip, tc)"
command -v python3 >/dev/null || skip "needs python3"
[ -x "$slimcached" ] && [ -x "$slimctl" ] || { echo "netns_faults: --slimcached and --slimctl must be executables" >&2; exit 2; }

nodes=3
suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
prefix="slimnet-$suffix"
hub="$prefix-hub"
work=$(mktemp -d /tmp/slimcache-netns-XXXXXX)
pids=()
t_start=$(date +%s)
now_ms() { date +%s%3N; }
log() { echo "[$(( $(date +%s) - t_start ))s] $*"; }

cleanup() {
  for p in "${pids[@]}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  for i in $(seq "$nodes"); do ip netns del "$prefix-$i" 2>/dev/null; done
  ip netns del "$hub" 2>/dev/null
  if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$hub" 2>/dev/null || skip "cannot create network namespaces (ip netns add failed)"
ip -n "$hub" link add br0 type bridge || skip "no bridge support"
ip -n "$hub" link set br0 up
ip -n "$hub" link set lo up
for i in $(seq "$nodes"); do
  ns="$prefix-$i"
  ip netns add "$ns"
  ip link add "sn$suffix$i" type veth peer name "sh$suffix$i"
  ip link set "sn$suffix$i" netns "$ns"
  ip link set "sh$suffix$i" netns "$hub"
  ip -n "$ns" link set "sn$suffix$i" name eth0
  ip -n "$hub" link set "sh$suffix$i" name "p$i"
  ip -n "$hub" link set "p$i" master br0
  ip -n "$hub" link set "p$i" up
  ip -n "$ns" addr add "10.201.0.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

# --- faults
loss_tool=""
lossy_obj="$work/lossy.o"
set_loss() {  # set_loss NODE PERCENT: on both ends of node's link
  local i=$1 pct=$2
  if [ "$loss_tool" = netem ]; then
    ip netns exec "$prefix-$i" tc qdisc replace dev eth0 root netem loss "$pct%"
    ip netns exec "$hub" tc qdisc replace dev "p$i" root netem loss "$pct%"
  else
    clang -O2 -target bpf -DLOSS_PERCENT="$pct" -c "$here/lossy_link.bpf.c" -o "$lossy_obj" || return 1
    for target in "$prefix-$i eth0" "$hub p$i"; do
      set -- $target
      ip netns exec "$1" tc qdisc replace dev "$2" clsact || return 1
      ip netns exec "$1" tc filter replace dev "$2" egress pref 1 bpf da obj "$lossy_obj" sec classifier || return 1
    done
  fi
}
clear_loss() {
  local i=$1
  for target in "$prefix-$i eth0" "$hub p$i"; do
    set -- $target
    ip netns exec "$1" tc qdisc del dev "$2" root 2>/dev/null
    ip netns exec "$1" tc qdisc del dev "$2" clsact 2>/dev/null
  done
  return 0
}
if ip netns exec "$hub" tc qdisc add dev lo root netem loss 1% 2>/dev/null; then
  loss_tool=netem
  ip netns exec "$hub" tc qdisc del dev lo root
elif command -v clang >/dev/null && clang -O2 -target bpf -DLOSS_PERCENT=1 -c "$here/lossy_link.bpf.c" -o "$lossy_obj" 2>/dev/null \
     && ip netns exec "$hub" tc qdisc add dev lo clsact 2>/dev/null \
     && ip netns exec "$hub" tc filter add dev lo egress bpf da obj "$lossy_obj" sec classifier 2>/dev/null; then
  loss_tool=ebpf
  ip netns exec "$hub" tc qdisc del dev lo clsact
fi
# Delay and reordering: HTB (fast default class 1:10, slow class 1:20 with a deep FIFO)
# and a cls_bpf classifier that picks the slow class for impair_share % of the packets.
# A paced filler flow (UDP port 9, 1200 bytes every 0.6 s, always the slow class) keeps the
# slow class's token bucket in debt (~52 % busy at 32 kbit), so a packet sent there waits
# up to one filler packet's transmission time (~310 ms) plus any queue: delay without loss.
impair_tool="" impair_share=30 impair_rate=32kbit impair_queue=200
impaired_obj="$work/impaired.o"
set_impair() {  # set_impair NODE: on both ends of node's link
  local i=$1
  if [ "$impair_tool" = netem ]; then
    ip netns exec "$prefix-$i" tc qdisc replace dev eth0 root netem delay 150ms 100ms
    ip netns exec "$hub" tc qdisc replace dev "p$i" root netem delay 150ms 100ms
    return
  fi
  for target in "$prefix-$i eth0" "$hub p$i"; do
    set -- $target
    ip netns exec "$1" tc qdisc replace dev "$2" root handle 1: htb default 10 || return 1
    ip netns exec "$1" tc class add dev "$2" parent 1: classid 1:10 htb rate 1gbit quantum 60000 || return 1
    ip netns exec "$1" tc class add dev "$2" parent 1: classid 1:20 htb rate "$impair_rate" ceil "$impair_rate" \
      burst 100 cburst 100 quantum 1600 || return 1
    ip netns exec "$1" tc qdisc add dev "$2" parent 1:20 handle 20: pfifo limit "$impair_queue" || return 1
    ip netns exec "$1" tc filter add dev "$2" parent 1: prio 1 protocol ip u32 match ip dport 9 0xffff flowid 1:20 || return 1
    ip netns exec "$1" tc filter add dev "$2" parent 1: prio 2 bpf obj "$impaired_obj" sec classifier || return 1
  done
}
impair_counters() {  # impair_counters NS DEV -> "fast N pkts, slow N pkts (N dropped)"
  ip netns exec "$1" tc -s class show dev "$2" | awk '
    /^class htb 1:10 /{c="fast"} /^class htb 1:20 /{c="slow"}
    /Sent/ && c!="" {for (k=1;k<=NF;k++) if ($k=="pkt") p[c]=$(k-1); for (k=1;k<=NF;k++) if ($k=="(dropped") d[c]=$(k+1); c=""}
    END {gsub(",","",d["slow"]); printf "fast %d pkts, slow %d pkts (%d dropped)", p["fast"], p["slow"], d["slow"]}'
}
if ip netns exec "$hub" tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
  impair_tool=netem
  ip netns exec "$hub" tc qdisc del dev lo root
elif command -v clang >/dev/null \
     && clang -O2 -target bpf -DSLOW_PERCENT="$impair_share" -DSLOW_CLASSID=0x10020 -c "$here/impaired_link.bpf.c" -o "$impaired_obj" 2>/dev/null \
     && ip netns exec "$hub" tc qdisc add dev lo root handle 1: htb default 10 2>/dev/null \
     && ip netns exec "$hub" tc filter add dev lo parent 1: prio 1 bpf obj "$impaired_obj" sec classifier 2>/dev/null; then
  impair_tool=htb+bpf
  ip netns exec "$hub" tc qdisc del dev lo root
fi
ip netns exec "$hub" tc qdisc del dev lo root 2>/dev/null
partition() { ip -n "$hub" link set "p$1" down; }
heal() { ip -n "$hub" link set "p$1" up; }

# --- daemons
key=$(head -c 32 /dev/urandom | base64)
for i in $(seq "$nodes"); do
  d="$work/node$i"
  mkdir -p "$d/state"
  (umask 077; printf '# cluster key\n%s\n' "$key" > "$d/keyring")
  cat > "$d/slimcached.toml" <<TOML
[node]
name = "node$i"
state_dir = "$d/state"
[budgets]
disk = "64MiB"
memory = "4MiB"
[network]
bind_address = "10.201.0.$i"
[gossip]
profile = "local"
probe_interval = "500ms"
probe_timeout = "200ms"
suspicion_multiplier = 4
suspicion_max_timeout_multiplier = 6
retransmit_multiplier = 4
push_pull_interval = "5s"
dead_node_grace = "60s"
[cluster]
label = "netns-$suffix"
seeds = ["10.201.0.1:7946", "10.201.0.2:7946"]
[security]
keyring_files = ["$d/keyring"]
[admin]
socket_path = "$d/admin.sock"
[logging]
rate_limit_burst = 10000
TOML
done
timing=$("$slimctl" config check "$work/node1/slimcached.toml" --json) || { echo "FAIL: node config invalid: $timing"; exit 1; }
read -r probe_ms susp_min_ms susp_max_ms < <(python3 -c '
import json, math, re, sys
g = json.load(sys.stdin)["config"]["gossip"]
def ms(v):
    total = 0.0
    for n, u in re.findall(r"([0-9.]+)(ms|s|m|h)", v):
        total += float(n) * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}[u]
    return int(total)
n = int(sys.argv[1])
probe = ms(g["probe_interval"])
smin = g["suspicion_multiplier"] * max(1.0, math.log10(n)) * probe   # memberlist suspicionTimeout
print(probe, int(smin), int(smin * g["suspicion_max_timeout_multiplier"]))' "$nodes" <<<"$timing")
log "namespaces $prefix-{1..$nodes} + $hub; loss via ${loss_tool:-none}; delay/reordering via ${impair_tool:-none}; probe ${probe_ms}ms, suspicion timeout ${susp_min_ms}..${susp_max_ms}ms"

for i in $(seq "$nodes"); do
  ip netns exec "$prefix-$i" "$slimcached" --config "$work/node$i/slimcached.toml" 2>"$work/node$i/log" &
  pids+=($!)
done

members() {  # members NODE -> "name=state ..." sorted, or "" if the node does not answer
  "$slimctl" members --socket "$work/node$1/admin.sock" --json --timeout 2 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    sys.exit(0)
print(" ".join(sorted(m["name"] + "=" + m["state"] for m in d["members"])))' 2>/dev/null
}
all_alive() { local s; s=$(for i in $(seq "$nodes"); do printf 'node%s=alive ' "$i"; done); echo "${s% }"; }
# converged: every node answers and reports every node alive (the lists are then equal).
converged() {
  local want; want=$(all_alive)
  for i in $(seq "$nodes"); do [ "$(members "$i")" = "$want" ] || return 1; done
}
wait_converged() {  # wait_converged LIMIT_MS -> prints elapsed ms; fails after the limit
  local t0; t0=$(now_ms)
  while [ $(( $(now_ms) - t0 )) -le "$1" ]; do
    if converged; then echo $(( $(now_ms) - t0 )); return 0; fi
    sleep 0.1
  done
  return 1
}
placement_epoch() {  # placement_epoch NODE -> epoch number or "" when not served
  "$slimctl" placement --socket "$work/node$1/admin.sock" --json --timeout 2 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    print(d.get("epoch", ""))
except Exception:
    pass' 2>/dev/null
}
# events NODE_NAME KIND: how many times nodes other than NODE_NAME logged "member NODE_NAME: KIND"
events() {
  local n=0 c i
  for i in $(seq "$nodes"); do
    [ "node$i" = "$1" ] && continue
    c=$(grep -c "member $1: $2\$" "$work/node$i/log"); n=$((n + c))
  done
  echo "$n"
}
has_placement=0
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); for i in $(seq "$nodes"); do echo "  node$i: $(members "$i")"; done; }
figures=()

if ! t=$(wait_converged 20000); then fail "initial membership did not converge in 20 s"; exit 1; fi
log "initial membership converged in ${t}ms: $(members 1)"
[ -n "$(placement_epoch 1)" ] && has_placement=1
log "placement epochs: $([ "$has_placement" = 1 ] && echo "served, checked while partitioned" || echo "not served by this slimcached, not checked")"
heal_limit=$(( 2 * susp_max_ms ))

for scenario in "${scenarios[@]}"; do
  case "$scenario" in
  partition)
    rounds=1; [ "$long" = 1 ] && rounds=5
    for r in $(seq "$rounds"); do
      # Long enough for the majority to declare node3 dead (probe + suspicion timeout).
      hold_ms=$(( susp_max_ms + 6 * probe_ms + 1000 ))
      log "partition $r: node3 cut off for ${hold_ms}ms"
      partition 3
      declare -A epochs=() changes=()
      for i in $(seq "$nodes"); do epochs[$i]=$(placement_epoch "$i"); changes[$i]=0; done
      dead0=$(grep -c "member node3: dead$" "$work/node1/log")
      t0=$(now_ms)
      while [ $(( $(now_ms) - t0 )) -lt "$hold_ms" ]; do
        for i in $(seq "$nodes"); do
          [ "$has_placement" = 1 ] || break
          e=$(placement_epoch "$i")
          if [ -n "$e" ] && [ "$e" != "${epochs[$i]}" ]; then changes[$i]=$(( changes[$i] + 1 )); epochs[$i]=$e; fi
        done
        sleep 0.2
      done
      [ "$(grep -c "member node3: dead$" "$work/node1/log")" -gt "$dead0" ] || fail "partition: the majority never declared the cut-off node3 dead in ${hold_ms}ms"
      m1=$(members 1); m2=$(members 2)
      [ "$m1" = "$m2" ] || fail "partition: the majority disagrees: node1 '$m1', node2 '$m2'"
      for i in $(seq "$nodes"); do
        [ "${changes[$i]}" -le 1 ] || fail "partition: node$i's placement epoch changed ${changes[$i]} times while partitioned"
      done
      heal 3
      if t=$(wait_converged "$heal_limit"); then
        log "healed: converged in ${t}ms (limit ${heal_limit}ms = 2 x suspicion timeout)"
        figures+=("partition heal: converged in ${t}ms (limit ${heal_limit}ms)")
      else
        fail "partition: membership did not converge within ${heal_limit}ms of the heal"
        wait_converged 30000 >/dev/null || exit 1
      fi
    done ;;
  lossy)
    if [ -z "$loss_tool" ]; then log "lossy: SKIPPED (neither tc netem nor clang + tc bpf available)"; continue; fi
    hold_ms=20000; [ "$long" = 1 ] && hold_ms=120000
    log "lossy: node3 behind a 30% lossy link (both directions, $loss_tool) for ${hold_ms}ms"
    set_loss 3 30 || { fail "lossy: cannot install the loss"; continue; }
    suspect0=$(events node3 suspect) dead0=$(events node3 dead)
    sleep "$(( hold_ms / 1000 ))"
    clear_loss 3
    suspects=$(( $(events node3 suspect) - suspect0 )) deaths=$(( $(events node3 dead) - dead0 ))
    log "lossy: nodes 1-2 suspected node3 $suspects times, declared it dead $deaths times"
    figures+=("lossy 30% both ways for ${hold_ms}ms: node3 suspected $suspects times, declared dead $deaths times")
    # SWIM with Lifeguard: a reachable node refutes every suspicion in time (it hears of it
    # by piggybacked gossip and the refutation is retransmitted); it is never declared dead.
    [ "$deaths" = 0 ] || fail "lossy: reachable node3 was declared dead $deaths times"
    t=$(wait_converged "$heal_limit") || fail "lossy: no convergence within ${heal_limit}ms after the loss ended"
    ;;
  flap)
    cycles=8; [ "$long" = 1 ] && cycles=60
    down_ms=$(( susp_min_ms / 2 )); up_ms=$(( 2 * probe_ms + 500 ))
    log "flap: node3's link down ${down_ms}ms / up ${up_ms}ms, $cycles cycles"
    dead0=$(events node3 dead) suspect0=$(events node3 suspect)
    for c in $(seq "$cycles"); do
      partition 3; sleep "$(awk "BEGIN{print $down_ms/1000}")"
      heal 3; sleep "$(awk "BEGIN{print $up_ms/1000}")"
    done
    deaths=$(( $(events node3 dead) - dead0 )) suspects=$(( $(events node3 suspect) - suspect0 ))
    figures+=("flap: $cycles cycles of ${down_ms}ms down / ${up_ms}ms up: node3 suspected $suspects times, declared dead $deaths times")
    # A link that is down for less than the suspicion timeout never makes a node dead.
    [ "$deaths" = 0 ] || fail "flap: node3 was declared dead $deaths times though every outage was shorter than the suspicion timeout"
    if t=$(wait_converged "$heal_limit"); then
      figures+=("flap: converged ${t}ms after the last flap")
    else
      fail "flap: no convergence within ${heal_limit}ms after the last flap"
    fi ;;
  impaired)
    if [ -z "$impair_tool" ]; then log "impaired: SKIPPED (neither tc netem nor clang + tc htb + bpf available)"; continue; fi
    hold_ms=20000; [ "$long" = 1 ] && hold_ms=120000
    hold_s=$(( hold_ms / 1000 ))
    log "impaired: node3's link delays and reorders ($impair_tool: ${impair_share}% of packets to a ${impair_rate} class, queue ${impair_queue}) for ${hold_ms}ms"
    set_impair 3 || { fail "impaired: cannot install the qdiscs"; clear_loss 3; continue; }
    suspect0=$(events node3 suspect) dead0=$(events node3 dead)
    # The filler both ways, and what the link does measured with UDP echoes node1 -> node3
    # (pairs sent back to back 4 times per second, 200 bytes).
    helpers=()
    if [ "$impair_tool" != netem ]; then
      for pair in "1 3" "3 1"; do
        set -- $pair
        ip netns exec "$prefix-$2" python3 "$here/udp_probe.py" sink "10.201.0.$2" 9 "$(( hold_s + 2 ))" &
        helpers+=($!)
        ip netns exec "$prefix-$1" python3 "$here/udp_probe.py" filler "10.201.0.$2" 9 "$hold_s" 1200 0.6 &
        helpers+=($!)
      done
    fi
    ip netns exec "$prefix-3" python3 "$here/udp_probe.py" server 10.201.0.3 9999 "$(( hold_s + 8 ))" &
    helpers+=($!)
    ip netns exec "$prefix-1" python3 "$here/udp_probe.py" client 10.201.0.3 9999 "$(( hold_s * 8 - 16 ))" 0.25 200 2 \
      >"$work/impaired_probe" 2>&1 &
    probe_client=$!
    sleep "$hold_s"
    wait "$probe_client"
    for p in "${helpers[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    measured=$(cat "$work/impaired_probe")
    counters="node3 side: $( [ "$impair_tool" = netem ] && echo netem || impair_counters "$prefix-3" eth0); hub side: $( [ "$impair_tool" = netem ] && echo netem || impair_counters "$hub" p3)"
    clear_loss 3
    suspects=$(( $(events node3 suspect) - suspect0 )) deaths=$(( $(events node3 dead) - dead0 ))
    log "impaired: measured $measured"
    log "impaired: qdisc counters: $counters"
    log "impaired: nodes 1-2 suspected node3 $suspects times, declared it dead $deaths times"
    figures+=("impaired link for ${hold_ms}ms (${impair_share}% of packets via a ${impair_rate} queue): UDP echo $measured; $counters; node3 suspected $suspects times, declared dead $deaths times")
    # The link must really have delayed and reordered something, or the scenario proves nothing.
    if [ "$impair_tool" != netem ]; then
      grep -q "slow [1-9][0-9]* pkts" <<<"$counters" || fail "impaired: no packet took the slow class: $counters"
      grep -q "reordered [1-9]" <<<"$measured" || fail "impaired: the probe saw no reordering: $measured"
    fi
    rtt_max=$(sed -n 's/.* max \([0-9.]*\) .*/\1/p' <<<"$measured")
    awk "BEGIN{exit !(${rtt_max:-0} >= 50)}" || fail "impaired: the probe saw no delay (max RTT ${rtt_max:-?} ms): $measured"
    # A reachable node behind a slow, reordering link refutes every suspicion: never dead.
    [ "$deaths" = 0 ] || fail "impaired: reachable node3 was declared dead $deaths times"
    if t=$(wait_converged "$heal_limit"); then
      figures+=("impaired: converged ${t}ms after the link was restored (limit ${heal_limit}ms)")
    else
      fail "impaired: no convergence within ${heal_limit}ms after the link was restored"
    fi ;;
  *) echo "netns_faults: unknown scenario $scenario" >&2; exit 2 ;;
  esac
done

# Every node's view agrees at the end.
for i in $(seq "$nodes"); do log "node$i members: $(members "$i")"; done
for f in "${figures[@]}"; do echo "figure: $f"; done
alive=0
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
[ "$alive" = "$nodes" ] || fail "only $alive of $nodes daemons are still running"
if [ "$failures" -gt 0 ]; then echo "netns_faults: $failures failure(s) ($(( $(date +%s) - t_start ))s)"; exit 1; fi
echo "netns_faults: PASS (${scenarios[*]}, $(( $(date +%s) - t_start ))s)"
