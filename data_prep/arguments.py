"""The one command-line dialect of every mlctl entry point (mlctl-prep, -train, -xtreme, -demo, -mine, -align).

Every command parses `transformers.HfArgumentParser` dataclasses through `CommandParser`:

- flags are snake_case dataclass fields written with `arg` (help, default, choices and range in the field's
  metadata: the one place a flag is described);
- flags several commands share are defined once, here (`HubArguments`, `ModelArguments`, `SHARED_HELP`), so that
  their meaning cannot drift between commands (tests/test_arguments.py checks it over every entry point);
- old spellings (kebab-case, `DEPRECATED_FLAGS`) are rewritten before parsing, with a one-line warning naming
  the new flag;
- right after parsing, before any work, every number is checked against its field's range and for NaN and
  infinity (`range_problem`); a bad value is one line on stderr, ``<command>: error: --flag VALUE: must be ...``,
  and exit status 2.

A new entry point: ``CommandParser((MyArguments, HubArguments), prog="mlctl-x").parse_command(argv)``. It lives in
data_prep, the lowest layer every entry point may import: it imports transformers' argument parser, never torch.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import operator
import sys
import types
from dataclasses import dataclass
from typing import NoReturn

from transformers import HfArgumentParser

#: The metadata key of a field's range: {"minimum": m (>= m), "above": a (> a), "maximum": M (<= M), "below": b (< b)},
#: one lower and one upper bound at most.
RANGE = "range"
#: Renamed flags (after kebab-case -> snake_case): old spelling -> the flag every command now uses; a key
#: "<prog> --flag" renames the flag of that command only (mlctl-xtreme's --data_file is another thing).
DEPRECATED_FLAGS = {
    "--out_dir": "--output_dir",
    "--max_length": "--max_seq_length",
    "--tokenizer": "--tokenizer_name",
    "mlctl-align --data_file": "--input_file",
}
#: The help of flags that several commands define themselves (on top of `HubArguments` and `ModelArguments`).
SHARED_HELP = {
    "output_dir": "Where this command writes its output (created if missing; checked writable before any work).",
    "seed": "Random seed of the run (sampling, splits, initialisation, data order). eflomal 2.0 takes no seed: "
            "mlctl-prep --aligner eflomal can differ between runs.",
    "max_seq_length": "Tokens per sentence, special tokens included; longer input is truncated (mlctl-mine and "
                      "mlctl-align: default the model's longest input).",
    "batch_size": "Sentences (or sentence pairs) per forward pass.",
    "num_proc": "Worker processes.",
    "tokenizer_name": "Fast tokenizer (Hub name or local path). mlctl-train: default the model's (--model_name_or_path "
                      "or --config_name); mlctl-prep: adds token ids and spans to the WPS.",
    "layer": "hidden_states index to embed with (default 8 as XTREME, SimAlign and awesome-align; the last layer of "
             "a smaller model).",
    "pooling": "Sentence vector: hidden_states[--layer] pooled by mean (all tokens, as XTREME) or cls (first token), "
               "or cce_sentence (the ML-CTL sentence vector over the checkpoint's pooling_layers; --layer ignored).",
    "device": "Where the model runs (default: cuda when present, else cpu).",
    "max_train_samples": "Use only the first N training examples (mlctl-train: WPS pairs; mlctl-xtreme: English "
                         "fine-tuning examples).",
    "max_eval_samples": "Use only the first N examples of each evaluation set.",
    "output_file": "Where the result goes (mlctl-mine: TSV lines score, src line, tgt line, src, tgt; mlctl-align: "
                   "0-based Pharaoh links, one line per input line).",
}
#: The default of `--seed` on every command.
DEFAULT_SEED = 42


def arg(help_text: str, default=None, *, default_factory=dataclasses.MISSING, required: bool = False,
        choices=None, minimum=None, above=None, maximum=None, below=None, **argparse_kwargs):
    """A dataclass field of a command-line flag: its help, default (``required`` for none), ``choices`` and range
    (``minimum`` <= value, ``above`` < value, value <= ``maximum``, value < ``below``) in the field's metadata,
    plus any other `argparse.add_argument` keyword (``nargs``, ``action``, ``metavar``)."""
    metadata = {"help": help_text, **argparse_kwargs}
    if choices is not None:
        metadata["choices"] = choices if isinstance(choices, (list, tuple)) else list(choices)
    bounds = {name: value for name, value in (("minimum", minimum), ("above", above), ("maximum", maximum),
                                              ("below", below)) if value is not None}
    if bounds:
        metadata[RANGE] = bounds
    if required:
        return dataclasses.field(metadata=metadata)
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def shared(name: str, default=None, **kwargs):
    """The field of a flag several commands define (`SHARED_HELP` gives its help)."""
    return arg(SHARED_HELP[name], default, **kwargs)


#: Each range bound: how a value must compare with it, and the words of the error.
BOUNDS = {"minimum": (operator.ge, "at least"), "above": (operator.gt, "above"), "maximum": (operator.le, "at most"),
          "below": (operator.lt, "below")}


def range_problem(value, bounds: dict) -> str | None:
    """What is wrong with a number (NaN, infinite, outside ``bounds``: see `arg`), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if math.isnan(value) or math.isinf(value):
        return "must be a finite number"
    if all(BOUNDS[name][0](value, bound) for name, bound in bounds.items()):
        return None
    if len(bounds) == 1:
        (name, bound), = bounds.items()
        return f"must be {BOUNDS[name][1]} {bound}"
    low = f"[{bounds['minimum']}" if "minimum" in bounds else f"({bounds['above']}"
    high = f"{bounds['maximum']}]" if "maximum" in bounds else f"{bounds['below']})"
    return f"must be in {low}, {high}"


