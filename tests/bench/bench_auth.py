"""How much /auth/verify costs next to a bare route of the same server.

Not collected by pytest (the name does not start with ``test_``). Run:

    .venv/bin/python -m tests.bench.bench_auth [--seconds 5] [--workers 2]
        [--threads 4] [--fresh]

It builds the example config in a temporary git repository, starts
``symphainy-gitops serve`` under uvicorn on a free loopback port, and loads
three routes with a bounded generator (worker processes x threads, each with
its own keep-alive connection; ``--fresh`` opens a connection per request, as
Traefik mostly does): ``/healthz`` (bare), ``/auth/verify`` with one valid
token (a cache hit after the first call) and a config lookup.

The routes take turns in short rounds, and each ratio is the median over the
rounds of route / bare in the same round: a neighbour's load on this shared
machine then hits both sides of a ratio instead of one route's whole run.
Target: /auth/verify and lookups at 80 % or more of the bare route's req/s.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.app_support import REPO, SECRET, ConfigRepo, free_port, wait_until


def _worker(
    port: int,
    path: str,
    headers: dict[str, str],
    seconds: float,
    threads: int,
    fresh: bool,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def run() -> None:
        mine: list[float] = []
        bad = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            answer.read()
            mine.append(time.perf_counter() - started)
            bad += answer.status != 200
            if fresh:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put((latencies, errors[0]))


def measure(
    port: int, path: str, headers: dict[str, str], options: argparse.Namespace
) -> tuple[float, float, float, int]:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    args = (port, path, headers, options.seconds, options.threads, options.fresh, queue)
    workers = [
        multiprocessing.Process(target=_worker, args=args)
        for _ in range(options.workers)
    ]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    errors = 0
    for _ in workers:
        got, bad = queue.get()
        latencies.extend(got)
        errors += bad
    for worker in workers:
        worker.join()

    latencies.sort()
    rate = len(latencies) / options.seconds
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return rate, p50, p99, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--fresh", action="store_true")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        repo = ConfigRepo(Path(folder) / "config")
        port = free_port()
        env = {**os.environ, "SUPABASE_JWT_SECRET": SECRET}
        server = subprocess.Popen(
            [
                str(REPO / ".venv" / "bin" / "symphainy-gitops"),
                "--repo",
                str(repo.root),
                "serve",
                "--port",
                str(port),
                "--poll",
                "5",
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: _ready(port))
            token = repo.token("acme", ttl=3600)
            auth = {"Authorization": f"Bearer {token}"}
            cases = [
                ("bare /healthz", "/healthz", {}),
                (
                    "/auth/verify",
                    "/auth/verify",
                    {
                        **auth,
                        "X-Forwarded-Host": "acme.localhost",
                        "X-Forwarded-Uri": "/claims/123",
                        "X-Forwarded-Method": "GET",
                    },
                ),
                ("config lookup", "/v1/tenants/acme/config/tenant", auth),
            ]
            print(
                f"{options.workers} processes x {options.threads} threads, "
                f"{options.rounds} rounds of {options.seconds:g} s per route, "
                f"{'new connection per request' if options.fresh else 'keep-alive'}"
            )
            results: dict[str, list[tuple[float, float, float]]] = {}
            ratios: dict[str, list[float]] = {}
            for _ in range(options.rounds):
                bare = 0.0
                for name, path, headers in cases:
                    rate, p50, p99, errors = measure(port, path, headers, options)
                    if errors:
                        raise SystemExit(f"{name}: {errors} answers were not 200")
                    bare = bare or rate
                    results.setdefault(name, []).append((rate, p50, p99))
                    ratios.setdefault(name, []).append(rate / bare)

            print(
                f"{'route':<16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
                f"{'ratio':>6} {'ratio range':>12}"
            )
            for name, rows in results.items():
                rate = statistics.median(row[0] for row in rows)
                p50 = statistics.median(row[1] for row in rows)
                p99 = statistics.median(row[2] for row in rows)
                ratio = statistics.median(ratios[name])
                low, high = min(ratios[name]), max(ratios[name])
                print(
                    f"{name:<16} {rate:>8.0f} {p50:>8.2f} {p99:>8.2f} "
                    f"{ratio:>6.2f} {low:>5.2f}-{high:<5.2f}"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)


def _ready(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
