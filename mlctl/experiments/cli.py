"""The command line the experiment scripts in ``benchmarks/`` share: mode, data, work and results folders, parallel
runs, a partial report, and the one-line errors."""
from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import Callable

from data_prep.arguments import CommandParser
from data_prep.arguments import arg
from mlctl.experiments.provenance import REPO_ROOT, RunRecord
from mlctl.experiments.runs import LOG_FORMAT
from mlctl.experiments.settings import DATA_FOLDERS, DEFAULT_DATA, ExperimentError


@dataclass
class ExperimentArguments:
    """The flags every experiment script takes."""

    quick: bool = arg("tiny settings: checks the pipeline end to end", False)
    data: str = arg("the shared data folder (multi30k, tatoeba, udpos)", str(DEFAULT_DATA))
    work_dir: str | None = arg("cache and run folders (default outputs/<experiment>/{full,quick})")
    results_dir: str | None = arg("where the results files go (default results/, or the work dir with --quick)")
    jobs: int = arg("runs at a time, each in its own process with one torch thread", 2, minimum=1)
    partial: bool = arg("start no run: write the report from the runs that have finished, labelled partial", False)


@dataclass
class StartFromArguments:
    """The flags of an experiment that can continue an external checkpoint instead of its stage 0."""

    start_from: str | None = arg("a Hub name or folder: every arm continues this checkpoint (its tokenizer prepares "
                                 "the WPS) instead of stage 0")
    model_revision: str | None = arg("the --start_from revision (branch, tag or commit)")


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

    argv = sys.argv if argv is None else argv
    record = RunRecord(argv)
    logging.basicConfig(format=LOG_FORMAT, level=logging.INFO)
    parser = CommandParser((ExperimentArguments, StartFromArguments) if start_from else (ExperimentArguments,),
                           prog=Path(argv[0]).stem, description=description)
    args, *checkpoint = parser.parse_command(argv[1:])
    settings = quick if args.quick else full
    mode = "quick" if args.quick else "full"
    if checkpoint and checkpoint[0].model_revision and not checkpoint[0].start_from:
        print(f"{Path(argv[0]).stem}: error: --model_revision needs --start_from", file=sys.stderr)
        return 2
    if checkpoint and checkpoint[0].start_from:
        start, revision = checkpoint[0].start_from, checkpoint[0].model_revision
        settings = replace(settings, start_from=start, model_revision=revision)
        mode += "-" + re.sub(r"[^A-Za-z0-9._-]+", "_", "@".join(filter(None, (start, revision))))
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
