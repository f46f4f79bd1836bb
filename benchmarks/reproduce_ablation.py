#!/usr/bin/env python
"""The ML-CTL paper's ablation (Table 1) in miniature, on real parallel data, in one command.

    .venv/bin/python benchmarks/reproduce_ablation.py            # the full run (≈ 40 min on 2 CPU cores)
    .venv/bin/python benchmarks/reproduce_ablation.py --quick    # the same pipeline, tiny (≈ 5 min)

What it does, all from ``../shared/data`` (read, never copied into the repository):

1. Data (cached in ``--work-dir``): the first N lines of Multi30k train en–de, en–fr, en–cs; a cased WordPiece
   tokenizer trained on them; word positioned samples (WPS) built by ``data_prep`` with eflomal alignments
   (a share of the sentence pairs held out as the ``validation`` split).
2. Arms (:data:`ARMS`), each trained from scratch with the same small BERT, data, masking, steps, batch and
   learning rate, for every seed: MLM only; info-snt; CZ-snt; ML-CTL-info; ML-CTL-CZ (all + MLM). The
   *standard* regime uses a large batch in float32; the *low-resource* regime (the one the paper motivates CZ-NCE
   with) a small batch under ``torch.autocast("cpu", bfloat16)`` (``TrainingArguments(bf16=True)``).
3. Evaluation through ``mlctl.evaluation.run_xtreme`` (what ``run_xtreme_tasks.py`` runs): retrieval accuracy (xx → en) on Multi30k ``test_2016_flickr``
   (de, fr, cs; in-domain, written in Tatoeba layout), Tatoeba deu/fra → eng (out of domain), zero-shot POS en → de
   (UD English-EWT dev split 80/20 into train/dev, tested on UD German-GSD test); plus a word-level score
   (:func:`word_retrieval_accuracy`): for the aligned word pairs of held-out sentence pairs, how often a target
   word retrieves its English translation among all held-out English words.
4. Output: ``ablation.md`` (mean ± std per arm and metric, Table 1 ablation layout, the command, the commit and
   the wall time), ``ablation.json`` (every run's numbers) and ``ablation.png`` in ``--results-dir``.

Resumable: each (regime, arm, seed) runs in its own process and writes ``result.json`` in its run folder; a run
whose ``result.json`` exists is not redone. Everything is seeded (data_prep seed 0, one seed per run).
"""
from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

logger = logging.getLogger("reproduce_ablation")

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
#: Multi30k languages paired with English, and the names of their Tatoeba-layout files.
MULTI30K_TARGETS = ("de", "fr", "cs")
TATOEBA_TARGETS = ("de", "fr")
POS_TARGET = "de"
#: Share of UD English-EWT dev sentences used to fine-tune POS; the rest selects the checkpoint.
POS_TRAIN_SHARE = 0.8


from ablation_report import ARMS  # noqa: E402
from ablation_report import ARMS_BY_NAME  # noqa: E402
from ablation_report import Arm  # noqa: E402
from ablation_report import git_commit  # noqa: E402
from ablation_report import write_results  # noqa: E402


@dataclass(frozen=True)
class Settings:
    """Everything that sizes a run; identical for every arm of a regime."""

    pairs_per_language: int
    validation_fraction: float
    vocab_size: int
    max_length: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    steps: int
    batch_size: int
    low_resource_batch_size: int
    learning_rate: float
    mlm_weight: float
    seeds: tuple[int, ...]
    low_resource_arms: tuple[str, ...]
    pos_steps: int
    pos_learning_rate: float
    word_pairs_per_language: int


FULL = Settings(
    pairs_per_language=10_000, validation_fraction=0.05, vocab_size=8000, max_length=64, hidden_size=128,
    num_layers=4, num_heads=4, intermediate_size=512, steps=300, batch_size=64, low_resource_batch_size=8,
    learning_rate=5e-4, mlm_weight=0.1, seeds=(1, 2, 3),
    low_resource_arms=("info-snt", "CZ-snt", "ML-CTL-info", "ML-CTL-CZ"),
    pos_steps=80, pos_learning_rate=1e-3, word_pairs_per_language=1000,
)
QUICK = replace(
    FULL, pairs_per_language=2000, vocab_size=4000, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128,
    steps=60, batch_size=32, seeds=(1, 2), low_resource_arms=("ML-CTL-CZ",), pos_steps=30,
    word_pairs_per_language=300,
)


