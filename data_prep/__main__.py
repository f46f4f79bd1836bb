"""Command line: ``python -m data_prep --pair en de train.en.gz train.de.gz --out-dir wps/``; one shard of the corpora
with ``--num_shards N --shard_index I``, and ``python -m data_prep merge SHARD_DIR... --output_dir OUT`` joins the
shards (`data_prep.merge`).

Bad input ends the run with one line on stderr (``error: FILE:LINE: problem``) and exit status 2.
"""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import sys

from data_prep.pipeline import REPORT_NAME, build_wps_dataset
from data_prep.reading import InputError, PairSpec
from data_prep.word_pairs import SYMMETRIZATIONS, WordList
from data_prep.wps import ALIGNERS

#: The flags' defaults are `build_wps_dataset`'s.
DEFAULTS = {name: parameter.default for name, parameter in inspect.signature(build_wps_dataset).parameters.items()}
#: The flags passed to `build_wps_dataset` as they are, under the parameter of the same name (--max-length: max_length).
SAME_NAMED_OPTIONS = ("aligner", "symmetrization", "word_list_dir", "tokenizer", "max_length", "max_words_per_pair",
                      "max_phrase_words", "validation_fraction", "seed", "num_proc", "align_chunk_size", "num_shards",
                      "shard_index")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m data_prep",
        description="Parallel corpora -> word positioned samples (WPS): a datasets.DatasetDict "
                    "(train/validation) and data_prep_report.json in --out-dir.",
    )
    parser.add_argument("--pair", nargs="+", action="append", default=[],
                        metavar="SRC TGT SRC_FILE TGT_FILE [ALIGNMENT_FILE]",
                        help="line-aligned corpus (plain or .gz) of language SRC and TGT (ISO 639-1); "
                             "the Pharaoh ALIGNMENT_FILE is needed with --aligner pharaoh. Repeatable.")
    parser.add_argument("--dataset", nargs="+", action="append", default=[],
                        metavar="SRC TGT NAME_OR_PATH [ALIGNMENT_FILE]",
                        help="a datasets dataset (save_to_disk directory or Hub name) with a "
                             "'translation' column. Repeatable.")
    parser.add_argument("--dataset-split", default="train", help="split of --dataset inputs (default: train)")
    parser.add_argument("--dataset-config", default=None, help="config name of --dataset Hub inputs")
    parser.add_argument("--out-dir", required=True, help="output directory (save_to_disk layout + report)")
    parser.add_argument("--aligner", choices=ALIGNERS, default=DEFAULTS["aligner"], help="word-pair source (default: %(default)s)")
    parser.add_argument("--symmetrization", choices=SYMMETRIZATIONS, default=DEFAULTS["symmetrization"],
                        help="combining eflomal's two directions (default: %(default)s)")
    parser.add_argument("--word-list", nargs=3, action="append", default=[], metavar=("SRC", "TGT", "FILE"),
                        help="MUSE-style list: 'src tgt' per line (tab-separated for multi-word entries). Repeatable.")
    parser.add_argument("--word-list-dir", default=None,
                        help="directory of line-parallel lists {lang}_uni.txt (the ML-CTL release layout)")
    parser.add_argument("--stopwords", nargs=2, action="append", default=[], metavar=("LANG", "FILE"),
                        help="stop-word file (one per line) replacing stopwords-iso's list for LANG. Repeatable.")
    parser.add_argument("--tokenizer", default=None, help="fast tokenizer name or path: adds token ids and spans")
    parser.add_argument("--max-length", type=int, default=DEFAULTS["max_length"],
                        help="tokens per sentence (default: %(default)s)")
    parser.add_argument("--max-words-per-pair", type=int, default=DEFAULTS["max_words_per_pair"],
                        help="WPS per sentence pair (default: %(default)s)")
    parser.add_argument("--max-phrase-words", type=int, default=DEFAULTS["max_phrase_words"],
                        help="longest phrase built from aligned links, in words (default: %(default)s)")
    parser.add_argument("--validation-fraction", type=float, default=DEFAULTS["validation_fraction"],
                        help="share of sentence pairs in the validation split (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                        help="seeds the word sampling and the train/validation split (default: %(default)s). Not eflomal: "
                             "eflomal 2.0 takes no seed (its sampler seeds itself from /dev/urandom), so two "
                             "--aligner eflomal runs can give different WPS; --aligner pharaoh or word-list are "
                             "reproducible")
    parser.add_argument("--num-proc", type=int, default=DEFAULTS["num_proc"], help="worker processes (default: %(default)s)")
    parser.add_argument("--align-chunk-size", type=int, default=DEFAULTS["align_chunk_size"],
                        help="pairs eflomal aligns at once; bounds its memory (default: %(default)s)")
    parser.add_argument("--num_shards", type=int, default=DEFAULTS["num_shards"],
                        help="cut every corpus into this many shards by sentence pair (line; as datasets' "
                             "Dataset.shard with contiguous=True) and build one; join them with 'merge'")
    parser.add_argument("--shard_index", type=int, default=DEFAULTS["shard_index"],
                        help="the shard to build, 0 to --num_shards - 1 (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser.parse_args(argv)


def pair_specs(args: argparse.Namespace) -> list[PairSpec]:
    """The PairSpecs of ``--pair`` and ``--dataset``."""
    specs = []
    for values in args.pair:
        if len(values) not in (4, 5):
            raise InputError(f"--pair {' '.join(values)}: expected SRC TGT SRC_FILE TGT_FILE [ALIGNMENT_FILE]")
        specs.append(PairSpec(values[0], values[1], src_path=values[2], tgt_path=values[3],
                              alignment_path=values[4] if len(values) == 5 else None))
    for values in args.dataset:
        if len(values) not in (3, 4):
            raise InputError(f"--dataset {' '.join(values)}: expected SRC TGT NAME_OR_PATH [ALIGNMENT_FILE]")
        specs.append(PairSpec(values[0], values[1], dataset=values[2], dataset_split=args.dataset_split,
                              dataset_config=args.dataset_config,
                              alignment_path=values[3] if len(values) == 4 else None))
    return specs


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merge"]:
        from data_prep.merge import main as merge_main

        return merge_main(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        word_lists = [WordList.from_muse_file(src, tgt, path) for src, tgt, path in args.word_list]
        options = {name: getattr(args, name) for name in SAME_NAMED_OPTIONS}
        dataset = build_wps_dataset(pair_specs(args), args.out_dir, word_lists=word_lists,
                                    stopword_files=dict(args.stopwords),
                                    show_progress=False if args.no_progress else None, **options)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with open(f"{args.out_dir}/{REPORT_NAME}", encoding="utf-8") as stream:
        totals = json.load(stream)["totals"]
    print(f"{totals['pairs_read']:,} sentence pairs -> {totals['wps_written']:,} WPS "
          f"({', '.join(f'{split}: {len(rows):,}' for split, rows in dataset.items())}); "
          f"report: {args.out_dir}/{REPORT_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
