"""Guards of a training run against faults: a non-finite loss or gradient stops the run before the optimizer step
([`NonFiniteGuard`]), a loss that grows far above its start is warned about ([`LossExplosionWarning`]), a full disk
during a save is one line ([`disk_full_as_error`]), resume skips incomplete checkpoints ([`last_complete_checkpoint`]),
and a batch that would hold a single pair (no in-batch negative) is refused up front or kept from forming
([`check_batching`])."""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import re
import zipfile
from pathlib import Path

import torch
from transformers import TrainerCallback

from mlctl.files import safetensors_problem
from mlctl.training.errors import DiskFullError
from mlctl.training.errors import TrainingDivergedError
from mlctl.training.errors import TrainingSetupError
from mlctl.training.sampler import NoDuplicatesBatchSampler
from mlctl.training.sampler import sentence_keys

logger = logging.getLogger(__name__)

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
#: The loss terms [`NonFiniteGuard.record`] watches, in the order of its flags.
LOSS_TERMS = ("contrastive loss", "MLM loss")
#: A logged training loss over this many times the run's first logged loss counts as exploded (a finite divergence,
#: e.g. --learning_rate 1e3: MLM loss 6.4 -> 2.5e8, that the non-finite guard does not stop).
LOSS_EXPLOSION_FACTOR = 10.0
#: What torch's zip writer (PyTorchStreamWriter, inline_container.cc) says when a write comes up short: the disk
#: filled during `torch.save`.
TORCH_SHORT_WRITE = ("unexpected pos", "file write failed")


class NonFiniteGuard(TrainerCallback):
    """Stops training with [`TrainingDivergedError`] when a loss term or a gradient of the coming optimizer step is
    NaN or infinite, before the optimizer applies it: no weight, checkpoint, model or push comes from the bad state,
    and the checkpoints saved before stay as they are.

    [`MLCTLTrainer`] calls `record` with each micro-batch's losses (flags kept on the device, no synchronisation);
    `on_pre_optimizer_step` reads them once per step and checks the gradients (after DDP's averaging, so every
    process stops at the same step). With fp16 loss scaling an infinite gradient is the scaler's normal signal to
    skip a step, so only the losses are checked then."""

    def __init__(self):
        self._non_finite = None

    def record(self, contrastive_loss: torch.Tensor, mlm_loss: torch.Tensor | None) -> None:
        flags = torch.stack([~torch.isfinite(contrastive_loss.detach()).all(),
                             ~torch.isfinite(mlm_loss.detach()).all() if mlm_loss is not None
                             else torch.zeros((), dtype=torch.bool, device=contrastive_loss.device)])
        self._non_finite = flags if self._non_finite is None else self._non_finite | flags

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        flags, self._non_finite = self._non_finite, None
        terms = [term for term, flag in zip(LOSS_TERMS, flags.tolist()) if flag] if flags is not None else []
        if not terms and not args.fp16 and model is not None:
            finite = [torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None]
            if finite and not torch.stack(finite).all():
                terms = ["gradient"]
        if terms:
            last_good = last_complete_checkpoint(args.output_dir, warn=False)
            raise TrainingDivergedError(
                f"step {state.global_step + 1}: non-finite {' and '.join(terms)}; training stopped before this step "
                f"and nothing was saved from it; last good checkpoint: {last_good or 'none saved yet'} "
                "(a lower --learning_rate or --max_grad_norm may help)")


def loss_growth_metrics(log_history: list[dict]) -> dict:
    """``{"max_loss_ratio": largest logged training loss / first logged one, "loss_exploded": that ratio over
    LOSS_EXPLOSION_FACTOR}`` of a Trainer's `log_history` (resumed runs included); empty before two logged losses."""
    losses = [entry["loss"] for entry in log_history if "loss" in entry and math.isfinite(entry["loss"])]
    if len(losses) < 2 or losses[0] <= 0:
        return {}
    ratio = max(losses[1:]) / losses[0]
    return {"max_loss_ratio": ratio, "loss_exploded": ratio > LOSS_EXPLOSION_FACTOR}


