"""train_mlctl: the collator, the retrieval metrics, MLCTLTrainer (loss falls, logging, evaluation), resume,
two-process negatives, the Hub push (offline stand-in) and the command line's errors."""
import dataclasses
import inspect
import json
import os
import subprocess
import sys

import datasets
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig
from transformers import AutoModelForMaskedLM
from transformers import AutoTokenizer

import train_fixtures
from train_fixtures import HubStandIn
from train_fixtures import StopAfter
from train_fixtures import cli_args
from mlctl.demo import DEMO_HELD_OUT_LINES
from mlctl.demo import prepare_demo
from mlctl.training.arguments import NOT_TRAINING_FLAGS
from mlctl.training.arguments import ModelArguments
from mlctl.training.arguments import training_argument_parser
from mlctl.training.collator import MLCTLDataCollator
from mlctl.training.collator import MLM_INPUTS
from mlctl.training.collator import tokenize_wps_sides
from mlctl.training.data import load_wps_splits
from mlctl.training.data import prepare_split
from mlctl.training.errors import TrainingSetupError
from mlctl.training.model_card import xtreme_eval_results
from mlctl.training.run import build_model
from mlctl.training.run import train
from data_prep.tokenizer import token_span
from mlctl.search import retrieval_accuracy
from mlctl.training.trainer import RETRIEVAL_TIE_TOLERANCE
from mlctl.training.trainer import MLCTLTrainer
from mlctl.training.trainer import in_batch_retrieval_accuracy
from transformers import TrainingArguments
import train_mlctl
from modeling_mlctl import MLCTLConfig
from modeling_mlctl import cross_lingual_similarity_logits

pytestmark = pytest.mark.timeout(300)


# ---------------------------------------------------------------------------------------------- collator


def test_word_token_span_of_character_spans(tokenizer):
    text = "The children are playing in the garden."
    [(ids, start, end)] = tokenize_wps_sides(tokenizer, [text], [4], [12], max_length=64)  # "children"
    assert tokenizer.decode(ids[start:end]).replace(" ##", "") == "children"
    assert token_span([(0, 0), (0, 3), (4, 8), (8, 12), (0, 0)], 4, 12) == (2, 4)
    assert token_span([(0, 0), (0, 3), (0, 0)], 10, 12, may_be_truncated=True) == "truncated"
    assert token_span([(0, 0), (0, 3), (4, 8), (0, 0)], 4, 12, may_be_truncated=True) == "truncated"  # half cut
    assert token_span([(0, 0), (0, 3), (0, 0)], 10, 12) == "untokenizable"
    assert token_span([(0, 0), (0, 3), (5, 8), (0, 0)], 4, 8) == (2, 3)  # a removed first character


def test_text_and_pretokenised_rows_give_the_same_batch(tokenizer):
    text_rows = train_fixtures.wps_rows(6)
    tokenised = prepare_split(datasets.Dataset.from_list(text_rows), tokenizer, 64, None, "rows")
    collator = MLCTLDataCollator(tokenizer, seed=5)
    from_text, from_ids = collator(text_rows), collator(list(tokenised))
    assert from_text.keys() == from_ids.keys()
    for name in from_text:
        assert torch.equal(from_text[name], from_ids[name]), name
    # The word mask covers exactly the marked word's tokens.
    for row, ids, word_mask in zip(text_rows, from_text["x_input_ids"], from_text["x_word_mask"]):
        assert tokenizer.decode(ids[word_mask.bool()]).replace(" ##", "") == row["src_word"]


def test_mlm_masking_follows_bert(tokenizer):
    rows = train_fixtures.wps_rows(300) * 4
    collator = MLCTLDataCollator(tokenizer, mlm_probability=0.15, seed=1)
    batch = collator(rows)
    ids, masked, labels = batch["x_input_ids"], batch["x_mlm_input_ids"], batch["x_labels"]
    special = torch.isin(ids, torch.tensor(tokenizer.all_special_ids))  # [CLS], [SEP] and padding
    selected = labels != -100
    assert not (selected & special).any()
    assert torch.equal(labels[selected], ids[selected])
    assert torch.equal(masked[~selected], ids[~selected])
    rate = selected.sum() / (~special).sum()
    assert 0.13 < rate < 0.17
    mask_share = (masked[selected] == tokenizer.mask_token_id).float().mean()
    unchanged_share = (masked[selected] == ids[selected]).float().mean()
    assert 0.76 < mask_share < 0.84 and 0.07 < unchanged_share < 0.13


