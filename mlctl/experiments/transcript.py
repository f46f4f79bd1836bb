"""A results file that is the transcript of a run: its provenance (command, commit, machine, wall time) and everything
it printed."""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

from mlctl.experiments.provenance import RunRecord


class _Tee(io.TextIOBase):
    """Writes to several streams at once."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
        return len(text)


@contextlib.contextmanager
def transcript(path: str | Path | None, title: str):
    """Prints as usual inside the block; with a `path`, also writes the Markdown file `path` at its end: the heading
    `title`, the run's provenance header (`RunRecord`) and what the block printed, as a code block."""
    record = RunRecord()
    output = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, output) if path else sys.stdout):
        yield
    if path:
        lines = [f"# {title}", "", *record.header(), "", "```", output.getvalue().rstrip("\n"), "```", ""]
        Path(path).write_text("\n".join(lines), encoding="utf-8")
