"""One run of an experiment (an arm trained with `mlctl.training.run.build_trainer` for one regime and seed, then
scored with `mlctl.evaluation.run_xtreme` and word retrieval) and the runner that runs them in parallel.

Each (regime, arm, seed) runs in its own process (`concurrent.futures`, spawned, one torch thread, its log in its
run folder) and writes ``result.json`` there; a run whose ``result.json`` exists is not redone."""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable
from unittest import mock

import numpy as np

from mlctl.experiments.settings import MULTI30K_TARGETS, POS_TARGET, TATOEBA_TARGETS, Arm, ExperimentError, Settings
from mlctl.files import write_json_atomic

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: The environment of the run processes (set in this one while they start): one thread each (the runs themselves are
#: the parallelism).
RUN_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}

# ---------------------------------------------------------------------------------------------- training


def train_arm(arm: Arm, regime: str, seed: int, shared: dict, settings: Settings, model_dir: Path,
              start_from: str | None = None, learning_rate: float | None = None) -> dict:
    """Trains one arm with the library's training assembly (`build_trainer`), from scratch or (`start_from`, a
    pre-trained encoder) continuing it, at `learning_rate` (default the settings'); saves model + tokenizer in
    `model_dir`, on the GPU when there is one. Returns the last logged training values and the training wall
    time."""
    from mlctl.search import default_device
    from mlctl.training import DataArguments, MLCTLTrainingArguments, ModelArguments
    from mlctl.training.model_card import final_losses
    from mlctl.training.run import build_trainer

    model_args = ModelArguments(model_name_or_path=start_from,
                                config_name=None if start_from else shared["encoder_config"],
                                tokenizer_name=shared["tokenizer"], levels=arm.levels, loss=arm.loss,
                                mlm_weight=settings.mlm_weight, contrastive_weight=arm.contrastive_weight,
                                sentence_weight=arm.sentence_weight)
    data_args = DataArguments(train_dir=shared["wps"], max_seq_length=settings.max_length, validation_split=None,
                              batch_sampler=arm.batch_sampler)
    low_resource = regime == "low-resource"
    training_args = MLCTLTrainingArguments(
        output_dir=str(model_dir), max_steps=settings.steps,
        per_device_train_batch_size=settings.low_resource_batch_size if low_resource else settings.batch_size,
        learning_rate=learning_rate or settings.learning_rate, warmup_steps=settings.steps // 10,
        logging_steps=max(settings.steps // 10, 1), save_strategy="no", eval_strategy="no", report_to="none",
        seed=seed, bf16=low_resource, use_cpu=default_device() == "cpu", disable_tqdm=True, dataloader_pin_memory=False,
    )
    trainer = build_trainer(model_args, data_args, training_args)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    trainer.save_model()
    return {**final_losses(trainer.state.log_history), "train_seconds": round(seconds, 1)}


# -------------------------------------------------------------------------------------------- evaluation


def held_out_by_language(wps_dir: str):
    """(target language, its held-out (validation) WPS) for each of `MULTI30K_TARGETS`."""
    import datasets

    validation = datasets.load_from_disk(wps_dir)["validation"]
    for lang in MULTI30K_TARGETS:
        yield lang, validation.filter(lambda tgt: tgt == lang, input_columns="tgt_lang")


def word_level_scores(model_dir: Path, wps_dir: str, per_language: int, max_length: int, sentence_level_cce: bool,
                      plain_encoder: bool = False) -> dict:
    """Word retrieval on the held-out (validation) WPS, per target language: for each aligned pair, does the target
    word (in its sentence) retrieve its English word among the `per_language` held-out English words? Scored on
    the word vectors (`encode_words` pooling `cce_word`: avg-first-last mean over the word's sub-words) and on the
    CCE (`cce`); the CCE score is None when the CCE does not see the word (`sentence_level_cce`). A
    `plain_encoder` (no CCE) gets the same word vectors computed from its layers (pooling `avg_first_last`); its CCE
    score is None."""
    from mlctl.encoding import encode_words, load_encoder
    from mlctl.search import retrieval_accuracy
    from mlctl.training.trainer import RETRIEVAL_TIE_TOLERANCE

    model, tokenizer = load_encoder(str(model_dir))
    scores = {}
    for lang, rows in held_out_by_language(wps_dir):
        rows = rows.select(range(min(per_language, len(rows))))

        def score(pooling: str) -> float:
            src, tgt = (encode_words(model, tokenizer, rows[f"{side}_text"],
                                     list(zip(rows[f"{side}_char_start"], rows[f"{side}_char_end"])),
                                     pooling=pooling, max_length=max_length, batch_size=128, show_progress=False)
                        for side in ("src", "tgt"))
            return 100.0 * retrieval_accuracy(tgt, src, RETRIEVAL_TIE_TOLERANCE)[0]

        scores[lang] = {"word": score("avg_first_last" if plain_encoder else "cce_word"),
                        "word_cce": None if sentence_level_cce or plain_encoder else score("cce"),
                        "n_pairs": len(rows)}
    return scores


def xtreme(arguments: dict, settings: dict | None = None) -> dict:
    """One XTREME evaluation (`mlctl.evaluation.run_xtreme`, what run_xtreme_tasks.py runs); a task without results
    is an error (the ablation needs every number)."""
    from mlctl.evaluation import FineTuningSettings, XtremeArguments, run_xtreme

    results = run_xtreme(XtremeArguments(**arguments), FineTuningSettings(**(settings or {})))
    for task, entry in results["tasks"].items():
        if entry["errors"] or entry["missing"] or not entry["languages"]:
            raise ExperimentError(f"run_xtreme {arguments}: {task}: "
                                  f"{(entry['errors'] + entry['missing'] + ['no result'])[0]}")
    return results


def pos_fine_tuning(common: dict, pos_dir: Path, data_dir: Path, output_dir: Path, steps: int, learning_rate: float,
                    max_seq_length: int, seed: int) -> dict:
    """POS en → de as the ablation scores it (run_xtreme's udpos): fine-tuned for `steps` on the English train part of
    `pos_dir` (`split_conllu`), checkpoint kept on its dev part, tested on German; `common` holds the run_xtreme
    arguments shared with the run's other evaluations (the model among them)."""
    return xtreme({**common, "tasks": "udpos", "languages": POS_TARGET, "data_dir": str(data_dir),
                   "data_file": [f"udpos:train:en={pos_dir / 'en-train.conllu'}",
                                 f"udpos:dev:en={pos_dir / 'en-dev.conllu'}"],
                   "output_dir": str(output_dir)},
                  {"max_steps": steps, "learning_rate": learning_rate, "max_seq_length": max_seq_length, "seed": seed})


def evaluate_run(model_dir: Path, run_dir: Path, shared: dict, data_dir: Path, settings: Settings, seed: int,
                 sentence_level_cce: bool, layer: int | None = None, plain_encoder: bool = False) -> dict:
    """Every metric of one trained model: three XTREME evaluations (retrieval at hidden_states[`layer`], default
    run_xtreme's) and the word-level score."""
    common = {"model_name_or_path": str(model_dir), "no_hub": True, "retrieval_max_length": 2 * settings.max_length,
              "layer": layer}
    multi30k = xtreme({**common, "tasks": "tatoeba", "languages": ",".join(MULTI30K_TARGETS),
                       "data_dir": shared["multi30k_test"], "output_dir": str(run_dir / "xtreme_multi30k")})
    tatoeba = xtreme({**common, "tasks": "tatoeba", "languages": ",".join(TATOEBA_TARGETS),
                      "data_dir": str(data_dir), "output_dir": str(run_dir / "xtreme_tatoeba")})
    pos = pos_fine_tuning(common, Path(shared["pos"]), data_dir, run_dir / "xtreme_udpos", settings.pos_steps,
                          settings.pos_learning_rate, 2 * settings.max_length, seed)
    words = word_level_scores(model_dir, shared["wps"], settings.word_pairs_per_language, settings.max_length,
                              sentence_level_cce, plain_encoder)
    retrieval = {"multi30k": multi30k["tasks"]["tatoeba"]["languages"],
                 "tatoeba": tatoeba["tasks"]["tatoeba"]["languages"]}
    per_language = {
        "multi30k": {lang: v["accuracy"] for lang, v in retrieval["multi30k"].items()},
        "tatoeba": {lang: v["accuracy"] for lang, v in retrieval["tatoeba"].items()},
        "multi30k_xx2en": {lang: v["accuracy_xx_to_en"] for lang, v in retrieval["multi30k"].items()},
        "tatoeba_xx2en": {lang: v["accuracy_xx_to_en"] for lang, v in retrieval["tatoeba"].items()},
        "pos_f1": {lang: v["f1"] for lang, v in pos["tasks"]["udpos"]["languages"].items()},
        "word": {lang: v["word"] for lang, v in words.items()},
        "word_cce": {lang: v["word_cce"] for lang, v in words.items()},
    }
    metrics = {name: (float(np.mean(list(values.values()))) if None not in values.values() else None)
               for name, values in per_language.items()}
    return {"metrics": metrics, "per_language": per_language, "pos_dev_en": pos["tasks"]["udpos"].get("dev_en", {}),
            "word_pairs": {lang: v["n_pairs"] for lang, v in words.items()}}


def run_directory(work_dir: Path, regime: str, arm_name: str, seed: int) -> Path:
    """The folder of one run: its model, evaluation outputs, log.txt and result.json."""
    return work_dir / "runs" / regime / arm_name.replace(" ", "_") / f"seed{seed}"


def write_result(run_dir: Path, result: dict, started: float) -> dict:
    """`result` with the run's wall time since `started`, written as the run's result.json (atomically: `run_all`
    takes a run with a result.json as done, so a killed write must not leave half of one)."""
    result = {**result, "wall_seconds": round(time.perf_counter() - started, 1)}
    write_json_atomic(run_dir / "result.json", result)
    return result


# ------------------------------------------------------------------------------------------------ runner

#: A run: (regime, arm, seed, work_dir, data_dir, settings) -> its result, written to its result.json.
RunFunction = Callable[[str, str, int, Path, Path, Settings], dict]


def run_in_process(run_function: RunFunction, run: tuple[str, str, int], work_dir: Path, data_dir: Path,
                   settings: Settings) -> None:
    """One run in a pool process of its own: one torch thread, the process's output (Python's and the native
    libraries') and INFO logs into the run folder's log.txt, a failure's traceback too."""
    import torch

    torch.set_num_threads(1)
    run_dir = run_directory(work_dir, *run)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "log.txt", "w", encoding="utf-8") as log:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log.fileno(), sys.stdout.fileno())
        os.dup2(log.fileno(), sys.stderr.fileno())
        logging.basicConfig(format=LOG_FORMAT, level=logging.INFO)
        try:
            run_function(*run, work_dir, data_dir, settings)
        except BaseException:
            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()


