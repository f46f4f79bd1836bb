"""Stage 0 of the continued ablation (``benchmarks/reproduce_continued.py``): the stand-in for mBERT. A small BERT
pre-trained with masked language modelling only, on the monolingual Multi30k training text of en, de, fr and cs, each
language shuffled on its own (so no line is next to its translation: no parallel signal, as mBERT had none). Trained
once and cached.

The model is a plain ``BertForMaskedLM`` checkpoint (encoder and MLM head; no next-sentence task, hence no
trained pooler) so that stage 1 starts from it exactly as a user starts from ``bert-base-multilingual-cased``:
``MLCTLForPreTraining.from_backbone_pretrained``.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

from data_prep.reading import read_text_lines
from mlctl.files import write_json_atomic

STAGE0_LANGUAGES = ("en", "de", "fr", "cs")


def monolingual_corpus(multi30k: Path, held_out_per_language: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """(train lines, held-out lines): every language's training lines shuffled with its own generator, the last
    `held_out_per_language` of each held out for MLM accuracy, the training lines of all languages interleaved
    by one more shuffle."""
    train, held_out = [], []
    for offset, lang in enumerate(STAGE0_LANGUAGES):
        lines = [line.strip() for _, line in read_text_lines(multi30k / f"train.{lang}.gz") if line.strip()]
        random.Random(seed + offset).shuffle(lines)
        train += lines[:-held_out_per_language]
        held_out += lines[-held_out_per_language:]
    random.Random(seed).shuffle(train)
    return train, held_out


def masked_lm_accuracy(model, tokenizer, lines: list[str], max_length: int, seed: int = 0, batch_size: int = 128) -> float:
    """Accuracy of the MLM head on the 15 % masked positions (80/10/10) of `lines`, masking seeded."""
    import torch
    from transformers import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=seed)
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for start in range(0, len(lines), batch_size):
            encoded = tokenizer(lines[start:start + batch_size], truncation=True, max_length=max_length)
            batch = collator([{"input_ids": ids} for ids in encoded["input_ids"]])
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            selected = batch["labels"] != -100
            correct += int((logits.argmax(-1)[selected] == batch["labels"][selected]).sum())
            total += int(selected.sum())
    return correct / max(total, 1)


def train_stage0(shared: dict, multi30k: Path, out_dir: Path, settings, seed: int = 0) -> dict:
    """Trains (once: cached by ``out_dir/stage0.json``) the MLM-only model with the ``stage0_*`` budget of `settings`
    (the continued ablation's) at its `max_length`; returns its report (budget, held-out MLM accuracy before and
    after, wall time)."""
    report_path = out_dir / "stage0.json"
    if report_path.is_file():
        return json.loads(report_path.read_text(encoding="utf-8"))
    import datasets
    from transformers import (AutoConfig, BertForMaskedLM, DataCollatorForLanguageModeling, Trainer,
                              TrainingArguments, set_seed)

    from data_prep.tokenizer import load_auto_fast_tokenizer

    steps, batch_size, learning_rate = settings.stage0_steps, settings.stage0_batch_size, settings.stage0_learning_rate
    max_length = settings.max_length
    set_seed(seed)
    tokenizer = load_auto_fast_tokenizer(shared["tokenizer"], "stage-0 MLM")
    model = BertForMaskedLM(AutoConfig.from_pretrained(shared["encoder_config"]))
    train_lines, held_out = monolingual_corpus(multi30k, settings.stage0_held_out, seed)
    train = datasets.Dataset.from_dict({"text": train_lines}).map(
        lambda rows: tokenizer(rows["text"], truncation=True, max_length=max_length), batched=True,
        remove_columns=["text"])
    before = masked_lm_accuracy(model, tokenizer, held_out, max_length)
    arguments = TrainingArguments(
        output_dir=str(out_dir / "trainer"), max_steps=steps, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, warmup_steps=steps // 10, weight_decay=0.01, logging_steps=max(steps // 20, 1),
        save_strategy="steps", save_steps=max(steps // 4, 1), save_total_limit=1, report_to="none", seed=seed,
        use_cpu=True, disable_tqdm=True, dataloader_pin_memory=False,
    )
    trainer = Trainer(model=model, args=arguments, train_dataset=train,
                      data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=seed))
    from transformers.trainer_utils import get_last_checkpoint

    checkpoint = get_last_checkpoint(arguments.output_dir) if Path(arguments.output_dir).is_dir() else None
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    model_dir = out_dir / "model"
    trainer.model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    report = {
        "model_dir": str(model_dir), "steps": steps, "batch_size": batch_size, "learning_rate": learning_rate,
        "train_sentences": len(train_lines), "epochs": round(steps * batch_size / len(train_lines), 2),
        "held_out_sentences": len(held_out), "mlm_accuracy_before": 100.0 * before,
        "mlm_accuracy": 100.0 * masked_lm_accuracy(trainer.model, tokenizer, held_out, max_length),
        "final_train_loss": next((log["loss"] for log in reversed(trainer.state.log_history) if "loss" in log), None),
        "train_seconds": round(seconds, 1), "resumed_from": checkpoint,
    }
    write_json_atomic(report_path, report)  # the cache marker: whole or absent
    return report
