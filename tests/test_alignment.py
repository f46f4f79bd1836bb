"""Word alignment (mlctl.alignment, `mlctl-align`): AER on hand-built gold files with known answers, the extraction
methods on matrices worked out by hand, and the command end to end on the shipped sample with a tiny model."""
import json

import numpy as np
import pytest
import torch
from transformers import AutoConfig
from transformers import AutoModel

from data_prep.word_pairs import parse_pharaoh
from mlctl import alignment
from tests.train_fixtures import TINY_ENCODER
from tests.train_fixtures import build_tokenizer
from tests.train_fixtures import sample_lines

PAIRS = [(["a", "b", "c"], ["x", "y", "z", "w"]), (["d", "e"], ["u", "v"])]


@pytest.mark.parametrize("gold_text,one_indexed", [
    ("0-0 1-2 1p1 2p3\n0-0 1-1\n", False),
    ("1-1 2-3 2p2 3p4\n1-1 2-2\n", True),
])
def test_aer_precision_recall_on_hand_built_gold(tmp_path, gold_text, one_indexed):
    (tmp_path / "gold.txt").write_text(gold_text, encoding="utf-8")
    gold = alignment.read_gold(tmp_path / "gold.txt", PAIRS, one_indexed)
    assert gold[0] == ({(0, 0), (1, 2)}, {(0, 0), (1, 2), (1, 1), (2, 3)})
    hypotheses = [{(0, 0), (1, 1), (2, 2)}, {(0, 0), (1, 0)}]
    scores = alignment.alignment_error_rate(hypotheses, gold)
    # |A| = 5, |S| = 4, |A & S| = 2 ((0,0) twice), |A & P| = 3 (plus (1,1) possible)
    assert scores["precision"] == pytest.approx(3 / 5)
    assert scores["recall"] == pytest.approx(2 / 4)
    assert scores["aer"] == pytest.approx(1 - (2 + 3) / (5 + 4))


def test_perfect_and_empty_hypotheses():
    gold = [({(0, 0)}, {(0, 0), (1, 1)})]
    assert alignment.alignment_error_rate([{(0, 0)}], gold)["aer"] == 0.0
    assert alignment.alignment_error_rate([{(0, 0), (1, 1)}], gold)["aer"] == 0.0  # possible links cost nothing
    assert alignment.alignment_error_rate([set()], gold) == {"aer": 1.0, "precision": 0.0, "recall": 0.0,
                                                             "links": 0, "sure_links": 1}


@pytest.mark.parametrize("gold_text,problem", [
    ("0-0\n", "gold.txt: 1 lines but the data file has 2"),
    ("0-0 3-0\n0-0\n", "gold.txt:1: link '3-0' is outside the sentence pair (3 x 4 words, 0-based)"),
    ("0-0\n0:1\n", "gold.txt:2: malformed link '0:1' (expected 'i-j' or 'ipj')"),
])
def test_bad_gold_files(tmp_path, gold_text, problem):
    (tmp_path / "gold.txt").write_text(gold_text, encoding="utf-8")
    with pytest.raises(alignment.InputError) as error:
        alignment.read_gold(tmp_path / "gold.txt", PAIRS)
    assert str(error.value).endswith(problem)


def test_argmax_keeps_mutual_best_links():
    similarity = np.array([[0.9, 0.8, 0.1],
                           [0.95, 0.3, 0.2],
                           [0.1, 0.2, 0.7]])
    # row 0's best is column 0 but column 0's best is row 1
    assert set(zip(*np.nonzero(alignment.argmax_links(similarity)))) == {(1, 0), (2, 2)}


def test_itermax_adds_a_second_round_weighted_by_how_unaligned_a_pair_is():
    similarity = np.array([[0.9, 0.85, 0.1, 0.1],
                           [0.95, 0.3, 0.2, 0.1],
                           [0.1, 0.2, 0.7, 0.1],
                           [0.1, 0.1, 0.1, 0.2]])
    # round 1 (argmax): (1,0), (2,2), (3,3); row 0 and column 1 stay free. Round 2 weights (0,1) by 1 (row and
    # column free) and (0,0) by 0.9 (row free only): 0.85 > 0.81, and column 1 prefers row 0 -> (0,1) is added.
    assert set(zip(*np.nonzero(alignment.argmax_links(similarity)))) == {(1, 0), (2, 2), (3, 3)}
    assert set(zip(*np.nonzero(alignment.itermax_links(similarity)))) == {(0, 1), (1, 0), (2, 2), (3, 3)}


