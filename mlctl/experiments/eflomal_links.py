"""eflomal, the statistical aligner data_prep uses, on sentences held in memory: the reference the alignment and
data_prep benchmarks measure against."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable
from unittest import mock


def eflomal_links(src_lines: Iterable[str], tgt_lines: Iterable[str],
                  threads: int | None = None) -> tuple[list[str], list[str]]:
    """eflomal's forward and reverse links (one Pharaoh line per pair) for line-aligned, space-separated words, aligned
    with `threads` OpenMP threads (default: as the environment says)."""
    import eflomal

    with tempfile.TemporaryDirectory(prefix="eflomal-") as directory, \
            mock.patch.dict(os.environ, {"OMP_NUM_THREADS": str(threads)} if threads else {}):
        forward, reverse = Path(directory) / "forward", Path(directory) / "reverse"
        eflomal.Aligner().align(src_lines, tgt_lines, links_filename_fwd=str(forward),
                                links_filename_rev=str(reverse), quiet=True)
        return forward.read_text(encoding="utf-8").splitlines(), reverse.read_text(encoding="utf-8").splitlines()
