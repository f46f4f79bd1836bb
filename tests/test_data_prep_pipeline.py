"""End-to-end data_prep runs on corpora the tests write: every word-pair source, CJK, truncation,
sampling, the split, parallel workers and the report's accounting."""
import json
import os
from pathlib import Path

import datasets
import pytest
from transformers import AutoTokenizer

from data_prep import REPORT_NAME, PairSpec, WordList, build_wps_dataset, output_columns
from data_prep.__main__ import main
from data_prep.wps import in_validation_split, pair_digest
from data_prep_fixtures import make_tokenizer, write_lines
from mlctl.experiments.synthetic import EN_TO_DE, synthetic_corpus

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ZH_TEXTS = ["猫 在 河流 旁边", "cat by the river"]


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory):
    en, de = synthetic_corpus(300)
    return make_tokenizer(tmp_path_factory.mktemp("tokenizer"), en + de + ZH_TEXTS * 20)


def read_report(out_dir):
    return json.loads((Path(out_dir) / REPORT_NAME).read_text(encoding="utf-8"))


def assert_counts_add_up(entry):
    """Every candidate is written, merged into a phrase, or dropped for a named reason."""
    assert entry["candidates"] == sum(entry["candidates_dropped"].values()) + entry["merged_into_phrase"] + entry["wps_written"]
    assert entry["wps_written"] == sum(entry["wps_per_split"].values())


def synthetic_word_list():
    word_list = WordList("en", "de")
    for en, de in EN_TO_DE.items():
        word_list.add(en, de)
    return word_list


def test_eflomal_aligns_the_synthetic_corpus_and_splits_by_sentence_pair(tmp_path):
    en, de = synthetic_corpus(400)
    spec = PairSpec("en", "de", write_lines(tmp_path / "c.en", en), write_lines(tmp_path / "c.de", de))
    dataset = build_wps_dataset([spec], tmp_path / "out", validation_fraction=0.05, show_progress=False)

    rows = list(dataset["train"]) + list(dataset["validation"])
    correct = sum(EN_TO_DE.get(row["src_word"]) == row["tgt_word"] for row in rows)
    assert correct / len(rows) >= 0.95, (correct, len(rows))
    # 4 content words per sentence (3 when the two nouns are the same word: a duplicate pair).
    assert len(rows) >= 0.9 * sum(3 if s.split()[2] == s.split()[6] else 4 for s in en)
    for row in rows:
        assert row["src_text"][row["src_char_start"]:row["src_char_end"]] == row["src_word"]
        assert row["tgt_text"][row["tgt_char_start"]:row["tgt_char_end"]] == row["tgt_word"]
    train_pairs = {(r["src_text"], r["tgt_text"]) for r in dataset["train"]}
    validation_pairs = {(r["src_text"], r["tgt_text"]) for r in dataset["validation"]}
    assert not train_pairs & validation_pairs
    assert validation_pairs == {pair for pair in train_pairs | validation_pairs
                                if in_validation_split(pair_digest(*pair, seed=0), 0.05)}
    assert 10 <= len(validation_pairs) <= 30  # each of about 380 distinct pairs drawn with probability 0.05

    entry = read_report(tmp_path / "out")["pairs"][0]
    assert_counts_add_up(entry)
    assert entry["pairs_read"] == 400 and entry["candidates_dropped"]["stop_word"] >= 400
    assert entry["seconds"]["alignment"] > 0


def test_sentences_too_long_for_eflomal_are_skipped_and_counted(tmp_path):
    en, de = synthetic_corpus(40)
    en.insert(5, " ".join(["tree"] * 1100))
    de.insert(5, "Baum")
    spec = PairSpec("en", "de", write_lines(tmp_path / "c.en", en), write_lines(tmp_path / "c.de", de))
    dataset = build_wps_dataset([spec], tmp_path / "out", validation_fraction=0.0, show_progress=False)
    entry = read_report(tmp_path / "out")["pairs"][0]
    assert entry["pairs_read"] == 41 and entry["pairs_skipped"]["too_long_for_eflomal"] == 1
    assert "Baum" not in dataset["train"]["tgt_text"]


