"""The command line the experiment scripts in ``benchmarks/`` share: mode, data, work and results folders, parallel
runs, a partial report, and the one-line errors."""
from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable

from mlctl.experiments.provenance import REPO_ROOT, RunRecord
from mlctl.experiments.runs import LOG_FORMAT
from mlctl.experiments.settings import DATA_FOLDERS, DEFAULT_DATA, ExperimentError


def run_experiment(reproduce: Callable[..., Path], full, quick, description: str, outputs_name: str,
                   argv: list[str] | None = None, start_from: bool = False) -> int:
    """An experiment script's command line (`argv`: the script and its arguments, default sys.argv), its work dirs
    under ``outputs/<outputs_name>``: runs `reproduce(settings, quick, data_dir, work_dir, results_dir, jobs,
    partial, record)` with the `full` or `quick` settings and prints the note it wrote. With `start_from` (settings
    that have ``start_from`` and ``model_revision`` fields) also ``--start_from CKPT [--model_revision R]``, whose
    default work dir is named after the checkpoint. Returns the exit status: 0 on success, 2 with a one-line error
    when data, settings or a run are unusable."""
    from data_prep import InputError
    from mlctl.training import TrainingSetupError

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks the pipeline end to end")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder (multi30k, tatoeba, udpos)")
    parser.add_argument("--work-dir", help=f"cache and run folders (default outputs/{outputs_name}/{{full,quick}})")
    parser.add_argument("--results-dir", help="where the results files go (default results/, or the work dir with "
                                              "--quick)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, each in its own process with one torch "
                                                            "thread")
    parser.add_argument("--partial", action="store_true",
                        help="start no run: write the report from the runs that have finished, labelled partial")
    if start_from:
        parser.add_argument("--start_from", help="a Hub name or folder: every arm continues this checkpoint (its "
                                                 "tokenizer prepares the WPS) instead of stage 0")
        parser.add_argument("--model_revision", help="the --start_from revision (branch, tag or commit)")
    argv = sys.argv if argv is None else argv
    record = RunRecord(argv)
    logging.basicConfig(format=LOG_FORMAT, level=logging.INFO)
    args = parser.parse_args(argv[1:])
    settings = quick if args.quick else full
    mode = "quick" if args.quick else "full"
    if getattr(args, "model_revision", None) and not args.start_from:
        print(f"{Path(argv[0]).stem}: error: --model_revision needs --start_from", file=sys.stderr)
        return 2
    if getattr(args, "start_from", None):
        settings = replace(settings, start_from=args.start_from, model_revision=args.model_revision)
        mode += "-" + re.sub(r"[^A-Za-z0-9._-]+", "_", "@".join(filter(None, (args.start_from, args.model_revision))))
    data_dir = Path(args.data)
    work_dir = Path(args.work_dir or REPO_ROOT / "outputs" / outputs_name / mode)
    results_dir = Path(args.results_dir or (work_dir if args.quick else REPO_ROOT / "results"))
    try:
        for needed in DATA_FOLDERS:
            if not (data_dir / needed).is_dir():
                raise ExperimentError(f"{data_dir / needed}: not found (pass --data, the shared data folder)")
        path = reproduce(settings, args.quick, data_dir, work_dir, results_dir, args.jobs,
                         args.partial, record)
    except (ExperimentError, InputError, TrainingSetupError) as error:
        print(f"{Path(argv[0]).stem}: error: {error}", file=sys.stderr)
        return 2
    print(path.read_text(encoding="utf-8"))
    return 0