def test_masking_is_a_function_of_seed_epoch_and_row(tokenizer):
    rows = train_fixtures.wps_rows(12)
    collator = MLCTLDataCollator(tokenizer, seed=1)
    whole = collator(rows)
    alone = collator(rows[3:4])  # the same row in another batch (another process, a resumed run) masks alike
    length = alone["x_labels"].shape[1]
    assert torch.equal(whole["x_labels"][3, :length], alone["x_labels"][0])
    assert torch.equal(collator(rows)["y_labels"], whole["y_labels"])
    collator.set_epoch(1)
    assert not torch.equal(collator(rows)["x_labels"], whole["x_labels"])
    assert not torch.equal(MLCTLDataCollator(tokenizer, seed=2)(rows)["x_labels"], whole["x_labels"])


def test_no_mlm_inputs_without_masking(tokenizer):
    batch = MLCTLDataCollator(tokenizer, mlm_probability=0.0)(train_fixtures.wps_rows(3))
    assert not set(MLM_INPUTS) & set(batch)


def test_collator_rejects_an_empty_word_span(tokenizer):
    row = dict(train_fixtures.wps_rows(1)[0], src_char_start=500, src_char_end=505)
    with pytest.raises(ValueError, match="src word span"):
        MLCTLDataCollator(tokenizer)([row])


# ----------------------------------------------------------------------------------------------- metrics


def test_in_batch_retrieval_accuracy_locates_this_process_rows():
    torch.manual_seed(0)
    y_all = torch.randn(6, 8)
    x_all = y_all + 0.01 * torch.randn(6, 8)  # every x is nearest to its own y
    x_local = x_all[2:4]  # "rank 1 of 3" with 2 rows each
    logits = cross_lingual_similarity_logits(x_local, y_all, x_all, anchor_offset=2, temperature=0.1)
    assert in_batch_retrieval_accuracy(logits, 0.1).item() == 1.0
    shuffled = cross_lingual_similarity_logits(x_local, y_all[[0, 1, 3, 2, 4, 5]], x_all, 2, 0.1)
    assert in_batch_retrieval_accuracy(shuffled, 0.1).item() == 0.0


def test_validation_retrieval_accuracy_known_answers():
    torch.manual_seed(0)
    y = torch.randn(10, 4).numpy()
    assert retrieval_accuracy(y * 3, y, RETRIEVAL_TIE_TOLERANCE)[0] == 1.0
    assert retrieval_accuracy(y[[1, 0, *range(2, 10)]], y, RETRIEVAL_TIE_TOLERANCE)[0] == pytest.approx(0.8)
    # Identical candidates (the "sentence" ablation's word samples of one sentence) count as ties, not misses.
    assert retrieval_accuracy(y[[0, 0, 2]], y[[0, 0, 2]], RETRIEVAL_TIE_TOLERANCE)[0] == 1.0


# ----------------------------------------------------------------------------------------------- training


