#!/usr/bin/env python
"""Encoding throughput of `mlctl-mine` (sentences per second), the cost of mining: `mlctl.mining.encode_to_memmap`
(tokenise, encode, pool ``hidden_states[8]`` or the last layer, normalise, write float16 chunks with their progress
record) on the CPU with ``--threads`` torch threads, for two randomly initialised BERT encoders built locally (no
download; throughput does not depend on the weights): the demo's shape (`mlctl.demo.DEMO_ENCODER`, 4 layers,
hidden 128) and mBERT-base's (12 layers, hidden 768, 12 heads, vocabulary 119,547). Both read the same sentences,
the distinct lines of the shipped sample (`data_prep/sample`, en/de/fr/es), tokenised by a WordPiece tokenizer
trained on them as the demo trains its own, so the token counts are the same for both shapes. Writes
``results/mining_encoding.md``.

    python benchmarks/bench_mining_encoding.py                       # 1 thread, every sample sentence
    python benchmarks/bench_mining_encoding.py --limit 200           # a quick run
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig
from transformers import BertModel

from data_prep.reading import read_text_lines
from data_prep.tokenizer import train_wordpiece_tokenizer
from mlctl.demo import DEMO_ENCODER
from mlctl.demo import SAMPLE_DIR
from mlctl.encoding import resolve_layer
from mlctl.experiments.provenance import REPO_ROOT
from mlctl.experiments.provenance import RunRecord
from mlctl.mining import encode_to_memmap

#: bert-base-multilingual-cased's config.json (shape only).
MBERT_BASE = dict(vocab_size=119547, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                  intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)
SHAPES = {"demo (4 layers, hidden 128)": {**DEMO_ENCODER, "vocab_size": 4000},
          "mBERT-base shape (12 layers, hidden 768)": MBERT_BASE}


def sample_sentences() -> list[str]:
    """The distinct non-empty lines of the shipped sample, in file order."""
    lines = (line for path in sorted(SAMPLE_DIR.glob("*-*.*")) for _, line in read_text_lines(path))
    return list(dict.fromkeys(line for line in lines if line.strip()))


def measure(shape: dict, tokenizer, sentences: list[str], batch_size: int, work_dir: Path) -> float:
    """Seconds `encode_to_memmap` takes for `sentences` with a random BERT of `shape` (model building excluded)."""
    torch.manual_seed(0)
    config = BertConfig(**{key: value for key, value in shape.items() if key != "model_type"})
    model = BertModel(config, add_pooling_layer=False).eval()
    layer = resolve_layer(config.num_hidden_layers + 1, None)
    started = time.perf_counter()
    encode_to_memmap(model, tokenizer, sentences, work_dir / "embeddings.npy", layer=layer, pooling="mean",
                     batch_size=batch_size, max_length=None, description="encoding", fingerprint=str(shape))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--limit", type=int, default=None, help="encode only the first N sentences")
    parser.add_argument("--batch_size", type=int, default=64, help="mlctl-mine's default")
    parser.add_argument("--output", default=str(REPO_ROOT / "results" / "mining_encoding.md"))
    args = parser.parse_args(argv)
    record = RunRecord(None if argv is None else ["benchmarks/bench_mining_encoding.py", *argv])
    torch.set_num_threads(args.threads)
    sentences = sample_sentences()[:args.limit]
    tokenizer = train_wordpiece_tokenizer(sentences, vocab_size=4000, model_max_length=128)
    tokens = np.array([len(ids) for ids in tokenizer(sentences)["input_ids"]])
    rows = []
    for name, shape in SHAPES.items():
        with tempfile.TemporaryDirectory() as work_dir:
            seconds = measure(shape, tokenizer, sentences, args.batch_size, Path(work_dir))
        rows.append(f"| {name} | {len(sentences) / seconds:,.1f} | {seconds:.1f} |")
        print(rows[-1], flush=True)
    lines = ["# mlctl-mine: encoding throughput on the CPU", "", *record.header(),
             f"- torch threads: {args.threads}; batch size {args.batch_size}; randomly initialised weights.",
             f"- Sentences: {len(sentences):,} distinct lines of data_prep/sample (en/de/fr/es), "
             f"{tokens.mean():.1f} tokens on average ([CLS] and [SEP] included; longest {tokens.max()}), "
             "WordPiece vocabulary of 4,000 trained on them.", "",
             "| encoder | sentences / s | seconds |", "|---|---|---|", *rows]
    path = Path(args.output)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(path.read_text(encoding="utf-8"))
    return path


if __name__ == "__main__":
    main()
