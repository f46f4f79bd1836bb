"""The report of an ablation: aggregation over seeds, the paper's ordering verdicts, CZ-NCE vs InfoNCE, the Markdown
note, the JSON and the bar chart."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from mlctl.experiments.provenance import RunRecord
from mlctl.experiments.settings import ARMS, REGIMES
from modeling_mlctl import MLCTLConfig

#: The paper's claimed ordering (best first) of the arms it reports.
PAPER_ORDER = ("ML-CTL-CZ", "CZ-snt", "info-snt", "MLM only")
#: (CZ-NCE arm, its InfoNCE twin): the loss comparison at each level.
LOSS_PAIRS = (("CZ-snt", "info-snt"), ("ML-CTL-CZ", "ML-CTL-info"))
#: Table columns: result key, header, what it averages.
METRICS = (
    ("multi30k", "Multi30k retrieval acc", "test_2016_flickr en → de/fr/cs (XTREME's direction), mean"),
    ("tatoeba", "Tatoeba acc", "eng → deu/fra (XTREME's direction), mean"),
    ("pos_f1", "POS F1 (de)", "UD German-GSD test, fine-tuned on English"),
    ("word", "word retrieval acc", "held-out aligned words, word vectors, xx → en"),
    ("word_cce", "word CCE retrieval acc", "held-out aligned words, CCE (sentence+word arms only)"),
)


# ------------------------------------------------------------------------------------------- aggregation


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof 1; None for a single value: one seed has no spread)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else None


def aggregate(results: list[dict]) -> dict:
    """{regime: {arm: {metric: {"mean", "std", "n", "values"}}}} over seeds; metrics that are None are left out."""
    table: dict = {}
    for result in sorted(results, key=lambda r: r["seed"]):
        arm_entry = table.setdefault(result["regime"], {}).setdefault(result["arm"], {})
        for name, value in result["metrics"].items():
            if value is not None:
                arm_entry.setdefault(name, {"values": []})["values"].append(value)
    for arms in table.values():
        for metrics in arms.values():
            for entry in metrics.values():
                entry["mean"], entry["std"] = mean_std(entry["values"])
                entry["n"] = len(entry["values"])
    return table


def format_cell(entry: dict | None) -> str:
    if entry is None:
        return "–"
    return f"{entry['mean']:.1f}" + ("" if entry["std"] is None else f" ± {entry['std']:.1f}")


def gap(arms: dict, better: str, worse: str, metric: str) -> dict | None:
    """Difference of means (better − worse) and that difference over the pooled seed std sqrt((s1² + s2²) / 2);
    ``pooled_std`` and ``in_stds`` are None when an arm has one seed (no spread to measure against)."""
    if better not in arms or worse not in arms or metric not in arms[better] or metric not in arms[worse]:
        return None
    a, b = arms[better][metric], arms[worse][metric]
    difference = a["mean"] - b["mean"]
    if a["std"] is None or b["std"] is None:
        return {"difference": difference, "pooled_std": None, "in_stds": None}
    pooled = math.sqrt((a["std"] ** 2 + b["std"] ** 2) / 2)
    return {"difference": difference, "pooled_std": pooled,
            "in_stds": difference / pooled if pooled > 0 else (math.inf if difference else 0.0)}


def format_gap(step: dict) -> str:
    """A `gap` as the reports print it: "+1.2 (+3.4 std)", or "+1.2 (one seed)" without a spread."""
    spread = "one seed" if step["in_stds"] is None else f"{step['in_stds']:+.1f} std"
    return f"{step['difference']:+.1f} ({spread})"


def ordering_verdicts(arms: dict, metrics=METRICS) -> list[dict]:
    """Per metric that all four arms of the paper's ordering have: does ML-CTL-CZ > CZ-snt > info-snt > MLM only
    hold on the means, and the gap of each step."""
    verdicts = []
    for metric, header, _ in metrics:
        present = [name for name in PAPER_ORDER if metric in arms.get(name, {})]
        if len(present) < len(PAPER_ORDER):
            continue
        steps = [(better, worse, gap(arms, better, worse, metric)) for better, worse in zip(present, present[1:])]
        verdicts.append({"metric": metric, "header": header, "arms": present,
                         "held": all(step["difference"] > 0 for _, _, step in steps),
                         "steps": [{"better": b, "worse": w, **step} for b, w, step in steps]})
    return verdicts


def ablation_header(summary: dict, record: RunRecord) -> list[str]:
    """The ablation note's title and header: the provenance of `record` (command, commit, machine, wall time), then
    the runs' time, the data, the model, the budget and the evaluation from `summary`."""
    settings, shared = summary["settings"], summary["shared"]
    return [
        f"# ML-CTL ablation in miniature{' (QUICK MODE: smoke-sized, not the result)' if summary['quick'] else ''}",
        "",
        *record.header(),
        f"- Runs: {summary['run_seconds']:.0f} s summed over the {summary['n_runs']} runs (train + evaluate), "
        f"{summary['jobs']} at a time; data preparation {shared['seconds']:.0f} s.",
        f"- Data: the first {settings['pairs_per_language']:,} Multi30k training pairs of en–de, en–fr and en–cs; "
        f"WPS by data_prep (eflomal, intersection): {shared['wps_train']:,} train / {shared['wps_validation']:,} "
        f"held-out ({settings['validation_fraction']:.0%} of the sentence pairs); WordPiece vocabulary "
        f"{shared['vocab_size']:,} trained on the same text.",
        f"- Model: BERT from scratch, {settings['num_layers']} layers, hidden {settings['hidden_size']}, "
        f"{settings['num_heads']} heads, FFN {settings['intermediate_size']}; MLM weight α = {settings['mlm_weight']} "
        f"(shared pass), τ = {MLCTLConfig.temperature}, CCE = avg-first-last pooling.",
        f"- Budget per run (every arm): {settings['steps']} steps, lr {settings['learning_rate']} (10% warm-up, linear "
        f"decay), seeds {', '.join(map(str, settings['seeds']))}. Standard regime: batch {settings['batch_size']}, "
        f"float32. Low-resource regime: batch {settings['low_resource_batch_size']}, bfloat16 autocast.",
        "- Evaluation (run_xtreme_tasks.py): retrieval = mean-pooled last layer, cosine, en → xx (XTREME's "
        "direction; xx → en in the JSON); Multi30k "
        f"test_2016_flickr ({shared['multi30k_test_pairs']:,} pairs per language); Tatoeba 1,000 pairs per language; "
        f"POS fine-tuned {settings['pos_steps']} steps (lr {settings['pos_learning_rate']}, batch 32) on "
        f"{shared['pos_sentences']['train']:,} UD English-EWT dev sentences (checkpoint chosen on the other "
        f"{shared['pos_sentences']['dev']:,}), tested on UD German-GSD test. Word retrieval: up to "
        f"{settings['word_pairs_per_language']:,} held-out aligned word pairs per language; each target word (in its "
        "sentence) must retrieve its English word among all of them.",
        "",
        "Numbers are mean ± sample std over seeds, in %. The paper's ablation rows are info-snt, CZ-snt and ML-CTL-CZ "
        "over mBERT (here: the MLM-only baseline); ML-CTL-info completes the 2 × 2 (levels × loss).",
        "",
    ]


