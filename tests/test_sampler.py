"""NoDuplicatesBatchSampler: no two WPS of one sentence in a (global) batch, disjoint shards per process,
deterministic per (seed, epoch); and the duplicate count of any batching."""
import random

import pytest

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
