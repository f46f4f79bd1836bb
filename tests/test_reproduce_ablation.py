"""benchmarks/reproduce_ablation.py: the pieces, on fixtures with known answers (the real run is a benchmark).

Aggregation and verdicts on hand-made run results, the CoNLL-U split, and the MLM-only arm's trainer (loss = α · MLM, contrastive head untouched) on a tiny model.
"""
import json
import math
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
sys.path.insert(0, str(REPO_ROOT / "tests"))

import ablation_report as report  # noqa: E402
import reproduce_ablation as ablation  # noqa: E402


def fake_result(regime, arm, seed, multi30k, word_cce=None):
    """A run result with the fields the aggregation reads; the other metrics are fixed numbers."""
    metrics = {"multi30k": multi30k, "tatoeba": 2.0, "pos_f1": 30.0, "word": 10.0, "word_cce": word_cce}
    per_language = {name: {"de": value, "fr": value, "cs": value} for name, value in metrics.items()}
    return {"regime": regime, "arm": arm, "seed": seed, "metrics": metrics, "per_language": per_language,
            "wall_seconds": 10.0}


# Multi30k means 4 / 6 / 8 / 10 for MLM only / info-snt / CZ-snt / ML-CTL-CZ, each with seed std 1 (values m±1).
FIXTURE = [fake_result("standard", arm, seed, mean + offset, word_cce=20.0 + offset if arm == "ML-CTL-CZ" else None)
           for arm, mean in (("MLM only", 4.0), ("info-snt", 6.0), ("CZ-snt", 8.0), ("ML-CTL-CZ", 10.0))
           for seed, offset in ((1, -1.0), (2, 0.0), (3, 1.0))]


def test_aggregate_gives_mean_and_sample_std_over_seeds():
    table = report.aggregate(FIXTURE)
    entry = table["standard"]["CZ-snt"]["multi30k"]
    assert entry["values"] == [7.0, 8.0, 9.0]
    assert entry["mean"] == pytest.approx(8.0)
    assert entry["std"] == pytest.approx(1.0)  # ddof 1: sqrt((1 + 0 + 1) / 2)
    assert entry["n"] == 3
    assert "word_cce" not in table["standard"]["CZ-snt"]  # None (the CCE does not see the word) is left out
    assert table["standard"]["ML-CTL-CZ"]["word_cce"]["mean"] == pytest.approx(20.0)


def test_one_seed_has_no_spread_rather_than_a_zero_one():
    assert report.mean_std([3.5]) == (3.5, None)
    arms = {"a": {"m": {"mean": 5.0, "std": None}}, "b": {"m": {"mean": 3.0, "std": 0.5}}}
    assert report.format_cell(arms["a"]["m"]) == "5.0"
    assert report.format_cell(arms["b"]["m"]) == "3.0 ± 0.5"
    step = report.gap(arms, "a", "b", "m")
    assert step == {"difference": 2.0, "pooled_std": None, "in_stds": None}
    assert report.format_gap(step) == "+2.0 (one seed)"
    assert report.format_gap(report.gap({"a": arms["b"], "b": arms["b"]}, "a", "b", "m")) == "+0.0 (+0.0 std)"


def test_gap_is_difference_over_pooled_std():
    arms = {"a": {"m": {"mean": 10.0, "std": 3.0}}, "b": {"m": {"mean": 7.0, "std": 1.0}}}
    step = report.gap(arms, "a", "b", "m")
    assert step["difference"] == pytest.approx(3.0)
    assert step["pooled_std"] == pytest.approx(math.sqrt(5.0))
    assert step["in_stds"] == pytest.approx(3.0 / math.sqrt(5.0))
    assert report.gap(arms, "a", "missing", "m") is None


def test_ordering_verdict_holds_and_fails_on_known_fixtures():
    verdicts = {v["metric"]: v for v in report.ordering_verdicts(report.aggregate(FIXTURE)["standard"])}
    multi30k = verdicts["multi30k"]
    assert multi30k["held"] is True
    assert [(s["better"], s["worse"]) for s in multi30k["steps"]] == [
        ("ML-CTL-CZ", "CZ-snt"), ("CZ-snt", "info-snt"), ("info-snt", "MLM only")]
    assert all(s["in_stds"] == pytest.approx(2.0) for s in multi30k["steps"])
    assert verdicts["tatoeba"]["held"] is False  # all arms tie at 2.0: no strict ordering

    swapped = [dict(r, arm={"CZ-snt": "info-snt", "info-snt": "CZ-snt"}.get(r["arm"], r["arm"])) for r in FIXTURE]
    verdict = report.ordering_verdicts(report.aggregate(swapped)["standard"])[0]
    assert verdict["held"] is False
    assert verdict["steps"][1]["difference"] == pytest.approx(-2.0)


