"""Word alignment with any encoder checkpoint (ML-CTL or a plain BERT / XLM-R), as SimAlign and awesome-align extract
it without fine-tuning: `mlctl-align`.

    mlctl-align --model_name_or_path CKPT --input_file pairs.txt --output_file out.pharaoh [--gold_file gold.txt]

``pairs.txt`` holds ``source ||| target`` lines of whitespace-separated words (fast_align / awesome-align input).
Each sentence is encoded alone, its words tokenized one by one (`mlctl.encoding.encode_subwords`); the sub-word
vectors of ``hidden_states[layer]`` (default 8, both tools' default, or the last layer of a smaller model) are
compared, sub-word links are extracted by `ALIGNMENT_METHODS`, and a word pair is linked when any of its sub-word
pairs is (both tools' sub-word mode). The output has one 0-based Pharaoh line (``i-j`` = source word i, target word
j) per input line. With ``--gold_file`` it prints AER, precision and recall (Och & Ney 2003, as awesome-align's
``tools/aer.py``; ``i-j`` sure and ``ipj`` possible links) and writes them to ``OUTPUT.aer.json``.
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_prep.arguments import CommandParser
from data_prep.arguments import arg
from data_prep.arguments import shared
from data_prep.output_dir import ensure_writable_file
from data_prep.reading import InputError
from data_prep.reading import read_text_lines
from mlctl.command_line import run_command
from mlctl.encoding import EncoderArguments
from mlctl.encoding import encode_subwords
from mlctl.encoding import load_encoder
from mlctl.encoding import resolve_layer
from mlctl.search import normalized_rows
from modeling_mlctl.configuration_mlctl import check_choice

logger = logging.getLogger(__name__)

#: ``argmax``: SimAlign's "ArgMax" (links that are the best of both their row and their column), ``itermax``:
#: SimAlign's "IterMax" (ArgMax, then one more ArgMax round among the still unaligned), ``softmax``:
#: awesome-align's extraction (softmax over each direction, both probabilities above ``softmax_threshold``).
ALIGNMENT_METHODS = ("argmax", "itermax", "softmax")
#: awesome-align's default ``--softmax_threshold``.
SOFTMAX_THRESHOLD = 1e-3
#: SimAlign's IterMax: rounds (``max_count``) and the weight of a row or column that is half aligned (``alpha_ratio``).
ITERMAX_ROUNDS = 2
ITERMAX_ALPHA = 0.9


def argmax_links(similarity: np.ndarray) -> np.ndarray:
    """Boolean (m, n): entries that are the maximum of their row and of their column (SimAlign's "inter")."""
    rows, cols = similarity.shape
    forward = np.zeros((rows, cols), dtype=bool)
    forward[np.arange(rows), similarity.argmax(axis=1)] = True
    backward = np.zeros((rows, cols), dtype=bool)
    backward[similarity.argmax(axis=0), np.arange(cols)] = True
    return forward & backward


def itermax_links(similarity: np.ndarray, rounds: int = ITERMAX_ROUNDS, alpha: float = ITERMAX_ALPHA) -> np.ndarray:
    """SimAlign's IterMax on a similarity matrix with values in [0, 1] (its ``(cos + 1) / 2``).

    Start from `argmax_links`; each further round (up to ``rounds`` in all, none when a side has at most 2 tokens)
    weights the similarities by how unaligned their row and column are (1 when both are unaligned, ``alpha`` when
    one is, 0 when both are aligned), takes `argmax_links` of the weighted matrix among pairs with at least one
    unaligned side, and adds them; it stops early when nothing is added or every row or every column is aligned.
    """
    links = argmax_links(similarity)
    if min(similarity.shape) <= 2:
        return links
    for _ in range(rounds - 1):
        row_free = ~links.any(axis=1, keepdims=True)
        col_free = ~links.any(axis=0, keepdims=True)
        if not row_free.any() or not col_free.any():
            break
        weight = np.clip(alpha * row_free + alpha * col_free, 0.0, 1.0)
        added = argmax_links(similarity * weight) & (row_free | col_free)
        if not (added & ~links).any():
            break
        links |= added
    return links


def softmax_links(scores: np.ndarray, threshold: float = SOFTMAX_THRESHOLD) -> np.ndarray:
    """awesome-align's extraction on dot products ``scores`` (m, n): softmax over targets (rows) and over sources
    (columns), linked where both exceed ``threshold``."""
    scores = scores.astype(np.float64)
    to_target = np.exp(scores - scores.max(axis=1, keepdims=True))
    to_target /= to_target.sum(axis=1, keepdims=True)
    to_source = np.exp(scores - scores.max(axis=0, keepdims=True))
    to_source /= to_source.sum(axis=0, keepdims=True)
    return (to_target > threshold) & (to_source > threshold)


def align_subwords(src_vectors: np.ndarray, tgt_vectors: np.ndarray, method: str,
                   softmax_threshold: float = SOFTMAX_THRESHOLD) -> np.ndarray:
    """Sub-word links (boolean (m, n)) between two sentences' sub-word vectors."""
    if method == "softmax":
        return softmax_links(src_vectors @ tgt_vectors.T, softmax_threshold)
    src, tgt = normalized_rows(src_vectors, slice(None)), normalized_rows(tgt_vectors, slice(None))
    similarity = (src @ tgt.T + 1.0) / 2.0  # SimAlign's similarity, in [0, 1]
    return argmax_links(similarity) if method == "argmax" else itermax_links(similarity)


def word_links(subword_links: np.ndarray, src_words: np.ndarray, tgt_words: np.ndarray) -> set[tuple[int, int]]:
    """Word links: (word of sub-word i, word of sub-word j) for every linked sub-word pair."""
    return {(int(src_words[i]), int(tgt_words[j])) for i, j in zip(*np.nonzero(subword_links))}


def read_parallel(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """``source ||| target`` lines as word lists; `InputError` (``FILE:LINE: problem``) on an empty (or blank) line,
    a line without exactly one ``|||``, an empty side or bytes that are not UTF-8, and on a file without lines.

    Every line must be a pair, a trailing blank line included, as an empty file is refused: the output has one line
    per input line, and a blank line is more likely a broken file than a pair to leave unaligned."""
    pairs = []
    for number, line in read_text_lines(path):
        if not line.strip():
            raise InputError(f"{path}:{number}: empty line (one 'source words ||| target words' pair a line is "
                             "expected)")
        sides = line.split("|||")
        if len(sides) != 2:
            raise InputError(f"{path}:{number}: expected 'source words ||| target words', found "
                             f"{len(sides) - 1} '|||'")
        src, tgt = sides[0].split(), sides[1].split()
        if not src or not tgt:
            raise InputError(f"{path}:{number}: the {'source' if not src else 'target'} side is empty")
        pairs.append((src, tgt))
    if not pairs:
        raise InputError(f"{path}: empty file (one 'source words ||| target words' pair a line is expected)")
    return pairs


def read_gold(path: str | Path, pairs: list[tuple[list[str], list[str]]], one_indexed: bool = False):
    """Gold links per line: ``(sure, possible)`` sets (possible includes sure), from Pharaoh lines with ``i-j``
    (sure) and ``ipj`` (possible) links, 0-based unless ``one_indexed``; each index is checked against the words."""
    gold = []
    offset = 1 if one_indexed else 0
    lines = [line for _, line in read_text_lines(path)]
    if len(lines) != len(pairs):
        raise InputError(f"{path}: {len(lines)} lines but the data file has {len(pairs)}")
    for number, (line, (src, tgt)) in enumerate(zip(lines, pairs), start=1):
        sure, possible = set(), set()
        for item in line.split():
            separator = "-" if "-" in item else "p"
            left, found, right = item.partition(separator)
            if not (found and left.isdigit() and right.isdigit()):
                raise InputError(f"{path}:{number}: malformed link {item!r} (expected 'i-j' or 'ipj')")
            link = (int(left) - offset, int(right) - offset)
            if not (0 <= link[0] < len(src) and 0 <= link[1] < len(tgt)):
                raise InputError(f"{path}:{number}: link {item!r} is outside the sentence pair "
                                 f"({len(src)} x {len(tgt)} words, {'1' if one_indexed else '0'}-based)")
            possible.add(link)
            if separator == "-":
                sure.add(link)
        gold.append((sure, possible))
    return gold


def alignment_error_rate(hypotheses: list[set], gold: list[tuple[set, set]]) -> dict[str, float]:
    """Corpus-level precision |A∩P|/|A|, recall |A∩S|/|S| and AER = 1 - (|A∩S| + |A∩P|) / (|A| + |S|) (Och & Ney
    2003), summed over sentences, as awesome-align's ``tools/aer.py``."""
    n_hyp = sum(len(a) for a in hypotheses)
    n_sure = sum(len(s) for s, _ in gold)
    hit_sure = sum(len(a & s) for a, (s, _) in zip(hypotheses, gold))
    hit_possible = sum(len(a & p) for a, (_, p) in zip(hypotheses, gold))
    return {"aer": 1.0 - (hit_sure + hit_possible) / max(1, n_hyp + n_sure),
            "precision": hit_possible / n_hyp if n_hyp else 0.0,
            "recall": hit_sure / n_sure if n_sure else 0.0,
            "links": n_hyp, "sure_links": n_sure}


def align_pairs(model, tokenizer, pairs, *, layer: int, method: str = "softmax",
                softmax_threshold: float = SOFTMAX_THRESHOLD, batch_size: int = 32, max_length: int | None = None):
    """Word links of every ``(source words, target words)`` pair; returns ``(links per pair, words left without a
    token by truncation)``."""
    check_choice("method", method, ALIGNMENT_METHODS)
    common = dict(layer=layer, batch_size=batch_size, max_length=max_length)
    sources = encode_subwords(model, tokenizer, [src for src, _ in pairs], description="encoding sources", **common)
    targets = encode_subwords(model, tokenizer, [tgt for _, tgt in pairs], description="encoding targets", **common)
    links, untokenized = [], 0
    for (src, tgt), (src_vectors, src_words), (tgt_vectors, tgt_words) in zip(pairs, sources, targets):
        untokenized += len(src) + len(tgt) - len(set(src_words.tolist())) - len(set(tgt_words.tolist()))
        if len(src_vectors) == 0 or len(tgt_vectors) == 0:
            links.append(set())
            continue
        subword = align_subwords(src_vectors, tgt_vectors, method, softmax_threshold)
        links.append(word_links(subword, src_words, tgt_words))
    return links, untokenized


def format_pharaoh(links: set[tuple[int, int]]) -> str:
    return " ".join(f"{i}-{j}" for i, j in sorted(links))


@dataclass(kw_only=True)
class AlignmentArguments(EncoderArguments):
    """The flags of `mlctl-align`: the encoder (`EncoderArguments`), the files and the link extraction."""

    input_file: str = arg("'source words ||| target words' lines (awesome-align's --data_file)", required=True)
    output_file: str = shared("output_file", required=True)
    gold_file: str | None = arg("Pharaoh gold links (i-j sure, ipj possible) for AER")
    gold_one_index: bool = arg("the gold file counts words from 1", False)
    method: str = arg("sub-word link extraction (softmax: awesome-align; argmax, itermax: SimAlign)", "softmax",
                      choices=ALIGNMENT_METHODS)
    softmax_threshold: float = arg("softmax: both directions' probabilities must exceed this (awesome-align's)",
                                   SOFTMAX_THRESHOLD, minimum=0, below=1)


def run_alignment(args: AlignmentArguments) -> dict | None:
    """Run `mlctl-align`; returns the scores when ``--gold_file`` is given. The output file is probed and the input
    files read (each problem a one-line `InputError`) before the model loads."""
    try:
        output = ensure_writable_file(args.output_file)
    except ValueError as error:
        raise InputError(f"--output_file {error}") from None
    pairs = read_parallel(args.input_file)
    gold = read_gold(args.gold_file, pairs, args.gold_one_index) if args.gold_file else None
    model, tokenizer = load_encoder(args.model_name_or_path, args.device, **args.pretrained_kwargs())
    layer = resolve_layer(model.config.num_hidden_layers + 1, args.layer)
    links, untokenized = align_pairs(model, tokenizer, pairs, layer=layer, method=args.method,
                                     softmax_threshold=args.softmax_threshold, batch_size=args.batch_size,
                                     max_length=args.max_seq_length)
    if untokenized:
        logger.warning("%d words have no token (cut by --max_seq_length or unknown to the tokenizer) and stay unaligned",
                       untokenized)
    output.write_text("".join(format_pharaoh(pair_links) + "\n" for pair_links in links), encoding="utf-8")
    if gold is None:
        return None
    scores = {**alignment_error_rate(links, gold), "method": args.method, "layer": layer,
              "model": args.model_name_or_path, "input_file": args.input_file, "gold_file": args.gold_file}
    output.with_suffix(".aer.json").write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    return scores


def build_parser() -> CommandParser:
    """The parser of `mlctl-align` (`AlignmentArguments`)."""
    return CommandParser((AlignmentArguments,), prog="mlctl-align", description=__doc__.split("\n\n")[0],
                         required=("model_name_or_path",))


def cli(argv=None) -> int:
    """Console entry point: 0 on success, 2 with a one-line error (bad flags before any work)."""
    args, = build_parser().parse_command(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    def align() -> str:
        scores = run_alignment(args)
        written = f"alignments written to {args.output_file}"
        if scores is None:
            return written
        return (f"{written}\nAER {100 * scores['aer']:.2f}  precision {100 * scores['precision']:.2f}  "
                f"recall {100 * scores['recall']:.2f}  ({scores['links']} links, {scores['sure_links']} sure gold links)")

    return run_command(align)


if __name__ == "__main__":
    sys.exit(cli())
