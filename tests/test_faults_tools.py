"""The fault battery of the tools' edges (issue 19, items 6, 7, 8, 9 less their numeric flags, and 12): mlctl-mine's and
mlctl-align's output files and input lines, mining that resumes, a full disk, an unreachable Hub and an exploding
loss in training, and what a SIGTERM leaves in mlctl-xtreme's results.json."""
import errno
import hashlib
import json
import logging
import math
import os
import signal
import sys

import numpy as np
import pytest

import run_xtreme_tasks
import train_mlctl
import xtreme_fixtures
from data_prep.reading import read_text_lines
from mlctl import alignment
from mlctl import mining
from mlctl.training.guards import last_complete_checkpoint
from mlctl.training.trainer import MLCTLTrainer
from test_faults import run_cli
from train_fixtures import cli_args

pytestmark = pytest.mark.timeout(300)


def fake_vector(sentence: str) -> np.ndarray:
    """A vector that depends on the sentence alone: identical sentences get identical vectors, others random ones."""
    seed = int.from_bytes(hashlib.sha256(sentence.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(16)


@pytest.fixture
def fake_encoder(monkeypatch):
    """mlctl.mining's encoder replaced by `fake_vector`; returns the list of sentence counts of its calls."""
    calls = []

    def encode(model, tokenizer, sentences, **kwargs):
        calls.append(len(sentences))
        return np.stack([fake_vector(s) for s in sentences]).astype(np.float32)

    fake_model = type("Fake", (), {"config": type("Config", (), {"num_hidden_layers": 12})()})()
    monkeypatch.setattr("mlctl.mining.load_encoder", lambda *a, **kw: (fake_model, None))
    monkeypatch.setattr("mlctl.mining.encode_sentences", encode)
    return calls


def mine(tmp_path, src_bytes, tgt_bytes, output=None):
    """mlctl-mine's console entry on two corpora written as given: (exit status, output rows or None)."""
    (tmp_path / "a.txt").write_bytes(src_bytes)
    (tmp_path / "b.txt").write_bytes(tgt_bytes)
    output = output or tmp_path / "pairs.tsv"
    status = mining.cli(["--model_name_or_path", "fake", "--src_file", str(tmp_path / "a.txt"), "--tgt_file",
                         str(tmp_path / "b.txt"), "--output_file", str(output)])
    rows = output.read_bytes().decode("utf-8").split("\n")[:-1] if output.is_file() else None
    return status, rows


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    return error.strip()


def refuse_writes_under(monkeypatch, directory, code):
    """Every file opened under `directory` fails as the operating system fails it with `code`."""
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if str(path).startswith(str(directory)):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)


SENTENCES = ["the cat sleeps", "a dog runs", "birds sing", "the river is cold", "the red car", "we eat apples"]
CORPUS = ("\n".join(SENTENCES) + "\n").encode()


# ------------------------------------------------------------------------------------------ 6. mlctl-mine's edges


@pytest.mark.parametrize("case", ["directory", "read-only", "parent is a file"])
def test_mine_refuses_an_unwritable_output_file_before_encoding(tmp_path, fake_encoder, monkeypatch, capsys, case):
    output = tmp_path / "out" / "pairs.tsv"
    expected = {"directory": f"{output}: is a directory, not a file",
                "read-only": f"{output.parent}: cannot write there: Read-only file system",
                "parent is a file": f"{output.parent}: exists and is not a directory"}[case]
    if case == "directory":
        output.mkdir(parents=True)
    elif case == "read-only":
        output.parent.mkdir()
        refuse_writes_under(monkeypatch, output.parent, errno.EROFS)
    else:
        output.parent.write_text("a file in the way")
    status, _ = mine(tmp_path, CORPUS, CORPUS, output)
    assert (status, one_line_error(capsys)) == (2, f"error: --output_file {expected}")
    assert fake_encoder == []  # refused before any encoding


def test_mine_refuses_a_tab_inside_a_sentence_with_file_and_line(tmp_path, fake_encoder, capsys):
    status, rows = mine(tmp_path, b"one sentence\nsource\twith a tab\n", CORPUS)
    assert status == 2 and rows is None
    assert one_line_error(capsys) == (f"error: {tmp_path / 'a.txt'}:2: tab at column 7 (the output is tab-separated; "
                                      "replace tabs in the corpus first)")


def test_mine_reads_lone_carriage_returns_as_line_breaks(tmp_path, fake_encoder):
    status, rows = mine(tmp_path, CORPUS.replace(b"\n", b"\r"), CORPUS.replace(b"\n", b"\r\n"))
    assert status == 0
    assert len(rows) == len(SENTENCES) and not any("\r" in row for row in rows)
    assert sorted((int(line), int(tgt), src) for _, line, tgt, src, _ in (row.split("\t") for row in rows)) == [
        (n, n, sentence) for n, sentence in enumerate(SENTENCES, 1)]


def test_mine_drops_the_byte_order_mark_of_the_first_sentence(tmp_path, fake_encoder):
    status, rows = mine(tmp_path, b"\xef\xbb\xbf" + CORPUS, CORPUS)
    first = next(row.split("\t") for row in rows if row.split("\t")[1] == "1")
    assert status == 0 and first[3] == SENTENCES[0] and float(first[0]) > 1.0  # paired with its identical twin


def test_the_line_reader_splits_every_line_ending_and_keeps_numbers(tmp_path):
    (tmp_path / "mixed.txt").write_bytes(b"\xef\xbb\xbfone\rtwo\r\nthree\nfour")
    assert list(read_text_lines(tmp_path / "mixed.txt")) == [(1, "one"), (2, "two"), (3, "three"), (4, "four")]


# ----------------------------------------------------------------------------------------- 7. mlctl-align's edges


@pytest.fixture
def no_alignment_model(monkeypatch):
    monkeypatch.setattr("mlctl.alignment.load_encoder", lambda *a, **kw: pytest.fail("work started"))


def align(tmp_path, data: bytes, *extra, output=None):
    (tmp_path / "pairs.txt").write_bytes(data)
    return alignment.cli(["--model_name_or_path", "unused", "--input_file", str(tmp_path / "pairs.txt"),
                          "--output_file", str(output or tmp_path / "out.pharaoh"), *extra])


@pytest.mark.parametrize("case", ["directory", "read-only"])
def test_align_refuses_an_unwritable_output_file_before_work(tmp_path, no_alignment_model, monkeypatch, capsys, case):
    output = tmp_path / "out" / "links.pharaoh"
    if case == "directory":
        output.mkdir(parents=True)
        expected = f"{output}: is a directory, not a file"
    else:
        output.parent.mkdir()
        refuse_writes_under(monkeypatch, output.parent, errno.EACCES)
        expected = f"{output.parent}: cannot write there: Permission denied"
    assert align(tmp_path, b"a b ||| c d\n", output=output) == 2
    assert one_line_error(capsys) == f"error: --output_file {expected}"


def test_align_names_a_missing_or_undecodable_gold_file_before_work(tmp_path, no_alignment_model, capsys):
    gold = tmp_path / "gold.txt"
    assert align(tmp_path, b"a b ||| c d\n", "--gold_file", str(gold)) == 2
    assert one_line_error(capsys) == f"error: {gold}: no such file"
    gold.write_bytes(b"0-0 1-\xff1\n")
    assert align(tmp_path, b"a b ||| c d\n", "--gold_file", str(gold)) == 2
    assert one_line_error(capsys) == f"error: {gold}:1: undecodable bytes (not UTF-8) at byte 6: b'\\xff1\\n'"


@pytest.mark.parametrize("data,problem", [
    (b"", "pairs.txt: empty file (one 'source words ||| target words' pair a line is expected)"),
    (b"a b ||| c d\ne ||| f\n\n",
     "pairs.txt:3: empty line (one 'source words ||| target words' pair a line is expected)"),
])
def test_align_refuses_an_empty_data_file_as_it_refuses_a_blank_line(tmp_path, no_alignment_model, capsys, data,
                                                                      problem):
    assert align(tmp_path, data) == 2
    assert one_line_error(capsys) == f"error: {tmp_path / problem}"
    assert not (tmp_path / "out.pharaoh").exists()


# --------------------------------------------------------------------------------------- 12. mining resumes


def test_a_stopped_mining_run_continues_where_it_stopped_and_gives_the_uninterrupted_output(tmp_path, fake_encoder,
                                                                                          monkeypatch):
    monkeypatch.setattr(mining, "ENCODE_CHUNK", 2)  # 6 sentences a side: 3 chunks each
    targets = ("\n".join(SENTENCES[::-1] + ["something else"]) + "\n").encode()  # 7 sentences: 4 chunks
    (tmp_path / "whole").mkdir()
    assert mine(tmp_path / "whole", CORPUS, targets)[0] == 0
    uninterrupted = (tmp_path / "whole" / "pairs.tsv").read_bytes()
    assert fake_encoder == [2, 2, 2, 2, 2, 2, 1]

    real_encode, fake_encoder[:] = mining.encode_sentences, []

    def stop_after_four_chunks(*args, **kwargs):
        if len(fake_encoder) == 4:
            raise KeyboardInterrupt  # as Ctrl-C (or a kill) in the fifth chunk
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(mining, "encode_sentences", stop_after_four_chunks)
    with pytest.raises(KeyboardInterrupt):
        mine(tmp_path, CORPUS, targets)
    assert not (tmp_path / "pairs.tsv").exists() and (tmp_path / ".pairs.tsv.mlctl-mine").is_dir()
    monkeypatch.setattr(mining, "encode_sentences", real_encode)
    fake_encoder[:] = []
    assert mine(tmp_path, CORPUS, targets)[0] == 0
    assert fake_encoder == [2, 2, 1]  # the target side's last three chunks only
    assert (tmp_path / "pairs.tsv").read_bytes() == uninterrupted
    assert not (tmp_path / ".pairs.tsv.mlctl-mine").exists()


def test_mining_starts_over_when_the_corpus_changed_since_the_stop(tmp_path, fake_encoder, monkeypatch):
    monkeypatch.setattr(mining, "ENCODE_CHUNK", 2)
    work_dir = tmp_path / ".pairs.tsv.mlctl-mine"
    work_dir.mkdir()
    (tmp_path / "a.txt").write_bytes(CORPUS)
    sentences, _ = mining.read_sentences(tmp_path / "a.txt")
    settings = dict(model=mining.checkpoint_identity("fake"), layer=8, pooling="mean", batch_size=64, max_length=None)
    stale = sentences[:-1] + ["another last sentence"]
    mining.encode_to_memmap(None, None, stale, work_dir / "src.npy", layer=8, pooling="mean", batch_size=64,
                            max_length=None, description="src",
                            fingerprint=mining.encoding_fingerprint(stale, settings))
    fake_encoder[:] = []
    assert mine(tmp_path, CORPUS, CORPUS)[0] == 0
    assert fake_encoder == [2, 2, 2, 2, 2, 2]  # both sides encoded in full


# ---------------------------------------------------------------------------------------------------- 8. training


@pytest.mark.parametrize("failure", [
    RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 1280 vs 1174"),
    OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
], ids=["torch zip writer", "ENOSPC"])
def test_a_disk_filling_during_a_checkpoint_save_is_one_line_and_resume_skips_the_half_checkpoint(
        work, tmp_path, monkeypatch, capsys, failure):
    import torch

    real_save = torch.save

    def save_until_the_disk_fills(obj, path, *args, **kwargs):
        if "checkpoint-4" in str(path):
            raise failure
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_the_disk_fills)
    out = tmp_path / "out"
    status, error = run_cli(monkeypatch, capsys, cli_args(work, out, "--max_steps", "6", "--save_steps", "2"))
    assert (status, error) == (1, f"train_mlctl: error: {out / 'checkpoint-4'}: disk full while saving ({failure}); "
                                  "training stopped; an incomplete checkpoint is skipped on resume; last complete "
                                  f"checkpoint: {out / 'checkpoint-2'}")
    assert (out / "checkpoint-4" / "model.safetensors").is_file()  # the half-written checkpoint stays
    assert last_complete_checkpoint(out) == str(out / "checkpoint-2")


