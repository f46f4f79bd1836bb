"""Cost of one ML-CTL training step against the plain MLM floor, side by side on the same model and batch.

    python benchmarks/bench_train_step.py [--hidden 128 --layers 4 --vocab 8000 --pairs 32 --length 32 --repeats 10]

Three steps (forward, backward, AdamW update) on one small BERT and one parallel batch of WPS pairs collated by
`MLCTLDataCollator`:
  - mlm floor: one encoder pass over the masked x and y sides + the MLM loss (what any MLM pre-training costs);
  - shared:    ML-CTL with mlm_mode="shared" (the same single masked pass also gives the contrastive loss);
  - separate:  ML-CTL with mlm_mode="separate" (a clean pass for the contrastive loss + the masked MLM pass).
The variants run interleaved (round-robin) so that machine load affects them alike; the table gives the median
step time, its ratio to the floor, and the memory of each variant: on CUDA the peak allocated during a step; on CPU
(no peak counter) the activations saved for backward. Goal: shared ≤ 1.10×, separate ≤ 2.1× the floor.

    python benchmarks/bench_train_step.py --cached [--mini_batch_size 32 --batch_sizes 32 64 ... 1024 --mlm_mode shared]

Gradient caching (`mlctl.training.grad_cache`) against the uncached step at each batch size: the median step time of
the two interleaved in one fresh process per batch size (on CPU the process's CPU time on one thread, which other
jobs' load disturbs far less than wall time), and the memory of each in a fresh process of its own
(`mlctl.experiments.measurement.step_peak_mib`, with MALLOC_MMAP_THRESHOLD_ fixed so that freed tensors go back to
the system). Goal: memory flat in the batch size, time ≤ 1.3× the uncached step.

Smallest run (add `--cached --batch_sizes 4 8 --mini_batch_size 2` for the sweep):

    python benchmarks/bench_train_step.py --hidden 64 --layers 1 --vocab 500 --pairs 4 --length 8 --repeats 1 --warmup 0
"""
import argparse
import functools
import json
import os
import time

import torch

from mlctl.experiments.measurement import fresh_process_json, interleaved_medians, step_peak_mib
from mlctl.experiments.provenance import RunRecord
from mlctl.experiments.train_step import model_optimizer_batch, step_memory_mib, training_step

VARIANTS = ("mlm floor", "shared", "separate")
#: The options a --cached sweep passes on to its worker processes.
WORKER_OPTIONS = ("hidden", "layers", "vocab", "length", "repeats", "warmup", "device", "mlm_mode", "mini_batch_size")


def cached_worker(args, device):
    """One measurement in this (fresh) process, printed as JSON: `memory` of args.variant, or `time` of the
    uncached and cached steps interleaved."""
    model, optimizer, batch = model_optimizer_batch(args.hidden, args.layers, args.vocab, args.pairs, args.length,
                                                    device)
    model.config.mlm_mode = args.mlm_mode
    if args.worker == "memory":
        memory = step_peak_mib(functools.partial(training_step, model, optimizer, batch, args.variant), device)
        return print(json.dumps({"memory_mib": memory}))
    # On CPU the process's CPU time on one thread: on a shared machine other jobs' load changes wall time by
    # several times but CPU time little.
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    if device.type == "cpu":
        torch.set_num_threads(1)
    steps = {name: functools.partial(training_step, model, optimizer, batch, variant)
             for name, variant in (("uncached", "uncached"), ("cached", f"cached:{args.mini_batch_size}"))}
    print(json.dumps(interleaved_medians(steps, args.repeats, args.warmup, device, clock)))


def cached_sweep(args):
    """Uncached vs gradient-cached steps at every batch size of args.batch_sizes, each measurement in a fresh process."""
    memory_env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")  # for the memory workers only: it slows allocation
    common = [__file__, *(item for name in WORKER_OPTIONS for item in (f"--{name}", str(getattr(args, name))))]
    cached = f"cached:{args.mini_batch_size}"
    print(f"Gradient caching vs the uncached step: BERT hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}, "
          f"≤{args.length} tokens per side, mlm_mode {args.mlm_mode}, mini-batch {args.mini_batch_size} pairs, "
          f"{args.device}, median of {args.repeats} interleaved steps "
          f"({'wall time' if args.device.startswith('cuda') else 'CPU time of the process on 1 thread'})")
    memory_kind = "peak allocated" if args.device.startswith("cuda") else "peak RSS delta"
    print(f"| pairs | uncached step (ms) | cached step (ms) | cached / uncached | uncached {memory_kind} (MiB) | "
          f"cached {memory_kind} (MiB) |")
    print("|---|---|---|---|---|---|")
    for pairs in args.batch_sizes:
        size = [*common, "--pairs", str(pairs)]
        memory = {variant: fresh_process_json([*size, "--worker", "memory", "--variant", variant], memory_env)[
            "memory_mib"] for variant in ("uncached", cached)}
        times = fresh_process_json([*size, "--worker", "time"])
        print(f"| {pairs} | {times['uncached'] * 1000:.0f} | {times['cached'] * 1000:.0f} | "
              f"{times['cached'] / times['uncached']:.2f} | {memory['uncached']:.0f} | {memory[cached]:.0f} |",
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=128, help="hidden size of the BERT encoder")
    parser.add_argument("--layers", type=int, default=4, help="number of transformer layers")
    parser.add_argument("--vocab", type=int, default=8000, help="vocabulary size")
    parser.add_argument("--pairs", type=int, default=32, help="WPS pairs per batch")
    parser.add_argument("--length", type=int, default=32, help="longest sequence (tokens) per side")
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant first")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cached", action="store_true", help="gradient caching vs the uncached step over --batch_sizes")
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[32, 64, 128, 256, 512, 1024])
    parser.add_argument("--mini_batch_size", type=int, default=32, help="pairs per cached mini-batch")
    parser.add_argument("--mlm_mode", default="shared", choices=["shared", "separate"], help="for --cached")
    parser.add_argument("--worker", choices=["memory", "time"], help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.worker:
        return cached_worker(args, device)
    record = RunRecord()
    if args.cached:
        cached_sweep(args)
        return print("\n".join(record.header()))
    model, optimizer, batch = model_optimizer_batch(args.hidden, args.layers, args.vocab, args.pairs, args.length,
                                                    device)
    memory = {variant: step_memory_mib(model, optimizer, batch, variant, device) for variant in VARIANTS}
    steps = {variant: functools.partial(training_step, model, optimizer, batch, variant) for variant in VARIANTS}
    medians = interleaved_medians(steps, args.repeats, args.warmup, device)
    floor = medians["mlm floor"]
    print(f"ML-CTL training step vs the MLM floor: BERT hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}, "
          f"{args.pairs} pairs × ≤{args.length} tokens per side, {device.type}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} interleaved steps")
    memory_kind = "peak allocated" if device.type == "cuda" else "saved for backward"
    print(f"| variant | step (ms) | × floor | {memory_kind} (MiB) |")
    print("|---|---|---|---|")
    for variant in VARIANTS:
        print(f"| {variant} | {medians[variant] * 1000:.1f} | {medians[variant] / floor:.2f} | {memory[variant]:.0f} |")
    print(f"goal: shared ≤ 1.10× ({'met' if medians['shared'] / floor <= 1.10 else 'NOT met'}), "
          f"separate ≤ 2.1× ({'met' if medians['separate'] / floor <= 2.1 else 'NOT met'})")
    print("\n".join(record.header()))


if __name__ == "__main__":
    main()
