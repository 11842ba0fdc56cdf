#!/usr/bin/env python3
"""slimcache_moe_forward through libslimcache-client (ctypes) against a running node, checked
against a plain-Python SwiGLU reference computed from the checkpoint's values.json.

  moe_client_check.py LIB SHM_NAME EXEC_SOCKET CKPT_DIR --expect peer|local|failed-or-local [--calls N]
  peer: every call succeeds, at least one expert ran on a peer (the rest here: the placement
        may have moved a copy meanwhile); local: every call succeeds without peers;
  failed-or-local: each call either fails with SLIMCACHE_E_EXPERT_FAILED or succeeds locally.
Exit 0 when every call returned as expected (and, when it succeeded, within 1e-5 of the
reference), 1 otherwise."""
import argparse, ctypes, json, math, random, sys

p = argparse.ArgumentParser()
p.add_argument("lib"); p.add_argument("shm"); p.add_argument("socket"); p.add_argument("ckpt")
p.add_argument("--expect", required=True, choices=["peer", "local", "failed-or-local"]); p.add_argument("--calls", type=int, default=6)
a = p.parse_args()
lib = ctypes.CDLL(a.lib)

class Report(ctypes.Structure):
    _fields_ = [("in_process", ctypes.c_uint32), ("daemon", ctypes.c_uint32), ("peer", ctypes.c_uint32), ("failed", ctypes.c_uint32)]

client = ctypes.c_void_p(); err = ctypes.create_string_buffer(256)
if lib.slimcache_open(a.shm.encode(), ctypes.byref(client), err, 256) != 0:
    sys.exit(f"open {a.shm}: {err.value.decode()}")
lib.slimcache_set_exec_socket(client, a.socket.encode())
vals = json.load(open(f"{a.ckpt}/values.json"))
H, F, K = 32, 16, 2

def expert(l, e, x):
    w = lambda n: vals[f"model.layers.{l}.mlp.experts.{e}.{n}.weight"]
    g, u, d = w("gate_proj"), w("up_proj"), w("down_proj")
    h = []
    for f in range(F):
        gv = sum(g[f * H + c] * x[c] for c in range(H)); uv = sum(u[f * H + c] * x[c] for c in range(H))
        h.append(gv / (1 + math.exp(-gv)) * uv)
    return [sum(d[i * F + f] * h[f] for f in range(F)) for i in range(H)]

random.seed(1)
ok = True
peers = 0
for call in range(a.calls):
    layer = call % 2; ids = random.sample(range(4), K); gates = [0.7, 0.3]
    x = [random.uniform(-1, 1) for _ in range(H)]
    out = (ctypes.c_float * H)(); rep = Report()
    rc = lib.slimcache_moe_forward(client, layer, K, (ctypes.c_uint16 * K)(*ids), (ctypes.c_float * K)(*gates),
                                   (ctypes.c_float * H)(*x), H, out, ctypes.byref(rep))
    line = f"call {call}: layer {layer} experts {ids}: rc={rc} in_process={rep.in_process} daemon={rep.daemon} peer={rep.peer} failed={rep.failed}"
    if rc == -8 and a.expect == "failed-or-local":
        good = rep.failed > 0
    else:
        ref = [sum(gates[i] * expert(layer, ids[i], x)[k] for i in range(K)) for k in range(H)]
        e = max(abs(out[k] - ref[k]) for k in range(H))
        line += f" max|err|={e:.2e}"
        good = rc == 0 and e < 1e-5 and rep.peer + rep.daemon + rep.in_process == K
        if a.expect != "peer": good = good and rep.peer == 0
    peers += rep.peer
    print(line + ("" if good else "  <-- unexpected"))
    ok = ok and good
if a.expect == "peer" and peers == 0:
    print("no expert ran on a peer  <-- unexpected"); ok = False
lib.slimcache_close(client)
sys.exit(0 if ok else 1)
