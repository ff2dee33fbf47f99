"""Serving benchmark: requests per second and latency of `synthgp serve` over a generated practice.

Generates N patients (DuckDB only), starts the real server on a free localhost port, and sends a
bounded load (a fixed number of requests from K concurrent clients) to each endpoint, each request
for a different random patient: the patient page and a FHIR Observation search (the patient's blood
pressures). Prints requests per second, median and 95th-percentile latency, and errors.

    python benchmarks/serve.py                     # 100,000 patients, 400 requests each, 4 clients
    python benchmarks/serve.py --patients 20000 --requests 200 --clients 2
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


def _load(base: str, paths: list[str], clients: int) -> dict:
    def one(path: str, client: httpx.Client) -> tuple[float, int]:
        t = time.perf_counter()
        r = client.get(base + path)
        return time.perf_counter() - t, r.status_code

    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=clients)) as client:
        for p in paths[:clients]:  # warm up
            client.get(base + p)
        t = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            res = list(pool.map(lambda p: one(p, client), paths))
        wall = time.perf_counter() - t
    lat = sorted(x for x, _ in res)
    return {"rps": len(res) / wall, "p50": statistics.median(lat) * 1000,
            "p95": lat[int(0.95 * (len(lat) - 1))] * 1000, "errors": sum(s != 200 for _, s in res)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--clients", type=int, default=4)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        g = run_child(GENERATE, a.patients, out)
        con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
        patids = [r[0] for r in con.execute("SELECT patid FROM patient").fetchall()]
        con.close()
        rng = random.Random(1)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "synthgp", "serve", str(out), "--port", str(port)],
                                stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(base + "/fhir/metadata", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            print(f"{a.patients:,} patients (generated in {g['seconds']:.0f} s); {a.requests} requests per endpoint "
                  f"from {a.clients} concurrent clients, a random patient each\n")
            print(f"{'endpoint':>34} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6}")
            for name, make in (("patient page /patient/{id}", lambda p: f"/patient/{p}"),
                               ("FHIR Observation?patient&code", lambda p: f"/fhir/Observation?patient={p}&code=75367002"),
                               ("FHIR Patient/{id}", lambda p: f"/fhir/Patient/{p}")):
                m = _load(base, [make(rng.choice(patids)) for _ in range(a.requests)], a.clients)
                print(f"{name:>34} {m['rps']:>7.1f} {m['p50']:>7.0f} {m['p95']:>7.0f} {m['errors']:>6}")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
