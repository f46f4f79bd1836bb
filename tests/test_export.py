"""mlctl-export: the sentence-transformers directory embeds real sentences as `mlctl.encode_sentences` does (to 1e-5)
at the default retrieval layer, at a chosen layer with cls pooling, and with the ML-CTL sentence vector; it works with
`transformers.pipeline("feature-extraction")`; bad input is one line."""
import json
import sys

import numpy as np
import pytest
from transformers import AutoConfig

from mlctl.encoding import DEFAULT_RETRIEVAL_LAYER
from mlctl.encoding import encode_sentences
from mlctl.encoding import load_encoder
from mlctl.export import cli
from mlctl.export import main
from modeling_mlctl import MLCTLConfig
from modeling_mlctl import MLCTLModel
from train_fixtures import TINY_ENCODER
from train_fixtures import build_tokenizer
from train_fixtures import sample_lines

pytest.importorskip("sentence_transformers", minversion="6.2", reason="mlctl-export needs sentence-transformers 6")

NUM_LAYERS = DEFAULT_RETRIEVAL_LAYER + 1  # deep enough for the default layer to be a cut


@pytest.fixture(scope="module")
def sentences():
    """Real sentences: the shipped sample's English and German sides, of varied lengths (padding in every batch)."""
    english, german = zip(*sample_lines("en", "de", limit=24))
    return list(english) + list(german)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """ML-CTL checkpoints (MLCTLModel, random weights) of each layer combination, and a plain BERT, with tokenizer."""
    root = tmp_path_factory.mktemp("export")
    tokenizer = build_tokenizer(root / "tokenizer")
    encoder = AutoConfig.for_model(**{**TINY_ENCODER, "vocab_size": len(tokenizer), "num_hidden_layers": NUM_LAYERS})
    paths = {}
    for combination in ("average", "sum"):
        model = MLCTLModel(MLCTLConfig(encoder_config=encoder, layer_combination=combination, pooling_layers=[1, -1]))
        model.save_pretrained(root / combination)
        tokenizer.save_pretrained(root / combination)
        paths[combination] = root / combination
    model.encoder.save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    paths["bert"] = root / "bert"
    return paths


@pytest.mark.parametrize("checkpoint, flags, layer, pooling", [
    ("average", [], DEFAULT_RETRIEVAL_LAYER, "mean"),
    ("bert", ["--layer", "3", "--pooling", "cls"], 3, "cls"),
    ("average", ["--pooling", "cce_sentence"], None, "cce_sentence"),
    ("sum", ["--pooling", "cce_sentence"], None, "cce_sentence"),
])
def test_the_export_encodes_as_encode_sentences(checkpoints, sentences, tmp_path, checkpoint, flags, layer, pooling):
    from sentence_transformers import SentenceTransformer

    output_dir = str(tmp_path / "st")
    written = main(["--model_name_or_path", str(checkpoints[checkpoint]), "--output_dir", output_dir, *flags])
    assert written == output_dir
    model, tokenizer = load_encoder(str(checkpoints[checkpoint]), device="cpu")
    expected = encode_sentences(model, tokenizer, sentences, pooling=pooling, layer=layer or -1, batch_size=16)
    exported = SentenceTransformer(output_dir, device="cpu").encode(sentences, batch_size=7, convert_to_numpy=True)
    assert exported.shape == expected.shape == (len(sentences), TINY_ENCODER["hidden_size"])
    np.testing.assert_allclose(exported, expected, atol=1e-5, rtol=0)
    kept_layers = json.loads((tmp_path / "st" / "config.json").read_text())["num_hidden_layers"]
    assert kept_layers == (NUM_LAYERS if pooling == "cce_sentence" else layer)


def test_the_export_works_with_the_feature_extraction_pipeline(checkpoints, sentences, tmp_path):
    """The pipeline gives the token vectors of hidden_states[8]: their mean is the exported sentence vector."""
    from transformers import pipeline

    main(["--model_name_or_path", str(checkpoints["average"]), "--output_dir", str(tmp_path / "st")])
    extractor = pipeline("feature-extraction", model=str(tmp_path / "st"), device="cpu")
    model, tokenizer = load_encoder(str(checkpoints["average"]), device="cpu")
    expected = encode_sentences(model, tokenizer, sentences[:3], pooling="mean", layer=DEFAULT_RETRIEVAL_LAYER)
    for sentence, row in zip(sentences[:3], expected):
        tokens = np.asarray(extractor(sentence)[0])
        assert tokens.shape == (len(tokenizer(sentence)["input_ids"]), TINY_ENCODER["hidden_size"])
        np.testing.assert_allclose(tokens.mean(axis=0), row, atol=1e-5, rtol=0)


@pytest.mark.parametrize("checkpoint, flags, message", [
    ("bert", ["--pooling", "cce_sentence"], "{checkpoint}: pooling=cce_sentence needs an ML-CTL checkpoint"),
    ("average", ["--layer", "12"], "layer=12: the model returns 10 hidden states (0 = embeddings .. 9 = last layer)"),
    ("missing", [], "{checkpoint}: no such file or directory (and not a Hub model name)"),
])
def test_bad_input_is_one_line(checkpoints, tmp_path, monkeypatch, capsys, checkpoint, flags, message):
    path = checkpoints.get(checkpoint, tmp_path / checkpoint)
    monkeypatch.setattr(sys, "argv", ["mlctl-export", "--model_name_or_path", str(path), "--output_dir",
                                      str(tmp_path / "st"), *flags])
    assert cli() == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "mlctl-export: error: " + message.format(checkpoint=path)
