"""Batches of parallel word positioned samples (WPS) for [`MLCTLForPreTraining`]: tokenisation of text rows,
word masks, and BERT MLM masking that is a deterministic function of (seed, epoch, row)."""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import DataCollatorForLanguageModeling

from data_prep.tokenizer import MAX_SEQ_LENGTH
from data_prep.tokenizer import token_span

#: Collator output prefix of each side of a WPS pair and the dataset column prefix it is read from.
SIDES = (("x", "src"), ("y", "tgt"))
#: Columns of a pre-tokenised WPS side (data_prep built with a tokenizer) and of a text-only one.
TOKENIZED_COLUMNS = ("input_ids", "word_start", "word_end")
TEXT_COLUMNS = ("text", "char_start", "char_end")
#: Collator outputs that carry MLM masking; without them the model encodes clean input and computes no MLM loss.
MLM_INPUTS = ("x_mlm_input_ids", "x_labels", "y_mlm_input_ids", "y_labels")


def tokenize_wps_sides(tokenizer, texts: list[str], char_starts: list[int], char_ends: list[int],
                       max_length: int) -> list[tuple[list[int], int, int]]:
    """(token ids with special tokens, truncated to `max_length`; word start; word end) of each WPS side given as
    text and the character span of its marked word, located by `data_prep.tokenizer.token_span` exactly as
    data_prep locates it for pre-tokenised rows. The span is (0, 0) when the word has no token or truncation cut
    it off."""
    encodings = tokenizer(list(texts), truncation=True, max_length=max_length, return_offsets_mapping=True)
    sides = []
    for ids, offsets, char_start, char_end in zip(encodings["input_ids"], encodings["offset_mapping"], char_starts,
                                                  char_ends):
        span = token_span(offsets, char_start, char_end, may_be_truncated=len(ids) >= max_length)
        sides.append((ids, *((0, 0) if isinstance(span, str) else span)))
    return sides


@dataclass
class MLCTLDataCollator:
    """Turns parallel WPS rows into the inputs of [`MLCTLForPreTraining`] for both `mlm_mode`s.

    For each side (x from the `src_` columns, y from `tgt_`) it produces `{side}_input_ids`, `{side}_attention_mask`,
    `{side}_token_type_ids` (when the tokenizer uses them), `{side}_word_mask` (1 on the marked word's tokens) and,
    with `mlm_probability > 0`, `{side}_mlm_input_ids` and `{side}_labels` (BERT masking: `mlm_probability` of the
    non-special tokens, 80% [MASK] / 10% random / 10% unchanged, by transformers' `DataCollatorForLanguageModeling`).
    Every side is right-padded to the longest sequence of the batch on that side.

    Rows are either pre-tokenised (`src_input_ids`, `src_word_start`, `src_word_end`, ...: the ids are used as they
    are) or text with character spans (`src_text`, `src_char_start`, `src_char_end`, ...: tokenised here, truncated
    to `max_length`).

    The masking of a sequence is a deterministic function of (`seed`, epoch, the sequence and its word span): a
    resumed run masks exactly as the uninterrupted one, and N processes with batch n mask exactly as one process
    with batch N·n. The epoch (set by [`MLCTLTrainer`] through `set_epoch`) makes the masks change every epoch.
    """

    tokenizer: Any
    mlm_probability: float = 0.15
    max_length: int = MAX_SEQ_LENGTH
    pad_to_multiple_of: int | None = None
    seed: int = 42
    epoch: int = 0

    def __post_init__(self):
        if not 0 <= self.mlm_probability <= 1:
            raise ValueError(f"MLCTLDataCollator: mlm_probability={self.mlm_probability} must lie in [0, 1]")
        if self.tokenizer.pad_token_id is None:
            raise ValueError(f"MLCTLDataCollator: the tokenizer {self.tokenizer.name_or_path!r} has no pad token")
        self.masker = None
        if self.mlm_probability > 0:
            if self.tokenizer.mask_token is None:
                raise ValueError(f"MLCTLDataCollator: the tokenizer {self.tokenizer.name_or_path!r} has no mask token; "
                                 "pass mlm_probability=0 to train without MLM")
            self.masker = DataCollatorForLanguageModeling(self.tokenizer, mlm_probability=self.mlm_probability)
        self.uses_token_type_ids = "token_type_ids" in self.tokenizer.model_input_names

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def encode_side(self, rows: list[dict], column_prefix: str) -> list[tuple[list[int], int, int]]:
        """(token ids, word start, word end) of one side of each row, pre-tokenised or tokenised here."""
        if f"{column_prefix}_input_ids" in rows[0]:
            encoded = [tuple(row[f"{column_prefix}_{name}"] for name in TOKENIZED_COLUMNS) for row in rows]
        else:
            text, char_start, char_end = ([row[f"{column_prefix}_{name}"] for row in rows] for name in TEXT_COLUMNS)
            encoded = tokenize_wps_sides(self.tokenizer, text, char_start, char_end, self.max_length)
        for row, (ids, start, end) in zip(rows, encoded):
            if not 0 <= start < end <= len(ids):
                raise ValueError(
                    f"MLCTLDataCollator: {column_prefix} word span [{start}, {end}) is empty or outside the {len(ids)} "
                    f"tokens of {row.get(f'{column_prefix}_text', ids)!r}"
                )
        return encoded

    def mask_tokens(self, ids: list[int], key: bytes) -> tuple[torch.Tensor, torch.Tensor]:
        """BERT MLM masking of one sequence by transformers' own `torch_mask_tokens`, with a generator seeded from
        (seed, epoch, key). Returns (masked ids, labels with -100 where nothing is predicted)."""
        digest = hashlib.blake2b(key, digest_size=8, key=f"{self.seed}:{self.epoch}".encode()).digest()
        self.masker.generator = torch.Generator().manual_seed(int.from_bytes(digest, "little") >> 1)
        special = self.tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
        masked, labels = self.masker.torch_mask_tokens(
            torch.tensor([ids]), special_tokens_mask=torch.tensor([special], dtype=torch.bool)
        )
        return masked[0], labels[0]

    def _padded(self, sequences: list, value: int) -> torch.Tensor:
        length = max(len(sequence) for sequence in sequences)
        if self.pad_to_multiple_of:
            length = math.ceil(length / self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = torch.full((len(sequences), length), value, dtype=torch.long)
        for row, sequence in enumerate(sequences):
            batch[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
        return batch

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        batch = {}
        for side, column_prefix in SIDES:
            encoded = self.encode_side(rows, column_prefix)
            ids = [item[0] for item in encoded]
            batch[f"{side}_input_ids"] = self._padded(ids, self.tokenizer.pad_token_id)
            batch[f"{side}_attention_mask"] = self._padded([[1] * len(item) for item in ids], 0)
            if self.uses_token_type_ids:
                batch[f"{side}_token_type_ids"] = self._padded([[0] * len(item) for item in ids], 0)
            batch[f"{side}_word_mask"] = self._padded(
                [[0] * start + [1] * (end - start) + [0] * (len(ids) - end) for ids, start, end in encoded], 0
            )
            if self.masker is not None:
                masked = [
                    self.mask_tokens(ids, side.encode() + np.asarray([start, end, *ids], dtype=np.int64).tobytes())
                    for ids, start, end in encoded
                ]
                batch[f"{side}_mlm_input_ids"] = self._padded([item[0] for item in masked], self.tokenizer.pad_token_id)
                batch[f"{side}_labels"] = self._padded([item[1] for item in masked], -100)
        return batch