def test_training_lowers_the_loss_and_logs_every_part(work, tmp_path):
    result = train_mlctl.main(cli_args(work, tmp_path / "out", "--max_steps", "40", "--learning_rate", "2e-3",
                                       "--logging_steps", "5", "--eval_strategy", "steps", "--eval_steps", "40",
                                       "--save_strategy", "no"))
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    train_logs = [entry for entry in state["log_history"] if "loss" in entry]
    assert len(train_logs) == 8
    for entry in train_logs:
        assert {"contrastive_loss", "mlm_loss", "x2y_accuracy", "y2x_accuracy"} <= entry.keys()
        assert entry["loss"] == pytest.approx(entry["contrastive_loss"] + 0.1 * entry["mlm_loss"], rel=1e-4)
    first, last = train_logs[0], train_logs[-1]
    assert last["contrastive_loss"] < first["contrastive_loss"] - 0.5
    assert last["x2y_accuracy"] > first["x2y_accuracy"]
    assert {"eval_loss", "eval_contrastive_loss", "eval_mlm_loss", "eval_x2y_accuracy", "eval_y2x_accuracy"} <= set(
        result["eval"])
    saved = {path.name for path in (tmp_path / "out").iterdir()}
    assert {"config.json", "model.safetensors", "modeling_mlctl.py", "configuration_mlctl.py", "tokenizer.json",
            "README.md"} <= saved
    assert json.loads((tmp_path / "out" / "config.json").read_text())["auto_map"]["AutoModel"] == "modeling_mlctl.MLCTLModel"


def test_validation_metrics_use_the_clean_input(work, tokenizer):
    """In shared mode the objective encodes the masked input; the retrieval metrics must not."""
    model = train_fixtures.tiny_model(len(tokenizer)).eval()
    rows = list(datasets.load_from_disk(str(work["wps"]))["validation"])[:8]
    collator = MLCTLDataCollator(tokenizer, max_length=64)
    batch = collator(rows)
    trainer = MLCTLTrainer(model=model, args=TrainingArguments(
        output_dir=str(work["wps"].parent / "eval-only"), report_to="none", use_cpu=True), data_collator=collator)
    loss, (x_embeddings, _), batch_losses = trainer.prediction_step(model, batch, prediction_loss_only=False)
    clean = model(**{name: value for name, value in batch.items() if name not in MLM_INPUTS})
    masked = model(**batch)
    torch.testing.assert_close(x_embeddings, clean.x_embeddings)
    assert not torch.allclose(x_embeddings, masked.x_embeddings)
    torch.testing.assert_close(batch_losses[:, 0], masked.contrastive_loss.expand(8))
    torch.testing.assert_close(loss, masked.loss)


@pytest.mark.parametrize("batch_sampler", ["random", "no_duplicates"])
def test_interrupted_and_resumed_run_ends_with_the_same_weights(work, tmp_path, batch_sampler):
    flags = ["--max_steps", "8", "--save_steps", "4", "--learning_rate", "2e-3", "--logging_steps", "4",
             "--eval_strategy", "no", "--warmup_steps", "2", "--batch_sampler", batch_sampler]
    train_mlctl.main(cli_args(work, tmp_path / "straight", *flags))
    model_args, data_args, training_args = training_argument_parser().parse_args_into_dataclasses(
        args=cli_args(work, tmp_path / "resumed", *flags))
    train(model_args, data_args, training_args, callbacks=[StopAfter(4)])
    interrupted = load_file(tmp_path / "resumed" / "model.safetensors")
    train_mlctl.main(cli_args(work, tmp_path / "resumed", *flags))  # finds checkpoint-4 and resumes from it
    straight = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    name = "mlctl.cce_head.dense_out.weight"
    assert not torch.allclose(interrupted[name], straight[name])
    for name, value in straight.items():
        torch.testing.assert_close(resumed[name], value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch_sampler", ["random", "no_duplicates"])
def test_two_processes_match_one_process_with_the_global_batch(tmp_path, batch_sampler):
    """torchrun, 2 processes × 4 pairs (gloo) against 1 process × 8 pairs: same loss and gradients (with either
    sampler: the no-duplicates one gives each process its rows of the same global batch)."""
    paths = train_fixtures.build_work_dir(tmp_path, n_train=8, n_validation=1)
    tokenizer = AutoTokenizer.from_pretrained(paths["tokenizer"])
    rows = list(datasets.load_from_disk(str(paths["wps"]))["train"])
    # The halves have different numbers of MLM targets, so the MLM term needs the token re-weighting.
    batch = MLCTLDataCollator(tokenizer, max_length=64, seed=7)(rows)
    counts = (batch["x_labels"] != -100).sum(1) + (batch["y_labels"] != -100).sum(1)
    assert counts[:4].sum() != counts[4:].sum()

    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(train_fixtures.REPO_ROOT / "tests" / "train_fixtures.py"), "one-step", str(tmp_path), "4",
               str(tmp_path / "two.pt"), f"batch_sampler={batch_sampler}"]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    train_fixtures.one_step(tmp_path, 8, tmp_path / "one.pt", batch_sampler=batch_sampler)
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    assert (one["world_size"], two["world_size"]) == (1, 2)
    for name in ("loss", "contrastive_loss", "mlm_loss", "x2y_accuracy", "y2x_accuracy"):
        assert two["logged"][name] == pytest.approx(one["logged"][name], rel=1e-4), name
    assert one["gradients"].keys() == two["gradients"].keys()
    for name, gradient in one["gradients"].items():
        torch.testing.assert_close(two["gradients"][name], gradient, rtol=1e-3, atol=1e-6, msg=name)