def run_all(run_function: RunFunction, runs: list[tuple[str, str, int]], work_dir: Path, data_dir: Path,
            settings: Settings, jobs: int, partial: bool = False) -> list[dict]:
    """Runs every (regime, arm, seed) of `runs` without a result.json with `run_function`, `jobs` at a time, each in
    a fresh spawned process (`run_in_process`); with `partial` none is started and only the finished ones are
    reported. Returns the results of the finished runs, in the order of `runs`. A failed run cancels the runs not
    yet started (those in flight finish and keep their results) and raises `ExperimentError` naming its log."""
    def done(run) -> bool:
        return (run_directory(work_dir, *run) / "result.json").is_file()

    pending = [run for run in runs if not done(run)]
    if partial:
        logger.info("--partial: %d of %d runs have finished; reporting those", len(runs) - len(pending), len(runs))
        runs, pending = [run for run in runs if done(run)], []
    logger.info("%d runs planned, %d already done", len(runs), len(runs) - len(pending))
    if pending:
        context = multiprocessing.get_context("spawn")
        with mock.patch.dict(os.environ, RUN_ENVIRONMENT), \
                ProcessPoolExecutor(min(jobs, len(pending)), mp_context=context, max_tasks_per_child=1) as pool:
            futures = {pool.submit(run_in_process, run_function, run, work_dir, data_dir, settings): run
                       for run in pending}
            for finished, future in enumerate(as_completed(futures), start=len(runs) - len(pending) + 1):
                run = futures[future]
                try:
                    future.result()
                except Exception as error:
                    pool.shutdown(wait=True, cancel_futures=True)
                    log = run_directory(work_dir, *run) / "log.txt"
                    raise ExperimentError(f"run {run} failed ({type(error).__name__}: {error}); log: {log}") from None
                logger.info("run %d of %d done: %s", finished, len(runs), run)
    return [json.loads((run_directory(work_dir, *run) / "result.json").read_text(encoding="utf-8")) for run in runs]

