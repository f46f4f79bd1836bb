"""The corpus-scale driver: stream the corpora in batches through worker processes, align with
eflomal chunk by chunk, write WPS rows to Arrow as they come, save the ``DatasetDict`` and report.

Memory stays flat as the corpus grows: the readers are generators, at most ``2 · num_proc``
batches are in flight, rows go straight to disk, and eflomal (which loads its input) sees at most
``align_chunk_size`` pairs at a time, the rest of the chunk waiting in temporary files.
"""
from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import multiprocessing
import os
import shutil
import time
from collections import Counter, deque
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import datasets
import numpy as np
from tqdm.auto import tqdm

from data_prep.arguments import HubArguments
from data_prep.arguments import range_problem
from data_prep.eflomal_run import eflomal_align
from data_prep.languages import check_language, read_stopword_file, stopwordsiso_words
from data_prep.output_dir import ensure_writable_directory
from data_prep.reading import InputError, PairSpec, SentencePair, read_sentence_pairs
from data_prep.tokenizer import MAX_SEQ_LENGTH
from data_prep.tokenizer import load_auto_fast_tokenizer
from data_prep.tokenizer import vocabulary_sha256
from data_prep.word_pairs import SYMMETRIZATIONS, WordList, load_word_list_dir
from data_prep.wps import (
    ALIGNERS,
    CANDIDATE_DROP_REASONS,
    CHAR_SPAN_COLUMNS,
    PAIR_SKIP_REASONS,
    TEXT_COLUMNS,
    TOKEN_ID_COLUMNS,
    TOKEN_SPAN_COLUMNS,
    Batch,
    BatchResult,
    PairSource,
    WpsBuilder,
    output_columns,
)

logger = logging.getLogger(__name__)

REPORT_NAME = "data_prep_report.json"
SPLITS = ("train", "validation")
#: Temporary files of an eflomal chunk: line index, raw texts, and the space-joined tokens eflomal reads.
EFLOMAL_FILES = ("index", "src", "tgt", "src.tok", "tgt.tok")
#: The working folder inside the out-dir (eflomal chunks, the WPS Arrow files before the save), removed at the end;
#: a killed run leaves it there, and the next run into that out-dir removes it first. Nothing is written beside the
#: out-dir, so a read-only parent does not matter.
WORK_DIR_NAME = ".data_prep-tmp"

_WORKER_BUILDER: WpsBuilder | None = None


def _init_worker(builder: WpsBuilder) -> None:
    """Pool initializer: keep the builder (stop words, word lists, tokenizer) for every task."""
    global _WORKER_BUILDER
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _WORKER_BUILDER = builder


def _build_batch(batch: Batch) -> BatchResult:
    return _WORKER_BUILDER.build(batch)


def _aligner_input(batch: Batch) -> dict[str, bytes]:
    """One batch's lines of the eflomal temporary files (see :data:`EFLOMAL_FILES`)."""
    lines = {name: [] for name in EFLOMAL_FILES}
    for pair, (src_tokens, tgt_tokens) in zip(batch.pairs, _WORKER_BUILDER.aligner_input(batch.pairs)):
        for name, text in zip(EFLOMAL_FILES, (str(pair.index), pair.src, pair.tgt, src_tokens, tgt_tokens)):
            lines[name].append(text)
    return {name: "".join(f"{text}\n" for text in texts).encode("utf-8") for name, texts in lines.items()}


class WorkerPool:
    """Ordered, bounded parallel map over batches; runs in-process when ``num_proc == 1``."""

    def __init__(self, builder: WpsBuilder, num_proc: int):
        self.num_proc = num_proc
        if num_proc == 1:
            _init_worker(builder)
            self.pool = None
        else:
            self.pool = multiprocessing.get_context("fork").Pool(num_proc, _init_worker, (builder,))

    def map(self, function: Callable, items: Iterable) -> Iterator:
        """``map(function, items)`` in order, with at most ``2 · num_proc`` items in flight."""
        if self.pool is None:
            yield from map(function, items)
            return
        in_flight: deque = deque()
        for item in items:
            in_flight.append(self.pool.apply_async(function, (item,)))
            if len(in_flight) >= 2 * self.num_proc:
                yield in_flight.popleft().get()
        while in_flight:
            yield in_flight.popleft().get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


