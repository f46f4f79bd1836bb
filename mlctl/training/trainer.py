"""[`MLCTLTrainer`]: the Hugging Face Trainer for ML-CTL pre-training, its logged metrics and its validation."""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import torch
from transformers import Trainer
from transformers.trainer_utils import HubStrategy

from mlctl.search import retrieval_accuracy
from mlctl.training.collator import MLM_INPUTS
from mlctl.training.collator import SIDES
from mlctl.training.guards import NonFiniteGuard
from mlctl.training.grad_cache import cached_contrastive_loss
from mlctl.training.hub import PublishedFilesPush
from mlctl.training.hub import write_training_arguments
from mlctl.training.model_card import TRAIN_METRICS
from mlctl.training.model_card import write_model_card
from mlctl.training.sampler import BATCH_SAMPLERS
from mlctl.training.sampler import EpochCallback
from mlctl.training.sampler import no_duplicates_dataloader
from modeling_mlctl import MLCTLConfig
from modeling_mlctl.configuration_mlctl import check_choice

logger = logging.getLogger(__name__)

#: A pair counts as retrieved when its positive scores the maximum up to this cosine tolerance, so that the
#: identical embeddings of the "sentence" ablation (every word sample of one sentence) count as ties, not misses.
RETRIEVAL_TIE_TOLERANCE = 1e-4


def check_hub_strategy(args) -> None:
    """Raises `ValueError` for a `--hub_strategy` that uploads whole checkpoints: their optimizer, scheduler and RNG
    states are pickles."""
    if args.push_to_hub and args.hub_strategy in (HubStrategy.CHECKPOINT, HubStrategy.ALL_CHECKPOINTS):
        raise ValueError(f"--hub_strategy {args.hub_strategy.value} uploads the checkpoints with their optimizer, "
                         "scheduler and RNG states (pickles): use every_save or end")


