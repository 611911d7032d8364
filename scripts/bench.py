#!/usr/bin/env python3
"""Measures the figures of docs/benchmarks.md on this machine:
time from `leitstand up` to ready, release binary size, idle RSS, and the
sign-in page's p95 latency under wrk on SQLite and on PostgreSQL.

Usage: python3 scripts/bench.py  (builds the release binary first; needs wrk
and a PostgreSQL at LEITSTAND_TEST_PG or postgres://postgres@127.0.0.1:5432/test)
       python3 scripts/bench.py hostlist  (host list latency with 1 000 hosts)
"""
import os, platform, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "leitstand")
PG = os.environ.get("LEITSTAND_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")
LUA = """
done = function(summary, latency, requests)
  io.write(string.format("p50_us %d\\np95_us %d\\np99_us %d\\nrequests %d\\nerrors %d\\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99), summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
"""


# The load generator's agents send as fast as the server acknowledges: the
# per-agent rate limit (5 batches/s by default) is lifted for the benchmark.
SERVER_ENV = {**os.environ, "LEITSTAND_LOG": "warn", "LEITSTAND_AGENT_BATCHES_PER_SECOND": "100000"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_ready(port, proc, limit=30.0):
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if proc.poll() is not None:
            raise SystemExit("server exited: " + proc.stderr.read().decode())
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.002)
    raise SystemExit("not ready")


