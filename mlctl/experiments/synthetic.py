"""Synthetic data with known answers, for the tests and the benchmarks: a parallel corpus whose gold word alignment
is the diagonal, and collated batches of random word positioned samples (WPS) for timing a training step."""
from __future__ import annotations

import random

import torch

from data_prep.tokenizer import SPECIAL_TOKENS, wordpiece_tokenizer_from_vocab

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


def synthetic_wps_batch(pairs: int, length: int, vocab_size: int, generator: torch.Generator) -> dict:
    """One batch of `pairs` pairs of random ids collated by `MLCTLDataCollator` (15 % MLM, seed 0) with a WordPiece
    tokenizer of `vocab_size` pieces ([PAD] [UNK] [CLS] [SEP] [MASK], then words): each side's length uniform in
    [length/2, length] tokens with [CLS] and [SEP], one marked word of up to two tokens."""
    from mlctl.training.collator import MLCTLDataCollator  # here: importing mlctl.training takes seconds

    first_word = len(SPECIAL_TOKENS)
    words = [f"w{i}" for i in range(first_word, vocab_size)]
    tokenizer = wordpiece_tokenizer_from_vocab([*SPECIAL_TOKENS.values(), *words])
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    rows = []
    for _ in range(pairs):
        row = {}
        for prefix in ("src", "tgt"):
            side_length = int(torch.randint(length // 2, length + 1, (1,), generator=generator))
            words = torch.randint(first_word, vocab_size, (side_length - 2,), generator=generator).tolist()
            start = int(torch.randint(1, side_length - 2, (1,), generator=generator))
            row.update({f"{prefix}_input_ids": [cls, *words, sep], f"{prefix}_word_start": start,
                        f"{prefix}_word_end": min(start + 2, side_length - 1)})
        rows.append(row)
    return MLCTLDataCollator(tokenizer, mlm_probability=0.15, seed=0)(rows)


def wps_keys_with_duplicate_pairs(rows: int, duplicated_share: float = 0.1, seed: int = 0) -> list[tuple[str, str]]:
    """`rows` (source, target) keys of WPS rows as data_prep writes them, in corpus order: each sentence pair gives
    1-4 WPS, and `duplicated_share` of the sentence pairs repeat an earlier pair of the corpus."""
    rng = random.Random(seed)
    pairs, keys = [], []
    while len(keys) < rows:
        if pairs and rng.random() < duplicated_share:
            pair = rng.choice(pairs)
        else:
            pair = (f"source {len(pairs)}", f"target {len(pairs)}")
        pairs.append(pair)
        keys += [pair] * rng.randint(1, 4)
    return keys[:rows]


def wps_keys_with_a_repeated_source(rows: int, sentence: str = "Thank you.", share: float = 0.05,
                                    seed: int = 0) -> list[tuple[str, str]]:
    """`rows` (source, target) keys of distinct sentence pairs, but a random `share` of them has the source
    `sentence` (each with its own target), as a corpus of many short replies."""
    rng = random.Random(seed)
    repeated = set(rng.sample(range(rows), round(share * rows)))
    return [(sentence if row in repeated else f"source {row}", f"target {row}") for row in range(rows)]
