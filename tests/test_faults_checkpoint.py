"""Faults of checkpoints and of training's inputs (issue 16 item 6, issue 19 item 5): return_dict off in a config, a
sentence-term checkpoint loaded into AutoModel, input paths checked before any model loading, config.json fields of
the wrong type and damaged pytorch_model.bin weights, in mlctl-mine, mlctl-xtreme and training."""
import json
import logging
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModel

import run_xtreme_tasks
import train_mlctl
import xtreme_fixtures
from mlctl import mining
from mlctl.training.arguments import MLCTLTrainingArguments
from mlctl.training.collator import MLCTLDataCollator
from mlctl.training.trainer import MLCTLTrainer
from train_fixtures import build_tokenizer
from train_fixtures import cli_args
from train_fixtures import tiny_model
from test_modeling import parallel_batch


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An ML-CTL pre-training checkpoint trained with the sentence term, with its tokenizer."""
    root = tmp_path_factory.mktemp("checkpoint")
    tokenizer = build_tokenizer(root / "tokenizer")
    model = tiny_model(len(tokenizer), sentence_weight=1.0)
    model.save_pretrained(root / "ckpt")
    tokenizer.save_pretrained(root / "ckpt")
    return root / "ckpt"


def damaged_copy(checkpoint, tmp_path, damage: str) -> Path:
    """A copy of `checkpoint` with a config.json field of the wrong type, or its weights as a damaged
    pytorch_model.bin (no safetensors)."""
    copy = Path(shutil.copytree(checkpoint, tmp_path / "damaged"))
    if damage == "pytorch_model.bin":
        (copy / "model.safetensors").unlink()
        (copy / "pytorch_model.bin").write_bytes(b"\x80\x02}q\x00(X\x05\x00\x00\x00cut")
    else:
        config = json.loads((copy / "config.json").read_text())
        config.update(json.loads(damage))
        (copy / "config.json").write_text(json.dumps(config))
    return copy


def last_error_line(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


# ------------------------------------------------------------------------------------------------ return_dict


def test_return_dict_is_honoured_by_forward_and_by_the_trainer(tmp_path, tokenizer, work):
    """A config with return_dict=False: forward returns tuples unless asked for a dict, and training runs."""
    import datasets

    model = tiny_model(len(tokenizer), return_dict=False)
    batch = parallel_batch(vocab=len(tokenizer))
    as_tuple, as_output = model(**batch), model(**batch, return_dict=True)
    assert isinstance(as_tuple, tuple) and torch.equal(as_tuple[0], as_output.loss)
    assert model(**parallel_batch(vocab=len(tokenizer))).__class__ is tuple
    args = MLCTLTrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, max_steps=1,
                                  report_to="none", save_strategy="no", use_cpu=True, logging_steps=1)
    trainer = MLCTLTrainer(model=model, args=args, train_dataset=datasets.load_from_disk(str(work["wps"]))["train"],
                           data_collator=MLCTLDataCollator(tokenizer, max_length=64, seed=1))
    trainer.train()
    logged = next(entry for entry in trainer.state.log_history if "loss" in entry)
    assert logged["loss"] > 0 and logged["contrastive_loss"] > 0


# ------------------------------------------------------------------------------------- sentence_head on load


def test_a_sentence_term_checkpoint_loads_into_automodel_without_a_warning(checkpoint, caplog, capsys):
    with caplog.at_level(logging.WARNING):
        model = AutoModel.from_pretrained(checkpoint)
    printed = capsys.readouterr()
    assert type(model).__name__ == "MLCTLModel"
    assert "sentence_head" not in caplog.text + printed.out + printed.err


# ------------------------------------------------------------------------- input paths before model loading


@pytest.mark.parametrize("flag, value, message", [
    ("--train_dir", "missing-wps", "no such directory"),
    ("--xtreme_results", "missing.json", "no such file"),
    ("--xtreme_results", "broken.json", "not JSON (Expecting value: line 1 column 1 (char 0))"),
    ("--resume_from_checkpoint", "missing-checkpoint", "incomplete checkpoint (not a directory)"),
])
def test_a_bad_input_path_fails_before_any_model_loading(work, tmp_path, monkeypatch, capsys, flag, value, message):
    (tmp_path / "broken.json").write_text("not json")
    monkeypatch.setattr("mlctl.training.run.load_tokenizer", lambda *a: pytest.fail("model loading started"))
    monkeypatch.setattr(sys, "argv", ["train_mlctl.py", *cli_args(work, tmp_path / "out", flag, str(tmp_path / value))])
    assert train_mlctl.cli() == 2
    assert last_error_line(capsys) == f"train_mlctl: error: {flag} {tmp_path / value}: {message}"


# ----------------------------------------------------------- config.json of the wrong type, damaged weights

DAMAGES = {
    '{"temperature": "0.07"}': "MLCTLConfig (config.json): temperature='0.07' is not valid; it must be float, not str",
    '{"pooling_layers": 1}': "MLCTLConfig (config.json): pooling_layers=1 is not valid; it must be tuple[int, int] | "
                             "list[int], not int",
    "pytorch_model.bin": "pytorch_model.bin is damaged: not a whole torch.save archive",
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_mining_refuses_a_damaged_checkpoint_in_one_line(checkpoint, tmp_path, capsys, damage):
    damaged = damaged_copy(checkpoint, tmp_path, damage)
    for name in ("src.txt", "tgt.txt"):
        (tmp_path / name).write_text("a house\nthe dog\n")
    assert mining.cli(["--model_name_or_path", str(damaged), "--src_file", str(tmp_path / "src.txt"), "--tgt_file",
                       str(tmp_path / "tgt.txt"), "--output_file", str(tmp_path / "pairs.tsv")]) == 2
    error = last_error_line(capsys)
    assert error.startswith(f"error: {damaged}") and error.endswith(DAMAGES[damage])


@pytest.mark.parametrize("damage", DAMAGES)
def test_xtreme_refuses_a_damaged_checkpoint_in_one_line_and_says_so_in_results_json(checkpoint, tmp_path, monkeypatch,
                                                                                   capsys, damage):
    damaged = damaged_copy(checkpoint, tmp_path, damage)
    xtreme_fixtures.write_xtreme_fixture(tmp_path / "xtreme")
    monkeypatch.setattr(sys, "argv", ["run_xtreme_tasks.py", "--model_name_or_path", str(damaged), "--tasks", "tatoeba",
                                      "--data_dir", str(tmp_path / "xtreme" / "data"), "--output_dir",
                                      str(tmp_path / "out")])
    assert run_xtreme_tasks.cli() == 2
    error = last_error_line(capsys)
    assert error.startswith(f"error: {damaged}") and error.endswith(DAMAGES[damage])
    assert json.loads((tmp_path / "out" / "results.json").read_text())["error"] == error.removeprefix("error: ")


@pytest.mark.parametrize("damage", DAMAGES)
def test_training_refuses_a_damaged_checkpoint_in_one_line(checkpoint, work, tmp_path, monkeypatch, capsys, damage):
    damaged = damaged_copy(checkpoint, tmp_path, damage)
    monkeypatch.setattr(sys, "argv", ["train_mlctl.py", "--model_name_or_path", str(damaged), "--train_dir",
                                      str(work["wps"]), "--output_dir", str(tmp_path / "out"), "--report_to", "none"])
    assert train_mlctl.cli() == 2
    error = last_error_line(capsys)
    assert error.startswith(f"train_mlctl: error: {damaged}") and error.endswith(DAMAGES[damage])



# ------------------------------------------------------------------------------------ AutoTokenizer (issue 19 item 11)


def test_the_model_cards_loading_code_runs_in_a_fresh_process_without_the_custom_code_prompt(checkpoint, tmp_path):
    """The card's snippet, run as a user would in a fresh process (modeling_mlctl not imported, stdin not a
    terminal): AutoTokenizer reads config.json first, whose auto_map names the ML-CTL code, and without an explicit
    trust_remote_code transformers asks "Do you wish to run the custom code?" for a tokenizer that needs none."""
    import subprocess

    from mlctl.training.model_card import USAGE

    code = USAGE.format(name=checkpoint) + "print(type(tokenizer).__name__, type(model).__name__)\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": ""})
    assert "custom code" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["BertTokenizer", "MLCTLModel"]
