"""Gradient caching for ML-CTL training (GradCache: Gao et al., 2021, "Scaling Deep Contrastive Learning Batch Size
under Memory Limited Setup"; as luyug/GradCache and sentence-transformers' `CachedMultipleNegativesRankingLoss`).

The contrastive loss (eqs. 2 and 7) couples every pair of the batch through its negatives, so gradient accumulation
cannot split the batch without shrinking the pool of negatives. Gradient caching splits the computation instead:

1. embed the batch in mini-batches without an autograd graph, keeping each mini-batch's random-number state so that
   dropout can be replayed (and each mini-batch's MLM loss, for the loss value and the logs);
2. compute the contrastive loss on the detached CCEs (gathered across processes exactly as without caching) and its
   gradient with respect to the CCEs: the gradient cache;
3. when the Trainer back-propagates the loss, re-run each mini-batch with a graph under its saved random state and
   back-propagate ⟨CCEs, cached gradient⟩ plus the mini-batch's share of α · MLM.

Step 3 calls the model the Trainer trains (DistributedDataParallel with several processes) inside its `no_sync()`
for every mini-batch but the last, as GradCache's `no_sync_except_last`: the gradients accumulate locally and DDP
reduces their sum once, in the last mini-batch's backward. During gradient accumulation the Trainer runs the whole
step inside `no_sync()` already, so then nothing is reduced, as without caching. Step 1 needs no reduction: it calls
the unwrapped model's `encode_parallel_batch`, the part of forward before the contrastive loss, whose embeddings keep
the dtype forward gives that loss (accelerate's mixed-precision wrapper of forward returns them in float32).

The loss and the parameter gradients equal those of the full batch (to floating-point rounding) while activation
memory is that of one mini-batch. [`MLCTLTrainer`] uses this when `contrastive_mini_batch_size` is set in its
[`MLCTLTrainingArguments`].
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial

import torch
from accelerate.utils import extract_model_from_parallel
from torch.utils.checkpoint import get_device_states
from torch.utils.checkpoint import set_device_states

from modeling_mlctl import MLCTLForPreTraining
from modeling_mlctl import MLCTLForPreTrainingOutput

SIDES = ("x", "y")


class RandomState:
    """The CPU random-number state and that of the devices holding `tensors`, captured now; entering the context
    restores it for the block and afterwards puts back the state from before the block (torch's `fork_rng`)."""

    def __init__(self, *tensors: torch.Tensor):
        self.cpu_state = torch.get_rng_state()
        self.devices, self.device_states = get_device_states(*tensors)
        self._fork = None

    def __enter__(self):
        self._fork = torch.random.fork_rng(devices=self.devices)
        self._fork.__enter__()
        torch.set_rng_state(self.cpu_state)
        set_device_states(self.devices, self.device_states)

    def __exit__(self, *exc_info):
        self._fork.__exit__(*exc_info)
        self._fork = None


def split_parallel_batch(inputs: dict[str, torch.Tensor], mini_batch_size: int) -> list[dict[str, torch.Tensor]]:
    """The rows of a collated batch in consecutive mini-batches of `mini_batch_size` pairs (the last may be smaller),
    each side cut to the longest sequence of the mini-batch (its attention mask), so that a mini-batch of short
    sentences does not pay for the batch's longest one. Padding is masked everywhere, so the cut changes no value."""
    num_pairs = inputs["x_input_ids"].shape[0]
    chunks = []
    for start in range(0, num_pairs, mini_batch_size):
        chunk = {name: value[start:start + mini_batch_size] for name, value in inputs.items()}
        for side in SIDES:
            mask = chunk.get(f"{side}_attention_mask")
            if mask is None:
                continue
            length = int(mask.sum(dim=1).max())
            for name in list(chunk):
                if name.startswith(f"{side}_") and chunk[name].dim() == 2:
                    chunk[name] = chunk[name][:, :length]
        chunks.append(chunk)
    return chunks


def masked_token_count(chunk: dict[str, torch.Tensor]) -> int:
    """Number of MLM targets (labels other than -100) on both sides of a (mini-)batch."""
    return sum(int((chunk[f"{side}_labels"] != -100).sum()) for side in SIDES if f"{side}_labels" in chunk)


@dataclass
class CachedBatch:
    """What step 1 and 2 leave for step 3: the mini-batches, their random states and MLM weights, and the cached
    gradient of the contrastive term with respect to each side's CCEs (`None` with `contrastive_weight` 0)."""

    chunks: list[dict[str, torch.Tensor]]
    random_states: list[RandomState]
    mlm_weights: list[float]
    x_gradient: torch.Tensor | None
    y_gradient: torch.Tensor | None


def cached_contrastive_loss(model: torch.nn.Module, inputs: dict[str, torch.Tensor], mini_batch_size: int,
                            mlm_token_share, autocast,
                            ) -> tuple[torch.Tensor, MLCTLForPreTrainingOutput, torch.Tensor | None]:
    """Steps 1 and 2 of gradient caching on one (per-process) batch.

    Args:
        model: the model being trained: an [`MLCTLForPreTraining`], or the DistributedDataParallel (or other
            accelerate) wrapper of one, through which step 3 runs so that DDP reduces the gradients.
        inputs: the collated batch ([`MLCTLDataCollator`]).
        mini_batch_size: pairs per encoder call.
        mlm_token_share: a function giving the factor of the MLM term (the trainer's cross-process token
            re-weighting; 1 with one process), called only when there is an MLM term.
        autocast: a context-manager factory for mixed precision (the accelerator's), applied to every model call.

    Returns:
        (loss, outputs, mlm_loss): `loss` = combine_losses(contrastive, share · MLM) as a detached leaf whose backward
        runs step 3 (scaled by the incoming gradient, e.g. 1 / gradient-accumulation steps or the AMP loss scale);
        `outputs` the contrastive loss, logits and detached CCEs as [`MLCTLForPreTraining`] returns them;
        `mlm_loss` the share-weighted MLM loss of the batch (or `None`), as logged.
    """
    pretraining_model: MLCTLForPreTraining = extract_model_from_parallel(model)
    chunks = split_parallel_batch(inputs, mini_batch_size)
    random_states, embeddings, mlm_losses, token_counts = [], {side: [] for side in SIDES}, [], []
    with torch.no_grad():
        for chunk in chunks:
            random_states.append(RandomState(*chunk.values()))
            with autocast():  # the embeddings in the dtype that forward gives the contrastive loss
                x_chunk, y_chunk, chunk_mlm_loss = pretraining_model.encode_parallel_batch(**chunk)
            embeddings["x"].append(x_chunk)
            embeddings["y"].append(y_chunk)
            mlm_losses.append(chunk_mlm_loss)
            token_counts.append(masked_token_count(chunk))
    x_embeddings, y_embeddings = (torch.cat(embeddings[side]).requires_grad_() for side in SIDES)

    use_mlm = mlm_losses[0] is not None
    total_tokens = sum(token_counts)
    mlm_weights = [count / total_tokens if use_mlm and total_tokens else 0.0 for count in token_counts]
    batch_mlm_loss = mlm_loss = None
    share = 1.0
    if use_mlm:  # the token mean over the whole batch, as MLCTLForPreTraining.mlm_loss computes it
        share = mlm_token_share()
        batch_mlm_loss = sum(weight * loss for weight, loss in zip(mlm_weights, mlm_losses))
        mlm_loss = batch_mlm_loss * share

    config = pretraining_model.config
    with torch.enable_grad(), autocast():
        contrastive_loss, x_logits, y_logits, sentence_loss = pretraining_model.contrastive_losses(x_embeddings, y_embeddings)
    x_gradient = y_gradient = None
    if config.contrastive_weight > 0:
        x_gradient, y_gradient = torch.autograd.grad(config.contrastive_weight * contrastive_loss, (x_embeddings, y_embeddings))
    contrastive_loss = contrastive_loss.detach()
    loss = pretraining_model.combine_losses(contrastive_loss, mlm_loss).detach().requires_grad_()
    cache = CachedBatch(chunks, random_states, [weight * config.mlm_weight * share for weight in mlm_weights],
                        x_gradient, y_gradient)
    loss.register_hook(partial(_backward_mini_batches, model=model, cache=cache, autocast=autocast))
    outputs = MLCTLForPreTrainingOutput(
        loss=loss, contrastive_loss=contrastive_loss, mlm_loss=batch_mlm_loss, x_logits=x_logits.detach(),
        sentence_loss=sentence_loss.detach() if sentence_loss is not None else None,
        y_logits=y_logits.detach() if y_logits is not None else None,
        # the CCEs alone, as forward returns them (with the sentence term the cached rows carry the sentences too)
        x_embeddings=x_embeddings.detach()[:, :config.projection_dim],
        y_embeddings=y_embeddings.detach()[:, :config.projection_dim],
    )
    return loss, outputs, mlm_loss


def _backward_mini_batches(loss_gradient: torch.Tensor, model: torch.nn.Module, cache: CachedBatch, autocast):
    """Step 3, run when the loss is back-propagated: each mini-batch again through `model`, with a graph and its saved
    random state, back-propagating ⟨CCEs, cached gradient⟩ + its weight · MLM loss, times the loss's incoming
    gradient; all but the last inside `model.no_sync()` (when the model has one), so that DDP reduces once."""
    start = 0
    last = len(cache.chunks) - 1
    with torch.enable_grad():
        for index, (chunk, random_state, mlm_weight) in enumerate(
                zip(cache.chunks, cache.random_states, cache.mlm_weights)):
            sync_context = getattr(model, "no_sync", nullcontext) if index < last else nullcontext
            with sync_context():
                with random_state, autocast():
                    outputs = model(**chunk, return_contrastive_loss=False, return_dict=True)
                x_chunk, y_chunk, chunk_mlm_loss = outputs.x_embeddings, outputs.y_embeddings, outputs.mlm_loss
                rows = slice(start, start + x_chunk.shape[0])
                start = rows.stop
                # The MLM term stays in at weight 0 (a mini-batch without masked tokens): every process must run
                # the backward that DDP's reduction waits for.
                surrogate = []
                if cache.x_gradient is not None:
                    surrogate.append((x_chunk * cache.x_gradient[rows]).sum() + (y_chunk * cache.y_gradient[rows]).sum())
                if chunk_mlm_loss is not None:
                    surrogate.append(mlm_weight * chunk_mlm_loss)
                (sum(surrogate) * loss_gradient).backward()
