"""Readers of XTREME's data files (classification tsv, tagging tsv, CoNLL-U, label folders, BUCC 2018, Tatoeba) and
:class:`XtremeData`, which finds every task's files: ``--data_file`` overrides, then ``--data_dir`` in the layout of
XTREME's ``download_data.sh``, then the Hugging Face Hub when online."""
from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from data_prep.reading import InputError
from data_prep.reading import read_text_lines
from mlctl.evaluation.tasks import CLASSIFICATION_LABELS
from mlctl.evaluation.tasks import HUB_SPLITS
from mlctl.evaluation.tasks import SPLITS
from mlctl.evaluation.tasks import TAGGING_LABELS
from mlctl.evaluation.tasks import TASKS
from mlctl.evaluation.tasks import TATOEBA_LANG3
from mlctl.evaluation.tasks import UDPOS_HUB_NAMES
from mlctl.evaluation.tasks import MissingDataError

logger = logging.getLogger(__name__)


@dataclass
class SentencePairs:
    """Classification examples: two sentences and a label name per example."""

    sentence1: list[str]
    sentence2: list[str]
    labels: list[str]
    source: str


@dataclass
class TaggedSentences:
    """Tagging examples: the words of each sentence and one tag per word."""

    tokens: list[list[str]]
    tags: list[list[str]]
    source: str


@dataclass
class BuccCorpus:
    """One BUCC 2018 split: source and English sentences with their ids, and gold ``(src_id, en_id)`` pairs."""

    src_ids: list[str]
    src_sentences: list[str]
    en_ids: list[str]
    en_sentences: list[str]
    gold: set[tuple[str, str]] | None
    source: str


def read_sentence_pair_tsv(path: Path, raw_paws: bool = False) -> list[list[str]]:
    """Rows ``[sentence1, sentence2]`` or ``[sentence1, sentence2, label]`` of a classification file.

    Processed XTREME files (``xnli/train-en.tsv``, ``pawsx/dev-de.tsv``) are written by ``csv.writer``
    and read with its quoting; XTREME's test files have no label column. Raw PAWS-X files
    (``pawsx/en/train.tsv``: a header, then ``id<TAB>sentence1<TAB>sentence2<TAB>label``) are read
    verbatim with ``raw_paws=True``. Every row must have as many fields as the first.
    """
    rows, width = [], None
    lines = (line for _, line in read_text_lines(path))
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE if raw_paws else csv.QUOTE_MINIMAL)
    try:
        for row in reader:
            if raw_paws:
                if reader.line_num == 1:
                    continue
                row = row[1:]
            if not row:
                continue
            width = width or len(row)
            if len(row) != width or width not in (2, 3):
                raise InputError(
                    f"{path}:{reader.line_num}: expected {width if width in (2, 3) else '2 or 3'} tab-separated "
                    f"fields (sentence1, sentence2[, label]), found {len(row)}"
                )
            rows.append(row)
    except csv.Error as error:
        raise InputError(f"{path}:{reader.line_num}: {error}") from None
    return rows


