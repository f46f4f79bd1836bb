"""Readers and data lookup of run_xtreme_tasks: every format, clear one-line errors, missing-data messages."""
import csv
from pathlib import Path

import pytest

from data_prep.reading import InputError
from mlctl.evaluation.readers import XtremeData
from mlctl.evaluation.readers import parse_data_file_overrides
from mlctl.evaluation.readers import read_conllu
from mlctl.evaluation.readers import read_sentence_pair_tsv
from mlctl.evaluation.readers import read_tagging_tsv
from mlctl.evaluation.tasks import MissingDataError
from mlctl.evaluation.tasks import TAGGING_LABELS

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} (shared real data) is absent")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


CONLLU = """# sent_id = 1
# text = Im Haus
1-2\tIm\t_\t_\t_\t_\t_\t_\t_\t_
1\tIn\tin\tADP\t_\t_\t3\tcase\t_\t_
2\tdem\tder\tDET\t_\t_\t3\tdet\t_\t_
3\tHaus\tHaus\tNOUN\t_\t_\t0\troot\t_\t_
3.1\tx\t_\t_\t_\t_\t_\t_\t_\t_

1\tJa\tja\tINTJ\t_\t_\t0\troot\t_\t_
"""


def test_conllu_keeps_syntactic_words_and_upos(tmp_path):
    tokens, tags = read_conllu(write(tmp_path / "de_x-ud-test.conllu", CONLLU))
    assert tokens == [["In", "dem", "Haus"], ["Ja"]]
    assert tags == [["ADP", "DET", "NOUN"], ["INTJ"]]


def test_conllu_bad_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.conllu", CONLLU.replace("2\tdem\tder\tDET", "2\tdem DET"))
    with pytest.raises(InputError, match=r"bad\.conllu:5: expected 10 tab-separated CoNLL-U fields, found 8"):
        read_conllu(path)


def test_tagging_tsv_labelled_unlabelled_and_mixed(tmp_path):
    tokens, tags = read_tagging_tsv(write(tmp_path / "a.tsv", "Paris\tB-LOC\nis\tO\n\nOK\tO\n"))
    assert tokens == [["Paris", "is"], ["OK"]] and tags == [["B-LOC", "O"], ["O"]]
    tokens, tags = read_tagging_tsv(write(tmp_path / "b.tsv", "Paris\nis\n\nOK\n"))
    assert tokens == [["Paris", "is"], ["OK"]] and tags is None
    with pytest.raises(InputError, match=r"c\.tsv:3: expected 2 tab-separated fields, found 1"):
        read_tagging_tsv(write(tmp_path / "c.tsv", "Paris\tB-LOC\nis\tO\nOK\n"))


def test_sentence_pairs_round_trip_csv_quoting_and_reject_ragged_rows(tmp_path):
    rows = [['He said "hi"', "fine", "neutral"], ["a", "b", "contradiction"]]
    path = tmp_path / "dev-en.tsv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter="\t").writerows(rows)
    assert read_sentence_pair_tsv(path) == rows
    write(path, "a\tb\tneutral\nc\td\n")
    with pytest.raises(InputError, match=r"dev-en\.tsv:2: expected 3 tab-separated fields"):
        read_sentence_pair_tsv(path)


def test_raw_paws_and_label_checks(tmp_path):
    write(tmp_path / "pawsx/de/test_2k.tsv", 'id\tsentence1\tsentence2\tlabel\n1\t"Ein\tZwei"\t1\n2\tDrei\tVier\t0\n')
    data = XtremeData(tmp_path, use_hub=False)
    pairs = data.sentence_pairs("pawsx", "test", "de")
    assert pairs.sentence1 == ['"Ein', "Drei"] and pairs.labels == ["1", "0"]
    write(tmp_path / "xnli/dev-en.tsv", "a\tb\tcontradictory\nc\td\tmaybe\n")
    with pytest.raises(InputError, match=r"dev-en\.tsv: example 2: label 'maybe' is not one of"):
        data.sentence_pairs("xnli", "dev", "en")


