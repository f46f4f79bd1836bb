"""The fine-tuned XTREME tasks (XNLI, PAWS-X, UD POS, PAN-X NER), as XTREME runs them: fine-tune on English with the
Trainer, keep the checkpoint that is best on English dev, score every target language; tagging labels on the first
sub-token of each word, long sentences cut into chunks."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import torch

from data_prep.reading import InputError
from mlctl.evaluation.metrics import accuracy
from mlctl.evaluation.metrics import tagging_f1
from mlctl.evaluation.readers import XtremeData
from mlctl.evaluation.tasks import CLASSIFICATION_LABELS
from mlctl.evaluation.tasks import TAGGING_LABELS
from mlctl.evaluation.tasks import TAGGING_TASKS
from mlctl.evaluation.tasks import FineTuningSettings
from mlctl.evaluation.tasks import MissingDataError

logger = logging.getLogger(__name__)

#: The tag of a word that fell past the maximum length (scored as an error).
MISSING_WORD_TAG = "<no-prediction>"


def first_subtoken_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """Token labels with each word's label on its first sub-token and -100 elsewhere (XTREME's scheme)."""
    labels, previous = [], None
    for word_id in word_ids:
        labels.append(word_labels[word_id] if word_id is not None and word_id != previous else -100)
        previous = word_id
    return labels


def chunk_long_sentences(tokenizer, tokens: list[list[str]], tags: list[list[str]], max_length: int):
    """Split sentences whose sub-tokens exceed ``max_length`` into consecutive chunks, as XTREME does.

    Words that tokenize to nothing become the unknown token (XTREME's rule) so every word keeps a first
    sub-token. Returns ``(chunk words, chunk tags, sentence index of each chunk, replaced word count)``.
    """
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    flat = [word for sentence in tokens for word in sentence]
    lengths = [len(ids) for ids in tokenizer(flat, add_special_tokens=False)["input_ids"]] if flat else []
    chunks, replaced, position = [], 0, 0  # chunks: (words, tags, sentence index)
    for sentence_index, (sentence, sentence_tags) in enumerate(zip(tokens, tags)):
        current, current_tags, used = [], [], 0
        for word, tag in zip(sentence, sentence_tags):
            length = lengths[position]
            position += 1
            if length == 0:
                word, length, replaced = tokenizer.unk_token, 1, replaced + 1
            if current and used + length > budget:
                chunks.append((current, current_tags, sentence_index))
                current, current_tags, used = [], [], 0
            current.append(word)
            current_tags.append(tag)
            used += length
        chunks.append((current, current_tags, sentence_index))
    chunk_tokens, chunk_tags, chunk_sentence = ([chunk[column] for chunk in chunks] for column in range(3))
    return chunk_tokens, chunk_tags, chunk_sentence, replaced


class FineTunedTask:
    """Fine-tune on English, keep the best English-dev checkpoint, score every target language."""

    def __init__(self, task, model_name_or_path, tokenizer, data: XtremeData, settings: FineTuningSettings, output_dir: Path,
                 pretrained_kwargs: dict | None = None):
        self.task, self.model_name_or_path, self.tokenizer = task, model_name_or_path, tokenizer
        self.pretrained_kwargs = pretrained_kwargs or {}  # the Hub snapshot (HubArguments.pretrained_kwargs)
        self.data, self.settings, self.output_dir = data, settings, output_dir
        self.is_tagging = task in TAGGING_TASKS
        self.labels = TAGGING_LABELS[task] if self.is_tagging else CLASSIFICATION_LABELS[task]
        self.label2id = {label: i for i, label in enumerate(self.labels)}
        self.metric = tagging_f1 if self.is_tagging else accuracy
        self.trainer = None

    # -- datasets
    def _encode(self, split: str, lang: str, limit: int | None):
        """A tokenized ``datasets.Dataset`` for one split plus what is needed to score it per word/example."""
        import datasets

        max_length = self.settings.max_seq_length
        if not self.is_tagging:
            pairs = self.data.sentence_pairs(self.task, split, lang)
            s1, s2, labels = pairs.sentence1[:limit], pairs.sentence2[:limit], pairs.labels[:limit]  # None: all
            encoded = self.tokenizer(s1, s2, truncation=True, max_length=max_length)
            encoded["labels"] = [self.label2id[label] for label in labels]
            return datasets.Dataset.from_dict(dict(encoded)), {"labels": labels, "source": pairs.source}
        sentences = self.data.tagged_sentences(self.task, split, lang)
        tokens, tags = sentences.tokens[:limit], sentences.tags[:limit]
        chunk_tokens, chunk_tags, chunk_sentence, replaced = chunk_long_sentences(self.tokenizer, tokens, tags, max_length)
        if replaced:
            logger.info("%s/%s %s: %d words tokenize to nothing and were replaced by %s", self.task, lang, split,
                        replaced, self.tokenizer.unk_token)
        encoded = self.tokenizer(chunk_tokens, is_split_into_words=True, truncation=True, max_length=max_length)
        label_rows, first_positions = [], []
        for row, row_tags in enumerate(chunk_tags):
            word_ids = encoded.word_ids(row)
            # A test tag outside the tag set cannot be predicted (it is scored as wrong); id 0 only feeds the loss.
            word_labels = [self.label2id.get(tag, 0) for tag in row_tags]
            label_rows.append(first_subtoken_labels(word_ids, word_labels))
            first_positions.append({w: p for p, w in reversed(list(enumerate(word_ids))) if w is not None})
        encoded["labels"] = label_rows
        info = {"tags": tags, "chunk_sentence": chunk_sentence, "chunk_lengths": [len(c) for c in chunk_tokens],
                "first_positions": first_positions, "source": sentences.source}
        return datasets.Dataset.from_dict(dict(encoded)), info

    def _compute_dev_metrics(self, prediction):
        """Dev score for checkpoint selection: accuracy, or tagging F1 over first sub-tokens."""
        logits, label_ids = prediction.predictions, prediction.label_ids
        predicted = np.argmax(logits, axis=-1)
        if not self.is_tagging:
            return self.metric(predictions=predicted, references=label_ids)
        gold_rows, predicted_rows = [], []
        for gold, guess in zip(label_ids, predicted):
            keep = gold != -100
            gold_rows.append([self.labels[i] for i in gold[keep]])
            predicted_rows.append([self.labels[i] for i in guess[keep]])
        return self.metric(predictions=predicted_rows, references=gold_rows)

    # -- training
    def fine_tuning_source(self) -> str:
        """What the classifier is loaded from. A plain encoder: itself. An ML-CTL checkpoint: by default its backbone,
        exported with ``save_backbone`` (pooler included) to ``OUTPUT_DIR/backbone``, so that it gets the
        encoder family's own head exactly as a plain encoder does; with ``--mlctl_head`` the checkpoint itself
        (``MLCTLFor*Classification``: the mean vector and a new head)."""
        from transformers import AutoConfig

        from modeling_mlctl import MLCTLModel

        try:
            model_type = AutoConfig.from_pretrained(self.model_name_or_path, **self.pretrained_kwargs).model_type
        except (OSError, ValueError) as error:
            raise InputError(f"{self.model_name_or_path}: no config: {str(error).splitlines()[0]}") from None
        if model_type != "mlctl" or self.settings.mlctl_head:
            return self.model_name_or_path
        backbone_dir = self.output_dir / "backbone"
        MLCTLModel.from_pretrained(self.model_name_or_path, **self.pretrained_kwargs).save_backbone(backbone_dir)
        return str(backbone_dir)

    def train(self) -> dict:
        """Fine-tune on English train; returns the English dev scores of the kept checkpoint (empty without dev)."""
        from transformers import (AutoModelForSequenceClassification, AutoModelForTokenClassification,
                                  DataCollatorForTokenClassification, DataCollatorWithPadding, Trainer,
                                  TrainingArguments, set_seed)

        settings = self.settings
        train_set, _ = self._encode("train", "en", settings.max_train_samples)
        try:
            dev_set, _ = self._encode("dev", "en", settings.max_eval_samples)
        except MissingDataError as error:
            logger.warning("%s; keeping the model after the last training step instead of the best dev checkpoint", error)
            dev_set = None
        auto_class = AutoModelForTokenClassification if self.is_tagging else AutoModelForSequenceClassification
        set_seed(settings.seed)  # the new head is drawn here, before Trainer seeds: from the seed, not the process
        try:
            model = auto_class.from_pretrained(
                self.fine_tuning_source(), **self.pretrained_kwargs, num_labels=len(self.labels),
                id2label=dict(enumerate(self.labels)), label2id=self.label2id,
            )
        except (OSError, ValueError) as error:
            raise InputError(f"{self.model_name_or_path}: cannot load with {auto_class.__name__}: "
                             f"{str(error).splitlines()[0]}") from None
        collator = (DataCollatorForTokenClassification if self.is_tagging else DataCollatorWithPadding)(self.tokenizer)
        checkpoint_dir = self.output_dir / f"{self.task}-checkpoints"
        strategy = "epoch" if dev_set is not None else "no"
        arguments = TrainingArguments(
            output_dir=str(checkpoint_dir),
            learning_rate=settings.learning_rate,
            num_train_epochs=settings.tagging_epochs if self.is_tagging else settings.classification_epochs,
            max_steps=settings.max_steps,
            per_device_train_batch_size=settings.per_device_train_batch_size,
            per_device_eval_batch_size=settings.per_device_eval_batch_size,
            weight_decay=settings.weight_decay,
            warmup_steps=settings.warmup_steps,
            eval_strategy=strategy,
            save_strategy=strategy,
            save_total_limit=1,
            load_best_model_at_end=dev_set is not None,
            metric_for_best_model="f1" if self.is_tagging else "accuracy",
            greater_is_better=True,
            save_only_model=True,
            logging_strategy="epoch",
            report_to="none",
            dataloader_pin_memory=torch.cuda.is_available(),
            seed=settings.seed,
        )
        self.trainer = Trainer(model=model, args=arguments, train_dataset=train_set, eval_dataset=dev_set,
                               data_collator=collator, processing_class=self.tokenizer,
                               compute_metrics=self._compute_dev_metrics)
        self.trainer.train()
        shutil.rmtree(checkpoint_dir, ignore_errors=True)  # the best model is loaded; checkpoints are spent
        if dev_set is None:
            return {}
        scores = self.trainer.evaluate(dev_set)
        return {key.removeprefix("eval_"): value for key, value in scores.items()
                if key.removeprefix("eval_") in ("accuracy", "f1", "precision", "recall", "token_accuracy")}

    def evaluate(self, lang: str, predictions_dir: Path) -> dict:
        """Scores on the test split of ``lang``; writes predictions in XTREME's format to ``predictions_dir``."""
        dataset, info = self._encode("test", lang, self.settings.max_eval_samples)
        logits = self.trainer.predict(dataset).predictions
        predicted = np.argmax(logits, axis=-1)
        predictions_dir.mkdir(parents=True, exist_ok=True)
        prediction_file = predictions_dir / f"test-{lang}.tsv"
        if not self.is_tagging:
            predicted_labels = [self.labels[i] for i in predicted]
            prediction_file.write_text("".join(f"{label}\n" for label in predicted_labels), encoding="utf-8")
            scores = self.metric(predictions=predicted, references=[self.label2id[g] for g in info["labels"]])
            return {**scores, "n_examples": len(predicted_labels), "source": info["source"]}
        sentences_predicted = [[] for _ in info["tags"]]
        lost = 0
        for row, (sentence_index, n_words) in enumerate(zip(info["chunk_sentence"], info["chunk_lengths"])):
            positions = info["first_positions"][row]  # of the words that kept a first sub-token
            sentences_predicted[sentence_index] += [
                self.labels[predicted[row][positions[word]]] if word in positions else MISSING_WORD_TAG
                for word in range(n_words)]
            lost += n_words - len(positions)
        if lost:
            logger.warning("%s/%s: %d words fell past --max_seq_length after tokenization; scored as errors",
                           self.task, lang, lost)
        prediction_file.write_text("".join("".join(f"{t}\n" for t in s) + "\n" for s in sentences_predicted),
                                   encoding="utf-8")
        scores = self.metric(predictions=sentences_predicted, references=info["tags"])
        return {**scores, "n_sentences": len(sentences_predicted), "n_words": sum(map(len, info["tags"])),
                "n_words_truncated": lost, "source": info["source"]}

