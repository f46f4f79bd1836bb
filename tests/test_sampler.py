"""NoDuplicatesBatchSampler: no two WPS of one sentence in a (global) batch, disjoint shards per process,
deterministic per (seed, epoch); and the duplicate count of any batching."""
import random

import datasets
import pytest
from transformers import TrainingArguments

from mlctl.experiments.synthetic import wps_keys_with_a_repeated_source
from mlctl.experiments.synthetic import wps_keys_with_duplicate_pairs
from mlctl.training.errors import TrainingSetupError
from mlctl.training.guards import check_batching
from mlctl.training.sampler import NoDuplicatesBatchSampler
from mlctl.training.sampler import duplicate_statistics


def multiway_keys(n_sentences=40, seed=0):
    """WPS keys as Multi30k gives them: every English sentence paired with 3 languages, 1–4 WPS per pair."""
    rng = random.Random(seed)
    keys = []
    for i in range(n_sentences):
        for lang in ("de", "fr", "cs"):
            keys += [(f"en {i}", f"{lang} {i}")] * rng.randint(1, 4)
    rng.shuffle(keys)
    return keys


def assert_no_shared_sentence(batch, keys):
    sources = [keys[i][0] for i in batch]
    targets = [keys[i][1] for i in batch]
    assert len(set(sources)) == len(sources) and len(set(targets)) == len(targets), batch


