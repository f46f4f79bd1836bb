"""The fault battery for data (issue 19, items 2, 3 and 10): a killed data_prep leaves no eflomal behind and no file
outside its out-dir, duplicate sentence pairs stay on one side of the train/validation split, and a split saved
empty is a one-line error."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

import train_fixtures
from data_prep import REPORT_NAME
from data_prep.__main__ import main as data_prep_main
from data_prep_fixtures import write_lines
from mlctl.experiments.synthetic import EN_TO_DE
from mlctl.experiments.synthetic import synthetic_corpus
from mlctl.training.arguments import DataArguments
from mlctl.training.data import load_wps_splits
from mlctl.training.errors import TrainingSetupError

pytestmark = pytest.mark.timeout(300)
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("empty_split", ["validation", "train"])
def test_a_split_saved_empty_is_a_one_line_error(tmp_path, tokenizer, empty_split):
    """Item 10: `.select([])` saves a split with no data file; `load_from_disk` failed on it with an IndexError."""
    rows = datasets.Dataset.from_list(train_fixtures.wps_rows(4))
    splits = {"train": rows, "validation": rows}
    splits[empty_split] = rows.select([])
    datasets.DatasetDict(splits).save_to_disk(tmp_path / "wps")
    with pytest.raises(TrainingSetupError) as raised:
        load_wps_splits(DataArguments(train_dir=str(tmp_path / "wps")), tokenizer, 64)
    assert str(raised.value) == (
        f"{tmp_path / 'wps'}: not a WPS dataset: split {empty_split!r} is empty and was saved without a data file, "
        "which datasets cannot load (save an empty split with num_shards=1, as data_prep does, or leave it out)")


def corpus_with_duplicated_pairs(lines: int, duplicated: int, seed: int = 0) -> list[tuple[str, str]]:
    """`lines` sentence pairs of the synthetic corpus, `duplicated` of them copies of another pair, in random order."""
    en, de = synthetic_corpus(3 * lines, seed=seed)
    distinct = list(dict.fromkeys(zip(en, de)))[:lines - duplicated]
    rng = random.Random(seed)
    pairs = distinct + rng.sample(distinct, duplicated)
    rng.shuffle(pairs)
    return pairs


def test_copies_of_a_sentence_pair_stay_on_one_side_of_the_split_and_are_counted(tmp_path):
    """Item 3: the split was by line, so with 10 % duplicated pairs and 30 % validation, copies of 12 pairs were
    in both splits (inflating validation retrieval), and the report counted no duplicate."""
    pairs = corpus_with_duplicated_pairs(400, 40)
    words = write_lines(tmp_path / "en-de.txt", [f"{en} {de}" for en, de in EN_TO_DE.items()])
    status = data_prep_main([
        "--pair", "en", "de", write_lines(tmp_path / "c.en", [en for en, _ in pairs]),
        write_lines(tmp_path / "c.de", [de for _, de in pairs]), "--aligner", "word-list",
        "--word-list", "en", "de", words, "--validation-fraction", "0.3", "--out-dir", str(tmp_path / "wps"),
        "--no-progress"])
    assert status == 0
    splits = datasets.load_from_disk(tmp_path / "wps")
    sides = {name: set(zip(split["src_text"], split["tgt_text"])) for name, split in splits.items()}
    assert sides["train"] and sides["validation"]
    assert not sides["train"] & sides["validation"]
    assert len(sides["train"]) + len(sides["validation"]) == 360
    report = json.loads((tmp_path / "wps" / REPORT_NAME).read_text(encoding="utf-8"))
    assert report["pairs"][0]["duplicate_pairs"] == report["totals"]["duplicate_pairs"] == 40


def processes_naming(text: str) -> dict[int, list[str]]:
    """{pid: command line} of every live process (zombies have none) whose command line contains `text`."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if entry.name.isdigit() and any(text in argument for argument in arguments):
            found[int(entry.name)] = arguments
    return found


def wait_for(condition, seconds: float):
    """Polls `condition` until it returns something true or `seconds` pass; returns its last value."""
    deadline = time.monotonic() + seconds
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
@pytest.mark.parametrize("kill_signal", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_data_prep_ends_eflomal_and_leaves_nothing_outside_the_out_dir(tmp_path, kill_signal):
    """Item 2: eflomal's binary outlived a killed data_prep (an orphan still aligning), and its input files stayed
    in the system temp directory, where no later run removes them."""
    en, de = synthetic_corpus(40_000, seed=1)
    out_dir, temp_dir = tmp_path / "wps", tmp_path / "system-temp"
    temp_dir.mkdir()
    command = [sys.executable, "-m", "data_prep", "--pair", "en", "de", write_lines(tmp_path / "c.en", en),
               write_lines(tmp_path / "c.de", de), "--out-dir", str(out_dir), "--no-progress"]
    environment = {**os.environ, "TMPDIR": str(temp_dir), "OMP_NUM_THREADS": "1",
                   "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    prep = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    eflomal = {}
    try:
        eflomal = wait_for(lambda: {pid: arguments for pid, arguments in processes_naming(str(out_dir)).items()
                                    if arguments[0].endswith("eflomal")}, 120)
        assert eflomal, "eflomal did not start"
        prep.send_signal(kill_signal)
        prep.wait(timeout=30)
        # The kernel ends it at once; left alone it would align for seconds more.
        survivors = wait_for(lambda: not processes_naming(str(out_dir)), 3) or processes_naming(str(out_dir))
        assert survivors is True, f"still running after data_prep was killed: {survivors}"
        assert not list(temp_dir.iterdir())
        (arguments,) = eflomal.values()
        inputs = [Path(arguments[arguments.index(flag) + 1]) for flag in ("-s", "-t")]
        assert all(path.parent == out_dir / ".data_prep-tmp" for path in inputs), inputs
    finally:
        prep.kill()
        prep.wait()
        for pid in processes_naming(str(out_dir)):
            os.kill(pid, signal.SIGKILL)
