"""Shared test settings: offline Hub, tiny encoder configs, and the ../shared data folder (skipped when absent)."""
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

TINY_BERT = dict(
    model_type="bert",
    vocab_size=120,
    hidden_size=16,
    num_hidden_layers=3,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
TINY_XLMR = dict(TINY_BERT, model_type="xlm-roberta", pad_token_id=1, bos_token_id=0, eos_token_id=2)


@pytest.fixture
def tiny_bert_config():
    return dict(TINY_BERT)


@pytest.fixture
def tiny_xlmr_config():
    return dict(TINY_XLMR)


@pytest.fixture
def shared_data():
    """The real data in ../shared/data; the test is skipped when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Tokenizer, encoder config and text-only WPS data (64 train / 16 validation pairs) built once per module."""
    import train_fixtures

    return train_fixtures.build_work_dir(tmp_path_factory.mktemp("work"))


@pytest.fixture(scope="module")
def tokenizer(work):
    """The fast tokenizer of the module's `work` directory."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(work["tokenizer"])