def start(args, port):
    t0 = time.perf_counter()
    p = subprocess.Popen([BIN] + args + ["--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=SERVER_ENV)
    wait_ready(port, p)
    return p, time.perf_counter() - t0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wrk(port, path="/login", seconds=10, conns=16, headers=()):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
    extra = [a for h in headers for a in ("-H", h)]
    out = subprocess.run(["wrk", f"-t{min(2, conns)}", f"-c{conns}", f"-d{seconds}s", "-s", f.name] + extra +
                         [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)
    vals = dict(l.split() for l in out.splitlines() if l.split() and l.split()[0] in
                ("p50_us", "p95_us", "p99_us", "requests", "errors"))
    rps = next((l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec:")), "?")
    return {k: int(v) for k, v in vals.items()} | {"rps": rps}


def report(what, r):
    print(f"{what}, wrk -t2 -c16 -d10s: p50 {r['p50_us']/1000:.2f} ms, p95 {r['p95_us']/1000:.2f} ms, "
          f"p99 {r['p99_us']/1000:.2f} ms, {r['rps']} req/s, errors {r['errors']}")


def stop(p):
    p.terminate()
    p.wait(timeout=10)


LOADGEN = os.path.join(ROOT, "target", "release", "leitstand-loadgen")


def cli(args):
    return subprocess.run([BIN] + args, capture_output=True, text=True, check=True,
                          env={**os.environ, "LEITSTAND_LOG": "warn"}).stdout.strip()


def ingest(port, db_args, agents=4, batches=100, records=10, samples=100):
    """Samples per second committed, from leitstand-loadgen speaking the signed protocol."""
    cli(["admin", "tenant", "create", "Load GmbH"] + db_args)
    tokens = [cli(["admin", "enroll-token", "--tenant", "Load GmbH"] + db_args) for _ in range(agents)]
    with tempfile.NamedTemporaryFile("w", delete=False) as f:
        f.write("\n".join(tokens))
    out = subprocess.run([LOADGEN, "--server", f"http://127.0.0.1:{port}", "--tokens", f.name,
                          "--batches", str(batches), "--records", str(records), "--samples", str(samples)],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)
    fields = out.split()
    return dict(zip(fields[::2], fields[1::2]))


def signed_in(port, link):
    """Sets the admin's password through the one-time link; the session cookie."""
    import http.cookiejar, re, urllib.parse
    jar = http.cookiejar.CookieJar()
    web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = web.open(link).read().decode()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    pw = "correct horse battery staple"
    form = urllib.parse.urlencode({"password": pw, "repeat": pw, "_csrf": csrf}).encode()
    web.open(link, form).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def hostlist(hosts=1000):
    """Host list latency with `hosts` hosts that have delivered, on SQLite."""
    data, port = tempfile.mkdtemp(), free_port()
    p = subprocess.Popen([BIN, "up", "--data", data, "--listen", f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=SERVER_ENV, text=True)
    try:
        link = next(l.strip() for l in p.stdout if "/invite/" in l)
        wait_ready(port, p)
        cookie = signed_in(port, link)
        db = ["--data", data]
        cli(["admin", "tenant", "create", "Load GmbH"] + db)
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write(cli(["admin", "enroll-token", "--tenant", "Load GmbH", "--count", str(hosts)] + db))
        subprocess.run([LOADGEN, "--server", f"http://127.0.0.1:{port}", "--tokens", f.name, "--batches", "1",
                        "--records", "1", "--samples", "20"], capture_output=True, text=True, check=True)
        os.unlink(f.name)
        for path in ["/app/hosts", "/app/hosts?sort=cpu&status=up&page=3", "/app/hosts?q=load-99",
                     "/api/v1/hosts?per_page=50"]:
            report(f"{path} with {hosts} hosts, SQLite", wrk(port, path, headers=[f"Cookie: {cookie}"]))
        r = wrk(port, "/app/hosts", conns=1, headers=[f"Cookie: {cookie}"])
        print(f"/app/hosts with {hosts} hosts, one client (wrk -c1): p50 {r['p50_us']/1000:.2f} ms, "
              f"p95 {r['p95_us']/1000:.2f} ms, {r['rps']} req/s")
        print(f"RSS after the host list load: {rss_kib(p.pid) / 1024:.1f} MiB")
    finally:
        stop(p)
        shutil.rmtree(data, ignore_errors=True)


def ingest_only(runs=3):
    """Only the ingest figures, SQLite and PostgreSQL, `runs` times each."""
    for i in range(runs):
        data = tempfile.mkdtemp()
        try:
            port = free_port()
            p, _ = start(["up", "--data", data], port)
            r = ingest(port, ["--data", data])
            print(f"ingest, SQLite, run {i + 1}: {r['samples_per_second']} samples/s committed "
                  f"({r['samples']} samples from {r['agents']} agents in {r['seconds']} s)", flush=True)
            stop(p)
        finally:
            shutil.rmtree(data, ignore_errors=True)
    base, _, _ = PG.rpartition("/")
    for i in range(runs):
        name = f"leitstand_bench_{os.getpid()}_{i}"
        subprocess.run(["psql", PG, "-qc", f"CREATE DATABASE {name}"], check=True)
        data = tempfile.mkdtemp()
        try:
            port = free_port()
            p, _ = start(["serve", "--database", f"{base}/{name}", "--data", data], port)
            r = ingest(port, ["--database", f"{base}/{name}"])
            print(f"ingest, PostgreSQL, run {i + 1}: {r['samples_per_second']} samples/s committed "
                  f"({r['samples']} samples from {r['agents']} agents in {r['seconds']} s)", flush=True)
            stop(p)
        finally:
            shutil.rmtree(data, ignore_errors=True)
            subprocess.run(["psql", PG, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


def main():
    if sys.argv[1:] == ["ingest"]:
        subprocess.run(["cargo", "build", "--release", "--bin", "leitstand", "--bin", "leitstand-loadgen"], cwd=ROOT,
                       check=True)
        return ingest_only()
    if sys.argv[1:] == ["hostlist"]:
        subprocess.run(["cargo", "build", "--release", "--bin", "leitstand", "--bin", "leitstand-loadgen"], cwd=ROOT,
                       check=True)
        return hostlist()
    subprocess.run(["cargo", "build", "--release", "--bin", "leitstand", "--bin", "leitstand-agent",
                    "--bin", "leitstand-loadgen"], cwd=ROOT, check=True)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
          f"kernel {platform.release()}")
    print(f"binary size: {os.path.getsize(BIN) / 2**20:.1f} MiB ({BIN})")
    data = tempfile.mkdtemp()
    try:
        first, rest = None, []
        for i in range(6):
            port = free_port()
            p, took = start(["up", "--data", data], port)
            if i == 0:
                first = took
            else:
                rest.append(took)
            if i == 5:
                time.sleep(3)
                print(f"idle RSS after start (SQLite): {rss_kib(p.pid) / 1024:.1f} MiB")
                r = wrk(port)
                print(f"sign-in page, SQLite, wrk -t2 -c16 -d10s: p50 {r['p50_us']/1000:.2f} ms, "
                      f"p95 {r['p95_us']/1000:.2f} ms, p99 {r['p99_us']/1000:.2f} ms, {r['rps']} req/s, errors {r['errors']}")
                print(f"RSS after load (SQLite): {rss_kib(p.pid) / 1024:.1f} MiB")
                report("/readyz (one database round trip), SQLite", wrk(port, "/readyz"))
                r = ingest(port, ["--data", data])
                print(f"ingest, SQLite: {r['samples_per_second']} samples/s committed "
                      f"({r['samples']} samples from {r['agents']} agents in {r['seconds']} s)")
            stop(p)
        print(f"up → ready, first start (creates the database): {first*1000:.0f} ms")
        print(f"up → ready, later starts: median {statistics.median(rest)*1000:.0f} ms, max {max(rest)*1000:.0f} ms")
    finally:
        shutil.rmtree(data, ignore_errors=True)

    base, _, _ = PG.rpartition("/")
    name = f"leitstand_bench_{os.getpid()}"
    subprocess.run(["psql", PG, "-qc", f"CREATE DATABASE {name}"], check=True)
    try:
        port = free_port()
        p, took = start(["serve", "--database", f"{base}/{name}", "--data", tempfile.mkdtemp()], port)
        print(f"serve → ready on PostgreSQL (fresh database): {took*1000:.0f} ms")
        time.sleep(3)
        print(f"idle RSS after start (PostgreSQL): {rss_kib(p.pid) / 1024:.1f} MiB")
        r = wrk(port)
        print(f"sign-in page, PostgreSQL, wrk -t2 -c16 -d10s: p50 {r['p50_us']/1000:.2f} ms, "
              f"p95 {r['p95_us']/1000:.2f} ms, p99 {r['p99_us']/1000:.2f} ms, {r['rps']} req/s, errors {r['errors']}")
        report("/readyz (one database round trip), PostgreSQL", wrk(port, "/readyz"))
        r = ingest(port, ["--database", f"{base}/{name}"])
        print(f"ingest, PostgreSQL: {r['samples_per_second']} samples/s committed "
              f"({r['samples']} samples from {r['agents']} agents in {r['seconds']} s)")
        stop(p)
    finally:
        subprocess.run(["psql", PG, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


if __name__ == "__main__":
    sys.exit(main())