def test_itermax_stops_when_every_column_is_aligned():
    similarity = np.array([[0.6, 0.8, 0.1],
                           [0.9, 0.3, 0.2],
                           [0.1, 0.2, 0.7],
                           [0.5, 0.1, 0.1]])
    # round 1 links (0,1), (1,0), (2,2): every column is aligned, so row 3 stays unaligned (as in SimAlign)
    assert set(zip(*np.nonzero(alignment.itermax_links(similarity)))) == {(0, 1), (1, 0), (2, 2)}


def test_softmax_extraction_thresholds_both_directions():
    scores = np.array([[5.0, 0.0], [5.0, 5.0]])
    # row 0: softmax (0.9933, 0.0067); row 1: (0.5, 0.5); column 0: (0.5, 0.5); column 1: (0.0067, 0.9933)
    assert set(zip(*np.nonzero(alignment.softmax_links(scores, 0.1)))) == {(0, 0), (1, 0), (1, 1)}
    assert set(zip(*np.nonzero(alignment.softmax_links(scores, 0.6)))) == set()
    assert set(zip(*np.nonzero(alignment.softmax_links(scores, 0.001)))) == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_subword_links_merge_to_words():
    links = np.array([[True, False], [True, False], [False, True]])
    assert alignment.word_links(links, np.array([0, 0, 1]), np.array([0, 1])) == {(0, 0), (1, 1)}


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model")
    tokenizer = build_tokenizer(directory)
    torch.manual_seed(0)
    AutoModel.from_config(AutoConfig.for_model(**{**TINY_ENCODER, "vocab_size": len(tokenizer)})).save_pretrained(
        directory)
    return directory


@pytest.mark.parametrize("method", ["argmax", "itermax"])
def test_identical_sentences_align_to_the_diagonal(tmp_path, tiny_model_dir, method):
    sentences = [en for en, _ in sample_lines("en", "de", 8)]
    (tmp_path / "pairs.txt").write_text("".join(f"{s} ||| {s}\n" for s in sentences), encoding="utf-8")
    (tmp_path / "gold.txt").write_text(
        "".join(" ".join(f"{i + 1}-{i + 1}" for i in range(len(s.split()))) + "\n" for s in sentences), "utf-8")
    output = tmp_path / "out.pharaoh"
    assert alignment.cli(["--model_name_or_path", str(tiny_model_dir), "--input_file", str(tmp_path / "pairs.txt"),
                          "--output_file", str(output), "--gold_file", str(tmp_path / "gold.txt"),
                          "--gold_one_index", "--method", method, "--device", "cpu"]) == 0
    scores = json.loads((tmp_path / "out.aer.json").read_text(encoding="utf-8"))
    assert scores["aer"] == 0.0 and scores["precision"] == 1.0 and scores["recall"] == 1.0


def test_mlctl_align_end_to_end_on_the_shipped_sample(tmp_path, tiny_model_dir, capsys):
    pairs = sample_lines("en", "de", 20)
    (tmp_path / "pairs.txt").write_text("".join(f"{en} ||| {de}\n" for en, de in pairs), encoding="utf-8")
    output = tmp_path / "out.pharaoh"
    assert alignment.cli(["--model_name_or_path", str(tiny_model_dir), "--input_file", str(tmp_path / "pairs.txt"),
                          "--output_file", str(output), "--layer", "1", "--device", "cpu"]) == 0
    lines = output.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(pairs)
    parsed = [parse_pharaoh(line, len(en.split()), len(de.split()), f"out:{n}")
              for n, (line, (en, de)) in enumerate(zip(lines, pairs), start=1)]
    assert all(parsed) and sum(map(len, parsed)) >= len(pairs)
    assert "alignments written" in capsys.readouterr().out


@pytest.mark.parametrize("content,problem", [
    ("a b ||| c\nno separator here\n", "pairs.txt:2: expected 'source words ||| target words', found 0 '|||'"),
    ("a b ||| c\n ||| c d\n", "pairs.txt:2: the source side is empty"),
])
def test_bad_data_files_get_a_one_line_error(tmp_path, tiny_model_dir, capsys, content, problem):
    (tmp_path / "pairs.txt").write_text(content, encoding="utf-8")
    assert alignment.cli(["--model_name_or_path", str(tiny_model_dir), "--input_file", str(tmp_path / "pairs.txt"),
                          "--output_file", str(tmp_path / "out.pharaoh")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.rstrip().endswith(problem)
