"""Validate N synthetic tenants, and parse the same files, in one run; print both.

Each measurement runs in a fresh interpreter so that its peak memory is its
own. Times are the median of --repeat runs; the ratio is what the targets
are stated in, because absolute times on a shared machine are noise.

    python tests/bench/bench_validate.py 1000 10000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

PARSE_ONLY = """
import json, resource, sys, time
from pathlib import Path
import yaml
root = Path(sys.argv[1])
files = sorted([*root.glob("base/**/*.yaml"), *root.glob("tenants/**/*.yaml")])
started = time.perf_counter()
for path in files:
    yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "peak": peak, "files": len(files)}))
"""

VALIDATE = """
import json, resource, sys, time
from pathlib import Path
from symphainy_gitops.pipeline import Pipeline
from symphainy_gitops.source import WorktreeSource
root = Path(sys.argv[1])
started = time.perf_counter()
result = Pipeline(WorktreeSource(root)).run()
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "peak": peak, "errors": result.errors}))
"""


def measure(script: str, root: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", script, str(root)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)  # type: ignore[no-any-return]


def median_run(script: str, root: Path, repeat: int) -> dict[str, float]:
    runs = [measure(script, root) for _ in range(repeat)]
    best = dict(runs[0])
    best["seconds"] = statistics.median(run["seconds"] for run in runs)
    best["peak"] = max(run["peak"] for run in runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", type=int, nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()

    print(
        f"{'tenants':>8} {'files':>7} {'parse s':>8} {'validate s':>10} "
        f"{'ratio':>6} {'parse MiB':>9} {'validate MiB':>12}"
    )
    for count in options.counts:
        with tempfile.TemporaryDirectory(prefix="symphainy-bench-") as folder:
            root = generate(count, Path(folder) / "repo")
            repeat = options.repeat if count <= 2000 else 1
            parse = median_run(PARSE_ONLY, root, repeat)
            check = median_run(VALIDATE, root, repeat)
        assert check["errors"] == 0, "the synthetic tenants must validate"
        ratio = check["seconds"] / parse["seconds"]
        print(
            f"{count:>8} {parse['files']:>7} {parse['seconds']:>8.2f} "
            f"{check['seconds']:>10.2f} {ratio:>6.2f} "
            f"{parse['peak'] / 2**20:>9.0f} {check['peak'] / 2**20:>12.0f}"
        )


if __name__ == "__main__":
    main()
