"""Bad input: one line on stderr naming file, line and problem, exit status 2, nothing saved."""
import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from data_prep import InputError
from data_prep import PairSpec
from data_prep import build_wps_dataset
from data_prep.__main__ import main
from data_prep_fixtures import write_lines

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, tmp_path, *args):
    """Run ``python -m data_prep`` in-process; return (exit status, stderr lines)."""
    status = main(["--output_dir", str(tmp_path / "out"), "--no_progress", *args])
    return status, capsys.readouterr().err.strip().splitlines()


def test_files_with_different_line_counts(capsys, tmp_path):
    en = write_lines(tmp_path / "c.en", ["a cat", "a dog", "a bird"])
    de = write_lines(tmp_path / "c.de", ["eine Katze", "ein Hund"])
    status, err = run_cli(capsys, tmp_path, "--aligner", "word-list", "--word_list_dir", str(tmp_path),
                          "--pair", "en", "de", en, de)
    # The word-list lookup fails first unless a list exists: give one.
    assert status == 2 and err == ["error: pair 1: no word list for en-de (give --word_list en de FILE or a "
                                   "--word_list_dir with en_uni.txt and de_uni.txt)"]
    word_list = write_lines(tmp_path / "list.txt", ["cat Katze"])
    status, err = run_cli(capsys, tmp_path, "--aligner", "word-list", "--word_list", "en", "de", word_list,
                          "--pair", "en", "de", en, de)
    assert status == 2
    assert err == [f"error: {de}:3: file ends after 2 lines but {en} has more; "
                   f"line-aligned files must have the same number of lines"]
    assert not (tmp_path / "out" / "dataset_dict.json").exists()


def test_undecodable_bytes_name_file_line_and_byte(capsys, tmp_path):
    en = write_lines(tmp_path / "c.en", ["a cat", "a dog"])
    de = tmp_path / "c.de.gz"
    with gzip.open(de, "wb") as stream:
        stream.write(b"eine Katze\nein \xffHund\n")
    word_list = write_lines(tmp_path / "list.txt", ["cat Katze"])
    status, err = run_cli(capsys, tmp_path, "--aligner", "word-list", "--word_list", "en", "de", word_list,
                          "--pair", "en", "de", en, str(de))
    assert status == 2
    assert err == [f"error: {de}:2: undecodable bytes (not UTF-8) at byte 4: b'\\xffHun'"]


def test_alignment_index_past_the_sentence_end(capsys, tmp_path):
    en = write_lines(tmp_path / "c.en", ["the black cat", "", "a red dog"])
    de = write_lines(tmp_path / "c.de", ["die schwarze Katze", "", "ein roter Hund"])
    links = write_lines(tmp_path / "a.txt", ["0-0 1-1 2-2", "", "0-0 2-3"])
    status, err = run_cli(capsys, tmp_path, "--aligner", "pharaoh", "--pair", "en", "de", en, de, links)
    assert status == 2
    assert err == [f"error: {links}:3: link '2-3' points past the end of the target sentence (3 words)"]
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".data_prep-")]


def test_alignment_file_shorter_than_the_corpus(capsys, tmp_path):
    en = write_lines(tmp_path / "c.en", ["the black cat", "a red dog"])
    de = write_lines(tmp_path / "c.de", ["die schwarze Katze", "ein roter Hund"])
    links = write_lines(tmp_path / "a.txt", ["0-0 1-1 2-2"])
    status, err = run_cli(capsys, tmp_path, "--aligner", "pharaoh", "--pair", "en", "de", en, de, links)
    assert status == 2
    assert err == [f"error: {links}:2: file ends after 1 lines but {en} has more; "
                   f"line-aligned files must have the same number of lines"]


def test_unknown_language_code_lists_the_supported_ones(capsys, tmp_path):
    en = write_lines(tmp_path / "c.en", ["a cat"])
    xx = write_lines(tmp_path / "c.xx", ["a cat"])
    status, err = run_cli(capsys, tmp_path, "--pair", "en", "xx", en, xx)
    assert status == 2 and len(err) == 1
    assert err[0].startswith(f"error: pair 1 en-xx ({en}, {xx}): unknown language code 'xx'; supported: af, ar, bg, bn,")
    assert ", zh, zu" in err[0] and " ja," in err[0] and " th," in err[0]


def test_malformed_word_list_line(capsys, tmp_path):
    en = write_lines(tmp_path / "c.en", ["a cat"])
    de = write_lines(tmp_path / "c.de", ["eine Katze"])
    word_list = write_lines(tmp_path / "list.txt", ["cat Katze", "big black cat schwarze Katze"])
    status, err = run_cli(capsys, tmp_path, "--aligner", "word-list", "--word_list", "en", "de", word_list,
                          "--pair", "en", "de", en, de)
    assert status == 2
    assert err == [f"error: {word_list}:2: expected 2 fields 'src tgt' (tab-separated for multi-word entries), got 5"]


def test_missing_alignment_file_for_pharaoh_and_missing_input_file(capsys, tmp_path):
    en = write_lines(tmp_path / "c.en", ["a cat"])
    status, err = run_cli(capsys, tmp_path, "--aligner", "pharaoh", "--pair", "en", "de", en, en)
    assert status == 2
    assert err == [f"error: pair 1 en-de ({en}, {en}): needs an alignment file but the aligner is 'pharaoh'"]
    missing = str(tmp_path / "nope.de")
    status, err = run_cli(capsys, tmp_path, "--aligner", "eflomal", "--pair", "en", "de", en, missing)
    assert status == 2 and err == [f"error: {missing}: no such file"]


def test_the_command_line_exits_2_with_one_line_and_no_traceback(tmp_path):
    en = write_lines(tmp_path / "c.en", ["a cat", "a dog"])
    de = write_lines(tmp_path / "c.de", ["eine Katze"])
    completed = subprocess.run(
        [sys.executable, "-m", "data_prep", "--output_dir", str(tmp_path / "out"), "--pair", "en", "de", en, de],
        cwd=REPO_ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120,
    )
    assert completed.returncode == 2
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:") or "Traceback" in line]
    assert errors == [f"error: {de}:2: file ends after 1 lines but {en} has more; "
                      f"line-aligned files must have the same number of lines"]


@pytest.mark.parametrize("bad_option, message", [
    ({"max_words_per_pair": 0}, "max_words_per_pair=0: must be at least 1"),
    ({"validation_fraction": 1.5}, "validation_fraction=1.5: must be in [0, 1)"),
    ({"validation_fraction": float("nan")}, "validation_fraction=nan: must be a finite number"),
])
def test_bad_numbers_from_python(tmp_path, bad_option, message):
    """The command line checks its numbers when it parses them (tests/test_arguments.py); Python callers of
    build_wps_dataset get the same refusal."""
    en = write_lines(tmp_path / "c.en", ["a cat"])
    de = write_lines(tmp_path / "c.de", ["eine Katze"])
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        build_wps_dataset([PairSpec("en", "de", en, de)], tmp_path / "out", **bad_option)
    assert not (tmp_path / "out").exists()


def test_a_missing_tokenizer_directory_is_one_line(capsys, tmp_path):
    en = write_lines(tmp_path / "c.en", ["a cat"])
    de = write_lines(tmp_path / "c.de", ["eine Katze"])
    missing = tmp_path / "no-tokenizer"
    status, err = run_cli(capsys, tmp_path, "--tokenizer_name", str(missing), "--pair", "en", "de", en, de)
    assert status == 2
    assert err == [f"error: tokenizer {missing}: no such file or directory (and not a Hub model name)"]
