"""Retrieval and BUCC scorers of run_xtreme_tasks on hand-built embeddings with known answers."""
import math
import random

import numpy as np
import pytest

from mlctl.evaluation.finetune import chunk_long_sentences
from mlctl.evaluation.finetune import first_subtoken_labels
from mlctl.evaluation.metrics import accuracy
from mlctl.evaluation.metrics import tagging_f1
from mlctl.evaluation.readers import BuccCorpus
from mlctl.evaluation.report import markdown_table
from mlctl.evaluation.report import summarize_task
from mlctl.evaluation.bucc import bucc_candidates
from mlctl.evaluation.bucc import bucc_f1
from mlctl.evaluation.bucc import extract_pairs
from mlctl.evaluation.bucc import optimal_threshold
from mlctl.encoding import resolve_layer
from mlctl.search import retrieval_accuracy
from mlctl.evaluation.bucc import unique_sentence_ids
from mlctl.mining import mine_embeddings


def one_hot(n: int, dim: int | None = None) -> np.ndarray:
    """Rows e_0 .. e_{n-1} of the identity in ``dim`` dimensions."""
    return np.eye(n, dim or n, dtype=np.float32)


# ------------------------------------------------------------------------------------------ Tatoeba


def test_tatoeba_perfect_alignment_scores_100():
    embeddings = np.random.default_rng(0).normal(size=(30, 8)).astype(np.float32)
    accuracy, predictions = retrieval_accuracy(embeddings * 3.0, embeddings)  # cosine ignores scale
    assert accuracy == 1.0
    assert predictions.tolist() == list(range(30))


def test_tatoeba_shuffled_pairs_score_the_fixed_points_only():
    english = one_hot(10)
    permutation = [0, 1, 2, 3, 5, 4, 7, 8, 9, 6]  # 4 fixed points, 6 moved
    accuracy, predictions = retrieval_accuracy(english[permutation], english)
    assert accuracy == pytest.approx(0.4)
    assert predictions.tolist() == permutation


def test_tatoeba_ties_go_to_the_lowest_english_index():
    english = one_hot(4)
    english[1] = english[0]  # two English sentences with the same embedding
    xx = one_hot(4)
    xx[1] = xx[0]
    accuracy, predictions = retrieval_accuracy(xx, english)
    assert predictions.tolist() == [0, 0, 2, 3]
    assert accuracy == 0.75
    # With a tie tolerance (the trainer's validation, the ablation's word score) the tie counts as retrieved.
    assert retrieval_accuracy(xx, english, tie_tolerance=1e-4)[0] == 1.0


# --------------------------------------------------------------------------------------------- BUCC


def test_mining_perfect_alignment_finds_every_pair_with_ratio_margin_4():
    # One-hot rows: each sentence's 4 nearest neighbours have cosines 1, 0, 0, 0 -> mean 0.25 on both
    # sides, so a true pair scores 1 / 0.25 = 4 and every other candidate 0.
    src, trg, scores = mine_embeddings(one_hot(6), one_hot(6), k=4)
    assert sorted(zip(src.tolist(), trg.tolist())) == [(i, i) for i in range(6)]
    assert scores == pytest.approx([4.0] * 6)


def test_mining_recovers_a_shuffled_target_side():
    permutation = [3, 0, 4, 1, 5, 2]
    target = one_hot(6)[permutation]  # target row j is source row permutation[j]
    src, trg, _ = mine_embeddings(one_hot(6), target, k=4)
    assert dict(zip(src.tolist(), trg.tolist())) == {p: j for j, p in enumerate(permutation)}


