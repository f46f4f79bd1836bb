"""The WPS data of a training run: data_prep's DatasetDict checked (layout, token ids against the tokenizer),
text rows tokenised once, and a description of the data for the model card."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from data_prep.tokenizer import vocabulary_sha256

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
    return kept


def fit_to_model_length(dataset, max_positions: int, truncate: bool, where: str):
    """Checks that no token sequence is longer than the model's `max_positions` (its position embeddings) before
    training starts. Longer ones are refused with one line naming their count and the longest length, or with
    `truncate` (`--truncate_to_model_length`) cut to `max_positions` tokens keeping the final special token, as the
    tokenizer's own truncation does; pairs whose marked word is cut off are dropped, with a count."""
    import pyarrow.compute as pc

    lengths = {prefix: pc.list_value_length(dataset.data.column(f"{prefix}_input_ids")) for _, prefix in SIDES}
    too_long = pc.or_(*(pc.greater(length, max_positions) for length in lengths.values()))
    count = pc.sum(too_long).as_py() or 0
    if count == 0:
        return dataset
    longest = max(pc.max(length).as_py() for length in lengths.values())
    if not truncate:
        raise TrainingSetupError(
            f"{where}: {count} of {len(dataset)} pairs have more tokens than the model's {max_positions} positions "
            f"(longest {longest}); rebuild the data with a smaller --max_seq_length or pass --truncate_to_model_length")

    def truncate_sides(row):
        for _, prefix in SIDES:
            ids = row[f"{prefix}_input_ids"]
            if len(ids) > max_positions:
                row[f"{prefix}_input_ids"] = ids[:max_positions - 1] + ids[-1:]
        return row

    def word_inside(row):
        return all(row[f"{prefix}_word_end"] < len(row[f"{prefix}_input_ids"]) for _, prefix in SIDES)

    truncated = dataset.map(truncate_sides, desc=f"truncating {where}")
    kept = truncated.filter(word_inside, desc=f"checking {where}")
    logger.warning("%s: %d of %d pairs truncated to the model's %d positions (longest was %d); %d of them dropped "
                   "because the marked word was cut off", where, count, len(dataset), max_positions, longest,
                   len(dataset) - len(kept))
    return kept


def check_tokenizer_identity(train_dir: str, tokenizer) -> None:
    """Pre-tokenised data must come from this very tokenizer: data_prep records its identity (name, vocabulary size,
    vocabulary SHA-256) in its report, and a different vocabulary is refused with one line naming both. Data from
    an older data_prep (no identity recorded) pass with a warning."""
    report_path = Path(train_dir) / "data_prep_report.json"
    try:
        recorded = json.loads(report_path.read_text(encoding="utf-8")).get("tokenizer") or {}
    except (OSError, ValueError):
        recorded = {}
    if "vocab_sha256" not in recorded:
        logger.warning("%s: no tokenizer identity recorded (data_prep report missing or older): cannot check that the "
                       "token ids come from %r", train_dir, tokenizer.name_or_path)
        return
    digest = vocabulary_sha256(tokenizer)
    if recorded["vocab_sha256"] != digest:
        raise TrainingSetupError(
            f"{train_dir}: token ids built with tokenizer {recorded.get('name_or_path')!r} (vocabulary "
            f"{recorded.get('vocab_size')}, sha256 {recorded['vocab_sha256'][:12]}) but training uses "
            f"{tokenizer.name_or_path!r} (vocabulary {len(tokenizer)}, sha256 {digest[:12]}): rebuild the data with "
            "this tokenizer or pass the data's one as --tokenizer_name")


def _splits_saved_without_data(train_dir: str) -> list[str]:
    """The splits of a saved `DatasetDict` (or "" for a saved `Dataset`) whose `state.json` lists no data file:
    what `save_to_disk` writes for a split selected down to no rows (`.select([])`), on which `load_from_disk`
    fails with an `IndexError`. Anything unreadable is left to `load_from_disk`'s own error."""
    root = Path(train_dir)
    try:
        names = json.loads((root / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
    except (OSError, ValueError, KeyError, TypeError):
        names = [""]
    empty = []
    for name in names:
        try:
            state = json.loads((root / name / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            continue
        if isinstance(state, dict) and state.get("_data_files") == []:
            empty.append(name)
    return empty


def load_wps_splits(data_args: DataArguments, tokenizer, max_positions: int | None = None) -> tuple[Any, Any | None]:
    """(train split, validation split or None) of `--train_dir`, checked and ready for the collator: the tokenizer
    is the data's (pre-tokenised data), no sequence exceeds the model's `max_positions` (when given), the training
    split has rows; an empty or absent validation split gives None (training without validation)."""
    import datasets

    if not data_args.train_dir:
        raise TrainingSetupError("--train_dir is required (data_prep's output directory)")
    saved_empty = _splits_saved_without_data(data_args.train_dir)
    if saved_empty:
        raise TrainingSetupError(
            f"{data_args.train_dir}: not a WPS dataset: "
            + ", ".join(f"split {name!r}" if name else "the dataset" for name in saved_empty)
            + " is empty and was saved without a data file, which datasets cannot load (save an empty split with "
            "num_shards=1, as data_prep does, or leave it out)")
    try:
        splits = datasets.load_from_disk(data_args.train_dir)
    except (FileNotFoundError, ValueError) as error:
        raise TrainingSetupError(f"{data_args.train_dir}: not a dataset saved by data_prep: {str(error).splitlines()[0]}") from None
    if isinstance(splits, datasets.Dataset):
        splits = datasets.DatasetDict({data_args.train_split: splits})
    if data_args.train_split not in splits:
        raise TrainingSetupError(f"{data_args.train_dir}: no split {data_args.train_split!r} (has {', '.join(splits)})")

    def prepare(name: str, limit: int | None):
        where = f"{data_args.train_dir} [{name}]"
        split = prepare_split(splits[name], tokenizer, data_args.max_seq_length, limit, where)
        if max_positions is None:
            return split
        return fit_to_model_length(split, max_positions, data_args.truncate_to_model_length, where)

    if _check_columns(splits[data_args.train_split], data_args.train_dir) == "tokenized":
        check_tokenizer_identity(data_args.train_dir, tokenizer)
    if len(splits[data_args.train_split]) == 0:
        raise TrainingSetupError(f"{data_args.train_dir} [{data_args.train_split}]: no rows to train on")
    train = prepare(data_args.train_split, data_args.max_train_samples)
    if len(train) == 0:
        raise TrainingSetupError(f"{data_args.train_dir} [{data_args.train_split}]: no pair left to train on")
    validation = None
    if data_args.validation_split and data_args.validation_split in splits:
        if len(splits[data_args.validation_split]) > 0:
            validation = prepare(data_args.validation_split, data_args.max_eval_samples)
        if validation is None or len(validation) == 0:
            logger.warning("%s: the %r split is empty, so no evaluation", data_args.train_dir, data_args.validation_split)
            validation = None
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
