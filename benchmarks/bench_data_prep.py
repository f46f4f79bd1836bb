"""data_prep throughput per stage at 1 and 2 processes, and peak memory at 10k and 80k pairs.

    python benchmarks/bench_data_prep.py            # Multi30k en–de from ../shared/data
    python benchmarks/bench_data_prep.py --pairs 5000 --skip-memory
    python benchmarks/bench_data_prep.py --pairs 2000 --memory-pairs 2000   # smallest

Stages (`mlctl.experiments.data_prep_stages`), each timed on the same sentence pairs, side by side:
  reading        read_sentence_pairs over the two .gz files (one stream: 1 process only)
  segmentation   data_prep.segment on both sides
  alignment      eflomal on the segmented text (OpenMP threads = processes)
  WPS building   candidates, filters, phrases, dedupe, sampling, rows (given eflomal's links)
  tokenisation   fast-tokenizer encoding and character → token spans

Peak memory: a fresh process runs the whole build_wps_dataset (eflomal, tokenizer) on 10k and on
80k pairs (Multi30k en–de repeated), with ``align_chunk_size`` 10k (flat) and with the default
500k (one chunk at 80k pairs: eflomal holds the whole corpus); it reports its own peak RSS and its largest child's
(workers, the eflomal binary). That process imports data_prep alone: ``mlctl`` (and torch with it) is imported only
where the parent needs it, so that it adds nothing to the memory measured.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

from data_prep import PairSpec, build_wps_dataset
from data_prep.reading import read_text_lines
from data_prep.tokenizer import train_wordpiece_tokenizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "multi30k"
#: (align_chunk_size, pairs) of the memory runs, with --memory-pairs N standing for 10k and 8·N for 80k.
MEMORY_RUNS = ((10_000, 1), (10_000, 8), (500_000, 8))


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
        lines = [line for _, line in read_text_lines(DATA / f"train.{lang}.gz")]
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


def peak_memory(work_dir: Path, memory_pairs: int) -> list[tuple[int, int, dict]]:
    """(align_chunk_size, pairs, memory_child's measurements) of each of MEMORY_RUNS, each in a fresh process."""
    from mlctl.experiments.measurement import fresh_process_json

    runs = [(align_chunk_size, memory_pairs * scale) for align_chunk_size, scale in MEMORY_RUNS]
    return [(align_chunk_size, n_pairs, fresh_process_json(
        [__file__, "--memory-child", str(n_pairs), str(align_chunk_size), str(work_dir)]))
        for align_chunk_size, n_pairs in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description="data_prep stage throughput and peak memory")
    parser.add_argument("--pairs", type=int, default=20_000, help="sentence pairs for the throughput runs")
    parser.add_argument("--memory-pairs", type=int, default=10_000, help="pairs of the smallest memory run")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--memory-child", nargs=3, metavar=("PAIRS", "ALIGN_CHUNK", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # (also for the 1-process tokenisation stage)
    if args.memory_child:
        memory_child(int(args.memory_child[0]), int(args.memory_child[1]), args.memory_child[2])
        return
    if not DATA.is_dir():
        sys.exit(f"error: {DATA}: not found (this benchmark reads Multi30k from the shared data folder)")
    from mlctl.experiments.data_prep_stages import stage_throughput
    from mlctl.experiments.provenance import RunRecord

    record = RunRecord()
    with tempfile.TemporaryDirectory(prefix="bench_data_prep-") as tmp:
        work_dir = Path(tmp)
        if not args.skip_throughput:
            spec = PairSpec("en", "de", str(DATA / "train.en.gz"), str(DATA / "train.de.gz"))
            rows = stage_throughput(spec, args.pairs, work_dir)
            print(f"Multi30k en–de, {args.pairs:,} sentence pairs")
            print(f"{'stage':<22}{'1 process':>14}{'2 processes':>14}{'speed-up':>10}   (sentence pairs / s)")
            for name, one, two in rows:
                two_text = f"{two:14,.0f}{two / one:10.2f}" if two is not None else f"{'(one stream)':>14}{'':>10}"
                print(f"{name:<22}{one:14,.0f}{two_text}")
        if not args.skip_memory:
            if not (work_dir / "tok").is_dir():
                lines = (line for _, line in read_text_lines(DATA / "train.en.gz"))
                train_wordpiece_tokenizer(lines, vocab_size=16000).save_pretrained(work_dir / "tok")
            print("\npeak memory, whole pipeline (eflomal + tokenizer, 2 processes), fresh process per row;")
            print("main anonymous = heap of the main process (RssAnon, sampled); main RSS adds the memory-mapped")
            print("Arrow pages save_to_disk reads (page cache, grows with the output); child = largest worker / eflomal")
            print(f"{'align_chunk_size':>17}{'pairs':>9}{'main anonymous MiB':>20}{'main RSS MiB':>14}"
                  f"{'child MiB':>11}{'seconds':>9}")
            for align_chunk_size, n_pairs, result in peak_memory(work_dir, args.memory_pairs):
                print(f"{align_chunk_size:>17,}{n_pairs:>9,}{result['anonymous_mib']:>20.0f}{result['self_mib']:>14.0f}"
                      f"{result['children_mib']:>11.0f}{result['seconds']:>9.1f}")
    print("\n".join(record.header()))


if __name__ == "__main__":
    main()
