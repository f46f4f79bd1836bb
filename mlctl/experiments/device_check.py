"""The users' regime measured on one machine (``benchmarks/device_check.py``): (a) the training step at mBERT-base
shape in bfloat16, MLM floor against ML-CTL ``shared`` and ``separate``; (b) gradient caching against the uncached
step at thousands of pairs; (c) the exact search on the device against the CPU approximate search (the matmul IVF)
on the same vectors, with the recall of exact's neighbours; (d) data_prep throughput by ``num_proc``.

Each part returns Markdown table rows; `Sizes` fixes what is measured (`GPU`: the issue's sizes; `TINY`: seconds on
a CPU, for the test suite). A size that runs out of device memory is reported as "out of memory" and the rest runs.
"""
from __future__ import annotations

import functools
import json
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from mlctl.experiments.measurement import interleaved_medians
from mlctl.experiments.train_step import model_optimizer_batch, step_memory_mib, training_step
from modeling_mlctl.configuration_mlctl import MBERT_BASE_SHAPE

#: The training-step variants of part (a), as `mlctl.experiments.train_step.variant_loss` names them.
STEP_VARIANTS = ("mlm floor", "shared", "separate")
OUT_OF_MEMORY = "out of memory"
#: The corpus size of the data_prep estimates (the paper's 25M UN pairs), and the (machines, processes per machine)
#: they are given for: 2 cores, one 16-core machine, three of them (one shard each).
CORPUS_ESTIMATE_PAIRS = 25_000_000
ESTIMATE_LAYOUTS = ((1, 2), (1, 16), (3, 16))


@dataclass(frozen=True)
class Sizes:
    """What the check measures: the model and batch shapes of (a) and (b), the search sizes of (c), the corpus and
    process counts of (d), and the timed repeats."""

    hidden: int = MBERT_BASE_SHAPE["hidden_size"]
    layers: int = MBERT_BASE_SHAPE["num_hidden_layers"]
    vocab: int = MBERT_BASE_SHAPE["vocab_size"]
    length: int = 128
    step_pairs: tuple[int, ...] = (32, 64, 128)
    cache_pairs: tuple[int, ...] = (256, 512, 1024, 2048, 4096)
    mini_batch_size: int = 64
    search_sizes: tuple[int, ...] = (100_000, 400_000)
    dim: int = 768
    k: int = 4
    num_procs: tuple[int, ...] = (1, 2, 4, 8, 16)
    corpus_pairs: int = 50_000
    repeats: int = 3


