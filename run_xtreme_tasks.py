#!/usr/bin/env python
"""Zero-shot XTREME evaluation of any encoder checkpoint: XNLI, PAWS-X, POS, NER, BUCC and Tatoeba.

    python run_xtreme_tasks.py --model_name_or_path CKPT --tasks all --data_dir download --output_dir OUT

The protocol is XTREME's: classification (XNLI, PAWS-X) and tagging (UD POS, PAN-X NER) fine-tune on English with the
Trainer, keep the checkpoint that is best on English dev and evaluate every target language; retrieval (BUCC 2018,
Tatoeba) uses no fine-tuning and compares ``hidden_states[layer]`` pooled by ``--pool_type`` (XTREME's per-task
defaults: Tatoeba mean, BUCC cls) by cosine similarity; Tatoeba is scored en -> xx as XTREME does. Results go to
``OUT/results.json`` and the row of the ML-CTL paper's Table 1 is printed.

Data come from ``--data_dir`` in the layout of XTREME's ``scripts/download_data.sh`` (``xnli/``, ``pawsx/``,
``udpos/``, ``panx/``, ``bucc2018/``, ``tatoeba/``), from single files given with ``--data_file TASK:SPLIT:LANG=PATH``,
or from the Hugging Face Hub when online. A task or language without data is reported and skipped.

The work is done by :mod:`mlctl.evaluation`; this script parses the flags (``XtremeArguments`` and XTREME's
fine-tuning defaults, ``FineTuningSettings``) and reports.
"""
from __future__ import annotations

import logging
import shlex
import sys

from data_prep.arguments import CommandParser
from data_prep.reading import InputError
from mlctl.evaluation import FineTuningSettings
from mlctl.evaluation import RunInterrupted
from mlctl.evaluation import XtremeArguments
from mlctl.evaluation import incomplete_tasks
from mlctl.evaluation import run_xtreme


def build_parser() -> CommandParser:
    """The parser of `mlctl-xtreme`: `XtremeArguments` and `FineTuningSettings`."""
    return CommandParser((XtremeArguments, FineTuningSettings), prog="mlctl-xtreme",
                         description=__doc__.split("\n\n")[0], required=("model_name_or_path",))


def main(argv: list[str] | None = None) -> dict:
    """Parses `argv` (default: the command line), runs the evaluation, prints the Table-1 row; returns results. A bad
    flag value ends the process (exit 2, one line) before any work."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, settings = build_parser().parse_command(argv)
    results = run_xtreme(args, settings, command="python run_xtreme_tasks.py " + shlex.join(argv))
    print(results["table"])
    return results


def cli() -> int:
    """Console entry point (`mlctl-xtreme`): 0 when every task ran, 1 when data was missing or unusable, 2 when the
    run could not start (a one-line error), 128 + N when signal N (SIGTERM, SIGINT) stopped it (one line; the
    partial results.json says so under "interrupted")."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    logging.getLogger("mlctl").setLevel(logging.INFO)
    try:
        results = main()
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RunInterrupted as error:
        print(f"error: {error}", file=sys.stderr)
        return 128 + error.signal_number
    failed = incomplete_tasks(results)
    if failed:
        print(f"incomplete: {', '.join(failed)} (see the messages above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli())
