"""Batches without false negatives: a batch sampler (as sentence-transformers' ``NoDuplicatesBatchSampler``) that
never puts two WPS sharing a sentence in one (global) batch, and the count of such pairs under any batching.

Every WPS of a sentence pair carries the same sentences (one per aligned word), and a multi-way parallel corpus such
as Multi30k pairs one English sentence with several languages. Two such rows in one batch are each other's
negatives although their sentences are identical: a false negative for the sentence part of the CCE (and the whole
vector under ``levels="sentence"``).
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterator
from collections.abc import Sequence

import numpy as np
from transformers import TrainerCallback

logger = logging.getLogger(__name__)

#: The choices of ``--batch_sampler``.
BATCH_SAMPLERS = ("random", "no_duplicates")


def sentence_keys(dataset) -> list[tuple[str, str]]:
    """(source sentence, target sentence) of every WPS row: what two rows must not share within a batch."""
    return list(zip(dataset["src_text"], dataset["tgt_text"]))


class NoDuplicatesBatchSampler:
    """Shuffled batches in which no two WPS share a source or a target sentence, sharded over processes.

    As sentence-transformers' ``NoDuplicatesBatchSampler`` the batches never repeat a sentence, but they are built
    in time linear in the rows (its greedy fill rescans the rows it skipped for every batch) and never hold a
    single pair. Each epoch, with a generator seeded by ``(seed, epoch)``:

    - the batch sizes are fixed first: full global batches (``batch_size × num_replicas`` rows) and the rest in a
      last one, or, when that would be a single row, the last two share ``size + 1`` rows; but when one sentence is
      in at least as many rows as that gives batches, as many batches as its rows, of equal sizes (each can hold it
      once; the constructor warns, and refuses data where it is in more than half the rows: no batch of 2 pairs
      could be formed for all of them);
    - every row is grouped by its more frequent sentence (source or target), the groups are ordered largest first
      (groups of one size in random order, rows within a group too), and row number ``i`` of that order goes to
      batch ``i mod batches``, or to the next batch with room that holds neither of its sentences. A group of
      consecutive rows thus lands in distinct batches without a search; only a repeated sentence of the other side
      makes a row move on. When every batch with room holds one of its sentences, a row of another batch that can
      move to one with room makes way (`move_a_row`); a row for which none can is left out of that epoch, with a
      warning counting it (seen on dense corpora of a few sentences only, none on the benchmark's);
    - the full batches come in random order, then the smaller ones.

    The batch is global: process ``rank`` gets rows ``[rank × batch_size, (rank + 1) × batch_size)`` of every full
    global batch and an even share of a smaller one, so no two processes' rows share a sentence either (negatives
    are gathered across processes). A batch of fewer rows than processes, and with ``drop_last`` every batch that
    is not full, is dropped.

    The order depends on (seed, epoch) only, so a resumed run that skips the batches already trained on (what the
    Trainer does for any sampler) sees exactly the batches an uninterrupted run would.
    """

    def __init__(self, keys: Sequence[tuple[str, str]], batch_size: int, num_replicas: int = 1, rank: int = 0,
                 seed: int = 0, drop_last: bool = False):
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size, self.num_replicas, self.rank = batch_size, num_replicas, rank
        self.seed, self.drop_last, self.epoch = seed, drop_last, 0
        # One integer per distinct sentence, per side: sets of ints are cheaper than sets of strings.
        self.source_ids, sources = self._ids([key[0] for key in keys])
        self.target_ids, targets = self._ids([key[1] for key in keys])
        source_counts, target_counts = np.bincount(self.source_ids), np.bincount(self.target_ids)
        rows = len(keys)
        # Each row's group: its more frequent sentence, the source's id, or the target's shifted past the sources.
        self.groups = np.where(source_counts[self.source_ids] >= target_counts[self.target_ids], self.source_ids,
                               len(source_counts) + self.target_ids) if rows else self.source_ids
        side, counts, texts = max(("source", source_counts, sources), ("target", target_counts, targets),
                                  key=lambda entry: entry[1].max(initial=0))
        self.most_repeated = int(counts.max(initial=0))
        if rows < 2 or 2 * self.most_repeated > rows:
            raise ValueError(
                f"the {side} sentence {str(texts[counts.argmax()])[:80]!r} is in {self.most_repeated:,} of the "
                f"{rows:,} rows, but batches of at least 2 pairs that never repeat a sentence allow it in at most "
                f"half of them ({rows // 2:,})" if rows >= 2 else f"{rows} row(s): a batch needs at least 2 pairs")
        sizes = self.batch_sizes(rows)
        if self.most_repeated >= -(-rows // (batch_size * num_replicas)):
            logger.warning("the %s sentence %r is in %d of %d rows and a batch holds it once: %d batches of %d-%d "
                           "pairs instead of %d", side, str(texts[counts.argmax()])[:80], self.most_repeated, rows,
                           len(sizes), sizes.min(), sizes.max(), batch_size * num_replicas)
        self._cache: tuple[int, list[list[int]]] | None = None

    @staticmethod
    def _ids(sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(the id of each sentence, the distinct sentences)."""
        distinct, inverse = np.unique(np.asarray(sentences, dtype=object), return_inverse=True)
        return inverse.astype(np.int64).reshape(-1), distinct

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batch_sizes(self, rows: int) -> np.ndarray:
        """The size of each global batch of an epoch of `rows` rows (see the class docstring)."""
        size = self.batch_size * self.num_replicas
        count = -(-rows // size)
        if self.most_repeated >= count:
            count = self.most_repeated
            return rows // count + (np.arange(count) < rows % count)
        sizes = np.full(count, size)
        sizes[-1] = rows - (count - 1) * size
        if sizes[-1] == 1 and count > 1:
            sizes[-2:] = [(size + 2) // 2, (size + 1) // 2]
        return sizes

    def global_batches(self, epoch: int) -> list[list[int]]:
        """Every global batch of ``epoch`` (row indices, all processes' rows in rank order)."""
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        generator = np.random.default_rng([self.seed, epoch])
        rows = len(self.groups)
        group_order = generator.permutation(int(self.groups.max()) + 1)[self.groups]
        order = np.lexsort((generator.random(rows), group_order, -np.bincount(self.groups)[self.groups])).tolist()
        room = self.batch_sizes(rows).tolist()
        count = len(room)
        batches = [[] for _ in range(count)]
        sources_in, targets_in = [set() for _ in range(count)], [set() for _ in range(count)]
        # successor[b] == b for a batch with room; a full one points on (cyclically) towards the next with room.
        successor, open_batches, left_out = list(range(count)), count, 0

        def with_room(batch: int) -> int:
            while successor[batch] != batch:
                successor[batch] = successor[successor[batch]]
                batch = successor[batch]
            return batch

        sources, targets = self.source_ids.tolist(), self.target_ids.tolist()
        for position, row in enumerate(order):
            source, target = sources[row], targets[row]
            batch = filled = with_room(position % count)
            for _ in range(open_batches):
                if source not in sources_in[batch] and target not in targets_in[batch]:
                    break
                batch = filled = with_room((batch + 1) % count)
            else:
                batch = move_a_row(source, target, filled, batches, sources_in, targets_in, sources, targets)
                if batch is None:
                    left_out += 1
                    continue
            batches[batch].append(row)
            sources_in[batch].add(source)
            targets_in[batch].add(target)
            room[filled] -= 1
            if room[filled] == 0:
                successor[filled], open_batches = (filled + 1) % count, open_batches - 1
        smallest = max(2, self.num_replicas)
        left_out += sum(len(batch) for batch in batches if len(batch) < smallest)
        kept = [batch for batch in batches if len(batch) >= smallest
                and not (self.drop_last and len(batch) < self.batch_size * self.num_replicas)]
        if left_out:
            logger.warning("epoch %d: %d of %d rows fit in no batch without a repeated sentence and are left out of "
                           "this epoch", epoch, left_out, rows)
        shuffled = generator.permutation(len(kept))
        batches = [kept[index] for index in sorted(shuffled.tolist(), key=lambda index: -len(kept[index]))]
        self._cache = (epoch, batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.global_batches(self.epoch):
            if len(batch) == self.batch_size * self.num_replicas:
                yield batch[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]
            else:
                yield np.array_split(np.asarray(batch), self.num_replicas)[self.rank].tolist()

    def __len__(self) -> int:
        return len(self.global_batches(self.epoch))


def move_a_row(source: int, target: int, open_batch: int, batches: list[list[int]], sources_in: list[set],
               targets_in: list[set], sources: list[int], targets: list[int]) -> int | None:
    """Room for a row of sentences (`source`, `target`) when every batch with room holds one of them: the first
    batch without them that has a row which can move to `open_batch` (a batch with room) moves it there. Returns
    that batch, or None when there is none. Batches are lists of rows; `sources_in` / `targets_in` their sentence
    ids, `sources` / `targets` every row's."""
    for batch, members in enumerate(batches):
        if source in sources_in[batch] or target in targets_in[batch]:
            continue
        for position, other in enumerate(members):
            if sources[other] not in sources_in[open_batch] and targets[other] not in targets_in[open_batch]:
                members.pop(position)
                sources_in[batch].remove(sources[other])
                targets_in[batch].remove(targets[other])
                batches[open_batch].append(other)
                sources_in[open_batch].add(sources[other])
                targets_in[open_batch].add(targets[other])
                return batch
    return None


class EpochCallback(TrainerCallback):
    """Tells an object with a ``set_epoch`` method (the collator's masking, the no-duplicates batch sampler) the epoch
    at each epoch start, also when a run resumes mid-epoch."""

    def __init__(self, target):
        self.target = target

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.target.set_epoch(math.floor(state.epoch or 0))


def no_duplicates_dataloader(trainer, dataset):
    """The training DataLoader of ``trainer`` with a `NoDuplicatesBatchSampler` (rank-aware, so the sharding that
    ``accelerator.prepare`` adds is made a pass-through, as transformers does for its own rank-aware sampler)."""
    from torch.utils.data import DataLoader

    args = trainer.args
    sampler = NoDuplicatesBatchSampler(sentence_keys(dataset), args.per_device_train_batch_size,
                                       num_replicas=args.world_size, rank=args.process_index, seed=args.seed,
                                       drop_last=args.dataloader_drop_last)
    trainer.add_callback(EpochCallback(sampler))
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=trainer.data_collator,
                        num_workers=args.dataloader_num_workers, pin_memory=args.dataloader_pin_memory)
    prepared = trainer.accelerator.prepare(loader)
    shard = getattr(prepared, "batch_sampler", None)
    if shard is not None and getattr(shard, "batch_sampler", None) is sampler:
        shard.num_processes, shard.process_index = 1, 0
    return prepared


def duplicate_statistics(batches: Sequence[Sequence[int]], keys: Sequence[tuple[str, str]]) -> dict:
    """How often ``batches`` put WPS sharing a sentence together: the share of batches with at least one such pair,
    the share of rows that share a sentence with another row of their batch (whose pair is a false negative), and
    the mean number of such rows per batch."""
    affected_batches = affected_rows = rows = 0
    for batch in batches:
        sources, targets = Counter(keys[index][0] for index in batch), Counter(keys[index][1] for index in batch)
        shared = sum(1 for index in batch if sources[keys[index][0]] > 1 or targets[keys[index][1]] > 1)
        affected_batches += shared > 0
        affected_rows += shared
        rows += len(batch)
    return {"batches": len(batches), "batch_share_with_duplicates": affected_batches / max(len(batches), 1),
            "row_share_with_duplicates": affected_rows / max(rows, 1),
            "rows_with_duplicates_per_batch": affected_rows / max(len(batches), 1)}
