"""data_prep's stages timed one by one on the same sentence pairs at 1 and 2 processes, for `bench_data_prep.py`:
reading, segmentation, eflomal alignment, WPS building and tokenisation. The worker stages run through data_prep's own
WorkerPool; a stage's time is the wall-clock difference between running the pipeline up to it and up to the stage
before, so per-process overheads (pickling batches) are included where they belong."""
from __future__ import annotations

import itertools
import time
from collections import Counter
from pathlib import Path

from data_prep import PairSpec, pipeline
from data_prep.languages import stopwordsiso_words
from data_prep.pipeline import WorkerPool, load_fast_tokenizer
from data_prep.reading import SentencePair, read_sentence_pairs
from data_prep.tokenizer import train_wordpiece_tokenizer
from data_prep.wps import Batch, PairSource, WpsBuilder
from mlctl.experiments.eflomal_links import eflomal_links

#: Sentence pairs per worker task, as data_prep's default.
BATCH_SIZE = 1000


def _segment_only(batch: Batch) -> int:
    """Stage 1: segmentation of both sides (the worker's builder is the pool's)."""
    builder = pipeline._WORKER_BUILDER
    return sum(len(builder.tokens(pair.src)) + len(builder.tokens(pair.tgt)) for pair in batch.pairs)


def _timed_map(builder: WpsBuilder, function, batches: list[Batch], num_proc: int) -> float:
    pool = WorkerPool(builder, num_proc)
    try:
        if pool.pool is not None:  # warm the workers up before timing
            list(pool.map(_segment_only, batches[:num_proc]))
        started = time.perf_counter()
        for _ in pool.map(function, batches):
            pass
        return time.perf_counter() - started
    finally:
        pool.close()


def stage_throughput(spec: PairSpec, n_pairs: int, work_dir: Path) -> list[tuple[str, float, float | None]]:
    """(stage, pairs per second at 1 process, at 2 processes or None) on the first `n_pairs` pairs of `spec`
    (English–German: the stop words); the WordPiece tokenizer trained on them is left in `work_dir / "tok"`."""
    started = time.perf_counter()
    pairs = list(itertools.islice(read_sentence_pairs(spec, Counter()), n_pairs))
    reading = len(pairs) / (time.perf_counter() - started)

    stopwords = {lang: stopwordsiso_words(lang) for lang in ("en", "de")}
    plain = WpsBuilder("eflomal", "intersection", stopwords, 4, 4, 0, 0.01)
    texts = (text for pair in pairs for text in (pair.src, pair.tgt))
    train_wordpiece_tokenizer(texts, vocab_size=16000).save_pretrained(work_dir / "tok")
    tokenizer_json, _ = load_fast_tokenizer(str(work_dir / "tok"), 128)
    tokenized = WpsBuilder("eflomal", "intersection", stopwords, 4, 4, 0, 0.01, {}, tokenizer_json, 128)

    src_lines, tgt_lines = zip(*plain.aligner_input(pairs))
    alignment = {}
    for num_proc in (1, 2):
        started = time.perf_counter()
        forward, reverse = eflomal_links(src_lines, tgt_lines, threads=num_proc)
        alignment[num_proc] = len(pairs) / (time.perf_counter() - started)
    aligned = [SentencePair(p.index, p.src, p.tgt, f, r) for p, f, r in zip(pairs, forward, reverse)]
    source = PairSource(0, "en", "de")
    batches = [Batch(source, aligned[i:i + BATCH_SIZE]) for i in range(0, len(aligned), BATCH_SIZE)]

    rates = {}
    for num_proc in (1, 2):
        segmentation = _timed_map(plain, _segment_only, batches, num_proc)
        up_to_wps = _timed_map(plain, pipeline._build_batch, batches, num_proc)
        up_to_tokens = _timed_map(tokenized, pipeline._build_batch, batches, num_proc)
        rates[num_proc] = {
            "segmentation": len(pairs) / segmentation,
            "WPS building": len(pairs) / max(up_to_wps - segmentation, 1e-9),
            "tokenisation": len(pairs) / max(up_to_tokens - up_to_wps, 1e-9),
            "all worker stages": len(pairs) / up_to_tokens,
        }
    rows = [("reading", reading, None), ("segmentation", rates[1]["segmentation"], rates[2]["segmentation"]),
            ("alignment (eflomal)", alignment[1], alignment[2])]
    rows += [(name, rates[1][name], rates[2][name]) for name in ("WPS building", "tokenisation", "all worker stages")]
    return rows
