"""Fixture writers for the run_xtreme_tasks tests: a tiny BERT and small XTREME-layout data in every format.

Also a command that builds a tiny randomly initialised BERT with a WordPiece tokenizer trained on text
files, used for the real-data smoke run recorded in ``results/xtreme_smoke.md``::

    python tests/xtreme_fixtures.py tiny-bert OUTPUT_DIR TEXT_OR_CONLLU_FILE...
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

from data_prep.tokenizer import train_wordpiece_tokenizer

ENGLISH_WORDS = ("the cat dog bird house tree river sees eats likes finds red big small old new green "
                 "happy quick slow man woman child city car book water").split()
# A made-up "German" with one word per English word, so translations share no sub-tokens.
GERMAN_WORDS = ("die katze hund vogel haus baum fluss sieht isst mag findet rot gross klein alt neu gruen "
                "froh schnell langsam mann frau kind stadt auto buch wasser").split()
TRANSLATE = dict(zip(ENGLISH_WORDS, GERMAN_WORDS))


def english_sentences(n: int, seed: int, min_words: int = 3, max_words: int = 8) -> list[str]:
    """``n`` distinct random English sentences from :data:`ENGLISH_WORDS`."""
    rng = random.Random(seed)
    sentences = []
    while len(sentences) < n:
        sentence = " ".join(rng.choice(ENGLISH_WORDS) for _ in range(rng.randint(min_words, max_words)))
        if sentence not in sentences:
            sentences.append(sentence)
    return sentences


def translate(sentence: str) -> str:
    """Word-by-word "German" of an English fixture sentence."""
    return " ".join(TRANSLATE[word] for word in sentence.split())


def write_tiny_bert(output_dir: Path, texts: list[str], hidden_size: int = 32, num_layers: int = 2,
                    vocab_size: int = 400, seed: int = 0) -> Path:
    """Save a randomly initialised ``BertModel`` and a cased WordPiece tokenizer trained on ``texts`` (the same
    vocabulary every time) to ``output_dir``."""
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = train_wordpiece_tokenizer(texts, vocab_size)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=num_layers,
                        num_attention_heads=2, intermediate_size=2 * hidden_size, max_position_embeddings=512)
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return Path(output_dir)


def _write_tsv(path: Path, rows: list[list[str]]) -> None:
    """Rows written the way XTREME's utils_preprocess.py writes them (``csv.writer``, tab-delimited)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerows(rows)