def test_mining_ties_keep_one_pair_per_sentence_lowest_index_first():
    # Sources 0 and 1 are identical and both match target 0; target 1 matches nothing.
    # x: k=2 cosines [1, 0] -> mean 0.5; y0: [1, 1] -> 1; y1: [0, 0] -> 0.
    # score(x0, y0) = score(x1, y0) = 1 / ((0.5 + 1) / 2) = 4/3; only (0, 0) survives the 1:1 rule,
    # and pairs with y1 score 0, which mining never proposes.
    source = np.array([[1, 0], [1, 0]], dtype=np.float32)
    target = np.array([[1, 0], [0, 1]], dtype=np.float32)
    src, trg, scores = mine_embeddings(source, target, k=4)
    assert list(zip(src.tolist(), trg.tolist())) == [(0, 0)]
    assert scores.tolist() == pytest.approx([4 / 3])


def test_mining_scores_match_the_ratio_margin_formula_on_random_embeddings():
    rng = np.random.default_rng(1)
    source, target = rng.normal(size=(15, 6)), rng.normal(size=(12, 6))
    src, trg, scores = mine_embeddings(source, target, k=3)
    unit_s = source / np.linalg.norm(source, axis=1, keepdims=True)
    unit_t = target / np.linalg.norm(target, axis=1, keepdims=True)
    cosine = unit_s @ unit_t.T
    fwd_mean = np.sort(cosine, axis=1)[:, -3:].mean(axis=1)
    bwd_mean = np.sort(cosine, axis=0)[-3:, :].mean(axis=0)
    expected = cosine[src, trg] / ((fwd_mean[src] + bwd_mean[trg]) / 2)
    assert scores == pytest.approx(expected, rel=1e-5)
    assert len(set(src.tolist())) == len(src) and len(set(trg.tolist())) == len(trg)
    assert list(scores) == sorted(scores, reverse=True)


def test_repeated_sentences_lose_their_id():
    distinct, ids, repeated = unique_sentence_ids(["a1", "a2", "a3", "a4"], ["x", "y", "x", "z"])
    assert distinct == ["x", "y", "z"]
    assert ids == [None, "a2", "a4"]
    assert repeated == 1


