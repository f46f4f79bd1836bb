#!/usr/bin/env python
"""ML-CTL pre-training with the Hugging Face Trainer: multi-level (sentence + word) contrastive learning + MLM.

    python train_mlctl.py                                   # the embedded demo: a complete small job on CPU
    python train_mlctl.py --model_name_or_path bert-base-multilingual-cased --train_dir wps/ --output_dir out/
    torchrun --nproc_per_node 8 train_mlctl.py ...          # or accelerate launch (GPUs); on CPU use torchrun

`--train_dir` is data_prep's output: a `datasets.DatasetDict` saved to disk (splits `train` and `validation`) whose
rows are parallel word positioned samples (WPS): `src_text`/`tgt_text` with the marked word given either as token
spans into pre-tokenised ids (`src_input_ids`, `src_word_start`, `src_word_end`, same for `tgt_`) or as character
spans (`src_char_start`, `src_char_end`, ...). The model is saved in `--output_dir` with its tokenizer, the ML-CTL
code (`auto_map`) and a model card; a run finds the last checkpoint in `--output_dir` and resumes from it.

With several processes the CCEs are gathered with gradients, so each anchor sees the negatives of the global batch
(`--gather_negatives`, on by default) and the run computes the same loss and gradients as one process with the
global batch.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import Iterable

import numpy as np
import torch
from transformers import AutoConfig
from transformers import DataCollatorForLanguageModeling
from transformers import HfArgumentParser
from transformers import Trainer
from transformers import TrainerCallback
from transformers import TrainingArguments
from transformers import set_seed
from transformers.trainer_utils import get_last_checkpoint

from data_prep.tokenizer import load_auto_fast_tokenizer
from data_prep.tokenizer import train_wordpiece_tokenizer
from modeling_mlctl import MLCTLConfig
from modeling_mlctl import MLCTLForPreTraining
from modeling_mlctl.configuration_mlctl import CZ_NCE_FORMS
from modeling_mlctl.configuration_mlctl import LAYER_COMBINATIONS
from modeling_mlctl.configuration_mlctl import LEVELS
from modeling_mlctl.configuration_mlctl import LOSSES
from modeling_mlctl.configuration_mlctl import MLM_MODES

logger = logging.getLogger("train_mlctl")

REPO_ROOT = Path(__file__).resolve().parent
SAMPLE_DIR = REPO_ROOT / "data_prep" / "sample"

#: Collator output prefix of each side of a WPS pair and the dataset column prefix it is read from.
SIDES = (("x", "src"), ("y", "tgt"))
#: Columns of a pre-tokenised WPS side (data_prep built with a tokenizer) and of a text-only one.
TOKENIZED_COLUMNS = ("input_ids", "word_start", "word_end")
TEXT_COLUMNS = ("text", "char_start", "char_end")
#: Collator outputs that carry MLM masking; without them the model encodes clean input and computes no MLM loss.
MLM_INPUTS = ("x_mlm_input_ids", "x_labels", "y_mlm_input_ids", "y_labels")
#: A pair counts as retrieved when its positive scores the maximum up to this cosine tolerance, so that the
#: identical embeddings of the "sentence" ablation (every word sample of one sentence) count as ties, not misses.
RETRIEVAL_TIE_TOLERANCE = 1e-4
#: MLCTLConfig fields settable from the command line (None leaves the config's value).
MLCTL_FIELDS = (
    "levels", "loss", "cz_nce_form", "temperature", "symmetric", "gather_negatives", "mlm_weight", "mlm_mode",
    "projection_dim", "pooling_layers", "layer_combination",
)


class TrainingSetupError(Exception):
    """A problem with the command line, the data or the model that stops training before it starts (one line)."""


# ------------------------------------------------------------------------------------------------- data


def word_token_span(offsets: list[tuple[int, int]], char_start: int, char_end: int) -> tuple[int, int]:
    """Half-open token span [start, end) of the tokens whose characters overlap [char_start, char_end).

    `offsets` are a fast tokenizer's `offset_mapping`; special tokens ((0, 0)) never match. Returns (0, 0) when no
    token overlaps (e.g. the word was cut off by truncation)."""
    hits = [i for i, (start, end) in enumerate(offsets) if end > start and start < char_end and end > char_start]
    return (hits[0], hits[-1] + 1) if hits else (0, 0)


def tokenize_wps_sides(tokenizer, texts: list[str], char_starts: list[int], char_ends: list[int],
                       max_length: int) -> list[tuple[list[int], int, int]]:
    """(token ids with special tokens, truncated to `max_length`; word start; word end) of each WPS side given as
    text and the character span of its marked word. The span is (0, 0) when truncation cut the word off."""
    encodings = tokenizer(list(texts), truncation=True, max_length=max_length, return_offsets_mapping=True)
    return [(ids, *word_token_span(offsets, char_start, char_end))
            for ids, offsets, char_start, char_end in zip(encodings["input_ids"], encodings["offset_mapping"],
                                                          char_starts, char_ends)]


@dataclass
class MLCTLDataCollator:
    """Turns parallel WPS rows into the inputs of [`MLCTLForPreTraining`] for both `mlm_mode`s.

    For each side (x from the `src_` columns, y from `tgt_`) it produces `{side}_input_ids`, `{side}_attention_mask`,
    `{side}_token_type_ids` (when the tokenizer uses them), `{side}_word_mask` (1 on the marked word's tokens) and,
    with `mlm_probability > 0`, `{side}_mlm_input_ids` and `{side}_labels` (BERT masking: `mlm_probability` of the
    non-special tokens, 80% [MASK] / 10% random / 10% unchanged, by transformers' `DataCollatorForLanguageModeling`).
    Every side is right-padded to the longest sequence of the batch on that side.

    Rows are either pre-tokenised (`src_input_ids`, `src_word_start`, `src_word_end`, ...: the ids are used as they
    are) or text with character spans (`src_text`, `src_char_start`, `src_char_end`, ...: tokenised here, truncated
    to `max_length`).

    The masking of a sequence is a deterministic function of (`seed`, epoch, the sequence and its word span): a
    resumed run masks exactly as the uninterrupted one, and N processes with batch n mask exactly as one process
    with batch N·n. The epoch (set by [`MLCTLTrainer`] through `set_epoch`) makes the masks change every epoch.
    """

    tokenizer: Any
    mlm_probability: float = 0.15
    max_length: int = 128
    pad_to_multiple_of: int | None = None
    seed: int = 42
    epoch: int = 0

    def __post_init__(self):
        if not 0 <= self.mlm_probability <= 1:
            raise ValueError(f"MLCTLDataCollator: mlm_probability={self.mlm_probability} must lie in [0, 1]")
        if self.tokenizer.pad_token_id is None:
            raise ValueError(f"MLCTLDataCollator: the tokenizer {self.tokenizer.name_or_path!r} has no pad token")
        self.masker = None
        if self.mlm_probability > 0:
            if self.tokenizer.mask_token is None:
                raise ValueError(f"MLCTLDataCollator: the tokenizer {self.tokenizer.name_or_path!r} has no mask token; "
                                 "pass mlm_probability=0 to train without MLM")
            self.masker = DataCollatorForLanguageModeling(self.tokenizer, mlm_probability=self.mlm_probability)
        self.uses_token_type_ids = "token_type_ids" in self.tokenizer.model_input_names

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def encode_side(self, rows: list[dict], column_prefix: str) -> list[tuple[list[int], int, int]]:
        """(token ids, word start, word end) of one side of each row, pre-tokenised or tokenised here."""
        if f"{column_prefix}_input_ids" in rows[0]:
            encoded = [tuple(row[f"{column_prefix}_{name}"] for name in TOKENIZED_COLUMNS) for row in rows]
        else:
            text, char_start, char_end = ([row[f"{column_prefix}_{name}"] for row in rows] for name in TEXT_COLUMNS)
            encoded = tokenize_wps_sides(self.tokenizer, text, char_start, char_end, self.max_length)
        for row, (ids, start, end) in zip(rows, encoded):
            if not 0 <= start < end <= len(ids):
                raise ValueError(
                    f"MLCTLDataCollator: {column_prefix} word span [{start}, {end}) is empty or outside the {len(ids)} "
                    f"tokens of {row.get(f'{column_prefix}_text', ids)!r}"
                )
        return encoded

    def mask_tokens(self, ids: list[int], key: bytes) -> tuple[torch.Tensor, torch.Tensor]:
        """BERT MLM masking of one sequence by transformers' own `torch_mask_tokens`, with a generator seeded from
        (seed, epoch, key). Returns (masked ids, labels with -100 where nothing is predicted)."""
        digest = hashlib.blake2b(key, digest_size=8, key=f"{self.seed}:{self.epoch}".encode()).digest()
        self.masker.generator = torch.Generator().manual_seed(int.from_bytes(digest, "little") >> 1)
        special = self.tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
        masked, labels = self.masker.torch_mask_tokens(
            torch.tensor([ids]), special_tokens_mask=torch.tensor([special], dtype=torch.bool)
        )
        return masked[0], labels[0]

    def _padded(self, sequences: list, value: int) -> torch.Tensor:
        length = max(len(sequence) for sequence in sequences)
        if self.pad_to_multiple_of:
            length = math.ceil(length / self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = torch.full((len(sequences), length), value, dtype=torch.long)
        for row, sequence in enumerate(sequences):
            batch[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
        return batch

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        batch = {}
        for side, column_prefix in SIDES:
            encoded = self.encode_side(rows, column_prefix)
            ids = [item[0] for item in encoded]
            batch[f"{side}_input_ids"] = self._padded(ids, self.tokenizer.pad_token_id)
            batch[f"{side}_attention_mask"] = self._padded([[1] * len(item) for item in ids], 0)
            if self.uses_token_type_ids:
                batch[f"{side}_token_type_ids"] = self._padded([[0] * len(item) for item in ids], 0)
            batch[f"{side}_word_mask"] = self._padded(
                [[0] * start + [1] * (end - start) + [0] * (len(ids) - end) for ids, start, end in encoded], 0
            )
            if self.masker is not None:
                masked = [
                    self.mask_tokens(ids, side.encode() + np.asarray([start, end, *ids], dtype=np.int64).tobytes())
                    for ids, start, end in encoded
                ]
                batch[f"{side}_mlm_input_ids"] = self._padded([item[0] for item in masked], self.tokenizer.pad_token_id)
                batch[f"{side}_labels"] = self._padded([item[1] for item in masked], -100)
        return batch


# ---------------------------------------------------------------------------------------------- metrics


def retrieval_accuracy(similarity: torch.Tensor, positive_index: torch.Tensor, tolerance: float) -> torch.Tensor:
    """Fraction of rows of `similarity` (n, M) whose positive column scores the row maximum (within `tolerance`)."""
    positive = similarity.gather(1, positive_index.unsqueeze(1)).squeeze(1)
    return (positive >= similarity.amax(dim=1) - tolerance).float().mean()


def in_batch_retrieval_accuracy(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Accuracy of retrieving each anchor's positive among the other side of the (global) batch.

    `logits` are [`MLCTLForPreTraining`]'s x_logits or y_logits (n, 2N): columns [0, N) the other side, [N, 2N) the
    anchors' side with the anchor itself at −inf, which locates this process's rows in the global batch."""
    num_global = logits.shape[1] // 2
    positive_index = logits[:, num_global:].isneginf().int().argmax(dim=1)
    return retrieval_accuracy(logits[:, :num_global], positive_index, RETRIEVAL_TIE_TOLERANCE / temperature)


def full_set_retrieval_accuracy(queries, candidates, chunk_size: int = 1024) -> float:
    """Accuracy of retrieving row i of `candidates` for row i of `queries` by cosine similarity among all rows."""
    queries = torch.nn.functional.normalize(torch.as_tensor(queries, dtype=torch.float32), dim=-1)
    candidates = torch.nn.functional.normalize(torch.as_tensor(candidates, dtype=torch.float32), dim=-1)
    correct = 0.0
    for start in range(0, queries.shape[0], chunk_size):
        chunk = queries[start : start + chunk_size]
        positive_index = torch.arange(start, start + chunk.shape[0])
        correct += retrieval_accuracy(chunk @ candidates.T, positive_index, RETRIEVAL_TIE_TOLERANCE).item() * len(chunk)
    return correct / max(queries.shape[0], 1)


def compute_validation_metrics(prediction) -> dict[str, float]:
    """Validation metrics from [`MLCTLTrainer.prediction_step`]'s outputs gathered over the whole set: the
    contrastive and MLM losses of the training objective (pair-weighted means of the batch values; in `shared`
    mode the contrastive loss is on the masked input, as in training) and x→y / y→x retrieval accuracy among all
    validation pairs, on CCEs of the clean (unmasked) input."""
    x_embeddings, y_embeddings = prediction.predictions
    batch_losses = np.asarray(prediction.label_ids, dtype=np.float64)
    metrics = {
        "contrastive_loss": float(batch_losses[:, 0].mean()),
        "x2y_accuracy": full_set_retrieval_accuracy(x_embeddings, y_embeddings),
        "y2x_accuracy": full_set_retrieval_accuracy(y_embeddings, x_embeddings),
    }
    if not np.isnan(batch_losses[:, 1]).any():
        metrics["mlm_loss"] = float(batch_losses[:, 1].mean())
    return metrics


# ---------------------------------------------------------------------------------------------- trainer


class CollatorEpochCallback(TrainerCallback):
    """Tells the collator the epoch at each epoch start (also when a run resumes mid-epoch), for its masking."""

    def __init__(self, collator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.set_epoch(math.floor(state.epoch or 0))


class MLCTLTrainer(Trainer):
    """The Trainer for [`MLCTLForPreTraining`] with an [`MLCTLDataCollator`].

    - `compute_loss` returns contrastive + α·MLM. With several processes the MLM term is re-weighted by this
      process's share of the masked tokens, so that the processes' mean (what DDP's gradient averaging and the
      logged loss compute) is the token-mean MLM loss of the global batch, exactly as one process would compute it.
      (The Trainer's own `average_tokens_across_devices` does not apply: ML-CTL batches have no `labels` key.)
    - At every logging step the contrastive loss, the MLM loss and the in-batch x→y / y→x retrieval accuracy are
      logged beside the loss, averaged over the steps since the last log and over processes, so they reach
      TensorBoard / W&B through `report_to`.
    - Evaluation reports `eval_loss`, `eval_contrastive_loss`, `eval_mlm_loss` and the x→y / y→x retrieval accuracy
      over the whole validation set (`eval_x2y_accuracy`, `eval_y2x_accuracy`).

    `card_details` (a dict, see [`write_model_card`]) feeds the model card written to `output_dir/README.md`.
    """

    TRAIN_METRICS = ("contrastive_loss", "mlm_loss", "x2y_accuracy", "y2x_accuracy")

    def __init__(self, *args, card_details: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.args.remove_unused_columns:
            logger.info("MLCTLTrainer: remove_unused_columns set to False: the collator reads the WPS columns")
            self.args.remove_unused_columns = False
        # compute_loss below normalises its own losses and never passes num_items_in_batch to the model.
        self.model_accepts_loss_kwargs = False
        self.loss_is_scaled_for_ga = False
        if self.compute_metrics is None:
            self.compute_metrics = compute_validation_metrics
        if hasattr(self.data_collator, "set_epoch"):
            self.add_callback(CollatorEpochCallback(self.data_collator))
        self.card_details = card_details or {}
        self._train_metric_sums = None
        self._train_metric_steps = 0

    @property
    def mlctl_config(self) -> MLCTLConfig:
        return self.accelerator.unwrap_model(self.model).config

    def _mlm_token_share(self, inputs: dict) -> torch.Tensor | float:
        """(masked tokens here) / (mean masked tokens per process); 1 with one process."""
        if self.accelerator.num_processes == 1:
            return 1.0
        count = sum((inputs[name] != -100).sum() for name in ("x_labels", "y_labels")).float().reshape(1)
        counts = self.accelerator.gather(count)
        return count[0] * counts.numel() / counts.sum().clamp(min=1)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        loss = outputs.contrastive_loss
        mlm_loss = outputs.mlm_loss
        if mlm_loss is not None:
            mlm_loss = mlm_loss * self._mlm_token_share(inputs)
            loss = loss + self.mlctl_config.mlm_weight * mlm_loss
        if model.training:
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
        self._train_metric_steps += 1

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Adds the ML-CTL training metrics to each training log (the one with `loss`); every process calls this
        at the same steps, so the cross-process mean is safe here."""
        if "loss" in logs and self._train_metric_steps:
            means = self.accelerator.reduce(self._train_metric_sums / self._train_metric_steps, reduction="mean")
            for name, value in zip(self.TRAIN_METRICS, means.tolist()):
                if not math.isnan(value):
                    logs[name] = value
            self._train_metric_sums, self._train_metric_steps = None, 0
        super().log(logs, start_time)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Returns (loss, (x CCEs, y CCEs), per-pair [contrastive loss, MLM loss] of the batch).

        The batch losses travel as `label_ids` because the evaluation loop gathers those across processes and only
        calls `compute_metrics` when they exist. The CCEs are those of the clean input: in `shared` mode with MLM
        the objective encodes the masked input, so the clean CCEs take one more forward pass."""
        inputs = self._prepare_inputs(inputs)
        config = self.mlctl_config
        with torch.no_grad(), self.compute_loss_context_manager():
            loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
            if prediction_loss_only:
                return loss.detach(), None, None
            clean = outputs
            if config.mlm_mode == "shared" and outputs.mlm_loss is not None:
                clean = model(**{name: value for name, value in inputs.items() if name not in MLM_INPUTS})
        num_pairs = outputs.x_embeddings.shape[0]
        mlm_loss = outputs.mlm_loss if outputs.mlm_loss is not None else torch.full_like(loss, float("nan"))
        batch_losses = torch.stack([outputs.contrastive_loss, mlm_loss]).float().expand(num_pairs, 2)
        return loss.detach(), (clean.x_embeddings, clean.y_embeddings), batch_losses

    def create_model_card(self, *args, **kwargs) -> None:
        """Writes the ML-CTL model card (see [`write_model_card`]) instead of the Trainer's generic one; called by
        `push_to_hub`, so the card is uploaded with the checkpoint."""
        if self.is_world_process_zero():
            write_model_card(self, Path(self.args.output_dir) / "README.md", **self.card_details)


# -------------------------------------------------------------------------------------------- model card


def final_losses(log_history: list[dict]) -> dict[str, float]:
    """The last logged training values (loss, contrastive, MLM, in-batch accuracies) and the last evaluation."""
    summary = {}
    for entry in log_history:
        if "loss" in entry:
            summary.update({f"train_{name}": entry[name] for name in ("loss",) + MLCTLTrainer.TRAIN_METRICS if name in entry})
        summary.update({name: value for name, value in entry.items() if name.startswith("eval_") and "runtime" not in name
                        and "per_second" not in name})
    return summary


def xtreme_eval_results(results_json: str | None) -> list:
    """`model-index` entries from a `run_xtreme_tasks.py` results.json, or [] (with a warning) when unavailable."""
    if not results_json:
        return []
    try:
        from run_xtreme_tasks import model_index_results
    except ImportError as error:
        logger.warning("XTREME results left out of the model card: run_xtreme_tasks is unavailable (%s)", error)
        return []
    if not Path(results_json).is_file():
        raise TrainingSetupError(f"--xtreme_results {results_json}: no such file")
    return model_index_results(results_json)


def write_model_card(trainer: MLCTLTrainer, path: Path, base_model: str | None = None, training_data: str = "",
                     languages: list[str] | None = None, xtreme_results: str | None = None) -> str:
    """Writes the model card (huggingface_hub `ModelCard`) to `path` and returns its text: base model, training
    data, every ML-CTL hyper-parameter, the training settings, final losses and XTREME results when given."""
    from huggingface_hub import ModelCard
    from huggingface_hub import ModelCardData

    config = trainer.mlctl_config
    args = trainer.args
    name = getattr(trainer, "hub_model_id", None) or args.hub_model_id or Path(args.output_dir).name
    eval_results = xtreme_eval_results(xtreme_results)
    card_data = ModelCardData(
        model_name=name,
        base_model=base_model,
        language=sorted(languages) if languages else None,
        library_name="transformers",
        pipeline_tag="feature-extraction",
        tags=["mlctl", "cross-lingual", "contrastive-learning", "multilingual"],
        eval_results=eval_results or None,
    )
    hyper_parameters = "\n".join(
        f"| `{field_name}` | `{json.dumps(getattr(config, field_name))}` |"
        for field_name in ("levels", "loss", "cz_nce_form", "temperature", "symmetric", "gather_negatives",
                           "mlm_weight", "mlm_mode", "projection_dim", "pooling_layers", "layer_combination")
    )
    encoder = config.encoder_config
    world = args.world_size
    losses = "\n".join(f"| {key} | {value:.4f} |" for key, value in final_losses(trainer.state.log_history).items())
    xtreme = "\n".join(
        f"| {result.dataset_name} | {result.metric_name} | {result.metric_value} |" for result in eval_results
    )
    content = f"""---
{card_data.to_yaml()}
---

# {name}

A multilingual encoder aligned across languages with **ML-CTL** (multi-level contrastive learning: sentence + word
contrastive loss with CZ-NCE or InfoNCE, plus masked language modelling), trained with mlctl's `train_mlctl.py`.

Base model: {f"`{base_model}`" if base_model else "none (trained from scratch)"}; backbone `{encoder.model_type}`,
{encoder.num_hidden_layers} layers, hidden size {encoder.hidden_size}, vocabulary {encoder.vocab_size}.

## Use

```python
from transformers import AutoModel, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{name}")
model = AutoModel.from_pretrained("{name}", trust_remote_code=True)  # MLCTLModel: CCE, sentence and word embeddings
```

## Training data

{training_data or "Not recorded."}

## ML-CTL hyper-parameters

| hyper-parameter | value |
|---|---|
{hyper_parameters}

## Training

learning rate {args.learning_rate}, {args.per_device_train_batch_size} pairs per device × {world} process(es) ×
{args.gradient_accumulation_steps} accumulation step(s), {trainer.state.global_step} optimizer steps, seed {args.seed}.

## Final losses

| metric | value |
|---|---|
{losses or "| (nothing logged) | |"}
"""
    if xtreme:
        content += f"\n## XTREME (zero-shot)\n\n| dataset | metric | value |\n|---|---|---|\n{xtreme}\n"
    card = ModelCard(content)
    path.parent.mkdir(parents=True, exist_ok=True)
    card.save(path)
    return str(card)


# -------------------------------------------------------------------------------------------------- CLI


def _arg(help_text: str, default=None, **argparse_kwargs):
    """A dataclass field for HfArgumentParser: its help text and any other `add_argument` keyword (e.g. choices)."""
    return field(default=default, metadata={"help": help_text, **argparse_kwargs})


@dataclass
class ModelArguments:
    """Where the model and tokenizer come from, and the ML-CTL settings (None keeps the MLCTLConfig default)."""

    model_name_or_path: str | None = _arg(
        "Pre-trained encoder to start from (e.g. bert-base-multilingual-cased, xlm-roberta-base, a local directory), "
        "or an ML-CTL checkpoint to continue training.")
    config_name: str | None = _arg(
        "Train from scratch: an encoder config (name or path, e.g. bert-base-multilingual-cased) or an ML-CTL "
        "config.json.")
    tokenizer_name: str | None = _arg("Tokenizer name or path (default: --model_name_or_path or --config_name).")
    levels: str | None = _arg('"sentence+word" (ML-CTL) or "sentence" (the -snt ablation).', choices=LEVELS)
    loss: str | None = _arg('Contrastive loss: "cz_nce" (eq. 5) or "info_nce" (eq. 1).', choices=LOSSES)
    cz_nce_form: str | None = _arg('CZ-NCE computation: "logsumexp" (eq. 5) or "stop_gradient" (eq. 6).',
                                   choices=CZ_NCE_FORMS)
    temperature: float | None = _arg("Temperature τ of s(a, b) = cos(a, b) / τ (default 0.07).")
    symmetric: bool | None = _arg("Average the loss over x and y anchors (eq. 2; default true).")
    gather_negatives: bool | None = _arg(
        "With several processes, gather CCEs across processes (with gradients) for global-batch negatives "
        "(default true).")
    mlm_weight: float | None = _arg("α, the weight of the MLM loss (default 0.1; 0 disables MLM).")
    mlm_mode: str | None = _arg('"shared" (one masked pass serves both losses) or "separate" (clean + masked pass).',
                                choices=MLM_MODES)
    projection_dim: int | None = _arg("Width of the CCE projection (default 2 × hidden size).")
    pooling_layers: list[int] | None = _arg("hidden_states indices averaged into token vectors (default 1 -1).")
    layer_combination: str | None = _arg('"average" (the paper) or "sum" (the original code) of the pooled layers.',
                                         choices=LAYER_COMBINATIONS)

    def mlctl_overrides(self) -> dict:
        return {name: getattr(self, name) for name in MLCTL_FIELDS if getattr(self, name) is not None}


@dataclass
class DataArguments:
    """Where the WPS data come from and how they are batched."""

    train_dir: str | None = _arg("data_prep's output: a DatasetDict saved with save_to_disk (splits train, validation).")
    train_split: str = _arg("Split to train on.", "train")
    validation_split: str | None = _arg("Split to evaluate on (skipped when absent from --train_dir).", "validation")
    max_seq_length: int = _arg("Truncation length when the data are text (pre-tokenised ids are used as they are).", 128)
    mlm_probability: float = _arg("Fraction of non-special tokens selected for MLM (80/10/10 [MASK]/random/same).", 0.15)
    max_train_samples: int | None = _arg("Train on the first N pairs only.")
    max_eval_samples: int | None = _arg("Evaluate on the first N pairs only.")
    xtreme_results: str | None = _arg("results.json of run_xtreme_tasks.py to put in the model card's model-index.")


def build_parser() -> HfArgumentParser:
    return HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))


def load_tokenizer(model_args: ModelArguments):
    source = model_args.tokenizer_name or model_args.model_name_or_path or model_args.config_name
    if source is None:
        raise TrainingSetupError("pass --model_name_or_path (pre-trained) or --config_name with --tokenizer_name (scratch)")
    try:
        return load_auto_fast_tokenizer(source, "locating the marked words by offsets")
    except ValueError as error:
        raise TrainingSetupError(str(error)) from None


def build_model(model_args: ModelArguments, tokenizer) -> MLCTLForPreTraining:
    """From a pre-trained encoder (`from_backbone_pretrained`), an ML-CTL checkpoint, or from scratch (`config_name`)."""
    overrides = model_args.mlctl_overrides()
    source = model_args.model_name_or_path or model_args.config_name
    try:
        config = AutoConfig.from_pretrained(source)
        if model_args.model_name_or_path:
            if config.model_type == MLCTLConfig.model_type:
                model = MLCTLForPreTraining.from_pretrained(source, **overrides)
            else:
                model = MLCTLForPreTraining.from_backbone_pretrained(source, **overrides)
        else:
            if config.model_type == MLCTLConfig.model_type:
                config = MLCTLConfig(**{**config.to_dict(), **overrides})
            else:
                config = MLCTLConfig(encoder_config=config, **overrides)
            model = MLCTLForPreTraining(config)
    except (OSError, ValueError) as error:
        raise TrainingSetupError(f"{source}: cannot build the model: {str(error).splitlines()[0]}") from None
    if len(tokenizer) > model.config.vocab_size:
        raise TrainingSetupError(
            f"{source}: the tokenizer has {len(tokenizer)} tokens but the model's vocabulary only {model.config.vocab_size}")
    return model


def _check_columns(dataset, where: str) -> str:
    """'tokenized' or 'text': which WPS layout `dataset` has; a one-line error when it has neither."""
    columns = set(dataset.column_names)
    for layout, names in (("tokenized", TOKENIZED_COLUMNS), ("text", TEXT_COLUMNS)):
        needed = [f"{prefix}_{name}" for _, prefix in SIDES for name in names]
        if all(name in columns for name in needed):
            return layout
    raise TrainingSetupError(
        f"{where}: not WPS data: needs src_/tgt_ columns {', '.join(TOKENIZED_COLUMNS)} (pre-tokenised) or "
        f"{', '.join(TEXT_COLUMNS)}; found {', '.join(sorted(columns))}")


def _check_token_ids(dataset, tokenizer, where: str) -> None:
    """Pre-tokenised ids must come from this tokenizer: no id may lie beyond its vocabulary."""
    import pyarrow.compute as pc

    for _, prefix in SIDES:
        column = dataset.data.column(f"{prefix}_input_ids")
        largest = pc.max(pc.list_flatten(column)).as_py()
        if largest is not None and largest >= len(tokenizer):
            raise TrainingSetupError(
                f"{where}: column {prefix}_input_ids holds token id {largest} but the tokenizer "
                f"{tokenizer.name_or_path!r} has {len(tokenizer)} tokens: rebuild the data with this tokenizer")


def prepare_split(dataset, tokenizer, max_seq_length: int, limit: int | None, where: str):
    """Checks one WPS split; text-only data are tokenised once here (with `tokenize_wps_sides`, as the collator
    would) and pairs whose marked word is cut off by `max_seq_length` are dropped, with a count."""
    layout = _check_columns(dataset, where)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    if layout == "tokenized":
        _check_token_ids(dataset, tokenizer, where)
        return dataset

    def tokenize(batch):
        encoded = {}
        for _, prefix in SIDES:
            sides = tokenize_wps_sides(tokenizer, batch[f"{prefix}_text"], batch[f"{prefix}_char_start"],
                                       batch[f"{prefix}_char_end"], max_seq_length)
            for position, name in enumerate(TOKENIZED_COLUMNS):
                encoded[f"{prefix}_{name}"] = [side[position] for side in sides]
        return encoded

    dataset = dataset.map(tokenize, batched=True, desc=f"tokenizing {where}")
    kept = dataset.filter(lambda row: row["src_word_end"] > 0 and row["tgt_word_end"] > 0, desc=f"checking {where}")
    if len(kept) < len(dataset):
        logger.warning("%s: dropped %d of %d pairs whose marked word lies beyond --max_seq_length %d tokens",
                       where, len(dataset) - len(kept), len(dataset), max_seq_length)
    if len(kept) == 0:
        raise TrainingSetupError(f"{where}: no pair left to train on")
    return kept


def load_wps_splits(data_args: DataArguments, tokenizer) -> tuple[Any, Any | None]:
    """(train split, validation split or None) of `--train_dir`, checked and ready for the collator."""
    import datasets

    if not data_args.train_dir:
        raise TrainingSetupError("--train_dir is required (data_prep's output directory)")
    try:
        splits = datasets.load_from_disk(data_args.train_dir)
    except (FileNotFoundError, ValueError) as error:
        raise TrainingSetupError(f"{data_args.train_dir}: not a dataset saved by data_prep: {str(error).splitlines()[0]}") from None
    if isinstance(splits, datasets.Dataset):
        splits = datasets.DatasetDict({data_args.train_split: splits})
    if data_args.train_split not in splits:
        raise TrainingSetupError(f"{data_args.train_dir}: no split {data_args.train_split!r} (has {', '.join(splits)})")
    where = f"{data_args.train_dir} [{data_args.train_split}]"
    train = prepare_split(splits[data_args.train_split], tokenizer, data_args.max_seq_length,
                          data_args.max_train_samples, where)
    validation = None
    if data_args.validation_split and data_args.validation_split in splits:
        where = f"{data_args.train_dir} [{data_args.validation_split}]"
        validation = prepare_split(splits[data_args.validation_split], tokenizer, data_args.max_seq_length,
                                   data_args.max_eval_samples, where)
    elif data_args.validation_split:
        logger.warning("%s: no %r split, so no evaluation", data_args.train_dir, data_args.validation_split)
    return train, validation


def describe_training_data(data_args: DataArguments, train, validation) -> tuple[str, list[str]]:
    """A model-card paragraph on the data (pairs per language pair) and the list of languages."""
    pairs = {}
    if "src_lang" in train.column_names and "tgt_lang" in train.column_names:
        table = train.select_columns(["src_lang", "tgt_lang"]).with_format("arrow")[:]
        for row in table.group_by(["src_lang", "tgt_lang"]).aggregate([([], "count_all")]).to_pylist():
            pairs[f"{row['src_lang']}-{row['tgt_lang']}"] = row["count_all"]
    languages = sorted({lang for pair in pairs for lang in pair.split("-")})
    per_pair = ", ".join(f"{pair}: {count}" for pair, count in sorted(pairs.items()))
    text = (f"{len(train)} parallel word positioned sample pairs from `{data_args.train_dir}`"
            + (f" ({per_pair})" if per_pair else "")
            + (f"; {len(validation)} validation pairs." if validation is not None else "."))
    return text, languages


def train(model_args: ModelArguments, data_args: DataArguments, training_args: TrainingArguments,
          callbacks: Iterable[TrainerCallback] = ()) -> dict:
    """Runs one ML-CTL training job and returns {"output_dir", "train": metrics, "eval": metrics}.

    Resumes from `--resume_from_checkpoint` or else from the last checkpoint in `--output_dir`; saves the model,
    tokenizer and model card in `--output_dir`; pushes them with `--push_to_hub`."""
    launched_processes = int(os.environ.get("WORLD_SIZE", "1"))
    if launched_processes > 1 and training_args.world_size == 1:
        raise TrainingSetupError(
            f"{launched_processes} processes were launched but train as independent jobs; without a GPU pass "
            "--use_cpu true so that they join one gloo process group")
    set_seed(training_args.seed)
    tokenizer = load_tokenizer(model_args)
    model = build_model(model_args, tokenizer)
    train_split, validation_split = load_wps_splits(data_args, tokenizer)
    training_data, languages = describe_training_data(data_args, train_split, validation_split)
    collator = MLCTLDataCollator(
        tokenizer,
        mlm_probability=data_args.mlm_probability if model.config.mlm_weight > 0 else 0.0,
        max_length=data_args.max_seq_length,
        seed=training_args.seed,
    )
    base_model = model_args.model_name_or_path
    trainer = MLCTLTrainer(
        model=model,
        args=training_args,
        train_dataset=train_split,
        eval_dataset=validation_split,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=list(callbacks),
        card_details=dict(
            base_model=base_model if base_model and not Path(base_model).is_dir() else None,
            training_data=training_data,
            languages=languages,
            xtreme_results=data_args.xtreme_results,
        ),
    )
    checkpoint = training_args.resume_from_checkpoint
    if checkpoint is None and Path(training_args.output_dir).is_dir():
        checkpoint = get_last_checkpoint(training_args.output_dir)
    if checkpoint is not None:
        logger.info("resuming from %s", checkpoint)
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model()
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    trainer.save_state()
    eval_metrics = {}
    if validation_split is not None:
        eval_metrics = trainer.evaluate()
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
    if training_args.push_to_hub:
        trainer.push_to_hub(commit_message="ML-CTL pre-training")
    else:
        trainer.create_model_card()
    return {"output_dir": training_args.output_dir, "train": train_result.metrics, "eval": eval_metrics}


# ------------------------------------------------------------------------------------------------- demo


#: The embedded default job: language pairs of the shipped sample, lines held out for evaluation, model shape.
DEMO_PAIRS = (("en", "de"), ("en", "fr"), ("en", "es"))
DEMO_HELD_OUT_LINES = 50
DEMO_VALIDATION_FRACTION = 0.05
DEMO_OUTPUT = Path("outputs/demo")
DEMO_ENCODER = dict(model_type="bert", hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
                    intermediate_size=256, max_position_embeddings=128)
DEMO_TRAINING = ["--max_steps", "240", "--per_device_train_batch_size", "32", "--learning_rate", "5e-4",
                 "--warmup_steps", "24", "--logging_steps", "20", "--eval_strategy", "steps", "--eval_steps", "80",
                 "--save_steps", "80", "--save_total_limit", "1", "--report_to", "none", "--seed", "42"]
#: Languages of the sample by Tatoeba's ISO 639-3 file names (run_xtreme_tasks' layout).
TATOEBA_CODES = {"de": "deu", "fr": "fra", "es": "spa"}


def _read_sample(pair: tuple[str, str]) -> tuple[list[str], list[str]]:
    src, tgt = pair
    lines = []
    for lang in pair:
        path = SAMPLE_DIR / f"{src}-{tgt}.{lang}"
        if not path.is_file():
            raise TrainingSetupError(f"{path}: the shipped sample is missing")
        lines.append(path.read_text(encoding="utf-8").splitlines())
    if len(lines[0]) != len(lines[1]):
        raise TrainingSetupError(f"{SAMPLE_DIR}/{src}-{tgt}: {len(lines[0])} {src} lines but {len(lines[1])} {tgt} lines")
    return lines[0], lines[1]


def prepare_demo(output: Path = DEMO_OUTPUT) -> list[str]:
    """Prepares the embedded default job and returns its command line: splits the shipped sample into training
    lines and held-out Tatoeba-style test files, trains a WordPiece tokenizer on the training lines, builds WPS
    with data_prep, and writes a small BERT config."""
    try:
        from data_prep import DataPrepError
        from data_prep import PairSpec
        from data_prep import build_wps_dataset
    except ImportError as error:
        raise TrainingSetupError(f"the demo needs data_prep (build_wps_dataset) to build word positioned samples: {error}") from None

    corpus_dir, held_out_dir = output / "corpus", output / "heldout" / "tatoeba"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    held_out_dir.mkdir(parents=True, exist_ok=True)
    training_texts = []
    for src, tgt in DEMO_PAIRS:
        src_lines, tgt_lines = _read_sample((src, tgt))
        cut = len(src_lines) - DEMO_HELD_OUT_LINES
        (corpus_dir / f"{src}-{tgt}.{src}").write_text("\n".join(src_lines[:cut]) + "\n", encoding="utf-8")
        (corpus_dir / f"{src}-{tgt}.{tgt}").write_text("\n".join(tgt_lines[:cut]) + "\n", encoding="utf-8")
        code = TATOEBA_CODES[tgt]
        (held_out_dir / f"tatoeba.{code}-eng.{code}").write_text("\n".join(tgt_lines[cut:]) + "\n", encoding="utf-8")
        (held_out_dir / f"tatoeba.{code}-eng.eng").write_text("\n".join(src_lines[cut:]) + "\n", encoding="utf-8")
        training_texts += src_lines[:cut] + tgt_lines[:cut]

    tokenizer_dir = output / "tokenizer"
    tokenizer = train_wordpiece_tokenizer(training_texts, vocab_size=4000,
                                          model_max_length=DEMO_ENCODER["max_position_embeddings"])
    tokenizer.save_pretrained(tokenizer_dir)
    encoder_config = AutoConfig.for_model(**{**DEMO_ENCODER, "vocab_size": len(tokenizer),
                                             "pad_token_id": tokenizer.pad_token_id})
    config_dir = output / "encoder_config"
    encoder_config.save_pretrained(config_dir)

    wps_dir = output / "wps"
    pairs = [PairSpec(src, tgt, str(corpus_dir / f"{src}-{tgt}.{src}"), str(corpus_dir / f"{src}-{tgt}.{tgt}"))
             for src, tgt in DEMO_PAIRS]
    try:
        build_wps_dataset(pairs, wps_dir, tokenizer=tokenizer, max_length=DEMO_ENCODER["max_position_embeddings"],
                          validation_fraction=DEMO_VALIDATION_FRACTION, seed=0)
    except DataPrepError as error:
        raise TrainingSetupError(f"data_prep: {error}") from None
    return ["--config_name", str(config_dir), "--tokenizer_name", str(tokenizer_dir), "--train_dir", str(wps_dir),
            "--output_dir", str(output / "model"), *DEMO_TRAINING]


def demo_evaluation_command(output: Path = DEMO_OUTPUT) -> str:
    """The run_xtreme_tasks.py command that evaluates the demo model on the held-out sample (Tatoeba-style)."""
    return shlex.join([
        "python", "run_xtreme_tasks.py", "--model_name_or_path", str(output / "model"), "--tasks", "tatoeba",
        "--languages", ",".join(TATOEBA_CODES), "--data_dir", str(output / "heldout"), "--no_hub",
        "--retrieval_max_length", str(DEMO_ENCODER["max_position_embeddings"]), "--output_dir", str(output / "xtreme"),
    ])


# ------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict:
    """Trains as the flags say (see `--help`); with no flags at all, runs the embedded demo job.
    Returns {"output_dir", "train": metrics, "eval": metrics} (the demo adds "wall_time_s")."""
    argv = list(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    demo = not argv
    if demo:
        logger.info("no arguments: running the embedded demo job in %s", DEMO_OUTPUT)
        argv = prepare_demo()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available() and "--use_cpu" not in argv:
        # Without this, transformers/accelerate give each CPU process its own single-process job.
        logger.info("several processes on a machine without a GPU: adding --use_cpu true (gloo)")
        argv += ["--use_cpu", "true"]
    model_args, data_args, training_args = build_parser().parse_args_into_dataclasses(args=argv)
    result = train(model_args, data_args, training_args)
    if demo:
        result["wall_time_s"] = round(time.perf_counter() - started, 1)
        if training_args.process_index == 0:
            print(f"\nML-CTL demo model saved in {training_args.output_dir} ({result['wall_time_s']} s).\n"
                  f"Evaluate it (Tatoeba-style retrieval on the held-out sample) with:\n"
                  f"  {demo_evaluation_command()}")
    return result


def cli() -> int:
    """Console entry point: 0 on success, 2 when the job cannot start (a one-line error on stderr)."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        main()
    except TrainingSetupError as error:
        print(f"train_mlctl: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
