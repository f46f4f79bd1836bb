"""ML-CTL where its users run it (``benchmarks/reproduce_continued.py``): continued pre-training of a pre-trained
encoder (stage 0, `mlctl.experiments.stage0`, or any checkpoint given by ``--start_from``), every arm continuing it
with one budget at a learning rate chosen on held-out data, scored with XTREME's protocol; and how often random
batches hold two WPS of one sentence."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from mlctl.encoding import DEFAULT_RETRIEVAL_LAYER
from mlctl.experiments.provenance import RunRecord
from mlctl.experiments.report import METRICS as ABLATION_METRICS, aggregate, format_gap, gap, write_results
from mlctl.experiments.runs import evaluate_run, held_out_by_language, run_all, run_directory, train_arm, write_result
from mlctl.experiments.settings import (ARMS as ABLATION_ARMS, QUICK as ABLATION_QUICK, Arm, ExperimentError,
                                        Settings as AblationSettings, planned_runs, shared_data_settings)
from mlctl.experiments.shared_data import prepare_shared, shared_report
from mlctl.experiments.stage0 import train_stage0
from mlctl.files import write_json_atomic
from modeling_mlctl import MLCTLConfig
from modeling_mlctl.configuration_mlctl import MBERT_BASE_SHAPE

STAGE0 = "stage 0 (MLM only, monolingual)"
SENTENCE_TERM_WEIGHT = 1.0
#: The stage-0 model itself, the ablation's arms continuing it, then the sentence term and the no-duplicates sampler.
ARMS = (
    Arm(STAGE0, "sentence", "cz_nce", contrastive_weight=0.0),
    *ABLATION_ARMS,
    Arm("ML-CTL-CZ + snt", "sentence+word", "cz_nce", sentence_weight=SENTENCE_TERM_WEIGHT),
    Arm("CZ-snt +ND", "sentence", "cz_nce", batch_sampler="no_duplicates"),
    Arm("ML-CTL-CZ +ND", "sentence+word", "cz_nce", batch_sampler="no_duplicates"),
    Arm("ML-CTL-CZ + snt +ND", "sentence+word", "cz_nce", sentence_weight=SENTENCE_TERM_WEIGHT,
        batch_sampler="no_duplicates"),
)
ARMS_BY_NAME = {arm.name: arm for arm in ARMS}
#: The arm whose learning-rate candidates are trained to choose stage 1's learning rate.
SELECTION_ARM = "CZ-snt"
ABLATION_METRIC = {metric[0]: metric for metric in ABLATION_METRICS}
METRICS = (
    ABLATION_METRIC["multi30k"], ("multi30k_xx2en", "Multi30k xx→en", "the other direction"),
    ABLATION_METRIC["tatoeba"], ("tatoeba_xx2en", "Tatoeba xx→en", "the other direction"),
    ABLATION_METRIC["pos_f1"], ("pos_dev_en", "POS F1 (en dev)", "English dev of the kept POS checkpoint"),
    ABLATION_METRIC["word"], ABLATION_METRIC["word_cce"],
)


def xtreme_layer(num_layers: int) -> int:
    """XTREME's retrieval layer scaled to this depth: ``--specific_layer 7`` of mBERT's 12 layers is
    hidden_states[8] (`DEFAULT_RETRIEVAL_LAYER`), two thirds of the depth; the same share of ``num_layers``, rounded."""
    return round(num_layers * DEFAULT_RETRIEVAL_LAYER / MBERT_BASE_SHAPE["num_hidden_layers"])


@dataclass(frozen=True)
class Settings(AblationSettings):
    """The ablation's settings (same shared-data cache; `learning_rate` stays the from-scratch reference, stage 1
    uses the chosen candidate) with a longer POS fine-tuning, plus stage 0, the learning-rate candidates and the
    retrieval layer. `start_from` (a Hub name or a folder, at `model_revision`) replaces stage 0 by that
    checkpoint: its tokenizer prepares the WPS, every arm continues it, and the retrieval layer is scaled to its
    depth (`with_start`). The defaults are the full run's."""

    pos_steps: int = 400
    pos_learning_rate: float = 5e-4
    stage0_steps: int = 3000
    stage0_batch_size: int = 64
    stage0_learning_rate: float = 5e-4
    stage0_held_out: int = 500
    lr_candidates: tuple[float, ...] = (1e-5, 3e-5, 1e-4)
    retrieval_layer: int = xtreme_layer(AblationSettings.num_layers)
    selection_pairs_per_language: int = 500
    start_from: str | None = None
    model_revision: str | None = None


