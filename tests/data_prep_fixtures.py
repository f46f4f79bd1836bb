"""Files and a tiny tokenizer for the data_prep tests, all written by the tests themselves (the synthetic corpus they
write is `mlctl.experiments.synthetic`'s)."""
from __future__ import annotations

import gzip
from pathlib import Path

from data_prep.tokenizer import train_wordpiece_tokenizer


def write_lines(path: Path, lines: list[str], gz: bool = False) -> str:
    """Write ``lines`` (newline-terminated, UTF-8, gzip when ``gz``) and return the path as str."""
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    if gz:
        with gzip.open(path, "wb") as stream:
            stream.write(data)
    else:
        path.write_bytes(data)
    return str(path)


def make_tokenizer(directory: Path, texts: list[str]) -> str:
    """A tiny lower-casing WordPiece tokenizer trained on ``texts``, saved in ``directory``."""
    train_wordpiece_tokenizer(texts, vocab_size=1000, lowercase=True).save_pretrained(directory)
    return str(directory)
