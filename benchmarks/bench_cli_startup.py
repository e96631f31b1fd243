"""`aio-tim --help` start-up: this tree against an earlier commit's, measured in the same run.

    .venv/bin/python benchmarks/bench_cli_startup.py          # against 6a7d256 (before aio_tim/cli/)
    .venv/bin/python benchmarks/bench_cli_startup.py --baseline HEAD~5 --runs 30

The baseline is `git archive`d into a temporary folder and run with the same interpreter (the same
installed dependencies), alternating with this tree, `--runs` times each. The figure is the CPU time
(user + system) of the whole process, median, since wall time on a shared machine mostly measures
the neighbours; the floor is a bare `import aio_tim`, which every command pays.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELP = "import sys; from aio_tim.cli import main; sys.argv = ['aio-tim', '--help']; main()"
FLOOR = "import aio_tim"


def cpu_of(code: str, tree: Path) -> float:
    """CPU seconds (user + system) of one `python -c code` with `tree` first on the path."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tempfile.gettempdir(), capture_output=True, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def baseline_tree(ref: str, folder: Path) -> Path:
    """The package as it was at `ref`, unpacked under `folder`."""
    archive = folder / "baseline.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref, "aio_tim"], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "tree", filter="data")
    return folder / "tree"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default="6a7d256", help="the git commit to compare with")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        old = baseline_tree(args.baseline, Path(folder))
        times: dict[str, list[float]] = {"this tree": [], f"baseline {args.baseline}": [], "floor": []}
        for _ in range(args.runs):  # interleaved: a noisy moment hits all three alike
            times["this tree"].append(cpu_of(HELP, ROOT))
            times[f"baseline {args.baseline}"].append(cpu_of(HELP, old))
            times["floor"].append(cpu_of(FLOOR, ROOT))
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    base = medians[f"baseline {args.baseline}"]
    print(f"aio-tim --help, CPU per run (median of {args.runs}, user + system):")
    for name, ms in medians.items():
        print(f"  {name:<22} {ms:7.1f} ms   {ms / base:5.2f}x the baseline")


if __name__ == "__main__":
    main()