FULL = Settings()
QUICK = replace(
    FULL, **shared_data_settings(ABLATION_QUICK), stage0_steps=150, stage0_batch_size=32, stage0_held_out=100,
    steps=30, batch_size=32, lr_candidates=(1e-4, 3e-4), seeds=(1,), low_resource_arms=("ML-CTL-CZ",), pos_steps=60,
    word_pairs_per_language=300, retrieval_layer=xtreme_layer(ABLATION_QUICK.num_layers),
    selection_pairs_per_language=200,
)


# ------------------------------------------------------------------------------------------------- stages


def export_start(start_from: str, revision: str | None, out_dir: Path) -> dict:
    """The `start_from` checkpoint (a plain encoder such as ``bert-base-multilingual-cased``, or an ML-CTL
    checkpoint) at `revision`, exported once (cached by ``out_dir/start.json``) as the plain masked-LM checkpoint
    stage 0 is (encoder and MLM head, `save_backbone`) with its tokenizer in ``out_dir/model``: every later step
    reads that folder, offline. Returns its report (name, revision, depth, width, vocabulary)."""
    report_path = out_dir / "start.json"
    if report_path.is_file():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        if (report["start_from"], report["model_revision"]) != (start_from, revision):
            raise ExperimentError(f"{report_path}: exported from {report['start_from']} (revision "
                                  f"{report['model_revision']}), not {start_from} (revision {revision}); use another "
                                  "work dir")
        return report
    from mlctl.training import TrainingSetupError
    from mlctl.training.arguments import ModelArguments
    from mlctl.training.run import build_model
    from mlctl.training.run import load_tokenizer

    model_dir = out_dir / "model"
    # Loaded as training loads --model_name_or_path: a plain encoder under a new MLM-ready ML-CTL model, an ML-CTL
    # checkpoint as it is; the tokenizer fast (data_prep's token spans need offsets).
    source = ModelArguments(model_name_or_path=start_from, model_revision=revision or "main")
    try:
        tokenizer = load_tokenizer(source)
        model = build_model(source, tokenizer)
    except TrainingSetupError as error:
        raise ExperimentError(f"--start_from {start_from}: {error}") from None
    model.save_backbone(model_dir, tokenizer)
    encoder = model.config.encoder_config
    report = {"start_from": start_from, "model_revision": revision, "model_dir": str(model_dir),
              "model_type": encoder.model_type, "num_layers": encoder.num_hidden_layers,
              "hidden_size": encoder.hidden_size, "vocab_size": len(tokenizer)}
    write_json_atomic(report_path, report)  # the cache marker: whole or absent
    return report


def starting_point(data_dir: Path, work_dir: Path, settings: Settings) -> tuple[dict, dict]:
    """(shared data, the model every arm continues): with `settings.start_from` that checkpoint (`export_start`)
    and the shared data prepared with its tokenizer; otherwise the shared data and stage 0 (`train_stage0`). Both
    cached in `work_dir`."""
    if settings.start_from is None:
        shared = prepare_shared(data_dir, work_dir, settings)
        return shared, train_stage0(shared, data_dir / "multi30k", work_dir / "stage0", settings)
    start = export_start(settings.start_from, settings.model_revision, work_dir / "start")
    return prepare_shared(data_dir, work_dir, settings, start), start


def with_start(settings: Settings, start: dict) -> Settings:
    """`settings` with the retrieval layer scaled to the depth of the `start_from` checkpoint (`start`, from
    `export_start`); stage 0's settings unchanged."""
    return replace(settings, retrieval_layer=xtreme_layer(start["num_layers"])) if "num_layers" in start else settings


def validation_sentence_retrieval(model_dir: Path, wps_dir: str, settings: Settings) -> float:
    """Mean over languages of en → xx sentence retrieval (%) among the distinct held-out (validation) sentence
    pairs, at the retrieval layer: the learning-rate selection score (no test data involved)."""
    from mlctl.encoding import encode_sentences, load_encoder
    from mlctl.search import retrieval_accuracy

    model, tokenizer = load_encoder(str(model_dir))
    scores = []
    for _, rows in held_out_by_language(wps_dir):
        pairs = list(dict.fromkeys(zip(rows["src_text"], rows["tgt_text"])))[:settings.selection_pairs_per_language]

        def embed(texts):
            return encode_sentences(model, tokenizer, texts, pooling="mean", layer=settings.retrieval_layer,
                                    max_length=2 * settings.max_length, show_progress=False)

        scores.append(100.0 * retrieval_accuracy(embed([p[0] for p in pairs]), embed([p[1] for p in pairs]))[0])
    return float(np.mean(scores))


