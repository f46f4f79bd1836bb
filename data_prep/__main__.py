"""Command line: ``python -m data_prep --pair en de train.en.gz train.de.gz --output_dir wps/`` (`mlctl-prep`); one
shard of the corpora with ``--num_shards N --shard_index I``, and ``python -m data_prep merge SHARD_DIR...
--output_dir OUT`` joins the shards (`data_prep.merge`).

Bad input ends the run with one line on stderr (``error: FILE:LINE: problem``; a bad flag value
``mlctl-prep: error: --flag VALUE: problem``, before any work) and exit status 2.
"""
from __future__ import annotations

import inspect
import json
import logging
import sys
from dataclasses import dataclass

from data_prep.arguments import DEFAULT_SEED
from data_prep.arguments import CommandParser
from data_prep.arguments import HubArguments
from data_prep.arguments import arg
from data_prep.arguments import shared
from data_prep.pipeline import OPTION_RANGES, REPORT_NAME, build_wps_dataset
from data_prep.reading import InputError, PairSpec
from data_prep.word_pairs import SYMMETRIZATIONS, WordList
from data_prep.wps import ALIGNERS

#: The flags' defaults are `build_wps_dataset`'s (but --seed: every command's).
DEFAULTS = {name: parameter.default for name, parameter in inspect.signature(build_wps_dataset).parameters.items()}
#: The flags passed to `build_wps_dataset` as they are, under the parameter of the same name.
SAME_NAMED_OPTIONS = ("aligner", "symmetrization", "word_list_dir", "max_words_per_pair", "max_phrase_words",
                      "validation_fraction", "seed", "num_proc", "align_chunk_size", "num_shards", "shard_index")


@dataclass(kw_only=True)
class PrepArguments(HubArguments):
    """The flags of `mlctl-prep` (``python -m data_prep``); `HubArguments` pin the ``--tokenizer_name`` download."""

    pair: list[str] = arg("line-aligned corpus (plain or .gz) of language SRC and TGT (ISO 639-1); the Pharaoh "
                          "ALIGNMENT_FILE is needed with --aligner pharaoh. Repeatable.", default_factory=list,
                          action="append", metavar="SRC TGT SRC_FILE TGT_FILE [ALIGNMENT_FILE]")
    dataset: list[str] = arg("a datasets dataset (save_to_disk directory or Hub name) with a 'translation' column. "
                             "Repeatable.", default_factory=list, action="append",
                             metavar="SRC TGT NAME_OR_PATH [ALIGNMENT_FILE]")
    dataset_split: str = arg("split of --dataset inputs", "train")
    dataset_config: str | None = arg("config name of --dataset Hub inputs")
    output_dir: str = shared("output_dir", required=True)
    aligner: str = arg("word-pair source", DEFAULTS["aligner"], choices=ALIGNERS)
    symmetrization: str = arg("combining eflomal's two directions", DEFAULTS["symmetrization"], choices=SYMMETRIZATIONS)
    word_list: list[str] = arg("MUSE-style list: 'src tgt' per line (tab-separated for multi-word entries). Repeatable.",
                               default_factory=list, action="append", metavar="SRC TGT FILE")
    word_list_dir: str | None = arg("directory of line-parallel lists {lang}_uni.txt (the ML-CTL release layout)")
    stopwords: list[str] = arg("stop-word file (one per line) replacing stopwords-iso's list for LANG. Repeatable.",
                               default_factory=list, action="append", metavar="LANG FILE")
    tokenizer_name: str | None = shared("tokenizer_name")
    max_seq_length: int = shared("max_seq_length", DEFAULTS["max_length"], **OPTION_RANGES["max_length"])
    max_words_per_pair: int = arg("WPS per sentence pair", DEFAULTS["max_words_per_pair"],
                                  **OPTION_RANGES["max_words_per_pair"])
    max_phrase_words: int = arg("longest phrase built from aligned links, in words", DEFAULTS["max_phrase_words"],
                                **OPTION_RANGES["max_phrase_words"])
    validation_fraction: float = arg("share of sentence pairs in the validation split",
                                     DEFAULTS["validation_fraction"], **OPTION_RANGES["validation_fraction"])
    seed: int = shared("seed", DEFAULT_SEED, minimum=0)
    num_proc: int = shared("num_proc", DEFAULTS["num_proc"], **OPTION_RANGES["num_proc"])
    align_chunk_size: int = arg("pairs eflomal aligns at once; bounds its memory", DEFAULTS["align_chunk_size"],
                                **OPTION_RANGES["align_chunk_size"])
    num_shards: int = arg("cut every corpus into this many shards by sentence pair (line; as datasets' Dataset.shard "
                          "with contiguous=True) and build one; join them with 'mlctl-prep merge'",
                          DEFAULTS["num_shards"], **OPTION_RANGES["num_shards"])
    shard_index: int = arg("the shard to build, 0 to --num_shards - 1", DEFAULTS["shard_index"],
                           **OPTION_RANGES["shard_index"])
    no_progress: bool = arg("hide the progress bars", False)


def build_parser() -> CommandParser:
    """The parser of `mlctl-prep` (`PrepArguments`)."""
    return CommandParser((PrepArguments,), prog="mlctl-prep", description=(
        "Parallel corpora -> word positioned samples (WPS): a datasets.DatasetDict (train/validation) and "
        "data_prep_report.json in --output_dir."))


def parse_args(argv: list[str] | None = None) -> PrepArguments:
    """The checked flags of ``argv`` (default: the command line); a bad value exits 2 with one line."""
    args, = build_parser().parse_command(argv)
    return args


def _values(flag: str, values: list[str], counts: tuple[int, ...], meaning: str) -> list[str]:
    """The values of one ``flag`` occurrence, checked to be ``counts`` many."""
    if len(values) not in counts:
        raise InputError(f"{flag} {' '.join(values)}: expected {meaning}")
    return values


def pair_specs(args: PrepArguments) -> list[PairSpec]:
    """The PairSpecs of ``--pair`` and ``--dataset``."""
    specs = []
    for values in args.pair:
        values = _values("--pair", values, (4, 5), "SRC TGT SRC_FILE TGT_FILE [ALIGNMENT_FILE]")
        specs.append(PairSpec(values[0], values[1], src_path=values[2], tgt_path=values[3],
                              alignment_path=values[4] if len(values) == 5 else None))
    for values in args.dataset:
        values = _values("--dataset", values, (3, 4), "SRC TGT NAME_OR_PATH [ALIGNMENT_FILE]")
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
        word_lists = [WordList.from_muse_file(*_values("--word_list", values, (3,), "SRC TGT FILE"))
                      for values in args.word_list]
        stopword_files = dict(_values("--stopwords", values, (2,), "LANG FILE") for values in args.stopwords)
        options = {name: getattr(args, name) for name in SAME_NAMED_OPTIONS}
        dataset = build_wps_dataset(pair_specs(args), args.output_dir, word_lists=word_lists,
                                    stopword_files=stopword_files, tokenizer=args.tokenizer_name,
                                    max_length=args.max_seq_length, hub=args,
                                    show_progress=False if args.no_progress else None, **options)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with open(f"{args.output_dir}/{REPORT_NAME}", encoding="utf-8") as stream:
        totals = json.load(stream)["totals"]
    print(f"{totals['pairs_read']:,} sentence pairs -> {totals['wps_written']:,} WPS "
          f"({', '.join(f'{split}: {len(rows):,}' for split, rows in dataset.items())}); "
          f"report: {args.output_dir}/{REPORT_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