#: The settings the cached shared data (corpus, tokenizer, encoder config, WPS) depend on.
SHARED_DATA_FIELDS = ("pairs_per_language", "validation_fraction", "vocab_size", "max_length", "hidden_size",
                      "num_layers", "num_heads", "intermediate_size")


def shared_data_settings(settings: Settings) -> dict:
    return {name: getattr(settings, name) for name in SHARED_DATA_FIELDS}


class AblationError(Exception):
    """A problem that stops the run (one line: the file and what is wrong)."""


# ------------------------------------------------------------------------------------------- shared data


def read_gz_lines(path: Path, limit: int) -> list[str]:
    """The first `limit` lines of a gzip text file, without line ends."""
    if not path.is_file():
        raise AblationError(f"{path}: not found (the shared Multi30k data is needed)")
    lines = []
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        for line in stream:
            if len(lines) == limit:
                break
            lines.append(line.rstrip("\n"))
    return lines


def split_conllu(source: Path, train_path: Path, dev_path: Path, train_share: float) -> tuple[int, int]:
    """Writes the first `train_share` of the sentences of a CoNLL-U file to `train_path`, the rest to `dev_path`;
    returns the two sentence counts."""
    if not source.is_file():
        raise AblationError(f"{source}: not found (the shared UD data is needed)")
    blocks = [block for block in source.read_text(encoding="utf-8").split("\n\n") if block.strip()]
    cut = int(len(blocks) * train_share)
    train_path.write_text("\n\n".join(blocks[:cut]) + "\n\n", encoding="utf-8")
    dev_path.write_text("\n\n".join(blocks[cut:]) + "\n\n", encoding="utf-8")
    return cut, len(blocks) - cut