def learning_rate_runs(settings: Settings) -> list[tuple[str, str, int]]:
    """The runs that choose stage 1's learning rate: one regime ``lr=X`` per candidate, the selection arm, the first
    seed."""
    return [(f"lr={lr:g}", SELECTION_ARM, settings.seeds[0]) for lr in settings.lr_candidates]


def chosen_learning_rate(work_dir: Path, settings: Settings) -> dict:
    """The stage-1 learning rate: the candidate whose selection-arm run scored best on held-out retrieval."""
    scores = {}
    for regime, arm, seed in learning_rate_runs(settings):
        path = run_directory(work_dir, regime, arm, seed) / "result.json"
        scores[regime[3:]] = json.loads(path.read_text(encoding="utf-8"))["validation_retrieval"]
    best = max(scores, key=scores.get)
    return {"learning_rate": float(best), "validation_retrieval": scores}


def run_continued(regime: str, arm_name: str, seed: int, work_dir: Path, data_dir: Path, settings: Settings) -> dict:
    """Trains (continuing stage 0) and evaluates one (regime, arm, seed), or one learning-rate candidate
    (regime ``lr=X``); writes and returns its result.json."""
    arm = ARMS_BY_NAME[arm_name]
    shared, stage0 = starting_point(data_dir, work_dir, settings)
    run_dir = run_directory(work_dir, regime, arm_name, seed)
    started = time.perf_counter()
    if regime.startswith("lr="):
        training = train_arm(arm, "standard", seed, shared, settings, run_dir / "model", start_from=stage0["model_dir"],
                             learning_rate=float(regime[3:]))
        return write_result(run_dir, {
            "regime": regime, "arm": arm_name, "seed": seed, "training": training,
            "validation_retrieval": validation_sentence_retrieval(run_dir / "model", shared["wps"], settings)}, started)
    if arm.name == STAGE0:
        model_dir, training = Path(stage0["model_dir"]), {}
    else:
        model_dir = run_dir / "model"
        training = train_arm(arm, regime, seed, shared, settings, model_dir, start_from=stage0["model_dir"],
                             learning_rate=chosen_learning_rate(work_dir, settings)["learning_rate"])
    evaluation = evaluate_run(model_dir, run_dir, shared, data_dir, settings, seed, arm.sentence_level_cce,
                              layer=settings.retrieval_layer, plain_encoder=arm.name == STAGE0)
    evaluation["metrics"]["pos_dev_en"] = evaluation["pos_dev_en"].get("f1")
    return write_result(run_dir, {"regime": regime, "arm": arm_name, "seed": seed, "training": training,
                                  **evaluation}, started)


def duplicate_measurement(wps_dir: str, batch_sizes: dict[str, int]) -> dict:
    """How often the default sampler batches WPS sharing a sentence, on the training WPS (one epoch, seed 0), at
    each of `batch_sizes` ({name: size}); and how many batches the no-duplicates sampler needs for that epoch."""
    import datasets
    import torch

    from mlctl.training.sampler import NoDuplicatesBatchSampler, duplicate_statistics, sentence_keys

    keys = sentence_keys(datasets.load_from_disk(wps_dir)["train"])
    order = torch.randperm(len(keys), generator=torch.Generator().manual_seed(0)).tolist()
    measured = {"wps": len(keys), "distinct_source_sentences": len({k[0] for k in keys}),
                "distinct_target_sentences": len({k[1] for k in keys})}
    for name, size in batch_sizes.items():
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        measured[name] = {"batch_size": size, **duplicate_statistics(batches, keys),
                          "no_duplicates_batches": len(NoDuplicatesBatchSampler(keys, size))}
    return measured