def _batches(source: PairSource, pairs: Iterable[SentencePair], batch_size: int) -> Iterator[Batch]:
    iterator = iter(pairs)
    while chunk := list(itertools.islice(iterator, batch_size)):
        yield Batch(source, chunk)


def _features(with_tokenizer: bool) -> datasets.Features:
    """The output schema: strings, int32 spans, lists of int32 token ids."""
    types = {name: datasets.Value("string") for name in TEXT_COLUMNS}
    types.update({name: datasets.Value("int32") for name in CHAR_SPAN_COLUMNS + TOKEN_SPAN_COLUMNS})
    types.update({name: datasets.List(datasets.Value("int32")) for name in TOKEN_ID_COLUMNS})
    return datasets.Features({name: types[name] for name in output_columns(with_tokenizer)})


def load_fast_tokenizer(tokenizer, max_length: int, hub: HubArguments | None = None) -> tuple[str, dict]:
    """Serialise a fast tokenizer (object, or name/path for ``AutoTokenizer`` loaded at the Hub snapshot ``hub``)
    for the workers, with truncation to ``max_length`` tokens and no padding; also return its report entry (with
    the commit a name resolved to, "local" for a directory, None for an object)."""
    commit = None
    if isinstance(tokenizer, (str, os.PathLike)):
        hub = hub or HubArguments()
        try:
            tokenizer = load_auto_fast_tokenizer(tokenizer, "locating words by character offsets",
                                                 **hub.pretrained_kwargs())
        except ValueError as error:
            raise InputError(f"tokenizer {error}") from None
        commit = hub.resolved_commit(tokenizer.name_or_path, "tokenizer_config.json")
    name = getattr(tokenizer, "name_or_path", type(tokenizer).__name__)
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(f"tokenizer {name}: not a fast tokenizer; character offsets need one")
    backend = copy.deepcopy(tokenizer.backend_tokenizer)
    backend.no_padding()
    backend.enable_truncation(max_length)
    entry = {"name_or_path": str(name), "class": type(tokenizer).__name__, "vocab_size": backend.get_vocab_size(),
             "vocab_sha256": vocabulary_sha256(tokenizer), "max_length": max_length, "commit": commit}
    return backend.to_str(), entry


def _find_word_list(spec: PairSpec, word_lists: Sequence[WordList], word_list_dir: str | None, where: str) -> WordList:
    for word_list in word_lists:
        if (word_list.src_lang, word_list.tgt_lang) == (spec.src_lang, spec.tgt_lang):
            return word_list
        if (word_list.tgt_lang, word_list.src_lang) == (spec.src_lang, spec.tgt_lang):
            return word_list.reversed()
    if word_list_dir is not None:
        word_list = load_word_list_dir(word_list_dir, spec.src_lang, spec.tgt_lang)
        if word_list is not None:
            return word_list
    raise InputError(f"{where}: no word list for {spec.name} (give --word_list {spec.src_lang} {spec.tgt_lang} "
                     f"FILE or a --word_list_dir with {spec.src_lang}_uni.txt and {spec.tgt_lang}_uni.txt)")


#: The range of every numeric option of `build_wps_dataset` (in `data_prep.arguments.arg`'s keys): checked here for
#: Python callers, and the metadata of mlctl-prep's flags, checked when they are parsed.
OPTION_RANGES = {"max_length": {"minimum": 3}, "max_words_per_pair": {"minimum": 1}, "max_phrase_words": {"minimum": 1},
                 "num_proc": {"minimum": 1}, "align_chunk_size": {"minimum": 1}, "batch_size": {"minimum": 1},
                 "validation_fraction": {"minimum": 0, "below": 1}, "num_shards": {"minimum": 1},
                 "shard_index": {"minimum": 0}}


