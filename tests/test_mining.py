"""Bitext mining (mlctl.mining, `mlctl-mine`): margin scores and retrieval against LASER's algorithm computed here by
brute force, the CLI on files the test writes (planted embeddings, and a tiny real model on identical sentences),
and the one-line errors for bad files."""
import numpy as np
import pytest
import torch
from transformers import AutoConfig
from transformers import AutoModel

from mlctl import mining
from tests.train_fixtures import TINY_ENCODER
from tests.train_fixtures import build_tokenizer
from tests.train_fixtures import sample_lines


def laser_mine(x, y, k, margin, threshold):
    """LASER mine_bitexts.py --mode mine --retrieval max, by brute force: full cosine matrix, k-NN means, margin of
    every candidate, best candidate per sentence, greedy one-to-one by descending score, scores above threshold."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    cos = x.astype(np.float64) @ y.T.astype(np.float64)
    x2y_ind = np.argsort(-cos, axis=1)[:, :k]
    y2x_ind = np.argsort(-cos.T, axis=1)[:, :k]
    x2y_mean = np.take_along_axis(cos, x2y_ind, 1).mean(1)
    y2x_mean = np.take_along_axis(cos.T, y2x_ind, 1).mean(1)
    function = {"ratio": lambda a, b: a / b, "distance": lambda a, b: a - b, "absolute": lambda a, b: a}[margin]
    proposals = []
    for i in range(len(x)):
        scores = [function(cos[i, j], (x2y_mean[i] + y2x_mean[j]) / 2) for j in x2y_ind[i]]
        proposals.append((max(scores), i, x2y_ind[i][int(np.argmax(scores))]))
    for j in range(len(y)):
        scores = [function(cos[i, j], (y2x_mean[j] + x2y_mean[i]) / 2) for i in y2x_ind[j]]
        proposals.append((max(scores), y2x_ind[j][int(np.argmax(scores))], j))
    seen_x, seen_y, kept = set(), set(), []
    for score, i, j in sorted(proposals, key=lambda p: -p[0]):
        if i not in seen_x and j not in seen_y:
            seen_x.add(i)
            seen_y.add(j)
            if score > threshold:
                kept.append((int(i), int(j), score))
    return kept


@pytest.mark.parametrize("margin,threshold", [("ratio", 0.0), ("ratio", 1.05), ("distance", 0.0),
                                              ("absolute", 0.2)])
def test_mining_matches_laser_computed_by_brute_force(margin, threshold):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 8)).astype(np.float32)
    y = np.concatenate([x[:25] + 0.7 * rng.standard_normal((25, 8)), rng.standard_normal((12, 8))]).astype(np.float32)
    y = y[rng.permutation(len(y))]
    src, tgt, scores = mining.mine_embeddings(x, y, k=4, margin=margin, threshold=threshold, device="cpu")
    expected = laser_mine(x, y, 4, margin, threshold)
    assert len(expected) > 5
    assert list(zip(src.tolist(), tgt.tolist())) == [(i, j) for i, j, _ in expected]
    np.testing.assert_allclose(scores, [s for _, _, s in expected], rtol=1e-5)


SOURCES = ["the cat sleeps", "a dog runs", "birds sing", "the river is cold", "the red car", "we eat apples"]
TARGETS = ["die Katze schläft", "ein Hund rennt", "Vögel singen", "der Fluss ist kalt", "das rote Auto"]
FILLER = ["ganz anderer Satz", "noch etwas", "nichts davon"]


@pytest.fixture
def planted_encoder(monkeypatch):
    """A fake encoder: a translation pair shares a random vector (plus a little noise), other sentences are random."""
    rng = np.random.default_rng(0)
    shared = {s: rng.standard_normal(16) for s in SOURCES}
    vectors = {s: shared[s] for s in SOURCES}
    vectors.update({t: shared[s] + 0.1 * rng.standard_normal(16) for s, t in zip(SOURCES, TARGETS)})
    vectors.update({f: rng.standard_normal(16) for f in FILLER})

    def encode(model, tokenizer, sentences, **kwargs):
        return np.stack([vectors[s] for s in sentences]).astype(np.float32)

    fake_model = type("Fake", (), {"config": type("Config", (), {"num_hidden_layers": 12})()})()
    monkeypatch.setattr("mlctl.mining.load_encoder", lambda *a, **kw: (fake_model, None))
    monkeypatch.setattr("mlctl.mining.encode_sentences", encode)


def test_mlctl_mine_writes_the_planted_pairs_with_line_numbers(tmp_path, planted_encoder, capsys):
    targets = [FILLER[0], TARGETS[2], TARGETS[0], FILLER[1], TARGETS[4], TARGETS[1], TARGETS[0], FILLER[2],
               TARGETS[3]]
    (tmp_path / "a.txt").write_text("\n".join(SOURCES) + "\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n".join(targets) + "\n", encoding="utf-8")
    output = tmp_path / "out" / "pairs.tsv"
    assert mining.cli(["--model_name_or_path", "fake", "--src_file", str(tmp_path / "a.txt"), "--tgt_file",
                       str(tmp_path / "b.txt"), "--output_file", str(output), "--threshold", "1.5"]) == 0
    rows = [line.split("\t") for line in output.read_text(encoding="utf-8").splitlines()]
    scores = [float(row[0]) for row in rows]
    assert scores == sorted(scores, reverse=True) and min(scores) > 1.5  # "we eat apples" - filler scores 1.08
    found = {(int(row[1]), int(row[2])) for row in rows}
    # 1-based lines; TARGETS[0] occurs on lines 3 and 7: the first occurrence is reported
    assert found == {(1, 3), (2, 6), (3, 2), (4, 9), (5, 5)}
    assert all(SOURCES[int(r[1]) - 1] == r[3] and targets[int(r[2]) - 1] == r[4] for r in rows)
    assert "5 pairs written" in capsys.readouterr().out


def test_mlctl_mine_with_a_tiny_model_pairs_identical_sentences(tmp_path):
    tokenizer = build_tokenizer(tmp_path / "model")
    torch.manual_seed(0)
    AutoModel.from_config(AutoConfig.for_model(**{**TINY_ENCODER, "vocab_size": len(tokenizer)})).save_pretrained(
        tmp_path / "model")
    sentences = [de for _, de in sample_lines("en", "de", 30)]
    order = np.random.default_rng(0).permutation(len(sentences))
    (tmp_path / "a.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n".join(sentences[i] for i in order) + "\n", encoding="utf-8")
    output = tmp_path / "pairs.tsv"
    assert mining.cli(["--model_name_or_path", str(tmp_path / "model"), "--src_file", str(tmp_path / "a.txt"),
                       "--tgt_file", str(tmp_path / "b.txt"), "--output_file", str(output), "--device", "cpu"]) == 0
    rows = [line.split("\t") for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(sentences)
    assert {(int(r[1]), int(r[2])) for r in rows} == {(int(order[j]) + 1, j + 1) for j in range(len(order))}


@pytest.mark.parametrize("content,problem", [
    (b"one sentence\n\nanother\n", "2: empty line"),
    (b"fine\n" + b"x" * 100_000 + b"\n", "2: line of 100,000 characters"),
    (b"fine\nalso fine\nbad \xff\xfe bytes\n", "3: undecodable bytes (not UTF-8) at byte 4"),
])
def test_bad_corpus_lines_get_a_one_line_error(tmp_path, planted_encoder, capsys, content, problem):
    (tmp_path / "good.txt").write_text("\n".join(TARGETS) + "\n", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(content)
    status = mining.cli(["--model_name_or_path", "fake", "--src_file", str(tmp_path / "bad.txt"), "--tgt_file",
                         str(tmp_path / "good.txt"), "--output_file", str(tmp_path / "out.tsv")])
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1 and error.startswith(f"error: {tmp_path / 'bad.txt'}:{problem}")
    assert not (tmp_path / "out.tsv").exists()
