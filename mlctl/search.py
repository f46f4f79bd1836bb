"""The retrieval engine: cosine k-nearest neighbours between two sets of sentence embeddings, for Tatoeba, BUCC,
bitext mining (`mlctl-mine`) and the trainer's validation retrieval.

    from mlctl.search import knn, knn_both_directions

    similarities, indices = knn(queries, database, k=4)                 # method="auto"
    (fwd_sims, fwd_ids), (bwd_sims, bwd_ids) = knn_both_directions(x, y, k=4, method="approximate")

Three back ends, chosen by ``method`` (`SEARCH_METHODS`):

- ``exact`` on a GPU: :func:`blocked_knn`, a blocked matmul in float16: ``query_block x database_block`` score
  tiles, top-k kept per tile and merged, so the full similarity matrix never exists; one pass gives both directions.
  Its similarities carry float16 rounding (about 5e-4 relative). The function is device-agnostic (tests run it on
  CPU tensors with the same blocking).
- ``exact`` on the CPU: faiss ``IndexFlatIP``, filled and queried in row chunks.
- ``approximate``: an inverted file (IVF) over faiss spherical k-means centroids, `nprobe` lists searched per query:
  the candidates of faiss ``IndexIVFFlat`` with the same centroids (:func:`faiss_ivf_both_directions`, which the
  tests and the benchmark compare it with), but :func:`ivf_search` scans each list with one matmul against all the
  queries probing it instead of one distance loop per query. On the CPU that is 9.0x (100k x 100k) and 7.3x
  (400k x 400k, x 768, nprobe 16, k 4, both directions) faster than ``IndexIVFFlat`` on the same centroids, with the
  same neighbours up to ties at float32 rounding (``benchmarks/bench_retrieval.py``, results/retrieval_bench.md; the
  GPU, where the scan runs in float16, was not timed). Both directions share one set of centroids trained on both
  sides. Similarities are exact inner products, so margin scores are exact for the neighbours found. IVF was chosen
  over HNSW for build time (HNSW's graph build made its mining 5.7x slower than IVF's at 20k x 20k on 2 cores,
  results/retrieval_bench.md).
- ``auto``: exact on a GPU; on the CPU exact up to `AUTO_APPROXIMATE_PAIRS` query-database pairs, approximate above.

Inputs are any 2-D array (float32 or float16, a ``numpy.memmap`` included: see :func:`float16_memmap`); rows are
read in chunks and L2-normalized in float32 chunk by chunk into the one copy the search works on (the faiss index, or
the tensor of the matmul paths: float32 on the CPU, float16 on a GPU).
Similarities come back float32, indices int64, best first.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from modeling_mlctl.configuration_mlctl import check_choice

SEARCH_METHODS = ("auto", "exact", "approximate")
#: ``auto`` searches approximately on the CPU above this many query x database pairs (about 45k x 45k: exact
#: search of that size takes about a minute on 2 cores, results/retrieval_bench.md).
AUTO_APPROXIMATE_PAIRS = 2_000_000_000
#: Rows read, normalized and converted per chunk (float32: 32k x 768 is 100 MB).
CHUNK_ROWS = 32_768
#: Inputs with more rows than this get progress bars when ``show_progress`` is None.
PROGRESS_MIN_ROWS = 50_000
#: `blocked_knn` tile: queries per block and database rows per block (a 8k x 64k float16 tile is 1 GiB).
QUERY_BLOCK = 8192
DATABASE_BLOCK = 65_536
#: IVF inverted lists: about 4 sqrt(n) (a power of two, see `ivf_list_count`), searched `IVF_NPROBE` per query; the
#: coarse quantizer trains on `IVF_TRAIN_POINTS_PER_LIST` points per list for `IVF_TRAIN_ITERATIONS` k-means iterations.
IVF_NPROBE = 16
IVF_TRAIN_POINTS_PER_LIST = 40
IVF_TRAIN_ITERATIONS = 10
#: Below this many database rows ``approximate`` falls back to exact search (too few points to train lists).
IVF_MIN_ROWS = 10_000


def float16_memmap(path: str | Path, rows: int, dim: int) -> np.memmap:
    """A new ``(rows, dim)`` float16 ``.npy`` file opened for writing as a memory map (reopen it with
    ``numpy.load(path, mmap_mode="r")``): embeddings of a large corpus live on disk, half the size of float32,
    and are read by the search in chunks."""
    return np.lib.format.open_memmap(str(path), mode="w+", dtype=np.float16, shape=(rows, dim))


def normalized_rows(matrix, rows) -> np.ndarray:
    """``matrix[rows]`` (a slice or an index array) as a contiguous float32 array with unit L2 norm (zero rows stay
    zero)."""
    rows = np.array(matrix[rows], dtype=np.float32, copy=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    np.divide(rows, norms, out=rows, where=norms > 0)
    return rows


def _chunks(count: int, size: int, show_progress: bool, description: str):
    starts = range(0, count, size)
    return tqdm(starts, desc=description, unit="chunk", leave=False, disable=not show_progress)


def _progress(show_progress: bool | None, *sizes: int) -> bool:
    return max(sizes) > PROGRESS_MIN_ROWS if show_progress is None else show_progress


def default_device() -> str:
    """``"cuda"`` when a GPU is present, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_method(method: str, n_queries: int, n_database: int, device: str) -> str:
    """``exact`` or ``approximate`` for ``method`` (see `SEARCH_METHODS`) on this problem size and device."""
    check_choice("method", method, SEARCH_METHODS)
    if method == "approximate" and n_database < IVF_MIN_ROWS:
        return "exact"
    if method != "auto":
        return method
    if torch.device(device).type != "cpu" or n_database < IVF_MIN_ROWS:
        return "exact"
    return "approximate" if n_queries * n_database > AUTO_APPROXIMATE_PAIRS else "exact"


