"""The training command line: where the model and data come from (`ModelArguments`, `DataArguments`) beside
transformers' `TrainingArguments` extended with the ML-CTL training-loop options (`MLCTLTrainingArguments`).

The ML-CTL flags are generated from `MLCTLConfig`'s fields — their types, defaults and `help` / `choices` metadata —
so the config stays the single source of truth: a flag left out keeps the config's (or the checkpoint's) value.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass

from transformers import TrainingArguments

from data_prep.arguments import DEFAULT_SEED
from data_prep.arguments import RANGE
from data_prep.arguments import CommandParser
from data_prep.arguments import ModelArguments as LoadedModelArguments
from data_prep.arguments import arg
from data_prep.arguments import check_numbers
from data_prep.arguments import shared
from mlctl.training.collator import MLCTLDataCollator
from modeling_mlctl import MLCTLConfig

#: MLCTLConfig fields that describe a checkpoint rather than a training run: no flag.
NOT_TRAINING_FLAGS = ("encoder_config", "classifier_dropout")


def _flag_type(annotation):
    """The flag type of an MLCTLConfig annotation: a list for sequences, else the first non-None member."""
    members = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for member in members:
        if typing.get_origin(member) in (list, tuple):
            return list[int]
    return next(member for member in members if member is not type(None))


def mlctl_flag_fields() -> list[tuple]:
    """(name, type, field) of every ML-CTL training flag: one per MLCTLConfig field but `NOT_TRAINING_FLAGS`, with
    the field's help, choices and range (every field has help: `MLCTLConfig` is refused at definition otherwise)."""
    fields = []
    for config_field in dataclasses.fields(MLCTLConfig):
        if "help" not in config_field.metadata or config_field.name in NOT_TRAINING_FLAGS:
            continue  # PreTrainedConfig's own fields (return_dict, ...) have no help metadata
        default = config_field.default
        default = list(default) if isinstance(default, tuple) else default
        help_text = f"{config_field.metadata['help']} Config default: {default}."
        extra = {"choices": config_field.metadata.get("choices"), **config_field.metadata.get(RANGE, {})}
        fields.append((config_field.name, _flag_type(config_field.type) | None, arg(help_text, **extra)))
    return fields


@dataclass
class ModelSourceArguments(LoadedModelArguments):
    """Where the model and tokenizer come from (and the Hub snapshot, `HubArguments`)."""

    config_name: str | None = arg(
        "Train from scratch: an encoder config (name or path, e.g. bert-base-multilingual-cased) or an ML-CTL "
        "config.json.")
    tokenizer_name: str | None = shared("tokenizer_name")

    def mlctl_overrides(self) -> dict:
        """The MLCTLConfig values given on the command line (None: not given)."""
        return {name: getattr(self, name) for name, _, _ in mlctl_flag_fields() if getattr(self, name) is not None}


#: The model arguments: the source, then one flag per ML-CTL hyper-parameter of MLCTLConfig.
ModelArguments = dataclasses.make_dataclass("ModelArguments", mlctl_flag_fields(), bases=(ModelSourceArguments,))
ModelArguments.__doc__ = ("Where the model and tokenizer come from, and one flag per MLCTLConfig hyper-parameter "
                          "(None keeps the config's value).")


@dataclass
class DataArguments:
    """Where the WPS data come from and how they are batched."""

    train_dir: str | None = arg("data_prep's output: a DatasetDict saved with save_to_disk (splits train, validation).")
    train_split: str = arg("Split to train on.", "train")
    validation_split: str | None = arg("Split to evaluate on (skipped when absent from --train_dir).", "validation")
    max_seq_length: int = shared("max_seq_length", MLCTLDataCollator.max_length, minimum=3)
    mlm_probability: float = arg("Fraction of non-special tokens selected for MLM (80/10/10 [MASK]/random/same).",
                                 MLCTLDataCollator.mlm_probability, minimum=0, maximum=1)
    truncate_to_model_length: bool = arg(
        "Cut token sequences longer than the model's position embeddings to that length (pairs whose marked word is "
        "cut off are dropped, with a count); without it such data are refused before training.", False)
    batch_sampler: str = arg(
        "How training batches are drawn: 'random' (the Trainer's default sampler) or 'no_duplicates' (never two WPS "
        "sharing a source or target sentence in one global batch, whose pairs would be false negatives; see "
        "mlctl.training.sampler).", "random", choices=["random", "no_duplicates"])
    max_train_samples: int | None = shared("max_train_samples", minimum=1)
    max_eval_samples: int | None = shared("max_eval_samples", minimum=1)
    xtreme_results: str | None = arg("results.json of run_xtreme_tasks.py to put in the model card's model-index.")

    def __post_init__(self):
        check_numbers(self)


def _ranged(name: str, **bounds):
    """transformers' `TrainingArguments` field ``name`` (its help and default) with a range (`arg`'s keys)."""
    inherited = TrainingArguments.__dataclass_fields__[name]
    return dataclasses.field(default=inherited.default, metadata={**inherited.metadata, RANGE: bounds})


@dataclass
class MLCTLTrainingArguments(TrainingArguments):
    """transformers' `TrainingArguments` (with the ranges of its numbers) plus the ML-CTL training-loop options."""

    per_device_train_batch_size: int = _ranged("per_device_train_batch_size", minimum=1)
    per_device_eval_batch_size: int = _ranged("per_device_eval_batch_size", minimum=1)
    gradient_accumulation_steps: int = _ranged("gradient_accumulation_steps", minimum=1)
    num_train_epochs: float = _ranged("num_train_epochs", minimum=0)
    max_steps: int = _ranged("max_steps", minimum=-1)
    learning_rate: float = _ranged("learning_rate", minimum=0)
    warmup_steps: float = _ranged("warmup_steps", minimum=0)
    weight_decay: float = _ranged("weight_decay", minimum=0)
    adam_beta1: float = _ranged("adam_beta1", minimum=0, below=1)
    adam_beta2: float = _ranged("adam_beta2", minimum=0, below=1)
    adam_epsilon: float = _ranged("adam_epsilon", above=0)
    max_grad_norm: float = _ranged("max_grad_norm", minimum=0)
    label_smoothing_factor: float = _ranged("label_smoothing_factor", minimum=0, maximum=1)
    logging_steps: float = _ranged("logging_steps", above=0)
    eval_steps: float | None = _ranged("eval_steps", above=0)
    save_steps: float = _ranged("save_steps", above=0)
    save_total_limit: int | None = _ranged("save_total_limit", minimum=0)
    dataloader_num_workers: int = _ranged("dataloader_num_workers", minimum=0)

    output_dir: str | None = shared("output_dir")
    seed: int = shared("seed", DEFAULT_SEED, minimum=0)
    contrastive_mini_batch_size: int | None = arg(
        "Gradient caching (GradCache): encode each batch in mini-batches of this many pairs, first without a graph "
        "to take the contrastive loss and its gradient with respect to the CCEs over the whole (gathered) batch, then "
        "again with a graph to back-propagate those gradients and the MLM loss. Same loss and gradients as the full "
        "batch, with activation memory set by the mini-batch, for about one more forward pass. Default: no caching.",
        minimum=1)

    def __post_init__(self):
        super().__post_init__()
        check_numbers(self)


def training_argument_parser() -> CommandParser:
    """The parser of `train_mlctl.py` (`mlctl-train`): `ModelArguments`, `DataArguments` and `MLCTLTrainingArguments`;
    `CommandParser.parse_command` checks every number before any work."""
    return CommandParser((ModelArguments, DataArguments, MLCTLTrainingArguments), prog="mlctl-train")