def _write_lines(path: Path, lines: list[str]) -> None:
    """``lines`` joined by newlines, with a final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _write_conllu(path: Path, sentences: list[str], tag: str) -> None:
    """A CoNLL-U file tagging every word ``tag``, with a comment and a multiword token to skip in sentence 1."""
    lines = []
    for index, sentence in enumerate(sentences):
        lines.append(f"# sent_id = {index + 1}")
        words = sentence.split()
        if index == 0:
            lines.append(f"1-2\t{words[0]}{words[1]}\t_\t_\t_\t_\t_\t_\t_\t_")
        for position, word in enumerate(words, start=1):
            lines.append(f"{position}\t{word}\t{word}\t{tag}\t_\t_\t0\tdep\t_\t_")
        lines.append("")
    _write_lines(path, lines)


def _write_tagged_tsv(path: Path, sentences: list[str], tag: str | None) -> None:
    """XTREME tagging tsv: ``word<TAB>tag`` lines (or bare words when ``tag`` is None), blank line between."""
    lines = []
    for sentence in sentences:
        lines += [word if tag is None else f"{word}\t{tag}" for word in sentence.split()]
        lines.append("")
    _write_lines(path, lines)


FIXTURE_SIZES = {"train": 48, "dev": 12, "test": 10}
CLASSIFICATION_LABEL = {"xnli": "entailment", "pawsx": "1"}
TAGGING_TAG = {"udpos": "NOUN", "panx": "B-LOC"}


def write_xtreme_fixture(root: Path) -> dict:
    """Small data for every task under ``root/data`` (+ XTREME label folder ``root/labels``).

    Every example of a classification or tagging task has the same label (``CLASSIFICATION_LABEL``,
    ``TAGGING_TAG``), so a fine-tuned model that learnt anything scores 100 on every language. Formats:
    XNLI processed tsv with unlabelled test files + label folder; PAWS-X raw ``pawsx/{lang}/*.tsv``; POS as
    CoNLL-U; NER processed tsv with an unlabelled German test file; Tatoeba with German identical to
    English (accuracy 100) and French a derangement of it (accuracy 0); BUCC de-en dev/test where every
    German sentence copies one English sentence and the gold pairs are those copies.
    Returns the sizes written: ``{"test": n per language, "tatoeba": n, "bucc_gold": n per split}``.
    """
    data, labels = root / "data", root / "labels"
    english = {split: english_sentences(n, seed=index) for index, (split, n) in enumerate(FIXTURE_SIZES.items())}

    for task, label in CLASSIFICATION_LABEL.items():
        for split, sentences in english.items():
            pairs = [[s, " ".join(reversed(s.split()))] for s in sentences]
            languages = ["en"] if split != "test" else ["en", "de"]
            for lang in languages:
                rows = pairs if lang == "en" else [[translate(a), translate(b)] for a, b in pairs]
                if task == "xnli":
                    if split == "test":
                        _write_tsv(data / "xnli" / f"test-{lang}.tsv", rows)
                        _write_lines(labels / "xnli" / f"test-{lang}.tsv", [label] * len(rows))
                    else:
                        _write_tsv(data / "xnli" / f"{split}-{lang}.tsv", [row + [label] for row in rows])
                else:
                    raw_name = {"train": "train", "dev": "dev_2k", "test": "test_2k"}[split]
                    raw_rows = [["id", "sentence1", "sentence2", "label"]]
                    raw_rows += [[str(i), a, b, label] for i, (a, b) in enumerate(rows)]
                    _write_lines(data / "pawsx" / lang / f"{raw_name}.tsv", ["\t".join(row) for row in raw_rows])

    for split, sentences in english.items():
        tag = TAGGING_TAG["udpos"]
        _write_conllu(data / "udpos" / f"en_fix-ud-{split}.conllu", sentences, tag)
        if split == "test":
            _write_conllu(data / "udpos" / "de_fix-ud-test.conllu", [translate(s) for s in sentences], tag)
        tag = TAGGING_TAG["panx"]
        _write_tagged_tsv(data / "panx" / f"{split}-en.tsv", sentences, tag)
        if split == "test":
            german = [translate(s) for s in sentences]
            _write_tagged_tsv(data / "panx" / "test-de.tsv", german, None)
            _write_tagged_tsv(labels / "panx" / "test-de.tsv", [" ".join([tag] * len(s.split())) for s in german], None)

    tatoeba = english_sentences(20, seed=7, min_words=4)
    _write_lines(data / "tatoeba" / "tatoeba.deu-eng.deu", tatoeba)
    _write_lines(data / "tatoeba" / "tatoeba.deu-eng.eng", tatoeba)
    _write_lines(data / "tatoeba" / "tatoeba.fra-eng.fra", tatoeba[1:] + tatoeba[:1])
    _write_lines(data / "tatoeba" / "tatoeba.fra-eng.eng", tatoeba)

    bucc_gold = {}
    for seed, split in ((11, "dev"), (13, "test")):
        en_sentences = english_sentences(24, seed=seed, min_words=5)
        copied = en_sentences[::2]
        rng = random.Random(seed)
        de_sentences = copied[:]
        rng.shuffle(de_sentences)
        en_ids = [f"en-{i:09d}" for i in range(len(en_sentences))]
        de_ids = [f"de-{i:09d}" for i in range(len(de_sentences))]
        gold = [(de_ids[i], en_ids[en_sentences.index(s)]) for i, s in enumerate(de_sentences)]
        _write_lines(data / "bucc2018" / f"de-en.{split}.de", [f"{i}\t{s}" for i, s in zip(de_ids, de_sentences)])
        _write_lines(data / "bucc2018" / f"de-en.{split}.en", [f"{i}\t{s}" for i, s in zip(en_ids, en_sentences)])
        _write_lines(data / "bucc2018" / f"de-en.{split}.gold", [f"{a}\t{b}" for a, b in gold])
        bucc_gold[split] = len(gold)

    word_lists = data / "mlctl_word_lists"
    _write_lines(word_lists / "en_uni.txt", ENGLISH_WORDS[:8])
    _write_lines(word_lists / "de_uni.txt", GERMAN_WORDS[:8])
    return {"test": FIXTURE_SIZES["test"], "tatoeba": len(tatoeba), "bucc_gold": bucc_gold}


def fixture_corpus() -> list[str]:
    """Text to train the fixture tokenizer on: every fixture word in both languages."""
    english = english_sentences(200, seed=99)
    return english + [translate(s) for s in english]


def _text_of(path: Path) -> list[str]:
    """Sentences of a text file, or the words of each sentence of a CoNLL-U file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix != ".conllu":
        return lines
    words, sentences = [], []
    for line in lines + [""]:
        fields = line.split("\t")
        if len(fields) == 10 and fields[0].isdigit():
            words.append(fields[1])
        elif not line.strip() and words:
            sentences.append(" ".join(words))
            words = []
    return sentences


def main(argv: list[str] | None = None) -> int:
    """``tiny-bert OUTPUT_DIR FILE...``: a tiny random BERT with a tokenizer trained on the files."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", choices=["tiny-bert"])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("texts", type=Path, nargs="+", help="text files (one sentence per line) or CoNLL-U files")
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--num_layers", type=int, default=4)
    parser.add_argument("--vocab_size", type=int, default=8000)
    args = parser.parse_args(argv)
    texts = [line for path in args.texts for line in _text_of(path)]
    write_tiny_bert(args.output_dir, texts, args.hidden_size, args.num_layers, args.vocab_size)
    print(f"wrote {args.output_dir}: BERT hidden {args.hidden_size}, {args.num_layers} layers, tokenizer "
          f"trained on {len(texts)} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
