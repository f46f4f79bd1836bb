"""The fault battery for data (issue 19, items 2, 3 and 10): a killed data_prep leaves no eflomal behind and no file
outside its out-dir, duplicate sentence pairs stay on one side of the train/validation split, and a split saved
empty is a one-line error."""
import datasets
import pytest

import train_fixtures
from mlctl.training.arguments import DataArguments
from mlctl.training.data import load_wps_splits
from mlctl.training.errors import TrainingSetupError

pytestmark = pytest.mark.timeout(300)


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
