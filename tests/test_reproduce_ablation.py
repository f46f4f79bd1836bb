"""mlctl.experiments (what benchmarks/reproduce_ablation.py runs): the pieces, on fixtures with known answers (the
real run is a benchmark).

Aggregation and verdicts on hand-made run results, the CoNLL-U split, the runner (own processes, one thread,
resume, partial, a failure's log) on a stand-in run, and the MLM-only arm's trainer (loss = α · MLM, contrastive head
untouched) on a tiny model.
"""
import json
import math
import os
from dataclasses import asdict
from dataclasses import replace

import pytest
import torch

from mlctl.experiments import report
from mlctl.experiments.provenance import REPO_ROOT
from mlctl.experiments.provenance import RunRecord
from mlctl.experiments.runs import run_all
from mlctl.experiments.runs import run_directory
from mlctl.experiments.runs import train_arm
from mlctl.experiments.settings import ARMS
from mlctl.experiments.settings import ARMS_BY_NAME
from mlctl.experiments.settings import FULL
from mlctl.experiments.settings import QUICK
from mlctl.experiments.settings import ExperimentError
from mlctl.experiments.settings import planned_runs
from mlctl.experiments.shared_data import split_conllu


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
    summary = {"quick": False, "run_seconds": 120.0, "n_runs": len(FIXTURE), "jobs": 2, "settings": asdict(FULL),
               "shared": {"seconds": 1.0, "wps_train": 100, "wps_validation": 10, "vocab_size": 800,
                          "multi30k_test_pairs": 1000, "pos_sentences": {"train": 8, "dev": 2}}}
    record = RunRecord([str(REPO_ROOT / "benchmarks" / "reproduce_ablation.py"), "--quick"])
    path = report.write_results(FIXTURE, summary, tmp_path, report.ablation_header(summary, record))
    text = path.read_text(encoding="utf-8")
    assert "- Command: `python benchmarks/reproduce_ablation.py --quick`" in text
    assert "- Runs: 120 s summed over the 12 runs (train + evaluate), 2 at a time; data preparation 1 s." in text
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
    counts = split_conllu(source, tmp_path / "train.conllu", tmp_path / "dev.conllu", 0.8)
    assert counts == (8, 2)
    dev = (tmp_path / "dev.conllu").read_text(encoding="utf-8")
    assert "# sent_id = 8\n" in dev and "# sent_id = 9\n" in dev and "# sent_id = 7\n" not in dev


def test_planned_runs_cover_every_arm_and_seed():
    runs = planned_runs(FULL)
    assert len(runs) == len(FULL.seeds) * (len(ARMS) + len(FULL.low_resource_arms))
    assert runs[:len(ARMS)] == [("standard", arm.name, 1) for arm in ARMS]
    assert len(set(runs)) == len(runs)


def stand_in_run(regime, arm_name, seed, work_dir, data_dir, settings):
    """A run for the runner tests: records where and how it ran; the arm "fails" raises."""
    print(f"stand-in run {regime} {arm_name} {seed}")
    if arm_name == "fails":
        raise ValueError("no data for this arm")
    result = {"regime": regime, "arm": arm_name, "seed": seed, "pid": os.getpid(), "threads": torch.get_num_threads(),
              "omp": os.environ.get("OMP_NUM_THREADS"), "steps": settings.steps, "data": str(data_dir)}
    (run_directory(work_dir, regime, arm_name, seed) / "result.json").write_text(json.dumps(result))
    return result


def test_runner_runs_each_run_once_in_its_own_single_thread_process(tmp_path):
    runs = [("standard", "a", 1), ("standard", "b", 1), ("low-resource", "a", 2)]
    done = run_directory(tmp_path, "standard", "b", 1)
    done.mkdir(parents=True)
    (done / "result.json").write_text(json.dumps({"arm": "b", "pid": -1}))  # finished earlier: not redone
    omp_before = os.environ.get("OMP_NUM_THREADS")
    results = run_all(stand_in_run, runs, tmp_path, tmp_path / "data", QUICK, jobs=2)
    assert [(r.get("regime"), r["arm"], r.get("seed")) for r in results] == [
        ("standard", "a", 1), (None, "b", None), ("low-resource", "a", 2)]
    assert results[1]["pid"] == -1
    new = [results[0], results[2]]
    assert len({r["pid"] for r in new} | {os.getpid()}) == 3  # a fresh process per run
    assert all(r["threads"] == 1 and r["omp"] == "1" and r["steps"] == QUICK.steps for r in new)
    assert os.environ.get("OMP_NUM_THREADS") == omp_before  # the runs' environment is theirs only
    assert (run_directory(tmp_path, "standard", "a", 1) / "log.txt").read_text().startswith(
        "stand-in run standard a 1")


def test_runner_partial_reports_the_finished_runs_only(tmp_path):
    runs = [("standard", "a", 1), ("standard", "b", 1)]
    done = run_directory(tmp_path, "standard", "b", 1)
    done.mkdir(parents=True)
    (done / "result.json").write_text(json.dumps({"arm": "b"}))
    assert run_all(stand_in_run, runs, tmp_path, tmp_path, QUICK, jobs=2, partial=True) == [{"arm": "b"}]
    assert not run_directory(tmp_path, "standard", "a", 1).exists()


def test_runner_failure_names_the_run_and_its_log(tmp_path):
    with pytest.raises(ExperimentError) as raised:
        run_all(stand_in_run, [("standard", "fails", 3)], tmp_path, tmp_path, QUICK, jobs=1)
    log = run_directory(tmp_path, "standard", "fails", 3) / "log.txt"
    assert str(raised.value) == (f"run ('standard', 'fails', 3) failed (ValueError: no data for this arm); "
                                 f"log: {log}")
    assert "Traceback" in log.read_text() and "ValueError: no data for this arm" in log.read_text()


def test_mlm_only_arm_trains_the_mlm_term_alone(tmp_path):
    """Same model and data as the contrastive arms; the loss is α · MLM and the CCE head gets no update, while
    the ML-CTL arm moves it."""
    import train_fixtures

    paths = train_fixtures.build_work_dir(tmp_path, n_train=32, n_validation=8, pretokenize=True)
    shared = {"encoder_config": str(paths["config"]), "tokenizer": str(paths["tokenizer"]), "wps": str(paths["wps"])}
    settings = replace(QUICK, steps=3, batch_size=8, max_length=64)
    heads = {}
    for arm in (ARMS_BY_NAME["MLM only"], ARMS_BY_NAME["ML-CTL-CZ"]):
        torch.manual_seed(0)
        initial = train_arm(arm, "standard", 0, shared, settings, tmp_path / "init" / arm.name)
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