# ---------------------------------------------------------------------------------------------- model source


def test_starts_from_a_pretrained_encoder(work, tmp_path, tokenizer):
    config = AutoConfig.for_model(**{**train_fixtures.TINY_ENCODER, "vocab_size": len(tokenizer)})
    torch.manual_seed(1)
    AutoModelForMaskedLM.from_config(config).save_pretrained(tmp_path / "bert")
    tokenizer.save_pretrained(tmp_path / "bert")
    model_args = ModelArguments(model_name_or_path=str(tmp_path / "bert"), loss="info_nce", mlm_weight=0.5)
    model = build_model(model_args, tokenizer)
    reference = AutoModelForMaskedLM.from_pretrained(tmp_path / "bert")
    torch.testing.assert_close(model.mlctl.encoder.encoder.layer[1].output.dense.weight,
                               reference.bert.encoder.layer[1].output.dense.weight)
    assert (model.config.loss, model.config.mlm_weight, model.config.levels) == ("info_nce", 0.5, "sentence+word")


# ------------------------------------------------------------------------------------------------------- Hub


def test_push_to_hub_uploads_checkpoint_code_tokenizer_and_card(work, tmp_path, monkeypatch):
    import huggingface_hub

    hub = HubStandIn()
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda api, repo_id, **kw: hub.create_repo(api, repo_id, **kw))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda api, **kw: hub.upload_folder(api, **kw))
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"model": "x", "tasks": {
        "tatoeba": {"column": "Tatoeba acc", "metric": "accuracy", "task_type": "sentence-similarity", "average": 43.39,
                    "languages": {"de": {"accuracy": 43.39}}},
    }}))
    train_mlctl.main(cli_args(work, tmp_path / "out", "--max_steps", "4", "--logging_steps", "2", "--save_steps", "2",
                              "--push_to_hub", "--hub_model_id", "someone/tiny-mlctl", "--loss", "info_nce",
                              "--temperature", "0.05", "--xtreme_results", str(results)))
    assert hub.repos == ["someone/tiny-mlctl"]
    final = hub.uploads[-1]
    assert final["repo_id"] == "someone/tiny-mlctl" and final["message"] == "ML-CTL pre-training"
    uploaded = set(final["files"])
    assert {"config.json", "model.safetensors", "configuration_mlctl.py", "modeling_mlctl.py", "losses.py",
            "pooling.py", "tokenizer.json", "tokenizer_config.json", "README.md"} <= uploaded
    assert not any(name.startswith("checkpoint-") for name in uploaded)
    config = json.loads(final["files"]["config.json"])
    assert config["auto_map"]["AutoModelForPreTraining"] == "modeling_mlctl.MLCTLForPreTraining"
    assert (config["loss"], config["temperature"]) == ("info_nce", 0.05)

    card = final["files"]["README.md"].decode()
    assert "| `loss` | `\"info_nce\"` |" in card and "| `temperature` | `0.05` |" in card
    assert "| `mlm_mode` | `\"shared\"` |" in card and "| `levels` | `\"sentence+word\"` |" in card
    assert "trained from scratch" in card and "64 parallel word positioned sample pairs" in card
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    last_train = [entry for entry in state["log_history"] if "loss" in entry][-1]
    assert f"| train_contrastive_loss | {last_train['contrastive_loss']:.4f} |" in card
    model_index = huggingface_hub.ModelCard(card).data.eval_results
    assert [(result.metric_type, result.metric_value) for result in model_index] == [("accuracy", 43.39)]


