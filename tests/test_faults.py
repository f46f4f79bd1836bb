"""The fault battery: bad input and faults in data_prep, training and evaluation end in one line (or are handled),
never in a silent NaN model, a resume that cannot start, or lost results. One test (or more) per item of issue 10."""
import errno
import inspect
import json
import logging
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer
from transformers import TrainingArguments

import train_fixtures
import train_mlctl
import xtreme_fixtures
from data_prep import PairSpec
from data_prep import build_wps_dataset
from data_prep.__main__ import main as data_prep_main
from data_prep.reading import InputError
from data_prep.tokenizer import train_wordpiece_tokenizer
from data_prep.tokenizer import vocabulary_sha256
from data_prep_fixtures import write_lines
from mlctl.evaluation import FineTuningSettings
from mlctl.evaluation import XtremeArguments
from mlctl.evaluation import run_xtreme
from mlctl.evaluation.readers import XtremeData
from mlctl.search import retrieval_accuracy
from mlctl.training.arguments import DataArguments
from mlctl.training.arguments import training_argument_parser
from mlctl.training.collator import MLCTLDataCollator
from mlctl.training.collator import MLM_INPUTS
from mlctl.training.data import fit_to_model_length
from mlctl.training.data import load_wps_splits
from mlctl.training.data import prepare_split
from mlctl.training.errors import TrainingDivergedError
from mlctl.training.errors import TrainingSetupError
from mlctl.training.guards import NonFiniteGuard
from mlctl.training.run import train
from mlctl.training.trainer import RETRIEVAL_TIE_TOLERANCE
from mlctl.training.trainer import MLCTLTrainer
from train_fixtures import HubStandIn
from train_fixtures import StopAfter
from train_fixtures import cli_args

pytestmark = pytest.mark.timeout(300)
SAMPLE_WORDS = train_fixtures.SAMPLE_DIR / "words"


def save_splits(path, **splits):
    """A text-layout WPS DatasetDict of the given row lists saved to `path` (an empty split as one empty shard, as
    data_prep saves it)."""
    columns = train_fixtures.wps_rows(1)[0].keys()
    datasets.DatasetDict({
        name: datasets.Dataset.from_list(rows) if rows else datasets.Dataset.from_dict({key: [] for key in columns})
        for name, rows in splits.items()
    }).save_to_disk(path, num_shards={name: 1 for name, rows in splits.items() if not rows})
    return path


def with_train_dir(args, train_dir):
    args = list(args)
    args[args.index("--train_dir") + 1] = str(train_dir)
    return args