def test_no_batch_holds_two_wps_of_one_sentence_and_every_row_comes_once():
    keys = multiway_keys()
    sampler = NoDuplicatesBatchSampler(keys, batch_size=8, seed=3)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        for batch in batches:
            assert_no_shared_sentence(batch, keys)
        assert sorted(i for batch in batches for i in batch) == list(range(len(keys)))
        assert all(len(batch) == 8 for batch in batches[:len(keys) // 8 - 20])  # early batches are always full
    # The default batching of the same rows does put duplicates together.
    order = list(range(len(keys)))
    random.Random(0).shuffle(order)
    default = [order[i:i + 8] for i in range(0, len(order), 8)]
    assert duplicate_statistics(default, keys)["batch_share_with_duplicates"] > 0.5
    assert duplicate_statistics(batches, keys)["batch_share_with_duplicates"] == 0.0


def test_two_processes_get_disjoint_rows_of_each_duplicate_free_global_batch():
    keys = multiway_keys(seed=1)
    ranks = [NoDuplicatesBatchSampler(keys, batch_size=4, num_replicas=2, rank=rank, seed=5) for rank in (0, 1)]
    single = NoDuplicatesBatchSampler(keys, batch_size=8, seed=5)
    shards = [list(sampler) for sampler in ranks]
    assert len(shards[0]) == len(shards[1]) == len(single)
    seen = []
    for first, second, whole in zip(*shards, single):
        assert not set(first) & set(second)
        assert first + second == whole  # rank r holds rows [4r, 4r + 4) of the global batch
        assert_no_shared_sentence(first + second, keys)
        seen += first + second
    assert len(seen) == len(set(seen))
    assert len(seen) >= len(keys) - 1  # only a last global batch smaller than the process count is dropped


def test_order_is_a_function_of_seed_and_epoch():
    keys = multiway_keys()
    a, b = NoDuplicatesBatchSampler(keys, 8, seed=1), NoDuplicatesBatchSampler(keys, 8, seed=1)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)
    assert list(NoDuplicatesBatchSampler(keys, 8, seed=2)) != list(a)


def test_duplicate_statistics_known_answer():
    keys = [("a", "x"), ("a", "y"), ("b", "z"), ("c", "z"), ("d", "w")]
    stats = duplicate_statistics([[0, 1, 4], [2, 3], [4]], keys)
    assert stats["batch_share_with_duplicates"] == pytest.approx(2 / 3)
    assert stats["row_share_with_duplicates"] == pytest.approx(4 / 6)
    assert stats["rows_with_duplicates_per_batch"] == pytest.approx(4 / 3)


def test_bad_rank_is_refused():
    with pytest.raises(ValueError, match="rank 2 is not in"):
        NoDuplicatesBatchSampler([("a", "b")], 4, num_replicas=2, rank=2)


def assert_duplicate_free_batches_of_two_pairs_or_more(batches, keys, batch_size):
    for batch in batches:
        assert 2 <= len(batch) <= batch_size, len(batch)
        assert_no_shared_sentence(batch, keys)


@pytest.mark.parametrize("keys", [wps_keys_with_duplicate_pairs(1200), wps_keys_with_a_repeated_source(50_000)],
                         ids=["10 % duplicated pairs", "5 % of sources 'Thank you.'"])
def test_no_batch_under_two_pairs_over_an_epoch_and_after_a_resume(keys):
    """Issue 19 item 1: the greedy fill left 1-pair batches at the end of the epoch (3 of 14 on the first corpus,
    2,125 of 2,500 on the second), so training died there, and again on resume."""
    sampler = NoDuplicatesBatchSampler(keys, batch_size=128, seed=0)
    epoch = list(sampler)
    assert_duplicate_free_batches_of_two_pairs_or_more(epoch, keys, 128)
    assert sorted(row for batch in epoch for row in batch) == list(range(len(keys)))
    # A run resumed in epoch 1 builds a new sampler and skips the batches already trained on.
    sampler.set_epoch(1)
    uninterrupted = list(sampler)
    resumed = NoDuplicatesBatchSampler(keys, batch_size=128, seed=0)
    resumed.set_epoch(1)
    assert list(resumed)[5:] == uninterrupted[5:]
    assert_duplicate_free_batches_of_two_pairs_or_more(uninterrupted, keys, 128)
    assert uninterrupted != epoch


def test_a_sentence_in_every_batch_gives_as_many_equal_batches_as_its_rows():
    keys = wps_keys_with_a_repeated_source(50_000)
    sampler = NoDuplicatesBatchSampler(keys, batch_size=128, seed=0)
    assert len(sampler) == 2_500 and {len(batch) for batch in sampler} == {20}
    # Without a repeated sentence: full batches, and a 1-row tail shares the last full batch's rows.
    distinct = [(f"s{i}", f"t{i}") for i in range(2 * 128 + 1)]
    assert [len(batch) for batch in NoDuplicatesBatchSampler(distinct, 128)] == [128, 65, 64]


def test_a_row_with_no_batch_left_takes_the_place_of_a_row_that_can_move():
    keys = [("s0", "t0"), ("s0", "t2"), ("s2", "t0"), ("s2", "t0"), ("s2", "t1"), ("s2", "t0"), ("s1", "t1"),
            ("s2", "t2"), ("s0", "t0"), ("s2", "t0"), ("s1", "t2"), ("s1", "t2")]
    batches = list(NoDuplicatesBatchSampler(keys, 4, seed=0))
    assert_duplicate_free_batches_of_two_pairs_or_more(batches, keys, 4)
    assert sorted(row for batch in batches for row in batch) == list(range(12))


def test_dense_random_corpora_keep_every_rule_and_count_what_is_left_out(caplog):
    """Small corpora of few sentences (worse than any real corpus): every batch has 2 pairs or more and no repeated
    sentence, and every row not in a batch is counted in the warning."""
    for case in range(200):
        rng = random.Random(case)
        keys = [(f"s{rng.randrange(rng.randint(2, 12))}", f"t{rng.randrange(12)}") for _ in range(rng.randint(2, 60))]
        try:
            sampler = NoDuplicatesBatchSampler(keys, 8, seed=case)
        except ValueError as error:
            assert "is in" in str(error)
            continue
        caplog.clear()
        batches = list(sampler)
        assert_duplicate_free_batches_of_two_pairs_or_more(batches, keys, 8)
        placed = [row for batch in batches for row in batch]
        assert len(set(placed)) == len(placed)
        left_out = [record.getMessage() for record in caplog.records if "left out" in record.getMessage()]
        assert left_out == ([f"epoch 0: {len(keys) - len(placed)} of {len(keys)} rows fit in no batch without a "
                             "repeated sentence and are left out of this epoch"] if len(placed) < len(keys) else [])


def test_a_corpus_whose_rows_all_share_one_source_is_refused_with_a_count():
    keys = [("Thank you.", f"target {i}") for i in range(1000)]
    with pytest.raises(ValueError) as raised:
        NoDuplicatesBatchSampler(keys, 128)
    assert str(raised.value) == ("the source sentence 'Thank you.' is in 1,000 of the 1,000 rows, but batches of at "
                                 "least 2 pairs that never repeat a sentence allow it in at most half of them (500)")


def test_training_refuses_such_a_corpus_before_it_starts():
    train = datasets.Dataset.from_dict({"src_text": ["Thank you."] * 600 + ["Hello."] * 400,
                                        "tgt_text": [f"target {i}" for i in range(1000)]})
    arguments = TrainingArguments(output_dir="unused", per_device_train_batch_size=128, report_to="none")
    with pytest.raises(TrainingSetupError, match=r"^--batch_sampler no_duplicates: the source sentence 'Thank you\.' "
                                                 r"is in 600 of the 1,000 rows"):
        check_batching(arguments, train, None, gather_negatives=True, batch_sampler="no_duplicates")
    assert check_batching(arguments, train.select(range(300, 900)), None, True, "no_duplicates")[0].num_rows == 600