def test_unlabelled_test_files_take_labels_from_the_label_folder(tmp_path):
    write(tmp_path / "data/xnli/test-de.tsv", "a\tb\nc\td\n")
    write(tmp_path / "labels/xnli/test-de.tsv", "neutral\nentailment\n")
    data = XtremeData(tmp_path / "data", tmp_path / "labels", use_hub=False)
    assert data.sentence_pairs("xnli", "test", "de").labels == ["neutral", "entailment"]
    write(tmp_path / "labels/xnli/test-de.tsv", "neutral\n")
    with pytest.raises(InputError, match=r"test-de\.tsv: 1 labels for 2 examples"):
        data.sentence_pairs("xnli", "test", "de")
    with pytest.raises(MissingDataError, match=r"has no labels .*no --labels_dir"):
        XtremeData(tmp_path / "data", use_hub=False).sentence_pairs("xnli", "test", "de")


def test_missing_language_names_every_place_searched(tmp_path):
    data = XtremeData(tmp_path, use_hub=False)
    with pytest.raises(MissingDataError) as error:
        data.tagged_sentences("udpos", "test", "sw")
    message = str(error.value)
    assert "\n" not in message
    assert f"{tmp_path}/udpos/test-sw.tsv" in message and f"{tmp_path}/udpos/**/sw_*-ud-test.conllu" in message
    assert "--data_file udpos:test:sw=PATH" in message


def test_data_file_overrides(tmp_path):
    conllu = write(tmp_path / "anything.conllu", CONLLU)
    overrides = parse_data_file_overrides([f"udpos:train:en={conllu}"])
    data = XtremeData(None, overrides=overrides, use_hub=False)
    assert data.tagged_sentences("udpos", "train", "en").tokens[0] == ["In", "dem", "Haus"]
    with pytest.raises(InputError, match="expected TASK:SPLIT:LANG=PATH"):
        parse_data_file_overrides(["udpos:training:en=x"])
    missing = XtremeData(None, overrides=parse_data_file_overrides(["udpos:test:de=/nope.conllu"]), use_hub=False)
    with pytest.raises(MissingDataError, match="/nope.conllu: no such file"):
        missing.tagged_sentences("udpos", "test", "de")


def test_training_tags_outside_the_tag_set_are_rejected(tmp_path):
    write(tmp_path / "panx/train-en.tsv", "Paris\tB-GPE\n")
    with pytest.raises(InputError, match=r"train-en\.tsv: sentence 1: tag\(s\) B-GPE not in the panx tag set"):
        XtremeData(tmp_path, use_hub=False).tagged_sentences("panx", "train", "en")


def test_bucc_and_tatoeba_files(tmp_path):
    write(tmp_path / "bucc2018/fr-en.dev.fr", "fr-1\tBonjour\nfr-2\tMerci\n")
    write(tmp_path / "bucc2018/fr-en.dev.en", "en-1\tThanks\n")
    write(tmp_path / "bucc2018/fr-en.dev.gold", "fr-2\ten-1\n")
    data = XtremeData(tmp_path, use_hub=False)
    corpus = data.bucc_corpus("fr", "dev")
    assert corpus.src_ids == ["fr-1", "fr-2"] and corpus.en_sentences == ["Thanks"] and corpus.gold == {("fr-2", "en-1")}
    write(tmp_path / "bucc2018/fr-en.test.fr", "fr-1 Bonjour\n")
    write(tmp_path / "bucc2018/fr-en.test.en", "en-1\tThanks\n")
    with pytest.raises(InputError, match=r"fr-en\.test\.fr:1: expected 'id<TAB>sentence'"):
        data.bucc_corpus("fr", "test")
    write(tmp_path / "tatoeba/tatoeba.fra-eng.fra", "Bonjour\nMerci\n")
    write(tmp_path / "tatoeba/tatoeba.fra-eng.eng", "Hello\n")
    with pytest.raises(InputError, match=r"tatoeba\.fra-eng\.eng: 1 lines but .* has 2"):
        data.tatoeba_pairs("fr")


@needs_shared
def test_shared_udpos_and_tatoeba_read_completely():
    data = XtremeData(SHARED_DATA, use_hub=False)
    # The shared folder holds English-EWT dev (2,001 sentences) and German-GSD test (977 sentences).
    english = data.tagged_sentences("udpos", "dev", "en")
    german = data.tagged_sentences("udpos", "test", "de")
    assert (len(english.tokens), len(german.tokens)) == (2001, 977)
    upos = set(TAGGING_LABELS["udpos"])
    assert {tag for sentence in english.tags + german.tags for tag in sentence} <= upos
    xx, en, _ = data.tatoeba_pairs("de")
    assert len(xx) == len(en) == 1000
