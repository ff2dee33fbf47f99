"""Serving benchmark: `synthgp serve` under K concurrent clients sending a mix of requests.

Generates N patients (DuckDB only; or reuses --out), starts the real server on a free localhost port, waits
for its search index, and for each client count K lets K clients (threads, each with its own connection)
send R requests in all, as fast as answers come, a random patient each: the patient page, a FHIR Patient
read, an Observation search by patient and code (blood pressures), an Observation search by code across
everyone (`_count=20`), and `Patient/{id}/$everything`, in turn. Prints, for each kind and overall,
requests per second, median and 95th-percentile latency, errors (any status but 200), and the server
process's CPU time per request (user + system, all its threads, from /proc): on a shared machine latency
includes the queueing other processes cause, CPU time hardly does. The load average (`uptime`) is printed
before and after each run. With --auth the server requires SMART tokens and every request carries a
`user/*.read` bearer token got through the real code flow.

With one client the kinds are sent one kind after another, so each kind's CPU time is its own.

    python benchmarks/serve.py                          # 100,000 patients, 16 clients, 1,600 requests
    python benchmarks/serve.py --out /tmp/practice100k --clients 16 1   # issue 21's run: generated once, kept
    python benchmarks/serve.py --patients 20000 --clients 16 --requests 800 --auth
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import httpx

from _runner import run_child

GENERATE = textwrap.dedent("""
    import json, sys, pathlib
    from synthgp.simulate import run as engine
    from synthgp.core import scenario
    m = engine.generate(scenario.load(), engine.RunOptions(n_patients=int(sys.argv[1]), seed=1,
                        out=pathlib.Path(sys.argv[2]), formats=("duckdb",), progress=False))
    print(json.dumps({"seconds": m["seconds"]}))
