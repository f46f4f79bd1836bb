"""One XTREME evaluation run of a checkpoint: its arguments (the flags of ``run_xtreme_tasks.py``), every task on
every language, and ``results.json`` with the Table-1 row.

    from mlctl.evaluation import XtremeArguments, FineTuningSettings, run_xtreme
    results = run_xtreme(XtremeArguments(model_name_or_path="out/mlctl", tasks="tatoeba", data_dir="download"))
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from data_prep.arguments import ModelArguments
from data_prep.arguments import arg
from data_prep.arguments import shared
from data_prep.output_dir import ensure_writable_directory
from data_prep.output_dir import ensure_writable_file
from data_prep.reading import InputError
from data_prep.tokenizer import load_auto_fast_tokenizer
from mlctl.encoding import default_max_length
from mlctl.encoding import encode_sentences
from mlctl.encoding import load_encoder
from mlctl.encoding import resolve_layer
from mlctl.evaluation.bucc import bucc_candidates
from mlctl.evaluation.bucc import bucc_f1
from mlctl.evaluation.bucc import extract_pairs
from mlctl.evaluation.bucc import optimal_threshold
from mlctl.evaluation.finetune import FineTunedTask
from mlctl.evaluation.plots import draw_tsne
from mlctl.evaluation.plots import read_word_lists
from mlctl.evaluation.readers import XtremeData
from mlctl.evaluation.readers import parse_data_file_overrides
from mlctl.evaluation.report import describe_model
from mlctl.evaluation.report import markdown_report
from mlctl.evaluation.report import markdown_table
from mlctl.evaluation.report import summarize_task
from mlctl.evaluation.tasks import RETRIEVAL_POOLING
from mlctl.evaluation.tasks import RETRIEVAL_TASKS
from mlctl.evaluation.tasks import TABLE_COLUMNS
from mlctl.evaluation.tasks import TASK_TYPES
from mlctl.evaluation.tasks import TASK_LANGUAGES
from mlctl.evaluation.tasks import TASKS
from mlctl.evaluation.tasks import FineTuningSettings
from mlctl.evaluation.tasks import MissingDataError
from mlctl.files import weights_problem
from mlctl.files import write_json_atomic
from mlctl.mining import MARGIN_NEIGHBOURS
from mlctl.search import retrieval_accuracy

logger = logging.getLogger(__name__)


class RunInterrupted(KeyboardInterrupt):
    """A signal (SIGTERM, or SIGINT: Ctrl-C) stopped `run_xtreme`; the message says which and during what, and that
    ``results.json`` holds what finished. `signal_number` gives the exit status 128 + N."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal_number = signal_number


def _raise_keyboard_interrupt(signal_number, frame):
    raise KeyboardInterrupt(signal.Signals(signal_number).name)