def reproduce_continued(settings: Settings, quick: bool, data_dir: Path, work_dir: Path, results_dir: Path,
                        jobs: int, partial: bool, record: RunRecord) -> Path:
    """The whole continued ablation: shared data, stage 0 or the `start_from` checkpoint (one torch thread here), the
    duplicate measurement, the learning-rate runs and every planned stage-1 run not done yet (`jobs` at a time; none
    with `partial`), and ``ablation_continued.{md,json,png}`` in `results_dir` with the provenance of `record`. Returns the Markdown
    path."""
    import torch

    torch.set_num_threads(1)  # more threads than free cores stalls torch on a shared machine
    shared, stage0 = starting_point(data_dir, work_dir, settings)
    settings = with_start(settings, stage0)
    duplicates = duplicate_measurement(shared["wps"], {"standard": settings.batch_size,
                                                       "low-resource": settings.low_resource_batch_size})
    run_all(run_continued, learning_rate_runs(settings), work_dir, data_dir, settings, jobs, partial)
    lr_choice = chosen_learning_rate(work_dir, settings)
    planned = planned_runs(settings, ARMS)
    results = run_all(run_continued, planned, work_dir, data_dir, settings, jobs, partial)
    summary = {"quick": quick, "settings": asdict(settings), "shared": shared_report(shared), "stage0": stage0,
               "lr_choice": lr_choice, "duplicates": duplicates,
               "run_seconds": sum(r["wall_seconds"] for r in results), "n_runs": len(results),
               "n_planned": len(planned), "jobs": jobs}
    summary.update(record.as_dict())
    return write_results(results, summary, results_dir, continued_header(summary, record),
                         question_lines(aggregate(results)), stem="ablation_continued",
                         title="ML-CTL continued from a pre-trained encoder", arms_order=ARMS, metrics=METRICS)


# ------------------------------------------------------------------------------------------------- report


def continued_header(summary: dict, record: RunRecord) -> list[str]:
    """The note's title and header: the provenance of `record`, then stage 0, stage 1, the data, the evaluation and
    the duplicate measurement from `summary`."""
    settings, shared, stage0, lr = summary["settings"], summary["shared"], summary["stage0"], summary["lr_choice"]
    dup = summary["duplicates"]
    selection = ", ".join(f"{k}: {v:.1f}" for k, v in lr["validation_retrieval"].items())
    depth = stage0.get("num_layers", settings["num_layers"])
    return [
        "# ML-CTL continued from a pre-trained encoder, scored with XTREME's protocol"
        + (" (QUICK MODE: smoke-sized, not the result)" if summary["quick"] else "")
        + (f" (PARTIAL: {summary['n_runs']} of {summary['n_planned']} stage-1 runs had finished)"
           if summary["n_runs"] < summary["n_planned"] else ""),
        "",
        *record.header(),
        f"- Runs: {summary['run_seconds']:.0f} s summed over the {summary['n_runs']} stage-1 runs (runs found done "
        f"are read from their result.json, not re-run), {summary['jobs']} at a time (other work on the machine slows "
        f"every run)" + (f"; stage 0 trained in {stage0['train_seconds']:.0f} s." if "train_seconds" in stage0 else "."),
        start_line(stage0) if "start_from" in stage0 else
        f"- Stage 0 (the \"mBERT\" stand-in): BERT {settings['num_layers']} layers, hidden {settings['hidden_size']}, "
        f"{settings['num_heads']} heads, FFN {settings['intermediate_size']}, vocabulary {shared['vocab_size']:,}; MLM "
        f"only on {stage0['train_sentences']:,} monolingual Multi30k training lines of en/de/fr/cs, each language "
        f"shuffled on its own (no parallel signal); {stage0['steps']} steps × batch {stage0['batch_size']} "
        f"({stage0['epochs']} epochs), lr {stage0['learning_rate']}. Held-out MLM accuracy "
        f"({stage0['held_out_sentences']:,} lines): {stage0['mlm_accuracy_before']:.1f} % untrained → "
        f"{stage0['mlm_accuracy']:.1f} %.",
        f"- Stage 1 (every arm, one budget): {settings['steps']} steps, batch {settings['batch_size']} (low-resource: "
        f"batch {settings['low_resource_batch_size']}, bfloat16 autocast), 10 % warm-up, α = {settings['mlm_weight']}, "
        f"τ = {MLCTLConfig.temperature}; learning rate {lr['learning_rate']:g} (from scratch: {settings['learning_rate']:g}), chosen on "
        f"{SELECTION_ARM} seed {settings['seeds'][0]} among {selection} (held-out WPS sentence retrieval en → xx, %). "
        f"Sentence term weight {SENTENCE_TERM_WEIGHT}; +ND = `--batch_sampler no_duplicates`. Seeds "
        f"{', '.join(map(str, settings['seeds']))} (stage 0: POS fine-tuning seeds only).",
        f"- Data: WPS from the first {settings['pairs_per_language']:,} Multi30k pairs per language "
        f"({shared['wps_train']:,} train / {shared['wps_validation']:,} held-out).",
        f"- Evaluation (run_xtreme): retrieval at hidden_states[{settings['retrieval_layer']}] of "
        f"{depth} layers (XTREME's `--specific_layer 7` = hidden_states[8] of mBERT's 12, the same "
        "two thirds of the depth), mean pooling (XTREME's Tatoeba default), cosine; en → xx is XTREME's direction "
        f"(English queries, xx indexed). POS: {settings['pos_steps']} steps, lr {settings['pos_learning_rate']}, on "
        f"{shared['pos_sentences']['train']:,} English EWT sentences, checkpoint chosen on "
        f"{shared['pos_sentences']['dev']:,} (its F1 is the \"en dev\" column), tested on German GSD. Word retrieval: "
        f"up to {settings['word_pairs_per_language']:,} held-out aligned word pairs per language (stage 0: the same "
        "avg-first-last word vectors from its layers).",
        f"- Duplicates under the default sampler ({dup['wps']:,} training WPS of {dup['distinct_source_sentences']:,} "
        f"English sentences): batch {dup['standard']['batch_size']}: "
        f"{100 * dup['standard']['batch_share_with_duplicates']:.1f} % of batches hold two WPS of one sentence, "
        f"{100 * dup['standard']['row_share_with_duplicates']:.1f} % of rows have a false negative "
        f"({dup['standard']['rows_with_duplicates_per_batch']:.1f} per batch); batch "
        f"{dup['low-resource']['batch_size']}: {100 * dup['low-resource']['batch_share_with_duplicates']:.1f} % of "
        f"batches, {100 * dup['low-resource']['row_share_with_duplicates']:.1f} % of rows. The no-duplicates "
        f"sampler needs {dup['standard']['no_duplicates_batches']:,} batches for the epoch the default covers in "
        f"{dup['standard']['batches']:,}.",
        "",
        "Numbers are mean ± sample std over seeds, in %.",
        "",
    ]


