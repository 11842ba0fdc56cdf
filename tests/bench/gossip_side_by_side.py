#!/usr/bin/env python3
"""N slimcached versus N `serf agent` on loopback, same machine, same timing profile, one run.

    tests/bench/gossip_side_by_side.py --slimcached build/bench/agent/slimcached --nodes 16 \
        [--serf serf] [--profile lan] [--idle-seconds 30] [--base-port 29000] [--json OUT.json]

For each system in turn (slimcached first, then serf, never both at once):
  1. start node 0 and wait until it answers (admin socket / serf RPC), then start nodes 1..N-1
     at once with node 0 as their seed;
     join convergence = from the last spawn until every node reports N alive members;
  2. after a settle of 2 s, an idle window of --idle-seconds: gossip bytes sent per node per
     second, CPU per process, then resident memory (VmRSS) per process;
  3. SIGKILL the last node; failure detection = from the kill until each survivor reports it
     dead (slimcached "dead", serf "failed"): median and maximum over the survivors.
Bytes: slimcached's own counter slimcache_gossip_bytes_sent (sealed datagram and stream
payloads; admin "stats"), serf's memberlist counters memberlist.udp.sent + memberlist.tcp.sent
(payload bytes) received by a statsd listener on loopback that this script runs (serf's
statsd_addr). Both count payloads without IP/UDP/TCP headers; neither is encrypted here.
Membership is polled every 50 ms over each daemon's own interface (admin socket frames; serf's
msgpack RPC, spoken here directly so polling costs no process spawns).
Every wait is bounded; every process is killed on exit (also on SIGINT/SIGTERM).
Prints one JSON object (and writes it to --json).
"""
import argparse, atexit, json, os, shutil, signal, socket, struct, subprocess, sys, tempfile, threading, time

PROCS = []


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
    for p in PROCS:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


atexit.register(cleanup)
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda *_: sys.exit(130))