def markdown(summary: dict, header: list[str], extra: list[str] = (), arms_order=ARMS, metrics=METRICS) -> str:
    """The results note: `header` (title, provenance, settings), the tables, the plain verdicts, the `extra` lines,
    the loss comparison and the per-language means."""
    table = summary["table"]
    lines = list(header)
    for regime in REGIMES:
        arms = table.get(regime)
        if not arms:
            continue
        lines += [f"## {regime.capitalize()} regime", "",
                  "| model | " + " | ".join(name for _, name, _ in metrics) + " |",
                  "|---|" + "---|" * len(metrics)]
        for arm in arms_order:
            if arm.name in arms:
                n = max(entry["n"] for entry in arms[arm.name].values())
                lines.append(f"| {arm.name} (n={n}) | "
                             + " | ".join(format_cell(arms[arm.name].get(metric)) for metric, _, _ in metrics) + " |")
        if not all(name in arms for name in PAPER_ORDER):
            lines.append("")
            continue
        lines += ["", "Does the paper's ordering (ML-CTL-CZ > CZ-snt > info-snt > MLM only) hold on the means? "
                  "Each step: difference of means (points) and that difference in pooled seed stds.", ""]
        for verdict in ordering_verdicts(arms, metrics):
            steps = "; ".join(f"{s['better']} − {s['worse']} = {format_gap(s)}"
                              for s in verdict["steps"])
            lines.append(f"- **{verdict['header']}**: {'held' if verdict['held'] else 'did not hold'} — {steps}")
        lines.append("")
    lines += list(extra)
    lines += loss_comparison(table, metrics)
    lines += ["## Per language (mean over seeds)", "", "| regime | model | metric | " + " | ".join(
        ("de", "fr", "cs")) + " |", "|---|---|---|---|---|---|"]
    for regime, arm, metric, per_language in summary["per_language_means"]:
        cells = [("–" if per_language.get(lang) is None else f"{per_language[lang]:.1f}") for lang in ("de", "fr", "cs")]
        lines.append(f"| {regime} | {arm} | {metric} | " + " | ".join(cells) + " |")
    lines += ["", f"Every run's numbers: `{summary['json_name']}`; chart: `{summary['png_name']}`.", ""]
    return "\n".join(lines)


