"""data_prep throughput per stage at 1 and 2 processes, and peak memory at 10k and 80k pairs.

    .venv/bin/python benchmarks/bench_data_prep.py            # Multi30k en–de from ../shared/data
    .venv/bin/python benchmarks/bench_data_prep.py --pairs 5000 --skip-memory

Stages, each timed on the same sentence pairs, side by side:
  reading        read_sentence_pairs over the two .gz files (one stream: 1 process only)
  segmentation   data_prep.segment on both sides
  alignment      eflomal on the segmented text (OpenMP threads = processes)
  WPS building   candidates, filters, phrases, dedupe, sampling, rows (given eflomal's links)
  tokenisation   fast-tokenizer encoding and character → token spans
The worker stages run through data_prep's own WorkerPool; a stage's time is the wall-clock
difference between running the pipeline up to it and up to the stage before, so per-process
overheads (pickling batches) are included where they belong.

Peak memory: a fresh process runs the whole build_wps_dataset (eflomal, tokenizer) on 10k and on
80k pairs (Multi30k en–de repeated), with ``align_chunk_size`` 10k (flat) and with the default
500k (one chunk at 80k pairs: eflomal holds the whole corpus); it reports its own peak RSS and its largest child's
(workers, the eflomal binary).
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from data_prep import PairSpec, build_wps_dataset  # noqa: E402
from data_prep.languages import stopwordsiso_words  # noqa: E402
from data_prep.pipeline import WorkerPool, _build_batch, _omp_threads, load_fast_tokenizer  # noqa: E402
from data_prep.reading import SentencePair, read_sentence_pairs  # noqa: E402
from data_prep.tokenizer import train_wordpiece_tokenizer  # noqa: E402
from data_prep.wps import Batch, PairSource, WpsBuilder  # noqa: E402

DATA = REPO_ROOT.parent / "shared" / "data" / "multi30k"
BATCH_SIZE = 1000


def _segment_only(batch: Batch) -> int:
    """Stage 1: segmentation of both sides (the worker's builder is the pool's)."""
    from data_prep import pipeline

    builder = pipeline._WORKER_BUILDER
    return sum(len(builder.tokens(pair.src)) + len(builder.tokens(pair.tgt)) for pair in batch.pairs)


#: Stages 1–2 (builder without tokenizer) or 1–3 (with): the pipeline's own worker function.
_build = _build_batch


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


def stage_throughput(n_pairs: int, work_dir: Path) -> list[tuple[str, float, float | None]]:
    """Pairs per second per stage at 1 and 2 processes."""
    import eflomal

    spec = PairSpec("en", "de", str(DATA / "train.en.gz"), str(DATA / "train.de.gz"))
    started = time.perf_counter()
    pairs = list(itertools.islice(read_sentence_pairs(spec, Counter()), n_pairs))
    reading = len(pairs) / (time.perf_counter() - started)

    stopwords = {lang: stopwordsiso_words(lang) for lang in ("en", "de")}
    plain = WpsBuilder("eflomal", "intersection", stopwords, 4, 4, 0, 0.01)
    texts = (text for pair in pairs for text in (pair.src, pair.tgt))
    train_wordpiece_tokenizer(texts, vocab_size=16000).save_pretrained(work_dir / "tok")
    tokenizer_json, _ = load_fast_tokenizer(str(work_dir / "tok"), 128)
    tokenized = WpsBuilder("eflomal", "intersection", stopwords, 4, 4, 0, 0.01, {}, tokenizer_json, 128)

    src_file, tgt_file = work_dir / "src.tok", work_dir / "tgt.tok"
    lines = plain.aligner_input(pairs)
    src_file.write_text("".join(f"{s}\n" for s, _ in lines), encoding="utf-8")
    tgt_file.write_text("".join(f"{t}\n" for _, t in lines), encoding="utf-8")
    alignment = {}
    for num_proc in (1, 2):
        started = time.perf_counter()
        with open(src_file, encoding="utf-8") as src, open(tgt_file, encoding="utf-8") as tgt, _omp_threads(num_proc):
            eflomal.Aligner().align(src, tgt, links_filename_fwd=str(work_dir / "fwd"),
                                    links_filename_rev=str(work_dir / "rev"), quiet=True)
        alignment[num_proc] = len(pairs) / (time.perf_counter() - started)
    forward = (work_dir / "fwd").read_text(encoding="utf-8").splitlines()
    reverse = (work_dir / "rev").read_text(encoding="utf-8").splitlines()
    aligned = [SentencePair(p.index, p.src, p.tgt, f, r) for p, f, r in zip(pairs, forward, reverse)]
    source = PairSource(0, "en", "de")
    batches = [Batch(source, aligned[i:i + BATCH_SIZE]) for i in range(0, len(aligned), BATCH_SIZE)]

    rates = {}
    for num_proc in (1, 2):
        segmentation = _timed_map(plain, _segment_only, batches, num_proc)
        up_to_wps = _timed_map(plain, _build, batches, num_proc)
        up_to_tokens = _timed_map(tokenized, _build, batches, num_proc)
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


def _peak_anonymous_rss(peak: dict, stop: threading.Event) -> None:
    """Sample this process's anonymous memory (RssAnon: heap, not the page cache that memory-mapped
    Arrow files add to RSS) every 20 ms; keep the maximum in ``peak["mib"]``."""
    while not stop.wait(0.02):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    peak["mib"] = max(peak.get("mib", 0.0), int(line.split()[1]) / 1024)


def memory_child(n_pairs: int, align_chunk_size: int, work_dir: str) -> None:
    """Run in a fresh process: the whole pipeline on ``n_pairs``; print peak memory as JSON."""
    work = Path(work_dir)
    corpus = {}
    for lang in ("en", "de"):
        with gzip.open(DATA / f"train.{lang}.gz", "rt", encoding="utf-8") as stream:
            lines = stream.read().splitlines()
        path = work / f"corpus.{n_pairs}.{lang}"
        path.write_text("".join(f"{line}\n" for line in itertools.islice(itertools.cycle(lines), n_pairs)),
                        encoding="utf-8")
        corpus[lang] = str(path)
    peak, stop = {}, threading.Event()
    sampler = threading.Thread(target=_peak_anonymous_rss, args=(peak, stop), daemon=True)
    sampler.start()
    started = time.perf_counter()
    build_wps_dataset([PairSpec("en", "de", corpus["en"], corpus["de"])], work / f"out.{n_pairs}.{align_chunk_size}",
                      tokenizer=str(work / "tok"), num_proc=2, align_chunk_size=align_chunk_size, show_progress=False)
    stop.set()
    sampler.join()
    print(json.dumps({"anonymous_mib": peak["mib"], "self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "children_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "seconds": time.perf_counter() - started}))


def peak_memory(work_dir: Path) -> list[tuple[int, int, dict]]:
    results = []
    for align_chunk_size, n_pairs in ((10_000, 10_000), (10_000, 80_000), (500_000, 80_000)):
        completed = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n_pairs), str(align_chunk_size), str(work_dir)],
            capture_output=True, text=True, check=True,
        )
        results.append((align_chunk_size, n_pairs, json.loads(completed.stdout.strip().splitlines()[-1])))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="data_prep stage throughput and peak memory")
    parser.add_argument("--pairs", type=int, default=20_000, help="sentence pairs for the throughput runs")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--memory-child", nargs=3, metavar=("PAIRS", "ALIGN_CHUNK", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(int(args.memory_child[0]), int(args.memory_child[1]), args.memory_child[2])
        return
    if not DATA.is_dir():
        sys.exit(f"error: {DATA}: not found (this benchmark reads Multi30k from the shared data folder)")
    with tempfile.TemporaryDirectory(prefix="bench_data_prep-") as tmp:
        work_dir = Path(tmp)
        if not args.skip_throughput:
            rows = stage_throughput(args.pairs, work_dir)
            load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
            print(f"Multi30k en–de, {args.pairs:,} sentence pairs, {os.cpu_count()} CPU cores, load average after: {load}")
            print(f"{'stage':<22}{'1 process':>14}{'2 processes':>14}{'speed-up':>10}   (sentence pairs / s)")
            for name, one, two in rows:
                two_text = f"{two:14,.0f}{two / one:10.2f}" if two is not None else f"{'(one stream)':>14}{'':>10}"
                print(f"{name:<22}{one:14,.0f}{two_text}")
        if not args.skip_memory:
            if not (work_dir / "tok").is_dir():
                with gzip.open(DATA / "train.en.gz", "rt", encoding="utf-8") as stream:
                    train_wordpiece_tokenizer(stream.read().splitlines(), vocab_size=16000).save_pretrained(work_dir / "tok")
            print("\npeak memory, whole pipeline (eflomal + tokenizer, 2 processes), fresh process per row;")
            print("main anonymous = heap of the main process (RssAnon, sampled); main RSS adds the memory-mapped")
            print("Arrow pages save_to_disk reads (page cache, grows with the output); child = largest worker / eflomal")
            print(f"{'align_chunk_size':>17}{'pairs':>9}{'main anonymous MiB':>20}{'main RSS MiB':>14}"
                  f"{'child MiB':>11}{'seconds':>9}")
            for align_chunk_size, n_pairs, result in peak_memory(work_dir):
                print(f"{align_chunk_size:>17,}{n_pairs:>9,}{result['anonymous_mib']:>20.0f}{result['self_mib']:>14.0f}"
                      f"{result['children_mib']:>11.0f}{result['seconds']:>9.1f}")


if __name__ == "__main__":
    main()
