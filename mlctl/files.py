"""File checks shared by training and evaluation: are a checkpoint's weights whole (safetensors, or a torch.save
archive), and JSON written so that a reader never sees half of it."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path


def safetensors_problem(path: str | os.PathLike) -> str | None:
    """Why `path` is not a whole safetensors file (missing, empty, a header that does not parse or a file shorter
    than its header says, as a killed or full-disk save leaves it), or None when it opens. Reads the header only."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        return f"no {path.name}"
    if path.stat().st_size == 0:
        return f"{path.name} is empty"
    try:
        with safe_open(str(path), framework="pt"):
            pass
    except Exception as error:  # safetensors raises its own SafetensorError (not an OSError) for a damaged file
        return f"{path.name} is damaged: {str(error).splitlines()[0]}"
    return None


def weights_problem(model_name_or_path: str | os.PathLike) -> str | None:
    """Why the weights of a local checkpoint directory cannot load, as "DIR: problem": a damaged safetensors file
    ([`safetensors_problem`]) or, where there is no safetensors file, a `pytorch_model*.bin` that is not a whole
    torch.save archive (a zip since torch 1.6: a truncated or overwritten file is not); None when they look whole,
    and for a Hub name (left to `from_pretrained`)."""
    directory = Path(model_name_or_path)
    if not directory.is_dir():
        return None
    safetensors_files = sorted(directory.glob("*.safetensors"))
    for weights in safetensors_files:
        problem = safetensors_problem(weights)
        if problem:
            return f"{directory}: {problem}"
    if not safetensors_files:
        for weights in sorted(directory.glob("pytorch_model*.bin")):
            if not zipfile.is_zipfile(weights):
                return f"{directory}: {weights.name} is damaged: not a whole torch.save archive"
    return None


def write_json_atomic(path: str | os.PathLike, data) -> None:
    """Writes `data` as indented JSON to a temporary file beside `path`, then renames it over `path` (`os.replace`),
    so that `path` always holds a complete earlier or later version, also when the process is killed mid-write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
