"""Synthetic data with known answers, for the tests and the benchmarks: a parallel corpus whose gold word alignment
is the diagonal, and collated batches of random word positioned samples (WPS) for timing a training step."""
from __future__ import annotations

import random

import torch

#: English -> German content words of the synthetic corpus (none is a stopwords-iso stop word).
NOUNS = {"cat": "Katze", "dog": "Hund", "horse": "Pferd", "bird": "Vogel", "car": "Auto", "tree": "Baum",
         "apple": "Apfel", "boat": "Boot", "garden": "Garten", "river": "Fluss", "table": "Tisch"}
VERBS = {"sleeps": "schläft", "eats": "frisst", "runs": "rennt", "sings": "singt", "jumps": "springt",
         "waits": "wartet"}
ADJECTIVES = {"black": "schwarze", "red": "rote", "green": "grüne"}
EN_TO_DE = {**NOUNS, **VERBS, **ADJECTIVES}


def synthetic_corpus(n_pairs: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n_pairs`` English/German sentences 'The ADJ NOUN VERB near the NOUN .', same word order
    on both sides, so a good aligner links every content word to its translation."""
    rng = random.Random(seed)
    en, de = [], []
    for _ in range(n_pairs):
        adjective, noun, verb, place = (rng.choice(sorted(vocabulary)) for vocabulary in (ADJECTIVES, NOUNS, VERBS, NOUNS))
        en.append(f"The {adjective} {noun} {verb} near the {place} .")
        de.append(f"Die {ADJECTIVES[adjective]} {NOUNS[noun]} {VERBS[verb]} neben dem {NOUNS[place]} .")
    return en, de


class SyntheticTokenizer:
    """The tokenizer surface `MLCTLDataCollator` needs, for pre-tokenised rows of random ids ([PAD]=0, [CLS]=1,
    [SEP]=2, [MASK]=3, words from 4)."""

    pad_token_id, cls_token_id, sep_token_id, mask_token_id = 0, 1, 2, 3
    mask_token = "[MASK]"
    name_or_path = "synthetic"
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    all_special_ids = [0, 1, 2, 3]

    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size

    def __len__(self):
        return self.vocab_size

    def convert_tokens_to_ids(self, token):
        return self.mask_token_id

    def get_special_tokens_mask(self, ids, already_has_special_tokens=True):
        return [int(token in self.all_special_ids) for token in ids]


def synthetic_wps_batch(pairs: int, length: int, vocab_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """One batch of `pairs` random WPS pairs collated by `MLCTLDataCollator` (15 % MLM, seed 0): each side's length
    uniform in [length/2, length] tokens with [CLS] and [SEP], one marked word of up to two tokens."""
    from mlctl.training.collator import MLCTLDataCollator  # here: importing mlctl.training takes seconds

    rows = []
    for _ in range(pairs):
        row = {}
        for prefix in ("src", "tgt"):
            side_length = int(torch.randint(length // 2, length + 1, (1,), generator=generator))
            words = torch.randint(4, vocab_size, (side_length - 2,), generator=generator).tolist()
            start = int(torch.randint(1, side_length - 2, (1,), generator=generator))
            row.update({f"{prefix}_input_ids": [1, *words, 2], f"{prefix}_word_start": start,
                        f"{prefix}_word_end": min(start + 2, side_length - 1)})
        rows.append(row)
    return MLCTLDataCollator(SyntheticTokenizer(vocab_size), mlm_probability=0.15, seed=0)(rows)
