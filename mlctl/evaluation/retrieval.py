"""Retrieval on sentence embeddings, as XTREME scores it: the retrieval layer, cosine k-nearest neighbours (the
engine in `mlctl.search`), retrieval accuracy (Tatoeba), and BUCC 2018 bitext mining with the ratio margin
(`mlctl.mining`), its threshold and F1."""
from __future__ import annotations

import logging
import math

import numpy as np

from mlctl.evaluation.readers import BuccCorpus
from mlctl.mining import mine_embeddings
from mlctl.search import knn, normalized_rows

logger = logging.getLogger(__name__)

#: hidden_states[8] == XTREME's ``--specific_layer 7`` (its layer count skips the embedding output).
DEFAULT_RETRIEVAL_LAYER = 8


def resolve_layer(num_hidden_states: int, requested: int | None) -> int:
    """The ``hidden_states`` index to embed with: ``requested``, else 8 (XTREME's), else the last one."""
    if requested is None:
        return DEFAULT_RETRIEVAL_LAYER if num_hidden_states > DEFAULT_RETRIEVAL_LAYER else num_hidden_states - 1
    if not -num_hidden_states <= requested < num_hidden_states:
        raise ValueError(f"--layer {requested}: the model returns {num_hidden_states} hidden states "
                         f"(0 = embeddings .. {num_hidden_states - 1} = last layer)")
    return requested % num_hidden_states


def retrieval_accuracy(queries: np.ndarray, candidates: np.ndarray, tie_tolerance: float = 0.0) -> tuple[float, np.ndarray]:
    """The one retrieval score: the fraction of query rows i whose nearest candidate row by cosine (`mlctl.search.knn`:
    exact below `mlctl.search.AUTO_APPROXIMATE_PAIRS`) is row i, and the nearest candidate of every query.

    XTREME's Tatoeba score is this with ``tie_tolerance=0`` (its ``argmax`` over cosine similarities). With
    ``tie_tolerance > 0`` a query also counts as retrieved when its own candidate scores within that cosine of the
    nearest one: the identical embeddings of one sentence's word samples under the "sentence" ablation are ties,
    not misses (the trainer's validation retrieval and the ablation's word score).
    """
    if len(queries) != len(candidates):
        raise ValueError(f"{len(queries)} queries but {len(candidates)} candidates: row i of each must be a pair")
    if len(queries) == 0:
        return 0.0, np.zeros(0, dtype=np.int64)
    _, nearest = knn(queries, candidates, k=1)
    hits = nearest[:, 0] == np.arange(len(queries))
    if tie_tolerance > 0:  # both cosines in float32 (the GPU search ranks in float16)
        queries, candidates = normalized_rows(queries, slice(None)), normalized_rows(candidates, slice(None))
        own = (queries * candidates).sum(axis=1)
        hits |= own >= (queries * candidates[nearest[:, 0]]).sum(axis=1) - tie_tolerance
    return float(hits.mean()), nearest[:, 0]


def unique_sentence_ids(ids: list[str], sentences: list[str]) -> tuple[list[str], list[str | None], int]:
    """Distinct sentences and the id of each, ``None`` for a sentence that occurs more than once.

    XTREME embeds each distinct sentence once and drops candidates whose sentence is repeated (its id
    is ambiguous). Returns ``(distinct sentences, id or None per distinct sentence, repeated count)``.
    """
    first_id, count = {}, {}
    for sentence_id, sentence in zip(ids, sentences):
        first_id.setdefault(sentence, sentence_id)
        count[sentence] = count.get(sentence, 0) + 1
    distinct = list(first_id)
    return distinct, [first_id[s] if count[s] == 1 else None for s in distinct], sum(c > 1 for c in count.values())


def bucc_candidates(corpus: BuccCorpus, encode, k: int = 4) -> dict[tuple[str, str], float]:
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

