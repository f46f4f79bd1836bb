"""From one batch of sentence pairs to WPS rows: the per-pair work that runs in the worker processes.

For every sentence pair: segment both sides, get candidate word pairs from its source
(alignment links or the word list), drop those that are punctuation, numbers or stop words,
group links into phrases, remove duplicates, map character spans to sub-word token spans (when a
tokenizer is given; words cut off by ``max_length`` are dropped), then keep at most
``max_words_per_pair`` of them, sampled with a seed derived from the pair's line number.
Every candidate that does not become a WPS is counted under the reason it was dropped.
"""
from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from data_prep.reading import SentencePair
from data_prep.segment import NUMBER, WORD, Token, segment, whitespace_tokens
from data_prep.tokenizer import MAX_SEQ_LENGTH, token_span
from data_prep.word_pairs import WordList, link_candidates, parse_pharaoh, symmetrize

ALIGNERS = ("eflomal", "pharaoh", "word-list")

#: eflomal silently returns no links for a sentence of this many words or more.
EFLOMAL_MAX_WORDS = 1024

TEXT_COLUMNS = ("src_lang", "tgt_lang", "src_text", "tgt_text", "src_word", "tgt_word")
CHAR_SPAN_COLUMNS = ("src_char_start", "src_char_end", "tgt_char_start", "tgt_char_end")
TOKEN_ID_COLUMNS = ("src_input_ids", "tgt_input_ids")
TOKEN_SPAN_COLUMNS = ("src_word_start", "src_word_end", "tgt_word_start", "tgt_word_end")


#: Why a candidate word pair does not become a WPS, in the order the filters run.
CANDIDATE_DROP_REASONS = (
    "punctuation", "number", "stop_word", "repeated_in_sentence", "overlapping_match", "discontiguous",
    "phrase_too_long", "duplicate", "truncated", "untokenizable", "over_max_words_per_pair",
)
#: Why a sentence pair is skipped before word pairs are looked for.
PAIR_SKIP_REASONS = ("empty_line", "too_long_for_eflomal")


def output_columns(with_tokenizer: bool) -> tuple[str, ...]:
    """The dataset's column names, in order."""
    columns = TEXT_COLUMNS + CHAR_SPAN_COLUMNS
    return columns + TOKEN_ID_COLUMNS + TOKEN_SPAN_COLUMNS if with_tokenizer else columns


def pair_digest(src: str, tgt: str, seed: int) -> int:
    """A 64-bit digest of a sentence pair (BLAKE2b keyed with `seed`): the same for every copy of the pair, and
    (but with probability about n² / 2⁶⁵ for n pairs) different for any two distinct pairs."""
    text = f"{len(src)}:{src}{tgt}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8, key=str(seed).encode()).digest(), "big")


def in_validation_split(digest: int, fraction: float) -> bool:
    """Whether the sentence pair of `digest` (:func:`pair_digest`) goes to the validation split: the one rule of the
    train/validation split. It splits by distinct sentence pair: every copy of a pair lands on the same side, and each
    distinct pair goes to validation with probability `fraction`, independently of the others, of the line order,
    of the batching and of the process that reads it."""
    return digest < fraction * 2.0 ** 64


@dataclass(frozen=True)
class PairSource:
    """What a worker needs to know about the corpus a batch comes from."""

    position: int
    src_lang: str
    tgt_lang: str
    alignment_path: str | None = None

    @property
    def name(self) -> str:
        """``"src-tgt"``."""
        return f"{self.src_lang}-{self.tgt_lang}"


@dataclass
class Batch:
    """Consecutive sentence pairs of one corpus."""

    source: PairSource
    pairs: list[SentencePair]


@dataclass
class BatchResult:
    """WPS columns per split (an empty dict when a split got no rows), the batch's counts and per-stage seconds, and
    the :func:`pair_digest` of each of its sentence pairs (to count duplicate pairs)."""

    splits: dict[str, dict[str, list]]
    pair_digests: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    pair_counts: Counter = field(default_factory=Counter)
    candidate_counts: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)


@dataclass
class TokenizedText:
    """A fast tokenizer's encoding of one sentence (``tokenizers.Encoding``), truncated to max_length."""

    input_ids: list[int]
    encoding: object
    may_be_truncated: bool

    def span(self, char_start: int, char_end: int) -> tuple[int, int] | str:
        """The half-open token span covering ``[char_start, char_end)``, or the reason there is
        none: ``"truncated"`` (cut off by max_length) or ``"untokenizable"``."""
        return token_span(self.encoding.offsets, char_start, char_end, self.may_be_truncated)