# -------------------------------------------------------------------------------------------------- errors


def test_every_mlctl_config_field_is_a_flag_with_the_help_and_choices_of_its_metadata(tmp_path):
    parser = training_argument_parser()
    actions = {action.dest: action for action in parser._actions}
    config_fields = [field for field in dataclasses.fields(MLCTLConfig) if "help" in field.metadata]
    assert {field.name for field in config_fields} == set(inspect.get_annotations(MLCTLConfig))
    for config_field in config_fields:
        if config_field.name in NOT_TRAINING_FLAGS:
            assert config_field.name not in actions
            continue
        action = actions[config_field.name]
        default = config_field.default if config_field.name != "pooling_layers" else [1, -1]  # as the flag takes it
        assert action.help == f"{config_field.metadata['help']} Config default: {default}.", config_field.name
        assert action.choices == config_field.metadata.get("choices"), config_field.name
    model_args, *_ = parser.parse_args_into_dataclasses(
        args=["--output_dir", str(tmp_path), "--levels", "sentence", "--pooling_layers", "0", "-1"])
    assert model_args.mlctl_overrides() == {"levels": "sentence", "pooling_layers": [0, -1]}
    with pytest.raises(SystemExit):
        parser.parse_args_into_dataclasses(args=["--output_dir", str(tmp_path), "--loss", "triplet"])


def test_bad_train_dir_is_one_line_error(tmp_path, work, capsys, monkeypatch):
    """A directory that is not a saved dataset (a missing one: tests/test_faults_checkpoint.py)."""
    (tmp_path / "not-wps").mkdir()
    monkeypatch.setattr(sys, "argv", ["train_mlctl.py", *cli_args(work, tmp_path / "out")[:4], "--train_dir",
                                      str(tmp_path / "not-wps"), "--output_dir", str(tmp_path / "out")])
    assert train_mlctl.cli() == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"train_mlctl: error: {tmp_path / 'not-wps'}: not a dataset saved by data_prep")
    assert "\n" not in error


def test_data_errors_name_the_problem(tmp_path, tokenizer):
    wrong = datasets.Dataset.from_list([{"src_text": "a", "tgt_text": "b"}])
    with pytest.raises(TrainingSetupError, match="not WPS data: needs src_/tgt_ columns"):
        prepare_split(wrong, tokenizer, 64, None, "wps [train]")
    foreign = datasets.Dataset.from_list([dict(src_input_ids=[2, 5000, 3], src_word_start=1, src_word_end=2,
                                               tgt_input_ids=[2, 7, 3], tgt_word_start=1, tgt_word_end=2)])
    with pytest.raises(TrainingSetupError, match="src_input_ids holds token id 5000 but the tokenizer"):
        prepare_split(foreign, tokenizer, 64, None, "wps [train]")


def test_pairs_whose_word_is_truncated_away_are_dropped_with_a_count(tokenizer, caplog):
    rows = train_fixtures.wps_rows(10)
    rows[0] = dict(rows[0], src_text="word " * 40 + "Haus", src_char_start=200, src_char_end=204)
    kept = prepare_split(datasets.Dataset.from_list(rows), tokenizer, 16, None, "wps [train]")
    assert len(kept) == 9
    assert "dropped 1 of 10 pairs whose marked word lies beyond --max_seq_length 16" in caplog.text


# --------------------------------------------------------------------------------------------------- demo


