"""mlctl.experiments.continued (what benchmarks/reproduce_continued.py runs): the pieces with known answers (the real
run is a benchmark): XTREME's layer for the depth, the plan, the learning-rate choice, and the questions section on
hand-made results."""
import json

from mlctl.experiments import continued
from mlctl.experiments.report import aggregate
from mlctl.experiments.runs import run_directory
from mlctl.experiments.settings import planned_runs


def test_retrieval_layer_is_xtremes_share_of_the_depth():
    assert continued.xtreme_layer(12) == 8  # --specific_layer 7 of mBERT = hidden_states[8]
    assert continued.xtreme_layer(4) == 3
    assert continued.xtreme_layer(2) == 1


def test_plan_has_every_arm_and_seed_and_low_resource_contrastive_arms():
    runs = planned_runs(continued.FULL, continued.ARMS)
    assert len(runs) == 3 * (len(continued.ARMS) + 4)
    assert ("standard", continued.STAGE0, 1) in runs and ("low-resource", "ML-CTL-CZ", 3) in runs
    assert {arm.batch_sampler for arm in continued.ARMS} == {"random", "no_duplicates"}
    assert continued.FULL.lr_candidates[-1] < continued.FULL.learning_rate / 4  # far below from scratch


def test_learning_rate_is_the_best_candidate_on_held_out_retrieval(tmp_path):
    settings = continued.QUICK
    for lr, score in zip(settings.lr_candidates, (40.0, 55.0)):
        run_dir = run_directory(tmp_path, f"lr={lr:g}", "CZ-snt", settings.seeds[0])
        run_dir.mkdir(parents=True)
        (run_dir / "result.json").write_text(json.dumps({"validation_retrieval": score}))
    choice = continued.chosen_learning_rate(tmp_path, settings)
    assert choice["learning_rate"] == settings.lr_candidates[1]
    assert choice["validation_retrieval"] == {f"{settings.lr_candidates[0]:g}": 40.0, f"{settings.lr_candidates[1]:g}": 55.0}


def test_questions_report_differences_in_points_and_stds():
    results = [{"regime": "standard", "arm": arm, "seed": seed, "metrics": {"multi30k": value + offset}}
               for arm, value in (("ML-CTL-CZ", 10.0), ("CZ-snt", 30.0), ("ML-CTL-CZ + snt", 29.0))
               for seed, offset in ((1, -1.0), (2, 0.0), (3, 1.0))]
    lines = continued.question_lines(aggregate(results))
    assert any(line.startswith("- Does the word level cost") and "Multi30k retrieval acc -20.0 (-20.0 std)" in line
               for line in lines)
    assert any("ML-CTL-CZ + snt − ML-CTL-CZ: Multi30k retrieval acc +19.0 (+19.0 std)" in line for line in lines)
    assert not any("+ND" in line for line in lines)  # arms without results are left out