def run_cli(monkeypatch, capsys, args):
    """train_mlctl's console entry point: (exit status, the last line of stderr, below the progress bars)."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["train_mlctl.py", *args])
    status = train_mlctl.cli()
    return status, capsys.readouterr().err.strip().splitlines()[-1]


def parsed(args):
    return training_argument_parser().parse_args_into_dataclasses(args=args)


# ------------------------------------------------------------------------ 1. a diverging run stops, saves nothing


def test_non_finite_loss_stops_the_run_at_its_step_and_keeps_the_last_good_checkpoint(work, tmp_path, monkeypatch,
                                                                                      capsys):
    rows = train_fixtures.wps_rows(20)
    train_dir = save_splits(tmp_path / "wps", train=rows[:16], validation=rows[16:])
    out = tmp_path / "out"
    status, error = run_cli(monkeypatch, capsys, with_train_dir(cli_args(
        work, out, "--max_steps", "4", "--learning_rate", "1e6", "--save_steps", "1", "--logging_steps", "1",
        "--eval_strategy", "no"), train_dir))
    assert status == 1
    assert error == (f"train_mlctl: error: step 2: non-finite contrastive loss and MLM loss; training stopped before "
                     f"this step and nothing was saved from it; last good checkpoint: {out / 'checkpoint-1'} "
                     "(a lower --learning_rate or --max_grad_norm may help)")
    assert sorted(path.name for path in out.iterdir()) == ["checkpoint-1"]  # no model, no card, no checkpoint-2
    assert all(torch.isfinite(value).all() for value in load_file(out / "checkpoint-1" / "model.safetensors").values())


def test_non_finite_gradient_is_named(tokenizer):
    model = train_fixtures.tiny_model(len(tokenizer))
    guard = NonFiniteGuard()
    guard.record(torch.tensor(1.0), torch.tensor(2.0))
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)
    next(model.parameters()).grad[0] = float("inf")
    args = TrainingArguments(output_dir="/nonexistent/out", report_to="none", use_cpu=True)
    state = type("State", (), {"global_step": 6})()
    with pytest.raises(TrainingDivergedError, match="^step 7: non-finite gradient; .*last good checkpoint: none saved"):
        guard.on_pre_optimizer_step(args, state, None, model=model)
    guard.record(torch.tensor(float("nan")), None)
    with pytest.raises(TrainingDivergedError, match="^step 7: non-finite contrastive loss;"):
        guard.on_pre_optimizer_step(args, state, None, model=model)


def test_logged_training_metrics_show_nan(tokenizer, tmp_path):
    model = train_fixtures.tiny_model(len(tokenizer))
    trainer = MLCTLTrainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), report_to="none",
                                                               use_cpu=True),
                           data_collator=MLCTLDataCollator(tokenizer))
    outputs = model(**MLCTLDataCollator(tokenizer, seed=1)(train_fixtures.wps_rows(4)))
    outputs.contrastive_loss = outputs.contrastive_loss * float("nan")
    trainer._accumulate_train_metrics(outputs, outputs.mlm_loss)
    trainer.log({"loss": float("nan")})
    logged = trainer.state.log_history[-1]
    assert math.isnan(logged["contrastive_loss"]) and math.isfinite(logged["mlm_loss"])


# ------------------------------------------------------------------------------- 2. no batch of a single pair


def test_a_tail_batch_of_one_pair_is_left_out_with_a_count(work, tmp_path, caplog):
    rows = train_fixtures.wps_rows(21)
    train_dir = save_splits(tmp_path / "wps", train=rows[:17], validation=rows[17:])
    args = with_train_dir(cli_args(work, tmp_path / "out", "--num_train_epochs", "2", "--save_strategy", "no",
                                   "--eval_strategy", "no"), train_dir)
    with caplog.at_level(logging.WARNING):
        train_mlctl.main(args)
    assert ("17 training pairs in batches of 8 would leave a batch of 1 pair (no negative) at the end of every "
            "epoch: 1 pair (the last row) left out") in caplog.text
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    assert state["global_step"] == 4  # 2 epochs of 2 full batches


@pytest.mark.parametrize("rows, batch, message", [
    (16, "1", "--per_device_train_batch_size 1: the contrastive loss needs at least 2 pairs per batch"),
    (1, "8", "1 training pair(s): the contrastive loss needs at least 2"),
])
def test_batch_size_one_and_a_one_row_dataset_are_refused(work, tmp_path, monkeypatch, capsys, rows, batch, message):
    validation = train_fixtures.wps_rows(20)[16:]
    train_dir = save_splits(tmp_path / "wps", train=train_fixtures.wps_rows(rows), validation=validation)
    args = with_train_dir(cli_args(work, tmp_path / "out", "--max_steps", "2", "--eval_strategy", "no"), train_dir)
    args[args.index("--per_device_train_batch_size") + 1] = batch
    status, error = run_cli(monkeypatch, capsys, args)
    assert (status, error) == (2, f"train_mlctl: error: {message} (its negatives are the other pairs)"
                               if batch == "1" else f"train_mlctl: error: {message}")


def test_an_evaluation_batch_of_one_pair_counts_for_retrieval(tokenizer, tmp_path):
    """5 validation pairs in batches of 2: the tail pair has no loss but is retrieved among all 5."""
    model = train_fixtures.tiny_model(len(tokenizer), seed=3).eval()
    rows = train_fixtures.wps_rows(5)
    collator = MLCTLDataCollator(tokenizer, seed=2)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=2, report_to="none", use_cpu=True)
    trainer = MLCTLTrainer(model=model, args=args, eval_dataset=datasets.Dataset.from_list(rows),
                           data_collator=collator)
    metrics = trainer.evaluate()
    with torch.no_grad():
        clean = model(**{k: v for k, v in collator(rows).items() if k not in MLM_INPUTS})
        batch_losses = [model(**collator(rows[start:start + 2])).contrastive_loss.item() for start in (0, 2)]
    expected = retrieval_accuracy(clean.x_embeddings.numpy(), clean.y_embeddings.numpy(), RETRIEVAL_TIE_TOLERANCE)[0]
    assert metrics["eval_x2y_accuracy"] == pytest.approx(expected)
    assert metrics["eval_contrastive_loss"] == pytest.approx(np.mean(batch_losses), rel=1e-5)


# ------------------------------------------------------------------------- 3. resume past partial checkpoints


def test_resume_skips_incomplete_checkpoints_and_matches_the_uninterrupted_run(work, tmp_path, caplog):
    flags = ["--max_steps", "8", "--save_steps", "4", "--learning_rate", "2e-3", "--logging_steps", "4",
             "--eval_strategy", "no", "--warmup_steps", "2"]
    train_mlctl.main(cli_args(work, tmp_path / "straight", *flags))
    resumed = tmp_path / "resumed"
    train(*parsed(cli_args(work, resumed, *flags)), callbacks=[StopAfter(4)])
    complete = resumed / "checkpoint-4"
    (resumed / "checkpoint-8").mkdir()  # killed right after creating the folder
    shutil.copytree(complete, resumed / "checkpoint-7")  # killed while writing the weights
    weights = resumed / "checkpoint-7" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    shutil.copytree(complete, resumed / "checkpoint-6")  # killed before the optimizer state
    (resumed / "checkpoint-6" / "optimizer.pt").unlink()
    shutil.copytree(complete, resumed / "checkpoint-5")  # a full disk cut the trainer state short
    state = resumed / "checkpoint-5" / "trainer_state.json"
    state.write_text(state.read_text()[:50])
    with caplog.at_level(logging.WARNING):
        train_mlctl.main(cli_args(work, resumed, *flags))
    for name, problem in (("checkpoint-8", "empty"), ("checkpoint-6", "no optimizer.pt"),
                          ("checkpoint-5", "trainer_state.json is truncated")):
        assert f"{resumed / name}: incomplete checkpoint ({problem}), skipped" in caplog.text
    assert f"{resumed / 'checkpoint-7'}: incomplete checkpoint (model.safetensors is damaged: " in caplog.text
    straight = load_file(tmp_path / "straight" / "model.safetensors")
    final = load_file(resumed / "model.safetensors")
    assert straight.keys() == final.keys()
    assert all(torch.equal(final[name], value) for name, value in straight.items())


def test_an_explicit_incomplete_checkpoint_is_refused(work, tmp_path, monkeypatch, capsys):
    (tmp_path / "checkpoint-3").mkdir()
    status, error = run_cli(monkeypatch, capsys, cli_args(work, tmp_path / "out", "--resume_from_checkpoint",
                                                          str(tmp_path / "checkpoint-3")))
    assert (status, error) == (2, f"train_mlctl: error: --resume_from_checkpoint {tmp_path / 'checkpoint-3'}: "
                                  "incomplete checkpoint (empty)")


# ------------------------------------------------------------------------------ 4. the data's tokenizer identity


def word_list_wps(tmp_path, tokenizer):
    """Pre-tokenised WPS of 60 sample pairs built by data_prep with `tokenizer` (word-list aligner: fast)."""
    lines = train_fixtures.sample_lines("en", "de", 60)
    spec = PairSpec("en", "de", write_lines(tmp_path / "c.en", [en for en, _ in lines]),
                    write_lines(tmp_path / "c.de", [de for _, de in lines]))
    build_wps_dataset([spec], tmp_path / "wps", aligner="word-list", word_list_dir=str(SAMPLE_WORDS),
                      tokenizer=tokenizer, max_length=48, validation_fraction=0.0, show_progress=False)
    return tmp_path / "wps"


def test_training_refuses_data_built_with_another_tokenizer(tmp_path, tokenizer, caplog):
    train_dir = word_list_wps(tmp_path, tokenizer)
    report = json.loads((train_dir / "data_prep_report.json").read_text())["tokenizer"]
    assert report["vocab_size"] == len(tokenizer) and len(report["vocab_sha256"]) == 64
    texts = [text for line in train_fixtures.sample_lines("en", "fr") for text in line]
    other = train_wordpiece_tokenizer(texts, vocab_size=700, model_max_length=64)
    other.save_pretrained(tmp_path / "other")
    other = AutoTokenizer.from_pretrained(tmp_path / "other")
    assert len(other) > len(tokenizer)  # every id of the data is valid in it: only the identity tells them apart
    data_args = DataArguments(train_dir=str(train_dir))
    with pytest.raises(TrainingSetupError) as raised:
        load_wps_splits(data_args, other, 64)
    assert str(raised.value) == (
        f"{train_dir}: token ids built with tokenizer {report['name_or_path']!r} (vocabulary {len(tokenizer)}, sha256 "
        f"{report['vocab_sha256'][:12]}) but training uses {str(tmp_path / 'other')!r} (vocabulary {len(other)}, "
        f"sha256 {vocabulary_sha256(other)[:12]}): rebuild the data with this tokenizer or pass the data's one as --tokenizer_name")
    train_split, _ = load_wps_splits(data_args, tokenizer, 64)  # the data's own tokenizer passes
    assert len(train_split) > 20
    # Data from an older data_prep (no identity recorded) still load, with a warning.
    (train_dir / "data_prep_report.json").write_text(json.dumps({"tokenizer": {"vocab_size": len(tokenizer)}}))
    with caplog.at_level(logging.WARNING):
        load_wps_splits(data_args, other, 64)
    assert f"{train_dir}: no tokenizer identity recorded (data_prep report missing or older)" in caplog.text


# -------------------------------------------------------------------------------- 5. evaluation keeps results


@pytest.fixture(scope="module")
def xtreme(tmp_path_factory):
    root = tmp_path_factory.mktemp("xtreme")
    xtreme_fixtures.write_xtreme_fixture(root)
    model = xtreme_fixtures.write_tiny_bert(root / "model", xtreme_fixtures.fixture_corpus())
    return root, model


def xtreme_args(root, model, out, tasks, **kwargs):
    return XtremeArguments(model_name_or_path=str(model), tasks=tasks, data_dir=str(root / "data"),
                           labels_dir=str(root / "labels"), output_dir=str(out), no_hub=True, **kwargs)


def test_a_malformed_file_costs_only_its_language(xtreme, tmp_path):
    root, model = xtreme
    bad = tmp_path / "tatoeba.fra-eng.fra"
    bad.write_text("only one line\n")
    shutil.copy(root / "data" / "tatoeba" / "tatoeba.fra-eng.eng", tmp_path / "tatoeba.fra-eng.eng")
    empty = tmp_path / "de-test.conllu"
    empty.write_text("")
    args = xtreme_args(root, model, tmp_path / "out", "tatoeba,udpos", languages="de,fr",
                       data_file=[f"tatoeba:test:fr={bad}", f"udpos:test:de={empty}"])
    results = run_xtreme(args, FineTuningSettings(max_steps=2, per_device_train_batch_size=8))
    tatoeba = results["tasks"]["tatoeba"]
    assert tatoeba["languages"]["de"]["accuracy"] == 100.0
    assert tatoeba["errors"] == [f"fr: {tmp_path / 'tatoeba.fra-eng.eng'}: 20 lines but {bad} has 1; Tatoeba pairs "
                                 "are line-aligned"]
    assert tatoeba["average"] == 100.0
    assert results["tasks"]["udpos"]["errors"] == [f"de: {empty}: no examples (empty file)"]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["tasks"] == results["tasks"]


def test_results_json_holds_every_finished_language_when_the_run_dies(xtreme, tmp_path, monkeypatch):
    root, model = xtreme
    from mlctl.evaluation import xtreme as xtreme_module

    scored = xtreme_module.XtremeEvaluation._tatoeba

    def dies_on_french(self, lang):
        if lang == "fr":
            raise KeyboardInterrupt
        return scored(self, lang)

    monkeypatch.setattr(xtreme_module.XtremeEvaluation, "_tatoeba", dies_on_french)
    with pytest.raises(KeyboardInterrupt):
        run_xtreme(xtreme_args(root, model, tmp_path / "out", "tatoeba", languages="de,fr"))
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["tasks"]["tatoeba"]["languages"]["de"]["accuracy"] == 100.0
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["results.json"]  # no temporary file left


@pytest.mark.parametrize("damage, message", [
    ("truncate", "model.safetensors is damaged: Error while deserializing header"),
    ("no config", "no config.json"),
])
def test_a_broken_checkpoint_gives_one_line_and_a_results_json(xtreme, tmp_path, monkeypatch, capsys, damage, message):
    import run_xtreme_tasks

    root, model = xtreme
    broken = Path(shutil.copytree(model, tmp_path / "model"))
    if damage == "truncate":
        weights = broken / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:5000])
    else:
        (broken / "config.json").unlink()
    monkeypatch.setattr(sys, "argv", ["run_xtreme_tasks.py", "--model_name_or_path", str(broken), "--tasks",
                                      "tatoeba", "--data_dir", str(root / "data"), "--output_dir", str(tmp_path / "out")])
    assert run_xtreme_tasks.cli() == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"error: {broken}: {message}") and "\n" not in error
    assert json.loads((tmp_path / "out" / "results.json").read_text())["error"] == error.removeprefix("error: ")


def test_an_empty_training_file_is_a_task_error(xtreme, tmp_path):
    root, model = xtreme
    empty = tmp_path / "en-train.conllu"
    empty.write_text("")
    results = run_xtreme(xtreme_args(root, model, tmp_path / "out", "udpos", languages="de",
                                     data_file=[f"udpos:train:en={empty}"]))
    assert results["tasks"]["udpos"]["errors"] == [f"{empty}: no examples (empty file)"]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]["udpos"]["average"] is None


# --------------------------------------------------------------------------- 6. empty validation, no train rows


def test_an_empty_validation_split_trains_without_evaluation(work, tmp_path, monkeypatch, capsys):
    train_dir = save_splits(tmp_path / "wps", train=train_fixtures.wps_rows(16), validation=[])
    args = with_train_dir(cli_args(work, tmp_path / "out", "--max_steps", "2", "--save_strategy", "no",
                                   "--eval_strategy", "no"), train_dir)
    assert train_mlctl.main(args)["eval"] == {}
    args[args.index("--eval_strategy") + 1] = "steps"
    status, error = run_cli(monkeypatch, capsys, args)
    assert (status, error) == (2, f"train_mlctl: error: --eval_strategy steps needs validation pairs but {train_dir} "
                                  "has none in 'validation': pass --eval_strategy no")


@pytest.mark.parametrize("layout", ["text", "tokenized"])
def test_zero_training_rows_is_one_line(work, tokenizer, tmp_path, monkeypatch, capsys, layout):
    rows = train_fixtures.wps_rows(4)
    if layout == "tokenized":
        rows = list(prepare_split(datasets.Dataset.from_list(rows), tokenizer, 64, None, "rows"))
    empty = datasets.Dataset.from_list(rows).select([])
    datasets.DatasetDict({"train": empty, "validation": datasets.Dataset.from_list(rows)}).save_to_disk(
        tmp_path / "wps", num_shards={"train": 1})
    args = with_train_dir(cli_args(work, tmp_path / "out", "--max_steps", "2"), tmp_path / "wps")
    status, error = run_cli(monkeypatch, capsys, args)
    assert (status, error) == (2, f"train_mlctl: error: {tmp_path / 'wps'} [train]: no rows to train on")


# ------------------------------------------------------------------------------------------- 7. output paths


def test_an_output_dir_that_is_a_file_is_refused_before_any_work(work, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "out"
    blocker.write_text("a file")
    monkeypatch.setattr("mlctl.training.run.load_tokenizer", lambda *a: pytest.fail("work started"))
    status, error = run_cli(monkeypatch, capsys, cli_args(work, blocker, "--max_steps", "2"))
    assert (status, error) == (2, f"train_mlctl: error: --output_dir {blocker}: exists and is not a directory")

    monkeypatch.setattr("data_prep.pipeline._write_wps_files", lambda *a, **k: pytest.fail("work started"))
    status = data_prep_main(["--pair", "en", "de", str(train_fixtures.SAMPLE_DIR / "en-de.en"),
                             str(train_fixtures.SAMPLE_DIR / "en-de.de"), "--output_dir", str(blocker / "wps")])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert (status, error) == (2, f"error: --output_dir {blocker / 'wps'}: cannot write there: Not a directory")


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_read_only_or_full_output_dir_is_one_line(work, tmp_path, monkeypatch, capsys, code):
    """A read-only file system, a full disk and missing permissions: every file opened in the output directory
    fails as the operating system would fail it."""
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if str(path).startswith((str(tmp_path / "out"), str(tmp_path / "wps"))):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    status, error = run_cli(monkeypatch, capsys, cli_args(work, tmp_path / "out", "--max_steps", "2"))
    assert (status, error) == (2, f"train_mlctl: error: --output_dir {tmp_path / 'out'}: cannot write there: "
                                  f"{os.strerror(code)}")
    with pytest.raises(InputError, match=f"^--output_dir {tmp_path / 'wps'}: cannot write there: {os.strerror(code)}$"):
        build_wps_dataset([PairSpec("en", "de", str(train_fixtures.SAMPLE_DIR / "en-de.en"),
                                    str(train_fixtures.SAMPLE_DIR / "en-de.de"))], tmp_path / "wps")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_refused(work, tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        status, error = run_cli(monkeypatch, capsys, cli_args(work, locked, "--max_steps", "2"))
    finally:
        locked.chmod(0o700)
    assert (status, error) == (2, f"train_mlctl: error: --output_dir {locked}: cannot write there: Permission denied")


# ------------------------------------------------------------------------ 8. sequences longer than the model


def test_sequences_longer_than_the_model_are_refused_or_truncated(work, tokenizer, tmp_path, monkeypatch, capsys,
                                                                 caplog):
    rows = train_fixtures.wps_rows(16)
    long_text = " ".join(["Haus"] + ["und"] * 80)  # the marked word first: it survives truncation
    rows[0] = dict(rows[0], src_text=long_text, src_char_start=0, src_char_end=4)
    rows[1] = dict(rows[1], src_text=" ".join(["und"] * 80 + ["Haus"]), src_char_start=320, src_char_end=324)
    tokenised = prepare_split(datasets.Dataset.from_list(rows), tokenizer, 128, None, "rows")
    longest = max(len(ids) for ids in tokenised["src_input_ids"])
    datasets.DatasetDict({"train": tokenised}).save_to_disk(tmp_path / "wps")
    args = with_train_dir(cli_args(work, tmp_path / "out", "--max_steps", "2", "--save_strategy", "no",
                                   "--eval_strategy", "no"), tmp_path / "wps")
    status, error = run_cli(monkeypatch, capsys, args)
    assert (status, error) == (2, f"train_mlctl: error: {tmp_path / 'wps'} [train]: 2 of 16 pairs have more tokens "
                                  f"than the model's 64 positions (longest {longest}); rebuild the data with a smaller "
                                  "--max_seq_length or pass --truncate_to_model_length")
    with caplog.at_level(logging.WARNING):
        train_mlctl.main([*args, "--truncate_to_model_length", "true"])
    assert (f"{tmp_path / 'wps'} [train]: 2 of 16 pairs truncated to the model's 64 positions (longest was {longest}); "
            "1 of them dropped because the marked word was cut off") in caplog.text
    cut = fit_to_model_length(tokenised, 64, True, "rows")
    assert len(cut) == 15 and max(len(ids) for ids in cut["src_input_ids"]) == 64
    assert cut[0]["src_input_ids"] == tokenised[0]["src_input_ids"][:63] + [tokenizer.sep_token_id]
    assert tokenizer.decode(cut[0]["src_input_ids"][cut[0]["src_word_start"]:cut[0]["src_word_end"]]) == "Haus"


# ---------------------------------------------------------------------------------------- 9. eflomal's seed


def test_eflomal_takes_no_seed_and_help_says_so(capsys):
    """eflomal 2.0 seeds its sampler from /dev/urandom and offers no seed; data_prep documents it (and this test
    notices when an eflomal with a seed arrives, so that data_prep can pass --seed through)."""
    import eflomal

    for function in (eflomal.Aligner.__init__, eflomal.Aligner.align):
        assert "seed" not in inspect.signature(function).parameters
    with pytest.raises(SystemExit):
        data_prep_main(["--help"])
    assert "eflomal 2.0 takes no seed" in " ".join(capsys.readouterr().out.split())


# ----------------------------------------------------------------------------------- 10. no pickle on the Hub

#: What a published model directory may hold: weights as safetensors, JSON, code, and text (model card, vocabulary).
PUBLISHABLE_SUFFIXES = {".safetensors", ".json", ".py", ".md", ".txt"}


def test_the_final_model_and_every_push_hold_no_pickle(work, tmp_path, monkeypatch):
    import huggingface_hub

    hub = HubStandIn()
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda api, repo_id, **kw: hub.create_repo(api, repo_id, **kw))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda api, **kw: hub.upload_folder(api, **kw))
    out = tmp_path / "out"
    train_mlctl.main(cli_args(work, out, "--max_steps", "4", "--save_steps", "2", "--learning_rate", "3e-4",
                              "--push_to_hub", "--hub_model_id", "someone/tiny", "--hub_token", "secret-token"))
    assert [upload["message"] for upload in hub.uploads] == [  # hub_strategy every_save, then the end of training
        "Training in progress, step 2", "Training in progress, step 4", "ML-CTL pre-training"]
    for upload in hub.uploads:
        assert {Path(name).suffix for name in upload["files"]} <= PUBLISHABLE_SUFFIXES, sorted(upload["files"])
        # Each push is a loadable model: config.json's auto_map names the ML-CTL code, which goes with it.
        assert {"config.json", "model.safetensors", "modeling_mlctl.py", "training_args.json"} <= set(upload["files"])
    final = {path.name for path in out.iterdir() if not path.name.startswith("checkpoint-")}
    assert {Path(name).suffix for name in final} <= PUBLISHABLE_SUFFIXES, sorted(final)
    arguments = json.loads((out / "training_args.json").read_text())
    assert (arguments["learning_rate"], arguments["max_steps"], arguments["hub_token"]) == (3e-4, 4, "<HUB_TOKEN>")
    assert hub.uploads[-1]["files"]["training_args.json"] == (out / "training_args.json").read_bytes()
    assert not any(b"secret-token" in content for upload in hub.uploads for content in upload["files"].values())


@pytest.mark.parametrize("strategy", ["checkpoint", "all_checkpoints"])
def test_pushing_checkpoints_with_their_pickled_states_is_refused(work, tmp_path, monkeypatch, capsys, strategy):
    monkeypatch.setattr("mlctl.training.run.load_tokenizer", lambda *a: pytest.fail("work started"))
    status, error = run_cli(monkeypatch, capsys, cli_args(work, tmp_path / "out", "--push_to_hub", "--hub_model_id",
                                                          "someone/tiny", "--hub_strategy", strategy))
    assert (status, error) == (2, f"train_mlctl: error: --hub_strategy {strategy} uploads the checkpoints with their "
                                  "optimizer, scheduler and RNG states (pickles): use every_save or end")


# ------------------------------------------------------------------- 11. data_prep's temporary files after a kill


def word_list_prep_args(out_dir):
    return ["--pair", "en", "de", str(train_fixtures.SAMPLE_DIR / "en-de.en"), str(train_fixtures.SAMPLE_DIR / "en-de.de"),
            "--aligner", "word-list", "--word_list_dir", str(SAMPLE_WORDS), "--output_dir", str(out_dir)]


def test_a_killed_data_prep_leaves_nothing_beside_the_out_dir_and_the_next_run_cleans_up(tmp_path):
    """A SIGKILL runs no `finally`: the killed process (os._exit, as a kill) dies while writing its WPS files."""
    out = tmp_path / "wps"
    kill_while_writing = f"""
