"""The real Multi30k run: en–de, en–fr, en–cs (29,000 training lines each) → WPS, and the note
``results/data_prep_multi30k.md`` written from its report.

    python benchmarks/data_prep_multi30k.py --num_proc 2
    python benchmarks/data_prep_multi30k.py --data D --note /tmp/note.md   # quick: D/multi30k holds the first lines

Outputs (dataset, tokenizer) go under ``--work_dir`` (default ``/tmp/mlctl_data_prep_multi30k``),
never into the repository.  No Hub access is needed: the tokenizer is a WordPiece trained here
on the four training files, standing in for mBERT's.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from data_prep import PairSpec, build_wps_dataset
from data_prep.arguments import CommandParser
from data_prep.arguments import arg
from data_prep.arguments import shared
from data_prep.reading import read_text_lines
from data_prep.tokenizer import train_wordpiece_tokenizer
from mlctl.experiments.provenance import REPO_ROOT, RunRecord

TARGETS = ("de", "fr", "cs")


def markdown(record: RunRecord, report: dict, word_list_report: dict | None, examples: dict) -> str:
    """The note: the run's provenance, per-pair counts, drop reasons and timings, straight from the reports."""
    pairs = report["pairs"]
    lines = [
        "# data_prep on Multi30k (en–de, en–fr, en–cs)",
        "",
        *record.header(),
        "",
        f"Aligner: eflomal ({report['symmetrization']}), max {report['max_words_per_pair']} WPS per sentence pair, "
        f"tokenizer: WordPiece trained on the four training files (vocab {report['tokenizer']['vocab_size']}, "
        f"max_length {report['tokenizer']['max_length']}), num_proc {report['num_proc']}, seed {report['seed']}.",
        "",
        "## WPS per pair",
        "",
        "| pair | lines | pairs read | pairs with WPS | links (candidates) | WPS written | WPS / pair | train | validation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in pairs:
        lines.append(
            f"| {entry['src_lang']}–{entry['tgt_lang']} | {entry['lines_read']:,} | {entry['pairs_read']:,} | "
            f"{entry['pairs_with_wps']:,} | {entry['candidates']:,} | {entry['wps_written']:,} | {entry['wps_per_pair']} | "
            f"{entry['wps_per_split']['train']:,} | {entry['wps_per_split']['validation']:,} |"
        )
    totals = report["totals"]
    lines.append(f"| **all** | {totals['lines_read']:,} | {totals['pairs_read']:,} | {totals['pairs_with_wps']:,} | "
                 f"{totals['candidates']:,} | {totals['wps_written']:,} | "
                 f"{totals['wps_written'] / totals['pairs_read']:.3f} | {totals['wps_per_split']['train']:,} | "
                 f"{totals['wps_per_split']['validation']:,} |")
    reasons = list(pairs[0]["candidates_dropped"])
    lines += ["", "## Where the alignment links went", "",
              "Every link is dropped for one reason, merged into a phrase, or written as a WPS "
              "(the columns add up to the link count).", "",
              "| pair | " + " | ".join(reasons) + " | merged_into_phrase | WPS written |",
              "|---|" + "---|" * (len(reasons) + 2)]
    for entry in pairs:
        lines.append(f"| {entry['src_lang']}–{entry['tgt_lang']} | "
                     + " | ".join(f"{entry['candidates_dropped'][r]:,}" for r in reasons)
                     + f" | {entry['merged_into_phrase']:,} | {entry['wps_written']:,} |")
    lines += ["", "Sentence pairs skipped: " + ", ".join(
        f"{reason} {count:,}" for reason, count in totals["pairs_skipped"].items()) + ".",
        "", "Stop-word lists (stopwords-iso): " + ", ".join(
            f"{lang} {info['count']:,} words" for lang, info in report["stopwords"].items()) + ". "
        "The English list is broad (it holds *man*, *men*, *young*, *little*), which is why `stop_word` is the "
        "largest drop reason on captions like these; `--stopwords en FILE` replaces it.",
        "", "## Timings (seconds)", "",
        "Wall-clock per pair; the worker columns are each stage's time measured inside the workers, summed over the worker processes. The machine is shared with other jobs, so times vary between runs.", "",
        "| pair | segmentation for eflomal | eflomal alignment | total | worker: segmentation | worker: WPS building | worker: tokenisation |",
        "|---|---|---|---|---|---|---|"]
    for entry in pairs:
        wall, work = entry["seconds"], entry["worker_seconds"]
        lines.append(f"| {entry['src_lang']}–{entry['tgt_lang']} | {wall.get('segmentation_for_eflomal', 0):.1f} | "
                     f"{wall.get('alignment', 0):.1f} | {wall['total']:.1f} | {work.get('segmentation', 0):.2f} | "
                     f"{work.get('wps_building', 0):.2f} | {work.get('tokenisation', 0):.2f} |")
    lines += ["", f"Whole run, saving included: {report['seconds_total']:.0f} s. Alignment is the stage that matters.", ""]
    if word_list_report is not None:
        entry = word_list_report["pairs"][0]
        lines += ["## The ML-CTL word list instead of eflomal (en–fr)", "",
                  "The original work's 4,243-entry list (`../shared/data/mlctl_word_lists`), matched on whole words "
                  "and only where an entry occurs once in each sentence:", "",
                  f"- {entry['pairs_read']:,} pairs read, {entry['candidates']:,} co-occurring entry pairs, "
                  f"{entry['wps_written']:,} WPS written ({entry['wps_per_pair']} per pair), "
                  f"{entry['pairs_with_wps']:,} pairs with at least one WPS;",
                  "- dropped: " + ", ".join(f"{r} {n:,}" for r, n in entry["candidates_dropped"].items() if n) + ";",
                  f"- {entry['seconds']['total']:.1f} s.", ""]
    lines += ["## Examples (first WPS of the en–de, en–fr and en–cs training splits)", "",
              "| pair | source word | target word | source sentence |", "|---|---|---|---|"]
    for name, rows in examples.items():
        for row in rows:
            lines.append(f"| {name} | {row['src_word']} | {row['tgt_word']} | {row['src_text']} |")
    return "\n".join(lines) + "\n"


@dataclass
class Multi30kArguments:
    data: str = arg("the shared data folder", str(REPO_ROOT.parent / "shared" / "data"))
    work_dir: str = arg("where the tokenizer and the WPS go", "/tmp/mlctl_data_prep_multi30k")
    num_proc: int = shared("num_proc", 2, minimum=1)
    note: str = arg("the results note", str(REPO_ROOT / "results" / "data_prep_multi30k.md"))


def main() -> None:
    args, = CommandParser((Multi30kArguments,), prog="data_prep_multi30k").parse_command()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    record = RunRecord()
    multi30k = Path(args.data) / "multi30k"
    if not multi30k.is_dir():
        sys.exit(f"error: {multi30k}: not found (the shared data folder is needed for this run)")
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    texts = (line for lang in ("en",) + TARGETS for _, line in read_text_lines(str(multi30k / f"train.{lang}.gz")))
    tokenizer = str(work_dir / "tokenizer")
    train_wordpiece_tokenizer(texts, vocab_size=16000).save_pretrained(tokenizer)
    specs = [PairSpec("en", lang, str(multi30k / "train.en.gz"), str(multi30k / f"train.{lang}.gz")) for lang in TARGETS]
    dataset = build_wps_dataset(specs, work_dir / "wps", tokenizer=tokenizer, num_proc=args.num_proc)
    report = json.loads((work_dir / "wps" / "data_prep_report.json").read_text(encoding="utf-8"))
    word_list_report = None
    word_lists = Path(args.data) / "mlctl_word_lists"
    if word_lists.is_dir():
        build_wps_dataset(specs[1:2], work_dir / "wps_word_list", aligner="word-list", word_list_dir=str(word_lists),
                          num_proc=args.num_proc)
        word_list_report = json.loads((work_dir / "wps_word_list" / "data_prep_report.json").read_text(encoding="utf-8"))
    train = dataset["train"]
    examples = {}
    for lang in TARGETS:
        rows = train.filter(lambda tgt: tgt == lang, input_columns="tgt_lang").select(range(4))
        examples[f"en–{lang}"] = list(rows)
    note = markdown(record, report, word_list_report, examples)
    Path(args.note).write_text(note, encoding="utf-8")
    print(note)


if __name__ == "__main__":
    main()