def in_batch_retrieval_accuracy(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Accuracy of retrieving each anchor's positive among the other side of the (global) batch, within
    `RETRIEVAL_TIE_TOLERANCE` (the in-batch counterpart of `mlctl.search.retrieval_accuracy`, on the logits the
    loss already computed).

    `logits` are [`MLCTLForPreTraining`]'s x_logits or y_logits (n, 2N): columns [0, N) the other side, [N, 2N) the
    anchors' side with the anchor itself at −inf, which locates this process's rows in the global batch."""
    num_global = logits.shape[1] // 2
    positive_index = logits[:, num_global:].isneginf().int().argmax(dim=1)
    similarity = logits[:, :num_global]
    positive = similarity.gather(1, positive_index.unsqueeze(1)).squeeze(1)
    return (positive >= similarity.amax(dim=1) - RETRIEVAL_TIE_TOLERANCE / temperature).float().mean()


def compute_validation_metrics(prediction) -> dict[str, float]:
    """Validation metrics from [`MLCTLTrainer.prediction_step`]'s outputs gathered over the whole set: the
    contrastive and MLM losses of the training objective (pair-weighted means of the batch values over the batches
    that have them; in `shared` mode the contrastive loss is on the masked input, as in training) and x→y / y→x
    retrieval accuracy among all validation pairs, on CCEs of the clean (unmasked) input. A NaN loss stays NaN."""
    x_embeddings, y_embeddings = prediction.predictions
    batch_losses = np.asarray(prediction.label_ids, dtype=np.float64)
    metrics = {
        "x2y_accuracy": retrieval_accuracy(x_embeddings, y_embeddings, RETRIEVAL_TIE_TOLERANCE)[0],
        "y2x_accuracy": retrieval_accuracy(y_embeddings, x_embeddings, RETRIEVAL_TIE_TOLERANCE)[0],
    }
    for name, column in (("contrastive_loss", 0), ("mlm_loss", 1)):
        present = batch_losses[:, column + 2] > 0
        if present.any():
            metrics[name] = float(batch_losses[present, column].mean())
    return metrics


class MLCTLTrainer(Trainer):
    """The Trainer for [`MLCTLForPreTraining`] with an [`MLCTLDataCollator`].

    - `compute_loss` returns contrastive + α·MLM. With several processes the MLM term is re-weighted by this
      process's share of the masked tokens, so that the processes' mean (what DDP's gradient averaging and the
      logged loss compute) is the token-mean MLM loss of the global batch, exactly as one process would compute it.
      (The Trainer's own `average_tokens_across_devices` does not apply: ML-CTL batches have no `labels` key.)
    - With `contrastive_mini_batch_size` in its [`MLCTLTrainingArguments`], training steps use gradient caching
      ([`mlctl.training.grad_cache`]): the same loss, gradients and logged metrics, with the activation memory of a
      mini-batch.
    - At every logging step the contrastive loss, the MLM loss and the in-batch x→y / y→x retrieval accuracy are
      logged beside the loss, averaged over the steps since the last log and over processes, so they reach
      TensorBoard / W&B through `report_to`.
    - Evaluation reports `eval_loss`, `eval_contrastive_loss`, `eval_mlm_loss` and the x→y / y→x retrieval accuracy
      over the whole validation set (`eval_x2y_accuracy`, `eval_y2x_accuracy`).
    - A saved model (the final directory and each checkpoint) holds its training arguments as `training_args.json`
      instead of the Trainer's pickled `training_args.bin` (`save_model`, then a clean-up).
    - With `push_to_hub`, the Trainer itself never pushes (its copy of the arguments has `push_to_hub` off once it has
      created the repository): [`PublishedFilesPush`] uploads each checkpoint's published files (`hub_strategy`
      `every_save`) and [`push_to_hub`] the final model's, only the allow-listed file types
      (`mlctl.training.hub.PUBLISHED_PATTERNS`: no pickle, whatever else lies in `output_dir`); the checkpoint
      strategies, which upload pickled optimizer states, are refused.

    `batch_sampler="no_duplicates"` draws training batches with [`NoDuplicatesBatchSampler`] (no two WPS of one
    sentence in a global batch); the default `"random"` is the Trainer's sampler.

    `card_details` (a dict, see [`mlctl.training.model_card.write_model_card`]) feeds the model card written to `output_dir/README.md`.
    """

    def __init__(self, *args, card_details: dict | None = None, batch_sampler: str = "random", **kwargs):
        super().__init__(*args, **kwargs)
        check_choice("batch_sampler", batch_sampler, BATCH_SAMPLERS)
        self.batch_sampler = batch_sampler
        check_hub_strategy(self.args)
        self.publishes = self.args.push_to_hub
        self.hub_push = None
        if self.publishes:  # the Trainer's __init__ created the repository (hub_model_id); the pushes are ours
            self.args = copy.copy(self.args)
            self.args.push_to_hub = False
            if self.is_world_process_zero():
                self.hub_push = PublishedFilesPush(self.args, self.hub_model_id)
                self.add_callback(self.hub_push)
        if self.args.remove_unused_columns:
            logger.info("MLCTLTrainer: remove_unused_columns set to False: the collator reads the WPS columns")
            self.args.remove_unused_columns = False
        # compute_loss below normalises its own losses and never passes num_items_in_batch to the model.
        self.model_accepts_loss_kwargs = False
        self.loss_is_scaled_for_ga = False
        if self.compute_metrics is None:
            self.compute_metrics = compute_validation_metrics
        if hasattr(self.data_collator, "set_epoch"):
            self.add_callback(EpochCallback(self.data_collator))
        self.card_details = card_details or {}
        self.non_finite_guard = NonFiniteGuard()
        self.add_callback(self.non_finite_guard)
        self._train_metric_present = None
        self._train_metric_sums = None
        self._train_metric_steps = 0

    def get_train_dataloader(self):
        """The Trainer's, or with ``batch_sampler="no_duplicates"`` one whose batches never repeat a sentence."""
        if self.batch_sampler == "no_duplicates":
            return no_duplicates_dataloader(self, self.train_dataset)
        return super().get_train_dataloader()

    @property
    def mlctl_config(self) -> MLCTLConfig:
        return self.accelerator.unwrap_model(self.model).config

    def _mlm_token_share(self, inputs: dict) -> float:
        """(masked tokens here) / (mean masked tokens per process); 1 with one process. A Python float (exact
        integer counts, double-precision ratio), so that it keeps the loss's dtype and rounds no float64 run."""
        if self.accelerator.num_processes == 1:
            return 1.0
        count = sum((inputs[name] != -100).sum() for name in ("x_labels", "y_labels")).reshape(1)
        counts = self.accelerator.gather(count)
        return int(count[0]) * counts.numel() / max(int(counts.sum()), 1)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mini_batch_size = getattr(self.args, "contrastive_mini_batch_size", None)
        if mini_batch_size and model.training and torch.is_grad_enabled():
            # Through the (DDP-)wrapped model: DDP reduces the gradients, except inside the Trainer's no_sync
            # during gradient accumulation.
            loss, outputs, mlm_loss = cached_contrastive_loss(
                model, inputs, mini_batch_size, lambda: self._mlm_token_share(inputs), self.accelerator.autocast)
        else:
            outputs = model(**inputs, return_dict=True)
            mlm_loss = outputs.mlm_loss
            if mlm_loss is not None:
                mlm_loss = mlm_loss * self._mlm_token_share(inputs)
            loss = self.accelerator.unwrap_model(model).combine_losses(outputs.contrastive_loss, mlm_loss)
        if model.training:
            self.non_finite_guard.record(outputs.contrastive_loss, mlm_loss)
            self._accumulate_train_metrics(outputs, mlm_loss)
        return (loss, outputs) if return_outputs else loss

    def _accumulate_train_metrics(self, outputs, mlm_loss) -> None:
        temperature = self.mlctl_config.temperature
        nan = outputs.contrastive_loss.new_tensor(float("nan"))
        values = torch.stack([
            outputs.contrastive_loss.detach().float(),
            mlm_loss.detach().float() if mlm_loss is not None else nan,
            in_batch_retrieval_accuracy(outputs.x_logits.detach(), temperature),
            in_batch_retrieval_accuracy(outputs.y_logits.detach(), temperature) if outputs.y_logits is not None else nan,
        ])
        self._train_metric_sums = values if self._train_metric_sums is None else self._train_metric_sums + values
        self._train_metric_present = (True, mlm_loss is not None, True, outputs.y_logits is not None)
        self._train_metric_steps += 1

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Adds the ML-CTL training metrics that the run has (no MLM loss without MLM, no y→x accuracy when not
        `symmetric`) to each training log (the one with `loss`), NaN included; every process calls this at the same
        steps, so the cross-process mean is safe here."""
        if "loss" in logs and self._train_metric_steps:
            means = self.accelerator.reduce(self._train_metric_sums / self._train_metric_steps, reduction="mean")
            for name, value, present in zip(TRAIN_METRICS, means.tolist(), self._train_metric_present):
                if present:
                    logs[name] = value
            self._train_metric_sums, self._train_metric_steps = None, 0
        super().log(logs, start_time)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Returns (loss, (x CCEs, y CCEs), per-pair [contrastive loss, MLM loss, has contrastive, has MLM] of the
        batch).

        The batch losses travel as `label_ids` because the evaluation loop gathers those across processes and only
        calls `compute_metrics` when they exist. The CCEs are those of the clean input: in `shared` mode with MLM
        the objective encodes the masked input, so the clean CCEs take one more forward pass. A batch of a single
        pair (an evaluation set's tail) has no contrastive loss (no negative): its CCEs count for retrieval, its
        loss is None and its rows are marked as without losses."""
        inputs = self._prepare_inputs(inputs)
        config = self.mlctl_config
        num_pairs = inputs["x_input_ids"].shape[0]
        if num_pairs < 2 and (self.accelerator.num_processes == 1 or not config.gather_negatives):
            if prediction_loss_only:
                return None, None, None
            encoder = self.accelerator.unwrap_model(model).mlctl
            with torch.no_grad(), self.compute_loss_context_manager():
                x_embeddings, y_embeddings = (encoder(
                    input_ids=inputs[f"{side}_input_ids"], attention_mask=inputs[f"{side}_attention_mask"],
                    token_type_ids=inputs.get(f"{side}_token_type_ids"), word_mask=inputs.get(f"{side}_word_mask"),
                    return_dict=True).cce_embeddings for side, _ in SIDES)
            no_losses = torch.tensor([[float("nan")] * 2 + [0.0] * 2], device=x_embeddings.device)
            return None, (x_embeddings, y_embeddings), no_losses
        with torch.no_grad(), self.compute_loss_context_manager():
            loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
            if prediction_loss_only:
                return loss.detach(), None, None
            clean = outputs
            if config.mlm_mode == "shared" and outputs.mlm_loss is not None:
                clean = model(**{name: value for name, value in inputs.items() if name not in MLM_INPUTS},
                              return_dict=True)
        has_mlm = outputs.mlm_loss is not None
        mlm_loss = outputs.mlm_loss if has_mlm else torch.full_like(loss, float("nan"))
        flags = loss.new_tensor([1.0, float(has_mlm)])
        batch_losses = torch.cat([torch.stack([outputs.contrastive_loss, mlm_loss]), flags]).float().expand(num_pairs, 4)
        return loss.detach(), (clean.x_embeddings, clean.y_embeddings), batch_losses

    def create_model_card(self, *args, **kwargs) -> None:
        """Writes the ML-CTL model card (see [`write_model_card`]) instead of the Trainer's generic one; called by
        `push_to_hub`, so the card is uploaded with the checkpoint."""
        if self.is_world_process_zero():
            write_model_card(self, Path(self.args.output_dir) / "README.md", **self.card_details)

    def save_model(self, output_dir: str | None = None, *save_args, **save_kwargs) -> None:
        """The Trainer's save (weights, config, ML-CTL code, tokenizer; every checkpoint and the final model go through
        here), then the training arguments as JSON in place of the pickled training_args.bin."""
        super().save_model(output_dir, *save_args, **save_kwargs)
        if self.args.should_save:
            write_training_arguments(self.args, output_dir if output_dir is not None else self.args.output_dir,
                                     self.publishes)

    def push_to_hub(self, commit_message: str | None = "End of training", blocking: bool = True,
                    token: str | None = None, revision: str | None = None, private: bool | None = None, **kwargs):
        """Saves the model to `output_dir`, writes the model card and uploads the published files of `output_dir`
        (after the checkpoint pushes still running). `kwargs` are the Trainer's model-card arguments, which the
        ML-CTL card ([`create_model_card`]) does not take."""
        if self.hub_push is None and self.is_world_process_zero():
            self.init_hf_repo(token=token, private=private)
            self.hub_push = PublishedFilesPush(self.args, self.hub_model_id)
        self.save_model()
        if not self.is_world_process_zero():
            return None
        self.create_model_card()
        return self.hub_push.upload(self.args.output_dir, commit_message, blocking=blocking, token=token,
                                    revision=revision)
