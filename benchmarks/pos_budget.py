"""How far POS fine-tuning budget moves the English dev F1 of the continued ablation's stage-0 encoder.

The continued ablation (`reproduce_continued.py`) fine-tunes POS for 400 steps at lr 5e-4 and reports the English dev
F1 beside the German test F1. This measures whether a longer or hotter fine-tuning reaches the F1 ≥ 80 asked for,
on the same data and the same stage-0 model, through the same `run_xtreme` call:

    python benchmarks/pos_budget.py            # after reproduce_continued.py has built its work dir

Writes ``results/pos_budget.md``.
"""
from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from mlctl.experiments.continued import FULL
from mlctl.experiments.provenance import REPO_ROOT, RunRecord
from mlctl.experiments.runs import pos_fine_tuning
from mlctl.experiments.settings import DEFAULT_DATA

#: (steps, learning rate): the ablation's setting first, then 3× the steps, then 3× the steps at 4× the rate.
BUDGETS = ((FULL.pos_steps, FULL.pos_learning_rate), (3 * FULL.pos_steps, FULL.pos_learning_rate),
           (3 * FULL.pos_steps, 4 * FULL.pos_learning_rate))


def fine_tune(work_dir: str, data_dir: str, out_dir: str, steps: int, learning_rate: float, seed: int) -> dict:
    """One POS fine-tuning of the stage-0 model (one torch thread): English dev F1, German test F1, seconds."""
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    results = pos_fine_tuning({"model_name_or_path": str(Path(work_dir) / "stage0" / "model"), "no_hub": True},
                              Path(work_dir) / "pos", Path(data_dir), Path(out_dir), steps, learning_rate,
                              2 * FULL.max_length, seed)["tasks"]["udpos"]
    return {"steps": steps, "learning_rate": learning_rate, "dev_en_f1": results["dev_en"]["f1"],
            "test_de_f1": results["average"], "seconds": round(time.perf_counter() - started, 1)}


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", default=str(REPO_ROOT / "outputs" / "continued" / "full"),
                        help="reproduce_continued.py's work dir (its stage0/model and pos/ are read)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder (udpos)")
    parser.add_argument("--results", default=str(REPO_ROOT / "results" / "pos_budget.md"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if not (Path(args.work_dir) / "stage0" / "model" / "config.json").is_file():
        parser.error(f"{args.work_dir}: no stage-0 model; run benchmarks/reproduce_continued.py first")
    record = RunRecord(None if argv is None else [__file__, *argv])
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(fine_tune, args.work_dir, args.data,
                               str(Path(args.work_dir) / "pos_budget" / f"steps{steps}_lr{lr:g}"), steps, lr, args.seed)
                   for steps, lr in BUDGETS]
        rows = [future.result() for future in futures]
    lines = ["# POS fine-tuning budget on the continued ablation's stage-0 encoder", "", *record.header(),
             f"- Runs: {args.jobs} at a time, one torch thread each; seed {args.seed}", "",
             "Stage 0 of `reproduce_continued.py` (4 layers, hidden 128, MLM only), fine-tuned on the ablation's 80 % "
             "of the English EWT dev set, checkpoint kept on the other 20 % (the \"English dev F1\"), tested on German GSD.",
             "", "| steps | learning rate | English dev F1 | German test F1 | seconds |", "|---|---|---|---|---|"]
    lines += [f"| {r['steps']} | {r['learning_rate']:g} | {r['dev_en_f1']:.1f} | {r['test_de_f1']:.1f} | {r['seconds']:.0f} |"
              for r in rows]
    Path(args.results).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return Path(args.results)


if __name__ == "__main__":
    main()
