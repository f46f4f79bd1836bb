#!/usr/bin/env python
"""How often the default (random) sampler puts two WPS of one sentence in a batch, on Multi30k WPS built as
``reproduce_ablation.py`` builds them (10k pairs each of en–de/fr/cs, eflomal), at several batch sizes; and how many
batches ``--batch_sampler no_duplicates`` needs for the same epoch. Writes ``results/batch_duplicates.md``.

    python benchmarks/batch_duplicates.py
"""
from __future__ import annotations

import argparse
from pathlib import Path

from mlctl.experiments.continued import duplicate_measurement
from mlctl.experiments.provenance import REPO_ROOT, RunRecord
from mlctl.experiments.settings import DEFAULT_DATA, FULL
from mlctl.experiments.shared_data import prepare_shared

BATCH_SIZES = (8, 32, 64, 256)


def main(argv: list[str] | None = None) -> Path:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)  # no options; --help only
    record = RunRecord()
    shared = prepare_shared(DEFAULT_DATA, REPO_ROOT / "outputs" / "continued" / "full", FULL)
    measured = duplicate_measurement(shared["wps"], {f"batch {size}": size for size in BATCH_SIZES})
    lines = ["# Duplicate sentences in random WPS batches (Multi30k)", "",
             *record.header(), "- Data cached by reproduce_continued.py.",
             f"- Data: {measured['wps']:,} training WPS of {measured['distinct_source_sentences']:,} English and "
             f"{measured['distinct_target_sentences']:,} de/fr/cs sentences (every English sentence is paired with "
             "three languages, each pair gives up to 4 WPS). One epoch of the default sampler (seed 0).", "",
             "| batch | batches with two WPS of one sentence | rows with a false negative | such rows per batch | "
             "no-duplicates batches / default batches |", "|---|---|---|---|---|"]
    for size in BATCH_SIZES:
        entry = measured[f"batch {size}"]
        lines.append(f"| {size} | {100 * entry['batch_share_with_duplicates']:.1f} % | "
                     f"{100 * entry['row_share_with_duplicates']:.1f} % | {entry['rows_with_duplicates_per_batch']:.2f} | "
                     f"{entry['no_duplicates_batches']:,} / {entry['batches']:,} |")
    path = REPO_ROOT / "results" / "batch_duplicates.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(path.read_text(encoding="utf-8"))
    return path


if __name__ == "__main__":
    main()
