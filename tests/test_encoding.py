"""The encoding API (`mlctl.encode_sentences`, `mlctl.encode_words`) against vectors computed by hand from the
model's hidden states, for a plain BERT and an ML-CTL checkpoint."""
import numpy as np
import pytest
import torch
from transformers import AutoConfig
from transformers import AutoModel

import train_fixtures
from mlctl import encode_sentences
from mlctl import encode_words
from mlctl import load_encoder
from modeling_mlctl import MLCTLConfig
from modeling_mlctl import MLCTLModel

SENTENCES = ["The children are playing in the garden.", "My father reads the newspaper every morning.", "Hi."]
#: (start, end) characters of "children", "newspaper" and "Hi".
WORDS = [(4, 12), (20, 29), (0, 2)]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return train_fixtures.build_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="module")
def bert(tokenizer):
    torch.manual_seed(0)
    config = AutoConfig.for_model(**{**train_fixtures.TINY_ENCODER, "vocab_size": len(tokenizer)})
    return AutoModel.from_config(config).eval()


def hidden_states(model, tokenizer, sentence):
    batch = tokenizer([sentence], return_tensors="pt")
    with torch.no_grad():
        return model(**batch, output_hidden_states=True).hidden_states, batch


@pytest.mark.parametrize("layer", [1, -1])
def test_sentence_vectors_are_the_mean_or_first_token_of_the_chosen_layer(bert, tokenizer, layer):
    mean = encode_sentences(bert, tokenizer, SENTENCES, pooling="mean", layer=layer, batch_size=2)
    cls = encode_sentences(bert, tokenizer, SENTENCES, pooling="cls", layer=layer, batch_size=2)
    assert mean.shape == (3, 32) and mean.dtype == np.float32
    for row, sentence in enumerate(SENTENCES):
        states, _ = hidden_states(bert, tokenizer, sentence)  # alone: no padding at all
        np.testing.assert_allclose(mean[row], states[layer][0].mean(0).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(cls[row], states[layer][0, 0].numpy(), rtol=1e-5, atol=1e-6)


def test_word_vectors_are_the_mean_over_the_word_tokens(bert, tokenizer):
    vectors = encode_words(bert, tokenizer, SENTENCES, WORDS, layer=2, batch_size=2)
    avg_first_last = encode_words(bert, tokenizer, SENTENCES, WORDS, pooling="avg_first_last", batch_size=2)
    for row, (sentence, (start, end)) in enumerate(zip(SENTENCES, WORDS)):
        states, batch = hidden_states(bert, tokenizer, sentence)
        tokens = [i for i in range(batch["input_ids"].shape[1]) if (span := batch.token_to_chars(0, i)) is not None
                  and span.start < end and span.end > start]
        assert tokenizer.decode(batch["input_ids"][0, tokens]).replace(" ##", "") == sentence[start:end]
        np.testing.assert_allclose(vectors[row], states[2][0, tokens].mean(0).numpy(), rtol=1e-5, atol=1e-6)
        first_last = (states[1][0, tokens].mean(0) + states[-1][0, tokens].mean(0)) / 2
        np.testing.assert_allclose(avg_first_last[row], first_last.numpy(), rtol=1e-5, atol=1e-6)


def test_ml_ctl_checkpoint_gives_its_sentence_word_and_cce_vectors(bert, tokenizer, tmp_path):
    torch.manual_seed(1)
    model = MLCTLModel(MLCTLConfig(encoder_config=bert.config)).eval()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tokenizer = load_encoder(str(tmp_path), device="cpu")
    assert isinstance(loaded, MLCTLModel)
    sentences = encode_sentences(loaded, loaded_tokenizer, SENTENCES, pooling="cce_sentence")
    words = encode_words(loaded, loaded_tokenizer, SENTENCES, WORDS, pooling="cce_word")
    cces = encode_words(loaded, loaded_tokenizer, SENTENCES, WORDS, pooling="cce")
    for row, (sentence, span) in enumerate(zip(SENTENCES, WORDS)):
        batch = tokenizer([sentence], return_tensors="pt", return_offsets_mapping=True)
        offsets = batch.pop("offset_mapping")[0].tolist()
        word_mask = torch.tensor([[int(s < span[1] and e > span[0] and s < e) for s, e in offsets]])
        with torch.no_grad():
            output = model(**batch, word_mask=word_mask)
        np.testing.assert_allclose(sentences[row], output.sentence_embeddings[0].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(words[row], output.word_embeddings[0].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(cces[row], output.cce_embeddings[0].numpy(), rtol=1e-5, atol=1e-6)


def test_bad_input_gives_a_one_line_reason(bert, tokenizer):
    with pytest.raises(ValueError, match="pooling='max' is not valid"):
        encode_sentences(bert, tokenizer, SENTENCES, pooling="max")
    with pytest.raises(ValueError, match="needs an ML-CTL checkpoint"):
        encode_sentences(bert, tokenizer, SENTENCES, pooling="cce_sentence")
    with pytest.raises(ValueError, match=r"sentence 0: the word at characters \[200, 205\)"):
        encode_words(bert, tokenizer, SENTENCES[:1], [(200, 205)])
    with pytest.raises(ValueError, match="layer=9"):
        encode_sentences(bert, tokenizer, SENTENCES, layer=9)
    assert encode_sentences(bert, tokenizer, []).shape == (0, 32)
