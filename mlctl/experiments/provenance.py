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


def git_commit(*paths: str | Path) -> str:
    """HEAD at run time, marked when any of ``paths`` (default: the whole work tree) has uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    relative = [str(Path(p).resolve().relative_to(REPO_ROOT)) for p in paths]
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", *relative)
    return commit + (" (with uncommitted changes)" if dirty else "")


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed: ``python <script relative to the repository> <arguments>``."""
    argv = sys.argv if argv is None else argv
    script = Path(argv[0]).resolve()
    try:
        script = script.relative_to(REPO_ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *argv[1:]])


class RunRecord:
    """Started at construction; :meth:`header` gives the Markdown lines of a results file: command, commit, cores and
    load average at start, and wall time so far."""

    def __init__(self, argv: list[str] | None = None):
        self.command = command_line(argv)
        self.commit = git_commit()
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
