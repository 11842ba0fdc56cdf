#!/usr/bin/env python3
"""Measures slimcached's footprint (issue 6 targets): start-to-READY=1 with an empty state
directory (through a NOTIFY_SOCKET this script creates), then idle resident memory and CPU
over a window. Loopback only; everything is removed afterwards.

    tests/system/measure_footprint.py build/release/agent/slimcached [--idle-seconds 60]
"""
import argparse, os, shutil, socket, subprocess, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("slimcached")
ap.add_argument("--idle-seconds", type=float, default=60)
ap.add_argument("--runs", type=int, default=5)
args = ap.parse_args()

work = tempfile.mkdtemp(prefix="slimcache-footprint-")
try:
    cfg = os.path.join(work, "c.toml")
    with open(cfg, "w") as f:
        f.write(f'[node]\nname = "fp"\nstate_dir = "{work}/state"\n'
                f'[admin]\nsocket_path = "{work}/admin.sock"\n[network]\ngossip_port = 27946\n')
    notify = os.path.join(work, "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(notify)
    s.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET=notify)
    ready_ms, p = [], None
    for i in range(args.runs):
        shutil.rmtree(os.path.join(work, "state"), ignore_errors=True)
        t = time.monotonic()
        p = subprocess.Popen([args.slimcached, "-c", cfg], env=env, stderr=subprocess.DEVNULL)
        while "READY=1" not in s.recv(4096).decode():
            pass
        ready_ms.append((time.monotonic() - t) * 1000)
        if i + 1 < args.runs:
            p.terminate()
            p.wait()
    def cpu_s(pid):
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    c0, t0 = cpu_s(p.pid), time.monotonic()
    time.sleep(args.idle_seconds)
    c1, t1 = cpu_s(p.pid), time.monotonic()
    rss_kb = int([l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1])
    p.terminate()
    p.wait()
    print(f"start to READY=1 (empty state dir): median {sorted(ready_ms)[len(ready_ms)//2]:.1f} ms, "
          f"max {max(ready_ms):.1f} ms over {args.runs} runs")
    print(f"idle over {t1 - t0:.0f} s: {100 * (c1 - c0) / (t1 - t0):.3f} % of one core, resident {rss_kb / 1024:.1f} MiB")
finally:
    shutil.rmtree(work, ignore_errors=True)