""")
BP = "75367002"  # the BP panel code the API matches (docs/serve.md): a benchmark input, not read by synthgp
KINDS = {
    "patient page /patient/{id}": lambda p: f"/patient/{p}",
    "FHIR Patient/{id}": lambda p: f"/fhir/Patient/{p}",
    "FHIR Observation?patient&code": lambda p: f"/fhir/Observation?patient={p}&code={BP}",
    "FHIR Observation?code&_count=20": lambda p: f"/fhir/Observation?code={BP}&_count=20&_offset={p % 1000}",
    "FHIR Patient/{id}/$everything": lambda p: f"/fhir/Patient/{p}/$everything",
}


def _start(out: Path, *args: str) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "synthgp", "serve", str(out), "--port", str(port), *args],
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(3000):  # up, and its search index built (GET /status)
        try:
            r = httpx.get(base + "/status", timeout=1)  # (a server from before the index has no /status)
            if r.status_code == 404 or r.json().get("search_index") == "ready":
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    sys.exit("the server did not start")


def _token(base: str) -> str:
    """A user/*.read token for the benchmark's registered app, through authorize and token (PKCE)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1:9/cb"
    r = httpx.get(base + "/auth/authorize", params={
        "response_type": "code", "client_id": "bench", "redirect_uri": redirect, "scope": "user/*.read",
        "aud": base + "/fhir", "code_challenge": challenge, "code_challenge_method": "S256"})
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    return httpx.post(base + "/auth/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                                                  "client_id": "bench", "code_verifier": verifier}).json()["access_token"]


def _load(base: str, work: list[tuple[str, str]], clients: int, headers: dict) -> tuple[float, list[tuple[str, float, int]]]:
    """Send `work` ((kind, path) pairs) from `clients` threads, each taking the next; (wall seconds, results)."""
    results: list[tuple[str, float, int]] = []
    lock, it = threading.Lock(), iter(work)

    def client() -> None:
        with httpx.Client(base_url=base, timeout=120, headers=headers) as c:
            while True:
                with lock:
                    item = next(it, None)
                if item is None:
                    return
                t = time.perf_counter()
                try:
                    status = c.get(item[1]).status_code
                except httpx.HTTPError:
                    status = 0
                with lock:
                    results.append((item[0], time.perf_counter() - t, status))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, results


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) the process `pid` and its threads have used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss(pid: int) -> int:
    """Resident bytes of the process `pid`."""
    return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]) * 1024


def _uptime() -> str:
    return "load average " + ", ".join(Path("/proc/loadavg").read_text().split()[:3])


def _row(name: str, lat: list[float], errors: int, wall: float, cpu: float | None = None) -> str:
    lat = sorted(lat)
    return (f"{name:>34} {len(lat):>6} {len(lat) / wall:>7.1f} {statistics.median(lat) * 1000:>7.0f} "
            f"{lat[int(0.95 * (len(lat) - 1))] * 1000:>7.0f} {errors:>6}"
            + (f" {cpu * 1000 / len(lat):>8.1f}" if cpu is not None else ""))


def _run(base: str, work: list[tuple[str, str]], clients: int, headers: dict, pid: int) -> None:
    """One measured run of `work` from `clients` clients, printed."""
    print(f"\n{clients} concurrent client{'s' * (clients > 1)}, {len(work):,} requests ({_uptime()} before)")
    print(f"{'request':>34} {'n':>6} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6} {'CPU ms/req':>8}")
    _load(base, work[: 2 * clients], clients, headers)  # warm up
    if clients == 1:  # the kinds in turn, each one's server CPU time its own
        res, walls, cpu = [], {}, {}
        for name in KINDS:
            c0 = _cpu(pid)
            walls[name], r = _load(base, [x for x in work if x[0] == name], 1, headers)
            cpu[name], res = _cpu(pid) - c0, res + r
        wall = sum(walls.values())
    else:
        c0 = _cpu(pid)
        wall, res = _load(base, work, clients, headers)
        cpu, walls = {"all": _cpu(pid) - c0}, {}
    for name in KINDS:
        mine = [r for r in res if r[0] == name]
        print(_row(name, [r[1] for r in mine], sum(r[2] != 200 for r in mine), walls.get(name, wall), cpu.get(name)))
    print(_row("all", [r[1] for r in res], sum(r[2] != 200 for r in res), wall, sum(cpu.values())))
    print(f"({_uptime()} after)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=1_600, help="requests in all, the kinds in turn")
    ap.add_argument("--clients", type=int, nargs="+", default=[16], help="concurrent clients; several: a run for each")
    ap.add_argument("--auth", action="store_true", help="require SMART tokens; every request carries one")
    ap.add_argument("--out", type=Path, help="reuse (or keep) the generated practice here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = a.out or Path(tmp) / "out"
        gen = run_child(GENERATE, a.patients, out)["seconds"] if not (out / "synthgp.duckdb").exists() else None
        con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
        patids = [r[0] for r in con.execute("SELECT patid FROM patient").fetchall()]
        con.close()
        args: list[str] = []
        if a.auth:
            apps = Path(tmp) / "apps.toml"
            apps.write_text('[[app]]\nclient_id = "bench"\nredirect_uris = ["http://127.0.0.1:9/cb"]\n')
            args = ["--apps", str(apps), "--require-auth"]
        proc, base = _start(out, *args)
        try:
            status = httpx.get(base + "/status")
            built = status.json().get("built_seconds", {}) if status.status_code == 200 else {}
            headers = {"Authorization": f"Bearer {_token(base)}"} if a.auth else {}
            rng = random.Random(1)
            kinds = list(KINDS.items())
            work = [(kinds[i % len(kinds)][0], kinds[i % len(kinds)][1](rng.choice(patids))) for i in range(a.requests)]
            print(f"{len(patids):,} patients{f' (generated in {gen:.0f} s)' if gen else ''}; requests from concurrent "
                  f"clients, a random patient each{', with a bearer token' if a.auth else ''}")
            if built:
                print(f"search index built in {sum(built.values()):.0f} s after the server started "
                      f"({', '.join(f'{k} {v:.0f} s' for k, v in built.items())}); server memory then "
                      f"{_rss(proc.pid) / 2**30:.1f} GB")
            for clients in a.clients:
                _run(base, work, clients, headers, proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