import os
import data_prep.pipeline as pipeline
def killed(pairs, builder, work_dir, **kwargs):
    (work_dir / "train.arrow").write_bytes(b"half written")
    os._exit(9)
pipeline._write_wps_files = killed
from data_prep.__main__ import main
main({word_list_prep_args(out)!r})
"""
    killed = subprocess.run([sys.executable, "-c", kill_while_writing], capture_output=True, text=True, timeout=120)
    assert killed.returncode == 9, killed.stderr[-2000:]
    assert [path.name for path in tmp_path.iterdir()] == ["wps"]  # nothing beside the out-dir
    assert data_prep_main(word_list_prep_args(out)) == 0
    assert sorted(path.name for path in out.iterdir()) == ["data_prep_report.json", "dataset_dict.json", "train",
                                                           "validation"]


def test_an_out_dir_in_a_read_only_parent_works(tmp_path, monkeypatch):
    """data_prep writes only inside its out-dir: a parent where nothing can be created does not matter."""
    parent = tmp_path / "read-only"
    out = parent / "wps"
    out.mkdir(parents=True)
    real_mkdir = os.mkdir

    def refuse_in_parent(path, *args, **kwargs):
        if Path(path).parent == parent and Path(path) != out:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", refuse_in_parent)
    assert data_prep_main(word_list_prep_args(out)) == 0
    assert len(datasets.load_from_disk(str(out))["train"]) > 100


# ------------------------------------------------------------------------- 12. reproducible test tokenizers


def test_training_a_wordpiece_tokenizer_twice_gives_the_same_vocabulary(tmp_path):
    """The flaky two-process test's cause: every tokenizer the fixtures trained had another vocabulary (the
    `tokenizers` trainer broke frequency ties by hash order), so token ids, MLM masks and its setup check changed
    from run to run. Lower-cased (data_prep's fixtures) and cased (train_fixtures), several sizes."""
    texts = [text for line in train_fixtures.sample_lines("en", "fr") for text in line]
    for vocab_size, lowercase in ((300, False), (700, True)):
        vocabularies = {vocabulary_sha256(train_wordpiece_tokenizer(texts, vocab_size, lowercase=lowercase))
                        for _ in range(3)}
        assert len(vocabularies) == 1, (vocab_size, lowercase)
    first = train_fixtures.build_tokenizer(tmp_path / "first")
    assert first.get_vocab() == train_fixtures.build_tokenizer(tmp_path / "second").get_vocab()



# ------------------------------------------------------------------------------------------------ minor items


def test_a_bad_label_in_a_label_file_is_reported_against_that_file_and_line(tmp_path):
    (tmp_path / "data" / "xnli").mkdir(parents=True)
    data_file = write_lines(tmp_path / "data" / "xnli" / "test-de.tsv",
                            ["Ein Hund rennt.\tEin Tier rennt.", "Es regnet.\tDie Sonne scheint.", "Ja.\tNein."])
    (tmp_path / "labels" / "xnli").mkdir(parents=True)
    label_file = write_lines(tmp_path / "labels" / "xnli" / "test-de.tsv", ["entailment", "", "contradiction", "maybe"])
    reader = XtremeData(tmp_path / "data", tmp_path / "labels", use_hub=False)
    with pytest.raises(InputError) as raised:
        reader.sentence_pairs("xnli", "test", "de")
    assert str(raised.value) == (f"{label_file}:4: label 'maybe' is not one of contradiction, entailment, neutral "
                                 f"(labels of {data_file})")


def test_test_tags_outside_the_tag_set_are_counted_in_a_warning(tmp_path, caplog):
    (tmp_path / "data" / "udpos").mkdir(parents=True)
    conllu = tmp_path / "data" / "udpos" / "de_x-ud-test.conllu"
    conllu.write_text("1\tHunde\t_\tNOUN\t_\t_\t0\troot\t_\t_\n2\trennen\t_\tVERBAL\t_\t_\t1\tx\t_\t_\n\n"
                      "1\tJa\t_\tINTJ\t_\t_\t0\troot\t_\t_\n2\t!\t_\tPUNKT\t_\t_\t1\tpunct\t_\t_\n\n")
    (tmp_path / "data" / "panx").mkdir(parents=True)
    write_lines(tmp_path / "data" / "panx" / "test-de.tsv", ["Anna", "lacht", ""])
    (tmp_path / "labels" / "panx").mkdir(parents=True)
    labels = write_lines(tmp_path / "labels" / "panx" / "test-de.tsv", ["B-PERSON", "O", ""])
    reader = XtremeData(tmp_path / "data", tmp_path / "labels", use_hub=False)
    with caplog.at_level(logging.WARNING):
        assert reader.tagged_sentences("udpos", "test", "de").tags == [["NOUN", "VERBAL"], ["INTJ", "PUNKT"]]
        assert reader.tagged_sentences("panx", "test", "de").tags == [["B-PERSON", "O"]]
    assert (f"{conllu}: 2 of 4 test tags are not in the udpos tag set (PUNKT 1, VERBAL 1); a model cannot predict "
            "them, so they are scored as wrong") in caplog.text
    assert (f"{labels}: 1 of 2 test tags are not in the panx tag set (B-PERSON 1); a model cannot predict them, "
            "so they are scored as wrong") in caplog.text


@pytest.mark.parametrize("lines", [[], ["", "  "]])
def test_an_empty_corpus_is_one_line_error(tmp_path, capsys, lines):
    en, de = write_lines(tmp_path / "c.en", lines), write_lines(tmp_path / "c.de", lines)
    status = data_prep_main(["--pair", "en", "de", en, de, "--aligner", "word-list", "--word_list_dir",
                             str(SAMPLE_WORDS), "--output_dir", str(tmp_path / "wps"), "--no_progress"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    problem = "both files are empty" if not lines else "all 2 lines are empty on one side or both"
    assert (status, error) == (2, f"error: {en}, {de}: no sentence pair to read ({problem})")
    assert not (tmp_path / "wps" / "dataset_dict.json").exists()
