#!/usr/bin/env python
"""The users' regime on one machine, in one run of at most 10 minutes on one GPU: writes ``results/gpu.md``.

    python benchmarks/device_check.py                      # on a GPU machine: every part at the issue's sizes
    python benchmarks/device_check.py --cpu --tiny --output /tmp/check.md      # every part, tiny, on the CPU
    python benchmarks/device_check.py --cpu --parts d --multi30k ../shared/data/multi30k --num_proc 1 2 \
        --output results/data_prep_scaling.md              # data_prep throughput on Multi30k, this machine

Parts (`mlctl.experiments.device_check`):
  a. the training step at mBERT-base shape (12 layers, hidden 768, vocabulary 119,547), bfloat16 autocast, 32 / 64
     / 128 pairs × 128 tokens: MLM floor, ML-CTL `shared`, ML-CTL `separate`: median step time, ratio to the
     floor, peak memory (on the CPU: the tensors saved for backward);
  b. gradient caching (mini-batches of 64) against the uncached step at 256 … 4,096 pairs: time ratio and peak
     memory; a size that does not fit is reported as out of memory;
  c. exact search on the device (the blocked float16 matmul on a GPU) against the CPU approximate search (matmul
     IVF) on the same synthetic 100k and 400k × 768 vectors, both directions, k 4: seconds and recall of exact's
     neighbours;
  d. data_prep (eflomal, WordPiece tokenizer) on one corpus (synthetic 50k pairs, or Multi30k's three training
     pairs with --multi30k) at num_proc 1, 2, 4, 8, 16 (up to the machine's cores): pairs/s, efficiency per process.
"""
import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from mlctl.experiments import device_check  # noqa: E402
from mlctl.experiments.provenance import REPO_ROOT, RunRecord  # noqa: E402

PARTS = {
    "a": ("(a) Training step at mBERT-base shape, bfloat16 autocast", device_check.training_step_rows),
    "b": ("(b) Gradient caching against the uncached step", device_check.grad_cache_rows),
    "c": ("(c) Exact search on the device against the CPU approximate search", device_check.retrieval_rows),
    "d": ("(d) data_prep throughput by num_proc", None),
}
MULTI30K_TARGETS = ("de", "fr", "cs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (no GPU needed)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: every part in seconds (the test suite's)")
    parser.add_argument("--parts", default="abcd", help="which parts to run (default: abcd)")
    parser.add_argument("--multi30k", default=None, help="part d on Multi30k's train.{en,de,fr,cs}.gz in this folder")
    parser.add_argument("--num_proc", type=int, nargs="+", default=None, help="part d's process counts")
    parser.add_argument("--output", default=None, help="the note (default: results/gpu.md; with --cpu required)")
    argv = sys.argv if argv is None else argv
    record = RunRecord(argv)
    args = parser.parse_args(argv[1:])
    import torch

    from data_prep import PairSpec

    if not args.cpu and not torch.cuda.is_available():
        print("device_check: error: no CUDA device (pass --cpu to run on the CPU)", file=sys.stderr)
        return 2
    if args.cpu and args.output is None:
        print("device_check: error: pass --output with --cpu (results/gpu.md holds GPU rows only)", file=sys.stderr)
        return 2
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        print(f"device_check: error: --parts {args.parts}: unknown part(s) {''.join(sorted(unknown))}; "
              f"choose from {''.join(PARTS)}", file=sys.stderr)
        return 2
    multi30k = Path(args.multi30k) if args.multi30k else None
    if multi30k is not None and not all((multi30k / f"train.{lang}.gz").is_file() for lang in ("en",) + MULTI30K_TARGETS):
        print(f"device_check: error: {multi30k}: train.{{en,de,fr,cs}}.gz not found", file=sys.stderr)
        return 2
    device = torch.device("cpu" if args.cpu else "cuda")
    sizes = device_check.TINY if args.tiny else device_check.GPU
    if args.num_proc:
        sizes = replace(sizes, num_procs=tuple(args.num_proc))
    machine = torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU only ({os.cpu_count()} cores)"
    sections = []
    for part in sorted(set(args.parts)):
        title, measure = PARTS[part]
        print(f"device_check: part {part} ...", file=sys.stderr, flush=True)
        if part == "d":
            specs = [PairSpec("en", lang, str(multi30k / "train.en.gz"), str(multi30k / f"train.{lang}.gz"))
                     for lang in MULTI30K_TARGETS] if multi30k else None
            corpus = f"Multi30k en–de/fr/cs training files ({multi30k})" if multi30k else \
                f"synthetic en–de, {sizes.corpus_pairs:,} pairs"
            rows = [f"Corpus: {corpus}; eflomal, WordPiece tokenizer trained on it first (not timed).", "",
                    *device_check.data_prep_rows(sizes, specs)]
        else:
            rows = measure(sizes, device)
        sections += [f"## {title}", "", *rows, ""]
    not_measured = "" if device.type == "cuda" else (
        "**No GPU in this run: every device number below is a CPU number (memory: the tensors saved for backward), "
        "not a GPU measurement.**")
    header = ["# Device check" + (" (TINY sizes: a smoke run, not a result)" if args.tiny else ""), "",
              *record.header(), f"- Device: {machine}; torch {torch.__version__}",
              f"- Sizes: {sizes}", "", not_measured, ""]
    output = Path(args.output or REPO_ROOT / "results" / "gpu.md")
    output.write_text("\n".join(header + sections), encoding="utf-8")
    print(output.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