def test_pharaoh_file_gives_exact_rows_and_empty_lines_never_shift_the_pairing(tmp_path):
    en = ["the black cat sleeps", "", "a red dog runs ."]
    de = ["die schwarze Katze schläft", "nichts", "ein roter Hund rennt ."]
    links = ["0-0 1-1 2-2 3-3", "0-0", "0-0 1-1 2-2 3-3 4-4"]
    spec = PairSpec("en", "de", write_lines(tmp_path / "c.en.gz", en, gz=True),
                    write_lines(tmp_path / "c.de.gz", de, gz=True), alignment_path=write_lines(tmp_path / "a.txt", links))
    dataset = build_wps_dataset([spec], tmp_path / "out", aligner="pharaoh", validation_fraction=0.0,
                                show_progress=False)

    assert dataset["train"].column_names == list(output_columns(False))
    assert [(r["src_word"], r["tgt_word"], r["src_char_start"], r["src_char_end"], r["tgt_char_start"], r["tgt_char_end"])
            for r in dataset["train"]] == [
        ("black", "schwarze", 4, 9, 4, 12), ("cat", "Katze", 10, 13, 13, 18), ("sleeps", "schläft", 14, 20, 19, 26),
        ("red", "roter", 2, 5, 4, 9), ("dog", "Hund", 6, 9, 10, 14), ("runs", "rennt", 10, 14, 15, 20),
    ]
    assert len(dataset["validation"]) == 0
    entry = read_report(tmp_path / "out")["pairs"][0]
    assert entry["lines_read"] == 3 and entry["pairs_read"] == 2
    assert entry["pairs_skipped"]["empty_line"] == 1
    assert entry["candidates"] == 9
    assert {reason: n for reason, n in entry["candidates_dropped"].items() if n} == {"punctuation": 1, "stop_word": 2}
    assert_counts_add_up(entry)


def test_tokenizer_spans_truncation_and_chinese_characters(tmp_path, tokenizer_path):
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    en = ["the black cat sleeps near the green tree", "cat by the river"]
    other = ["die schwarze Katze schläft neben dem grüne Baum", "猫 在 河流 旁边"]
    for word in "the black cat sleeps near green tree by river die schwarze katze schläft neben dem".split():
        assert tokenizer.tokenize(word) == [word], "the test needs one token per Latin-script word"
    de_spec = PairSpec("en", "de", write_lines(tmp_path / "1.en", en[:1]), write_lines(tmp_path / "1.de", other[:1]),
                       alignment_path=write_lines(tmp_path / "1.a", ["0-0 1-1 2-2 3-3 4-4 5-5 6-6 7-7"]))
    zh_spec = PairSpec("en", "zh", write_lines(tmp_path / "2.en", en[1:]), write_lines(tmp_path / "2.zh", other[1:]),
                       alignment_path=write_lines(tmp_path / "2.a", ["0-0 3-2"]))
    dataset = build_wps_dataset([de_spec, zh_spec], tmp_path / "out", aligner="pharaoh", tokenizer=tokenizer_path,
                                max_length=6, validation_fraction=0.0, show_progress=False)

    rows = list(dataset["train"])
    # [CLS] the black cat sleeps [SEP]: "green" and "tree" fall past max_length 6.
    assert [r["src_word"] for r in rows] == ["black", "cat", "sleeps", "cat", "river"]
    for row in rows:
        for side in ("src", "tgt"):
            ids = row[f"{side}_input_ids"]
            assert ids == tokenizer(row[f"{side}_text"], truncation=True, max_length=6)["input_ids"]
            start, end = row[f"{side}_word_start"], row[f"{side}_word_end"]
            assert 1 <= start < end <= len(ids) - 1
            assert tokenizer.decode(ids[start:end]).replace(" ", "").replace("##", "") == row[f"{side}_word"].lower()
    river = rows[-1]
    assert river["tgt_word"] == "河流" and river["tgt_word_end"] - river["tgt_word_start"] == 2
    report = read_report(tmp_path / "out")
    assert report["pairs"][0]["candidates_dropped"]["truncated"] == 2
    assert report["tokenizer"]["max_length"] == 6 and report["tokenizer"]["class"].endswith("Tokenizer")
    for entry in report["pairs"]:
        assert_counts_add_up(entry)


