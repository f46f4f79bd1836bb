"""Small corpora and a tiny tokenizer for the data_prep tests, all written by the tests themselves."""
from __future__ import annotations

import gzip
import random
from pathlib import Path

from data_prep.tokenizer import train_wordpiece_tokenizer

#: English -> German content words of the synthetic corpus (none is a stopwords-iso stop word).
NOUNS = {"cat": "Katze", "dog": "Hund", "horse": "Pferd", "bird": "Vogel", "car": "Auto", "tree": "Baum",
         "apple": "Apfel", "boat": "Boot", "garden": "Garten", "river": "Fluss", "table": "Tisch"}
VERBS = {"sleeps": "schläft", "eats": "frisst", "runs": "rennt", "sings": "singt", "jumps": "springt",
         "waits": "wartet"}
ADJECTIVES = {"black": "schwarze", "red": "rote", "green": "grüne"}
EN_TO_DE = {**NOUNS, **VERBS, **ADJECTIVES}


def write_lines(path: Path, lines: list[str], gz: bool = False) -> str:
    """Write ``lines`` (newline-terminated, UTF-8, gzip when ``gz``) and return the path as str."""
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    if gz:
        with gzip.open(path, "wb") as stream:
            stream.write(data)
    else:
        path.write_bytes(data)
    return str(path)


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


def make_tokenizer(directory: Path, texts: list[str]) -> str:
    """A tiny lower-casing WordPiece tokenizer trained on ``texts``, saved in ``directory``."""
    train_wordpiece_tokenizer(texts, vocab_size=1000, lowercase=True).save_pretrained(directory)
    return str(directory)
