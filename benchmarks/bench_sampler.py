#!/usr/bin/env python
"""Time of one epoch's batches of ``--batch_sampler no_duplicates``, before and after the linear-time sampler, side
by side in one run: the `NoDuplicatesBatchSampler` of ``--before`` (a git revision; default the last commit with the
greedy fill) against the one of the work tree, on two synthetic WPS corpora (`mlctl.experiments.synthetic`) at each
``--rows``: 10 % of sentence pairs duplicated (1-4 WPS per pair), and 5 % of sources one sentence ("Thank you.").

    python benchmarks/bench_sampler.py                   # 50k and 500k rows, batch 128 -> results/sampler_bench.md
    python benchmarks/bench_sampler.py --rows 20000      # a quick run

Each time covers building the sampler (sentence ids) and its batches for epoch 0, in this process, one after the
other for the same keys. Beside the times: batches, the smallest batch and how many hold a single pair.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import subprocess
import tempfile
import time
from pathlib import Path

from mlctl.experiments.provenance import REPO_ROOT, RunRecord
from mlctl.experiments.synthetic import wps_keys_with_a_repeated_source, wps_keys_with_duplicate_pairs
from mlctl.training import sampler as current_sampler

#: The last commit whose NoDuplicatesBatchSampler fills batches greedily (quadratic with repeated sentences).
GREEDY_FILL_COMMIT = "8d3bed8"
CORPORA = {"10 % duplicated pairs": wps_keys_with_duplicate_pairs,
           "5 % of sources 'Thank you.'": wps_keys_with_a_repeated_source}


def sampler_at(revision: str, directory: str):
    """The `mlctl.training.sampler` module of git `revision`, imported from a copy in `directory`."""
    source = subprocess.run(["git", "show", f"{revision}:mlctl/training/sampler.py"], cwd=REPO_ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(directory) / f"sampler_{revision}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(module, keys, batch_size: int) -> tuple[float, list[list[int]]]:
    """Seconds to build `module`'s sampler over `keys` and its epoch-0 batches, and those batches."""
    gc.collect()
    started = time.perf_counter()
    batches = module.NoDuplicatesBatchSampler(keys, batch_size, seed=0).global_batches(0)
    return time.perf_counter() - started, batches


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 500_000], help="corpus sizes in WPS rows")
    parser.add_argument("--batch_size", type=int, default=128, help="batch size (one process)")
    parser.add_argument("--before", default=GREEDY_FILL_COMMIT, help="git revision of the sampler measured as before")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "results" / "sampler_bench.md")
    args = parser.parse_args(argv)
    record = RunRecord()
    logging.getLogger(current_sampler.__name__).setLevel(logging.ERROR)  # the heavy-sentence warning, once per run
    rows_out = []
    with tempfile.TemporaryDirectory() as directory:
        samplers = {f"before ({args.before})": sampler_at(args.before, directory), "after": current_sampler}
        for rows in args.rows:
            for corpus, build in CORPORA.items():
                keys = build(rows)
                for name, module in samplers.items():
                    seconds, batches = measure(module, keys, args.batch_size)
                    sizes = [len(batch) for batch in batches]
                    rows_out.append(f"| {rows:,} | {corpus} | {name} | {seconds:.2f} | {len(batches):,} | "
                                    f"{min(sizes)} | {sizes.count(1):,} | {sum(sizes):,} |")
                    print(rows_out[-1], flush=True)
    lines = ["# No-duplicates batch sampler: one epoch's batches, before and after", "", *record.header(),
             f"- Batch size {args.batch_size}, one process, seed 0, epoch 0. Time = building the sampler and its "
             "batches, in one process, before and after one after the other on the same keys.", "",
             "| rows | corpus | sampler | seconds | batches | smallest batch | 1-pair batches | rows in batches |",
             "|---|---|---|---|---|---|---|---|", *rows_out]
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(args.output.read_text(encoding="utf-8"))
    return args.output


if __name__ == "__main__":
    main()