def test_word_list_dir_cli_multiple_pairs_and_whole_word_matching(tmp_path):
    word_lists = tmp_path / "lists"
    word_lists.mkdir()
    write_lines(word_lists / "en_uni.txt", ["art", "party", "ice cream", "river"])
    write_lines(word_lists / "fr_uni.txt", ["art", "fête", "glace", "rivière"])
    write_lines(word_lists / "zh_uni.txt", ["艺术", "聚会", "冰淇淋", "河流"])
    en = ["A party at the river", "Ice cream and art"]
    fr = ["Une fête près de la rivière", "De la glace et de l'art"]
    zh = ["河流边的聚会", "冰淇淋和艺术"]
    args = ["--output_dir", str(tmp_path / "out"), "--aligner", "word-list", "--word_list_dir", str(word_lists),
            "--validation_fraction", "0", "--no_progress",
            "--pair", "en", "fr", write_lines(tmp_path / "c.en", en), write_lines(tmp_path / "c.fr", fr),
            "--pair", "zh", "en", write_lines(tmp_path / "c.zh", zh), write_lines(tmp_path / "c2.en", en)]
    assert main(args) == 0
    rows = list(datasets.load_from_disk(str(tmp_path / "out"))["train"])
    assert [(r["src_lang"], r["tgt_lang"], r["src_word"], r["tgt_word"]) for r in rows] == [
        ("en", "fr", "party", "fête"), ("en", "fr", "river", "rivière"),
        ("en", "fr", "Ice cream", "glace"), ("en", "fr", "art", "art"),
        ("zh", "en", "河流", "river"), ("zh", "en", "聚会", "party"),
        ("zh", "en", "冰淇淋", "Ice cream"), ("zh", "en", "艺术", "art"),
    ]
    assert rows[4]["src_char_start"] == 0 and rows[4]["src_char_end"] == 2
    report = read_report(tmp_path / "out")
    assert [(p["src_lang"], p["tgt_lang"], p["wps_written"]) for p in report["pairs"]] == [("en", "fr", 4), ("zh", "en", 4)]


def test_max_words_per_pair_samples_with_the_seed_and_workers_change_nothing(tmp_path):
    en, de = synthetic_corpus(1200, seed=3)
    spec = PairSpec("en", "de", write_lines(tmp_path / "c.en", en), write_lines(tmp_path / "c.de", de))
    common = dict(aligner="word-list", word_lists=[synthetic_word_list()], max_words_per_pair=2, batch_size=100,
                  show_progress=False)
    one = build_wps_dataset([spec], tmp_path / "one", num_proc=1, **common)
    two = build_wps_dataset([spec], tmp_path / "two", num_proc=2, **common)
    other_seed = build_wps_dataset([spec], tmp_path / "seed", seed=1, **common)

    for split in ("train", "validation"):
        assert one[split].to_list() == two[split].to_list()
    assert one["train"]["src_word"] != other_seed["train"]["src_word"]
    # 4 content-word matches per pair, or 2 when both nouns are the same word (repeated, dropped).
    per_pair = [2 if s.split()[2] == s.split()[6] else 4 for s in en]
    entry = read_report(tmp_path / "one")["pairs"][0]
    assert entry["wps_written"] == 2 * len(en)
    assert entry["candidates_dropped"]["over_max_words_per_pair"] == sum(n - 2 for n in per_pair)
    assert entry["candidates_dropped"]["repeated_in_sentence"] == per_pair.count(2)
    validation_pairs = [pair for pair in zip(en, de) if in_validation_split(pair_digest(*pair, seed=0), 0.01)]
    assert entry["wps_per_split"]["validation"] == 2 * len(validation_pairs) > 0
    assert_counts_add_up(entry)


