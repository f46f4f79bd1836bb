"""run_xtreme_tasks end to end: a tiny BERT on fixture data in every format, every task, known answers."""
import json
import sys

import numpy as np
import pytest

from mlctl.evaluation.plots import draw_tsne
from mlctl.evaluation.plots import read_word_lists
from mlctl.evaluation.readers import read_bucc_gold
from mlctl.training.model_card import model_index_results
from mlctl.evaluation.bucc import bucc_f1
import run_xtreme_tasks as xt

import xtreme_fixtures  # noqa: E402  (fixture writers live beside the tests)

# Enough steps at a high learning rate for a 2-layer, 32-wide BERT to learn a constant label.
QUICK_TRAINING = ["--max_steps", "20", "--learning_rate", "5e-3", "--per_device_train_batch_size", "8"]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    root = tmp_path_factory.mktemp("xtreme")
    sizes = xtreme_fixtures.write_xtreme_fixture(root)
    model = xtreme_fixtures.write_tiny_bert(root / "model", xtreme_fixtures.fixture_corpus())
    return root, model, sizes


@pytest.fixture(scope="module")
def run(fixture):
    root, model, sizes = fixture
    argv = ["--model_name_or_path", str(model), "--data_dir", str(root / "data"), "--labels_dir", str(root / "labels"),
            "--output_dir", str(root / "out"), "--languages", "en,de,fr,sw", "--tasks", "all",
            "--tsne", "--tsne_languages", "en,de", "--report_md", str(root / "report.md"), *QUICK_TRAINING]
    return root, xt.main(argv), sizes


def test_every_fine_tuned_task_learns_the_constant_label_in_every_language(run):
    _, results, sizes = run
    for task, metric in (("xnli", "accuracy"), ("pawsx", "accuracy"), ("udpos", "f1"), ("panx", "f1")):
        languages = results["tasks"][task]["languages"]
        assert set(languages) == {"en", "de"}, task
        assert [languages[lang][metric] for lang in ("en", "de")] == [100.0, 100.0], task
        assert results["tasks"][task]["dev_en"][metric] == 100.0
    assert results["tasks"]["xnli"]["languages"]["de"]["n_examples"] == sizes["test"]
    german_words = sum(len(s.split()) for s in xtreme_fixtures.english_sentences(xtreme_fixtures.FIXTURE_SIZES["test"], 2))
    assert results["tasks"]["panx"]["languages"]["de"]["n_words"] == german_words
    assert results["tasks"]["udpos"]["languages"]["de"]["n_words_truncated"] == 0


def test_retrieval_known_answers(run):
    _, results, sizes = run
    tatoeba = results["tasks"]["tatoeba"]["languages"]
    assert tatoeba["de"]["accuracy"] == 100.0  # German side identical to English
    assert tatoeba["fr"]["accuracy"] == 0.0  # French side is a derangement of English
    assert tatoeba["de"]["n_pairs"] == sizes["tatoeba"]
    assert "en" not in tatoeba and results["retrieval_layer"] == 2  # 2-layer model: the last hidden state
    bucc = results["tasks"]["bucc2018"]["languages"]["de"]
    assert bucc["n_gold"] == sizes["bucc_gold"]["test"]
    # Every German sentence copies its gold partner, so gold pairs have cosine 1 and dev F1 is perfect;
    # the dev threshold transfers imperfectly to test, where random mining would score about 0.
    assert bucc["dev_f1"] == 100.0
    assert bucc["precision"] == 100.0 and bucc["f1"] > 50.0


def test_missing_languages_are_reported_and_the_rest_still_runs(run):
    root, results, _ = run
    missing = results["tasks"]["xnli"]["missing"]
    assert len(missing) == 2
    assert f"{root}/data/xnli/test-sw.tsv" in missing[1] and "'sw'" in missing[1]
    assert results["tasks"]["tatoeba"]["missing"][0].startswith("tatoeba: no test data for 'sw'")


