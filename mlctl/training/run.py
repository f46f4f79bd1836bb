"""One ML-CTL pre-training job: tokenizer, model (pre-trained encoder, ML-CTL checkpoint or from scratch), data and
[`MLCTLTrainer`] assembled by `build_trainer` (what the experiments in `mlctl.experiments` train with), then resume,
save, model card and Hub push in `train`. `train_mlctl.py` is the command line over `train`."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable
from transformers import AutoConfig
from transformers import PrinterCallback
from transformers import ProgressCallback
from transformers import TrainerCallback
from transformers import TrainingArguments
from transformers import set_seed
from transformers.utils.hub import hf_api

from data_prep.output_dir import ensure_writable_directory
from data_prep.tokenizer import load_auto_fast_tokenizer
from mlctl.encoding import default_max_length
from mlctl.files import weights_problem
from mlctl.training.arguments import DataArguments
from mlctl.training.arguments import ModelSourceArguments as ModelArguments
from mlctl.training.collator import MLCTLDataCollator
from mlctl.training.data import describe_training_data
from mlctl.training.data import load_wps_splits
from mlctl.training.errors import TrainingSetupError
from mlctl.training.guards import LossExplosionWarning
from mlctl.training.guards import check_batching
from mlctl.training.guards import disk_full_as_error
from mlctl.training.guards import loss_growth_metrics
from mlctl.training.guards import resume_checkpoint
from mlctl.training.model_card import xtreme_eval_results
from mlctl.training.trainer import MLCTLTrainer
from mlctl.training.trainer import check_hub_strategy
from modeling_mlctl import MLCTLConfig
from modeling_mlctl import MLCTLForPreTraining

logger = logging.getLogger(__name__)


def load_tokenizer(model_args: ModelArguments):
    source = model_args.tokenizer_name or model_args.model_name_or_path or model_args.config_name
    if source is None:
        raise TrainingSetupError("pass --model_name_or_path (pre-trained) or --config_name with --tokenizer_name (scratch)")
    try:
        return load_auto_fast_tokenizer(source, "locating the marked words by offsets", **model_args.pretrained_kwargs())
    except ValueError as error:
        raise TrainingSetupError(str(error)) from None


def build_model(model_args: ModelArguments, tokenizer) -> MLCTLForPreTraining:
    """From a pre-trained encoder (`from_backbone_pretrained`), an ML-CTL checkpoint, or from scratch (`config_name`)."""
    overrides = model_args.mlctl_overrides()
    source = model_args.model_name_or_path or model_args.config_name
    problem = weights_problem(model_args.model_name_or_path) if model_args.model_name_or_path else None
    if problem:
        raise TrainingSetupError(problem)
    hub = model_args.pretrained_kwargs()
    try:
        config = AutoConfig.from_pretrained(source, **hub)
        is_mlctl = config.model_type == MLCTLConfig.model_type
        if model_args.model_name_or_path and is_mlctl:
            model = MLCTLForPreTraining.from_pretrained(source, **hub, **overrides)
        elif model_args.model_name_or_path:
            model = MLCTLForPreTraining.from_backbone_pretrained(source, loading_kwargs=hub, **overrides)
        elif is_mlctl:
            model = MLCTLForPreTraining(MLCTLConfig(**{**config.to_dict(), **overrides}))
        else:
            model = MLCTLForPreTraining(MLCTLConfig(encoder_config=config, **overrides))
    except (OSError, ValueError) as error:
        raise TrainingSetupError(f"{source}: cannot build the model: {str(error).splitlines()[0]}") from None
    if len(tokenizer) > model.config.vocab_size:
        raise TrainingSetupError(
            f"{source}: the tokenizer has {len(tokenizer)} tokens but the model's vocabulary only {model.config.vocab_size}")
    return model


def is_hub_connection_error(error: Exception) -> bool:
    """Whether `error` is how huggingface_hub fails to reach the Hub: an `OSError` (offline mode, HTTP errors, no
    token) or a transport error of its HTTP client (httpx, or httpx2 in huggingface_hub 2, e.g. a refused
    connection), which is not an `OSError`."""
    return isinstance(error, OSError) or type(error).__module__.split(".")[0] in ("httpx", "httpx2")


def check_input_paths(data_args: DataArguments, training_args: TrainingArguments) -> None:
    """Every input path of the run, checked before any model or data is loaded (`TrainingSetupError`, one line):
    `--train_dir` a directory, `--xtreme_results` a results.json that the model card can read (read now, not when
    the card is written after training), `--resume_from_checkpoint` a complete checkpoint."""
    if data_args.train_dir and not Path(data_args.train_dir).is_dir():
        raise TrainingSetupError(f"--train_dir {data_args.train_dir}: no such directory")
    xtreme_eval_results(data_args.xtreme_results)
    if training_args.resume_from_checkpoint:
        resume_checkpoint(training_args)


def build_trainer(model_args: ModelArguments, data_args: DataArguments, training_args: TrainingArguments,
                  callbacks: Iterable[TrainerCallback] = (), progress: TrainerCallback | None = None) -> MLCTLTrainer:
    """The one assembly of an ML-CTL training job, checked and ready to train: tokenizer, seeded model, WPS splits
    (validation on the trainer's `eval_dataset`, None without one), collator and [`MLCTLTrainer`] with the model-card
    details. `progress` replaces the Trainer's progress bar and printed logs (the demo's single bar).

    Bad input (an unwritable `--output_dir`, a missing input path, data that do not fit the tokenizer, the model or
    the batch size) raises `TrainingSetupError` here, before training."""
    launched_processes = int(os.environ.get("WORLD_SIZE", "1"))
    if launched_processes > 1 and training_args.world_size == 1:
        raise TrainingSetupError(
            f"{launched_processes} processes were launched but train as independent jobs; without a GPU pass "
            "--use_cpu true so that they join one gloo process group")
    try:
        ensure_writable_directory(training_args.output_dir)
    except ValueError as error:
        raise TrainingSetupError(f"--output_dir {error}") from None
    try:
        check_hub_strategy(training_args)
    except ValueError as error:
        raise TrainingSetupError(str(error)) from None
    check_input_paths(data_args, training_args)
    set_seed(training_args.seed)
    tokenizer = load_tokenizer(model_args)
    model = build_model(model_args, tokenizer)
    train_split, validation_split = load_wps_splits(data_args, tokenizer, default_max_length(model))
    train_split, validation_split = check_batching(training_args, train_split, validation_split,
                                                   model.config.gather_negatives, data_args.batch_sampler)
    if validation_split is None and (training_args.eval_strategy != "no" or training_args.load_best_model_at_end):
        raise TrainingSetupError(
            f"--eval_strategy {training_args.eval_strategy.value} needs validation pairs but {data_args.train_dir} "
            f"has none in {data_args.validation_split!r}: pass --eval_strategy no")
    training_data, languages = describe_training_data(data_args, train_split, validation_split)
    collator = MLCTLDataCollator(
        tokenizer,
        mlm_probability=data_args.mlm_probability if model.config.mlm_weight > 0 else 0.0,
        max_length=data_args.max_seq_length,
        seed=training_args.seed,
    )
    base_model = model_args.model_name_or_path
    try:
        trainer = MLCTLTrainer(
            model=model, args=training_args, train_dataset=train_split, eval_dataset=validation_split,
            data_collator=collator, processing_class=tokenizer, callbacks=[*callbacks, LossExplosionWarning()],
            batch_sampler=data_args.batch_sampler,
            card_details=dict(
                base_model=base_model if base_model and not Path(base_model).is_dir() else None,
                base_model_commit=model_args.resolved_commit(base_model or model_args.config_name),
                tokenizer_commit=model_args.resolved_commit(
                    model_args.tokenizer_name or base_model or model_args.config_name, "tokenizer_config.json"),
                training_data=training_data,
                languages=languages,
                xtreme_results=data_args.xtreme_results,
            ),
        )
    except Exception as error:  # --push_to_hub: the Trainer creates the Hub repository here
        if not (training_args.push_to_hub and is_hub_connection_error(error)):
            raise
        raise TrainingSetupError(f"--push_to_hub: cannot create the repository on the Hub ({hf_api().endpoint}): "
                                 f"{str(error).splitlines()[0]}") from None
    if progress is not None:
        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(progress)
    return trainer


def train(model_args: ModelArguments, data_args: DataArguments, training_args: TrainingArguments,
          callbacks: Iterable[TrainerCallback] = (), progress: TrainerCallback | None = None) -> dict:
    """Runs one ML-CTL training job ([`build_trainer`]) and returns {"output_dir", "train": metrics, "eval":
    metrics}. `progress` replaces the Trainer's progress bar and printed logs (the demo's single bar).

    Resumes from `--resume_from_checkpoint` or else from the last complete checkpoint in `--output_dir`; saves the
    model, tokenizer and model card in `--output_dir`; pushes them with `--push_to_hub`. Bad input (a Hub that
    cannot be reached with `--push_to_hub` included) raises `TrainingSetupError` before training; a non-finite loss
    or gradient raises `TrainingDivergedError` with nothing saved from it; a full disk during a save raises
    `DiskFullError`. The train metrics include `loss_growth_metrics` (`loss_exploded`: the loss went over 10 times
    its first logged value, also warned about when it happens)."""
    trainer = build_trainer(model_args, data_args, training_args, callbacks, progress)
    checkpoint = resume_checkpoint(training_args)
    if checkpoint is not None:
        logger.info("resuming from %s", checkpoint)
    with disk_full_as_error(training_args):
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        trainer.save_model()  # saved now (the MLCTLTrainer's save never pushes); pushed once, at the end, with the card
    train_result.metrics.update(loss_growth_metrics(trainer.state.log_history))
    if progress is None:
        trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    trainer.save_state()
    eval_metrics = {}
    if trainer.eval_dataset is not None:
        eval_metrics = trainer.evaluate()
        if progress is None:
            trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
    if training_args.push_to_hub:
        trainer.push_to_hub(commit_message="ML-CTL pre-training")
    else:
        trainer.create_model_card()
    return {"output_dir": training_args.output_dir, "train": train_result.metrics, "eval": eval_metrics}
