"""The approximate search's inverted-file (IVF) scan, side by side on the CPU: mlctl.search's matmul scan against
faiss IndexIVFFlat, both directions (as `knn_both_directions` searches for mining), on the same coarse centroids.

    python benchmarks/bench_retrieval.py                  # 100k and 400k per side, dim 768, nprobe 16, k 4
    python benchmarks/bench_retrieval.py --sizes 20000    # a quick run

Per size: synthetic BUCC-shaped embeddings (`mlctl.experiments.retrieval_data`) as float16 memory maps; one set of
coarse centroids trained on both sides (`coarse_centroids`, `ivf_list_count` lists) that both implementations
use; then the two implementations interleaved, ``--repeats`` times each (ours, faiss, ours, faiss, ...), each timed
from the float16 inputs to both directions' neighbours (normalising, list assignment, scan). Threads as the library
runs them: faiss and torch at their defaults (the matmul scan itself switches torch to one thread on the CPU;
``--faiss_threads 1`` gives faiss the same).
The neighbour ids of the two are compared; where they differ the report says whether only the order of equal
similarities differs or the candidates do.
"""
from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

IMPLEMENTATIONS = ("matmul scan (mlctl.search.ivf_search)", "faiss IndexIVFFlat")


def compare(ours, theirs) -> str:
    """How the neighbour lists of one direction differ: rows with other ids, and of those how many hold the same
    similarities (the same neighbours up to the order of ties / float rounding) or other candidates."""
    (our_sims, our_ids), (their_sims, their_ids) = ours, theirs
    differ = (our_ids != their_ids).any(axis=1)
    if not differ.any():
        return f"identical ids ({len(our_ids):,} rows x {our_ids.shape[1]})"
    same_set = np.array([set(a) == set(b) for a, b in zip(our_ids[differ], their_ids[differ])])
    gap = np.abs(our_sims[differ] - their_sims[differ]).max(axis=1)
    return (f"{int(differ.sum()):,} of {len(our_ids):,} rows differ: {int(same_set.sum())} only in the order of "
            f"neighbours, {int((~same_set).sum())} in a neighbour; largest similarity gap in those rows "
            f"{gap.max():.2e} (ties or float rounding when about 1e-7 to 1e-6)")


def timed(function, *args):
    gc.collect()
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def run_size(n: int, args) -> tuple[list[str], list[str]]:
    """Markdown table rows of one size, and the comparison lines below it."""
    from mlctl.experiments.retrieval_data import write_synthetic
    from mlctl.search import coarse_centroids, faiss_ivf_both_directions, ivf_list_count, matmul_ivf_knn

    search = {IMPLEMENTATIONS[0]: lambda x, y, c: matmul_ivf_knn(x, y, c, args.k, args.nprobe),
              IMPLEMENTATIONS[1]: lambda x, y, c: faiss_ivf_both_directions(x, y, c, args.k, args.nprobe)}
    with tempfile.TemporaryDirectory(dir=args.work_dir) as directory:
        write_synthetic(Path(directory), n, args.dim, args.planted, args.seed)
        x, y = (np.load(Path(directory) / name, mmap_mode="r") for name in ("x.npy", "y.npy"))
        lists = ivf_list_count(n)
        train_seconds, centroids = timed(coarse_centroids, [x, y], lists)
        seconds = {name: [] for name in IMPLEMENTATIONS}
        results = {}
        for _ in range(args.repeats):
            for name in IMPLEMENTATIONS:
                elapsed, results[name] = timed(search[name], x, y, centroids)
                seconds[name].append(elapsed)
                print(f"  {n:,}: {name}: {elapsed:.1f} s", file=sys.stderr, flush=True)
    ours, faiss_min = min(seconds[IMPLEMENTATIONS[0]]), min(seconds[IMPLEMENTATIONS[1]])
    runs = {name: ", ".join(f"{s:.1f}" for s in times) for name, times in seconds.items()}
    rows = [f"| {n:,} x {n:,} | {lists} | {name} | {runs[name]} | {min(seconds[name]):.1f} | "
            + (f"{faiss_min / ours:.2f}x |" if name == IMPLEMENTATIONS[0] else "1 |") for name in IMPLEMENTATIONS]
    notes = [f"- {n:,}: centroids trained in {train_seconds:.1f} s (shared, not in the times above); "
             f"x -> y: {compare(results[IMPLEMENTATIONS[0]][0], results[IMPLEMENTATIONS[1]][0])}; "
             f"y -> x: {compare(results[IMPLEMENTATIONS[0]][1], results[IMPLEMENTATIONS[1]][1])}"]
    return rows, notes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,400000", help="comma-separated rows per side")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--k", type=int, default=None, help="neighbours per row (default: mining's k)")
    parser.add_argument("--nprobe", type=int, default=None, help="lists probed per query (default: IVF_NPROBE)")
    parser.add_argument("--faiss_threads", type=int, default=None, help="faiss's OpenMP threads (default: faiss's)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per implementation, interleaved")
    parser.add_argument("--planted", type=float, default=0.05, help="fraction of x rows with a translation in y")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work_dir", default=None, help="where the float16 inputs go (default: a temporary dir)")
    args = parser.parse_args(argv)
    import faiss
    import torch

    from mlctl.experiments.provenance import RunRecord
    from mlctl.mining import MARGIN_NEIGHBOURS
    from mlctl.search import IVF_NPROBE

    record = RunRecord(argv if argv is None else [sys.argv[0], *argv])
    args.k = MARGIN_NEIGHBOURS if args.k is None else args.k
    args.nprobe = IVF_NPROBE if args.nprobe is None else args.nprobe
    if args.faiss_threads:
        faiss.omp_set_num_threads(args.faiss_threads)
    lines = [f"- Threads: faiss {faiss.omp_get_max_threads()}, torch {torch.get_num_threads()} (the matmul scan "
             f"itself: 1); dim {args.dim}, nprobe {args.nprobe}, k {args.k}, both directions; seed {args.seed}; "
             f"{args.repeats} runs per implementation, interleaved", "",
             "| size | lists | implementation | seconds per run | min | faiss min / ours min |",
             "|---|---|---|---|---|---|"]
    notes = []
    for n in (int(size) for size in args.sizes.split(",")):
        rows, size_notes = run_size(n, args)
        lines += rows
        notes += size_notes
    print("\n".join(record.header() + lines + [""] + notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