def prepare_shared(data_dir: Path, work_dir: Path, settings: Settings) -> dict:
    """Builds (once; cached in `work_dir`) what every run shares: corpus subset, tokenizer, encoder config, WPS,
    the Multi30k test set in Tatoeba layout and the POS train/dev split. Returns {name: path} and the data report."""
    from transformers import AutoConfig

    from data_prep import DataPrepError
    from data_prep import PairSpec
    from data_prep import build_wps_dataset
    from data_prep.tokenizer import train_wordpiece_tokenizer
    from mlctl.evaluation.tasks import TATOEBA_LANG3

    multi30k = data_dir / "multi30k"
    paths = {name: work_dir / name for name in ("corpus", "tokenizer", "encoder_config", "wps", "multi30k_test", "pos")}
    done = work_dir / "shared_ready.json"
    if done.is_file():
        summary = json.loads(done.read_text(encoding="utf-8"))
        if summary["settings"] != shared_data_settings(settings):
            raise AblationError(f"{done}: built with other settings than this mode's; remove {work_dir} to rebuild")
        return {**{name: str(path) for name, path in paths.items()}, **summary}
    started = time.perf_counter()
    paths["corpus"].mkdir(parents=True, exist_ok=True)
    texts = {lang: read_gz_lines(multi30k / f"train.{lang}.gz", settings.pairs_per_language)
             for lang in ("en",) + MULTI30K_TARGETS}
    for lang, lines in texts.items():
        (paths["corpus"] / f"train.{lang}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tokenizer = train_wordpiece_tokenizer((line for lines in texts.values() for line in lines), settings.vocab_size,
                                          model_max_length=2 * settings.max_length)
    tokenizer.save_pretrained(paths["tokenizer"])
    AutoConfig.for_model(
        model_type="bert", vocab_size=len(tokenizer), hidden_size=settings.hidden_size,
        num_hidden_layers=settings.num_layers, num_attention_heads=settings.num_heads,
        intermediate_size=settings.intermediate_size, max_position_embeddings=2 * settings.max_length,
        pad_token_id=tokenizer.pad_token_id,
    ).save_pretrained(paths["encoder_config"])
    specs = [PairSpec("en", lang, str(paths["corpus"] / "train.en"), str(paths["corpus"] / f"train.{lang}"))
             for lang in MULTI30K_TARGETS]
    try:
        build_wps_dataset(specs, paths["wps"], tokenizer=tokenizer, max_length=settings.max_length,
                          validation_fraction=settings.validation_fraction, seed=0, num_proc=2)
    except DataPrepError as error:
        raise AblationError(f"data_prep: {error}") from None
    tatoeba_dir = paths["multi30k_test"] / "tatoeba"
    tatoeba_dir.mkdir(parents=True, exist_ok=True)
    english = read_gz_lines(multi30k / "test_2016_flickr.en.gz", 10**9)
    for lang in MULTI30K_TARGETS:
        code = TATOEBA_LANG3.get(lang, lang)
        target = read_gz_lines(multi30k / f"test_2016_flickr.{lang}.gz", 10**9)
        if len(target) != len(english):
            raise AblationError(f"{multi30k}/test_2016_flickr.{lang}.gz: {len(target)} lines but English has {len(english)}")
        (tatoeba_dir / f"tatoeba.{code}-eng.{code}").write_text("\n".join(target) + "\n", encoding="utf-8")
        (tatoeba_dir / f"tatoeba.{code}-eng.eng").write_text("\n".join(english) + "\n", encoding="utf-8")
    paths["pos"].mkdir(parents=True, exist_ok=True)
    pos_train, pos_dev = split_conllu(data_dir / "udpos" / "en_ewt-ud-dev.conllu", paths["pos"] / "en-train.conllu",
                                      paths["pos"] / "en-dev.conllu", POS_TRAIN_SHARE)
    report = json.loads((paths["wps"] / "data_prep_report.json").read_text(encoding="utf-8"))
    summary = {
        "wps_train": report["totals"]["wps_per_split"]["train"],
        "wps_validation": report["totals"]["wps_per_split"]["validation"],
        "sentence_pairs": report["totals"]["pairs_read"],
        "vocab_size": len(tokenizer),
        "pos_sentences": {"train": pos_train, "dev": pos_dev},
        "multi30k_test_pairs": len(english),
        "seconds": round(time.perf_counter() - started, 1),
        "settings": shared_data_settings(settings),
    }
    done.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return {**{name: str(path) for name, path in paths.items()}, **summary}


# ---------------------------------------------------------------------------------------------- training


def train_arm(arm: Arm, regime: str, seed: int, shared: dict, settings: Settings, model_dir: Path,
              start_from: str | None = None, learning_rate: float | None = None) -> dict:
    """Trains one arm with mlctl.training, from scratch or (`start_from`, a pre-trained encoder) continuing it, at
    `learning_rate` (default the settings'); saves model + tokenizer in `model_dir`. Returns the last logged
    training values and the training wall time."""
    from transformers import TrainingArguments
    from transformers import set_seed

    from mlctl.training import DataArguments
    from mlctl.training import MLCTLDataCollator
    from mlctl.training import MLCTLTrainer
    from mlctl.training import ModelArguments
    from mlctl.training import build_model
    from mlctl.training import load_tokenizer
    from mlctl.training.data import load_wps_splits
    from mlctl.training.model_card import final_losses

    set_seed(seed)
    model_args = ModelArguments(model_name_or_path=start_from,
                                config_name=None if start_from else shared["encoder_config"],
                                tokenizer_name=shared["tokenizer"], levels=arm.levels, loss=arm.loss,
                                mlm_weight=settings.mlm_weight, contrastive_weight=arm.contrastive_weight,
                                sentence_weight=arm.sentence_weight)
    data_args = DataArguments(train_dir=shared["wps"], max_seq_length=settings.max_length, validation_split=None)
    tokenizer = load_tokenizer(model_args)
    model = build_model(model_args, tokenizer)
    train_split, _ = load_wps_splits(data_args, tokenizer)
    low_resource = regime == "low-resource"
    arguments = TrainingArguments(
        output_dir=str(model_dir), max_steps=settings.steps,
        per_device_train_batch_size=settings.low_resource_batch_size if low_resource else settings.batch_size,
        learning_rate=learning_rate or settings.learning_rate, warmup_steps=settings.steps // 10, logging_steps=max(settings.steps // 10, 1),
        save_strategy="no", eval_strategy="no", report_to="none", seed=seed, bf16=low_resource, use_cpu=True,
        disable_tqdm=True, dataloader_pin_memory=False,
    )
    trainer = MLCTLTrainer(model=model, args=arguments, train_dataset=train_split,
                            data_collator=MLCTLDataCollator(tokenizer, max_length=settings.max_length, seed=seed),
                            processing_class=tokenizer, batch_sampler=arm.batch_sampler)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    trainer.save_model()
    return {**final_losses(trainer.state.log_history), "train_seconds": round(seconds, 1)}