def test_bucc_f1_counts_correct_pairs():
    gold = {("s1", "t1"), ("s2", "t2"), ("s3", "t3"), ("s4", "t4")}
    predicted = {("s1", "t1"), ("s2", "t2"), ("s2", "t9")}
    scores = bucc_f1(predicted, gold)
    assert scores["precision"] == pytest.approx(200 / 3)
    assert scores["recall"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(100 * 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert bucc_f1(set(), gold)["f1"] == 0.0


def brute_force_best_f1(candidates: dict, gold: set) -> float:
    """Best F1 over every threshold that changes the extraction (each distinct score), or 0."""
    best = 0.0
    for threshold in set(candidates.values()):
        best = max(best, bucc_f1(extract_pairs(candidates, threshold), gold)["f1"])
    return best


@pytest.mark.parametrize("seed", range(40))
def test_threshold_search_matches_brute_force(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 30)
    pairs = [(f"s{i}", f"t{i}") for i in range(n)]
    # Rounded scores create ties; some gold pairs are never mined (they only cost recall).
    candidates = {pair: round(rng.uniform(0.9, 1.3), 1) for pair in pairs}
    gold = {pair for pair in pairs if rng.random() < 0.5} | {(f"s{n + i}", "t-missing") for i in range(rng.randint(0, 3))}
    threshold, f1 = optimal_threshold(candidates, gold)
    expected = brute_force_best_f1(candidates, gold)
    assert f1 == pytest.approx(expected)
    applied = bucc_f1(extract_pairs(candidates, threshold), gold)["f1"] if math.isfinite(threshold) else 0.0
    assert applied == pytest.approx(expected)


def test_threshold_lies_midway_below_the_last_kept_score():
    candidates = {("a", "1"): 1.5, ("b", "2"): 1.4, ("c", "3"): 1.1, ("d", "4"): 1.0}
    threshold, f1 = optimal_threshold(candidates, {("a", "1"), ("b", "2")})
    assert threshold == pytest.approx(1.25)
    assert f1 == pytest.approx(100.0)


def test_tied_candidates_are_kept_or_dropped_together():
    # Keeping only ("a","1") would give F1 100 but is not a threshold: it ties with a wrong pair.
    candidates = {("a", "1"): 1.2, ("x", "9"): 1.2, ("b", "2"): 0.5}
    threshold, f1 = optimal_threshold(candidates, {("a", "1")})
    assert extract_pairs(candidates, threshold) == {("a", "1"), ("x", "9")}
    assert f1 == pytest.approx(100 * 2 * 0.5 * 1 / 1.5)


def test_no_correct_candidate_extracts_nothing():
    threshold, f1 = optimal_threshold({("a", "1"): 1.2}, {("b", "2")})
    assert threshold == math.inf and f1 == 0.0
    assert extract_pairs({("a", "1"): 1.2}, threshold) == set()


def test_bucc_candidates_map_mined_rows_back_to_ids():
    corpus = BuccCorpus(
        src_ids=["de-1", "de-2", "de-3", "de-4"], src_sentences=["A", "B", "C", "A"],
        en_ids=["en-1", "en-2", "en-3"], en_sentences=["b", "c", "a"], gold=None, source="hand-built",
    )
    vectors = {"A": 0, "B": 1, "C": 2, "a": 0, "b": 1, "c": 2}

    def encode(sentences, name):
        return one_hot(3)[[vectors[s] for s in sentences]]

    candidates = bucc_candidates(corpus, encode, k=4)
    # "A" occurs twice on the German side, so its pair with "a" is dropped as in XTREME.
    assert set(candidates) == {("de-2", "en-1"), ("de-3", "en-2")}


# ----------------------------------------------------------------------------------- other pieces


def test_layer_defaults_to_8_else_the_last_and_rejects_out_of_range():
    assert resolve_layer(13, None) == 8
    assert resolve_layer(3, None) == 2
    assert resolve_layer(13, -1) == 12
    with pytest.raises(ValueError, match="13 hidden states"):
        resolve_layer(13, 13)


def test_first_subtoken_labels():
    word_ids = [None, 0, 0, 1, 2, 2, 2, None]
    assert first_subtoken_labels(word_ids, [5, 6, 7]) == [-100, 5, -100, 6, 7, -100, -100, -100]


def test_summary_table():
    results = {
        "model": "ckpt",
        "tasks": {
            "xnli": {"languages": {"en": {"accuracy": 80.0}, "de": {"accuracy": 70.0}}, "average": 75.0},
            "tatoeba": {"languages": {"de": {"accuracy": 43.4}}, "average": 43.4},
        },
    }
    table = markdown_table(results).splitlines()
    assert table[0] == "| model | XNLI acc | PAWS-X acc | POS F1 | NER F1 | BUCC F1 | Tatoeba acc |"
    assert table[2] == "| ckpt | 75.0 | – | – | – | – | 43.4 |"
    assert summarize_task("xnli", results["tasks"]["xnli"]["languages"]) == 75.0
    assert summarize_task("xnli", {}) is None


def test_fine_tuning_metrics_score():
    assert accuracy(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0]) == {"accuracy": 75.0}
    ner = tagging_f1(predictions=[["B-PER", "I-PER", "O", "B-LOC"]], references=[["B-PER", "I-PER", "O", "B-ORG"]])
    assert ner["f1"] == pytest.approx(50.0) and ner["token_accuracy"] == pytest.approx(75.0)
    # XTREME's POS F1 is seqeval on POS tags: NOUN NOUN is one "chunk", so one wrong tag costs more.
    pos = tagging_f1(predictions=[["NOUN", "NOUN", "ADJ"]], references=[["NOUN", "VERB", "ADJ"]])
    assert pos["f1"] == pytest.approx(40.0) and pos["token_accuracy"] == pytest.approx(200 / 3)


@pytest.mark.parametrize("n_words,lengths", [(3, [1, 1, 1]), (7, [2, 2, 2, 2, 2, 2, 2])])
def test_chunking_keeps_every_word_within_the_budget(n_words, lengths):
    class CountingTokenizer:
        """Each word ``w`` is ``len(w)`` sub-tokens; [CLS] and [SEP] are added."""

        unk_token = "[UNK]"

        def num_special_tokens_to_add(self, pair=False):
            return 2

        def __call__(self, words, add_special_tokens=False):
            return {"input_ids": [[0] * len(word) for word in words]}

    sentence = ["x" * length for length in lengths]
    chunks, tags, owners, replaced = chunk_long_sentences(CountingTokenizer(), [sentence, ["", "ab"]],
                                                             [list(range(n_words)), ["t1", "t2"]], max_length=7)
    assert [w for chunk, owner in zip(chunks, owners) if owner == 0 for w in chunk] == sentence
    assert all(sum(len(w) for w in chunk) <= 5 for chunk, owner in zip(chunks, owners) if owner == 0)
    assert [t for chunk_tags, owner in zip(tags, owners) if owner == 0 for t in chunk_tags] == list(range(n_words))
    assert chunks[-1] == ["[UNK]", "ab"] and replaced == 1


# ------------------------------------------------------------------------------- XTREME's protocol


def unit_vectors(degrees: list[float]) -> np.ndarray:
    radians = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    return np.stack([np.cos(radians), np.sin(radians)], axis=1).astype(np.float32)


def test_tatoeba_scores_xtremes_direction_en_to_xx_and_reports_the_other():
    from mlctl.evaluation.xtreme import tatoeba_accuracies

    # English at 0, 10, 20 degrees; their translations at 3, 12, 60 degrees.
    # en -> xx (XTREME: xx indexed, English queries): 0->3 hit, 10->12 hit, 20->12 miss: 2/3.
    # xx -> en: 3->0 hit, 12->10 hit, 60->20 hit: 3/3.
    scores = tatoeba_accuracies(unit_vectors([3, 12, 60]), unit_vectors([0, 10, 20]))
    assert scores["accuracy"] == pytest.approx(200 / 3)
    assert scores["accuracy_xx_to_en"] == pytest.approx(100.0)
    assert scores["direction"] == "en->xx"


def test_retrieval_pooling_defaults_to_xtremes_per_task_and_pool_type_overrides(monkeypatch):
    from mlctl.evaluation import xtreme
    from mlctl.evaluation.xtreme import XtremeArguments
    from mlctl.evaluation.xtreme import XtremeEvaluation

    # Hand-built hidden states of two 3-token sentences: cls = token 0, mean = the mean over the attention mask.
    hidden = np.array([[[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]], [[0.0, 1.0], [2.0, 2.0], [9.0, 9.0]]], dtype=np.float32)
    attention = np.array([[1, 1, 1], [1, 1, 0]], dtype=np.float32)

    def fake_encode(model, tokenizer, sentences, *, pooling, layer, **kwargs):
        if pooling == "cls":
            return hidden[:, 0]
        return (hidden * attention[..., None]).sum(1) / attention.sum(1, keepdims=True)

    monkeypatch.setattr(xtreme, "encode_sentences", fake_encode)
    evaluation = XtremeEvaluation.__new__(XtremeEvaluation)
    evaluation._encoder, evaluation.tokenizer, evaluation.layer = object(), None, 3
    monkeypatch.setattr(xtreme, "default_max_length", lambda model: 512)
    for pool_type, tatoeba, bucc in ((None, "mean", "cls"), ("cls", "cls", "cls"), ("mean", "mean", "mean")):
        evaluation.args = XtremeArguments(model_name_or_path="m", pool_type=pool_type)
        assert (evaluation.pooling("tatoeba"), evaluation.pooling("bucc2018")) == (tatoeba, bucc)
    np.testing.assert_allclose(evaluation.embed(["a", "b"], "x", "cls"), [[1, 0], [0, 1]])
    np.testing.assert_allclose(evaluation.embed(["a", "b"], "x", "mean"), [[3, 2], [1, 1.5]])
