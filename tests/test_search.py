"""The retrieval engine (mlctl.search): the blocked-matmul (GPU) path on CPU tensors against faiss exact search, the
IVF matmul scan against faiss IndexIVFFlat on the same centroids, approximate against exact on planted pairs, float16 memory maps, method choice."""
import faiss
import numpy as np
import pytest
import torch

from mlctl import search
from mlctl.search import retrieval_accuracy


def unit(matrix):
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def faiss_exact(queries, database, k):
    index = faiss.IndexFlatIP(database.shape[1])
    index.add(unit(database))
    return index.search(unit(queries), k)


def planted(n, dim, seed=0, noise=0.3):
    """``x`` and ``y`` where y[perm[i]] is x[i] plus noise: the planted pairs are (i, perm[i])."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    perm = rng.permutation(n)
    y = np.empty_like(x)
    y[perm] = x + noise * rng.standard_normal((n, dim)).astype(np.float32)
    return unit(x), unit(y), perm


@pytest.mark.parametrize("query_block,database_block", [(7, 11), (64, 5), (1000, 1000)])
def test_blocked_matmul_on_cpu_tensors_equals_faiss_exact_in_both_directions(query_block, database_block):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((53, 12)).astype(np.float32), rng.standard_normal((41, 12)).astype(np.float32)
    (fwd_sims, fwd_ids), (bwd_sims, bwd_ids) = search.blocked_knn(
        x, y, 4, both_directions=True, device="cpu", dtype=torch.float32, query_block=query_block,
        database_block=database_block)
    ref_fwd_sims, ref_fwd_ids = faiss_exact(x, y, 4)
    ref_bwd_sims, ref_bwd_ids = faiss_exact(y, x, 4)
    np.testing.assert_array_equal(fwd_ids, ref_fwd_ids)
    np.testing.assert_array_equal(bwd_ids, ref_bwd_ids)
    np.testing.assert_allclose(fwd_sims, ref_fwd_sims, atol=1e-5)
    np.testing.assert_allclose(bwd_sims, ref_bwd_sims, atol=1e-5)


def test_blocked_matmul_k_larger_than_a_block_or_the_database():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((9, 6)).astype(np.float32), rng.standard_normal((5, 6)).astype(np.float32)
    sims, ids = search.blocked_knn(x, y, 8, device="cpu", dtype=torch.float32, query_block=4, database_block=2)
    ref_sims, ref_ids = faiss_exact(x, y, 5)
    assert ids.shape == (9, 5)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(sims, ref_sims, atol=1e-5)


def test_ivf_scan_finds_what_faiss_index_ivf_flat_finds_in_both_directions():
    rng = np.random.default_rng(3)
    x, y = unit(rng.standard_normal((1500, 16))), unit(rng.standard_normal((1200, 16)))
    centroids = search.coarse_centroids([x, y], 32)
    ours = search.matmul_ivf_knn(x, y, centroids, 4, nprobe=3)
    reference = search.faiss_ivf_both_directions(x, y, centroids, 4, nprobe=3)
    for (sims, ids), (ref_sims, ref_ids) in zip(ours, reference):
        np.testing.assert_array_equal(ids, ref_ids)
        np.testing.assert_allclose(sims, ref_sims, atol=1e-5)
    assert (ours[0][1] != faiss_exact(x, y, 4)[1]).any()  # 3 of 32 lists: the agreement is not that of exact search


def test_approximate_and_exact_agree_on_planted_pairs():
    x, y, perm = planted(12_000, 24)
    approximate = search.knn_both_directions(x, y, 4, method="approximate", device="cpu")
    exact = search.knn_both_directions(x, y, 4, method="exact", device="cpu")
    assert (exact[0][1][:, 0] == perm).all() and (exact[1][1][perm, 0] == np.arange(len(x))).all()
    agree_fwd = (approximate[0][1][:, 0] == exact[0][1][:, 0]).mean()
    agree_bwd = (approximate[1][1][:, 0] == exact[1][1][:, 0]).mean()
    assert agree_fwd >= 0.99 and agree_bwd >= 0.99, (agree_fwd, agree_bwd)
    found = approximate[0][1][:, 0] == perm
    np.testing.assert_allclose(approximate[0][0][found, 0], exact[0][0][found, 0], atol=1e-5)
    one_way_sims, one_way_ids = search.knn(x, y, 4, method="approximate", device="cpu")  # lists trained on y alone
    assert one_way_ids.shape == (len(x), 4) and (one_way_ids[:, 0] == exact[0][1][:, 0]).mean() >= 0.99
    np.testing.assert_allclose(one_way_sims[one_way_ids[:, 0] == perm, 0], exact[0][0][one_way_ids[:, 0] == perm, 0],
                               atol=1e-5)


def test_float16_memmap_inputs_search_like_float32(tmp_path):
    x, y, perm = planted(300, 16, seed=4)
    store = search.float16_memmap(tmp_path / "y.npy", len(y), y.shape[1])
    store[:] = y
    store.flush()
    reopened = np.load(tmp_path / "y.npy", mmap_mode="r")
    sims, ids = search.knn(x, reopened, 3, method="exact", device="cpu")
    ref_sims, ref_ids = faiss_exact(x, y, 3)
    np.testing.assert_array_equal(ids[:, 0], ref_ids[:, 0])
    np.testing.assert_allclose(sims, ref_sims, atol=2e-3)  # float16 storage
    assert (ids[:, 0] == perm).all()


def test_method_choice_by_size_and_device():
    big = search.IVF_MIN_ROWS * 10
    assert search.resolve_method("auto", 1000, 1000, "cpu") == "exact"
    assert search.resolve_method("auto", big * 100, big, "cpu") == "approximate"
    assert search.resolve_method("auto", big * 100, big, "cuda") == "exact"
    assert search.resolve_method("approximate", 100, 100, "cpu") == "exact"  # too few rows to train lists
    assert search.resolve_method("exact", big * 100, big, "cpu") == "exact"
    with pytest.raises(ValueError, match="method='hnsw' is not valid; choose one of 'auto', 'exact', 'approximate'"):
        search.resolve_method("hnsw", 10, 10, "cpu")


def test_ivf_list_count_is_trainable():
    for n in (10_000, 100_000, 400_000):
        lists = search.ivf_list_count(n)
        assert lists * search.IVF_TRAIN_POINTS_PER_LIST <= n and lists & (lists - 1) == 0
    assert search.ivf_list_count(400_000) == 2048


def test_retrieval_accuracy_goes_through_the_engine(monkeypatch):
    calls = []
    monkeypatch.setattr("mlctl.search.knn",
                        lambda *a, **kw: calls.append(kw) or (None, np.array([[1], [0]])))
    assert retrieval_accuracy(np.zeros((2, 3)), np.zeros((2, 3)))[0] == 0.0
    assert calls == [{"k": 1}]


@pytest.mark.parametrize("ivf_both_directions", [search.matmul_ivf_knn,
                                                 search.faiss_ivf_both_directions])
def test_ivf_refuses_queries_with_too_few_candidates(ivf_both_directions):
    rng = np.random.default_rng(5)
    x, y = unit(rng.standard_normal((20, 4))), unit(rng.standard_normal((20, 4)))
    centroids = unit(rng.standard_normal((10, 4)))
    with pytest.raises(ValueError, match=r"^\d+ queries have fewer than 8 candidates in their 1 nearest lists"):
        ivf_both_directions(x, y, centroids, 8, nprobe=1)


def test_tie_tolerance_compares_float32_cosines_not_the_search_precision(monkeypatch):
    queries = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    candidates = unit(np.array([[1.0, 0.04], [1.0, 0.0]], dtype=np.float32))
    # query 0: own candidate at cosine 0.9992, candidate 1 at cosine 1.0 (8e-4 better: a miss, not a tie); a float16
    # search (the GPU path) may report that nearest similarity rounded down to 0.999
    monkeypatch.setattr("mlctl.search.knn", lambda q, d, k: (
        np.array([[0.999], [0.0]], dtype=np.float32), np.array([[1], [1]])))
    accuracy, _ = retrieval_accuracy(queries, candidates, tie_tolerance=1e-4)
    assert accuracy == 0.5  # query 1 retrieves its own candidate
