"""What every results file records: the command that produced it, the commit it ran at, the machine and the wall
time."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

#: The repository the benchmarks run in (results/ and outputs/ live here).
REPO_ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()


class RunRecord:
    """Started at construction: the command as typed (``python <script relative to the repository> <arguments>`` of
    `argv`, default sys.argv), HEAD at run time (marked when the work tree has uncommitted changes), the cores and the
    load average at start. :meth:`header` gives the Markdown lines of a results file: those and the wall time so
    far."""

    def __init__(self, argv: list[str] | None = None):
        argv = sys.argv if argv is None else argv
        script = Path(argv[0]).resolve()
        if script.is_relative_to(REPO_ROOT):
            script = script.relative_to(REPO_ROOT)
        self.command = shlex.join(["python", str(script), *argv[1:]])
        self.commit = _git("rev-parse", "HEAD") or "unknown"
        if _git("status", "--porcelain", "--untracked-files=no"):
            self.commit += " (with uncommitted changes)"
        self.cores = os.cpu_count()
        self.load_at_start = os.getloadavg()[0]
        self.started = time.perf_counter()

    @property
    def wall_seconds(self) -> float:
        return time.perf_counter() - self.started

    def header(self) -> list[str]:
        return [f"- Command: `{self.command}`",
                f"- Commit: `{self.commit}`",
                f"- Machine: {self.cores} CPU cores, 1-minute load average {self.load_at_start:.1f} at start",
                f"- Wall time: {self.wall_seconds:.0f} s"]

    def as_dict(self) -> dict:
        return {"command": self.command, "commit": self.commit, "cores": self.cores,
                "load_at_start": self.load_at_start, "wall_seconds": round(self.wall_seconds, 1)}
