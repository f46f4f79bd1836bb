"""Retrieval scoring time and memory: faiss (what mlctl.evaluation.retrieval uses) against a plain torch matmul.

    python benchmarks/bench_retrieval.py                       # Tatoeba 1k x 1k and BUCC 100k x 100k, dim 768
    python benchmarks/bench_retrieval.py --bucc_size 20000     # a quicker BUCC-shaped run

Both sizes use synthetic unit vectors (seeded). Tatoeba: nearest English neighbour of each xx
sentence. BUCC: the 4 nearest neighbours in both directions, the input of margin mining. The torch
baseline computes the same neighbours with blocked ``x @ y.T`` + ``topk`` (one pass gives both
directions; the full 100k x 100k float32 matrix would need 40 GB). Each method runs in its own
process so its peak resident memory is measured alone; the ratios printed are measured side by side.
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def synthetic_embeddings(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two sets of ``n`` unit vectors; the second is the first plus noise, so true pairs are nearest."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim), dtype=np.float32)
    y = x + rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return x, y


def faiss_neighbours(x: np.ndarray, y: np.ndarray, k: int, both_directions: bool):
    """k nearest neighbours by cosine with faiss (mlctl.evaluation.retrieval.cosine_knn), x->y and optionally y->x."""
    from mlctl.evaluation.retrieval import cosine_knn

    forward = cosine_knn(x, y, k)
    return (forward, cosine_knn(y, x, k)) if both_directions else (forward,)


def torch_neighbours(x: np.ndarray, y: np.ndarray, k: int, both_directions: bool, block: int = 8192):
    """The same neighbours with blocked ``x @ y.T``: row top-k per block, column top-k merged across blocks."""
    import torch

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    row_sims, row_ids = [], []
    col_sims = torch.full((k, len(y)), -float("inf"))
    col_ids = torch.zeros((k, len(y)), dtype=torch.long)
    for start in range(0, len(x), block):
        scores = xt[start:start + block] @ yt.T
        sims, ids = scores.topk(min(k, len(y)), dim=1)
        row_sims.append(sims)
        row_ids.append(ids)
        if both_directions:
            block_sims, block_ids = scores.topk(min(k, scores.shape[0]), dim=0)
            merged_sims = torch.cat([col_sims, block_sims])
            merged_ids = torch.cat([col_ids, block_ids + start])
            col_sims, order = merged_sims.topk(k, dim=0)
            col_ids = merged_ids.gather(0, order)
    forward = (torch.cat(row_sims).numpy(), torch.cat(row_ids).numpy())
    return (forward, (col_sims.T.numpy(), col_ids.T.numpy())) if both_directions else (forward,)


METHODS = {"faiss": faiss_neighbours, "torch": torch_neighbours}


def _measure(method: str, n: int, dim: int, k: int, both: bool, seed: int, queue) -> None:
    """Child process: time one method and report seconds, peak RSS growth (MB) and top-1 accuracy."""
    warm_x, warm_y = synthetic_embeddings(16, dim, seed)
    METHODS[method](warm_x, warm_y, k, both)  # imports and library start-up stay out of the measurement
    x, y = synthetic_embeddings(n, dim, seed)
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = METHODS[method](x, y, k, both)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    top1 = float((result[0][1][:, 0] == np.arange(n)).mean())
    queue.put((seconds, (peak_kb - baseline_kb) / 1024, top1, result[0][1][:50, 0].tolist()))


def measure(method: str, n: int, dim: int, k: int, both: bool, seed: int):
    """Run :func:`_measure` in a fresh process (so peak memory is this method's alone)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(method, n, dim, k, both, seed, queue))
    process.start()
    outcome = queue.get()
    process.join()
    return outcome


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tatoeba_size", type=int, default=1000)
    parser.add_argument("--bucc_size", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch

    print(f"CPU threads: torch {torch.get_num_threads()}; dim {args.dim}; synthetic unit vectors, seed {args.seed}")
    print("| workload | method | seconds | peak RSS growth (MB) | top-1 = true pair | time / faiss time |")
    print("|---|---|---|---|---|---|")
    for name, n, k, both in (("Tatoeba xx->en top-1", args.tatoeba_size, 1, False),
                             ("BUCC 4-NN both directions", args.bucc_size, 4, True)):
        outcomes = {method: measure(method, n, args.dim, k, both, args.seed) for method in METHODS}
        if outcomes["faiss"][3] != outcomes["torch"][3]:
            print(f"warning: {name}: faiss and torch disagree on the first 50 nearest neighbours")
        for method, (seconds, memory_mb, top1, _) in outcomes.items():
            print(f"| {name}, {n:,} x {n:,} | {method} | {seconds:.2f} | {memory_mb:.0f} | {100 * top1:.1f}% | "
                  f"{seconds / outcomes['faiss'][0]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