def test_demo_preparation_holds_out_lines_and_builds_wps(tmp_path):
    """The embedded default's data: training lines and held-out Tatoeba files never overlap; data_prep's WPS are
    pre-tokenised with the demo tokenizer and the returned command line parses."""
    argv = prepare_demo(tmp_path)
    model_args, data_args, training_args = training_argument_parser().parse_args_into_dataclasses(args=argv)
    assert (training_args.max_steps, training_args.output_dir) == (240, str(tmp_path / "model"))
    tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name)
    train, validation = load_wps_splits(data_args, tokenizer)
    assert len(train) > 1000 and len(validation) > 20
    assert {"src_input_ids", "src_word_start", "tgt_word_end"} <= set(train.column_names)
    for code, pair in (("deu", "en-de"), ("fra", "en-fr"), ("spa", "en-es")):
        held_out = (tmp_path / "heldout" / "tatoeba" / f"tatoeba.{code}-eng.eng").read_text().splitlines()
        training = set((tmp_path / "corpus" / f"{pair}.en").read_text().splitlines())
        assert len(held_out) == DEMO_HELD_OUT_LINES
        assert len(training) > 200 and not training & set(held_out)
        assert held_out == [en for en, _ in train_fixtures.sample_lines(*pair.split("-"))[-len(held_out):]]
    assert set(train["src_lang"]) == {"en"} and set(train["tgt_lang"]) == {"de", "fr", "es"}


def test_data_prep_token_rows_and_trainer_text_rows_mark_the_same_tokens(tmp_path, tokenizer):
    """One span function for both data layouts: the WPS that data_prep tokenises and the same WPS given as text
    (character spans), tokenised by the trainer, give identical ids and word spans; and the words data_prep drops as
    truncated are the ones the trainer drops."""
    from data_prep import PairSpec
    from data_prep import build_wps_dataset
    from data_prep_fixtures import write_lines

    lines = train_fixtures.sample_lines("en", "de", 120)
    spec = PairSpec("en", "de", write_lines(tmp_path / "c.en", [en for en, _ in lines]),
                    write_lines(tmp_path / "c.de", [de for _, de in lines]))
    tokenised = build_wps_dataset([spec], tmp_path / "wps", tokenizer=tokenizer, max_length=12,
                                  validation_fraction=0.0, seed=0, show_progress=False)["train"]
    assert len(tokenised) > 100
    untokenised = build_wps_dataset([spec], tmp_path / "wps_text", validation_fraction=0.0, seed=0,
                                    show_progress=False)["train"]
    from_text = prepare_split(untokenised, tokenizer, 12, None, "text rows")
    key = lambda row: tuple(row[f"{side}_{name}"] for side in ("src", "tgt") for name in ("text", "char_start", "char_end"))  # noqa: E731
    spans = lambda row: tuple(row[f"{side}_{name}"] for side in ("src", "tgt") for name in ("input_ids", "word_start", "word_end"))  # noqa: E731
    by_data_prep = {key(row): spans(row) for row in tokenised}
    by_trainer = {key(row): spans(row) for row in from_text}
    assert len(by_trainer) < len(untokenised)  # words cut off by the 12 tokens were dropped, with a count
    # data_prep samples its 4 words per pair after dropping truncated ones, so it keeps WPS the text rows lack.
    shared = by_data_prep.keys() & by_trainer.keys()
    assert len(shared) > 50
    assert all(by_data_prep[k] == by_trainer[k] for k in shared)
    truncated = {key(row) for row in untokenised} - by_trainer.keys()
    assert not truncated & by_data_prep.keys()


def test_xtreme_results_that_are_not_this_versions_results_json_get_a_one_line_error(tmp_path):
    """A results.json written before each task entry named its column and Hub task type, or not JSON at all, is
    refused with one line naming the file, not a KeyError / JSONDecodeError traceback."""
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"model": "x", "tasks": {"tatoeba": {"metric": "accuracy", "average": 43.4,
                                                                    "languages": {"de": {"accuracy": 43.4}}}}}))
    with pytest.raises(TrainingSetupError, match=rf"^--xtreme_results {old}: not a results.json of this version's "
                                                 r"run_xtreme_tasks.py \(missing or malformed 'task_type'\)$"):
        xtreme_eval_results(str(old))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(TrainingSetupError, match=rf"^--xtreme_results {garbage}: not JSON \("):
        xtreme_eval_results(str(garbage))