def loss_comparison(table: dict, metrics=METRICS) -> list[str]:
    """Markdown lines: CZ-NCE minus InfoNCE at equal levels, per metric, side by side for the two regimes (the
    paper: CZ-NCE helps most when compute is limited, i.e. the gap should be larger in the low-resource regime)."""
    rows = []
    for cz, info in LOSS_PAIRS:
        for metric, header, _ in metrics:
            cells = [gap(table.get(regime, {}), cz, info, metric) for regime in REGIMES]
            if any(cells):
                rows.append(f"| {cz} − {info} | {header} | " + " | ".join(
                    "–" if c is None else format_gap(c) for c in cells) + " |")
    if not rows:
        return []
    return ["## CZ-NCE vs InfoNCE at equal levels", "",
            "Difference of means in points (positive: CZ-NCE better), and in pooled seed stds.", "",
            "| comparison | metric | " + " | ".join(f"{regime} regime" for regime in REGIMES) + " |",
            "|---|---|" + "---|" * len(REGIMES), *rows, ""]


def per_language_means(results: list[dict], arms_order=ARMS, metrics=METRICS) -> list[tuple[str, str, str, dict]]:
    """(regime, arm, metric, {lang: mean over seeds}) rows for the per-language table."""
    rows = []
    for regime in REGIMES:
        for arm in arms_order:
            runs = [r for r in results if r["regime"] == regime and r["arm"] == arm.name]
            if not runs:
                continue
            for metric, header, _ in metrics:
                if metric not in runs[0]["per_language"]:  # e.g. the English dev score: no per-language values
                    continue
                languages = runs[0]["per_language"][metric]
                means = {lang: (None if any(r["per_language"][metric][lang] is None for r in runs)
                                else float(np.mean([r["per_language"][metric][lang] for r in runs])))
                         for lang in languages}
                if any(value is not None for value in means.values()):
                    rows.append((regime, arm.name, header, means))
    return rows


def bar_chart(table: dict, path: Path, title: str, arms_order=ARMS, metrics=METRICS) -> None:
    """Grouped bars (metric groups, one bar per arm, seed std as error bars), one panel per regime."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regimes = [regime for regime in REGIMES if regime in table]
    figure, axes = plt.subplots(len(regimes), 1, figsize=(11, 4.2 * len(regimes)), squeeze=False)
    width = 0.8 / len(arms_order)
    for axis, regime in zip(axes[:, 0], regimes):
        for position, arm in enumerate(arms_order):
            values = table[regime].get(arm.name, {})
            means = [values[m]["mean"] if m in values else np.nan for m, _, _ in metrics]
            stds = [(values[m]["std"] or 0.0) if m in values else 0.0 for m, _, _ in metrics]
            axis.bar(np.arange(len(metrics)) + (position - (len(arms_order) - 1) / 2) * width, means, width,
                     yerr=stds, capsize=2, label=arm.name)
        axis.set_xticks(np.arange(len(metrics)), [header for _, header, _ in metrics], fontsize=8)
        axis.set_ylabel("%")
        axis.set_title(f"{regime} regime")
        axis.legend(fontsize=7, ncols=min(len(arms_order), 5))
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_results(results: list[dict], summary: dict, results_dir: Path, header: list[str], extra: list[str] = (),
                  stem: str = "ablation", title: str = "ML-CTL ablation in miniature", arms_order=ARMS,
                  metrics=METRICS) -> Path:
    """{stem}.json, {stem}.md and {stem}.png in `results_dir`; returns the Markdown path. The note opens with
    `header` and has the `extra` lines after the verdicts."""
    results_dir.mkdir(parents=True, exist_ok=True)
    table = aggregate(results)
    summary = {**summary, "table": table, "per_language_means": per_language_means(results, arms_order, metrics),
               "json_name": f"{stem}.json", "png_name": f"{stem}.png",
               "verdicts": {regime: ordering_verdicts(arms, metrics) for regime, arms in table.items()}}
    (results_dir / f"{stem}.json").write_text(json.dumps({**summary, "runs": results}, indent=2), encoding="utf-8")
    bar_chart(table, results_dir / f"{stem}.png", title + (" (quick mode)" if summary["quick"] else ""),
              arms_order, metrics)
    path = results_dir / f"{stem}.md"
    path.write_text(markdown(summary, header, extra, arms_order, metrics), encoding="utf-8")
    return path
