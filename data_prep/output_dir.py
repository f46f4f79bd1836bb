"""The write probe every command runs on its output directory or file before any work (data_prep's --output_dir,
train_mlctl's and mlctl-xtreme's --output_dir; mlctl-mine's and mlctl-align's --output_file, mlctl-xtreme's
--report_md), so that a file in the way, a read-only file system, missing permissions or a full
disk end the run at once with one line instead of a traceback after hours of work."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: Bytes the probe writes and syncs: less free space than this counts as a full disk.
PROBE_BYTES = 1 << 20


def ensure_writable_directory(path: str | os.PathLike) -> Path:
    """Creates `path` (and its parents) when missing and proves it writable by writing, syncing and removing a
    `PROBE_BYTES` file in it. Returns the path; raises `ValueError` with a one-line reason naming it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-probe-") as probe:
            probe.write(bytes(PROBE_BYTES))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise ValueError(f"{path}: cannot write there: {error.strerror or error}") from None
    return path


def ensure_writable_file(path: str | os.PathLike) -> Path:
    """Proves that the output file `path` can be written before any work: not a directory, its directory created
    when missing and probed by `ensure_writable_directory`, and an existing file opened for writing (without
    truncating it). Returns the path; raises `ValueError` with a one-line reason naming the file or its directory."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not a file")
    ensure_writable_directory(path.parent)
    if path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        except OSError as error:
            raise ValueError(f"{path}: cannot write there: {error.strerror or error}") from None
    return path
