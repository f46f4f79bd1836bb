"""The model card of an ML-CTL checkpoint (huggingface_hub `ModelCard`): base model, training data, every ML-CTL
hyper-parameter, training settings, final losses and, when given, XTREME results as `model-index`."""
from __future__ import annotations

import json
from pathlib import Path

from mlctl.training.arguments import mlctl_flag_fields
from mlctl.training.errors import TrainingSetupError

#: How the card says to load the checkpoint (``name``: its Hub name). The tokenizer is a standard one: with
#: ``trust_remote_code=False`` it loads without running the checkpoint's code and without transformers' "Do you wish
#: to run the custom code?" prompt, which ``AutoTokenizer`` otherwise shows because it reads the config (whose
#: ``auto_map`` names the ML-CTL code) first.
USAGE = """from transformers import AutoModel, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{name}", trust_remote_code=False)  # a standard tokenizer: no custom code
model = AutoModel.from_pretrained("{name}", trust_remote_code=True)  # MLCTLModel: CCE, sentence and word embeddings
"""
#: The ML-CTL values logged beside the loss at every logging step (see `MLCTLTrainer`).
TRAIN_METRICS = ("contrastive_loss", "mlm_loss", "x2y_accuracy", "y2x_accuracy")


def final_losses(log_history: list[dict]) -> dict[str, float]:
    """The last logged training values (loss, contrastive, MLM, in-batch accuracies) and the last evaluation."""
    summary = {}
    for entry in log_history:
        if "loss" in entry:
            summary.update({f"train_{name}": entry[name] for name in ("loss",) + TRAIN_METRICS if name in entry})
        summary.update({name: value for name, value in entry.items() if name.startswith("eval_") and "runtime" not in name
                        and "per_second" not in name})
    return summary


def model_index_results(results_json, per_language: bool = False) -> list:
    """``huggingface_hub.EvalResult`` entries for a model card's ``model-index`` from a ``run_xtreme_tasks.py``
    ``results.json`` (its path or its loaded dict; each task entry names its Table-1 column, metric and Hub task
    type). One entry per task average (the Table 1 numbers), plus one per language when ``per_language``."""
    from huggingface_hub import EvalResult

    results = results_json if isinstance(results_json, dict) else json.loads(Path(results_json).read_text(encoding="utf-8"))
    entries = []
    for task, entry in results["tasks"].items():
        rows = [(None, entry.get("average"))]
        if per_language:
            rows += [(lang, scores[entry["metric"]]) for lang, scores in entry["languages"].items()]
        for lang, value in rows:
            if value is None:
                continue
            entries.append(EvalResult(
                task_type=entry["task_type"], task_name=f"XTREME {task} (zero-shot from English)",
                dataset_type="google/xtreme", dataset_name=f"XTREME {task}" + (f" ({lang})" if lang else ""),
                dataset_config=f"{task}.{lang}" if lang else task, dataset_split="test",
                metric_type=entry["metric"], metric_name=entry["column"] + (f" ({lang})" if lang else ""),
                metric_value=round(float(value), 2),
            ))
    return entries


def xtreme_eval_results(results_json: str | None) -> list:
    """`model-index` entries from a `run_xtreme_tasks.py` results.json ([] without one)."""
    if not results_json:
        return []
    if not Path(results_json).is_file():
        raise TrainingSetupError(f"--xtreme_results {results_json}: no such file")
    try:
        return model_index_results(results_json)
    except ValueError as error:
        raise TrainingSetupError(f"--xtreme_results {results_json}: not JSON ({error})") from None
    except (KeyError, TypeError, AttributeError) as error:
        raise TrainingSetupError(f"--xtreme_results {results_json}: not a results.json of this version's "
                                 f"run_xtreme_tasks.py (missing or malformed {error})") from None


def write_model_card(trainer, path: Path, base_model: str | None = None, training_data: str = "",
                     languages: list[str] | None = None, xtreme_results: str | None = None,
                     base_model_commit: str | None = None, tokenizer_commit: str | None = None) -> str:
    """Writes the model card (huggingface_hub `ModelCard`) to `path` and returns its text: base model, the commits
    the base model and the tokenizer were loaded from (`HubArguments.resolved_commit`: a Hub commit hash, or
    "local"), training data, every ML-CTL hyper-parameter, the training settings, final losses and XTREME results
    when given."""
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
        for field_name, _, _ in mlctl_flag_fields()
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
Loaded from: model commit `{base_model_commit or "none"}`, tokenizer commit `{tokenizer_commit or "none"}`.

## Use

```python
{USAGE.format(name=name)}```

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

