"""Retrieval engine at BUCC scale on the CPU: exact (faiss IndexFlatIP) against approximate (mlctl.search's IVF, and
faiss HNSW at small sizes for the choice between them), mining with the ratio margin (k = 4, both directions).

    python benchmarks/bench_retrieval.py                  # 20k (with HNSW), 100k and 400k per side, dim 768
    python benchmarks/bench_retrieval.py --sizes 20000    # a quick run

Synthetic embeddings with planted pairs, BUCC-shaped: each side has ``n`` sentences drawn around 1,000 topic centres
(sentences of one topic have cosine about 0.2, unrelated ones about 0), and ``--planted`` of the source sentences
(5 %; BUCC 2018 de-en has about 2.4 %) have a translation on the target side (the source vector plus noise, cosine
about 0.75), at a random position. Both sides are written as float16 memory maps, as `mlctl-mine` stores them.

Per size and method, in a fresh process each (so peak RSS growth is that method's alone; it includes the pages of the
memory-mapped inputs it touched): wall time of the search in both directions plus margin mining, and the pairs
mined. Reported: recall of exact's mined pairs (exact's pairs above its F1-optimal threshold that the approximate
method also mines at that threshold), and each method's F1 against the planted pairs at its F1-optimal threshold.

Exact search above ``--full_exact_max`` rows is estimated, not run: forward search of ``--exact_subset`` source
rows is timed and scaled to both directions; its mined pairs are estimated on that subset (exact margins need the
backward neighbourhoods of the subset's candidates, which are searched exactly too).
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOPICS = 1000


def write_synthetic(directory: Path, n: int, dim: int, planted: float, seed: int, chunk: int = 50_000):
    """Float16 memory maps ``x.npy`` and ``y.npy`` (unit rows) and the planted pairs ``(x_row, y_row)``."""
    from mlctl.search import float16_memmap

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((TOPICS, dim), dtype=np.float32) * 0.5
    sources = np.sort(rng.choice(n, int(n * planted), replace=False))
    targets = rng.choice(n, len(sources), replace=False)
    target_of = np.full(n, -1)
    target_of[sources] = targets
    x, y = float16_memmap(directory / "x.npy", n, dim), float16_memmap(directory / "y.npy", n, dim)
    filled = np.zeros(n, dtype=bool)

    def unit(v):
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n))
        vectors = centres[rng.integers(0, TOPICS, len(rows))] + rng.standard_normal((len(rows), dim), dtype=np.float32)
        x[rows] = unit(vectors)
        paired = rows[target_of[rows] >= 0]
        noisy = vectors[paired - start] + 0.8 * rng.standard_normal((len(paired), dim), dtype=np.float32)
        y[target_of[paired]] = unit(noisy)
        filled[target_of[paired]] = True
    free = np.flatnonzero(~filled)
    for start in range(0, len(free), chunk):
        rows = free[start:start + chunk]
        y[rows] = unit(centres[rng.integers(0, TOPICS, len(rows))] + rng.standard_normal((len(rows), dim),
                                                                                         dtype=np.float32))
    x.flush()
    y.flush()
    return set(zip(sources.tolist(), targets.tolist()))


def hnsw_both_directions(x, y, k: int):
    """HNSW (M = 32, efConstruction 40, efSearch 128) in both directions: the alternative to IVF."""
    import faiss

    from mlctl.search import normalized_rows

    results = []
    for queries, database in ((x, y), (y, x)):
        index = faiss.IndexHNSWFlat(database.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction, index.hnsw.efSearch = 40, 128
        index.add(normalized_rows(database, slice(None)))
        results.append(index.search(normalized_rows(queries, slice(None)), k))
    return tuple(results)


def _mine(directory: str, method: str, queue) -> None:
    """Child process: mine x against y with one method; report seconds, peak RSS growth and the pairs."""
    import mlctl.mining as mining

    x, y = np.load(Path(directory) / "x.npy", mmap_mode="r"), np.load(Path(directory) / "y.npy", mmap_mode="r")
    mining.mine_embeddings(x[:2000], y[:2000], method="exact", device="cpu", show_progress=False)  # warm-up
    if method == "hnsw":
        mining.knn_both_directions = lambda a, b, k, **_: hnsw_both_directions(a, b, k)
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    src, tgt, scores = mining.mine_embeddings(x, y, method="exact" if method == "exact" else "approximate",
                                              device="cpu", threshold=-np.inf, show_progress=False)
    seconds = time.perf_counter() - started
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline_kb) / 1024
    queue.put((seconds, peak_mb, dict(zip(zip(src.tolist(), tgt.tolist()), scores.tolist()))))


def _exact_subset(directory: str, subset: int, seed: int, queue) -> None:
    """Child process: exact forward proposals of ``subset`` source rows with exact margins; time of their search."""
    from mlctl.mining import margin_scores
    from mlctl.search import knn

    x, y = np.load(Path(directory) / "x.npy", mmap_mode="r"), np.load(Path(directory) / "y.npy", mmap_mode="r")
    rows = np.sort(np.random.default_rng(seed).choice(len(x), subset, replace=False))
    queries = np.asarray(x[rows])
    started = time.perf_counter()
    fwd_sims, fwd_ids = knn(queries, y, 4, method="exact", device="cpu", show_progress=False)
    seconds = time.perf_counter() - started
    candidates = np.unique(fwd_ids)
    bwd_sims, _ = knn(np.asarray(y[candidates]), x, 4, method="exact", device="cpu", show_progress=False)
    bwd_mean = np.zeros(len(y))
    bwd_mean[candidates] = bwd_sims.mean(axis=1, dtype=np.float64)
    scores = margin_scores(fwd_sims, fwd_ids, fwd_sims.mean(axis=1, dtype=np.float64), bwd_mean, "ratio")
    best = scores.argmax(axis=1)
    proposals = {(int(r), int(fwd_ids[i, best[i]])): float(scores[i, best[i]]) for i, r in enumerate(rows)}
    queue.put((seconds, proposals))


def in_child(target, *args):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    outcome = queue.get()
    process.join()
    return outcome


def best_threshold(pairs: dict, gold: set) -> tuple[float, float]:
    from mlctl.evaluation.bucc import optimal_threshold

    return optimal_threshold(pairs, gold)


def above(pairs: dict, threshold: float) -> set:
    return {pair for pair, score in pairs.items() if score >= threshold}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000,400000", help="comma-separated sentences per side")
    parser.add_argument("--hnsw_max", type=int, default=20_000, help="largest size HNSW runs at (it builds slowly)")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--planted", type=float, default=0.05, help="fraction of source rows with a translation")
    parser.add_argument("--full_exact_max", type=int, default=100_000, help="largest size searched exactly in full")
    parser.add_argument("--exact_subset", type=int, default=2000, help="source rows of the exact estimate above it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work_dir", default=None, help="where the float16 inputs go (default: a temporary dir)")
    args = parser.parse_args(argv)
    import faiss
    import torch

    print(f"CPU threads: faiss {faiss.omp_get_max_threads()}, torch {torch.get_num_threads()}; dim {args.dim}; "
          f"planted {100 * args.planted:g}% of source rows; seed {args.seed}")
    print("| size | method | seconds | peak RSS growth (MB) | recall of exact's mined pairs | F1 vs planted | "
          "threshold |")
    print("|---|---|---|---|---|---|---|")
    for n in (int(size) for size in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(dir=args.work_dir) as directory:
            gold = write_synthetic(Path(directory), n, args.dim, args.planted, args.seed)
            methods = (["approximate"] + (["hnsw"] if n <= args.hnsw_max else [])
                       + (["exact"] if n <= args.full_exact_max else []))
            outcomes = {method: in_child(_mine, directory, method) for method in methods}
            thresholds = {method: best_threshold(pairs, gold) for method, (_, _, pairs) in outcomes.items()}
            if "exact" in outcomes:
                reference_threshold = thresholds["exact"][0]
                exact_pairs = above(outcomes["exact"][2], reference_threshold)
                recall = {m: len(exact_pairs & above(p, reference_threshold)) / max(1, len(exact_pairs))
                          for m, (_, _, p) in outcomes.items()}
            else:
                seconds, proposals = in_child(_exact_subset, directory, args.exact_subset, args.seed)
                reference_threshold = thresholds["approximate"][0]
                exact_pairs = above(proposals, reference_threshold)
                recall = {m: len(exact_pairs & above(p, reference_threshold)) / max(1, len(exact_pairs))
                          for m, (_, _, p) in outcomes.items()}
                estimate = seconds * 2 * n / args.exact_subset
                print(f"| {n:,} x {n:,} | exact (estimated: {args.exact_subset:,} source rows searched in "
                      f"{seconds:.1f} s, x {2 * n / args.exact_subset:.0f}) | ~{estimate:,.0f} | - | 100% (reference,"
                      f" {len(exact_pairs):,} of the subset's forward proposals) | - | - |")
            for method, (seconds, peak_mb, _) in outcomes.items():
                print(f"| {n:,} x {n:,} | {method} | {seconds:.1f} | {peak_mb:.0f} | {100 * recall[method]:.2f}% | "
                      f"{thresholds[method][1]:.2f} | {thresholds[method][0]:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