class LossExplosionWarning(TrainerCallback):
    """Logs a warning, once, at the first logged training loss over `LOSS_EXPLOSION_FACTOR` times the run's first
    logged loss: a run that diverges while its loss stays finite, which [`NonFiniteGuard`] lets through. Training
    goes on; `train` adds [`loss_growth_metrics`] to the final metrics."""

    def __init__(self):
        self.warned = False

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.warned or "loss" not in (logs or {}) or not loss_growth_metrics(state.log_history).get("loss_exploded"):
            return
        self.warned = True
        first = next(entry for entry in state.log_history if "loss" in entry)
        logger.warning("step %d: training loss %.4g is over %g times the first logged loss (%.4g at step %d): the run "
                       "is diverging (a lower --learning_rate may help)", state.global_step, logs["loss"],
                       LOSS_EXPLOSION_FACTOR, first["loss"], first["step"])


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` is what a save raises when the disk fills: `OSError` ENOSPC / EDQUOT (plain writes), torch's
    zip writer's short write (a `RuntimeError` from inline_container.cc), or safetensors' "No space left on
    device"."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    message = str(error)
    return ("inline_container.cc" in message and any(part in message for part in TORCH_SHORT_WRITE)
            or os.strerror(errno.ENOSPC) in message)


@contextlib.contextmanager
def disk_full_as_error(training_args):
    """Turns a full disk during a save inside the block (a checkpoint during training, the final model) into one
    [`DiskFullError`] naming the directory being written: the newest checkpoint when it is incomplete, else
    `--output_dir`. The half-written checkpoint stays; resume skips it ([`last_complete_checkpoint`])."""
    try:
        yield
    except Exception as error:
        if not is_disk_full(error):
            raise
        output_dir, needs_optimizer = training_args.output_dir, not training_args.save_only_model
        numbered = sorted((int(match.group(1)), path) for path in Path(output_dir).glob("checkpoint-*")
                          if (match := CHECKPOINT_PATTERN.match(path.name)))
        newest = numbered[-1][1] if numbered else None
        written = newest if newest is not None and checkpoint_problem(newest, needs_optimizer) else output_dir
        raise DiskFullError(
            f"{written}: disk full while saving ({str(error).splitlines()[0]}); training stopped; an incomplete "
            f"checkpoint is skipped on resume; last complete checkpoint: "
            f"{last_complete_checkpoint(output_dir, needs_optimizer, warn=False) or 'none'}") from None


def checkpoint_problem(checkpoint: str | Path, needs_optimizer: bool = True) -> str | None:
    """Why `checkpoint` cannot be resumed from exactly, or None when it is complete. A kill or a full disk during
    the Trainer's save (weights, then optimizer / scheduler / RNG states, then trainer_state.json) leaves it empty or
    half written: weights missing or truncated, a torch state missing or truncated, trainer_state.json missing or
    unparsable. `needs_optimizer` is False for `--save_only_model` checkpoints, which hold weights and state only."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_dir():
        return "not a directory"
    if not any(checkpoint.iterdir()):
        return "empty"
    if not (checkpoint / "model.safetensors.index.json").exists():
        problem = safetensors_problem(checkpoint / "model.safetensors")
        if problem:
            return problem
    if needs_optimizer:
        torch_states = [checkpoint / "optimizer.pt", checkpoint / "scheduler.pt"]
        torch_states += sorted(checkpoint.glob("rng_state*.pth")) or [checkpoint / "rng_state.pth"]
        for path in torch_states:
            if not path.exists():
                return f"no {path.name}"
            if not zipfile.is_zipfile(path):
                return f"{path.name} is truncated"
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no trainer_state.json"
    except ValueError:
        return "trainer_state.json is truncated"
    return None


def last_complete_checkpoint(output_dir: str | Path, needs_optimizer: bool = True, warn: bool = True) -> str | None:
    """The highest-numbered complete `checkpoint-N` in `output_dir` (None when there is none); each incomplete one
    above it is skipped with a warning naming it and what is missing."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    numbered = [(int(match.group(1)), path) for path in output_dir.iterdir()
                if (match := CHECKPOINT_PATTERN.match(path.name)) and path.is_dir()]
    for _, checkpoint in sorted(numbered, reverse=True):
        problem = checkpoint_problem(checkpoint, needs_optimizer)
        if problem is None:
            return str(checkpoint)
        if warn:
            logger.warning("%s: incomplete checkpoint (%s), skipped: resuming from an earlier one", checkpoint, problem)
    return None


def resume_checkpoint(training_args) -> str | None:
    """The checkpoint to resume from: `--resume_from_checkpoint` (refused with one line when incomplete), else the
    last complete one in `--output_dir`."""
    needs_optimizer = not training_args.save_only_model
    given = training_args.resume_from_checkpoint
    if given:
        problem = checkpoint_problem(given, needs_optimizer)
        if problem:
            raise TrainingSetupError(f"--resume_from_checkpoint {given}: incomplete checkpoint ({problem})")
        return given
    return last_complete_checkpoint(training_args.output_dir, needs_optimizer)


def check_batching(training_args, train, validation, gather_negatives: bool, batch_sampler: str = "random"):
    """(train, validation) such that no batch holds a single pair, the contrastive loss's minimum (one positive and
    at least one negative): a batch size or a training split that can only give 1-pair batches is refused, and so is,
    for `batch_sampler="no_duplicates"`, a split in which one sentence is in more than half the rows; when the
    training split leaves a 1-pair tail batch per epoch (single process: N = 1 mod batch size), its last row is left
    out, with a count. With several processes accelerate completes every process's last batch, so no tail forms.
    A validation split of fewer than 2 pairs is dropped (no evaluation); the evaluation's own 1-pair tail batch is
    handled by [`MLCTLTrainer.prediction_step`]."""
    batch_size = training_args.per_device_train_batch_size
    world_size = training_args.world_size
    pairs_per_loss = batch_size * (world_size if gather_negatives else 1)
    if pairs_per_loss < 2:
        raise TrainingSetupError(
            f"--per_device_train_batch_size {batch_size}"
            + (f" on {world_size} processes" if world_size > 1 else "")
            + ": the contrastive loss needs at least 2 pairs per batch (its negatives are the other pairs)")
    if len(train) < 2:
        raise TrainingSetupError(f"{len(train)} training pair(s): the contrastive loss needs at least 2")
    if batch_sampler == "no_duplicates":
        try:
            NoDuplicatesBatchSampler(sentence_keys(train), batch_size, num_replicas=world_size)
        except ValueError as error:
            raise TrainingSetupError(f"--batch_sampler no_duplicates: {error}") from None
    if world_size == 1 and len(train) % batch_size == 1 and not training_args.dataloader_drop_last:
        logger.warning("%d training pairs in batches of %d would leave a batch of 1 pair (no negative) at the end of "
                       "every epoch: 1 pair (the last row) left out", len(train), batch_size)
        train = train.select(range(len(train) - 1))
    if validation is not None and len(validation) < 2:
        logger.warning("%d validation pair(s): retrieval needs at least 2, so no evaluation", len(validation))
        validation = None
    return train, validation
