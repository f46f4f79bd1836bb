#!/usr/bin/env python
"""The ML-CTL paper's ablation (Table 1) in miniature, on real parallel data, in one command.

    python benchmarks/reproduce_ablation.py            # the full run (≈ 40 min on 2 CPU cores)
    python benchmarks/reproduce_ablation.py --quick    # the same pipeline, tiny (≈ 5 min)

What it does (`mlctl.experiments.ablation`), all from ``../shared/data`` (read, never copied into the repository):

1. Data (cached in ``--work_dir``): the first N lines of Multi30k train en–de, en–fr, en–cs; a cased WordPiece
   tokenizer trained on them; word positioned samples (WPS) built by ``data_prep`` with eflomal alignments
   (a share of the sentence pairs held out as the ``validation`` split).
2. Arms (`mlctl.experiments.settings.ARMS`), each trained from scratch with the same small BERT, data, masking,
   steps, batch and learning rate, for every seed: MLM only; info-snt; CZ-snt; ML-CTL-info; ML-CTL-CZ (all + MLM).
   The *standard* regime uses a large batch in float32; the *low-resource* regime (the one the paper motivates
   CZ-NCE with) a small batch under ``torch.autocast("cpu", bfloat16)`` (``TrainingArguments(bf16=True)``).
3. Evaluation through ``mlctl.evaluation.run_xtreme`` (what ``run_xtreme_tasks.py`` runs): retrieval accuracy on
   Multi30k ``test_2016_flickr`` (de, fr, cs; in-domain, written in Tatoeba layout), Tatoeba deu/fra (out of domain),
   zero-shot POS en → de (UD English-EWT dev split 80/20 into train/dev, tested on UD German-GSD test); plus a
   word-level score: for the aligned word pairs of held-out sentence pairs, how often a target word retrieves its
   English translation among all held-out English words.
4. Output: ``ablation.md`` (mean ± std per arm and metric, Table 1 ablation layout, the command, the commit and
   the wall time), ``ablation.json`` (every run's numbers) and ``ablation.png`` in ``--results_dir``.

Resumable: each (regime, arm, seed) runs in its own process and writes ``result.json`` in its run folder; a run
whose ``result.json`` exists is not redone. Everything is seeded (data_prep seed 0, one seed per run).
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model is a local folder

from mlctl.experiments.ablation import reproduce_ablation  # noqa: E402
from mlctl.experiments.cli import run_experiment  # noqa: E402
from mlctl.experiments.settings import FULL, QUICK  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_experiment(reproduce_ablation, FULL, QUICK, __doc__.splitlines()[0], "ablation"))