def test_outputs_results_json_table_predictions_model_index_and_tsne(run):
    root, results, sizes = run
    out = root / "out"
    saved = json.loads((out / "results.json").read_text())
    assert saved["tasks"]["xnli"]["average"] == results["tasks"]["xnli"]["average"] == 100.0
    bucc = results["tasks"]["bucc2018"]["average"]
    assert saved["table"].splitlines()[2] == f"| {root}/model | 100.0 | 100.0 | 100.0 | 100.0 | {bucc:.1f} | 50.0 |"
    assert (out / "predictions/xnli/test-de.tsv").read_text().splitlines() == ["entailment"] * sizes["test"]
    bucc_predictions = {tuple(line.split("\t")) for line in (out / "predictions/bucc2018/test-de.tsv").read_text().splitlines()}
    gold = read_bucc_gold(root / "data/bucc2018/de-en.test.gold")
    assert bucc_f1(bucc_predictions, gold)["f1"] == pytest.approx(bucc)
    entries = model_index_results(out / "results.json")
    assert {e.dataset_config: e.metric_value for e in entries} == {
        "xnli": 100.0, "pawsx": 100.0, "udpos": 100.0, "panx": 100.0, "bucc2018": round(bucc, 2), "tatoeba": 50.0}
    assert [(e.task_type, e.metric_type, e.metric_name) for e in entries][:1] == [
        ("text-classification", "accuracy", "XNLI acc")]
    tatoeba = [(e.dataset_config, e.metric_name, e.metric_value)
               for e in model_index_results(saved, per_language=True) if e.dataset_config.startswith("tatoeba")]
    assert tatoeba == [("tatoeba", "Tatoeba acc", 50.0), ("tatoeba.de", "Tatoeba acc (de)", 100.0),
                       ("tatoeba.fr", "Tatoeba acc (fr)", 0.0)]
    assert (out / "tsne.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob("*-checkpoints"))
    report = (root / "report.md").read_text()
    assert "| tatoeba | accuracy | 50.00 | de 100.00, fr 0.00 |" in report


def test_tsne_points_one_per_word_and_language(fixture, tmp_path):
    root, model_dir, _ = fixture
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = read_word_lists(root / "data/mlctl_word_lists", ["en", "de"], n_words=5)
    assert rows[:2] == [["the", "die"], ["cat", "katze"]]
    panels = draw_tsne({"before": model, "after": model}, tokenizer, rows, ["en", "de"], layer=2, path=tmp_path / "t.png")
    assert list(panels) == ["before", "after"]
    assert panels["before"].shape == (10, 2) and np.isfinite(panels["before"]).all()


def test_cli_bad_data_gives_one_line_error_and_nonzero_exit(fixture, tmp_path, monkeypatch, capsys, caplog):
    root, model, _ = fixture
    bad = tmp_path / "en-train.conllu"
    bad.write_text("1\tThe\tthe\tDET\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["run_xtreme_tasks.py", "--model_name_or_path", str(model), "--tasks", "udpos",
                                      "--data_file", f"udpos:train:en={bad}", "--output_dir", str(tmp_path / "out")])
    assert xt.cli() == 1
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert errors == [f"{bad}:1: expected 10 tab-separated CoNLL-U fields, found 4"]
    assert capsys.readouterr().err.strip().endswith("incomplete: udpos (see the messages above)")
    monkeypatch.setattr(sys, "argv", ["run_xtreme_tasks.py", "--model_name_or_path", str(model), "--tasks", "xnli,qa"])
    assert xt.cli() == 2
    assert capsys.readouterr().err.strip() == "error: unknown task(s) qa; choose from xnli, pawsx, udpos, panx, bucc2018, tatoeba"


def test_an_ml_ctl_checkpoint_runs_through_the_auto_classes(fixture, tmp_path):
    """ML-CTL heads also return hidden_states; fine-tuning and retrieval must still work."""
    root, model_dir, sizes = fixture
    from transformers import AutoTokenizer

    from modeling_mlctl import MLCTLConfig, MLCTLForPreTraining

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoder = dict(model_type="bert", vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                   num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    MLCTLForPreTraining(MLCTLConfig(encoder_config=encoder)).save_pretrained(tmp_path / "mlctl")
    tokenizer.save_pretrained(tmp_path / "mlctl")
    results = xt.main(["--model_name_or_path", str(tmp_path / "mlctl"), "--tasks", "xnli,tatoeba", "--languages", "de",
                       "--data_dir", str(root / "data"), "--labels_dir", str(root / "labels"),
                       "--output_dir", str(tmp_path / "out"), *QUICK_TRAINING])
    assert results["model_config"]["model_type"] == "mlctl"
    # By default fine-tuned through the exported backbone with the family's own head (BERT's pooler and classifier).
    assert results["tasks"]["xnli"]["fine_tuned_class"] == "BertForSequenceClassification"
    assert (tmp_path / "out" / "backbone" / "model.safetensors").is_file()
    assert results["tasks"]["xnli"]["languages"]["de"]["accuracy"] == 100.0
    assert results["tasks"]["tatoeba"]["languages"]["de"]["accuracy"] == 100.0


def test_fine_tuning_is_a_function_of_its_seed_not_of_the_process_rng(fixture, tmp_path):
    """The new classifier head is drawn from the fine-tuning seed: two runs whose global RNG differs (as two
    processes' do: torch seeds each one at random) end with the same weights."""
    import torch
    from transformers import AutoTokenizer

    from mlctl.evaluation import FineTuningSettings
    from mlctl.evaluation.finetune import FineTunedTask
    from mlctl.evaluation.readers import XtremeData

    root, model_dir, _ = fixture
    settings = FineTuningSettings(max_steps=2, learning_rate=5e-3, per_device_train_batch_size=8, seed=7)
    weights = []
    for process_seed in (1, 2):
        torch.manual_seed(process_seed)
        task = FineTunedTask("udpos", str(model_dir), AutoTokenizer.from_pretrained(model_dir),
                             XtremeData(root / "data", root / "labels", use_hub=False), settings,
                             tmp_path / str(process_seed))
        task.train()
        weights.append({name: value.detach().clone() for name, value in task.trainer.model.state_dict().items()})
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        torch.testing.assert_close(weights[0][name], weights[1][name], rtol=0, atol=0, msg=name)
