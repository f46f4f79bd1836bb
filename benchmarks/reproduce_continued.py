#!/usr/bin/env python
"""ML-CTL where its users run it: continued pre-training of a pre-trained multilingual encoder, scored with XTREME's
own protocol, in one command.

    .venv/bin/python benchmarks/reproduce_continued.py            # the full run (≈ 83 min on 2 cores)
    .venv/bin/python benchmarks/reproduce_continued.py --quick    # the same pipeline, tiny (≈ 2 min)

1. Shared data as ``reproduce_ablation.py`` builds it (Multi30k en–de/fr/cs WPS, a WordPiece vocabulary, the
   Multi30k test set in Tatoeba layout, the POS split), cached in ``--work-dir``.
2. Stage 0 (``continued_stage0.py``, cached): the stand-in for mBERT, a small BERT pre-trained with MLM only on the
   monolingual Multi30k training text of en, de, fr and cs, each language shuffled on its own.
3. Stage-1 learning rate, chosen once on CZ-snt (seed 1): each of ``lr_candidates`` trains CZ-snt from stage 0;
   the one with the best held-out WPS sentence retrieval (validation split, en → xx) is every arm's learning rate.
4. Stage 1: every arm (:data:`ARMS`) continues from stage 0 with one budget (steps, batch, learning rate), for every
   seed: the stage-0 model itself (the paper's "mBERT" row; its seeds are POS fine-tuning seeds), MLM only,
   info-snt, CZ-snt, ML-CTL-info, ML-CTL-CZ, ML-CTL-CZ with the explicit sentence term, and the sentence-level arms
   again with ``--batch_sampler no_duplicates`` (+ND). The low-resource regime (small batch, bfloat16) repeats the
   four contrastive arms.
5. Evaluation through ``mlctl.evaluation.run_xtreme``: Multi30k test_2016_flickr and Tatoeba deu/fra retrieval in
   both directions (XTREME's en → xx is the headline) at the layer XTREME uses for this depth, mean-pooled (XTREME's
   Tatoeba default); the word retrieval score; POS en → de (English dev F1 reported). How often the default sampler
   batches WPS of one sentence together is measured on the training WPS.

Output: ``ablation_continued.{md,json,png}`` in ``--results-dir``. Resumable: each run writes its ``result.json``.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from ablation_report import REGIMES  # noqa: E402
from ablation_report import METRICS as ABLATION_METRICS  # noqa: E402
from ablation_report import Arm  # noqa: E402
from ablation_report import format_gap  # noqa: E402
from ablation_report import gap  # noqa: E402
from ablation_report import git_commit  # noqa: E402
from ablation_report import write_results  # noqa: E402
from continued_stage0 import train_stage0  # noqa: E402
from reproduce_ablation import FULL as ABLATION_FULL  # noqa: E402
from reproduce_ablation import MULTI30K_TARGETS  # noqa: E402
from reproduce_ablation import QUICK as ABLATION_QUICK  # noqa: E402
from reproduce_ablation import REPO_ROOT  # noqa: E402
from reproduce_ablation import SHARED_DATA_FIELDS  # noqa: E402
from reproduce_ablation import Settings as AblationSettings  # noqa: E402
from reproduce_ablation import parse_invocation  # noqa: E402
from reproduce_ablation import planned_runs  # noqa: E402
from reproduce_ablation import cli  # noqa: E402
from reproduce_ablation import evaluate_run  # noqa: E402
from reproduce_ablation import prepare_shared  # noqa: E402
from reproduce_ablation import run_all  # noqa: E402
from reproduce_ablation import run_directory  # noqa: E402
from reproduce_ablation import train_arm  # noqa: E402

logger = logging.getLogger("reproduce_continued")

STAGE0 = "stage 0 (MLM only, monolingual)"
SENTENCE_TERM_WEIGHT = 1.0
ARMS = (
    Arm(STAGE0, "sentence", "cz_nce", contrastive_weight=0.0),
    Arm("MLM only", "sentence+word", "cz_nce", contrastive_weight=0.0),
    Arm("info-snt", "sentence", "info_nce"),
    Arm("CZ-snt", "sentence", "cz_nce"),
    Arm("ML-CTL-info", "sentence+word", "info_nce"),
    Arm("ML-CTL-CZ", "sentence+word", "cz_nce"),
    Arm("ML-CTL-CZ + snt", "sentence+word", "cz_nce", sentence_weight=SENTENCE_TERM_WEIGHT),
    Arm("CZ-snt +ND", "sentence", "cz_nce", batch_sampler="no_duplicates"),
    Arm("ML-CTL-CZ +ND", "sentence+word", "cz_nce", batch_sampler="no_duplicates"),
    Arm("ML-CTL-CZ + snt +ND", "sentence+word", "cz_nce", sentence_weight=SENTENCE_TERM_WEIGHT,
        batch_sampler="no_duplicates"),
)
ARMS_BY_NAME = {arm.name: arm for arm in ARMS}
ABLATION_METRIC = {metric[0]: metric for metric in ABLATION_METRICS}
METRICS = (
    ABLATION_METRIC["multi30k"], ("multi30k_xx2en", "Multi30k xx→en", "the other direction"),
    ABLATION_METRIC["tatoeba"], ("tatoeba_xx2en", "Tatoeba xx→en", "the other direction"),
    ABLATION_METRIC["pos_f1"], ("pos_dev_en", "POS F1 (en dev)", "English dev of the kept POS checkpoint"),
    ABLATION_METRIC["word"], ABLATION_METRIC["word_cce"],
)


@dataclass(frozen=True)
class Settings(AblationSettings):
    """reproduce_ablation's settings (same shared-data cache; `learning_rate` stays the from-scratch reference, stage
    1 uses the chosen candidate) plus stage 0, the learning-rate candidates and the retrieval layer."""

    stage0_steps: int
    stage0_batch_size: int
    stage0_learning_rate: float
    stage0_held_out: int
    lr_candidates: tuple[float, ...]
    retrieval_layer: int
    selection_pairs_per_language: int


def xtreme_layer(num_layers: int) -> int:
    """XTREME's retrieval layer scaled to this depth: ``--specific_layer 7`` of mBERT's 12 layers is
    hidden_states[8], two thirds of the depth; the same share of ``num_layers``, rounded."""
    return round(num_layers * 8 / 12)


FULL = Settings(
    **{**asdict(ABLATION_FULL), "steps": 300, "batch_size": 64, "low_resource_batch_size": 8, "pos_steps": 400,
       "pos_learning_rate": 5e-4},
    stage0_steps=3000, stage0_batch_size=64, stage0_learning_rate=5e-4, stage0_held_out=500,
    lr_candidates=(1e-5, 3e-5, 1e-4), retrieval_layer=xtreme_layer(ABLATION_FULL.num_layers),
    selection_pairs_per_language=500,
)
QUICK = replace(
    FULL, **{name: getattr(ABLATION_QUICK, name) for name in SHARED_DATA_FIELDS},
    stage0_steps=150, stage0_batch_size=32, stage0_held_out=100, steps=30, batch_size=32,
    lr_candidates=(1e-4, 3e-4), seeds=(1,), low_resource_arms=("ML-CTL-CZ",), pos_steps=60,
    word_pairs_per_language=300, retrieval_layer=xtreme_layer(ABLATION_QUICK.num_layers),
    selection_pairs_per_language=200,
)


# ------------------------------------------------------------------------------------------------- stages


def stage0_report(data_dir: Path, work_dir: Path, settings: Settings, shared: dict) -> dict:
    return train_stage0(shared, data_dir / "multi30k", work_dir / "stage0", settings.stage0_steps,
                        settings.stage0_batch_size, settings.stage0_learning_rate, settings.stage0_held_out,
                        settings.max_length)


def validation_sentence_retrieval(model_dir: Path, wps_dir: str, settings: Settings) -> float:
    """Mean over languages of en → xx sentence retrieval (%) among the distinct held-out (validation) sentence
    pairs, at the retrieval layer: the learning-rate selection score (no test data involved)."""
    import datasets

    from mlctl.encoding import encode_sentences
    from mlctl.encoding import load_encoder
    from mlctl.evaluation.retrieval import retrieval_accuracy

    model, tokenizer = load_encoder(str(model_dir), device="cpu")
    validation = datasets.load_from_disk(wps_dir)["validation"]
    scores = []
    for lang in MULTI30K_TARGETS:
        rows = validation.filter(lambda tgt: tgt == lang, input_columns="tgt_lang")
        pairs = list(dict.fromkeys(zip(rows["src_text"], rows["tgt_text"])))[:settings.selection_pairs_per_language]

        def embed(texts):
            return encode_sentences(model, tokenizer, texts, pooling="mean", layer=settings.retrieval_layer,
                                    max_length=2 * settings.max_length, show_progress=False)

        scores.append(100.0 * retrieval_accuracy(embed([p[0] for p in pairs]), embed([p[1] for p in pairs]))[0])
    return float(np.mean(scores))


def chosen_learning_rate(work_dir: Path, settings: Settings) -> dict:
    """The stage-1 learning rate: the candidate whose CZ-snt run scored best on held-out retrieval."""
    scores = {}
    for lr in settings.lr_candidates:
        path = run_directory(work_dir, f"lr={lr:g}", "CZ-snt", settings.seeds[0]) / "result.json"
        scores[f"{lr:g}"] = json.loads(path.read_text(encoding="utf-8"))["validation_retrieval"]
    best = max(scores, key=scores.get)
    return {"learning_rate": float(best), "validation_retrieval": scores}


def run_one(regime: str, arm_name: str, seed: int, work_dir: Path, data_dir: Path, settings: Settings) -> dict:
    """Trains (continuing stage 0) and evaluates one (regime, arm, seed), or one learning-rate candidate
    (regime ``lr=X``); writes and returns its result.json."""
    arm = ARMS_BY_NAME[arm_name]
    shared = prepare_shared(data_dir, work_dir, settings)
    stage0 = stage0_report(data_dir, work_dir, settings, shared)
    run_dir = run_directory(work_dir, regime, arm_name, seed)
    started = time.perf_counter()
    if regime.startswith("lr="):
        training = train_arm(arm, "standard", seed, shared, settings, run_dir / "model", start_from=stage0["model_dir"],
                             learning_rate=float(regime[3:]))
        result = {"regime": regime, "arm": arm_name, "seed": seed, "training": training,
                  "validation_retrieval": validation_sentence_retrieval(run_dir / "model", shared["wps"], settings)}
    else:
        if arm.name == STAGE0:
            model_dir, training = Path(stage0["model_dir"]), {}
        else:
            model_dir = run_dir / "model"
            training = train_arm(arm, regime, seed, shared, settings, model_dir, start_from=stage0["model_dir"],
                                 learning_rate=chosen_learning_rate(work_dir, settings)["learning_rate"])
        evaluation = evaluate_run(model_dir, run_dir, shared, data_dir, settings, seed,
                                  sentence_level_cce=arm.levels == "sentence" or arm.contrastive_weight == 0,
                                  layer=settings.retrieval_layer, plain_encoder=arm.name == STAGE0)
        dev_f1 = evaluation["pos_dev_en"].get("f1")
        evaluation["metrics"]["pos_dev_en"] = dev_f1
        result = {"regime": regime, "arm": arm_name, "seed": seed, "training": training, **evaluation}
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    (run_dir / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def duplicate_measurement(wps_dir: str, batch_sizes: dict[str, int]) -> dict:
    """How often the default sampler batches WPS sharing a sentence, on the training WPS (one epoch, seed 0), at
    each of `batch_sizes` ({name: size}); and how many batches the no-duplicates sampler needs for that epoch."""
    import datasets
    import torch

    from mlctl.training.sampler import NoDuplicatesBatchSampler
    from mlctl.training.sampler import duplicate_statistics
    from mlctl.training.sampler import sentence_keys

    keys = sentence_keys(datasets.load_from_disk(wps_dir)["train"])
    order = torch.randperm(len(keys), generator=torch.Generator().manual_seed(0)).tolist()
    measured = {"wps": len(keys), "distinct_source_sentences": len({k[0] for k in keys}),
                "distinct_target_sentences": len({k[1] for k in keys})}
    for name, size in batch_sizes.items():
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        measured[name] = {"batch_size": size, **duplicate_statistics(batches, keys),
                          "no_duplicates_batches": len(NoDuplicatesBatchSampler(keys, size))}
    return measured


# ------------------------------------------------------------------------------------------------- report


def header_lines(summary: dict) -> list[str]:
    settings, shared, stage0, lr = summary["settings"], summary["shared"], summary["stage0"], summary["lr_choice"]
    dup = summary["duplicates"]
    selection = ", ".join(f"{k}: {v:.1f}" for k, v in lr["validation_retrieval"].items())
    return [
        "# ML-CTL continued from a pre-trained encoder, scored with XTREME's protocol"
        + (" (QUICK MODE: smoke-sized, not the result)" if summary["quick"] else "")
        + (f" (PARTIAL: {summary['n_runs']} of {summary['n_planned']} stage-1 runs had finished)"
           if summary["n_runs"] < summary["n_planned"] else ""),
        "",
        f"- Command: `{summary['command']}`",
        f"- Commit: `{summary['commit']}`",
        f"- Wall time: {summary['wall_seconds']:.0f} s for this invocation (runs found done are read from their "
        f"result.json, not re-run); {summary['run_seconds']:.0f} s summed over "
        f"the {summary['n_runs']} stage-1 runs; stage 0 trained in {stage0['train_seconds']:.0f} s; "
        f"{summary['jobs']} run(s) at a time on {summary['cpus']} cores, 1-minute load average "
        f"{summary['load_at_start']:.1f} when this invocation started (other work on the machine slows every run).",
        f"- Stage 0 (the \"mBERT\" stand-in): BERT {settings['num_layers']} layers, hidden {settings['hidden_size']}, "
        f"{settings['num_heads']} heads, FFN {settings['intermediate_size']}, vocabulary {shared['vocab_size']:,}; MLM "
        f"only on {stage0['train_sentences']:,} monolingual Multi30k training lines of en/de/fr/cs, each language "
        f"shuffled on its own (no parallel signal); {stage0['steps']} steps × batch {stage0['batch_size']} "
        f"({stage0['epochs']} epochs), lr {stage0['learning_rate']}. Held-out MLM accuracy "
        f"({stage0['held_out_sentences']:,} lines): {stage0['mlm_accuracy_before']:.1f} % untrained → "
        f"{stage0['mlm_accuracy']:.1f} %.",
        f"- Stage 1 (every arm, one budget): {settings['steps']} steps, batch {settings['batch_size']} (low-resource: "
        f"batch {settings['low_resource_batch_size']}, bfloat16 autocast), 10 % warm-up, α = {settings['mlm_weight']}, "
        f"τ = 0.07; learning rate {lr['learning_rate']:g} (from scratch: {settings['learning_rate']:g}), chosen on "
        f"CZ-snt seed {settings['seeds'][0]} among {selection} (held-out WPS sentence retrieval en → xx, %). "
        f"Sentence term weight {SENTENCE_TERM_WEIGHT}; +ND = `--batch_sampler no_duplicates`. Seeds "
        f"{', '.join(map(str, settings['seeds']))} (stage 0: POS fine-tuning seeds only).",
        f"- Data: WPS from the first {settings['pairs_per_language']:,} Multi30k pairs per language "
        f"({shared['wps_train']:,} train / {shared['wps_validation']:,} held-out).",
        f"- Evaluation (run_xtreme): retrieval at hidden_states[{settings['retrieval_layer']}] of "
        f"{settings['num_layers']} layers (XTREME's `--specific_layer 7` = hidden_states[8] of mBERT's 12, the same "
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


def question_lines(summary: dict) -> list[str]:
    """The closing questions, answered by differences of means (points) and pooled seed stds."""
    arms = summary["table"].get("standard", {})
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


# ---------------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None):
    args, settings, work_dir, data_dir, command = parse_invocation(argv, "reproduce_continued.py", "continued", FULL,
                                                                   QUICK, run_one)
    if settings is None:
        return args
    import torch

    started, load_at_start = time.perf_counter(), os.getloadavg()[0]
    commit = git_commit(Path(__file__), HERE / "continued_stage0.py", HERE / "reproduce_ablation.py",
                        HERE / "ablation_report.py")
    shared = prepare_shared(data_dir, work_dir, settings)
    torch.set_num_threads(args.threads)  # more threads than free cores stalls torch on a shared machine
    stage0 = stage0_report(data_dir, work_dir, settings, shared)
    duplicates = duplicate_measurement(shared["wps"], {"standard": settings.batch_size,
                                                       "low-resource": settings.low_resource_batch_size})
    script = Path(__file__).resolve()
    run_all(args, settings, work_dir, [(f"lr={lr:g}", "CZ-snt", settings.seeds[0]) for lr in settings.lr_candidates],
            script)
    lr_choice = chosen_learning_rate(work_dir, settings)
    results = run_all(args, settings, work_dir, planned_runs(settings, ARMS), script)
    summary = {"command": command, "commit": commit, "quick": args.quick, "settings": asdict(settings),
               "shared": {k: v for k, v in shared.items() if not isinstance(v, str) and k != "settings"},
               "stage0": stage0, "lr_choice": lr_choice, "duplicates": duplicates,
               "wall_seconds": time.perf_counter() - started, "run_seconds": sum(r["wall_seconds"] for r in results),
               "n_runs": len(results), "n_planned": len(planned_runs(settings, ARMS)), "jobs": args.jobs,
               "cpus": os.cpu_count(), "load_at_start": load_at_start,
               "regimes": list(REGIMES)}
    results_dir = Path(args.results_dir or (work_dir if args.quick else REPO_ROOT / "results"))
    path = write_results(results, summary, results_dir, stem="ablation_continued",
                         title="ML-CTL continued from a pre-trained encoder", arms_order=ARMS, metrics=METRICS,
                         header_fn=header_lines, extra_fn=question_lines)
    print(path.read_text(encoding="utf-8"))
    return path


if __name__ == "__main__":
    sys.exit(cli(main, "reproduce_continued"))
