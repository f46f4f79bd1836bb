"""data_prep across machines: ``--num_shards N --shard_index I`` builds one shard of the corpora (the split of
``datasets.Dataset.shard(contiguous=True)``) and ``merge`` joins the shards into what one run writes (pharaoh
alignments: deterministic); a shard index out of range and shards built with other tokenizers are one-line errors."""
import json

import datasets
import pytest

from data_prep.__main__ import main
from data_prep.reading import shard_rows
from data_prep_fixtures import make_tokenizer, write_lines
from mlctl.experiments.synthetic import synthetic_corpus

DIAGONAL = " ".join(f"{i}-{i}" for i in range(8))  # the synthetic sentences are word-for-word translations


@pytest.mark.parametrize("n_rows, num_shards", [(50, 3), (7, 3), (9, 1)])
def test_shard_rows_are_datasets_contiguous_shards(n_rows, num_shards):
    rows = datasets.Dataset.from_dict({"i": list(range(n_rows))})
    for index in range(num_shards):
        assert list(shard_rows(n_rows, num_shards, index)) == rows.shard(num_shards, index, contiguous=True)["i"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two en–de corpora of 50 and 31 lines (one with an empty line) with their alignment files, two tokenizers."""
    directory = tmp_path_factory.mktemp("corpus")
    pair_arguments = []
    for name, size, seed in (("a", 50, 0), ("b", 31, 1)):
        en, de = synthetic_corpus(size, seed)
        de[5] = ""
        pair_arguments += ["--pair", "en", "de", write_lines(directory / f"{name}.en", en),
                           write_lines(directory / f"{name}.de", de, gz=True),
                           write_lines(directory / f"{name}.links", [DIAGONAL] * size)]
    texts = synthetic_corpus(81)[0] + synthetic_corpus(81)[1]
    tokenizers = [make_tokenizer(directory / "tok", texts), make_tokenizer(directory / "tok_other", texts[:40])]
    return {"dir": directory, "pairs": pair_arguments, "tokenizers": tokenizers}


def prep(corpus, out_dir, *extra, tokenizer=0):
    return main([*corpus["pairs"], "--aligner", "pharaoh", "--validation_fraction", "0.2", "--no_progress",
                 "--tokenizer_name", corpus["tokenizers"][tokenizer], "--output_dir", str(out_dir), *extra])


def without_seconds(report):
    return {key: without_seconds(value) for key, value in report.items() if "seconds" not in key} \
        if isinstance(report, dict) else [without_seconds(v) for v in report] if isinstance(report, list) else report


def test_three_shards_merged_equal_one_run(corpus, tmp_path, capsys):
    assert prep(corpus, tmp_path / "whole") == 0
    shards = [str(tmp_path / f"shard{i}") for i in range(3)]
    for index, shard in enumerate(shards):
        assert prep(corpus, shard, "--num_shards", "3", "--shard_index", str(index)) == 0
    sizes = [json.loads((tmp_path / f"shard{i}" / "data_prep_report.json").read_text())["pairs"][0]["lines_read"]
             for i in range(3)]
    assert sizes == [17, 17, 16]  # 50 lines: contiguous blocks, the first 50 % 3 shards one line longer
    assert main(["merge", *shards[::-1], "--output_dir", str(tmp_path / "merged")]) == 0  # any order given
    assert "3 shards, 79 sentence pairs ->" in capsys.readouterr().out
    whole, merged = (datasets.load_from_disk(str(tmp_path / name)) for name in ("whole", "merged"))
    for split in ("train", "validation"):
        assert len(merged[split]) > 0
        assert merged[split].to_list() == whole[split].to_list()
    whole_report, merged_report = (json.loads((tmp_path / name / "data_prep_report.json").read_text())
                                   for name in ("whole", "merged"))
    assert merged_report["merged_from"] == shards
    del merged_report["merged_from"]
    assert without_seconds(merged_report) == without_seconds(whole_report)
    assert merged_report["totals"]["pairs_skipped"]["empty_line"] == 2


def test_shard_index_out_of_range_is_a_one_line_error_before_work(corpus, tmp_path, capsys):
    assert prep(corpus, tmp_path / "out", "--num_shards", "3", "--shard_index", "3") == 2
    assert capsys.readouterr().err == "error: --shard_index 3 is out of range for --num_shards 3 (0 to 2)\n"
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit) as exit_info:
        prep(corpus, tmp_path / "out", "--num_shards", "0")
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "mlctl-prep: error: --num_shards 0: must be at least 1\n"
    assert not (tmp_path / "out").exists()


def test_shards_with_other_tokenizers_are_a_one_line_error(corpus, tmp_path, capsys):
    shards = [str(tmp_path / f"shard{i}") for i in range(2)]
    for index, shard in enumerate(shards):
        assert prep(corpus, shard, "--num_shards", "2", "--shard_index", str(index), tokenizer=index) == 0
    capsys.readouterr()
    assert main(["merge", *shards, "--output_dir", str(tmp_path / "merged")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {shards[1]}/data_prep_report.json: tokenizer {{") and error.count("\n") == 1
    assert f"differs from {shards[0]}'s" in error
    assert not (tmp_path / "merged").exists()


def test_missing_shard_is_a_one_line_error(corpus, tmp_path, capsys):
    shard = str(tmp_path / "shard0")
    assert prep(corpus, shard, "--num_shards", "2", "--shard_index", "0") == 0
    capsys.readouterr()
    assert main(["merge", shard, "--output_dir", str(tmp_path / "merged")]) == 2
    assert capsys.readouterr().err == "error: shard(s) 1 of 2 missing\n"


def test_a_damaged_shard_report_is_a_one_line_error(tmp_path, capsys):
    """A shard folder whose data_prep_report.json is cut short (a job killed while writing it)."""
    shard = tmp_path / "shard0"
    shard.mkdir()
    (shard / "data_prep_report.json").write_text('{"shard": {"num_sh', encoding="utf-8")
    assert main(["merge", str(shard), "--output_dir", str(tmp_path / "merged")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {shard}/data_prep_report.json: not valid JSON (") and error.count("\n") == 1
