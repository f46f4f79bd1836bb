"""BUCC 2018 as XTREME scores it: bitext mining with the ratio margin (`mlctl.mining`), the F1-optimal threshold
and F1."""
from __future__ import annotations

import logging
import math
from collections import Counter

import numpy as np

from mlctl.evaluation.readers import BuccCorpus
from mlctl.mining import MARGIN_NEIGHBOURS
from mlctl.mining import mine_embeddings

logger = logging.getLogger(__name__)


def unique_sentence_ids(ids: list[str], sentences: list[str]) -> tuple[list[str], list[str | None], int]:
    """Distinct sentences and the id of each, ``None`` for a sentence that occurs more than once.

    XTREME embeds each distinct sentence once and drops candidates whose sentence is repeated (its id
    is ambiguous). Returns ``(distinct sentences, id or None per distinct sentence, repeated count)``.
    """
    first_id, count = {}, Counter(sentences)
    for sentence_id, sentence in zip(ids, sentences):
        first_id.setdefault(sentence, sentence_id)
    distinct = list(first_id)
    return distinct, [first_id[s] if count[s] == 1 else None for s in distinct], sum(c > 1 for c in count.values())


def bucc_candidates(corpus: BuccCorpus, encode, k: int = MARGIN_NEIGHBOURS) -> dict[tuple[str, str], float]:
    """Mined ``(src_id, en_id) -> margin score`` for one BUCC split; ``encode(sentences, name)`` embeds text."""
    src_distinct, src_id_of, src_repeated = unique_sentence_ids(corpus.src_ids, corpus.src_sentences)
    en_distinct, en_id_of, en_repeated = unique_sentence_ids(corpus.en_ids, corpus.en_sentences)
    if src_repeated or en_repeated:
        logger.warning("bucc2018: %d source and %d English sentences occur more than once in %s; their candidates "
                       "are dropped, as in XTREME", src_repeated, en_repeated, corpus.source)
    src_index, en_index, scores = mine_embeddings(encode(src_distinct, "src"), encode(en_distinct, "en"), k=k)
    candidates = {}
    for s, t, score in zip(src_index, en_index, scores):
        if src_id_of[s] is not None and en_id_of[t] is not None:
            candidates[(src_id_of[s], en_id_of[t])] = float(score)
    return candidates


def bucc_f1(predicted: set, gold: set) -> dict[str, float]:
    """XTREME's BUCC score: precision, recall and F1 (percentages) of predicted pairs against gold pairs."""
    correct = len(predicted & gold)
    if correct == 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision, recall = correct / len(predicted), correct / len(gold)
    return {"precision": 100.0 * precision, "recall": 100.0 * recall,
            "f1": 100.0 * 2 * precision * recall / (precision + recall)}


def optimal_threshold(candidates: dict[tuple[str, str], float], gold: set) -> tuple[float, float]:
    """The score threshold whose extraction ``{pair: score >= threshold}`` has the best F1 on ``gold``.

    Only cuts between distinct scores are considered (tied candidates are all in or all out), the
    highest threshold wins among equal F1s, and the returned value lies midway between the lowest kept
    score and the next lower one, as XTREME does. Returns ``(threshold, F1 in %)``; with no gold pair
    among the candidates the threshold is ``inf`` (extract nothing) and F1 is 0.
    """
    if not candidates or not gold:
        return math.inf, 0.0
    pairs = list(candidates)
    scores = np.fromiter((candidates[p] for p in pairs), dtype=np.float64, count=len(pairs))
    is_gold = np.fromiter((p in gold for p in pairs), dtype=np.float64, count=len(pairs))
    order = np.argsort(-scores, kind="stable")
    scores, is_gold = scores[order], is_gold[order]
    true_positives = np.cumsum(is_gold)
    f1 = 2 * true_positives / (np.arange(1, len(scores) + 1) + len(gold))
    last_of_tie = np.append(scores[1:] != scores[:-1], True)
    f1[~last_of_tie] = -1.0
    best = int(np.argmax(f1))
    if true_positives[best] == 0:
        return math.inf, 0.0
    threshold = (scores[best] + scores[best + 1]) / 2 if best + 1 < len(scores) else scores[best]
    return float(threshold), float(100.0 * f1[best])


def extract_pairs(candidates: dict[tuple[str, str], float], threshold: float) -> set[tuple[str, str]]:
    """Candidate pairs scoring at least ``threshold``."""
    return {pair for pair, score in candidates.items() if score >= threshold}

