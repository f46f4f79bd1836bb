"""Reporting XTREME results: the task's Table-1 number, the paper's Table-1 row and a Markdown report (the model
card's ``model-index`` is read from ``results.json`` by `mlctl.training.model_card`)."""
from __future__ import annotations

import argparse

import numpy as np

from mlctl.evaluation.tasks import TABLE_COLUMNS


def summarize_task(task: str, per_language: dict[str, dict]) -> float | None:
    """The task's Table 1 number: the mean of its metric over the evaluated languages (None if none)."""
    metric = TABLE_COLUMNS[task][1]
    values = [scores[metric] for scores in per_language.values()]
    return float(np.mean(values)) if values else None


def markdown_table(results: dict) -> str:
    """One row in the layout of the ML-CTL paper's Table 1; tasks without a score show a dash."""
    header = "| model | " + " | ".join(column for column, _ in TABLE_COLUMNS.values()) + " |"
    cells = []
    for task in TABLE_COLUMNS:
        average = results["tasks"].get(task, {}).get("average")
        cells.append("–" if average is None else f"{average:.1f}")
    return "\n".join([header, "|" + "---|" * (len(TABLE_COLUMNS) + 1),
                      f"| {results['model']} | " + " | ".join(cells) + " |"])


def describe_model(model_name_or_path: str, **pretrained_kwargs) -> dict:
    """Type, depth and width of the checkpoint (the backbone's, for ML-CTL), for the record."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_name_or_path, **pretrained_kwargs)
    backbone = getattr(config, "encoder_config", None) or config
    backbone = backbone if not isinstance(backbone, dict) else argparse.Namespace(**backbone)
    return {"model_type": config.model_type, "num_hidden_layers": getattr(backbone, "num_hidden_layers", None),
            "hidden_size": getattr(backbone, "hidden_size", None)}


def markdown_report(results: dict) -> str:
    """Table 1 row, per-language scores and wall time per task, for a results/*.md note."""
    model = results["model_config"]
    lines = [f"# XTREME zero-shot results: `{results['model']}`", "",
             f"Command: `{results['command']}`", "",
             f"Model: {model['model_type']}, {model['num_hidden_layers']} layers, hidden size {model['hidden_size']}"
             + (f"; retrieval on hidden_states[{results['retrieval_layer']}]" if "retrieval_layer" in results else ""),
             "", markdown_table(results), ""]
    lines += ["| task | metric | average | languages | wall time (s) |", "|---|---|---|---|---|"]
    for task, entry in results["tasks"].items():
        average = "–" if entry.get("average") is None else f"{entry['average']:.2f}"
        languages = ", ".join(f"{lang} {scores[TABLE_COLUMNS[task][1]]:.2f}" for lang, scores in entry["languages"].items())
        lines.append(f"| {task} | {TABLE_COLUMNS[task][1]} | {average} | {languages or '–'} | {entry['wall_time_s']:.1f} |")
    problems = [f"- {task}: {message}" for task, entry in results["tasks"].items()
                for message in entry.get("missing", []) + entry.get("errors", [])]
    if problems:
        lines += ["", "Missing or unusable data:", *problems]
    return "\n".join(lines) + "\n"
