#!/usr/bin/env python
"""ML-CTL where its users run it: continued pre-training of a pre-trained multilingual encoder, scored with XTREME's
own protocol, in one command.

    python benchmarks/reproduce_continued.py            # the full run (≈ 83 min on 2 cores)
    python benchmarks/reproduce_continued.py --quick    # the same pipeline, tiny (≈ 2 min)
    python benchmarks/reproduce_continued.py --start_from bert-base-multilingual-cased [--model_revision R]

What it does (`mlctl.experiments.continued`):

1. Shared data as ``reproduce_ablation.py`` builds it (Multi30k en–de/fr/cs WPS, a WordPiece vocabulary, the
   Multi30k test set in Tatoeba layout, the POS split), cached in ``--work_dir``.
2. Stage 0 (`mlctl.experiments.stage0`, cached): the stand-in for mBERT, a small BERT pre-trained with MLM only on
   the monolingual Multi30k training text of en, de, fr and cs, each language shuffled on its own. With
   ``--start_from CKPT`` (a Hub name or a folder) that checkpoint instead, exported once into the work dir: its
   tokenizer prepares the WPS, its depth sets the retrieval layer, and its row is the checkpoint itself.
3. Stage-1 learning rate, chosen once on CZ-snt (seed 1): each of ``lr_candidates`` trains CZ-snt from stage 0;
   the one with the best held-out WPS sentence retrieval (validation split, en → xx) is every arm's learning rate.
4. Stage 1: every arm continues from stage 0 with one budget (steps, batch, learning rate), for every seed: the
   stage-0 model itself (the paper's "mBERT" row; its seeds are POS fine-tuning seeds), MLM only, info-snt, CZ-snt,
   ML-CTL-info, ML-CTL-CZ, ML-CTL-CZ with the explicit sentence term, and the sentence-level arms again with
   ``--batch_sampler no_duplicates`` (+ND). The low-resource regime (small batch, bfloat16) repeats the four
   contrastive arms.
5. Evaluation through ``mlctl.evaluation.run_xtreme``: Multi30k test_2016_flickr and Tatoeba deu/fra retrieval in
   both directions (XTREME's en → xx is the headline) at the layer XTREME uses for this depth, mean-pooled (XTREME's
   Tatoeba default); the word retrieval score; POS en → de (English dev F1 reported). How often the default sampler
   batches WPS of one sentence together is measured on the training WPS.

Output: ``ablation_continued.{md,json,png}`` in ``--results_dir``. Resumable: each run writes its ``result.json``.
"""
import os
import sys

if not any(argument.startswith("--start_from") for argument in sys.argv[1:]):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model is a local folder (--start_from may need the Hub)

from mlctl.experiments.cli import run_experiment  # noqa: E402
from mlctl.experiments.continued import FULL, QUICK, reproduce_continued  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_experiment(reproduce_continued, FULL, QUICK, __doc__.splitlines()[0], "continued", start_from=True))