def _blank_line_blocks(path: Path) -> Iterator[list[tuple[int, str]]]:
    """The numbered lines of a file, grouped into the blocks that blank lines separate (one sentence each in the
    tagging formats)."""
    block = []
    for line_number, line in read_text_lines(path):
        if line.strip():
            block.append((line_number, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def read_tagging_tsv(path: Path) -> tuple[list[list[str]], list[list[str]] | None]:
    """Sentences of an XTREME tagging file: ``word<TAB>tag`` per line, a blank line between sentences.

    Returns ``(tokens, tags)``; ``tags`` is ``None`` for XTREME's unlabelled test files (one word per line).
    """
    tokens, tags = [], []
    fields_per_line = None
    for block in _blank_line_blocks(path):
        sentence, sentence_tags = [], []
        for line_number, line in block:
            fields = line.split("\t")
            if len(fields) not in (1, 2) or (fields_per_line is not None and len(fields) != fields_per_line):
                expected = "1 or 2" if fields_per_line is None else str(fields_per_line)
                raise InputError(
                    f"{path}:{line_number}: expected {expected} tab-separated fields, found {len(fields)}"
                )
            fields_per_line = len(fields)
            sentence.append(fields[0].strip())
            sentence_tags.append(fields[1].strip() if len(fields) == 2 else "")
        tokens.append(sentence)
        tags.append(sentence_tags)
    return tokens, (tags if fields_per_line == 2 else None)


def read_conllu(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Words (column 2) and UPOS tags (column 4) of a CoNLL-U file; multiword-token and empty-node lines skipped."""
    tokens, tags = [], []
    for block in _blank_line_blocks(path):
        sentence, sentence_tags = [], []
        for line_number, line in block:
            if line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 10:
                raise InputError(
                    f"{path}:{line_number}: expected 10 tab-separated CoNLL-U fields, found {len(fields)}"
                )
            if "-" in fields[0] or "." in fields[0]:
                continue
            if fields[3] == "_":
                raise InputError(f"{path}:{line_number}: word {fields[1]!r} has no UPOS tag (column 4 is '_')")
            sentence.append(fields[1])
            sentence_tags.append(fields[3])
        if sentence:
            tokens.append(sentence)
            tags.append(sentence_tags)
    return tokens, tags


def read_bucc_file(path: Path) -> tuple[list[str], list[str]]:
    """Ids and sentences of a BUCC 2018 ``*.{src,en}`` file: ``id<TAB>sentence`` per line."""
    ids, sentences = [], []
    for line_number, line in read_text_lines(path):
        fields = line.split("\t")
        if len(fields) != 2:
            raise InputError(f"{path}:{line_number}: expected 'id<TAB>sentence', found {len(fields)} fields")
        ids.append(fields[0].strip())
        sentences.append(fields[1].strip())
    return ids, sentences


def read_bucc_gold(path: Path) -> set[tuple[str, str]]:
    """Gold pairs of a BUCC 2018 ``*.gold`` file: ``src_id<TAB>en_id`` per line."""
    gold = set()
    for line_number, line in read_text_lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise InputError(f"{path}:{line_number}: expected 'src_id<TAB>en_id', found {len(fields)} fields")
        gold.add((fields[0].strip(), fields[1].strip()))
    return gold


def parse_data_file_overrides(specs: list[str]) -> dict[tuple[str, str, str], Path]:
    """``TASK:SPLIT:LANG=PATH`` strings as a ``{(task, split, lang): path}`` dict."""
    overrides = {}
    for spec in specs:
        key, separator, path = spec.partition("=")
        parts = key.split(":")
        if not separator or len(parts) != 3 or parts[0] not in TASKS or parts[1] not in SPLITS or not path:
            raise InputError(
                f"--data_file {spec!r}: expected TASK:SPLIT:LANG=PATH with TASK in {','.join(TASKS)} "
                f"and SPLIT in {','.join(SPLITS)}"
            )
        overrides[(parts[0], parts[1], parts[2])] = Path(path)
    return overrides


class XtremeData:
    """Finds and reads the data of every task: ``--data_file`` overrides, then ``--data_dir``, then the Hub."""

    def __init__(self, data_dir=None, labels_dir=None, overrides=None, use_hub=True):
        self.data_dir = Path(data_dir) if data_dir else None
        self.labels_dir = Path(labels_dir) if labels_dir else None
        self.overrides = overrides or {}
        self.use_hub = use_hub and os.environ.get("HF_HUB_OFFLINE", "").upper() not in ("1", "ON", "YES", "TRUE")

    def _locate(self, task: str, split: str, lang: str, candidates: list[str]) -> list[Path]:
        """The ``--data_file`` override, else the files of the first pattern of ``candidates`` (globs under
        ``data_dir``) that matches anything; empty when nothing does."""
        override = self.overrides.get((task, split, lang))
        if override is not None:
            if not override.is_file():
                raise MissingDataError(f"{task}: --data_file {task}:{split}:{lang}={override}: no such file")
            return [override]
        for pattern in candidates if self.data_dir is not None else []:
            found = sorted(path for path in self.data_dir.glob(pattern) if path.is_file())
            if found:
                return found
        return []

    def _missing(self, task: str, split: str, lang: str, candidates: list[str], hub_error: str = "") -> MissingDataError:
        """A one-line message naming the missing split and every place that was searched."""
        looked = ", ".join(str(self.data_dir / pattern) for pattern in candidates) if self.data_dir else "no --data_dir"
        hub = f"; Hub: {hub_error}" if hub_error else ("; Hub: offline" if not self.use_hub else "")
        return MissingDataError(f"{task}: no {split} data for '{lang}' (looked in {looked}{hub}); "
                                f"add it or pass --data_file {task}:{split}:{lang}=PATH")

    def _from_hub(self, task, split, lang, candidates, load):
        """Run ``load()`` (a ``datasets`` call) or explain why the split is unavailable."""
        if not self.use_hub:
            raise self._missing(task, split, lang, candidates)
        import datasets

        try:
            return load(datasets)
        except Exception as error:  # any Hub failure means "this split is not available"
            raise self._missing(task, split, lang, candidates, f"{type(error).__name__}: {error}".splitlines()[0])

    def sentence_pairs(self, task: str, split: str, lang: str) -> SentencePairs:
        """XNLI / PAWS-X examples of one split and language, labels checked against the task's label set."""
        raw_paws = {"train": "train", "dev": "dev_2k", "test": "test_2k"}[split]
        candidates = [f"{task}/{split}-{lang}.tsv"] + ([f"pawsx/{lang}/{raw_paws}.tsv"] if task == "pawsx" else [])
        found = self._locate(task, split, lang, candidates)
        if not found:
            return self._from_hub(task, split, lang, candidates, lambda datasets: self._hub_pairs(datasets, task, split, lang))
        path = found[0]
        rows = read_sentence_pair_tsv(path, raw_paws=task == "pawsx" and path.parent.name == lang)
        _require_examples(rows, path)
        if rows and len(rows[0]) == 2:
            rows = self._attach_test_labels(task, lang, path, rows)
        for number, row in enumerate(rows, start=1):
            row[2] = _classification_label(task, row[2], f"{path}: example {number}")
        return SentencePairs([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], str(path))

    def _attach_test_labels(self, task: str, lang: str, path: Path, rows: list[list]) -> list[list]:
        """XTREME strips test labels; take them from ``--labels_dir/TASK/test-LANG.tsv`` (one label per line)."""
        label_path = self._test_label_file(task, lang, path, "labels")
        labels = [_classification_label(task, line, f"{label_path}:{line_number}", f" (labels of {path})")
                  for line_number, line in read_text_lines(label_path) if line.strip()]
        if len(labels) != len(rows):
            raise InputError(f"{label_path}: {len(labels)} labels for {len(rows)} examples in {path}")
        return [row + [label] for row, label in zip(rows, labels)]

    def _test_label_file(self, task: str, lang: str, path: Path, what: str) -> Path:
        """``--labels_dir/TASK/test-LANG.tsv``, the gold ``what`` (labels, tags) of an unlabelled XTREME test file."""
        label_path = self.labels_dir / task / f"test-{lang}.tsv" if self.labels_dir else None
        if label_path is None or not label_path.is_file():
            where = label_path if label_path else "no --labels_dir"
            raise MissingDataError(f"{task}: {path} has no {what} (XTREME strips test labels) and no label file "
                                   f"({where}); pass --labels_dir or --data_file {task}:test:{lang}=LABELLED_FILE")
        return label_path

    @staticmethod
    def _hub_pairs(datasets, task: str, split: str, lang: str) -> SentencePairs:
        """XNLI from ``facebook/xnli``, PAWS-X from ``google-research-datasets/paws-x``."""
        if task == "xnli":
            data = datasets.load_dataset("facebook/xnli", lang, split=HUB_SPLITS[split])
            names = data.features["label"].names
            return SentencePairs(list(data["premise"]), list(data["hypothesis"]),
                                 [names[i] for i in data["label"]], f"facebook/xnli:{lang}:{HUB_SPLITS[split]}")
        data = datasets.load_dataset("google-research-datasets/paws-x", lang, split=HUB_SPLITS[split])
        return SentencePairs(list(data["sentence1"]), list(data["sentence2"]), [str(i) for i in data["label"]],
                             f"google-research-datasets/paws-x:{lang}:{HUB_SPLITS[split]}")

    def tagged_sentences(self, task: str, split: str, lang: str) -> TaggedSentences:
        """UD POS / PAN-X NER sentences of one split and language (XTREME tsv, or CoNLL-U for POS)."""
        candidates = [f"{task}/{split}-{lang}.tsv"]
        if task == "udpos":
            candidates.append(f"udpos/**/{lang}_*-ud-{split}.conllu")
        found = self._locate(task, split, lang, candidates)
        if not found:
            return self._from_hub(task, split, lang, candidates, lambda datasets: self._hub_tags(datasets, task, split, lang))
        tokens, tags = [], []
        for path in found:  # a language may have several UD treebanks; XTREME concatenates them
            file_tokens, file_tags = read_conllu(path) if path.suffix == ".conllu" else read_tagging_tsv(path)
            tag_source = path
            if file_tags is None:
                file_tags, tag_source = self._test_tags(task, lang, path, file_tokens)
            if split == "test":
                _warn_about_unknown_test_tags(task, file_tags, tag_source)
            tokens += file_tokens
            tags += file_tags
        source = ", ".join(str(path) for path in found)
        _require_examples(tokens, source)
        if split != "test":
            allowed = set(TAGGING_LABELS[task])
            for index, sentence_tags in enumerate(tags):
                unknown = set(sentence_tags) - allowed
                if unknown:
                    raise InputError(f"{source}: sentence {index + 1}: tag(s) {', '.join(sorted(unknown))} "
                                     f"not in the {task} tag set {', '.join(TAGGING_LABELS[task])}")
        return TaggedSentences(tokens, tags, source)

    def _test_tags(self, task: str, lang: str, path: Path, tokens: list[list[str]]) -> tuple[list[list[str]], Path]:
        """Gold tags for an unlabelled XTREME test file, from ``--labels_dir/TASK/test-LANG.tsv`` (one tag per line, a
        blank line between sentences), and that file."""
        label_path = self._test_label_file(task, lang, path, "tags")
        tags = [[line.strip() for _, line in block] for block in _blank_line_blocks(label_path)]
        lengths = [len(s) for s in tokens]
        if [len(s) for s in tags] != lengths:
            raise InputError(f"{label_path}: sentence lengths do not match the words of {path}")
        return tags, label_path

    @staticmethod
    def _hub_tags(datasets, task: str, split: str, lang: str) -> TaggedSentences:
        """UD POS and PAN-X from ``google/xtreme`` (``udpos.<Language>``, ``PAN-X.<lang>``)."""
        config, column = (f"udpos.{UDPOS_HUB_NAMES[lang]}", "pos_tags") if task == "udpos" else (f"PAN-X.{lang}", "ner_tags")
        data = datasets.load_dataset("google/xtreme", config, split=HUB_SPLITS[split])
        names = data.features[column].feature.names
        return TaggedSentences([list(t) for t in data["tokens"]], [[names[i] for i in s] for s in data[column]],
                               f"google/xtreme:{config}:{HUB_SPLITS[split]}")

    def tatoeba_pairs(self, lang: str) -> tuple[list[str], list[str], str]:
        """Tatoeba ``(xx sentences, English sentences, source)``; line i of one translates line i of the other."""
        lang3 = TATOEBA_LANG3.get(lang, lang)
        candidates = [f"tatoeba/tatoeba.{lang3}-eng.{lang3}"]
        found = self._locate("tatoeba", "test", lang, candidates)
        if not found:
            def load(datasets):
                data = datasets.load_dataset("google/xtreme", f"tatoeba.{lang3}", split="validation")
                return list(data["source_sentence"]), list(data["target_sentence"]), f"google/xtreme:tatoeba.{lang3}"
            return self._from_hub("tatoeba", "test", lang, candidates, load)
        src_path = found[0]
        en_path = src_path.with_suffix(".eng")  # LASER naming: tatoeba.deu-eng.deu beside tatoeba.deu-eng.eng
        if not en_path.is_file():
            raise MissingDataError(f"tatoeba: {src_path} has no English side {en_path}")
        src, en = ([line for _, line in read_text_lines(side)] for side in (src_path, en_path))
        _require_examples(src, src_path)
        if len(src) != len(en):
            raise InputError(f"{en_path}: {len(en)} lines but {src_path} has {len(src)}; Tatoeba pairs are line-aligned")
        return src, en, f"{src_path}, {en_path}"

    def bucc_corpus(self, lang: str, split: str) -> BuccCorpus:
        """BUCC 2018 ``{lang}-en.{split}.{lang,en,gold}``; the gold file may be absent for test."""
        candidates = [f"bucc2018/{lang}-en.{split}.{lang}"]
        found = self._locate("bucc2018", split, lang, candidates)
        if not found:
            raise self._missing("bucc2018", split, lang, candidates,
                                "needs the full BUCC corpus, which the Hub copy lacks" if self.use_hub else "")
        src_path = found[0]
        prefix = src_path.name[: -len(lang) - 1]
        en_path, gold_path = src_path.with_name(prefix + ".en"), src_path.with_name(prefix + ".gold")
        if not en_path.is_file():
            raise MissingDataError(f"bucc2018: {src_path} has no English side {en_path}")
        src_ids, src_sentences = read_bucc_file(src_path)
        en_ids, en_sentences = read_bucc_file(en_path)
        _require_examples(src_ids, src_path)
        _require_examples(en_ids, en_path)
        gold = read_bucc_gold(gold_path) if gold_path.is_file() else None
        return BuccCorpus(src_ids, src_sentences, en_ids, en_sentences, gold, f"{src_path}, {en_path}")


def write_tatoeba_pairs(directory: Path, lang: str, sentences: list[str], english: list[str]) -> None:
    """Line-aligned ``sentences`` of ``lang`` and their ``english`` translations as the Tatoeba files that
    `XtremeData.tatoeba_pairs` reads (LASER's naming: ``tatoeba.deu-eng.deu`` beside ``tatoeba.deu-eng.eng``)."""
    code = TATOEBA_LANG3.get(lang, lang)
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in ((f"tatoeba.{code}-eng.{code}", sentences), (f"tatoeba.{code}-eng.eng", english)):
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _require_examples(examples: list, source) -> None:
    """An empty data file is unusable data, not a score of 0: one line naming it."""
    if not examples:
        raise InputError(f"{source}: no examples (empty file)")


def _classification_label(task: str, label: str, where: str, note: str = "") -> str:
    """`label` as a name of the task's label set (XNLI's raw files spell "contradiction" "contradictory"; XTREME
    renames it); `InputError` at `where` (`note` appended) when it is not one."""
    label = label.strip()
    if task == "xnli" and label == "contradictory":
        label = "contradiction"
    if label not in CLASSIFICATION_LABELS[task]:
        raise InputError(f"{where}: label {label!r} is not one of {', '.join(CLASSIFICATION_LABELS[task])}{note}")
    return label


def _warn_about_unknown_test_tags(task: str, tags: list[list[str]], source: Path) -> None:
    """Warns, with counts, about gold test tags outside the task's tag set (read from `source`): they are kept, so
    that the test set stays whole, but no model can predict them, so each counts as an error in the score."""
    unknown = Counter(tag for sentence in tags for tag in sentence if tag not in TAGGING_LABELS[task])
    if unknown:
        logger.warning("%s: %d of %d test tags are not in the %s tag set (%s); a model cannot predict them, so they "
                       "are scored as wrong", source, sum(unknown.values()), sum(len(sentence) for sentence in tags),
                       task, ", ".join(f"{tag} {count}" for tag, count in sorted(unknown.items())))