def _merge_topk(best_sims: torch.Tensor, best_ids: torch.Tensor, sims: torch.Tensor, ids: torch.Tensor, dim: int):
    """The top ``best_sims.shape[dim]`` of the union of two candidate lists along ``dim``."""
    merged_sims, merged_ids = torch.cat([best_sims, sims], dim=dim), torch.cat([best_ids, ids], dim=dim)
    top_sims, order = merged_sims.topk(best_sims.shape[dim], dim=dim)
    return top_sims, merged_ids.gather(dim, order)


def _to_device(matrix, device, dtype, show_progress: bool, description: str) -> torch.Tensor:
    """``matrix`` normalized chunk by chunk into one ``dtype`` tensor on ``device``."""
    out = torch.empty((len(matrix), matrix.shape[1]), dtype=dtype, device=device)
    for start in _chunks(len(matrix), CHUNK_ROWS, show_progress, description):
        stop = min(start + CHUNK_ROWS, len(matrix))
        out[start:stop] = torch.from_numpy(normalized_rows(matrix, slice(start, stop))).to(device=device, dtype=dtype)
    return out


@torch.no_grad()
def blocked_knn(queries, database, k: int, *, both_directions: bool = False, device: str | torch.device = "cuda",
                dtype: torch.dtype = torch.float16, query_block: int = QUERY_BLOCK,
                database_block: int = DATABASE_BLOCK, show_progress: bool | None = None):
    """Exact cosine k-NN as a blocked matmul on ``device`` (the GPU path; any device works).

    Both inputs are normalized and moved to ``device`` as ``dtype``; each ``query_block x database_block`` tile of
    similarities is reduced to its row top-k (and, with ``both_directions``, its column top-k), which is merged
    into the running best lists in float32. Returns ``(similarities, indices)`` of queries -> database, and with
    ``both_directions`` a pair ``((q->db), (db->q))``.
    """
    show_progress = _progress(show_progress, len(queries), len(database))
    x = _to_device(queries, device, dtype, show_progress, "queries to device")
    y = _to_device(database, device, dtype, show_progress, "database to device")
    k_fwd, k_bwd = min(k, len(y)), min(k, len(x))
    fwd_sims = torch.full((len(x), k_fwd), -math.inf, device=device)
    fwd_ids = torch.zeros((len(x), k_fwd), dtype=torch.long, device=device)
    bwd_sims = torch.full((k_bwd, len(y)), -math.inf, device=device)
    bwd_ids = torch.zeros((k_bwd, len(y)), dtype=torch.long, device=device)
    tiles = [(q, d) for q in range(0, len(x), query_block) for d in range(0, len(y), database_block)]
    for q_start, d_start in tqdm(tiles, desc="exact search (blocked matmul)", unit="tile", leave=False,
                                 disable=not show_progress):
        q_stop, d_stop = min(q_start + query_block, len(x)), min(d_start + database_block, len(y))
        tile = (x[q_start:q_stop] @ y[d_start:d_stop].T).float()
        sims, ids = tile.topk(min(k_fwd, d_stop - d_start), dim=1)
        fwd_sims[q_start:q_stop], fwd_ids[q_start:q_stop] = _merge_topk(
            fwd_sims[q_start:q_stop], fwd_ids[q_start:q_stop], sims, ids + d_start, dim=1)
        if both_directions:
            sims, ids = tile.topk(min(k_bwd, q_stop - q_start), dim=0)
            bwd_sims[:, d_start:d_stop], bwd_ids[:, d_start:d_stop] = _merge_topk(
                bwd_sims[:, d_start:d_stop], bwd_ids[:, d_start:d_stop], sims, ids + q_start, dim=0)
    forward = (fwd_sims.cpu().numpy(), fwd_ids.cpu().numpy())
    if not both_directions:
        return forward
    return forward, (bwd_sims.T.contiguous().cpu().numpy(), bwd_ids.T.contiguous().cpu().numpy())


