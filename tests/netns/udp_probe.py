#!/usr/bin/env python3
"""Measures what an impaired link does to UDP datagrams (netns_faults.sh, scenario impaired).

  udp_probe.py server ADDR PORT SECONDS        echo every datagram back, for SECONDS
  udp_probe.py client ADDR PORT COUNT INTERVAL_S SIZE [BURST]
      sends COUNT numbered datagrams of SIZE bytes, BURST (default 1) back to back every
      INTERVAL_S seconds (a burst shows reordering shorter than the interval), waits up to
      5 s for the last echoes, and prints one line:
      probes N replies R rtt_ms min A median B p90 C max D reordered K
      (reordered: echoes that arrived after an echo of a later probe).
  udp_probe.py filler ADDR PORT SECONDS SIZE INTERVAL_S
      sends a datagram of SIZE bytes every INTERVAL_S seconds for SECONDS (paced load that
      keeps a rate-limited class's token bucket in debt, so packets behind it wait)
  udp_probe.py sink ADDR PORT SECONDS          receive and discard, for SECONDS
Every loop is bounded by a deadline.
"""
import socket
import struct
import sys
import time


def server(addr, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(0.5)
    end = time.time() + seconds
    while time.time() < end:
        try:
            data, peer = s.recvfrom(4096)
        except socket.timeout:
            continue
        s.sendto(data, peer)


def client(addr, port, count, interval, size, burst):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    rtts, order = [], []
    t0 = time.time()
    next_send, sent = t0, 0
    deadline = t0 + count * interval / burst + 5.0
    while time.time() < deadline and (sent < count or len(order) < sent):
        now = time.time()
        if sent < count and now >= next_send:
            for _ in range(min(burst, count - sent)):
                s.sendto(struct.pack("!Id", sent, time.time()) + b"x" * max(0, size - 12), (addr, port))
                sent += 1
            next_send += interval
        try:
            data, _ = s.recvfrom(4096)
        except BlockingIOError:
            time.sleep(0.001)
            continue
        seq, stamp = struct.unpack("!Id", data[:12])
        rtts.append((time.time() - stamp) * 1000.0)
        order.append(seq)
    highest, reordered = -1, 0
    for seq in order:
        if seq < highest:
            reordered += 1
        highest = max(highest, seq)
    r = sorted(rtts)

    def q(p):
        return r[min(len(r) - 1, int(p * len(r)))] if r else float("nan")

    print("probes %d replies %d rtt_ms min %.1f median %.1f p90 %.1f max %.1f reordered %d"
          % (count, len(order), q(0.0), q(0.5), q(0.9), q(1.0), reordered))


def filler(addr, port, seconds, size, interval):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.time()
    n = 0
    while time.time() < t0 + seconds:
        s.sendto(b"f" * size, (addr, port))
        n += 1
        time.sleep(max(0.0, t0 + n * interval - time.time()))


def sink(addr, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(0.5)
    end = time.time() + seconds
    while time.time() < end:
        try:
            s.recvfrom(4096)
        except socket.timeout:
            pass


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif sys.argv[1] == "filler":
        filler(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    elif sys.argv[1] == "sink":
        sink(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]),
               int(sys.argv[7]) if len(sys.argv) > 7 else 1)