def start_line(start: dict) -> str:
    """The header line of a ``--start_from`` run: the checkpoint every arm continues (`export_start`'s report)."""
    return (f"- Start (replacing stage 0; its row is the checkpoint itself): `{start['start_from']}` (revision "
            f"{start['model_revision'] or 'the default branch'}), {start['model_type']}, {start['num_layers']} "
            f"layers, hidden {start['hidden_size']}, its own tokenizer ({start['vocab_size']:,} tokens) prepared "
            "the WPS.")


QUESTIONS = (
    ("Does the word level cost sentence retrieval from a pre-trained start?", "ML-CTL-CZ", "CZ-snt",
     ("multi30k", "tatoeba", "word")),
    ("Does the sentence term recover it (vs CZ-snt) ...", "ML-CTL-CZ + snt", "CZ-snt", ("multi30k", "tatoeba", "word")),
    ("... while keeping the word gain (vs ML-CTL-CZ)?", "ML-CTL-CZ + snt", "ML-CTL-CZ", ("multi30k", "tatoeba", "word")),
    ("Do duplicates in batches matter (CZ-snt)?", "CZ-snt +ND", "CZ-snt", ("multi30k", "tatoeba")),
    ("Do duplicates in batches matter (ML-CTL-CZ)?", "ML-CTL-CZ +ND", "ML-CTL-CZ", ("multi30k", "tatoeba", "word")),
    ("Do duplicates in batches matter (ML-CTL-CZ + snt)?", "ML-CTL-CZ + snt +ND", "ML-CTL-CZ + snt",
     ("multi30k", "tatoeba", "word")),
    ("Does continuing help at all (vs the stage-0 model)?", "CZ-snt", STAGE0, ("multi30k", "tatoeba", "pos_f1")),
    ("Does MLM-only continuation change anything?", "MLM only", STAGE0, ("multi30k", "tatoeba", "pos_f1")),
)


def question_lines(table: dict) -> list[str]:
    """The closing questions, answered on the standard regime of an `aggregate` table by differences of means
    (points) and pooled seed stds."""
    arms = table.get("standard", {})
    headers = {metric: header for metric, header, _ in METRICS}
    lines = ["## The questions (standard regime)", "",
             "Difference of means in points (first arm − second), and that difference in pooled seed stds.", ""]
    for question, better, worse, metrics in QUESTIONS:
        cells = []
        for metric in metrics:
            step = gap(arms, better, worse, metric)
            if step is not None:
                cells.append(f"{headers[metric]} {format_gap(step)}")
        if cells:
            lines.append(f"- {question} {better} − {worse}: " + "; ".join(cells))
    return lines + [""]
