"""One command-line dialect (data_prep.arguments): every entry point's --help, one meaning and one default per shared
flag, old spellings as warned aliases, every number checked before any work (one line, exit 2), and the Hub
pinning flags (--model_revision ...) reaching every from_pretrained, with the resolved commit recorded."""
import json
import shutil

import pytest
import torch

import run_xtreme_tasks
import train_mlctl
from data_prep import __main__ as prep
from data_prep.arguments import CommandParser
from mlctl import alignment
from mlctl import demo
from mlctl import export
from mlctl import mining
from mlctl.encoding import load_encoder
from mlctl.evaluation import XtremeArguments
from mlctl.evaluation import run_xtreme
from mlctl.training.arguments import training_argument_parser
from mlctl.training.run import build_model
from mlctl.training.run import load_tokenizer
from xtreme_fixtures import fixture_corpus
from xtreme_fixtures import write_tiny_bert
from xtreme_fixtures import write_xtreme_fixture

#: Every entry point: (its parser, its in-process entry taking argv).
ENTRY_POINTS = {
    "mlctl-prep": (prep.build_parser, prep.main),
    "mlctl-train": (training_argument_parser, train_mlctl.main),
    "mlctl-xtreme": (run_xtreme_tasks.build_parser, run_xtreme_tasks.main),
    "mlctl-demo": (demo.build_parser, demo.main),
    "mlctl-mine": (mining.build_parser, mining.cli),
    "mlctl-align": (alignment.build_parser, alignment.cli),
    "mlctl-export": (export.build_parser, export.main),
}
#: Shared flags whose default is each command's own, on purpose.
PER_COMMAND_DEFAULTS = {
    "--output_dir": "each command writes to its own folder",
    "--max_seq_length": "mlctl-mine and mlctl-align default to the model's longest input",
    "--learning_rate": "mlctl-xtreme fine-tunes with XTREME's recipe, not pre-training's",
    "--per_device_train_batch_size": "XTREME's recipe",
    "--per_device_eval_batch_size": "XTREME's recipe",
}


def flags_of(parser) -> dict:
    """{--flag: (help, default)} of a parser's options (the first spelling of each)."""
    return {action.option_strings[0]: (action.help, action.default) for action in parser._actions
            if action.option_strings and action.option_strings[0] != "-h"}