def field_problems(values: dict, dataclass_type) -> list[tuple[str, object, str]]:
    """(field name, value, problem) of every value of ``values`` (by field name) that breaks its field's range in
    ``dataclass_type``, or is NaN or infinite (any numeric field, with a range or not)."""
    problems = []
    for field in dataclasses.fields(dataclass_type):
        value = values.get(field.name)
        problem = range_problem(value, field.metadata.get(RANGE, {}))
        if problem:
            problems.append((field.name, value, problem))
    return problems


def check_numbers(arguments) -> None:
    """Raises ``ValueError`` (``--flag VALUE: must be ...``) for the first number of an argument dataclass instance
    that breaks its field's range or is NaN or infinite: the `__post_init__` check of arguments built in Python,
    the same as the command line's."""
    for name, value, problem in field_problems(vars(arguments), type(arguments)):
        raise ValueError(f"--{name} {value}: {problem}")


def rewrite_deprecated_flags(argv: list[str], prog: str) -> list[str]:
    """``argv`` with every old spelling of a flag (kebab-case, `DEPRECATED_FLAGS`) replaced by the new one, each
    with a one-line deprecation warning on stderr naming the new flag (``<prog>: warning: --out-dir is deprecated:
    use --output_dir``). Values (tokens not starting with ``--``) are left alone."""
    rewritten = []
    for token in argv:
        flag, equals, value = token.partition("=")
        if flag.startswith("--") and len(flag) > 2:
            new = "--" + flag[2:].replace("-", "_")
            new = DEPRECATED_FLAGS.get(f"{prog} {new}", DEPRECATED_FLAGS.get(new, new))
            if new != flag:
                print(f"{prog}: warning: {flag} is deprecated: use {new}", file=sys.stderr)
                token = new + equals + value
        rewritten.append(token)
    return rewritten


