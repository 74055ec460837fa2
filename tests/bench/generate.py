"""Generate a config repository of N synthetic tenants from the example content.

Each synthetic tenant is a copy of one of this repository's example tenants
(cycling through them) with the id, hosts and names made unique, so the
generated tree has the same shape and the same mix of plans, overlays and
statuses as the real one.

    python tests/bench/generate.py 1000 .bench/repo-1000
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def generate(count: int, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("base", "schemas"):
        shutil.copytree(ROOT / name, target / name)

    examples = sorted(p for p in (ROOT / "tenants").iterdir() if p.is_dir())
    for number in range(count):
        example = examples[number % len(examples)]
        tenant_id = f"{example.name}-{number:05d}"
        folder = target / "tenants" / tenant_id
        folder.mkdir(parents=True)
        word = re.compile(rf"\b{re.escape(example.name)}\b")
        for source in sorted(example.glob("*.yaml")):
            text = word.sub(tenant_id, source.read_text())
            (folder / source.name).write_text(text)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("target", type=Path)
    options = parser.parse_args()
    generate(options.count, options.target)
    print(f"{options.count} tenants in {options.target}")


if __name__ == "__main__":
    main()
