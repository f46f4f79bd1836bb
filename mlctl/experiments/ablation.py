"""The ML-CTL paper's ablation (Table 1) in miniature (``benchmarks/reproduce_ablation.py``): every arm trained from
scratch on the shared data for every regime and seed, scored, and reported."""
from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from mlctl.experiments.provenance import RunRecord
from mlctl.experiments.report import ablation_header, write_results
from mlctl.experiments.runs import evaluate_run, run_all, run_directory, train_arm, write_result
from mlctl.experiments.settings import ARMS_BY_NAME, Settings, planned_runs
from mlctl.experiments.shared_data import prepare_shared, shared_report


def run_ablation(regime: str, arm_name: str, seed: int, work_dir: Path, data_dir: Path, settings: Settings) -> dict:
    """Trains from scratch and evaluates one (regime, arm, seed) of the ablation; writes and returns its result."""
    arm = ARMS_BY_NAME[arm_name]
    shared = prepare_shared(data_dir, work_dir, settings)
    run_dir = run_directory(work_dir, regime, arm_name, seed)
    started = time.perf_counter()
    training = train_arm(arm, regime, seed, shared, settings, run_dir / "model")
    evaluation = evaluate_run(run_dir / "model", run_dir, shared, data_dir, settings, seed, arm.sentence_level_cce)
    return write_result(run_dir, {"regime": regime, "arm": arm_name, "seed": seed, "training": training,
                                  **evaluation}, started)


def reproduce_ablation(settings: Settings, quick: bool, data_dir: Path, work_dir: Path, results_dir: Path, jobs: int,
                       partial: bool, record: RunRecord) -> Path:
    """The whole ablation: shared data, every planned run not done yet (`jobs` at a time; none with `partial`) and
    ``ablation.{md,json,png}`` in `results_dir`, with the provenance of `record`. Returns the Markdown path."""
    shared = prepare_shared(data_dir, work_dir, settings)
    results = run_all(run_ablation, planned_runs(settings), work_dir, data_dir, settings, jobs, partial)
    summary = {"quick": quick, "settings": asdict(settings), "shared": shared_report(shared),
               "run_seconds": sum(r["wall_seconds"] for r in results), "n_runs": len(results), "jobs": jobs}
    summary.update(record.as_dict())
    return write_results(results, summary, results_dir, ablation_header(summary, record))
