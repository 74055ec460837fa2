"""At N tenants in a git repository, time a full validate, an incremental
validate after a one-tenant change, and the diff of that change; print each
and its ratio to the full validate (the target is at most 5 % each).

Each command runs as the CLI does, in a fresh interpreter, timed inside it
(interpreter start-up is the same for all of them and is left out). The
incremental run is timed cold (no identity cache in .git yet) and warm,
which is what a developer's second run and a cached CI job see; warm, both
against the revision (``--ref HEAD``, as CI and the hook compare) and
against the working tree, which adds libgit2's status scan of every file.

    python tests/bench/bench_changes.py 10000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pygit2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

TIMED = """
import json, sys, time
from click.testing import CliRunner
from symphainy_gitops.cli import cli
started = time.perf_counter()
result = CliRunner().invoke(cli, ["--repo", sys.argv[1], *sys.argv[2:]])
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "exit": result.exit_code,
                  "tail": result.output.splitlines()[-1:]}))
"""


def timed(root: Path, *args: str) -> dict[str, object]:
    output = subprocess.run(
        [sys.executable, "-c", TIMED, str(root), *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)  # type: ignore[no-any-return]


def commit_all(root: Path, message: str) -> None:
    repo = pygit2.Repository(str(root))
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    who = pygit2.Signature("Bench", "bench@example.test", 1_700_000_000, 0)
    parents = [] if repo.head_is_unborn else [repo.head.target]
    repo.create_commit("HEAD", who, who, message, tree, parents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=10_000)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="symphainy-bench-") as folder:
        root = generate(options.count, Path(folder) / "repo")
        pygit2.init_repository(str(root), initial_head="main")
        commit_all(root, "Generated tenants")
        tenant = sorted((root / "tenants").iterdir())[0]
        path = tenant / "tenant.yaml"
        path.write_text(path.read_text().replace("name: ", "name: Renamed ", 1))
        commit_all(root, "Rename one tenant")

        since = ("validate", "--changed-since", "HEAD~1")
        full = timed(root, "validate")
        cold = timed(root, *since, "--ref", "HEAD")
        warm = timed(root, *since, "--ref", "HEAD")
        worktree = timed(root, *since)
        diff = timed(root, "diff", "HEAD~1", "HEAD")

    base = float(full["seconds"])  # type: ignore[arg-type]
    print(f"{options.count} tenants")
    for label, run in (
        ("validate (full)", full),
        ("validate --changed-since HEAD~1 --ref HEAD (cold)", cold),
        ("validate --changed-since HEAD~1 --ref HEAD (warm)", warm),
        ("validate --changed-since HEAD~1 (working tree, warm)", worktree),
        ("diff HEAD~1 HEAD", diff),
    ):
        seconds = float(run["seconds"])  # type: ignore[arg-type]
        print(
            f"{label:<52} {seconds:>7.2f} s {100 * seconds / base:>6.1f} %  "
            f"exit {run['exit']}  {run['tail']}"
        )


if __name__ == "__main__":
    main()
