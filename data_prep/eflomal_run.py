"""eflomal as data_prep runs it: the aligner's binary (which the eflomal package starts as a child process) ends
with the data_prep process however that ends, SIGKILL included, and its temporary files live in data_prep's work
folder (``OUT/.data_prep-tmp``, which the next run into that out-dir removes), not in the system's temp directory."""
from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import tempfile
from pathlib import Path
from unittest import mock

#: prctl(2)'s option for the signal the kernel sends a process when its parent ends (Linux).
PR_SET_PDEATHSIG = 1


def _end_with_parent(prctl, parent: int) -> None:
    """`preexec_fn` of eflomal's binary (runs in the child between fork and exec): the kernel kills it when its
    parent ends, and a parent already gone by then ends it at once."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


@contextlib.contextmanager
def children_end_with_this_process():
    """Within the block, every process started through `subprocess` gets SIGKILL from the kernel when this process
    ends (Linux's parent-death signal; elsewhere nothing changes). The eflomal package starts its binary through
    `subprocess` with no way to pass options, hence the patched `subprocess.Popen`."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    if prctl is None:
        yield
        return
    popen = functools.partial(subprocess.Popen, preexec_fn=functools.partial(_end_with_parent, prctl, os.getpid()))
    with mock.patch.object(subprocess, "Popen", popen):
        yield


def eflomal_align(src_tokens: Path, tgt_tokens: Path, forward_links: Path, reverse_links: Path, work_dir: Path,
                  threads: int) -> None:
    """Aligns the space-separated token files `src_tokens` and `tgt_tokens` line by line with eflomal (``threads``
    OpenMP threads), writing its forward and reverse Pharaoh links; eflomal's own temporary files go to `work_dir`
    and its binary ends with this process."""
    import eflomal

    with open(src_tokens, encoding="utf-8") as src, open(tgt_tokens, encoding="utf-8") as tgt, \
            mock.patch.dict(os.environ, {"OMP_NUM_THREADS": str(threads)}), \
            mock.patch.object(tempfile, "tempdir", str(work_dir)), children_end_with_this_process():
        eflomal.Aligner().align(src, tgt, links_filename_fwd=str(forward_links),
                                links_filename_rev=str(reverse_links), quiet=True)