@contextlib.contextmanager
def sigterm_as_keyboard_interrupt():
    """While the block runs in the main thread, SIGTERM (a scheduler's or `kill`'s stop) raises `KeyboardInterrupt`
    as Ctrl-C does, so that the run can record it before it ends; the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class XtremeArguments(ModelArguments):
    """What to evaluate (`ModelArguments`: the checkpoint and its Hub snapshot), on which data, and how to retrieve
    (the fine-tuning settings are `FineTuningSettings`)."""

    tasks: str = arg(f"comma-separated subset of {','.join(TASKS)}, or 'all'", "all")
    output_dir: str = shared("output_dir", "outputs/xtreme")
    data_dir: str | None = arg("directory in the layout of XTREME's download_data.sh")
    labels_dir: str | None = arg("XTREME label folder (TASK/test-LANG.tsv) for unlabelled test files")
    data_file: list[str] = arg("use this file for one split, e.g. udpos:train:en=en_ewt-ud-train.conllu (repeatable)",
                               default_factory=list, metavar="TASK:SPLIT:LANG=PATH", action="append")
    languages: str | None = arg("comma-separated target languages for every task (default: XTREME's)")
    no_hub: bool = arg("never fall back to the Hugging Face Hub", False)
    layer: int | None = shared("layer")
    pool_type: str | None = arg("retrieval pooling of hidden_states[layer]: mean (all tokens) or cls (first token); "
                                "default XTREME's per task: tatoeba mean, bucc2018 cls", choices=["mean", "cls"])
    retrieval_batch_size: int = arg("sentences per retrieval batch", 64, minimum=1)
    retrieval_max_length: int = arg("tokens per retrieval sentence (at most the model's)", 512, minimum=3)
    bucc_neighbours: int = arg("k of the ratio margin", MARGIN_NEIGHBOURS, minimum=1)
    tsne: bool = arg("draw the paper's Figure 3 to OUTPUT_DIR/tsne.png", False)
    tsne_word_lists: str | None = arg("directory of {lang}_uni.txt aligned word lists (default: DATA_DIR/mlctl_word_lists)")
    tsne_languages: str = arg("languages of the t-SNE picture", "en,fr,es,ru,ar,zh")
    tsne_words: int = arg("number of meanings to plot", 12, minimum=1)
    report_md: str | None = arg("also write a Markdown report (table, languages, wall times) here")

    def __post_init__(self):
        super().__post_init__()
        # HfArgumentParser gives a list per repeated --data_file; Python callers give strings.
        self.data_file = [spec for item in self.data_file for spec in ([item] if isinstance(item, str) else item)]


def tatoeba_accuracies(xx_embeddings: np.ndarray, en_embeddings: np.ndarray) -> dict:
    """Tatoeba accuracy (%) in both directions of row-aligned embeddings. ``accuracy`` is XTREME's score: its
    ``evaluate_retrieval.py`` puts the xx sentences in the faiss index and queries it with the English ones (en ->
    xx); ``accuracy_xx_to_en`` is the other direction, reported beside it."""
    en_to_xx, _ = retrieval_accuracy(en_embeddings, xx_embeddings)
    xx_to_en, _ = retrieval_accuracy(xx_embeddings, en_embeddings)
    return {"accuracy": 100.0 * en_to_xx, "accuracy_xx_to_en": 100.0 * xx_to_en, "direction": "en->xx"}


def _selected(option: str, allowed, what: str) -> list[str]:
    """Comma-separated choices, each checked against ``allowed``."""
    chosen = list(allowed) if option == "all" else [item.strip() for item in option.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in allowed]
    if unknown:
        raise InputError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return chosen


class XtremeEvaluation:
    """One run: the model, the data and the per-task results."""

    def __init__(self, args: XtremeArguments, settings: FineTuningSettings):
        self.args = args
        self.output_dir = Path(args.output_dir)
        self.data = XtremeData(args.data_dir, args.labels_dir, parse_data_file_overrides(args.data_file),
                               use_hub=not args.no_hub)
        try:
            self.tokenizer = load_auto_fast_tokenizer(args.model_name_or_path, "labelling first sub-tokens (word_ids)",
                                                      **args.pretrained_kwargs())
        except ValueError as error:
            raise InputError(str(error)) from None
        self.settings = settings
        self._encoder = None
        self.layer = None

    @property
    def encoder(self):
        """The checkpoint as ``AutoModel`` (``MLCTLModel`` for ML-CTL), loaded on first use (retrieval and t-SNE)."""
        if self._encoder is None:
            try:
                model, _ = load_encoder(self.args.model_name_or_path, **self.args.pretrained_kwargs())
                num_hidden_states = model.config.num_hidden_layers + 1
                self.layer = resolve_layer(num_hidden_states, self.args.layer)
            except ValueError as error:
                raise InputError(str(error)) from None
            self._encoder = model
            logger.info("retrieval embeddings: hidden_states[%d] of %d", self.layer, num_hidden_states)
        return self._encoder

    def pooling(self, task: str) -> str:
        """Retrieval pooling of ``task``: ``--pool_type``, else XTREME's for the task (`RETRIEVAL_POOLING`)."""
        return self.args.pool_type or RETRIEVAL_POOLING[task]

    def embed(self, sentences: list[str], name: str, pooling: str) -> np.ndarray:
        """Retrieval embeddings of ``sentences``: ``pooling`` (mean or cls) of ``hidden_states[self.layer]``."""
        model = self.encoder
        max_length = min(self.args.retrieval_max_length, default_max_length(model))
        return encode_sentences(model, self.tokenizer, sentences, pooling=pooling, layer=self.layer,
                                batch_size=self.args.retrieval_batch_size, max_length=max_length, description=name)

    def languages(self, task: str) -> list[str]:
        """Target languages of ``task``: ``--languages`` (less English for retrieval, whose pivot it is) or XTREME's."""
        if not self.args.languages:
            return TASK_LANGUAGES[task]
        chosen = [lang.strip() for lang in self.args.languages.split(",") if lang.strip()]
        return [lang for lang in chosen if not (task in RETRIEVAL_TASKS and lang == "en")]

    def run_task(self, task: str, entry: dict, save: Callable[[], None]) -> None:
        """Evaluate one task on all its languages into `entry` (`languages`, `missing`, `errors`), calling `save`
        after each language. A language without data is recorded under `missing`, one with unusable data (a
        malformed or empty file) under `errors` as "LANG: problem"; the other languages still run."""
        languages = self.languages(task)
        if task in RETRIEVAL_TASKS:
            evaluate_language = self._tatoeba if task == "tatoeba" else self._bucc
        else:
            fine_tuned = FineTunedTask(task, self.args.model_name_or_path, self.tokenizer, self.data, self.settings,
                                       self.output_dir, pretrained_kwargs=self.args.pretrained_kwargs())
            entry["dev_en"] = fine_tuned.train()
            entry["fine_tuned_class"] = type(fine_tuned.trainer.model).__name__
            evaluate_language = functools.partial(fine_tuned.evaluate,
                                                  predictions_dir=self.output_dir / "predictions" / task)
        for lang in tqdm(languages, desc=task, unit="lang"):
            try:
                entry["languages"][lang] = evaluate_language(lang)
            except MissingDataError as error:
                logger.warning("%s", error)
                entry["missing"].append(str(error))
            except InputError as error:
                logger.error("%s: %s", lang, error)
                entry["errors"].append(f"{lang}: {error}")
            save()

    def _tatoeba(self, lang: str) -> dict:
        """Tatoeba accuracy of one language in both directions; ``accuracy`` is XTREME's (en -> xx)."""
        xx, en, source = self.data.tatoeba_pairs(lang)
        pooling = self.pooling("tatoeba")
        scores = tatoeba_accuracies(self.embed(xx, f"tatoeba {lang}", pooling), self.embed(en, "tatoeba en", pooling))
        return {**scores, "n_pairs": len(xx), "layer": self.layer, "pooling": pooling, "source": source}

    def _bucc(self, lang: str) -> dict:
        """BUCC F1 of one language: threshold tuned on dev, applied to test."""
        k = self.args.bucc_neighbours
        pooling = self.pooling("bucc2018")
        embed = functools.partial(self.embed, pooling=pooling)
        dev = self.data.bucc_corpus(lang, "dev")
        if dev.gold is None:
            raise MissingDataError(f"bucc2018: no gold pairs for {lang} dev next to {dev.source}; the threshold needs them")
        threshold, dev_f1 = optimal_threshold(bucc_candidates(dev, embed, k), dev.gold)
        test = self.data.bucc_corpus(lang, "test")
        if test.gold is None:
            raise MissingDataError(f"bucc2018: no test gold pairs for {lang} next to {test.source} "
                                   f"(XTREME's download deletes them)")
        predicted = extract_pairs(bucc_candidates(test, embed, k), threshold)
        predictions_dir = self.output_dir / "predictions" / "bucc2018"
        predictions_dir.mkdir(parents=True, exist_ok=True)
        (predictions_dir / f"test-{lang}.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in sorted(predicted)),
                                                          encoding="utf-8")
        return {**bucc_f1(predicted, test.gold), "threshold": None if math.isinf(threshold) else threshold,
                "dev_f1": dev_f1, "n_predicted": len(predicted), "n_gold": len(test.gold), "layer": self.layer,
                "pooling": pooling, "source": test.source}

    def tsne(self) -> str:
        """Draw Figure 3 and return the PNG path."""
        args = self.args
        directory = Path(args.tsne_word_lists) if args.tsne_word_lists else (
            Path(args.data_dir) / "mlctl_word_lists" if args.data_dir else None)
        if directory is None:
            raise MissingDataError("tsne: pass --tsne_word_lists DIR (files {lang}_uni.txt) or --data_dir")
        languages = [lang.strip() for lang in args.tsne_languages.split(",")]
        rows = read_word_lists(directory, languages, args.tsne_words)
        path = self.output_dir / "tsne.png"
        draw_tsne({Path(args.model_name_or_path).name or args.model_name_or_path: self.encoder}, self.tokenizer, rows,
                  languages, self.layer, path, seed=self.settings.seed)
        return str(path)


