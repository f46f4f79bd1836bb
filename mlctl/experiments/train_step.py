"""The training steps `benchmarks/bench_train_step.py` compares on one small BERT and one batch of synthetic WPS pairs:
the plain MLM floor (one encoder pass over the masked x and y sides + the MLM loss), ML-CTL in `mlm_mode` "shared" or
"separate", the uncached step and gradient caching ("cached:N", mini-batches of N pairs)."""
from __future__ import annotations

import contextlib

import torch
from torch.nn.utils.rnn import pad_sequence
from transformers import AutoConfig

from mlctl.experiments.measurement import saved_for_backward_mib
from mlctl.experiments.synthetic import synthetic_wps_batch
from mlctl.training.grad_cache import cached_contrastive_loss
from modeling_mlctl import MLCTLConfig, MLCTLForPreTraining


def model_optimizer_batch(hidden: int, layers: int, vocab: int, pairs: int, length: int, device: torch.device):
    """A BERT (`hidden`, `layers`, `vocab`) under ML-CTL, seeded; its AdamW; one collated batch of `pairs` synthetic
    WPS pairs of up to `length` tokens per side, on `device`."""
    torch.manual_seed(0)
    encoder = AutoConfig.for_model("bert", vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                                   num_attention_heads=max(hidden // 64, 1), intermediate_size=4 * hidden,
                                   max_position_embeddings=max(length, 64))
    model = MLCTLForPreTraining(MLCTLConfig(encoder_config=encoder)).to(device)
    batch = synthetic_wps_batch(pairs, length, vocab, torch.Generator().manual_seed(0))
    return model, torch.optim.AdamW(model.parameters(), lr=1e-5), {name: t.to(device) for name, t in batch.items()}


def both_sides(batch: dict, name: str, pad_value: int) -> torch.Tensor:
    """The x rows, then the y rows of input `name`, right-padded to one length (as the model stacks them)."""
    return pad_sequence([*batch[f"x_{name}"], *batch[f"y_{name}"]], batch_first=True, padding_value=pad_value)


def mlm_floor_loss(model: MLCTLForPreTraining, batch: dict) -> torch.Tensor:
    """Plain MLM over both sides: one encoder pass on the masked x and y sequences, loss on the masked tokens."""
    pad_id = model.config.encoder_config.pad_token_id or 0
    hidden = model.mlctl.encoder(
        input_ids=both_sides(batch, "mlm_input_ids", pad_id), attention_mask=both_sides(batch, "attention_mask", 0),
        token_type_ids=both_sides(batch, "token_type_ids", 0),
    ).last_hidden_state
    return model.mlm_loss(hidden, both_sides(batch, "labels", -100))


def variant_loss(model: MLCTLForPreTraining, batch: dict, variant: str) -> torch.Tensor:
    """The loss of `variant`: "mlm floor", an `mlm_mode` ("shared", "separate"), "uncached" (the model's own
    `mlm_mode`) or "cached:N"."""
    if variant == "mlm floor":
        return mlm_floor_loss(model, batch)
    if variant.startswith("cached:"):
        return cached_contrastive_loss(model, batch, int(variant.split(":")[1]), lambda: 1.0, contextlib.nullcontext)[0]
    if variant != "uncached":
        model.config.mlm_mode = variant
    return model(**batch).loss


def training_step(model, optimizer, batch: dict, variant: str) -> None:
    """Forward, backward and AdamW update of `variant`."""
    variant_loss(model, batch, variant).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def step_memory_mib(model, optimizer, batch: dict, variant: str, device: torch.device) -> float:
    """CUDA: the peak allocated over one step. CPU (the allocator keeps no peak): MiB of the non-parameter tensors
    autograd saves for backward, which is what the variants differ in."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        training_step(model, optimizer, batch, variant)
        return torch.cuda.max_memory_allocated() / 2**20
    memory = saved_for_backward_mib(lambda: variant_loss(model, batch, variant), model)
    optimizer.zero_grad(set_to_none=True)
    return memory