class CommandParser(HfArgumentParser):
    """`HfArgumentParser` of one entry point: deprecated spellings rewritten, numbers checked, one-line errors.

    `parse_command` returns one instance per dataclass, or ends the process with exit status 2 and one line on
    stderr (``<prog>: error: ...``): a number outside its range, NaN or infinite (before any dataclass is built, so
    before any work), a missing ``required`` flag, or a dataclass that refuses its values (``ValueError``)."""

    def __init__(self, dataclass_types, prog: str, description: str | None = None, required: tuple[str, ...] = ()):
        super().__init__(dataclass_types, prog=prog, description=description)
        self.required = required

    @staticmethod
    def _parse_dataclass_field(parser, field: dataclasses.Field):
        # argparse knows no `range` keyword: it stays in the metadata, for `field_problems`.
        field = copy.copy(field)
        field.metadata = types.MappingProxyType({key: value for key, value in field.metadata.items() if key != RANGE})
        HfArgumentParser._parse_dataclass_field(parser, field)

    def fail(self, message: str) -> NoReturn:
        """One line on stderr, exit status 2."""
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    def parse_command(self, argv: list[str] | None = None) -> tuple:
        """The dataclasses of ``argv`` (default: the command line), checked (see the class)."""
        argv = rewrite_deprecated_flags(list(sys.argv[1:] if argv is None else argv), self.prog)
        values = vars(self.parse_args(argv))
        for name in self.required:
            if values.get(name) is None:
                self.fail(f"--{name} is required")
        for dataclass_type in self.dataclass_types:
            for name, value, problem in field_problems(values, dataclass_type):
                self.fail(f"--{name} {value}: {problem}")
        try:
            return self.parse_dict(values)
        except ValueError as error:
            self.fail(str(error).splitlines()[0])


@dataclass
class HubArguments:
    """Which Hub snapshot every model and tokenizer is loaded from (passed to every ``from_pretrained``)."""

    model_revision: str = arg(
        "Hub revision (branch, tag or commit hash) of every model and tokenizer this command loads; the resolved "
        "commit is recorded in its output.", "main")
    token: str | None = arg("Hub token for private or gated repositories; None: the stored login or HF_TOKEN.")
    cache_dir: str | None = arg("Where Hub downloads are cached; None: the Hugging Face cache (HF_HUB_CACHE).")
    trust_remote_code: bool = arg("Run a Hub repository's own modelling code (ML-CTL checkpoints need none once "
                                  "modeling_mlctl is imported).", False)

    def __post_init__(self):
        check_numbers(self)

    def pretrained_kwargs(self) -> dict:
        """The keywords of ``from_pretrained`` that pin and authorise a Hub download."""
        return {"revision": self.model_revision, "token": self.token, "cache_dir": self.cache_dir,
                "trust_remote_code": self.trust_remote_code}

    def resolved_commit(self, name_or_path: str | None, filename: str = "config.json") -> str | None:
        """The commit hash ``name_or_path`` resolves to at `model_revision` (from the file it was loaded through),
        "local" for a local directory, None for None or when it cannot be resolved."""
        import os

        from huggingface_hub import try_to_load_from_cache
        from transformers.utils.hub import extract_commit_hash

        if name_or_path is None:
            return None
        if os.path.isdir(os.path.expanduser(str(name_or_path))):
            return "local"
        # Loading put the file in the cache, under snapshots/<commit>/ (a branch or tag resolved through refs/).
        cached = try_to_load_from_cache(str(name_or_path), filename, cache_dir=self.cache_dir,
                                        revision=self.model_revision)
        return extract_commit_hash(cached, None) if isinstance(cached, str) else None


@dataclass
class ModelArguments(HubArguments):
    """The model a command loads, and from which Hub snapshot."""

    model_name_or_path: str | None = arg(
        "Model: a Hub name (e.g. bert-base-multilingual-cased, xlm-roberta-base) or a local directory; an ML-CTL "
        "checkpoint or any plain encoder (mlctl-train: the encoder to start from, or an ML-CTL checkpoint whose "
        "training continues).")