def model_files_problem(model_name_or_path: str) -> str | None:
    """Why a local checkpoint directory cannot load (no config.json, damaged weights), or None; Hub
    names are left to `from_pretrained`."""
    directory = Path(model_name_or_path)
    if not directory.is_dir():
        return None
    if not (directory / "config.json").is_file():
        return f"{directory}: no config.json"
    return weights_problem(directory)


def run_xtreme(args: XtremeArguments, settings: FineTuningSettings | None = None, command: str | None = None) -> dict:
    """Runs the evaluation that ``args`` describe and returns the ``results.json`` dict, written to
    ``args.output_dir`` atomically after every language and task, so that it always holds what finished. Missing
    data for a task or language is logged and recorded under ``missing``; unusable data (a malformed or empty file)
    under ``errors`` of its task, per language where only that language's file is at fault; the other tasks and
    languages still run. Raises `InputError` when the run cannot start (unknown task, an output directory that
    cannot be written, a checkpoint or tokenizer that does not load), after writing ``results.json`` with the
    error when the output directory allows. A SIGTERM or Ctrl-C during the tasks raises `RunInterrupted` after
    writing ``results.json`` with what finished and ``"interrupted": "SIGTERM during task X"``."""
    tasks = _selected(args.tasks, TASKS, "task(s)")
    output_dir = Path(args.output_dir)
    for flag, path, ensure_writable in (("--output_dir", output_dir, ensure_writable_directory),
                                        ("--report_md", args.report_md, ensure_writable_file)):
        try:
            if path is not None:
                ensure_writable(path)
        except ValueError as error:
            raise InputError(f"{flag} {error}") from None
    results = {"model": args.model_name_or_path, "command": command or f"run_xtreme({args})", "model_config": None,
               "tasks": {}}

    def save() -> None:
        results["table"] = markdown_table(results)
        write_json_atomic(output_dir / "results.json", results)

    stage = "loading the model"
    try:
        with sigterm_as_keyboard_interrupt():
            try:
                problem = model_files_problem(args.model_name_or_path)
                if problem:
                    raise InputError(problem)
                try:
                    results["model_config"] = describe_model(args.model_name_or_path, **args.pretrained_kwargs())
                    results["model_commit"] = args.resolved_commit(args.model_name_or_path)
                    results["tokenizer_commit"] = args.resolved_commit(args.model_name_or_path,
                                                                       "tokenizer_config.json")
                except (OSError, ValueError) as error:
                    raise InputError(f"{args.model_name_or_path}: cannot load its config: "
                                     f"{str(error).splitlines()[0]}") from None
                evaluation = XtremeEvaluation(args, settings or FineTuningSettings())
            except InputError as error:
                results["error"] = str(error)
                save()
                raise
            for task in tasks:
                stage = f"task {task}"
                started = time.perf_counter()
                column, metric = TABLE_COLUMNS[task]
                entry = results["tasks"][task] = {"column": column, "metric": metric, "task_type": TASK_TYPES[task],
                                                  "languages": {}, "missing": [], "errors": []}
                try:
                    evaluation.run_task(task, entry, save)
                except InputError as error:
                    logger.error("%s", error)
                    entry["missing" if isinstance(error, MissingDataError) else "errors"].append(str(error))
                entry["average"] = summarize_task(task, entry["languages"])
                entry["wall_time_s"] = round(time.perf_counter() - started, 2)
                save()
            if evaluation.layer is not None:
                results["retrieval_layer"] = evaluation.layer
            if args.tsne:
                stage = "the t-SNE picture"
                try:
                    results["tsne"] = evaluation.tsne()
                except InputError as error:
                    logger.error("%s", error)
                    results["tsne_error"] = str(error)
    except KeyboardInterrupt as error:
        name = "SIGTERM" if str(error) == "SIGTERM" else "SIGINT"
        results["interrupted"] = f"{name} during {stage}"
        save()
        raise RunInterrupted(f"interrupted by {results['interrupted']}; {output_dir / 'results.json'} holds what "
                             "finished", signal.Signals[name].value) from None
    save()
    if args.report_md:
        Path(args.report_md).write_text(markdown_report(results), encoding="utf-8")
    return results


def incomplete_tasks(results: dict) -> list[str]:
    """Tasks with errors or without a single scored language (and "tsne" when the picture failed)."""
    failed = [task for task, entry in results["tasks"].items() if entry["errors"] or not entry["languages"]]
    return failed + (["tsne"] if "tsne_error" in results else [])