def _search_index(index, queries, k: int, show_progress: bool, description: str):
    """faiss ``index.search`` over ``queries`` in normalized float32 chunks."""
    sims = np.empty((len(queries), k), dtype=np.float32)
    ids = np.empty((len(queries), k), dtype=np.int64)
    for start in _chunks(len(queries), CHUNK_ROWS, show_progress, description):
        stop = min(start + CHUNK_ROWS, len(queries))
        sims[start:stop], ids[start:stop] = index.search(normalized_rows(queries, slice(start, stop)), k)
    return sims, ids


def _fill_index(index, database, show_progress: bool, description: str):
    for start in _chunks(len(database), CHUNK_ROWS, show_progress, description):
        index.add(normalized_rows(database, slice(start, start + CHUNK_ROWS)))
    return index


def ivf_list_count(n_database: int) -> int:
    """Inverted lists for ``n_database`` rows: the power of two nearest 4 sqrt(n), at most 16384 and at most
    n / `IVF_TRAIN_POINTS_PER_LIST` (k-means needs that many points per list)."""
    nearest = 2 ** round(math.log2(4 * math.sqrt(max(n_database, 1))))
    trainable = 2 ** int(math.log2(max(n_database // IVF_TRAIN_POINTS_PER_LIST, 1)))
    return int(max(1, min(16384, nearest, trainable)))


def coarse_centroids(sides, n_lists: int, seed: int = 0, show_progress: bool = False) -> np.ndarray:
    """``n_lists`` unit centroids (faiss spherical k-means) of a sample drawn evenly from ``sides`` (one or two
    embedding matrices): the coarse quantizer of the inverted file."""
    import faiss

    rng = np.random.default_rng(seed)
    per_side = max(1, n_lists * IVF_TRAIN_POINTS_PER_LIST // len(sides))
    sample = np.concatenate([normalized_rows(side, np.sort(rng.choice(len(side), min(per_side, len(side)), False)))
                             for side in sides])
    with tqdm(total=1, desc=f"training {n_lists} IVF lists", leave=False, disable=not show_progress) as bar:
        kmeans = faiss.Kmeans(sample.shape[1], n_lists, niter=IVF_TRAIN_ITERATIONS, spherical=True, seed=seed,
                              max_points_per_centroid=IVF_TRAIN_POINTS_PER_LIST)
        kmeans.train(sample)
        bar.update()
    return kmeans.centroids


def nearest_lists(vectors: torch.Tensor, centroids: torch.Tensor, nprobe: int, block: int = QUERY_BLOCK):
    """The ``nprobe`` most similar centroids of every row (best first), by blocked matmul: column 0 is the row's
    own inverted list, all columns are the lists it probes as a query."""
    return torch.cat([(vectors[start:start + block] @ centroids.T).float().topk(nprobe, dim=1).indices
                      for start in range(0, len(vectors), block)])


@contextlib.contextmanager
def _single_thread_on_cpu(device):
    """torch intra-op threads off for the IVF scan on the CPU: its per-list products are small, and where the cores are
    shared with other jobs a 2-thread OpenMP region waits on a descheduled thread (measured by hand on the project's
    shared 2-core machine, 50k x 50k x 768, one direction: 32 s with 2 threads, 3.0 s with 1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if torch.device(device).type == "cpu" else threads)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _scan_lists(queries, database, db_order, db_bounds, probe_order, probe_bounds, nprobe, k, cand_sims, cand_ids,
                show_progress, description):
    """Fill ``cand_sims`` / ``cand_ids`` (one row per (query, probe) position): the top-k of each probed list."""
    for index in tqdm(range(len(db_bounds)), desc=description, unit="list", leave=False, disable=not show_progress):
        rows = db_order[(db_bounds[index - 1] if index else 0):db_bounds[index]]
        probes = probe_order[(probe_bounds[index - 1] if index else 0):probe_bounds[index]]
        if len(rows) == 0 or len(probes) == 0:
            continue
        list_vectors = database[rows].T
        for start in range(0, len(probes), DATABASE_BLOCK):
            chunk = probes[start:start + DATABASE_BLOCK]  # positions in the (query, probe) grid
            sims, ids = (queries[chunk // nprobe] @ list_vectors).float().topk(min(k, len(rows)), dim=1)
            cand_sims[chunk, :sims.shape[1]], cand_ids[chunk, :sims.shape[1]] = sims, rows[ids]


@torch.no_grad()
def ivf_search(queries: torch.Tensor, database: torch.Tensor, database_lists: torch.Tensor,
               query_probes: torch.Tensor, n_lists: int, k: int, show_progress: bool = False,
               description: str = "search (IVF)"):
    """k-NN of normalized ``queries`` among the ``database`` rows in the inverted lists each query probes.

    The candidates are those of faiss ``IndexIVFFlat`` with the same centroids and ``nprobe``
    (``database_lists[j]`` = the nearest centroid of row j, ``query_probes[i]`` = the ``nprobe`` nearest centroids
    of query i), but each list is scanned with one matmul against all the queries probing it (BLAS / tensor cores
    instead of one distance loop per query). Similarities are exact inner products. Returns numpy
    ``(similarities, indices)``; raises `ValueError` when a query's lists hold fewer than ``k`` rows.
    """
    n_queries, nprobe = query_probes.shape
    device = queries.device
    db_order = torch.argsort(database_lists)
    db_bounds = torch.cumsum(torch.bincount(database_lists, minlength=n_lists), 0).tolist()
    probe_order = torch.argsort(query_probes.reshape(-1))
    probe_bounds = torch.cumsum(torch.bincount(query_probes.reshape(-1), minlength=n_lists), 0).tolist()
    cand_sims = torch.full((n_queries * nprobe, k), -math.inf, device=device)
    cand_ids = torch.full((n_queries * nprobe, k), -1, dtype=torch.long, device=device)
    with _single_thread_on_cpu(device):
        _scan_lists(queries, database, db_order, db_bounds, probe_order, probe_bounds, nprobe, k, cand_sims, cand_ids,
                    show_progress, description)
    sims, best = cand_sims.view(n_queries, nprobe * k).topk(k, dim=1)
    ids = cand_ids.view(n_queries, nprobe * k).gather(1, best).cpu().numpy()
    _refuse_missing_candidates(ids, nprobe)
    return sims.cpu().numpy(), ids


def knn_both_directions(x, y, k: int, *, method: str = "auto", device: str | None = None, nprobe: int = IVF_NPROBE,
                        show_progress: bool | None = None):
    """The ``k`` nearest neighbours by cosine of every ``x`` row among ``y`` and of every ``y`` row among ``x``:
    ``((x->y similarities, indices), (y->x similarities, indices))`` (what margin mining needs)."""
    return _search(x, y, k, True, method, device, nprobe, show_progress)


def knn(queries, database, k: int, *, method: str = "auto", device: str | None = None, nprobe: int = IVF_NPROBE,
        show_progress: bool | None = None):
    """The ``k`` nearest ``database`` rows by cosine of every ``queries`` row: ``(similarities, indices)``."""
    return _search(queries, database, k, False, method, device, nprobe, show_progress)


def _search(x, y, k: int, both_directions: bool, method: str, device: str | None, nprobe: int,
            show_progress: bool | None):
    """The one dispatcher of `knn` and `knn_both_directions`: exact on a GPU (`blocked_knn`) or the CPU (faiss), or
    approximate (the inverted file, its centroids trained on the side(s) searched as databases)."""
    device = device or default_device()
    chosen = resolve_method(method, len(x), len(y), device)
    progress = _progress(show_progress, len(x), len(y))
    if chosen == "exact" and torch.device(device).type != "cpu":
        return blocked_knn(x, y, k, both_directions=both_directions, device=device, dtype=_tile_dtype(device),
                           show_progress=progress)
    if chosen == "exact":
        forward = _flat_knn(x, y, k, progress, "x -> y")
        return (forward, _flat_knn(y, x, k, progress, "y -> x")) if both_directions else forward
    sides = [x, y] if both_directions else [y]
    centroids = coarse_centroids(sides, ivf_list_count(max(map(len, sides))), show_progress=progress)
    return matmul_ivf_knn(x, y, centroids, k, nprobe, device, progress, both_directions)


def matmul_ivf_knn(x, y, centroids: np.ndarray, k: int, nprobe: int = IVF_NPROBE, device: str = "cpu",
                   show_progress: bool = False, both_directions: bool = True):
    """`knn` (or `knn_both_directions`) through the inverted file over ``centroids``, scanned by :func:`ivf_search`."""
    n_lists, dtype = len(centroids), _tile_dtype(device)
    xt = _to_device(x, device, dtype, show_progress, "x to device")
    yt = _to_device(y, device, dtype, show_progress, "y to device")
    centroids = torch.from_numpy(centroids).to(device=device, dtype=dtype)
    x_probes = nearest_lists(xt, centroids, nprobe)
    y_probes = nearest_lists(yt, centroids, nprobe if both_directions else 1)
    forward = ivf_search(xt, yt, y_probes[:, 0], x_probes, n_lists, min(k, len(y)), show_progress, "x -> y (IVF)")
    if not both_directions:
        return forward
    return forward, ivf_search(yt, xt, x_probes[:, 0], y_probes, n_lists, min(k, len(x)), show_progress,
                               "y -> x (IVF)")


def faiss_ivf_both_directions(x, y, centroids: np.ndarray, k: int, nprobe: int = IVF_NPROBE,
                              show_progress: bool = False):
    """`knn_both_directions` through faiss ``IndexIVFFlat`` (inner product) over ``centroids``, one index per side."""
    return (_faiss_ivf_knn(x, y, centroids, min(k, len(y)), nprobe, show_progress, "x -> y (IVF)"),
            _faiss_ivf_knn(y, x, centroids, min(k, len(x)), nprobe, show_progress, "y -> x (IVF)"))


def _faiss_ivf_knn(queries, database, centroids: np.ndarray, k: int, nprobe: int, show_progress: bool,
                   description: str):
    """k-NN of ``queries`` among the ``database`` rows in their ``nprobe`` nearest lists, by faiss ``IndexIVFFlat``
    whose coarse quantizer holds ``centroids``; raises `ValueError` when a query's lists hold fewer than ``k`` rows."""
    import faiss

    quantizer = faiss.IndexFlatIP(centroids.shape[1])
    quantizer.add(centroids)
    index = faiss.IndexIVFFlat(quantizer, centroids.shape[1], len(centroids), faiss.METRIC_INNER_PRODUCT)
    index.is_trained, index.nprobe = True, nprobe
    _fill_index(index, database, show_progress, "adding to IVF index")
    sims, ids = _search_index(index, queries, k, show_progress, description)
    _refuse_missing_candidates(ids, nprobe)
    return sims, ids


def _refuse_missing_candidates(ids: np.ndarray, nprobe: int) -> None:
    """`ValueError` when some query's ``nprobe`` lists held fewer than ``k`` rows (id -1 in its ``k`` columns)."""
    short = (ids < 0).any(axis=1)
    if short.any():
        raise ValueError(f"{int(short.sum())} queries have fewer than {ids.shape[1]} candidates in their {nprobe} "
                         "nearest lists; search with a larger nprobe or exactly")


def _flat_knn(queries, database, k: int, show_progress: bool, description: str):
    import faiss

    index = _fill_index(faiss.IndexFlatIP(database.shape[1]), database, show_progress, "adding to exact index")
    return _search_index(index, queries, min(k, len(database)), show_progress, description)


def _tile_dtype(device) -> torch.dtype:
    """The matmul precision: float16 on CUDA (tensor cores), float32 elsewhere."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.float32


def retrieval_accuracy(queries: np.ndarray, candidates: np.ndarray, tie_tolerance: float = 0.0) -> tuple[float, np.ndarray]:
    """The one retrieval score: the fraction of query rows i whose nearest candidate row by cosine (`knn`: exact below
    `AUTO_APPROXIMATE_PAIRS`) is row i, and the nearest candidate of every query.

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
