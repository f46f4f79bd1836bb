#!/usr/bin/env python
"""Cost of one ML-CTL training step against the plain MLM floor, side by side on the same model and batch.

    python benchmarks/bench_train_step.py [--hidden 128 --layers 4 --vocab 8000 --pairs 32 --length 32 --repeats 10]

Three steps (forward, backward, AdamW update) on one small BERT and one parallel batch of WPS pairs collated by
`MLCTLDataCollator`:
  - mlm floor: one encoder pass over the masked x and y sides + the MLM loss (what any MLM pre-training costs);
  - shared:    ML-CTL with mlm_mode="shared" (the same single masked pass also gives the contrastive loss);
  - separate:  ML-CTL with mlm_mode="separate" (a clean pass for the contrastive loss + the masked MLM pass).
The variants run interleaved (round-robin) so that machine load affects them alike; the table gives the median
step time, its ratio to the floor, and the memory of each variant: on CUDA the peak allocated during a step; on CPU
(where the allocator gives no peak) the activations saved for backward, parameters excluded, which is what the
variants differ in. Goal: shared ≤ 1.10×, separate ≤ 2.1× the floor.

    python benchmarks/bench_train_step.py --cached [--mini_batch_size 32 --batch_sizes 32 64 ... 1024 --mlm_mode shared]

Gradient caching (`mlctl.training.grad_cache`) against the uncached step at each batch size: the median step time of
the two interleaved in one fresh process per batch size (on CPU the process's CPU time on one thread, which other
jobs' load disturbs far less than wall time), and the memory of each in a fresh process of its own: on
CUDA the peak allocated over a step; on CPU the peak resident set size over a step (VmHWM, reset through
/proc/self/clear_refs after a warm-up step) minus the resident size before it, with MALLOC_MMAP_THRESHOLD_ fixed so
that freed tensors go back to the system. Goal: memory flat in the batch size, time ≤ 1.3× the uncached step.
"""
import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import AutoConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modeling_mlctl import MLCTLConfig  # noqa: E402
from modeling_mlctl import MLCTLForPreTraining  # noqa: E402
from modeling_mlctl.modeling_mlctl import _pad_and_concat  # noqa: E402
from mlctl.training.collator import MLCTLDataCollator  # noqa: E402
from mlctl.training.grad_cache import cached_contrastive_loss  # noqa: E402

VARIANTS = ("mlm floor", "shared", "separate")


class SyntheticTokenizer:
    """The tokenizer surface MLCTLDataCollator needs, for pre-tokenised rows of random ids ([PAD]=0, [CLS]=1,
    [SEP]=2, [MASK]=3, words from 4)."""

    pad_token_id, cls_token_id, sep_token_id, mask_token_id = 0, 1, 2, 3
    mask_token = "[MASK]"
    name_or_path = "synthetic"
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    all_special_ids = [0, 1, 2, 3]

    def __init__(self, vocab_size):
        self.vocab_size = vocab_size

    def __len__(self):
        return self.vocab_size

    def convert_tokens_to_ids(self, token):
        return self.mask_token_id

    def get_special_tokens_mask(self, ids, already_has_special_tokens=True):
        return [int(token in self.all_special_ids) for token in ids]


