#!/usr/bin/env python3
"""Inventory snapshot cost (issue 5): one full inventory by leitstand-agent on
this machine (time, CPU, size on the wire, size of a one-package delta),
beside the classic tools that show the same facts: dpkg-query (software),
ss (listening ports with processes), ps (processes), getent (users, groups).

Usage: python3 scripts/bench_inventory.py [rounds]   (default 10; run as root
so that ss and the agent see every process's sockets)."""

import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, "target", "release", "leitstand-agent")

PEERS = [
    ("dpkg-query (software)", ["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Architecture}\t${source:Package}\n"]),
    ("ss -tulpn (ports)", ["ss", "-tulpnH"]),
    ("ps (processes)", ["ps", "-eo", "pid,ppid,user,lstart,args"]),
    ("getent passwd", ["getent", "passwd"]),
    ("getent group", ["getent", "group"]),
]


def run_peer(cmd):
    """Wall ms, CPU ms (user + system of the child), bytes of output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    wall = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    return wall, cpu, len(out)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    subprocess.run(["cargo", "build", "--release", "--bin", "leitstand-agent"], cwd=ROOT, check=True)
    out = subprocess.run([AGENT, "--config", "/nonexistent", "inventory", "--measure", str(rounds)],
                         capture_output=True, text=True, check=True).stdout
    m = json.loads(out)
    print(f"leitstand-agent full inventory ({m['items']} items, {m['packages']} packages), median of {rounds}:")
    print(f"  cold (fresh process state, apt lists read for origins): {m['wall_ms_median']:.1f} ms wall, "
          f"{m['cpu_ms_median']:.1f} ms CPU")
    print(f"  warm (running agent, origins cached): {m['warm_wall_ms_median']:.1f} ms wall, "
          f"{m['warm_cpu_ms_median']:.1f} ms CPU")
    print(f"  on the wire: {m['full_bytes']} bytes in {m['records']} record(s); one-package delta: {m['delta_bytes']} bytes")
    total = [0.0, 0.0, 0]
    for name, cmd in PEERS:
        runs = [run_peer(cmd) for _ in range(rounds)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        size = runs[-1][2]
        total[0] += wall
        total[1] += cpu
        total[2] += size
        print(f"  peer {name}: {wall:.1f} ms wall, {cpu:.1f} ms CPU, {size} bytes of text")
    print(f"  peers together: {total[0]:.1f} ms wall, {total[1]:.1f} ms CPU, {total[2]} bytes of text")


if __name__ == "__main__":
    sys.exit(main())