def test_dataset_input_matches_file_input(tmp_path):
    en, de = synthetic_corpus(50)
    files = PairSpec("en", "de", write_lines(tmp_path / "c.en", en), write_lines(tmp_path / "c.de", de))
    translations = datasets.Dataset.from_dict({"translation": [{"en": e, "de": d} for e, d in zip(en, de)]})
    translations.save_to_disk(str(tmp_path / "saved"))
    common = dict(aligner="word-list", word_lists=[synthetic_word_list()], show_progress=False)
    from_files = build_wps_dataset([files], tmp_path / "files", **common)
    from_disk = build_wps_dataset([PairSpec("en", "de", dataset=str(tmp_path / "saved"))], tmp_path / "disk", **common)
    from_object = build_wps_dataset([PairSpec("en", "de", dataset=translations)], tmp_path / "object", **common)
    assert from_files["train"].to_list() == from_disk["train"].to_list() == from_object["train"].to_list()
    assert len(from_files["train"]) > 100


def test_a_word_linked_to_adjacent_words_becomes_one_phrase_pair(tmp_path):
    # One English word aligned to two adjacent target words becomes one phrase pair.
    spec = PairSpec("en", "zh", write_lines(tmp_path / "c.en", ["my laptop is new"]),
                    write_lines(tmp_path / "c.zh", ["我 的 电 脑 是 新 的"]),
                    alignment_path=write_lines(tmp_path / "a.txt", ["1-2 1-3"]))
    dataset = build_wps_dataset([spec], tmp_path / "out", aligner="pharaoh", validation_fraction=0.0,
                                show_progress=False)
    assert [(r["src_word"], r["tgt_word"]) for r in dataset["train"]] == [("laptop", "电 脑")]
    entry = read_report(tmp_path / "out")["pairs"][0]
    assert entry["merged_into_phrase"] == 1
    assert_counts_add_up(entry)


@pytest.mark.skipif(not (SHARED_DATA / "multi30k").is_dir(), reason="../shared/data/multi30k is absent")
def test_mlctl_word_list_on_multi30k_matches_only_whole_words(tmp_path):
    import gzip

    out = tmp_path / "out"
    spec = PairSpec("en", "fr", str(SHARED_DATA / "multi30k" / "val.en.gz"), str(SHARED_DATA / "multi30k" / "val.fr.gz"))
    dataset = build_wps_dataset([spec], out, aligner="word-list", word_list_dir=str(SHARED_DATA / "mlctl_word_lists"),
                                show_progress=False)
    rows = list(dataset["train"]) + list(dataset["validation"])
    assert len(rows) > 200
    for row in rows:
        for side in ("src", "tgt"):
            text, start, end = row[f"{side}_text"], row[f"{side}_char_start"], row[f"{side}_char_end"]
            assert start == 0 or not text[start - 1].isalnum()
            assert end == len(text) or not text[end].isalnum()
    with gzip.open(SHARED_DATA / "multi30k" / "val.en.gz", "rt", encoding="utf-8") as stream:
        assert read_report(out)["pairs"][0]["lines_read"] == sum(1 for _ in stream)


def test_progress_and_report_do_not_need_a_terminal(tmp_path):
    en, de = synthetic_corpus(20)
    spec = PairSpec("en", "de", write_lines(tmp_path / "c.en", en), write_lines(tmp_path / "c.de", de))
    build_wps_dataset([spec], tmp_path / "out", aligner="word-list", word_lists=[synthetic_word_list()])
    assert sorted(os.listdir(tmp_path / "out")) == ["data_prep_report.json", "dataset_dict.json", "train", "validation"]
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".data_prep-")]