def _check_arguments(pairs, aligner, symmetrization, max_length, max_words_per_pair, max_phrase_words,
                     validation_fraction, num_proc, align_chunk_size, batch_size, num_shards, shard_index) -> None:
    if not pairs:
        raise InputError("no input: give at least one sentence pair source (--pair or --dataset)")
    # In the words of modeling_mlctl's check_choice, which data_prep does not import (it would import torch).
    for name, value, choices in (("aligner", aligner, ALIGNERS), ("symmetrization", symmetrization, SYMMETRIZATIONS)):
        if value not in choices:
            raise InputError(f"{name}={value!r} is not valid; choose one of {', '.join(map(repr, choices))}")
    numbers = dict(max_length=max_length, max_words_per_pair=max_words_per_pair, max_phrase_words=max_phrase_words,
                   num_proc=num_proc, align_chunk_size=align_chunk_size, batch_size=batch_size,
                   validation_fraction=validation_fraction, num_shards=num_shards, shard_index=shard_index)
    for name, value in numbers.items():
        problem = range_problem(value, OPTION_RANGES[name])
        if problem:
            raise InputError(f"{name}={value}: {problem}")
    if shard_index >= num_shards:
        raise InputError(f"--shard_index {shard_index} is out of range for --num_shards {num_shards} "
                         f"(0 to {num_shards - 1})")
    for position, spec in enumerate(pairs, 1):
        where = f"pair {position} {spec.describe()}"
        check_language(spec.src_lang, where)
        check_language(spec.tgt_lang, where)
        if spec.src_lang == spec.tgt_lang:
            raise InputError(f"{where}: source and target language are both {spec.src_lang!r}")
        if (aligner == "pharaoh") != (spec.alignment_path is not None):
            problem = "needs an alignment file" if aligner == "pharaoh" else "has an alignment file"
            raise InputError(f"{where}: {problem} but the aligner is {aligner!r}")


def _read_lines(path: Path) -> Iterator[str]:
    """Lines of a temporary UTF-8 file, split on ``\\n`` only (texts may hold other line breaks)."""
    with open(path, "rb") as stream:
        for raw in stream:
            yield raw[:-1].decode("utf-8")


def _eflomal_aligned_pairs(source: PairSource, pairs: Iterator[SentencePair], pool: WorkerPool, work_dir: Path,
                           align_chunk_size: int, batch_size: int, num_proc: int, progress: dict,
                           timings: Counter) -> Iterator[SentencePair]:
    """Align ``pairs`` with eflomal, ``align_chunk_size`` pairs at a time, and yield them again
    with their forward and reverse links.  A chunk waits in temporary files, not in memory."""
    paths = {name: work_dir / f"eflomal.{name}" for name in EFLOMAL_FILES + ("fwd", "rev")}
    while True:
        started = time.perf_counter()
        count = 0
        with contextlib.ExitStack() as stack:
            files = {name: stack.enter_context(open(paths[name], "wb")) for name in EFLOMAL_FILES}
            bar = stack.enter_context(tqdm(desc=f"segmenting {source.name} for eflomal", unit="pairs", **progress))
            chunk = itertools.islice(pairs, align_chunk_size)
            for blobs in pool.map(_aligner_input, _batches(source, chunk, batch_size)):
                for name, blob in blobs.items():
                    files[name].write(blob)
                count += blobs["index"].count(b"\n")
                bar.update(blobs["index"].count(b"\n"))
        timings["segmentation_for_eflomal"] += time.perf_counter() - started
        if count == 0:
            return
        started = time.perf_counter()
        logger.info("eflomal: aligning %d %s pairs", count, source.name)
        eflomal_align(paths["src.tok"], paths["tgt.tok"], paths["fwd"], paths["rev"], work_dir, threads=num_proc)
        timings["alignment"] += time.perf_counter() - started
        lines = zip(*(_read_lines(paths[name]) for name in ("index", "src", "tgt", "fwd", "rev")))
        for index, src, tgt, forward, reverse in lines:
            yield SentencePair(int(index), src, tgt, forward, reverse)
        if count < align_chunk_size:
            return