@dataclass
class WpsBuilder:
    """Everything the per-pair work needs; pickled once into each worker process.

    ``stopwords`` maps a language to its case-folded stop words, ``word_lists`` a corpus position
    to its :class:`~data_prep.word_pairs.WordList` (aligner ``"word-list"`` only) and
    ``tokenizer_json`` is a ``tokenizers`` serialisation with truncation to ``max_length`` set.
    """

    aligner: str
    symmetrization: str
    stopwords: dict[str, frozenset[str]]
    max_words_per_pair: int
    max_phrase_words: int
    seed: int
    validation_fraction: float
    word_lists: dict[int, WordList] = field(default_factory=dict)
    tokenizer_json: str | None = None
    max_length: int = MAX_SEQ_LENGTH
    _backend: object = field(default=None, repr=False)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_backend"] = None
        return state

    def backend(self):
        """The ``tokenizers.Tokenizer`` (built on first use in each process)."""
        if self._backend is None:
            from tokenizers import Tokenizer

            self._backend = Tokenizer.from_str(self.tokenizer_json)
        return self._backend

    def tokens(self, text: str) -> list[Token]:
        """Segment ``text``: whitespace tokens for Pharaoh files, the per-script rules otherwise."""
        return whitespace_tokens(text) if self.aligner == "pharaoh" else segment(text)

    def aligner_input(self, pairs: list[SentencePair]) -> list[tuple[str, str]]:
        """Space-joined tokens of each pair: the text eflomal aligns."""
        return [tuple(" ".join(text[s:e] for s, e, _ in segment(text)) for text in (pair.src, pair.tgt))
                for pair in pairs]

    def tokenize(self, texts: list[str]) -> list[TokenizedText]:
        """Encode ``texts`` (with special tokens, truncated to ``max_length``)."""
        return [TokenizedText(encoding.ids, encoding, len(encoding.ids) >= self.max_length)
                for encoding in self.backend().encode_batch(texts)]

    def side_filter(self, text: str, tokens: list[Token], start: int, end: int, lang: str) -> str | None:
        """Why the token span ``[start, end)`` cannot be a WPS word (``"punctuation"``,
        ``"number"``, ``"stop_word"``), or None when it can."""
        kinds = [tokens[k][2] for k in range(start, end)]
        if WORD not in kinds:
            return "number" if NUMBER in kinds else "punctuation"
        stopwords = self.stopwords[lang]
        surface = text[tokens[start][0]:tokens[end - 1][1]].casefold()
        if surface in stopwords or all(
            text[s:e].casefold() in stopwords for s, e, kind in tokens[start:end] if kind == WORD
        ):
            return "stop_word"
        return None

    def token_filters(self, text: str, tokens: list[Token], lang: str) -> list[str | None]:
        """:meth:`side_filter` of every single token (what alignment links need), computed at once."""
        stopwords = self.stopwords[lang]
        return [
            ("stop_word" if text[start:end].casefold() in stopwords else None) if kind == WORD
            else "number" if kind == NUMBER else "punctuation"
            for start, end, kind in tokens
        ]

    def candidates(self, source: PairSource, pair: SentencePair, src_tokens, tgt_tokens, counts: Counter):
        """The candidate word pairs of one sentence pair that pass the punctuation, number, stop
        word and phrase filters; every other candidate is counted in ``counts``."""
        src_lang, tgt_lang = source.src_lang, source.tgt_lang
        if self.aligner == "word-list":
            matches, repeated, overlapping = self.word_lists[source.position].candidates(
                pair.src, src_tokens, pair.tgt, tgt_tokens
            )
            counts["candidates"] += len(matches) + repeated + overlapping
            counts["repeated_in_sentence"] += repeated
            counts["overlapping_match"] += overlapping
            kept = []
            for candidate in matches:
                reason = self.side_filter(pair.src, src_tokens, candidate[0], candidate[1], src_lang) or \
                    self.side_filter(pair.tgt, tgt_tokens, candidate[2], candidate[3], tgt_lang)
                if reason:
                    counts[reason] += 1
                else:
                    kept.append(candidate)
            return kept
        if self.aligner == "pharaoh":
            where = f"{source.alignment_path}:{pair.index + 1}"
            links = parse_pharaoh(pair.links, len(src_tokens), len(tgt_tokens), where)
        else:
            forward = parse_pharaoh(pair.links, len(src_tokens), len(tgt_tokens), "eflomal forward links")
            reverse = parse_pharaoh(pair.reverse_links, len(src_tokens), len(tgt_tokens), "eflomal reverse links")
            links = symmetrize(forward, reverse, self.symmetrization)
        counts["candidates"] += len(links)
        src_reasons = self.token_filters(pair.src, src_tokens, src_lang)
        tgt_reasons = self.token_filters(pair.tgt, tgt_tokens, tgt_lang)
        content_links = set()
        for i, j in links:
            reason = src_reasons[i] or tgt_reasons[j]
            if reason:
                counts[reason] += 1
            else:
                content_links.add((i, j))
        phrases, discontiguous = link_candidates(content_links)
        counts["discontiguous"] += discontiguous
        kept = []
        for candidate in phrases:
            if max(candidate[1] - candidate[0], candidate[3] - candidate[2]) > self.max_phrase_words:
                counts["phrase_too_long"] += candidate[4]
            else:
                kept.append(candidate)
        return kept

    def build(self, batch: Batch) -> BatchResult:
        """Turn a batch of sentence pairs into WPS rows for the train and validation splits."""
        source = batch.source
        columns = output_columns(self.tokenizer_json is not None)
        result = BatchResult({})
        rows: dict[str, list[tuple]] = {"train": [], "validation": []}
        counts, clock = result.candidate_counts, time.perf_counter
        digests = [pair_digest(pair.src, pair.tgt, self.seed) for pair in batch.pairs]
        result.pair_digests = np.array(digests, dtype=np.uint64)

        pending = []
        for pair, digest in zip(batch.pairs, digests):
            started = clock()
            src_tokens, tgt_tokens = self.tokens(pair.src), self.tokens(pair.tgt)
            segmented = clock()
            result.seconds["segmentation"] += segmented - started
            if self.aligner == "eflomal" and max(len(src_tokens), len(tgt_tokens)) >= EFLOMAL_MAX_WORDS:
                result.pair_counts["too_long_for_eflomal"] += 1
                continue
            unique, seen = [], set()
            for candidate in self.candidates(source, pair, src_tokens, tgt_tokens, counts):
                src_start, src_end = src_tokens[candidate[0]][0], src_tokens[candidate[1] - 1][1]
                tgt_start, tgt_end = tgt_tokens[candidate[2]][0], tgt_tokens[candidate[3] - 1][1]
                key = (pair.src[src_start:src_end].casefold(), pair.tgt[tgt_start:tgt_end].casefold())
                if key in seen:
                    counts["duplicate"] += candidate[4]
                    continue
                seen.add(key)
                unique.append((src_start, src_end, tgt_start, tgt_end, candidate[4]))
            if unique:
                pending.append((pair, digest, unique))
            result.seconds["wps_building"] += clock() - segmented

        encodings = None
        if self.tokenizer_json is not None and pending:
            started = clock()
            texts = [text for pair, _, _ in pending for text in (pair.src, pair.tgt)]
            encodings = self.tokenize(texts)
            result.seconds["tokenisation"] += clock() - started

        for number, (pair, digest, unique) in enumerate(pending):
            started = clock()
            token_spans = None
            if encodings is not None:
                src_encoding, tgt_encoding = encodings[2 * number], encodings[2 * number + 1]
                spans = []
                for candidate in unique:
                    src_span = src_encoding.span(candidate[0], candidate[1])
                    tgt_span = tgt_encoding.span(candidate[2], candidate[3])
                    reason = src_span if isinstance(src_span, str) else tgt_span if isinstance(tgt_span, str) else None
                    if reason:
                        counts[reason] += candidate[4]
                    else:
                        spans.append((candidate, src_span + tgt_span))
                unique = [candidate for candidate, _ in spans]
                token_spans = [span for _, span in spans]
                result.seconds["tokenisation"] += clock() - started
                started = clock()
            chosen = range(len(unique))
            if len(unique) > self.max_words_per_pair:
                rng = random.Random(f"{self.seed}/{source.position}/{pair.index}")
                chosen = sorted(rng.sample(chosen, self.max_words_per_pair))
                counts["over_max_words_per_pair"] += sum(unique[k][4] for k in range(len(unique)) if k not in chosen)
            split_rows = rows["validation" if in_validation_split(digest, self.validation_fraction) else "train"]
            for k in chosen:
                src_start, src_end, tgt_start, tgt_end, weight = unique[k]
                counts["merged_into_phrase"] += weight - 1
                row = (source.src_lang, source.tgt_lang, pair.src, pair.tgt, pair.src[src_start:src_end],
                       pair.tgt[tgt_start:tgt_end], src_start, src_end, tgt_start, tgt_end)
                if token_spans is not None:
                    row += (src_encoding.input_ids, tgt_encoding.input_ids) + token_spans[k]
                split_rows.append(row)
            counts["wps_written"] += len(chosen)
            result.pair_counts["pairs_with_wps"] += bool(chosen)
            result.seconds["wps_building"] += clock() - started
        for split, split_rows in rows.items():
            result.splits[split] = dict(zip(columns, map(list, zip(*split_rows)))) if split_rows else {}
        return result


__all__ = ["ALIGNERS", "Batch", "BatchResult", "PairSource", "WpsBuilder", "in_validation_split", "output_columns", "pair_digest"]