def test_push_to_hub_while_offline_is_one_line_before_training(work, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(MLCTLTrainer, "train", lambda *a, **k: pytest.fail("training started"))
    status, error = run_cli(monkeypatch, capsys, cli_args(work, tmp_path / "out", "--max_steps", "2", "--push_to_hub",
                                                          "--hub_model_id", "someone/tiny"))
    assert (status, error) == (2, "train_mlctl: error: --push_to_hub: cannot create the repository on the Hub "
                                  "(https://huggingface.co): Cannot reach https://huggingface.co/api/repos/create: "
                                  "offline mode is enabled. To disable it, please unset the `HF_HUB_OFFLINE` "
                                  "environment variable.")


def test_push_to_hub_without_a_reachable_endpoint_is_one_line_before_training(work, tmp_path, monkeypatch, capsys):
    import huggingface_hub
    import transformers.utils.hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(transformers.utils.hub, "_hf_api", huggingface_hub.HfApi(endpoint="http://127.0.0.1:9",
                                                                                 token="hf_not_a_token"))
    monkeypatch.setattr(MLCTLTrainer, "train", lambda *a, **k: pytest.fail("training started"))
    status, error = run_cli(monkeypatch, capsys, cli_args(work, tmp_path / "out", "--max_steps", "2", "--push_to_hub",
                                                          "--hub_model_id", "someone/tiny"))
    assert (status, error) == (2, "train_mlctl: error: --push_to_hub: cannot create the repository on the Hub "
                                  f"(http://127.0.0.1:9): [Errno {errno.ECONNREFUSED}] Connection refused")


@pytest.mark.parametrize("learning_rate,exploded", [("1e3", True), ("3e-4", False)])
def test_a_finite_loss_explosion_is_warned_and_in_the_final_metrics(work, tmp_path, caplog, learning_rate, exploded):
    with caplog.at_level(logging.WARNING, logger="mlctl.training.guards"):
        result = train_mlctl.main(cli_args(work, tmp_path / "out", "--max_steps", "6", "--logging_steps", "1",
                                           "--learning_rate", learning_rate, "--save_strategy", "no"))
    losses = [entry["loss"] for entry in result_log(tmp_path / "out") if "loss" in entry]
    assert all(map(math.isfinite, losses))
    ratio = max(losses[1:]) / losses[0]
    assert (ratio > 1000) if exploded else (ratio < 2)  # 1e3: the MLM loss goes from about 7 to millions
    assert result["train"]["loss_exploded"] is exploded
    assert result["train"]["max_loss_ratio"] == pytest.approx(ratio)
    assert json.loads((tmp_path / "out" / "train_results.json").read_text())["loss_exploded"] is exploded
    warnings = [record.getMessage() for record in caplog.records
                if "times the first logged loss" in record.getMessage()]
    assert len(warnings) == (1 if exploded else 0)
    if exploded:
        assert warnings[0].startswith("step 2: training loss ") and f"({losses[0]:.4g} at step 1)" in warnings[0]


def result_log(output_dir):
    return json.loads((output_dir / "trainer_state.json").read_text())["log_history"]


# ---------------------------------------------------------------------------------------------------- 9. xtreme


@pytest.fixture(scope="module")
def xtreme(tmp_path_factory):
    root = tmp_path_factory.mktemp("xtreme")
    xtreme_fixtures.write_xtreme_fixture(root)
    return root, xtreme_fixtures.write_tiny_bert(root / "model", xtreme_fixtures.fixture_corpus())


def xtreme_cli(monkeypatch, root, model, out, *extra):
    monkeypatch.setattr(sys, "argv", ["run_xtreme_tasks.py", "--model_name_or_path", str(model), "--tasks",
                                      "tatoeba,bucc2018", "--languages", "de,fr", "--data_dir", str(root / "data"),
                                      "--output_dir", str(out), "--no_hub", *extra])
    return run_xtreme_tasks.cli()


def test_a_sigterm_leaves_a_results_json_that_says_the_run_was_interrupted(xtreme, tmp_path, monkeypatch, capsys):
    from mlctl.evaluation import xtreme as xtreme_module

    root, model = xtreme
    scored = xtreme_module.XtremeEvaluation._tatoeba

    def terminated_on_french(self, lang):
        if lang == "fr":
            os.kill(os.getpid(), signal.SIGTERM)  # as a scheduler stops the job
        return scored(self, lang)

    monkeypatch.setattr(xtreme_module.XtremeEvaluation, "_tatoeba", terminated_on_french)
    out = tmp_path / "out"
    # The session's own handler, in place of the default one that would end pytest should the run install none.
    unhandled = []

    def test_handler(*args):
        unhandled.append(args)

    session_handler = signal.signal(signal.SIGTERM, test_handler)
    try:
        status = xtreme_cli(monkeypatch, root, model, out)
        handler_after_the_run = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, session_handler)
    assert unhandled == [] and status == 128 + signal.SIGTERM
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: interrupted by SIGTERM during task tatoeba; {out / 'results.json'} holds what finished")
    saved = json.loads((out / "results.json").read_text())
    assert saved["interrupted"] == "SIGTERM during task tatoeba"
    assert saved["tasks"]["tatoeba"]["languages"]["de"]["accuracy"] == 100.0 and "bucc2018" not in saved["tasks"]
    assert handler_after_the_run is test_handler  # the run's handler is gone with it


def test_a_report_md_that_cannot_be_written_is_one_line_before_work(xtreme, tmp_path, monkeypatch, capsys):
    root, model = xtreme
    (tmp_path / "report.md").mkdir()
    monkeypatch.setattr("mlctl.evaluation.xtreme.XtremeEvaluation", lambda *a: pytest.fail("work started"))
    assert xtreme_cli(monkeypatch, root, model, tmp_path / "out", "--report_md", str(tmp_path / "report.md")) == 2
    assert one_line_error(capsys) == f"error: --report_md {tmp_path / 'report.md'}: is a directory, not a file"