# -------------------------------------------------------------------------------------------- evaluation


def word_level_scores(model_dir: Path, wps_dir: str, per_language: int, max_length: int, sentence_level_cce: bool,
                      plain_encoder: bool = False) -> dict:
    """Word retrieval on the held-out (validation) WPS, per target language: for each aligned pair, does the target
    word (in its sentence) retrieve its English word among the `per_language` held-out English words? Scored on
    the word vectors (`encode_words` pooling `cce_word`: avg-first-last mean over the word's sub-words) and on the
    CCE (`cce`); the CCE score is None when the CCE does not see the word (`sentence_level_cce`). A
    `plain_encoder` (no CCE) gets the same word vectors computed from its layers: the average of the word's
    sub-word means in hidden_states[1] and hidden_states[-1]; its CCE score is None."""
    import datasets

    from mlctl.encoding import encode_words
    from mlctl.encoding import load_encoder
    from mlctl.evaluation.retrieval import retrieval_accuracy
    from mlctl.training.trainer import RETRIEVAL_TIE_TOLERANCE

    model, tokenizer = load_encoder(str(model_dir), device="cpu")
    validation = datasets.load_from_disk(wps_dir)["validation"]
    scores = {}
    for lang in MULTI30K_TARGETS:
        rows = validation.filter(lambda tgt: tgt == lang, input_columns="tgt_lang")
        rows = rows.select(range(min(per_language, len(rows))))

        def encode(side: str, pooling: str):
            spans = list(zip(rows[f"{side}_char_start"], rows[f"{side}_char_end"]))
            if plain_encoder:
                return sum(encode_words(model, tokenizer, rows[f"{side}_text"], spans, pooling="mean", layer=layer,
                                        max_length=max_length, batch_size=128, show_progress=False)
                           for layer in (1, -1)) / 2
            return encode_words(model, tokenizer, rows[f"{side}_text"], spans, pooling=pooling, max_length=max_length,
                                batch_size=128, show_progress=False)

        def score(pooling: str) -> float:
            return 100.0 * retrieval_accuracy(encode("tgt", pooling), encode("src", pooling), RETRIEVAL_TIE_TOLERANCE)[0]

        scores[lang] = {"word": score("cce_word"), "word_cce": None if sentence_level_cce or plain_encoder else score("cce"),
                        "n_pairs": len(rows)}
    return scores