def make_batch(args, generator):
    """One collated batch of `args.pairs` WPS pairs, lengths uniform in [length/2, length], one marked word each."""
    rows = []
    for _ in range(args.pairs):
        row = {}
        for prefix in ("src", "tgt"):
            length = int(torch.randint(args.length // 2, args.length + 1, (1,), generator=generator))
            words = torch.randint(4, args.vocab, (length - 2,), generator=generator).tolist()
            start = int(torch.randint(1, length - 2, (1,), generator=generator))
            row.update({f"{prefix}_input_ids": [1, *words, 2], f"{prefix}_word_start": start,
                        f"{prefix}_word_end": min(start + 2, length - 1)})
        rows.append(row)
    return MLCTLDataCollator(SyntheticTokenizer(args.vocab), mlm_probability=0.15, seed=0)(rows)


def build_model(args, device):
    torch.manual_seed(0)
    encoder = AutoConfig.for_model("bert", vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                                   num_attention_heads=max(args.hidden // 64, 1), intermediate_size=4 * args.hidden,
                                   max_position_embeddings=max(args.length, 64))
    return MLCTLForPreTraining(MLCTLConfig(encoder_config=encoder)).to(device)


def mlm_floor_loss(model, batch):
    """Plain MLM over both sides: one encoder pass on the masked x and y sequences, loss on the masked tokens."""
    pad_id = model.config.encoder_config.pad_token_id or 0
    hidden = model.mlctl.encoder(
        input_ids=_pad_and_concat(batch["x_mlm_input_ids"], batch["y_mlm_input_ids"], pad_id),
        attention_mask=_pad_and_concat(batch["x_attention_mask"], batch["y_attention_mask"], 0),
        token_type_ids=_pad_and_concat(batch["x_token_type_ids"], batch["y_token_type_ids"], 0),
    ).last_hidden_state
    return model.mlm_loss(hidden, _pad_and_concat(batch["x_labels"], batch["y_labels"], -100))


def variant_loss(model, batch, variant):
    if variant == "mlm floor":
        return mlm_floor_loss(model, batch)
    if variant.startswith("cached"):  # "cached:N": gradient caching in mini-batches of N pairs
        return cached_contrastive_loss(model, batch, int(variant.split(":")[1]), lambda: 1.0, contextlib.nullcontext)[0]
    if variant != "uncached":
        model.config.mlm_mode = variant
    return model(**batch).loss


def step(model, optimizer, batch, variant):
    variant_loss(model, batch, variant).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_variants(model, optimizer, batch, args, device, variants=VARIANTS, clock=time.perf_counter):
    """Median step time of each variant, the variants interleaved; `clock` is wall time by default."""
    times = {variant: [] for variant in variants}
    for repeat in range(args.warmup + args.repeats):
        for variant in variants:
            synchronize(device)
            started = clock()
            step(model, optimizer, batch, variant)
            synchronize(device)
            if repeat >= args.warmup:
                times[variant].append(clock() - started)
    return {variant: statistics.median(values) for variant, values in times.items()}


def memory_mib(model, optimizer, batch, variant, device):
    """CUDA: peak allocated over one step. CPU: bytes of the distinct non-parameter tensors saved for backward."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        step(model, optimizer, batch, variant)
        return torch.cuda.max_memory_allocated() / 2**20
    parameters = {parameter.untyped_storage().data_ptr() for parameter in model.parameters()}
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = variant_loss(model, batch, variant)
    loss.backward()
    optimizer.zero_grad(set_to_none=True)
    return sum(saved.values()) / 2**20


def resident_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def step_peak_mib(model, optimizer, batch, variant, device) -> float:
    """Memory of one step after a warm-up step (which allocates the optimizer state): CUDA peak allocated, or on
    CPU the peak resident size over the step minus the resident size before it."""
    step(model, optimizer, batch, variant)
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step(model, optimizer, batch, variant)
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident size
    before = resident_mib("VmRSS")
    step(model, optimizer, batch, variant)
    return resident_mib("VmHWM") - before


def cached_worker(args, device):
    """One measurement in this (fresh) process, printed as JSON: `memory` of args.variant, or `time` of the
    uncached and cached steps interleaved."""
    model = build_model(args, device)
    model.config.mlm_mode = args.mlm_mode
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    batch = {name: tensor.to(device) for name, tensor in make_batch(args, torch.Generator().manual_seed(0)).items()}
    if args.worker == "memory":
        print(json.dumps({"memory_mib": step_peak_mib(model, optimizer, batch, args.variant, device)}))
        return
    # On CPU the process's CPU time on one thread: on a shared machine other jobs' load changes wall time by
    # several times but CPU time little.
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    if device.type == "cpu":
        torch.set_num_threads(1)
    medians = time_variants(model, optimizer, batch, args, device, ("uncached", f"cached:{args.mini_batch_size}"), clock)
    print(json.dumps({variant.split(":")[0]: value for variant, value in medians.items()}))


def cached_sweep(args):
    """Uncached vs gradient-cached steps at every batch size of args.batch_sizes, each measurement in a fresh process."""
    memory_env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")  # for the memory workers only: it slows allocation
    common = [sys.executable, __file__, "--hidden", str(args.hidden), "--layers", str(args.layers), "--vocab",
              str(args.vocab), "--length", str(args.length), "--repeats", str(args.repeats), "--warmup",
              str(args.warmup), "--device", args.device, "--mlm_mode", args.mlm_mode, "--mini_batch_size",
              str(args.mini_batch_size)]

    def measure(*extra):
        env = memory_env if "memory" in extra else None
        completed = subprocess.run([*common, *extra], env=env, capture_output=True, text=True, check=True)
        return json.loads(completed.stdout.strip().splitlines()[-1])

    cached = f"cached:{args.mini_batch_size}"
    started = time.perf_counter()
    print(f"Gradient caching vs the uncached step: BERT hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}, "
          f"≤{args.length} tokens per side, mlm_mode {args.mlm_mode}, mini-batch {args.mini_batch_size} pairs, "
          f"{args.device}, median of {args.repeats} interleaved steps "
          f"({'wall time' if args.device.startswith('cuda') else 'CPU time of the process on 1 thread'})")
    memory_kind = "peak allocated" if args.device.startswith("cuda") else "peak RSS delta"
    print(f"| pairs | uncached step (ms) | cached step (ms) | cached / uncached | uncached {memory_kind} (MiB) | "
          f"cached {memory_kind} (MiB) |")
    print("|---|---|---|---|---|---|")
    for pairs in args.batch_sizes:
        size = ["--pairs", str(pairs)]
        memory = {variant: measure(*size, "--worker", "memory", "--variant", variant)["memory_mib"]
                  for variant in ("uncached", cached)}
        times = measure(*size, "--worker", "time")
        print(f"| {pairs} | {times['uncached'] * 1000:.0f} | {times['cached'] * 1000:.0f} | "
              f"{times['cached'] / times['uncached']:.2f} | {memory['uncached']:.0f} | {memory[cached]:.0f} |",
              flush=True)
    print(f"wall time {time.perf_counter() - started:.0f} s")


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
    if args.cached:
        return cached_sweep(args)
    model = build_model(args, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    batch = {name: tensor.to(device) for name, tensor in make_batch(args, torch.Generator().manual_seed(0)).items()}
    memory = {variant: memory_mib(model, optimizer, batch, variant, device) for variant in VARIANTS}
    medians = time_variants(model, optimizer, batch, args, device)
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


if __name__ == "__main__":
    main()
