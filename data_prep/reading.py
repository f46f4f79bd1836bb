"""Streaming readers for line-aligned corpora, datasets with a ``translation`` column, and
Pharaoh alignment files.

Everything here is a generator: nothing holds more than one line per input in memory.  Bad input
raises :class:`InputError` whose message is one line of the form ``FILE:LINE: problem``.

:func:`read_text_lines` and :class:`InputError` are the project's one UTF-8 line reader and one input-error type:
data preparation, mining, alignment and the XTREME readers all read text files through them.
"""
from __future__ import annotations

import gzip
import io
import itertools
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterator

GZIP_MAGIC = b"\x1f\x8b"
#: What a byte that is not UTF-8 becomes when decoded with ``errors="surrogateescape"``.
UNDECODABLE_BYTE = re.compile("[\udc80-\udcff]")


class InputError(ValueError):
    """Bad input (a file, a line of it, an argument). The message is a single line naming the file, the line and the
    problem: ``FILE:LINE: problem``, or ``FILE: problem`` when no one line is at fault."""


def read_text_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` from a UTF-8 text file, plain or gzip (detected by its magic
    bytes), line numbers from 1, a leading BOM removed. Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (Python's
    universal newlines, as ``open()`` reads text and XTREME's readers read their files), so no text holds a line
    break: a file with old Mac line endings is not one merged line with raw ``\\r`` inside.

    Raises :class:`InputError` for a missing or unreadable file, undecodable bytes or corrupt gzip data.
    """
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    line_number = 0
    try:
        with open(path, "rb") as probe:
            is_gzip = probe.read(2) == GZIP_MAGIC
        with (gzip.open(path, "rb") if is_gzip else open(path, "rb")) as stream:
            # surrogateescape keeps undecodable bytes as lone surrogates, found below with their line number.
            lines = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline=None)
            for line_number, text in enumerate(lines, 1):
                undecodable = UNDECODABLE_BYTE.search(text)
                if undecodable:
                    raw = text.encode("utf-8", "surrogateescape")
                    start = len(text[:undecodable.start()].encode("utf-8", "surrogateescape"))
                    raise InputError(f"{path}:{line_number}: undecodable bytes (not UTF-8) at byte {start}: "
                                     f"{raw[start:start + 4]!r}")
                if line_number == 1:
                    text = text.removeprefix("\ufeff")
                yield line_number, text.removesuffix("\n")
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise InputError(f"{path}:{line_number + 1}: corrupt gzip data ({error})") from None
    except OSError as error:  # after BadGzipFile, which is one
        raise InputError(f"{path}: cannot read: {error.strerror}") from None


@dataclass(frozen=True)
class PairSpec:
    """One parallel corpus of a language pair.

    Give either ``src_path`` and ``tgt_path`` (line-aligned text files, plain or ``.gz``) or
    ``dataset``: a ``datasets.Dataset``, a directory written by ``save_to_disk`` or a Hub dataset
    name, whose ``translation`` column holds ``{src_lang: ..., tgt_lang: ...}`` dicts (Hub datasets
    are streamed).  ``alignment_path`` is a Pharaoh file with one line per input line, used when
    the aligner is ``"pharaoh"``.
    """

    src_lang: str
    tgt_lang: str
    src_path: str | None = None
    tgt_path: str | None = None
    dataset: Any = None
    dataset_split: str = "train"
    dataset_config: str | None = None
    alignment_path: str | None = None

    def __post_init__(self):
        has_files = self.src_path is not None and self.tgt_path is not None
        if has_files == (self.dataset is not None):
            raise InputError(f"{self.describe()}: give either src_path and tgt_path, or dataset")

    @property
    def name(self) -> str:
        """``"src-tgt"``, e.g. ``"en-de"``."""
        return f"{self.src_lang}-{self.tgt_lang}"

    def describe(self) -> str:
        """Where the pair comes from, for messages."""
        if self.dataset is None:
            return f"{self.name} ({self.src_path}, {self.tgt_path})"
        return f"{self.name} ({self.dataset_name()})"

    def dataset_name(self) -> str:
        """The dataset as named in messages: ``name[split]``."""
        name = self.dataset if isinstance(self.dataset, str) else "dataset"
        return f"{name}[{self.dataset_split}]"


@dataclass(frozen=True)
class SentencePair:
    """One non-empty input line pair: ``index`` is its 0-based input line; ``links`` its Pharaoh
    line (a Pharaoh file, or eflomal's forward links) and ``reverse_links`` eflomal's reverse links."""

    index: int
    src: str
    tgt: str
    links: str | None = None
    reverse_links: str | None = None


def zip_line_aligned(named_streams: list[tuple[str, Iterator[tuple[int, str]]]]) -> Iterator[tuple[str, ...]]:
    """Zip ``(line_number, text)`` streams that must have equal line counts; yield the texts.

    Raises :class:`InputError` naming the file that ends first and the line it lacks.
    """
    ended = object()
    for row in itertools.zip_longest(*(stream for _, stream in named_streams), fillvalue=ended):
        if ended in row:
            line_number = next(item for item in row if item is not ended)[0]
            short = [name for (name, _), item in zip(named_streams, row) if item is ended]
            long = [name for (name, _), item in zip(named_streams, row) if item is not ended]
            raise InputError(
                f"{short[0]}:{line_number}: file ends after {line_number - 1} lines but {long[0]} "
                f"has more; line-aligned files must have the same number of lines"
            )
        yield tuple(text for _, text in row)


def read_line_aligned(*paths: str | os.PathLike) -> Iterator[tuple[str, ...]]:
    """The texts of line-aligned UTF-8 files, one tuple per line (see :func:`zip_line_aligned`)."""
    return zip_line_aligned([(path, read_text_lines(path)) for path in paths])


def _file_rows(spec: PairSpec) -> Iterator[tuple[int, tuple[str, str]]]:
    """Yield ``(line_number, (src, tgt))`` from the two line-aligned files of ``spec``."""
    yield from enumerate(read_line_aligned(spec.src_path, spec.tgt_path), 1)


def _dataset_rows(spec: PairSpec) -> Iterator[tuple[int, tuple[str, str]]]:
    """Yield ``(row_number, (src, tgt))`` from the ``translation`` column of ``spec.dataset``."""
    import datasets

    dataset = spec.dataset
    if isinstance(dataset, str):
        if os.path.isdir(dataset):
            dataset = datasets.load_from_disk(dataset)
        else:
            dataset = datasets.load_dataset(dataset, spec.dataset_config, split=spec.dataset_split, streaming=True)
    if isinstance(dataset, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        dataset = dataset[spec.dataset_split]
    where = spec.dataset_name()
    if dataset.column_names is not None and "translation" not in dataset.column_names:
        raise InputError(f"{where}: no 'translation' column (columns: {', '.join(dataset.column_names)})")
    for row_number, row in enumerate(dataset.select_columns(["translation"]), 1):
        translation = row["translation"]
        texts = []
        for lang in (spec.src_lang, spec.tgt_lang):
            text = translation.get(lang) if isinstance(translation, dict) else None
            if not isinstance(text, str):
                raise InputError(f"{where}:{row_number}: 'translation' has no {lang!r} text")
            # Line breaks inside a text would break the line-based temporary files; a space keeps spans.
            texts.append(text.replace("\n", " ").replace("\r", " "))
        yield row_number, (texts[0], texts[1])


def shard_rows(n_rows: int, num_shards: int, shard_index: int) -> range:
    """The rows of shard `shard_index` of `num_shards` of `n_rows` rows: the split
    ``datasets.Dataset.shard(num_shards, shard_index, contiguous=True)`` makes (consecutive blocks, the first
    ``n_rows % num_shards`` shards one row longer), so concatenating the shards in index order gives the rows back."""
    size, longer = divmod(n_rows, num_shards)
    start = size * shard_index + min(shard_index, longer)
    return range(start, start + size + (shard_index < longer))


def count_rows(spec: PairSpec) -> int:
    """The input lines (rows of a dataset) of `spec`, empty ones included: what line indices run over."""
    rows = read_text_lines(spec.src_path) if spec.dataset is None else _dataset_rows(spec)
    return sum(1 for _ in rows)


def read_sentence_pairs(spec: PairSpec, counts: Counter, shard: tuple[int, int] = (1, 0)) -> Iterator[SentencePair]:
    """Stream the non-empty sentence pairs of ``spec`` in input order; with ``shard`` = (number of shards, index)
    only those of that shard's lines (`shard_rows`), which keep their line index in the whole corpus.

    A line pair where either side is empty (or only white space) is skipped and counted in
    ``counts["empty_line"]``; its index is still consumed, so pairing and alignment lines never shift.
    A corpus without a single sentence pair raises :class:`InputError` once it is read: it is a wrong file
    (or split), and its empty output could not train anything.
    """
    rows = _file_rows(spec) if spec.dataset is None else _dataset_rows(spec)
    corpus_name = spec.src_path if spec.dataset is None else spec.dataset_name()
    if spec.alignment_path is None:
        rows_with_links = (((src, tgt), None) for _, (src, tgt) in rows)
    else:
        rows_with_links = zip_line_aligned([(corpus_name, rows), (spec.alignment_path, read_text_lines(spec.alignment_path))])
    kept = shard_rows(count_rows(spec), *shard) if shard[0] > 1 else None
    lines, pairs = 0, 0
    for index, ((src, tgt), links) in enumerate(rows_with_links):
        if kept is not None and index not in kept:
            if index < kept.start:
                continue
            break
        lines += 1
        if not src.strip() or not tgt.strip():
            counts["empty_line"] += 1
            continue
        pairs += 1
        yield SentencePair(index, src, tgt, links)
    if not pairs:
        where = f"{spec.src_path}, {spec.tgt_path}" if spec.dataset is None else spec.dataset_name()
        unit = "lines" if spec.dataset is None else "rows"
        problem = f"all {lines} {unit} are empty on one side or both" if lines else (
            "both files are empty" if spec.dataset is None else "no rows")
        in_shard = f" in shard {shard[1]} of {shard[0]}" if kept is not None else ""
        raise InputError(f"{where}: no sentence pair to read{in_shard} ({problem})")