def log(msg):
    print(f"gossip-side-by-side: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ minimal msgpack (serf RPC)
def mp_pack(o):
    if isinstance(o, dict):
        out = bytes([0x80 | len(o)]) if len(o) < 16 else b"\xde" + struct.pack(">H", len(o))
        for k, v in o.items():
            out += mp_pack(k) + mp_pack(v)
        return out
    if isinstance(o, str):
        b = o.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xda" + struct.pack(">H", len(b))) + b
    if isinstance(o, bool):
        return b"\xc3" if o else b"\xc2"
    if isinstance(o, int) and 0 <= o < 128:
        return bytes([o])
    if isinstance(o, int):
        return b"\xd3" + struct.pack(">q", o)
    raise TypeError(type(o))


class MpReader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def take(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("serf RPC closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def obj(self):
        b = self.take(1)[0]
        if b <= 0x7F: return b
        if b >= 0xE0: return b - 256
        if 0x80 <= b <= 0x8F: return self.map(b & 0x0F)
        if 0x90 <= b <= 0x9F: return [self.obj() for _ in range(b & 0x0F)]
        if 0xA0 <= b <= 0xBF: return self.raw(b & 0x1F)
        fixed = {0xC0: None, 0xC2: False, 0xC3: True}
        if b in fixed: return fixed[b]
        sizes = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q",
                 0xCA: ">f", 0xCB: ">d"}
        if b in sizes:
            fmt = sizes[b]
            return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        if b in (0xD9, 0xC4): return self.raw(self.take(1)[0])
        if b in (0xDA, 0xC5): return self.raw(struct.unpack(">H", self.take(2))[0])
        if b in (0xDB, 0xC6): return self.raw(struct.unpack(">I", self.take(4))[0])
        if b == 0xDC: return [self.obj() for _ in range(struct.unpack(">H", self.take(2))[0])]
        if b == 0xDD: return [self.obj() for _ in range(struct.unpack(">I", self.take(4))[0])]
        if b == 0xDE: return self.map(struct.unpack(">H", self.take(2))[0])
        if b == 0xDF: return self.map(struct.unpack(">I", self.take(4))[0])
        raise ValueError(f"msgpack type 0x{b:02x} not supported")

    def raw(self, n):
        data = self.take(n)
        try:
            return data.decode()
        except UnicodeDecodeError:
            return data

    def map(self, n):
        return {self.obj(): self.obj() for _ in range(n)}


class SerfRpc:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader, self.seq = MpReader(self.sock), 0
        self.call("handshake", {"Version": 1}, has_body=False)

    def call(self, command, body=None, has_body=True):
        self.seq += 1
        msg = mp_pack({"Command": command, "Seq": self.seq})
        if body is not None:
            msg += mp_pack(body)
        self.sock.sendall(msg)
        header = self.reader.obj()
        if header.get("Error"):
            raise RuntimeError(header["Error"])
        return self.reader.obj() if has_body else None

    def states(self):
        return {m["Name"]: m["Status"] for m in self.call("members")["Members"]}


# ------------------------------------------------------------------ slimcached admin socket
class AdminClient:
    def __init__(self, path):
        self.path, self.seq = path, 0
        self.connect()

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self.path)

    def call(self, cmd):
        try:
            return self.call_once(cmd)
        except (ConnectionError, OSError):  # the daemon closes connections idle for 30 s: reconnect once
            self.sock.close()
            self.connect()
            return self.call_once(cmd)

    def call_once(self, cmd):
        self.seq += 1
        body = json.dumps({"v": 1, "id": self.seq, "cmd": cmd, "args": {}}).encode()
        self.sock.sendall(struct.pack(">I", len(body)) + body)
        while True:
            n = struct.unpack(">I", self.recv(4))[0]
            frame = json.loads(self.recv(n))
            if "progress" in frame:
                continue
            if not frame.get("ok"):
                raise RuntimeError(frame.get("error"))
            return frame["result"]

    def recv(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("admin socket closed")
            out += chunk
        return out

    def states(self):
        return {m["name"]: m["state"] for m in self.call("members")["members"]}

    def bytes_sent(self):
        for line in self.call("stats")["prometheus"].splitlines():
            if line.startswith("slimcache_gossip_bytes_sent"):
                return float(line.split()[-1])
        return 0.0


# ------------------------------------------------------------------ statsd listener for serf
class Statsd:
    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.total, self.lock, self.stop = 0.0, threading.Lock(), False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                data = self.sock.recv(65536).decode(errors="replace")
            except socket.timeout:
                continue
            for line in data.splitlines():
                name, _, rest = line.partition(":")
                if name.endswith("memberlist.udp.sent") or name.endswith("memberlist.tcp.sent"):
                    with self.lock:
                        self.total += float(rest.split("|")[0])

    def value(self):
        time.sleep(0.3)  # the statsd sink flushes every 100 ms
        with self.lock:
            return self.total


# ------------------------------------------------------------------ per-process figures
def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


def wait_until(what, deadline_s, predicate, period=0.05):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if predicate():
                return True
        except (OSError, ConnectionError, RuntimeError, ValueError, KeyError):
            pass
        time.sleep(period)
    log(f"timed out after {deadline_s:.0f} s waiting for {what}")
    return False


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


class System:
    """One cluster of N processes of one implementation."""

    def run(self, n, idle_s, timeout_s):
        names = [f"n{i}" for i in range(n)]
        result = {"system": self.label, "nodes": n}
        self.procs = [self.spawn(0)]
        if not wait_until(f"{self.label} node 0", timeout_s, lambda: self.connect(0)):
            return dict(result, error="node 0 did not start")
        self.procs += [self.spawn(i) for i in range(1, n)]
        t_spawned = time.monotonic()
        for i in range(1, n):
            wait_until(f"{self.label} node {i} interface", timeout_s, lambda i=i: self.connect(i), period=0.02)

        def converged():
            return all(sum(1 for s in self.states(i).values() if s == "alive") == n for i in range(n))

        ok = wait_until(f"{self.label} join convergence", timeout_s, converged)
        result["join_converged"] = ok
        result["join_converge_s"] = time.monotonic() - t_spawned if ok else None
        if not ok:
            return result
        time.sleep(2)
        b0, t0 = self.bytes_total(), time.monotonic()
        c0 = [cpu_seconds(p.pid) for p in self.procs]
        time.sleep(idle_s)
        b1, t1 = self.bytes_total(), time.monotonic()
        c1 = [cpu_seconds(p.pid) for p in self.procs]
        rss = [rss_kib(p.pid) for p in self.procs]
        result["idle_window_s"] = t1 - t0
        result["bytes_per_node_per_s"] = (b1 - b0) / n / (t1 - t0)
        result["cpu_percent_per_process_mean"] = 100 * sum(b - a for a, b in zip(c0, c1)) / n / (t1 - t0)
        result["rss_mib_median"] = median(rss) / 1024
        result["rss_mib_max"] = max(rss) / 1024
        victim = n - 1
        self.procs[victim].kill()
        t_kill = time.monotonic()
        detected = {}

        def all_detected():
            for i in range(n - 1):
                if i not in detected and self.states(i).get(names[victim]) in self.dead_states:
                    detected[i] = time.monotonic() - t_kill
            return len(detected) == n - 1

        ok = wait_until(f"{self.label} failure detection", timeout_s, all_detected)
        result["failure_detected_by_all"] = ok
        result["detect_s_median"] = median(list(detected.values()))
        result["detect_s_max"] = max(detected.values()) if ok else None
        return result

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait(timeout=10)


class Slimcached(System):
    label = "slimcached"
    dead_states = ("dead",)

    def __init__(self, binary, work, base_port, profile):
        self.binary, self.work, self.base, self.profile, self.clients = binary, work, base_port, profile, {}

    def spawn(self, i):
        d = os.path.join(self.work, f"s{i}")
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, "c.toml")
        with open(cfg, "w") as f:
            f.write(f'[node]\nname = "n{i}"\nstate_dir = "{d}/state"\n'
                    f'[budgets]\ndisk = "64MiB"\nmemory = "512KiB"\n'
                    f'[network]\ngossip_port = {self.base + i}\ntransfer_port = {self.base + 100 + i}\n'
                    f'execution_port = {self.base + 200 + i}\n'
                    f'[gossip]\nprofile = "{self.profile}"\n'
                    f'[cluster]\nlabel = "bench"\nseeds = ["127.0.0.1:{self.base}"]\n'
                    f'[admin]\nsocket_path = "{d}/admin.sock"\n')
        p = subprocess.Popen([self.binary, "-c", cfg], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(d, "log"), "w"))
        PROCS.append(p)
        return p

    def connect(self, i):
        if i not in self.clients:
            self.clients[i] = AdminClient(os.path.join(self.work, f"s{i}", "admin.sock"))
        return True

    def states(self, i):
        return self.clients[i].states()

    def bytes_total(self):
        return sum(self.clients[i].bytes_sent() for i in range(len(self.procs)))


