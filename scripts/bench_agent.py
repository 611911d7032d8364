#!/usr/bin/env python3
"""Agent footprint beside prometheus-node-exporter (issue 4, docs/benchmarks.md).

Runs, at the same time on this machine and for the same span (default 600 s):
  - leitstand-agent (release), enrolled into a local `leitstand up`, collecting
    and delivering every 10 s;
  - prometheus-node-exporter (Debian package, default collectors), scraped
    every 10 s over HTTP by this script, as Prometheus would.
Every 10 s it reads each process's RSS (VmRSS); at the end the CPU time each
used (utime + stime from /proc/PID/stat) as a share of one core.

Usage: python3 scripts/bench_agent.py [--seconds 600]
(installs prometheus-node-exporter with apt-get when missing and run as root)
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, threading, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import BIN, ROOT, free_port, rss_kib, start, stop  # noqa: E402

AGENT = os.path.join(ROOT, "target", "release", "leitstand-agent")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def node_exporter():
    exe = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
    if not os.path.exists(exe):
        if os.geteuid() != 0:
            raise SystemExit("install prometheus-node-exporter (apt-get install prometheus-node-exporter)")
        subprocess.run(["apt-get", "install", "-y", "-q", "prometheus-node-exporter"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)
    return exe


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--bin", "leitstand", "--bin", "leitstand-agent"], cwd=ROOT,
                   check=True)
    exporter = node_exporter()
    v = subprocess.run([exporter, "--version"], capture_output=True, text=True)
    version = (v.stdout + v.stderr).splitlines()[0]
    data, state = tempfile.mkdtemp(), tempfile.mkdtemp()
    port = free_port()
    server, _ = start(["up", "--data", data], port)
    agent = exp = None
    try:
        env = {**os.environ, "LEITSTAND_LOG": "warn"}
        run = lambda args: subprocess.run([BIN] + args + ["--data", data], capture_output=True, text=True,
                                          check=True, env=env).stdout.strip()
        run(["admin", "tenant", "create", "Bench GmbH"])
        token = run(["admin", "enroll-token", "--tenant", "Bench GmbH"])
        conf = os.path.join(state, "agent.toml")
        with open(conf, "w") as f:
            f.write(f'interval_secs = 10\nstate_dir = "{state}"\nmetrics_dir = "{state}/metrics.d"\n')
        subprocess.run([AGENT, "--config", conf, "enroll", "--server", f"http://127.0.0.1:{port}", "--token", token],
                       check=True, capture_output=True, env=env)
        agent = subprocess.Popen([AGENT, "--config", conf, "run"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=env)
        eport = free_port()
        exp = subprocess.Popen([exporter, f"--web.listen-address=127.0.0.1:{eport}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        time.sleep(2)
        stop_scraping = threading.Event()
        scraped = []

        def scrape():
            while not stop_scraping.is_set():
                with urllib.request.urlopen(f"http://127.0.0.1:{eport}/metrics", timeout=5) as r:
                    scraped.append(len(r.read()))
                stop_scraping.wait(10)

        t = threading.Thread(target=scrape, daemon=True)
        t.start()
        c0 = {"agent": cpu_seconds(agent.pid), "exporter": cpu_seconds(exp.pid)}
        t0 = time.monotonic()
        rss = {"agent": [], "exporter": []}
        while time.monotonic() - t0 < a.seconds:
            rss["agent"].append(rss_kib(agent.pid))
            rss["exporter"].append(rss_kib(exp.pid))
            time.sleep(10)
        span = time.monotonic() - t0
        c1 = {"agent": cpu_seconds(agent.pid), "exporter": cpu_seconds(exp.pid)}
        stop_scraping.set()
        delivered = subprocess.run(
            ["sqlite3", os.path.join(data, "leitstand.db"), "SELECT COUNT(*) FROM metric_samples"],
            capture_output=True, text=True).stdout.strip() if shutil.which("sqlite3") else "?"
        print(f"span {span:.0f} s, interval 10 s; node exporter: {version}; {len(scraped)} scrapes, "
              f"{statistics.mean(scraped) / 1024:.0f} KiB each; agent samples stored: {delivered}")
        for who in ("agent", "exporter"):
            cpu = c1[who] - c0[who]
            print(f"{who}: RSS mean {statistics.mean(rss[who]) / 1024:.1f} MiB, max {max(rss[who]) / 1024:.1f} MiB; "
                  f"CPU {cpu:.2f} s = {100 * cpu / span:.3f} % of one core")
    finally:
        for p in (agent, exp):
            if p:
                p.terminate()
                p.wait(timeout=10)
        stop(server)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