def test_markdown_table_has_table1_rows_and_verdicts(tmp_path):
    summary = {"command": "cmd", "commit": "abc", "quick": False, "wall_seconds": 5.0, "run_seconds": 120.0,
               "n_runs": len(FIXTURE), "jobs": 2, "settings": ablation.asdict(ablation.FULL),
               "shared": {"seconds": 1.0, "wps_train": 100, "wps_validation": 10, "vocab_size": 800,
                          "multi30k_test_pairs": 1000, "pos_sentences": {"train": 8, "dev": 2}}}
    path = report.write_results(FIXTURE, summary, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "| CZ-snt (n=3) | 8.0 ± 1.0 | 2.0 ± 0.0 | 30.0 ± 0.0 | 10.0 ± 0.0 | – |" in text
    assert "| ML-CTL-CZ (n=3) | 10.0 ± 1.0 |" in text
    assert "**Multi30k retrieval acc**: held — ML-CTL-CZ − CZ-snt = +2.0 (+2.0 std)" in text
    assert "**Tatoeba acc**: did not hold" in text
    assert "| CZ-snt − info-snt | Multi30k retrieval acc | +2.0 (+2.0 std) | – |" in text
    saved = json.loads((tmp_path / "ablation.json").read_text())
    assert len(saved["runs"]) == len(FIXTURE)
    assert (tmp_path / "ablation.png").stat().st_size > 1000


def test_split_conllu_keeps_sentences_whole(tmp_path):
    sentences = [f"# sent_id = {i}\n1\tw{i}\tw\tNOUN\t_\t_\t0\troot\t_\t_" for i in range(10)]
    source = tmp_path / "all.conllu"
    source.write_text("\n\n".join(sentences) + "\n\n", encoding="utf-8")
    counts = ablation.split_conllu(source, tmp_path / "train.conllu", tmp_path / "dev.conllu", 0.8)
    assert counts == (8, 2)
    dev = (tmp_path / "dev.conllu").read_text(encoding="utf-8")
    assert "# sent_id = 8\n" in dev and "# sent_id = 9\n" in dev and "# sent_id = 7\n" not in dev


def test_planned_runs_cover_every_arm_and_seed():
    runs = ablation.planned_runs(ablation.FULL)
    assert len(runs) == len(ablation.FULL.seeds) * (len(ablation.ARMS) + len(ablation.FULL.low_resource_arms))
    assert runs[:len(ablation.ARMS)] == [("standard", arm.name, 1) for arm in ablation.ARMS]
    assert len(set(runs)) == len(runs)


def test_mlm_only_arm_trains_the_mlm_term_alone(tmp_path):
    """Same model and data as the contrastive arms; the loss is α · MLM and the CCE head gets no update, while
    the ML-CTL arm moves it."""
    import train_fixtures

    paths = train_fixtures.build_work_dir(tmp_path, n_train=32, n_validation=8, pretokenize=True)
    shared = {"encoder_config": str(paths["config"]), "tokenizer": str(paths["tokenizer"]), "wps": str(paths["wps"])}
    settings = ablation.replace(ablation.QUICK, steps=3, batch_size=8, max_length=64)
    heads = {}
    for arm in (ablation.ARMS_BY_NAME["MLM only"], ablation.ARMS_BY_NAME["ML-CTL-CZ"]):
        torch.manual_seed(0)
        initial = ablation.train_arm(arm, "standard", 0, shared, settings, tmp_path / "init" / arm.name)
        assert math.isfinite(initial["train_loss"])
        from modeling_mlctl import MLCTLModel

        heads[arm.name] = MLCTLModel.from_pretrained(tmp_path / "init" / arm.name).cce_head.state_dict()
    # Both arms start from the same seeded initialisation; only the contrastive arm trains the CCE head.
    from transformers import set_seed

    from modeling_mlctl import MLCTLConfig
    from modeling_mlctl import MLCTLForPreTraining
    from transformers import AutoConfig

    set_seed(0)
    fresh = MLCTLForPreTraining(MLCTLConfig(encoder_config=AutoConfig.from_pretrained(paths["config"]),
                                            mlm_weight=settings.mlm_weight)).mlctl.cce_head.state_dict()
    for name, tensor in fresh.items():
        assert torch.equal(heads["MLM only"][name], tensor), name
    assert any(not torch.equal(heads["ML-CTL-CZ"][name], tensor) for name, tensor in fresh.items())
