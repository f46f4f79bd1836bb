"""Bitext mining from two monolingual corpora with any encoder checkpoint: `mlctl-mine`.

    mlctl-mine --model_name_or_path CKPT --src_file A.txt --tgt_file B.txt --output_file pairs.tsv [--threshold T]

One sentence a line in each file. Every distinct sentence is embedded once (`mlctl.encoding.encode_sentences`, mean
of ``hidden_states[layer]``, XTREME's retrieval embedding) into a float16 memory-mapped file, the ``k`` nearest
neighbours are searched in both directions (`mlctl.search`), and candidate pairs are scored by a margin and kept as
LASER's ``mine_bitexts.py --mode mine --retrieval max`` (and XTREME's ``utils_retrieve.mine_bitext``) keep them:
every source proposes its best-scoring target among its neighbours and every target its best source, proposals are
taken by descending score with each sentence used at most once, and those scoring above ``--threshold`` are written
as ``score<TAB>src_line<TAB>tgt_line<TAB>src<TAB>tgt`` (1-based line numbers; the first line of a repeated
sentence), best first. A tab inside a sentence is an error (it would add a column). The encoding is written chunk
by chunk with a record of what is done, so a stopped run continues where it stopped when run again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from data_prep.arguments import CommandParser
from data_prep.arguments import arg
from data_prep.arguments import shared
from data_prep.output_dir import ensure_writable_file
from data_prep.reading import InputError
from data_prep.reading import read_text_lines
from mlctl.command_line import run_command
from mlctl.encoding import SENTENCE_POOLINGS
from mlctl.encoding import EncoderArguments
from mlctl.encoding import encode_sentences
from mlctl.encoding import load_encoder
from mlctl.encoding import resolve_layer
from mlctl.files import write_json_atomic
from mlctl.search import IVF_NPROBE, SEARCH_METHODS, float16_memmap, knn_both_directions, normalized_rows
from modeling_mlctl.configuration_mlctl import check_choice

logger = logging.getLogger(__name__)

#: LASER's margin functions of a candidate's cosine ``a`` and the mean ``b`` of its two k-NN neighbourhoods.
MARGINS = {
    "ratio": lambda a, b: a / b,
    "distance": lambda a, b: a - b,
    "absolute": lambda a, b: a,
}
#: k, the neighbourhood size of the margin (LASER's and XTREME's).
MARGIN_NEIGHBOURS = 4
#: A line longer than this many characters is an error (a corpus without line breaks, not a sentence).
MAX_SENTENCE_CHARS = 10_000
#: Sentences encoded per chunk written to the float16 memory map: the unit of progress and of resuming.
ENCODE_CHUNK = 8192


def margin_scores(sims: np.ndarray, ids: np.ndarray, own_mean: np.ndarray, other_mean: np.ndarray,
                  margin: str) -> np.ndarray:
    """LASER's ``score_candidates``: ``margin(cos(x, y), (mean k-NN cos of x + mean k-NN cos of y) / 2)`` of every
    query's candidates (``sims``/``ids``: its k nearest neighbours)."""
    return MARGINS[margin](sims.astype(np.float64), (own_mean[:, None] + other_mean[ids]) / 2)


def mine_embeddings(src, tgt, *, k: int = MARGIN_NEIGHBOURS, margin: str = "ratio", threshold: float = 0.0,
                    method: str = "auto", device: str | None = None, nprobe: int = IVF_NPROBE,
                    show_progress: bool | None = None):
    """Margin-based mining of ``src`` against ``tgt`` embeddings (LASER / XTREME, ``--retrieval max``).

    Returns ``(src_index, tgt_index, score)`` arrays of the pairs kept (each row used at most once, score strictly
    above ``threshold``), best first.
    """
    check_choice("margin", margin, tuple(MARGINS))
    if len(src) == 0 or len(tgt) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    (fwd_sims, fwd_ids), (bwd_sims, bwd_ids) = knn_both_directions(src, tgt, k, method=method, device=device,
                                                                   nprobe=nprobe, show_progress=show_progress)
    fwd_mean, bwd_mean = fwd_sims.mean(axis=1, dtype=np.float64), bwd_sims.mean(axis=1, dtype=np.float64)
    fwd_scores = margin_scores(fwd_sims, fwd_ids, fwd_mean, bwd_mean, margin)
    bwd_scores = margin_scores(bwd_sims, bwd_ids, bwd_mean, fwd_mean, margin)
    fwd_best, bwd_best = fwd_scores.argmax(axis=1), bwd_scores.argmax(axis=1)
    n_src, n_tgt = len(src), len(tgt)
    src_index = np.concatenate([np.arange(n_src), bwd_ids[np.arange(n_tgt), bwd_best]])
    tgt_index = np.concatenate([fwd_ids[np.arange(n_src), fwd_best], np.arange(n_tgt)])
    scores = np.concatenate([fwd_scores[np.arange(n_src), fwd_best], bwd_scores[np.arange(n_tgt), bwd_best]])
    src_used, tgt_used = np.zeros(n_src, dtype=bool), np.zeros(n_tgt, dtype=bool)
    kept = []
    for position in np.argsort(-scores, kind="stable"):
        s, t = src_index[position], tgt_index[position]
        if not (src_used[s] or tgt_used[t]):
            src_used[s] = tgt_used[t] = True
            if scores[position] > threshold:
                kept.append(position)
    kept = np.asarray(kept, dtype=np.int64)
    return src_index[kept], tgt_index[kept], scores[kept]


