"""Batches without false negatives: a batch sampler (as sentence-transformers' ``NoDuplicatesBatchSampler``) that
never puts two WPS sharing a sentence in one (global) batch, and the count of such pairs under any batching.

Every WPS of a sentence pair carries the same sentences (one per aligned word), and a multi-way parallel corpus such
as Multi30k pairs one English sentence with several languages. Two such rows in one batch are each other's
negatives although their sentences are identical: a false negative for the sentence part of the CCE (and the whole
vector under ``levels="sentence"``).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from collections.abc import Sequence

import numpy as np
import torch
from transformers import TrainerCallback

#: The choices of ``--batch_sampler``.
BATCH_SAMPLERS = ("random", "no_duplicates")


def sentence_keys(dataset) -> list[tuple[str, str]]:
    """(source sentence, target sentence) of every WPS row: what two rows must not share within a batch."""
    return list(zip(dataset["src_text"], dataset["tgt_text"]))


class NoDuplicatesBatchSampler:
    """Shuffled batches in which no two WPS share a source or a target sentence, sharded over processes.

    As sentence-transformers' ``NoDuplicatesBatchSampler``: each epoch the rows are shuffled by a generator seeded
    with ``seed + epoch``; a global batch (``batch_size × num_replicas`` rows) is filled greedily in that order,
    skipping any row whose source or target sentence is already in it (a skipped row stays first in line for the
    next batch). Unlike it, the batch is global: process ``rank`` gets rows ``[rank × batch_size, (rank + 1) ×
    batch_size)`` of every global batch, so no two processes' rows share a sentence either (negatives are
    gathered across processes). A last, incomplete global batch is split evenly across the processes (dropped with
    ``drop_last``, or when it has fewer rows than processes).

    The order depends on (seed, epoch) only, so a resumed run that skips the batches already trained on (what the
    Trainer does for any sampler) sees exactly the batches an uninterrupted run would.
    """

    def __init__(self, keys: Sequence[tuple[str, str]], batch_size: int, num_replicas: int = 1, rank: int = 0,
                 seed: int = 0, drop_last: bool = False):
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        # One integer per distinct sentence, per side: sets of ints are cheaper than sets of strings.
        self.source_ids = self._ids([key[0] for key in keys])
        self.target_ids = self._ids([key[1] for key in keys])
        self.batch_size, self.num_replicas, self.rank = batch_size, num_replicas, rank
        self.seed, self.drop_last, self.epoch = seed, drop_last, 0
        self._cache: tuple[int, list[list[int]]] | None = None

    @staticmethod
    def _ids(sentences: list[str]) -> np.ndarray:
        return np.unique(np.asarray(sentences, dtype=object), return_inverse=True)[1].astype(np.int64)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def global_batches(self, epoch: int) -> list[list[int]]:
        """Every global batch of ``epoch`` (row indices, all processes' rows in rank order)."""
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        generator = torch.Generator().manual_seed(self.seed + epoch)
        remaining = dict.fromkeys(torch.randperm(len(self.source_ids), generator=generator).tolist())
        size = self.batch_size * self.num_replicas
        batches = []
        while remaining:
            batch, sources, targets = [], set(), set()
            for index in remaining:
                source, target = int(self.source_ids[index]), int(self.target_ids[index])
                if source in sources or target in targets:
                    continue
                batch.append(index)
                sources.add(source)
                targets.add(target)
                if len(batch) == size:
                    break
            for index in batch:
                del remaining[index]
            batches.append(batch)
        if batches and (len(batches[-1]) < size and (self.drop_last or len(batches[-1]) < self.num_replicas)):
            batches.pop()
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
