"""Synthetic BUCC-shaped embeddings for the retrieval benchmarks: each side has ``n`` unit vectors drawn around
`TOPICS` topic centres (vectors of one topic have cosine about 0.2, unrelated ones about 0), and a fraction of the
source vectors have a translation on the target side (the source vector plus noise, cosine about 0.75) at a random
position. Both sides are written as float16 memory maps, as `mlctl-mine` stores them."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mlctl.search import float16_memmap
from mlctl.search import normalized_rows

TOPICS = 1000


def write_synthetic(directory: Path, n: int, dim: int, planted: float, seed: int, chunk: int = 50_000) -> set:
    """Float16 memory maps ``directory/x.npy`` and ``directory/y.npy`` of ``n`` unit rows each, with ``planted``
    (a fraction) of the x rows translated into y; returns the planted pairs ``(x_row, y_row)``."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((TOPICS, dim), dtype=np.float32) * 0.5
    sources = np.sort(rng.choice(n, int(n * planted), replace=False))
    targets = rng.choice(n, len(sources), replace=False)
    target_of = np.full(n, -1)
    target_of[sources] = targets
    x, y = float16_memmap(directory / "x.npy", n, dim), float16_memmap(directory / "y.npy", n, dim)
    filled = np.zeros(n, dtype=bool)

    def topic_vectors(count):
        return centres[rng.integers(0, TOPICS, count)] + rng.standard_normal((count, dim), dtype=np.float32)

    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n))
        vectors = topic_vectors(len(rows))
        x[rows] = normalized_rows(vectors, slice(None))
        paired = rows[target_of[rows] >= 0]
        noisy = vectors[paired - start] + 0.8 * rng.standard_normal((len(paired), dim), dtype=np.float32)
        y[target_of[paired]] = normalized_rows(noisy, slice(None))
        filled[target_of[paired]] = True
    free = np.flatnonzero(~filled)
    for start in range(0, len(free), chunk):
        rows = free[start:start + chunk]
        y[rows] = normalized_rows(topic_vectors(len(rows)), slice(None))
    x.flush()
    y.flush()
    return set(zip(sources.tolist(), targets.tolist()))