@pytest.mark.parametrize("command", ENTRY_POINTS)
def test_help_of_every_entry_point(command, capsys):
    _, entry = ENTRY_POINTS[command]
    with pytest.raises(SystemExit) as exit_info:
        entry(["--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {command} ")


def test_a_flag_shared_by_several_commands_has_one_help_and_one_default():
    by_flag = {}
    for command, (build_parser, _) in ENTRY_POINTS.items():
        assert isinstance(build_parser(), CommandParser)
        for flag, (help_text, default) in flags_of(build_parser()).items():
            by_flag.setdefault(flag, {})[command] = (help_text, default)
    shared = {flag: commands for flag, commands in by_flag.items() if len(commands) > 1}
    # The flags the brief names are shared, under one name.
    for flag in ("--output_dir", "--max_seq_length", "--model_name_or_path", "--seed", "--batch_size",
                 "--model_revision", "--token", "--cache_dir", "--trust_remote_code", "--tokenizer_name"):
        assert flag in shared, flag
    assert set(shared["--model_revision"]) == set(ENTRY_POINTS) - {"mlctl-demo"}
    for flag, commands in shared.items():
        helps = {help_text for help_text, _ in commands.values()}
        assert len(helps) == 1, f"{flag} has {len(helps)} meanings: {commands}"
        if flag not in PER_COMMAND_DEFAULTS:
            defaults = {repr(default) for _, default in commands.values()}
            assert len(defaults) == 1, f"{flag} has {len(defaults)} defaults: {commands}"


def test_old_spellings_still_work_with_a_warning_naming_the_new_flag(capsys, tmp_path):
    args = prep.parse_args(["--out-dir", str(tmp_path), "--max-length", "64", "--tokenizer", "tok",
                            "--num-proc", "3", "--no-progress", "--pair", "en", "de", "a.en", "a.de",
                            "--pair", "en", "fr", "b.en", "b.fr", "b.align"])
    assert (args.output_dir, args.max_seq_length, args.tokenizer_name, args.num_proc, args.no_progress) == (
        str(tmp_path), 64, "tok", 3, True)
    assert args.pair == [["en", "de", "a.en", "a.de"], ["en", "fr", "b.en", "b.fr", "b.align"]]
    assert capsys.readouterr().err.splitlines() == [
        "mlctl-prep: warning: --out-dir is deprecated: use --output_dir",
        "mlctl-prep: warning: --max-length is deprecated: use --max_seq_length",
        "mlctl-prep: warning: --tokenizer is deprecated: use --tokenizer_name",
        "mlctl-prep: warning: --num-proc is deprecated: use --num_proc",
        "mlctl-prep: warning: --no-progress is deprecated: use --no_progress",
    ]
    args, = mining.build_parser().parse_command(["--model_name_or_path", "m", "--src_file", "a", "--tgt_file", "b",
                                                 "--output_file", "c", "--max_length=16"])
    assert args.max_seq_length == 16
    assert capsys.readouterr().err == "mlctl-mine: warning: --max_length is deprecated: use --max_seq_length\n"
    # A rename of one command only: mlctl-xtreme's --data_file (one split's file) stays what it is.
    args, = alignment.build_parser().parse_command(["--model_name_or_path", "m", "--data_file", "p.txt",
                                                    "--output_file", "o"])
    assert args.input_file == "p.txt"
    assert capsys.readouterr().err == "mlctl-align: warning: --data_file is deprecated: use --input_file\n"
    args, _ = run_xtreme_tasks.build_parser().parse_command(["--model_name_or_path", "m", "--data_file", "x:y:z=p"])
    assert args.data_file == ["x:y:z=p"] and capsys.readouterr().err == ""


MINE = ["--model_name_or_path", "m", "--src_file", "missing.src", "--tgt_file", "missing.tgt", "--output_file", "o"]
ALIGN = ["--model_name_or_path", "m", "--input_file", "missing.txt", "--output_file", "o"]
TRAIN = ["--model_name_or_path", "m", "--train_dir", "missing-wps"]
XTREME = ["--model_name_or_path", "m", "--tasks", "tatoeba"]
PREP = ["--pair", "en", "de", "missing.en", "missing.de"]
#: (command, argv, the work function that must not be reached, the error line).
BAD_NUMBERS = [
    ("mlctl-mine", [*MINE, "--k", "0"], "--k 0: must be at least 1"),
    ("mlctl-mine", [*MINE, "--batch_size", "0"], "--batch_size 0: must be at least 1"),
    ("mlctl-mine", [*MINE, "--threshold", "nan"], "--threshold nan: must be a finite number"),
    ("mlctl-mine", [*MINE, "--threshold", "inf"], "--threshold inf: must be a finite number"),
    ("mlctl-align", [*ALIGN, "--softmax_threshold", "2"], "--softmax_threshold 2.0: must be in [0, 1)"),
    ("mlctl-train", [*TRAIN, "--mlm_probability", "1.5"], "--mlm_probability 1.5: must be in [0, 1]"),
    ("mlctl-train", [*TRAIN, "--contrastive_mini_batch_size", "0"], "--contrastive_mini_batch_size 0: must be at least 1"),
    ("mlctl-train", [*TRAIN, "--max_seq_length", "-1"], "--max_seq_length -1: must be at least 3"),
    ("mlctl-train", [*TRAIN, "--max_seq_length", "0"], "--max_seq_length 0: must be at least 3"),
    ("mlctl-train", [*TRAIN, "--temperature=-inf"], "--temperature -inf: must be a finite number"),
    ("mlctl-xtreme", [*XTREME, "--retrieval_batch_size", "0"], "--retrieval_batch_size 0: must be at least 1"),
    ("mlctl-prep", [*PREP, "--validation_fraction", "1.5"], "--validation_fraction 1.5: must be in [0, 1)"),
    ("mlctl-prep", [*PREP, "--max_words_per_pair", "0"], "--max_words_per_pair 0: must be at least 1"),
]
#: Where each command's work starts (patched to fail: a bad number must stop the run before it).
WORK = {"mlctl-mine": (mining, "mine_files"), "mlctl-align": (alignment, "run_alignment"),
        "mlctl-train": (train_mlctl, "train"), "mlctl-xtreme": (run_xtreme_tasks, "run_xtreme"),
        "mlctl-prep": (prep, "build_wps_dataset")}


@pytest.mark.parametrize("command, argv, message", BAD_NUMBERS)
def test_a_bad_number_is_one_line_and_exit_2_before_any_work(command, argv, message, capsys, monkeypatch, tmp_path):
    def work_started(*args, **kwargs):
        raise AssertionError(f"{command} started working")

    monkeypatch.setattr(*WORK[command], work_started)
    monkeypatch.chdir(tmp_path)
    _, entry = ENTRY_POINTS[command]
    with pytest.raises(SystemExit) as exit_info:
        entry([*argv, "--output_dir", "out"] if command in ("mlctl-train", "mlctl-prep", "mlctl-xtreme") else argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"{command}: error: {message}\n"
    assert list(tmp_path.iterdir()) == []


# -- pinning: a local stand-in of the Hub cache with two snapshots of one repository ---------------------------------

REPOSITORY = "org/tiny-bert"
FIRST, SECOND = "1" * 40, "2" * 40


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory):
    """A Hugging Face cache (its layout: models--org--name/{refs/main, snapshots/COMMIT/...}) holding two
    commits of `REPOSITORY` with different weights, main at the second; returns the cache directory."""
    cache = tmp_path_factory.mktemp("hub-cache")
    repository = cache / f"models--{REPOSITORY.replace('/', '--')}"
    for seed, commit in enumerate((FIRST, SECOND)):
        write_tiny_bert(repository / "snapshots" / commit, fixture_corpus(), seed=seed)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text(SECOND)
    return cache


def word_embeddings(model) -> torch.Tensor:
    return model.get_input_embeddings().weight.detach()


def snapshot_embeddings(cache, commit) -> torch.Tensor:
    from transformers import AutoModel

    directory = cache / f"models--{REPOSITORY.replace('/', '--')}" / "snapshots" / commit
    return word_embeddings(AutoModel.from_pretrained(directory))


def test_model_revision_loads_the_pinned_snapshot(hub_cache):
    first, second = snapshot_embeddings(hub_cache, FIRST), snapshot_embeddings(hub_cache, SECOND)
    assert not torch.equal(first, second)
    for revision, expected in ((FIRST, first), ("main", second)):
        model, _ = load_encoder(REPOSITORY, "cpu", revision=revision, cache_dir=str(hub_cache))
        assert torch.equal(word_embeddings(model), expected)
        model_args, *_ = training_argument_parser().parse_command(
            ["--model_name_or_path", REPOSITORY, "--model_revision", revision, "--cache_dir", str(hub_cache),
             "--output_dir", str(hub_cache / "unused")])
        pre_training = build_model(model_args, load_tokenizer(model_args))
        assert torch.equal(word_embeddings(pre_training), expected)
        assert model_args.resolved_commit(REPOSITORY) == (FIRST if revision == FIRST else SECOND)


def test_the_pinned_commit_is_in_the_model_card_and_results_json(hub_cache, work, tmp_path):
    pinned = ["--model_name_or_path", REPOSITORY, "--model_revision", FIRST, "--cache_dir", str(hub_cache)]
    train_mlctl.main([*pinned, "--train_dir", str(work["wps"]), "--output_dir", str(tmp_path / "model"),
                      "--max_steps", "1", "--per_device_train_batch_size", "8", "--report_to", "none",
                      "--disable_tqdm", "true", "--save_strategy", "no"])
    card = (tmp_path / "model" / "README.md").read_text(encoding="utf-8")
    assert f"model commit `{FIRST}`, tokenizer commit `{FIRST}`" in card

    write_xtreme_fixture(tmp_path / "xtreme")
    results = run_xtreme(XtremeArguments(model_name_or_path=REPOSITORY, model_revision=FIRST,
                                         cache_dir=str(hub_cache), tasks="tatoeba", languages="de",
                                         data_dir=str(tmp_path / "xtreme" / "data"), no_hub=True,
                                         output_dir=str(tmp_path / "results")))
    saved = json.loads((tmp_path / "results" / "results.json").read_text(encoding="utf-8"))
    assert (saved["model_commit"], saved["tokenizer_commit"]) == (FIRST, FIRST) == (
        results["model_commit"], results["tokenizer_commit"])
    local = tmp_path / "local-copy"
    shutil.copytree(hub_cache / f"models--{REPOSITORY.replace('/', '--')}" / "snapshots" / FIRST, local)
    assert XtremeArguments(model_name_or_path=str(local)).resolved_commit(str(local)) == "local"


def test_the_pinned_tokenizer_commit_is_in_the_data_prep_report(hub_cache, tmp_path):
    from train_fixtures import SAMPLE_DIR

    status = prep.main(["--pair", "en", "de", str(SAMPLE_DIR / "en-de.en"), str(SAMPLE_DIR / "en-de.de"),
                        "--aligner", "word-list", "--word_list_dir", str(SAMPLE_DIR / "words"), "--no_progress",
                        "--tokenizer_name", REPOSITORY, "--model_revision", FIRST, "--cache_dir", str(hub_cache),
                        "--output_dir", str(tmp_path / "wps")])
    assert status == 0
    report = json.loads((tmp_path / "wps" / "data_prep_report.json").read_text(encoding="utf-8"))
    assert report["tokenizer"]["commit"] == FIRST