def read_sentences(path: str | Path, max_chars: int = MAX_SENTENCE_CHARS) -> tuple[list[str], list[int]]:
    """Distinct sentences of a one-sentence-a-line UTF-8 file and the 1-based line of each one's first occurrence.

    Raises `InputError` (``FILE:LINE: problem``) on undecodable bytes, an empty line, a line longer than
    ``max_chars``, or a tab inside a sentence (the output is tab-separated: a tab would add a column, so such a
    corpus is refused rather than changed; replace its tabs first, e.g. ``tr '\\t' ' '``).
    """
    first_line: dict[str, int] = {}
    for number, line in read_text_lines(path):
        if not line.strip():
            raise InputError(f"{path}:{number}: empty line (one sentence a line is expected)")
        if len(line) > max_chars:
            raise InputError(f"{path}:{number}: line of {len(line):,} characters (over {max_chars:,}; "
                             f"one sentence a line is expected)")
        tab = line.find("\t")
        if tab >= 0:
            raise InputError(f"{path}:{number}: tab at column {tab + 1} (the output is tab-separated; replace tabs "
                             "in the corpus first)")
        first_line.setdefault(line, number)
    if not first_line:
        raise InputError(f"{path}: no sentences")
    return list(first_line), list(first_line.values())


def checkpoint_identity(model_name_or_path: str) -> list:
    """What tells one checkpoint from another for resuming: the name, and for a local directory the name, size and
    modification time of each file in it (a retrained checkpoint at the same path is another model)."""
    directory = Path(model_name_or_path)
    if not directory.is_dir():
        return [model_name_or_path]
    return [model_name_or_path] + [[path.name, path.stat().st_size, path.stat().st_mtime_ns]
                                   for path in sorted(directory.iterdir()) if path.is_file()]