def xtreme(arguments: dict, settings: dict | None = None) -> dict:
    """One XTREME evaluation (`mlctl.evaluation.run_xtreme`, what run_xtreme_tasks.py runs); a task without results
    is an error (the ablation needs every number)."""
    from mlctl.evaluation import FineTuningSettings
    from mlctl.evaluation import XtremeArguments
    from mlctl.evaluation import run_xtreme

    results = run_xtreme(XtremeArguments(**arguments), FineTuningSettings(**(settings or {})))
    for task, entry in results["tasks"].items():
        if entry["errors"] or entry["missing"] or not entry["languages"]:
            raise AblationError(f"run_xtreme {arguments}: {task}: "
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
    per_language = {
        "multi30k": {lang: v["accuracy"] for lang, v in multi30k["tasks"]["tatoeba"]["languages"].items()},
        "tatoeba": {lang: v["accuracy"] for lang, v in tatoeba["tasks"]["tatoeba"]["languages"].items()},
        "multi30k_xx2en": {lang: v["accuracy_xx_to_en"] for lang, v in multi30k["tasks"]["tatoeba"]["languages"].items()},
        "tatoeba_xx2en": {lang: v["accuracy_xx_to_en"] for lang, v in tatoeba["tasks"]["tatoeba"]["languages"].items()},
        "pos_f1": {lang: v["f1"] for lang, v in pos["tasks"]["udpos"]["languages"].items()},
        "word": {lang: v["word"] for lang, v in words.items()},
        "word_cce": {lang: v["word_cce"] for lang, v in words.items()},
    }
    metrics = {name: (float(np.mean(list(values.values()))) if None not in values.values() else None)
               for name, values in per_language.items()}
    return {"metrics": metrics, "per_language": per_language, "pos_dev_en": pos["tasks"]["udpos"].get("dev_en", {}),
            "word_pairs": {lang: v["n_pairs"] for lang, v in words.items()}}


def run_one(regime: str, arm_name: str, seed: int, work_dir: Path, data_dir: Path, settings: Settings) -> dict:
    """Trains and evaluates one (regime, arm, seed); writes and returns its result.json."""
    arm = ARMS_BY_NAME[arm_name]
    shared = prepare_shared(data_dir, work_dir, settings)
    run_dir = run_directory(work_dir, regime, arm_name, seed)
    started = time.perf_counter()
    training = train_arm(arm, regime, seed, shared, settings, run_dir / "model")
    evaluation = evaluate_run(run_dir / "model", run_dir, shared, data_dir, settings, seed,
                              sentence_level_cce=arm.levels == "sentence" or arm.contrastive_weight == 0)
    result = {"regime": regime, "arm": arm_name, "seed": seed, "training": training, **evaluation,
              "wall_seconds": round(time.perf_counter() - started, 1)}
    (run_dir / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def run_directory(work_dir: Path, regime: str, arm_name: str, seed: int) -> Path:
    return work_dir / "runs" / regime / arm_name.replace(" ", "_") / f"seed{seed}"


def planned_runs(settings: Settings, arms=ARMS) -> list[tuple[str, str, int]]:
    """(regime, arm, seed) of every run, seed-major so that a cut-short run still has every arm."""
    runs = []
    for seed in settings.seeds:
        runs += [("standard", arm.name, seed) for arm in arms]
        runs += [("low-resource", name, seed) for name in settings.low_resource_arms]
    return runs


# ---------------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings (≈ 5 min): checks the pipeline end to end")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder (multi30k, tatoeba, udpos)")
    parser.add_argument("--work-dir", help="cache and run folders (default outputs/ablation/{full,quick})")
    parser.add_argument("--results-dir", help="where ablation.{md,json,png} go (default results/, or the work dir "
                                              "with --quick)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, each with --threads torch threads")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--partial", action="store_true",
                        help="start no run: write the report from the runs that have finished, labelled partial")
    parser.add_argument("--run", nargs=3, metavar=("REGIME", "ARM", "SEED"), help=argparse.SUPPRESS)
    return parser


def launch(run: tuple[str, str, int], args, work_dir: Path, script: Path | None = None) -> subprocess.Popen:
    """Starts one run of `script` (default this one) in its own process (log in its run folder)."""
    regime, arm, seed = run
    run_dir = run_directory(work_dir, regime, arm, seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(script or Path(__file__).resolve()), "--data", args.data, "--work-dir", str(work_dir),
               "--threads", str(args.threads), "--run", regime, arm, str(seed)] + (["--quick"] if args.quick else [])
    environment = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    log = open(run_dir / "log.txt", "w", encoding="utf-8")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=REPO_ROOT)


