#!/usr/bin/env python
"""ML-CTL pre-training with the Hugging Face Trainer: multi-level (sentence + word) contrastive learning + MLM.

    python train_mlctl.py                                   # the embedded demo (python -m mlctl.demo)
    python train_mlctl.py --model_name_or_path bert-base-multilingual-cased --train_dir wps/ --output_dir out/
    torchrun --nproc_per_node 8 train_mlctl.py ...          # or accelerate launch (GPUs); on CPU use torchrun

`--train_dir` is data_prep's output: a `datasets.DatasetDict` saved to disk (splits `train` and `validation`) of
parallel word positioned samples (WPS), pre-tokenised or text with character spans. The model is saved in
`--output_dir` with its tokenizer, the ML-CTL code (`auto_map`) and a model card; a run resumes from the last
checkpoint in `--output_dir`. With several processes the CCEs are gathered with gradients, so the run computes the
same loss and gradients as one process with the global batch.

The ML-CTL flags (`--levels --loss --temperature --mlm_weight ...`) are generated from `MLCTLConfig`; the work is done
by :mod:`mlctl.training`.
"""
from __future__ import annotations

import logging
import os
import sys

import torch
from mlctl.training import DiskFullError
from mlctl.training import TrainingDivergedError
from mlctl.training import TrainingSetupError
from mlctl.training import train
from mlctl.training import training_argument_parser

logger = logging.getLogger("train_mlctl")


def main(argv: list[str] | None = None) -> dict:
    """Trains as the flags say (see `--help`); returns {"output_dir", "train": metrics, "eval": metrics}. A bad flag
    value ends the process (exit 2, one line) before any work."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available() and "--use_cpu" not in argv:
        # Without this, transformers/accelerate give each CPU process its own single-process job.
        logger.info("several processes on a machine without a GPU: adding --use_cpu true (gloo)")
        argv += ["--use_cpu", "true"]
    model_args, data_args, training_args = training_argument_parser().parse_command(argv)
    return train(model_args, data_args, training_args)


def cli() -> int:
    """Console entry point (`mlctl-train`): 0 on success, 2 when the job cannot start, 1 when a non-finite loss or
    gradient or a full disk stopped it (a one-line error on stderr). With no arguments at all it runs the embedded demo."""
    if len(sys.argv) == 1:
        from mlctl.demo import main as demo

        return demo([])
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        main()
    except TrainingSetupError as error:
        print(f"train_mlctl: error: {error}", file=sys.stderr)
        return 2
    except (TrainingDivergedError, DiskFullError) as error:
        print(f"train_mlctl: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli())