def encoding_fingerprint(sentences: list[str], settings: dict) -> str:
    """SHA-256 of the sentences and of everything else that decides their embeddings and chunks (``settings``)."""
    digest = hashlib.sha256(json.dumps({**settings, "chunk": ENCODE_CHUNK}, sort_keys=True).encode())
    for sentence in sentences:
        digest.update(sentence.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()


def encode_to_memmap(model, tokenizer, sentences: list[str], path: Path, *, layer: int, pooling: str,
                     batch_size: int, max_length: int | None, description: str, fingerprint: str) -> np.memmap:
    """Unit-normalized float16 embeddings of ``sentences`` written to ``path`` chunk by chunk (`ENCODE_CHUNK`
    sentences, longest first, so batches pad little); only one chunk is in memory in float32.

    After each chunk is flushed to the memory map, ``PATH.progress.json`` records how many are done and the
    ``fingerprint`` of the sentences and settings (`encoding_fingerprint`). A call that finds a record with the same
    fingerprint (a stopped run restarted as it was) continues after the chunks it names, so the stopped run's
    encoding is not repeated and the embeddings are those of an uninterrupted run; any other record starts over."""
    order = np.argsort([-len(s) for s in sentences], kind="stable")
    starts = range(0, len(order), ENCODE_CHUNK)
    progress = path.with_suffix(".progress.json")
    store, done = None, 0
    if progress.is_file() and path.is_file():
        record = json.loads(progress.read_text(encoding="utf-8"))
        if record.get("fingerprint") == fingerprint:
            store, done = np.load(path, mmap_mode="r+"), record["chunks_done"]
            logger.info("%s: %d of %d chunks already encoded by a stopped run, continuing", description, done,
                        len(starts))
    for index in tqdm(range(done, len(starts)), desc=description, unit="chunk", initial=done, total=len(starts),
                      disable=len(starts) <= 1):
        rows = order[starts[index]:starts[index] + ENCODE_CHUNK]
        vectors = encode_sentences(model, tokenizer, [sentences[i] for i in rows], pooling=pooling, layer=layer,
                                   batch_size=batch_size, max_length=max_length, description=description)
        if store is None:
            store = float16_memmap(path, len(sentences), vectors.shape[1])
        store[rows] = normalized_rows(vectors, slice(None))
        store.flush()
        write_json_atomic(progress, {"fingerprint": fingerprint, "chunks_done": index + 1, "chunks": len(starts)})
    return store


@dataclass(kw_only=True)
class MiningArguments(EncoderArguments):
    """The flags of `mlctl-mine`: the encoder (`EncoderArguments`), the two files, and LASER's mining settings."""

    src_file: str = arg("source sentences, one a line (UTF-8)", required=True)
    tgt_file: str = arg("target sentences, one a line (UTF-8)", required=True)
    output_file: str = shared("output_file", required=True)
    threshold: float = arg("keep pairs scoring above this (LASER: 0)", 0.0)
    k: int = arg("neighbourhood size of the margin (LASER / XTREME)", MARGIN_NEIGHBOURS, minimum=1)
    margin: str = arg("LASER's margin function", "ratio", choices=MARGINS)
    search: str = arg("nearest-neighbour search (mlctl.search); auto: exact on a GPU or for small sets", "auto",
                      choices=SEARCH_METHODS)
    nprobe: int = arg("IVF lists searched per query (approximate)", IVF_NPROBE, minimum=1)
    pooling: str = shared("pooling", "mean", choices=SENTENCE_POOLINGS)
    max_chars: int = arg("longest line accepted", MAX_SENTENCE_CHARS, minimum=1)
    work_dir: str | None = arg("where the float16 embeddings go (default: beside the output); a stopped run resumes "
                               "there")


def mine_files(args: MiningArguments) -> int:
    """Run `mlctl-mine`; returns the number of pairs written.

    The embeddings go to ``--work_dir`` (default: the output's directory), in ``.OUTPUT_NAME.mlctl-mine/``, which is
    removed once the output is written; a stopped run leaves it, and the same command run again continues the
    encoding where it stopped (`encode_to_memmap`)."""
    try:
        output = ensure_writable_file(args.output_file)
    except ValueError as error:
        raise InputError(f"--output_file {error}") from None
    src_sentences, src_lines = read_sentences(args.src_file, args.max_chars)
    tgt_sentences, tgt_lines = read_sentences(args.tgt_file, args.max_chars)
    model, tokenizer = load_encoder(args.model_name_or_path, args.device, **args.pretrained_kwargs())
    layer = resolve_layer(model.config.num_hidden_layers + 1, args.layer)
    settings = dict(model=checkpoint_identity(args.model_name_or_path), layer=layer, pooling=args.pooling,
                    batch_size=args.batch_size, max_length=args.max_seq_length)
    work_dir = Path(args.work_dir or output.parent) / f".{output.name}.mlctl-mine"
    work_dir.mkdir(parents=True, exist_ok=True)
    encoded = [encode_to_memmap(model, tokenizer, sentences, work_dir / f"{side}.npy", layer=layer,
                                pooling=args.pooling, batch_size=args.batch_size, max_length=args.max_seq_length,
                                description=f"encoding {name}", fingerprint=encoding_fingerprint(sentences, settings))
               for side, sentences, name in (("src", src_sentences, args.src_file),
                                             ("tgt", tgt_sentences, args.tgt_file))]
    src_index, tgt_index, scores = mine_embeddings(*encoded, k=args.k, margin=args.margin, threshold=args.threshold,
                                                   method=args.search, device=args.device, nprobe=args.nprobe)
    del encoded
    with open(output, "w", encoding="utf-8") as handle:
        for s, t, score in zip(src_index, tgt_index, scores):
            handle.write(f"{score:.6f}\t{src_lines[s]}\t{tgt_lines[t]}\t{src_sentences[s]}\t{tgt_sentences[t]}\n")
    shutil.rmtree(work_dir)
    return len(scores)


def build_parser() -> CommandParser:
    """The parser of `mlctl-mine` (`MiningArguments`)."""
    return CommandParser((MiningArguments,), prog="mlctl-mine", description=__doc__.split("\n\n")[0],
                         required=("model_name_or_path",))


def cli(argv=None) -> int:
    """Console entry point: 0 on success, 2 with a one-line error (bad flags before any work)."""
    args, = build_parser().parse_command(argv)
    return run_command(lambda: f"{mine_files(args)} pairs written to {args.output_file}")


if __name__ == "__main__":
    sys.exit(cli())