def run_all(args, settings: Settings, work_dir: Path, runs: list | None = None, script: Path | None = None) -> list[dict]:
    """Runs every planned (regime, arm, seed) (`runs`, default `planned_runs`) without a result.json, `--jobs` at a
    time, each a `--run` of `script` (default this one); returns all results."""
    from tqdm.auto import tqdm

    runs = runs if runs is not None else planned_runs(settings)
    pending = [run for run in runs if not (run_directory(work_dir, *run) / "result.json").is_file()]
    if args.partial:
        logger.info("--partial: %d of %d runs have finished; reporting those", len(runs) - len(pending), len(runs))
        runs = [run for run in runs if run not in pending]
        pending = []
    logger.info("%d runs planned, %d already done", len(runs), len(runs) - len(pending))
    active: dict = {}
    with tqdm(total=len(runs), initial=len(runs) - len(pending), desc="runs", unit="run") as progress:
        while pending or active:
            while pending and len(active) < args.jobs:
                run = pending.pop(0)
                active[run] = launch(run, args, work_dir, script)
            time.sleep(1)
            for run, process in list(active.items()):
                if process.poll() is None:
                    continue
                del active[run]
                if process.returncode != 0:
                    for other in active.values():
                        other.terminate()
                    log = run_directory(work_dir, *run) / "log.txt"
                    tail = log.read_text(encoding="utf-8").strip().splitlines()[-1:] or ["(empty log)"]
                    raise AblationError(f"run {run} failed (exit {process.returncode}); {log}: {tail[0]}")
                progress.update(1)
    return [json.loads((run_directory(work_dir, *run) / "result.json").read_text()) for run in runs]


def parse_invocation(argv: list[str] | None, script: str, outputs_name: str, full, quick, run_one_function=None):
    """(args, settings, work_dir, data_dir, command) of the command line of `script` (work dirs under
    outputs/`outputs_name`); a ``--run`` is run here with `run_one_function` (default this script's) and its
    result returned in place of ``args``, with None for the rest. Checks the shared data folder."""
    args = build_parser().parse_args(argv)
    settings = quick if args.quick else full
    work_dir = Path(args.work_dir or REPO_ROOT / "outputs" / outputs_name / ("quick" if args.quick else "full"))
    data_dir = Path(args.data)
    if args.run:
        import torch

        torch.set_num_threads(args.threads)
        regime, arm, seed = args.run
        return (run_one_function or run_one)(regime, arm, int(seed), work_dir, data_dir, settings), None, None, None, None
    for needed in ("multi30k", "tatoeba", "udpos"):
        if not (data_dir / needed).is_dir():
            raise AblationError(f"{data_dir / needed}: not found (pass --data, the shared data folder)")
    command = shlex.join([".venv/bin/python", f"benchmarks/{script}", *(argv if argv is not None else sys.argv[1:])])
    return args, settings, work_dir, data_dir, command


def main(argv: list[str] | None = None) -> Path | dict:
    args, settings, work_dir, data_dir, command = parse_invocation(argv, "reproduce_ablation.py", "ablation", FULL, QUICK)
    if settings is None:
        return args
    started = time.perf_counter()
    commit = git_commit()
    shared = prepare_shared(data_dir, work_dir, settings)
    results = run_all(args, settings, work_dir)
    summary = {"command": command, "commit": commit, "quick": args.quick, "settings": asdict(settings),
               "shared": {k: v for k, v in shared.items() if not isinstance(v, str) and k != "settings"},
               "wall_seconds": time.perf_counter() - started, "run_seconds": sum(r["wall_seconds"] for r in results),
               "n_runs": len(results), "jobs": args.jobs}
    results_dir = Path(args.results_dir or (work_dir if args.quick else REPO_ROOT / "results"))
    path = write_results(results, summary, results_dir)
    print(path.read_text(encoding="utf-8"))
    return path


def cli(main_function=None, name: str = "reproduce_ablation") -> int:
    """Console entry point of `main_function` (default this script's `main`): 0 on success, 2 with a one-line error
    when data, settings or a run are unusable."""
    from data_prep import DataPrepError
    from mlctl.evaluation import XtremeDataError
    from mlctl.training import TrainingSetupError

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        (main_function or main)()
    except (AblationError, DataPrepError, XtremeDataError, TrainingSetupError) as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