GPU = Sizes()
TINY = replace(GPU, hidden=32, layers=1, vocab=500, length=16, step_pairs=(4, 8), cache_pairs=(8, 16),
               mini_batch_size=4, search_sizes=(2_000,), dim=32, num_procs=(1, 2), corpus_pairs=300, repeats=1)


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` is the device running out of memory (CUDA raises OutOfMemoryError, the CPU allocator a
    RuntimeError naming it)."""
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def bf16_step(model, optimizer, batch: dict, variant: str, device: torch.device) -> None:
    """One training step of `variant` under bfloat16 autocast (mixed precision, as ``--bf16`` trains)."""
    with torch.autocast(device.type, dtype=torch.bfloat16):
        training_step(model, optimizer, batch, variant)


def measure_variants(sizes: Sizes, pairs: int, variants: tuple[str, ...], device: torch.device) -> dict:
    """{variant: (median step seconds, peak MiB)} at `pairs` pairs, the variants interleaved on one model and batch;
    {variant: OUT_OF_MEMORY} for each variant that does not fit."""
    model, optimizer, batch = model_optimizer_batch(sizes.hidden, sizes.layers, sizes.vocab, pairs, sizes.length,
                                                    device)
    results = {}
    for variant in variants:
        try:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                results[variant] = step_memory_mib(model, optimizer, batch, variant, device)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as error:
            if not is_out_of_memory(error):
                raise
            optimizer.zero_grad(set_to_none=True)
            results[variant] = OUT_OF_MEMORY
            if device.type == "cuda":
                torch.cuda.empty_cache()
    fitting = [variant for variant in variants if results[variant] != OUT_OF_MEMORY]
    steps = {variant: functools.partial(bf16_step, model, optimizer, batch, variant, device) for variant in fitting}
    seconds = interleaved_medians(steps, sizes.repeats, 1, device)
    del model, optimizer, batch
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {variant: (seconds[variant], results[variant]) if variant in seconds else OUT_OF_MEMORY
            for variant in variants}


def training_step_rows(sizes: Sizes, device: torch.device) -> list[str]:
    """Part (a): per batch size, each variant's step time, its ratio to the MLM floor and its peak memory."""
    rows = ["| pairs × tokens | variant | step (s) | × MLM floor | peak memory (MiB) |", "|---|---|---|---|---|"]
    for pairs in sizes.step_pairs:
        measured = measure_variants(sizes, pairs, STEP_VARIANTS, device)
        floor = measured["mlm floor"]
        for variant, value in measured.items():
            if value == OUT_OF_MEMORY:
                rows.append(f"| {pairs} × {sizes.length} | {variant} | {OUT_OF_MEMORY} | – | – |")
                continue
            ratio = f"{value[0] / floor[0]:.2f}" if floor != OUT_OF_MEMORY else "–"
            rows.append(f"| {pairs} × {sizes.length} | {variant} | {value[0]:.3f} | {ratio} | {value[1]:,.0f} |")
    return rows


def grad_cache_rows(sizes: Sizes, device: torch.device) -> list[str]:
    """Part (b): per batch size, the uncached and the gradient-cached step (mini-batches of
    `sizes.mini_batch_size`): time, their ratio, and peak memory; a batch the uncached step cannot hold says so."""
    cached = f"cached:{sizes.mini_batch_size}"
    rows = ["| pairs × tokens | uncached (s) | cached (s) | cached / uncached | uncached peak (MiB) | "
            "cached peak (MiB) |", "|---|---|---|---|---|---|"]
    for pairs in sizes.cache_pairs:
        try:
            measured = measure_variants(sizes, pairs, ("uncached", cached), device)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as error:  # the model and batch themselves do not fit
            if not is_out_of_memory(error):
                raise
            rows.append(f"| {pairs} × {sizes.length} | {OUT_OF_MEMORY} (model and batch) | – | – | – | – |")
            continue
        plain, cache = measured["uncached"], measured[cached]
        cells = [f"{value[i]:{spec}}" if value != OUT_OF_MEMORY else OUT_OF_MEMORY
                 for i, spec in ((0, ".3f"), (1, ",.0f")) for value in (plain, cache)]
        ratio = f"{cache[0] / plain[0]:.2f}" if OUT_OF_MEMORY not in (plain, cache) else "–"
        rows.append(f"| {pairs} × {sizes.length} | {cells[0]} | {cells[1]} | {ratio} | {cells[2]} | {cells[3]} |")
    return rows


def neighbour_recall(exact_ids: np.ndarray, found_ids: np.ndarray) -> float:
    """Share of `exact_ids`' neighbours (row by row) that `found_ids` holds too."""
    hits = sum(len(set(exact) & set(found)) for exact, found in zip(exact_ids.tolist(), found_ids.tolist()))
    return hits / exact_ids.size


def retrieval_rows(sizes: Sizes, device: torch.device) -> list[str]:
    """Part (c): per size, both directions' `sizes.k` nearest neighbours of synthetic BUCC-shaped float16 vectors
    (`write_synthetic`): exact on `device` (the blocked float16 matmul on a GPU) against the approximate search on
    the CPU (centroid training included), seconds and the recall of exact's neighbours."""
    from mlctl.experiments.retrieval_data import write_synthetic
    from mlctl.search import knn_both_directions

    rows = ["| size × dim | exact on " + device.type + " (s) | approximate on cpu (s) | recall of exact's "
            "neighbours |", "|---|---|---|---|"]
    for n in sizes.search_sizes:
        with tempfile.TemporaryDirectory() as directory:
            write_synthetic(Path(directory), n, sizes.dim, planted=0.05, seed=0)
            x, y = (np.load(Path(directory) / name, mmap_mode="r") for name in ("x.npy", "y.npy"))
            timings, found = {}, {}
            for method, where in (("exact", device.type), ("approximate", "cpu")):
                started = time.perf_counter()
                found[method] = knn_both_directions(x, y, sizes.k, method=method, device=where, show_progress=False)
                if where == "cuda":
                    torch.cuda.synchronize()
                timings[method] = time.perf_counter() - started
        recall = np.mean([neighbour_recall(found["exact"][side][1], found["approximate"][side][1])
                          for side in (0, 1)])
        rows.append(f"| {n:,} × {sizes.dim} | {timings['exact']:.1f} | {timings['approximate']:.1f} | "
                    f"{100 * recall:.2f} % |")
    return rows


def synthetic_pair_files(directory: Path, n_pairs: int) -> tuple[str, str]:
    """The synthetic English–German corpus (`synthetic_corpus`) of `n_pairs` lines as two files in `directory`."""
    from mlctl.experiments.synthetic import synthetic_corpus

    paths = []
    for lang, lines in zip(("en", "de"), synthetic_corpus(n_pairs)):
        paths.append(str(directory / f"corpus.{lang}"))
        Path(paths[-1]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths[0], paths[1]


def data_prep_rows(sizes: Sizes, specs=None) -> list[str]:
    """Part (d): data_prep (eflomal, a WordPiece tokenizer trained on the corpus beforehand) on one corpus at each
    of `sizes.num_procs` worker processes (those above the machine's cores left out): pairs read per second and
    the efficiency per process (the rate over `num_proc` × the one-process rate), and the machine's 1-minute load
    average when each started (other jobs slow it). `specs` (PairSpecs) is the corpus; default the synthetic one of
    `sizes.corpus_pairs` pairs."""
    from data_prep import REPORT_NAME, PairSpec, build_wps_dataset
    from data_prep.reading import read_text_lines
    from data_prep.tokenizer import train_wordpiece_tokenizer

    rows = ["| num_proc | pairs | seconds | pairs/s | efficiency per process | load average at start |",
            "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        specs = specs or [PairSpec("en", "de", *synthetic_pair_files(directory, sizes.corpus_pairs))]
        texts = (line for spec in specs for path in (spec.src_path, spec.tgt_path) for _, line in read_text_lines(path))
        train_wordpiece_tokenizer(texts, vocab_size=16000).save_pretrained(directory / "tokenizer")
        one_process_rate, rates = None, {}
        for num_proc in (p for p in sizes.num_procs if p <= (os.cpu_count() or 1)):
            out_dir = directory / f"wps{num_proc}"
            load, started = os.getloadavg()[0], time.perf_counter()
            build_wps_dataset(specs, out_dir, tokenizer=str(directory / "tokenizer"), num_proc=num_proc,
                              show_progress=False)
            seconds = time.perf_counter() - started
            report = json.loads((out_dir / REPORT_NAME).read_text(encoding="utf-8"))
            rate = rates[num_proc] = report["totals"]["pairs_read"] / seconds
            one_process_rate = one_process_rate or rate / num_proc
            rows.append(f"| {num_proc} | {report['totals']['pairs_read']:,} | {seconds:.1f} | {rate:,.0f} | "
                        f"{rate / (num_proc * one_process_rate):.2f} | {load:.1f} |")
    return rows + ["", *corpus_estimates(rates)]


def corpus_estimates(rates: dict[int, float]) -> list[str]:
    """Hours data_prep would take on `CORPUS_ESTIMATE_PAIRS` pairs for each of `ESTIMATE_LAYOUTS`, multiplied out
    from the measured pairs/s by process count (`rates`): a measured process count's own rate (× machines, the
    shards being independent); otherwise the one-process rate × processes (efficiency 1, an upper bound) and at the
    efficiency of the largest count measured."""
    largest = max(rates)
    one = rates[min(rates)] / min(rates)
    efficiency = rates[largest] / (largest * one)

    def hours(rate: float) -> str:
        return f"{CORPUS_ESTIMATE_PAIRS / rate / 3600:.1f}"

    lines = [f"Estimates for {CORPUS_ESTIMATE_PAIRS:,} sentence pairs (the paper's corpus size), multiplied out from "
             "the rates above: not measured; merging the shards not included.", "",
             "| machines × processes | hours | from |", "|---|---|---|"]
    for machines, processes in ESTIMATE_LAYOUTS:
        if processes in rates:
            lines.append(f"| {machines} × {processes} | {hours(machines * rates[processes])} | the measured "
                         f"{processes}-process rate{' × machines' if machines > 1 else ''} |")
        else:
            rate = machines * processes * one
            lines.append(f"| {machines} × {processes} | {hours(rate)} | {machines * processes} × the 1-process rate "
                         f"(efficiency 1; past {largest} processes not measured); at the measured {largest}-process "
                         f"efficiency {efficiency:.2f}: {hours(rate * efficiency)} h |")
    return lines