class Serf(System):
    label = "serf"
    dead_states = ("failed",)

    def __init__(self, binary, work, base_port, profile, statsd):
        self.binary, self.work, self.base, self.profile, self.statsd, self.clients = \
            binary, work, base_port, profile, statsd, {}

    def spawn(self, i):
        d = os.path.join(self.work, f"f{i}")
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, "c.json")
        with open(cfg, "w") as f:
            json.dump({"statsd_addr": f"127.0.0.1:{self.statsd_port}", "log_level": "warn"}, f)
        argv = [self.binary, "agent", f"-node=n{i}", f"-bind=127.0.0.1:{self.base + 300 + i}",
                f"-rpc-addr=127.0.0.1:{self.base + 400 + i}", f"-profile={self.profile}", f"-config-file={cfg}"]
        if i > 0:
            argv += [f"-retry-join=127.0.0.1:{self.base + 300}", "-retry-interval=1s"]
        p = subprocess.Popen(argv, stdout=open(os.path.join(d, "log"), "w"), stderr=subprocess.STDOUT)
        PROCS.append(p)
        return p

    @property
    def statsd_port(self):
        return self.base + 500

    def connect(self, i):
        if i not in self.clients:
            self.clients[i] = SerfRpc(self.base + 400 + i)
        return True

    def states(self, i):
        return self.clients[i].states()

    def bytes_total(self):
        return self.statsd.value()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slimcached", required=True)
    ap.add_argument("--serf", default=shutil.which("serf") or "serf")
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--profile", default="lan", choices=["lan", "local"])
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--timeout", type=float, default=90, help="bound of every wait (seconds)")
    ap.add_argument("--base-port", type=int, default=29000)
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.nodes < 3 or a.nodes > 99:
        ap.error("--nodes must be in 3..99")
    work = tempfile.mkdtemp(prefix="slimcache-gossip-sbs-")
    out = {"nodes": a.nodes, "profile": a.profile, "idle_seconds": a.idle_seconds, "runs": []}
    try:
        statsd = Statsd(a.base_port + 500)
        systems = [Slimcached(a.slimcached, work, a.base_port, a.profile),
                   Serf(a.serf, work, a.base_port, a.profile, statsd)]
        for s in systems:
            log(f"{s.label}: {a.nodes} processes")
            try:
                r = s.run(a.nodes, a.idle_seconds, a.timeout)
            finally:
                s.stop()
            log(json.dumps(r))
            out["runs"].append(r)
        r0, r1 = out["runs"]
        ratios = {}
        for key in ("join_converge_s", "detect_s_median", "detect_s_max", "bytes_per_node_per_s",
                    "rss_mib_median", "cpu_percent_per_process_mean"):
            if r0.get(key) and r1.get(key):
                ratios[key] = r0[key] / r1[key]
        out["ratio_slimcached_over_serf"] = ratios
        text = json.dumps(out, indent=1)
        print(text)
        if a.json:
            with open(a.json, "w") as f:
                f.write(text + "\n")
    finally:
        cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
