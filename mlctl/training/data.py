"""The WPS data of a training run: data_prep's DatasetDict checked (layout, token ids against the tokenizer),
text rows tokenised once, and a description of the data for the model card."""
from __future__ import annotations

import logging
from typing import Any

from mlctl.training.arguments import DataArguments
from mlctl.training.collator import SIDES
from mlctl.training.collator import TEXT_COLUMNS
from mlctl.training.collator import TOKENIZED_COLUMNS
from mlctl.training.collator import tokenize_wps_sides
from mlctl.training.errors import TrainingSetupError

logger = logging.getLogger(__name__)


def _check_columns(dataset, where: str) -> str:
    """'tokenized' or 'text': which WPS layout `dataset` has; a one-line error when it has neither."""
    columns = set(dataset.column_names)
    for layout, names in (("tokenized", TOKENIZED_COLUMNS), ("text", TEXT_COLUMNS)):
        needed = [f"{prefix}_{name}" for _, prefix in SIDES for name in names]
        if all(name in columns for name in needed):
            return layout
    raise TrainingSetupError(
        f"{where}: not WPS data: needs src_/tgt_ columns {', '.join(TOKENIZED_COLUMNS)} (pre-tokenised) or "
        f"{', '.join(TEXT_COLUMNS)}; found {', '.join(sorted(columns))}")


def _check_token_ids(dataset, tokenizer, where: str) -> None:
    """Pre-tokenised ids must come from this tokenizer: no id may lie beyond its vocabulary."""
    import pyarrow.compute as pc

    for _, prefix in SIDES:
        column = dataset.data.column(f"{prefix}_input_ids")
        largest = pc.max(pc.list_flatten(column)).as_py()
        if largest is not None and largest >= len(tokenizer):
            raise TrainingSetupError(
                f"{where}: column {prefix}_input_ids holds token id {largest} but the tokenizer "
                f"{tokenizer.name_or_path!r} has {len(tokenizer)} tokens: rebuild the data with this tokenizer")


def prepare_split(dataset, tokenizer, max_seq_length: int, limit: int | None, where: str):
    """Checks one WPS split; text-only data are tokenised once here (with `tokenize_wps_sides`, as the collator
    would) and pairs whose marked word is cut off by `max_seq_length` (or has no token) are dropped, with a count."""
    layout = _check_columns(dataset, where)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    if layout == "tokenized":
        _check_token_ids(dataset, tokenizer, where)
        return dataset

    def tokenize(batch):
        encoded = {}
        for _, prefix in SIDES:
            sides = tokenize_wps_sides(tokenizer, batch[f"{prefix}_text"], batch[f"{prefix}_char_start"],
                                       batch[f"{prefix}_char_end"], max_seq_length)
            for position, name in enumerate(TOKENIZED_COLUMNS):
                encoded[f"{prefix}_{name}"] = [side[position] for side in sides]
        return encoded

    dataset = dataset.map(tokenize, batched=True, desc=f"tokenizing {where}")
    kept = dataset.filter(lambda row: row["src_word_end"] > 0 and row["tgt_word_end"] > 0, desc=f"checking {where}")
    if len(kept) < len(dataset):
        logger.warning("%s: dropped %d of %d pairs whose marked word lies beyond --max_seq_length %d tokens",
                       where, len(dataset) - len(kept), len(dataset), max_seq_length)
    if len(kept) == 0:
        raise TrainingSetupError(f"{where}: no pair left to train on")
    return kept


def load_wps_splits(data_args: DataArguments, tokenizer) -> tuple[Any, Any | None]:
    """(train split, validation split or None) of `--train_dir`, checked and ready for the collator."""
    import datasets

    if not data_args.train_dir:
        raise TrainingSetupError("--train_dir is required (data_prep's output directory)")
    try:
        splits = datasets.load_from_disk(data_args.train_dir)
    except (FileNotFoundError, ValueError) as error:
        raise TrainingSetupError(f"{data_args.train_dir}: not a dataset saved by data_prep: {str(error).splitlines()[0]}") from None
    if isinstance(splits, datasets.Dataset):
        splits = datasets.DatasetDict({data_args.train_split: splits})
    if data_args.train_split not in splits:
        raise TrainingSetupError(f"{data_args.train_dir}: no split {data_args.train_split!r} (has {', '.join(splits)})")
    where = f"{data_args.train_dir} [{data_args.train_split}]"
    train = prepare_split(splits[data_args.train_split], tokenizer, data_args.max_seq_length,
                          data_args.max_train_samples, where)
    validation = None
    if data_args.validation_split and data_args.validation_split in splits:
        where = f"{data_args.train_dir} [{data_args.validation_split}]"
        validation = prepare_split(splits[data_args.validation_split], tokenizer, data_args.max_seq_length,
                                   data_args.max_eval_samples, where)
    elif data_args.validation_split:
        logger.warning("%s: no %r split, so no evaluation", data_args.train_dir, data_args.validation_split)
    return train, validation


def describe_training_data(data_args: DataArguments, train, validation) -> tuple[str, list[str]]:
    """A model-card paragraph on the data (pairs per language pair) and the list of languages."""
    pairs = {}
    if "src_lang" in train.column_names and "tgt_lang" in train.column_names:
        table = train.select_columns(["src_lang", "tgt_lang"]).with_format("arrow")[:]
        for row in table.group_by(["src_lang", "tgt_lang"]).aggregate([([], "count_all")]).to_pylist():
            pairs[f"{row['src_lang']}-{row['tgt_lang']}"] = row["count_all"]
    languages = sorted({lang for pair in pairs for lang in pair.split("-")})
    per_pair = ", ".join(f"{pair}: {count}" for pair, count in sorted(pairs.items()))
    text = (f"{len(train)} parallel word positioned sample pairs from `{data_args.train_dir}`"
            + (f" ({per_pair})" if per_pair else "")
            + (f"; {len(validation)} validation pairs." if validation is not None else "."))
    return text, languages