def build_wps_dataset(
    pairs: Sequence[PairSpec],
    out_dir: str | os.PathLike,
    *,
    aligner: str = "eflomal",
    symmetrization: str = "intersection",
    word_lists: Sequence[WordList] = (),
    word_list_dir: str | None = None,
    stopword_files: dict[str, str] | None = None,
    tokenizer=None,
    max_length: int = MAX_SEQ_LENGTH,
    max_words_per_pair: int = 4,
    max_phrase_words: int = 4,
    validation_fraction: float = 0.01,
    seed: int = 0,
    num_proc: int = 1,
    align_chunk_size: int = 500_000,
    batch_size: int = 1000,
    show_progress: bool | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    hub: HubArguments | None = None,
) -> datasets.DatasetDict:
    """Build word positioned samples (WPS) from parallel corpora and save them to ``out_dir``.

    Args:
        pairs: the corpora (:class:`~data_prep.PairSpec`), any number of language pairs.
        out_dir: where the ``DatasetDict`` (splits ``train`` and ``validation``) and
            ``data_prep_report.json`` are written; created if missing.
        aligner: word-pair source: ``"eflomal"`` (align the corpus), ``"pharaoh"`` (each
            PairSpec's ``alignment_path``) or ``"word-list"`` (``word_lists`` / ``word_list_dir``).
        symmetrization: how eflomal's two directions are combined: ``"intersection"`` or
            ``"grow-diag-final-and"``.
        word_lists: bilingual lists, used for a pair in either direction.
        word_list_dir: directory of line-parallel lists ``{lang}_uni.txt`` (or ``{lang}.txt``).
        stopword_files: ``{lang: path}``, a file (one word per line) replacing stopwords-iso's list.
        tokenizer: a fast tokenizer, or a name/path for ``AutoTokenizer``; adds token columns.
        max_length: tokens per sentence, special tokens included; longer sentences are truncated.
        max_words_per_pair: most WPS kept per sentence pair (a seeded sample).
        max_phrase_words: longest phrase (in words, either side) built from aligned links.
        validation_fraction: share of the distinct sentence pairs whose WPS go to ``validation``
            (:func:`~data_prep.wps.in_validation_split`: every copy of a pair on one side).
        seed: seeds the sampling and the split (not eflomal, which takes no seed: see ``--seed`` in ``--help``).
        num_proc: worker processes (and eflomal threads).
        align_chunk_size: pairs eflomal aligns at once (its memory grows with this).
        batch_size: sentence pairs per worker task.
        show_progress: tqdm bars; None shows them on a terminal only.
        num_shards: cut every corpus into this many shards by sentence pair (line), as
            ``datasets.Dataset.shard(num_shards, shard_index, contiguous=True)`` does, and build only shard
            ``shard_index``; each line keeps its index in the whole corpus, so its WPS and its split are the ones a
            single run gives it, and ``python -m data_prep merge`` (`data_prep.merge`) joins the shards.
        shard_index: the shard to build, 0 to ``num_shards - 1``.
        hub: the Hub snapshot (revision, token, cache directory) a tokenizer name is loaded from; the commit it
            resolves to is recorded in the report.

    Returns:
        The saved ``DatasetDict``, loaded back from ``out_dir``.

    Raises:
        InputError: bad input; the message names the file, the line and the problem.
    """
    started = time.perf_counter()
    pairs = list(pairs)
    _check_arguments(pairs, aligner, symmetrization, max_length, max_words_per_pair, max_phrase_words,
                     validation_fraction, num_proc, align_chunk_size, batch_size, num_shards, shard_index)
    try:
        out_dir = ensure_writable_directory(out_dir)
    except ValueError as error:
        raise InputError(f"--output_dir {error}") from None
    stopword_files = dict(stopword_files or {})
    languages = sorted({lang for spec in pairs for lang in (spec.src_lang, spec.tgt_lang)})
    for lang in stopword_files:
        check_language(lang, f"stop-word file {stopword_files[lang]}")
    stopwords = {lang: read_stopword_file(stopword_files[lang]) if lang in stopword_files else stopwordsiso_words(lang)
                 for lang in languages}
    lists = {}
    if aligner == "word-list":
        lists = {position: _find_word_list(spec, word_lists, word_list_dir, f"pair {position + 1}")
                 for position, spec in enumerate(pairs)}
    tokenizer_json, tokenizer_entry = load_fast_tokenizer(tokenizer, max_length, hub) if tokenizer is not None else (None, None)
    builder = WpsBuilder(aligner, symmetrization, stopwords, max_words_per_pair, max_phrase_words, seed,
                         validation_fraction, lists, tokenizer_json, max_length)

    progress = {"disable": None if show_progress is None else not show_progress}
    work_dir = out_dir / WORK_DIR_NAME
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(exist_ok=True)
    try:
        report_pairs = _write_wps_files(pairs, builder, work_dir, num_proc=num_proc, align_chunk_size=align_chunk_size,
                                        batch_size=batch_size, progress=progress, shard=(num_shards, shard_index))
        save_splits(datasets.DatasetDict({split: datasets.Dataset.from_file(str(work_dir / f"{split}.arrow"))
                                          for split in SPLITS}), out_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    report = {
        "aligner": aligner,
        "symmetrization": symmetrization if aligner == "eflomal" else None,
        "max_words_per_pair": max_words_per_pair,
        "max_phrase_words": max_phrase_words,
        "validation_fraction": validation_fraction,
        "seed": seed,
        "num_proc": num_proc,
        "stopwords": {lang: {"source": stopword_files.get(lang, "stopwords-iso"), "count": len(stopwords[lang])}
                      for lang in languages},
        "pairs": report_pairs,
        "totals": report_totals(report_pairs),
        "seconds_total": round(time.perf_counter() - started, 3),
    }
    if tokenizer_entry is not None:
        report["tokenizer"] = tokenizer_entry
    if num_shards > 1:
        report["shard"] = {"num_shards": num_shards, "shard_index": shard_index}
    write_report(out_dir, report)
    return datasets.load_from_disk(str(out_dir))


def write_report(out_dir: Path, report: dict) -> None:
    """Writes `report` as `out_dir`'s data_prep_report.json (`REPORT_NAME`)."""
    (out_dir / REPORT_NAME).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def save_splits(dataset: datasets.DatasetDict, out_dir: Path) -> None:
    """Saves the train/validation `dataset` to `out_dir` (``load_from_disk`` layout); an empty split as one empty
    shard, or ``load_from_disk`` fails on it."""
    dataset.save_to_disk(str(out_dir), num_shards={split: 1 for split in SPLITS if len(dataset[split]) == 0})


def _write_wps_files(pairs: list[PairSpec], builder: WpsBuilder, work_dir: Path, *, num_proc: int,
                     align_chunk_size: int, batch_size: int, progress: dict, shard: tuple[int, int]) -> list[dict]:
    """Stream every corpus (its lines of `shard`: number of shards, index) through the workers into
    ``work_dir/{train,validation}.arrow``; return the per-corpus report entries."""
    features = _features(builder.tokenizer_json is not None)
    writers = {split: datasets.arrow_writer.ArrowWriter(features=features, path=str(work_dir / f"{split}.arrow"))
               for split in SPLITS}
    report_pairs = []
    pool = WorkerPool(builder, num_proc)
    try:
        for position, spec in enumerate(pairs):
            pair_started = time.perf_counter()
            source = PairSource(position, spec.src_lang, spec.tgt_lang, spec.alignment_path)
            pair_counts, candidate_counts, seconds, timings = Counter(), Counter(), Counter(), Counter()
            wps_per_split, pairs_read, pair_digests = Counter(), Counter(), []
            sentence_pairs = read_sentence_pairs(spec, pair_counts, shard)
            if builder.aligner == "eflomal":
                sentence_pairs = _eflomal_aligned_pairs(source, sentence_pairs, pool, work_dir, align_chunk_size,
                                                        batch_size, num_proc, progress, timings)
            with tqdm(desc=f"building WPS {spec.name}", unit="pairs", **progress) as bar:
                counted = _counted(sentence_pairs, bar, pairs_read)
                for batch_result in pool.map(_build_batch, _batches(source, counted, batch_size)):
                    for split, columns in batch_result.splits.items():
                        if columns:
                            writers[split].write_batch(columns)
                            wps_per_split[split] += len(columns["src_text"])
                    pair_counts.update(batch_result.pair_counts)
                    pair_digests.append(batch_result.pair_digests)
                    candidate_counts.update(batch_result.candidate_counts)
                    seconds.update(batch_result.seconds)
            timings["total"] = time.perf_counter() - pair_started
            distinct_pairs = np.unique(np.concatenate(pair_digests)).size if pair_digests else 0
            pair_counts["duplicate_pairs"] = pairs_read["pairs"] - distinct_pairs
            report_pairs.append(_pair_report(spec, pairs_read["pairs"], pair_counts, candidate_counts, wps_per_split,
                                             timings, seconds))
    finally:
        pool.close()
        for writer in writers.values():
            writer.finalize()
    return report_pairs


def _counted(pairs: Iterable[SentencePair], bar, counter: Counter) -> Iterator[SentencePair]:
    """Pass ``pairs`` through, counting them in ``counter["pairs"]`` and on the progress bar."""
    for pair in pairs:
        counter["pairs"] += 1
        bar.update(1)
        yield pair


def _pair_report(spec: PairSpec, pairs_read: int, pair_counts: Counter, candidate_counts: Counter,
                 wps_per_split: Counter, timings: Counter, seconds: Counter) -> dict:
    """The report entry of one corpus. ``candidates`` (alignment links, or word-list matches) =
    sum of ``candidates_dropped`` + ``merged_into_phrase`` + ``wps_written``; ``duplicate_pairs`` (in
    ``pair_counts``) = pairs read that repeat an earlier pair of the corpus (their WPS are on its side of the split)."""
    candidates = Counter(candidate_counts)
    total, written, merged = candidates["candidates"], candidates["wps_written"], candidates["merged_into_phrase"]
    source = {"src_path": spec.src_path, "tgt_path": spec.tgt_path} if spec.dataset is None else {"dataset": spec.dataset_name()}
    if spec.alignment_path is not None:
        source["alignment_path"] = spec.alignment_path
    return {
        "src_lang": spec.src_lang,
        "tgt_lang": spec.tgt_lang,
        **source,
        "lines_read": pairs_read + pair_counts["empty_line"],
        "pairs_read": pairs_read,
        "duplicate_pairs": pair_counts["duplicate_pairs"],
        "pairs_skipped": {reason: pair_counts[reason] for reason in PAIR_SKIP_REASONS},
        "pairs_with_wps": pair_counts["pairs_with_wps"],
        "candidates": total,
        "candidates_dropped": {reason: candidates[reason] for reason in CANDIDATE_DROP_REASONS},
        "merged_into_phrase": merged,
        "wps_written": written,
        "wps_per_split": {split: wps_per_split[split] for split in SPLITS},
        "wps_per_pair": wps_per_pair(written, pairs_read),
        "seconds": {name: round(value, 3) for name, value in sorted(timings.items())},
        "worker_seconds": {name: round(value, 3) for name, value in sorted(seconds.items())},
    }


def wps_per_pair(wps_written: int, pairs_read: int) -> float:
    """The report's WPS per sentence pair read (0 without pairs)."""
    return round(wps_written / pairs_read, 3) if pairs_read else 0.0


def report_totals(report_pairs: list[dict]) -> dict:
    """Sums over all corpora of the report's counts."""
    totals: dict = {key: sum(entry[key] for entry in report_pairs) for key in (
        "lines_read", "pairs_read", "duplicate_pairs", "pairs_with_wps", "candidates", "merged_into_phrase",
        "wps_written")}
    for key in ("pairs_skipped", "candidates_dropped", "wps_per_split"):
        totals[key] = {reason: sum(entry[key][reason] for entry in report_pairs) for reason in report_pairs[0][key]}
    return totals
