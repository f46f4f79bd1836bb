"""``python -m data_prep merge SHARD_DIR... --output_dir OUT``: the shards of one corpus, each built by its own job
(``--num_shards N --shard_index I``, e.g. a SLURM array), joined into the ``DatasetDict`` one run would have
written, with one report.

Each shard holds the WPS of a contiguous block of every corpus's lines (`data_prep.reading.shard_rows`); every line
kept its index in the whole corpus, so its WPS and its train/validation side are those a single run gives it (the
split is decided per distinct sentence pair by `data_prep.wps.in_validation_split` of the pair's seeded digest). The
merge checks that the shards are 0 … N-1 of one N, built from the same corpora with the same settings and the same
tokenizer (name, vocabulary size, vocabulary SHA-256), then concatenates (`datasets.concatenate_datasets`) each
split corpus by corpus, shard by shard: the rows and the order of one run. The report's counts and seconds are
summed over the shards (so `duplicate_pairs` counts the copies within a shard only; the split itself keeps every
copy of a pair on one side whatever the shard).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from data_prep.arguments import rewrite_deprecated_flags
from data_prep.arguments import shared
from data_prep.output_dir import ensure_writable_directory
from data_prep.pipeline import REPORT_NAME, SPLITS, report_totals, save_splits, wps_per_pair, write_report
from data_prep.reading import InputError

#: Report entries that must be equal in every shard (the settings a shard was built with).
SAME_IN_EVERY_SHARD = ("tokenizer", "aligner", "symmetrization", "max_words_per_pair", "max_phrase_words",
                       "validation_fraction", "seed", "stopwords")
#: Per-corpus report entries that name the corpus (equal in every shard) rather than count.
CORPUS_KEYS = ("src_lang", "tgt_lang", "src_path", "tgt_path", "dataset", "alignment_path")


@dataclass
class MergeArguments:
    """The merge's options (the shard folders are its positional arguments)."""

    output_dir: str = shared("output_dir", required=True)


def read_shard_reports(shard_dirs: list[str]) -> list[tuple[Path, dict]]:
    """(folder, report) of every shard, in shard order, after checking that they are the shards 0 … N-1 of one N,
    each once, with the corpora and settings of the first; a violation is an `InputError` naming the folder."""
    shards = []
    for directory in map(Path, shard_dirs):
        path = directory / REPORT_NAME
        if not path.is_file():
            raise InputError(f"{directory}: not a data_prep output ({REPORT_NAME} not found)")
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError: a report cut short or overwritten
            raise InputError(f"{path}: not valid JSON ({error})") from None
        if "shard" not in report:
            raise InputError(f"{path}: not a shard (built without --num_shards)")
        shards.append((directory, report))
    first_dir, first = shards[0]
    for directory, report in shards[1:]:
        for key in SAME_IN_EVERY_SHARD:
            if report.get(key) != first.get(key):
                raise InputError(f"{directory / REPORT_NAME}: {key} {json.dumps(report.get(key))} differs from "
                                 f"{first_dir}'s {json.dumps(first.get(key))}")
        corpora = [[entry.get(key) for key in CORPUS_KEYS] for entry in report["pairs"]]
        if corpora != [[entry.get(key) for key in CORPUS_KEYS] for entry in first["pairs"]]:
            raise InputError(f"{directory / REPORT_NAME}: built from other corpora than {first_dir}")
    num_shards = first["shard"]["num_shards"]
    by_index = {}
    for directory, report in shards:
        index = report["shard"]["shard_index"]
        if report["shard"]["num_shards"] != num_shards:
            raise InputError(f"{directory / REPORT_NAME}: shard of {report['shard']['num_shards']} but {first_dir} "
                             f"is a shard of {num_shards}")
        if index in by_index:
            raise InputError(f"{directory}: shard {index} given twice (also {by_index[index][0]})")
        by_index[index] = (directory, report)
    missing = sorted(set(range(num_shards)) - set(by_index))
    if missing:
        raise InputError(f"shard(s) {', '.join(map(str, missing))} of {num_shards} missing")
    return [by_index[index] for index in range(num_shards)]


def summed(entries: list):
    """The entries' numbers summed key by key (nested dicts too); other values (names, paths) from the first."""
    first = entries[0]
    if isinstance(first, dict):
        return {key: summed([entry[key] for entry in entries]) for key in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return sum(entries)
    return first


def merged_report(shards: list[tuple[Path, dict]]) -> dict:
    """One run's report from the shards': settings of the first, counts and seconds summed per corpus, totals
    recomputed, the shard folders listed."""
    reports = [report for _, report in shards]
    pairs = [summed(list(entries)) for entries in zip(*(report["pairs"] for report in reports))]
    for entry in pairs:
        entry["wps_per_pair"] = wps_per_pair(entry["wps_written"], entry["pairs_read"])
    report = {key: value for key, value in reports[0].items() if key != "shard"}
    report.update(pairs=pairs, totals=report_totals(pairs), seconds_total=round(sum(r["seconds_total"] for r in reports), 3),
                  merged_from=[str(directory) for directory, _ in shards])
    return report


def merge_shards(shard_dirs: list[str], output_dir: str) -> dict:
    """Joins the shard folders into `output_dir` (DatasetDict + report); returns the merged report."""
    import datasets

    shards = read_shard_reports(shard_dirs)
    try:
        out_dir = ensure_writable_directory(output_dir)
    except ValueError as error:
        raise InputError(f"--output_dir {error}") from None
    loaded = [datasets.load_from_disk(str(directory)) for directory, _ in shards]
    merged = {}
    for split in SPLITS:
        pieces = []
        for position in range(len(shards[0][1]["pairs"])):
            for dataset, (_, report) in zip(loaded, shards):
                counts = [entry["wps_per_split"][split] for entry in report["pairs"]]
                start = sum(counts[:position])
                pieces.append(dataset[split].select(range(start, start + counts[position])))
        merged[split] = datasets.concatenate_datasets(pieces)
    save_splits(datasets.DatasetDict(merged), out_dir)
    report = merged_report(shards)
    write_report(out_dir, report)
    return report


def main(argv: list[str] | None = None) -> int:
    """``merge SHARD_DIR... --output_dir OUT``; a bad shard set is one line on stderr and exit status 2."""
    from transformers import HfArgumentParser

    prog = "mlctl-prep merge"
    parser = HfArgumentParser(MergeArguments, prog=prog,
                              description="Join data_prep shards (--num_shards/--shard_index) into one output.")
    parser.add_argument("shard_dirs", nargs="+", metavar="SHARD_DIR", help="the shards' output folders")
    argv = rewrite_deprecated_flags(list(sys.argv[1:] if argv is None else argv), prog)
    arguments, rest = parser.parse_args_into_dataclasses(args=argv)
    try:
        report = merge_shards(rest.shard_dirs, arguments.output_dir)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    totals = report["totals"]
    print(f"{len(report['merged_from'])} shards, {totals['pairs_read']:,} sentence pairs -> "
          f"{totals['wps_written']:,} WPS (train: {totals['wps_per_split']['train']:,}, validation: "
          f"{totals['wps_per_split']['validation']:,}); report: {arguments.output_dir}/{REPORT_NAME}")
    return 0
