"""MLCTLConfig and the models: forward semantics, Auto classes, save/load, trust_remote_code, backbone copies."""
import dataclasses
import inspect
import json
import re
import subprocess
import sys

import pytest
import torch
from transformers import AutoConfig
from transformers import AutoModel
from transformers import AutoModelForMaskedLM
from transformers import AutoModelForPreTraining
from transformers import AutoModelForSequenceClassification
from transformers import AutoModelForTokenClassification
from transformers import PreTrainedConfig

from modeling_mlctl import MLCTLConfig
from modeling_mlctl import MLCTLForPreTraining
from modeling_mlctl import MLCTLForSequenceClassification
from modeling_mlctl import MLCTLForTokenClassification
from modeling_mlctl import MLCTLModel
from modeling_mlctl import avg_first_last_pool
from modeling_mlctl import masked_mean
from modeling_mlctl import symmetric_contrastive_loss
from modeling_mlctl.configuration_mlctl import documented_by_field_help
from modeling_mlctl.configuration_mlctl import hyper_parameter


def parallel_batch(n=4, x_len=9, y_len=7, vocab=120, seed=0, mask_id=4):
    """Random parallel batch with a 2-token word span and 2 masked tokens per sentence."""
    generator = torch.Generator().manual_seed(seed)
    batch = {}
    for side, length in (("x", x_len), ("y", y_len)):
        ids = torch.randint(5, vocab, (n, length), generator=generator)
        ids[:, 0], ids[:, -1] = 2, 3
        attention = torch.ones(n, length, dtype=torch.long)
        attention[0, -2:] = 0
        word = torch.zeros(n, length, dtype=torch.long)
        word[:, 2:4] = 1
        labels = torch.full((n, length), -100)
        labels[:, 1] = ids[:, 1]
        labels[:, 4] = ids[:, 4]
        masked = ids.clone()
        masked[:, 1] = mask_id
        masked[:, 4] = mask_id
        batch.update(
            {
                f"{side}_input_ids": ids,
                f"{side}_attention_mask": attention,
                f"{side}_word_mask": word,
                f"{side}_mlm_input_ids": masked,
                f"{side}_labels": labels,
            }
        )
    return batch


def side(batch, name):
    return {key[2:]: value for key, value in batch.items() if key.startswith(f"{name}_")}


@pytest.fixture
def model(tiny_bert_config):
    torch.manual_seed(0)
    return MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config)).eval()


# ----- configuration -----


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("levels", "word", "choose one of 'sentence+word', 'sentence'"),
        ("loss", "triplet", "choose one of 'cz_nce', 'info_nce'"),
        ("mlm_mode", "both", "choose one of 'shared', 'separate'"),
        ("layer_combination", "max", "choose one of 'average', 'sum'"),
        ("cz_nce_form", "exp", "choose one of 'logsumexp', 'stop_gradient'"),
        ("pooling_layers", (1, 9), "each must index hidden_states"),
        ("temperature", 0.0, "must be > 0"),
        ("mlm_weight", -1.0, "must be >= 0"),
    ],
)
def test_invalid_config_values_raise_with_the_valid_choices(tiny_bert_config, field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        MLCTLConfig(encoder_config=tiny_bert_config, **{field: value})


def test_config_defaults_follow_the_paper_and_mbert():
    config = MLCTLConfig()
    assert config.encoder_config.model_type == "bert" and config.encoder_config.vocab_size == 119547
    assert config.pooling_layers == [1, -1] and config.layer_combination == "average"
    assert (config.levels, config.loss, config.temperature, config.mlm_weight) == ("sentence+word", "cz_nce", 0.07, 0.1)
    assert config.symmetric and config.mlm_mode == "shared" and config.projection_dim == 2 * 768
    # the encoder's shape reads through, for scripts that ask any config for it
    assert (config.hidden_size, config.num_hidden_layers, config.max_position_embeddings) == (768, 12, 512)


def test_config_round_trip_keeps_the_nested_encoder(tiny_xlmr_config, tmp_path):
    config = MLCTLConfig(encoder_config=tiny_xlmr_config, levels="sentence", loss="info_nce", temperature=0.05)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, MLCTLConfig)
    assert loaded.encoder_config.model_type == "xlm-roberta" and loaded.encoder_config.pad_token_id == 1
    assert (loaded.levels, loaded.loss, loaded.temperature, loaded.projection_dim) == ("sentence", "info_nce", 0.05, 32)


def test_config_field_defaults_survive_to_dict_and_a_round_trip(tmp_path):
    """The fields are declared with dataclasses.field(metadata=...): transformers' config machinery still reads their
    defaults, and saves and loads their values."""
    defaults = MLCTLConfig.default_config_fields()
    assert (defaults["levels"], defaults["pooling_layers"], defaults["mlm_weight"]) == ("sentence+word", (1, -1), 0.1)
    config = MLCTLConfig(mlm_mode="separate", pooling_layers=(0, -1), sentence_weight=0.25)
    assert config.to_dict()["mlm_mode"] == "separate" and config.to_dict()["pooling_layers"] == [0, -1]
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert {**loaded.to_dict(), "_name_or_path": ""} == config.to_dict()
    assert (loaded.loss, loaded.temperature, loaded.sentence_weight) == ("cz_nce", 0.07, 0.25)


def test_every_config_field_documents_itself_in_its_metadata():
    """Each MLCTLConfig field carries its help (and, for a choice, its choices) in its metadata; the class docstring's
    Args section is written from those texts, one entry per field."""
    declared = set(inspect.get_annotations(MLCTLConfig))
    documented = {f.name: f.metadata for f in dataclasses.fields(MLCTLConfig) if f.name in declared}
    assert set(documented) == declared and "mlm_weight" in declared
    docstring = " ".join(MLCTLConfig.__doc__.split())
    for name, metadata in documented.items():
        assert metadata["help"] and " ".join(metadata["help"].split()) in docstring, name
        assert f"{name} (`" in docstring, name
    assert documented["loss"]["choices"] == ("cz_nce", "info_nce")
    assert {name for name, metadata in documented.items() if "choices" in metadata} == {
        "layer_combination", "levels", "loss", "cz_nce_form", "mlm_mode"}


def test_a_config_field_without_help_is_refused_at_definition():
    with pytest.raises(TypeError, match="no help metadata for field.s. undocumented;"):
        @documented_by_field_help
        class UndocumentedConfig(PreTrainedConfig):
            documented: int = hyper_parameter("Has its help.", 1)
            undocumented: int = 2

    @documented_by_field_help
    class DocumentedConfig(PreTrainedConfig):
        """A config."""

        documented: int = hyper_parameter("Has its help.", 1)

    assert "documented (`int`, *optional*, defaults to `1`):\n            Has its help." in DocumentedConfig.__doc__


# ----- forward semantics -----


def test_cce_is_the_projection_of_sentence_and_word_means(model):
    batch = side(parallel_batch(), "x")
    with torch.no_grad():
        output = model.mlctl(batch["input_ids"], batch["attention_mask"], word_mask=batch["word_mask"],
                             output_hidden_states=True)
        tokens = avg_first_last_pool(output.hidden_states, (1, -1), "average")
        sentence = masked_mean(tokens, batch["attention_mask"])
        word = masked_mean(tokens, batch["word_mask"])
        expected = model.mlctl.cce_head(torch.cat([sentence, word], -1))
    assert len(output.hidden_states) == 4
    torch.testing.assert_close(output.sentence_embeddings, sentence)
    torch.testing.assert_close(output.word_embeddings, word)
    torch.testing.assert_close(output.cce_embeddings, expected)
    # padding does not leak into the sentence mean: row 0 has its last 2 tokens masked out
    manual = tokens[0, :-2].mean(0)
    torch.testing.assert_close(output.sentence_embeddings[0], manual)


def test_model_honours_output_hidden_states_and_return_dict(model):
    batch = side(parallel_batch(), "x")
    with torch.no_grad():
        default = model.mlctl(batch["input_ids"], batch["attention_mask"], word_mask=batch["word_mask"])
        asked = model.mlctl(batch["input_ids"], batch["attention_mask"], word_mask=batch["word_mask"],
                            output_hidden_states=True)
        as_tuple = model.mlctl(batch["input_ids"], batch["attention_mask"], word_mask=batch["word_mask"],
                               return_dict=False)
    assert default.hidden_states is None and len(asked.hidden_states) == 4
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 4  # cce, sentence, word, last hidden state
    torch.testing.assert_close(as_tuple[0], default.cce_embeddings)
    torch.testing.assert_close(as_tuple[3], asked.last_hidden_state)


def test_contrastive_weight_zero_is_the_mlm_only_baseline(model):
    """contrastive_weight 0: the loss is α · MLM, the contrastive loss is still reported, and no gradient reaches
    the CCE projection."""
    batch = parallel_batch()
    model.config.contrastive_weight = 0.0
    try:
        output = model(**batch)
        output.loss.backward()
    finally:
        model.config.contrastive_weight = 1.0
    torch.testing.assert_close(output.loss, model.config.mlm_weight * output.mlm_loss)
    assert torch.isfinite(output.contrastive_loss) and not output.contrastive_loss.requires_grad
    assert all(parameter.grad is None for parameter in model.mlctl.cce_head.parameters())
    assert model.mlctl.encoder.embeddings.word_embeddings.weight.grad is not None
    model.zero_grad(set_to_none=True)


def test_pretraining_loss_is_contrastive_plus_alpha_mlm(model):
    batch = parallel_batch()
    with torch.no_grad():
        output = model(**batch)
        x = model.mlctl(batch["x_mlm_input_ids"], batch["x_attention_mask"], word_mask=batch["x_word_mask"])
        y = model.mlctl(batch["y_mlm_input_ids"], batch["y_attention_mask"], word_mask=batch["y_word_mask"])
        contrastive, _, _ = symmetric_contrastive_loss(x.cce_embeddings, y.cce_embeddings, loss="cz_nce")
        # MLM over every token with ignore_index, as BertForMaskedLM computes it
        logits = [model.mlm_head(o.last_hidden_state) for o in (x, y)]
        labels = [batch["x_labels"], batch["y_labels"]]
        mlm = torch.nn.functional.cross_entropy(
            torch.cat([lg.reshape(-1, 120) for lg in logits]), torch.cat([lb.reshape(-1) for lb in labels])
        )
    # one encoder call over both (differently long) sides equals two separate calls
    torch.testing.assert_close(output.contrastive_loss, contrastive, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(output.mlm_loss, mlm, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(output.loss, contrastive + 0.1 * mlm, rtol=1e-5, atol=1e-6)
    assert output.x_logits.shape == (4, 8) and output.y_logits.shape == (4, 8)


def test_forward_without_the_contrastive_loss_returns_each_pairs_embeddings_and_mlm_loss(tiny_bert_config):
    """return_contrastive_loss=False (what gradient caching calls on its mini-batches): the CCEs (with the projected
    sentence means beside them when there is a sentence term) and the MLM loss of the full forward, nothing that
    couples the pairs; return_dict=False gives the same values as a tuple."""
    torch.manual_seed(0)
    model = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config, sentence_weight=0.5)).eval()
    batch = parallel_batch()
    with torch.no_grad():
        full = model(**batch)
        per_pair = model(**batch, return_contrastive_loss=False)
        as_tuple = model(**batch, return_contrastive_loss=False, return_dict=False)
        full_tuple = model(**batch, return_dict=False)
        x_sentence = model.sentence_head(model.mlctl(batch["x_mlm_input_ids"], batch["x_attention_mask"],
                                                     word_mask=batch["x_word_mask"]).sentence_embeddings)
    assert per_pair.loss is None and per_pair.contrastive_loss is None and per_pair.x_logits is None
    assert per_pair.x_embeddings.shape == (4, 2 * model.config.projection_dim)
    torch.testing.assert_close(per_pair.x_embeddings[:, :model.config.projection_dim], full.x_embeddings)
    torch.testing.assert_close(per_pair.y_embeddings[:, :model.config.projection_dim], full.y_embeddings)
    torch.testing.assert_close(per_pair.x_embeddings[:, model.config.projection_dim:], x_sentence)
    torch.testing.assert_close(per_pair.mlm_loss, full.mlm_loss)
    contrastive_loss = model.contrastive_losses(per_pair.x_embeddings, per_pair.y_embeddings)[0]
    torch.testing.assert_close(contrastive_loss, full.contrastive_loss)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 3  # mlm_loss, x_embeddings, y_embeddings
    for value, expected in zip(as_tuple, (per_pair.mlm_loss, per_pair.x_embeddings, per_pair.y_embeddings)):
        torch.testing.assert_close(value, expected)
    assert isinstance(full_tuple, tuple) and len(full_tuple) == 8  # every field: symmetric, MLM, sentence term
    torch.testing.assert_close(full_tuple[0], full.loss)


def test_separate_mode_uses_the_clean_input_for_the_contrastive_loss(tiny_bert_config):
    torch.manual_seed(0)
    shared = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config)).eval()
    separate = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config, mlm_mode="separate")).eval()
    separate.load_state_dict(shared.state_dict())
    batch = parallel_batch()
    clean = {k: v for k, v in batch.items() if "mlm_input_ids" not in k and "labels" not in k}
    with torch.no_grad():
        shared_out, separate_out, clean_out = shared(**batch), separate(**batch), shared(**clean)
    torch.testing.assert_close(separate_out.contrastive_loss, clean_out.contrastive_loss)
    torch.testing.assert_close(separate_out.mlm_loss, shared_out.mlm_loss)
    assert clean_out.mlm_loss is None
    assert not torch.isclose(shared_out.contrastive_loss, clean_out.contrastive_loss)


def test_sentence_level_ablation_needs_no_word_mask(tiny_bert_config):
    model = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config, levels="sentence")).eval()
    batch = {k: v for k, v in parallel_batch().items() if "word_mask" not in k}
    assert model.mlctl.cce_head.dense_in.in_features == 16
    assert torch.isfinite(model(**batch).loss)
    word_model = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config))
    with pytest.raises(ValueError, match="needs x_word_mask and y_word_mask"):
        word_model(**batch)


def test_the_loss_falls_when_training(tiny_bert_config):
    torch.manual_seed(0)
    model = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config, loss="info_nce"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = parallel_batch(n=8)
    losses = []
    for _ in range(15):
        output = model(**batch)
        output.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(output.loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_xlm_roberta_backbone_trains(tiny_xlmr_config):
    model = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_xlmr_config))
    assert type(model.mlctl.encoder).__name__ == "XLMRobertaModel"
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    output = model(**parallel_batch())
    output.loss.backward()
    assert model.mlctl.encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_gradient_checkpointing_gives_the_same_gradients(tiny_bert_config):
    torch.manual_seed(0)
    plain = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config))
    checkpointed = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config))
    checkpointed.load_state_dict(plain.state_dict())
    checkpointed.activation_checkpointing_enable()
    batch = parallel_batch()
    for model in (plain, checkpointed):
        model.train()
        model(**batch).loss.backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), checkpointed.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


# ----- Auto classes, checkpoints -----


def test_save_load_round_trip_gives_identical_outputs(model, tmp_path):
    model.save_pretrained(tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["config.json", "configuration_mlctl.py", "losses.py", "model.safetensors",
                     "modeling_mlctl.py", "outputs_mlctl.py", "pooling.py"]
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert set(auto_map) == {"AutoConfig", "AutoModel", "AutoModelForPreTraining",
                             "AutoModelForSequenceClassification", "AutoModelForTokenClassification"}
    loaded = AutoModelForPreTraining.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, MLCTLForPreTraining)
    assert loaded.get_output_embeddings().weight is loaded.get_input_embeddings().weight
    batch = parallel_batch()
    with torch.no_grad():
        before, after = model(**batch), loaded(**batch)
    for key in ("loss", "contrastive_loss", "mlm_loss", "x_logits", "x_embeddings"):
        assert torch.equal(before[key], after[key]), key


def test_auto_classes_load_the_heads_from_a_pretraining_checkpoint(model, tmp_path):
    model.save_pretrained(tmp_path)
    base = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(base, MLCTLModel)
    for state_key, value in model.mlctl.state_dict().items():
        assert torch.equal(base.state_dict()[state_key], value), state_key
    classifier = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=3)
    tagger = AutoModelForTokenClassification.from_pretrained(tmp_path, num_labels=5)
    assert isinstance(classifier, MLCTLForSequenceClassification) and isinstance(tagger, MLCTLForTokenClassification)
    x = side(parallel_batch(), "x")
    labels = torch.tensor([0, 2, 1, 1])
    classified = classifier(x["input_ids"], x["attention_mask"], labels=labels)
    tags = torch.randint(0, 5, x["input_ids"].shape)
    tags[:, 0] = -100
    tagged = tagger(x["input_ids"], x["attention_mask"], labels=tags)
    assert classified.logits.shape == (4, 3) and torch.isfinite(classified.loss)
    assert tagged.logits.shape == (4, 9, 5) and torch.isfinite(tagged.loss)


FRESH_PROCESS_LOAD = """
import sys, torch
from transformers import AutoModel
model = AutoModel.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
assert not any(name.split('.')[0] in ('modeling_mlctl', 'mlctl') for name in sys.modules), 'mlctl was imported'
ids = torch.tensor([[2, 10, 11, 12, 3]])
word = torch.tensor([[0, 1, 1, 0, 0]])
with torch.no_grad():
    out = model(ids, torch.ones_like(ids), word_mask=word)
print(type(model).__module__, repr(out.cce_embeddings[0, :4].tolist()))
"""


def test_fresh_process_loads_with_trust_remote_code(model, tmp_path):
    model.save_pretrained(tmp_path / "ckpt")
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS_LOAD, str(tmp_path / "ckpt")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    module, values = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert module.startswith("transformers_modules.")
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    with torch.no_grad():
        expected = model.mlctl(ids, torch.ones_like(ids), word_mask=torch.tensor([[0, 1, 1, 0, 0]])).cce_embeddings
    assert eval(values) == pytest.approx(expected[0, :4].tolist(), abs=1e-6)


@pytest.mark.parametrize("encoder", ["tiny_bert_config", "tiny_xlmr_config"])
def test_from_backbone_pretrained_copies_the_encoder_exactly(encoder, request, tmp_path):
    torch.manual_seed(1)
    source = AutoModelForMaskedLM.from_config(AutoConfig.for_model(**request.getfixturevalue(encoder)))
    source.save_pretrained(tmp_path / "backbone")
    model = MLCTLForPreTraining.from_backbone_pretrained(tmp_path / "backbone", levels="sentence", loss="info_nce")
    assert (model.config.levels, model.config.loss) == ("sentence", "info_nce")
    head_name = model.mlm_head_source_name
    expected = {f"mlctl.encoder.{k}": v for k, v in source.base_model.state_dict().items()}
    expected.update({f"mlm_head.{k}": v for k, v in getattr(source, head_name).state_dict().items()})
    actual = model.state_dict()
    for key, value in expected.items():
        assert torch.equal(actual[key], value), key
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight


def test_save_backbone_exports_a_plain_checkpoint(model, tmp_path):
    model.save_backbone(tmp_path / "plain")
    config = json.loads((tmp_path / "plain" / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == ["BertForMaskedLM"]
    assert "auto_map" not in config
    plain = AutoModel.from_pretrained(tmp_path / "plain").eval()
    assert type(plain).__name__ == "BertModel"
    ids = side(parallel_batch(), "x")["input_ids"]
    with torch.no_grad():
        expected = model.mlctl.encoder(ids).last_hidden_state
        assert torch.equal(plain(ids).last_hidden_state, expected)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_autocast_matches_float32(model, dtype):
    batch = parallel_batch()
    with torch.no_grad():
        reference = model(**batch)
        with torch.autocast("cpu", dtype=dtype):
            low = model(**batch)
    assert low.contrastive_loss.dtype == torch.float32 and low.mlm_loss.dtype == torch.float32
    torch.testing.assert_close(low.contrastive_loss, reference.contrastive_loss, atol=0.1, rtol=0.02)
    torch.testing.assert_close(low.mlm_loss, reference.mlm_loss, atol=0.05, rtol=0.01)


def test_pooler_is_carried_unchanged_from_backbone_through_training_to_sequence_classification(tiny_bert_config,
                                                                                                tmp_path):
    torch.manual_seed(3)
    source = AutoModelForPreTraining.from_config(AutoConfig.for_model(**tiny_bert_config))  # BertForPreTraining
    source.save_pretrained(tmp_path / "backbone")
    original = {k: v.clone() for k, v in source.bert.pooler.state_dict().items()}
    model = MLCTLForPreTraining.from_backbone_pretrained(tmp_path / "backbone")
    assert not any(p.requires_grad for p in model.mlctl.encoder.pooler.parameters())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    for _ in range(2):
        model(**parallel_batch()).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    encoder_weight = model.mlctl.encoder.encoder.layer[0].attention.self.query.weight
    assert not torch.equal(encoder_weight, source.bert.encoder.layer[0].attention.self.query.weight)
    model.save_pretrained(tmp_path / "mlctl")
    MLCTLForPreTraining.from_pretrained(tmp_path / "mlctl").save_backbone(tmp_path / "exported")
    classifier = AutoModelForSequenceClassification.from_pretrained(tmp_path / "exported", num_labels=3)
    assert type(classifier).__name__ == "BertForSequenceClassification"
    for key, value in original.items():
        assert torch.equal(classifier.bert.pooler.state_dict()[key], value), key
    assert type(AutoModelForMaskedLM.from_pretrained(tmp_path / "exported")).__name__ == "BertForMaskedLM"


def test_the_frozen_pooler_changes_no_other_initial_weight(tiny_bert_config, monkeypatch):
    import modeling_mlctl.modeling_mlctl as modeling

    config = MLCTLConfig(encoder_config=tiny_bert_config)
    torch.manual_seed(5)
    with_pooler = MLCTLForPreTraining(config).state_dict()
    after = torch.rand(3)
    monkeypatch.setattr(modeling, "build_encoder", lambda c: AutoModel.from_config(c, add_pooling_layer=False))
    torch.manual_seed(5)
    without = MLCTLForPreTraining(config).state_dict()
    assert torch.equal(torch.rand(3), after)  # the generator is where it would be without the pooler
    assert sorted(set(with_pooler) - set(without)) == ["mlctl.encoder.pooler.dense.bias",
                                                      "mlctl.encoder.pooler.dense.weight"]
    for key, value in without.items():
        assert torch.equal(with_pooler[key], value), key


def test_sentence_term_adds_weighted_sentence_loss_through_its_own_projection(tiny_bert_config):
    torch.manual_seed(0)
    paper = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config)).eval()
    assert paper.sentence_head is None
    torch.manual_seed(0)
    model = MLCTLForPreTraining(MLCTLConfig(encoder_config=tiny_bert_config, sentence_weight=0.5)).eval()
    batch = parallel_batch()
    base, out = paper(**batch), model(**batch)  # same initial weights: the sentence head is built last
    assert torch.equal(base.x_embeddings, out.x_embeddings)
    assert out.sentence_loss is not None and base.sentence_loss is None
    torch.testing.assert_close(out.contrastive_loss, base.contrastive_loss + 0.5 * out.sentence_loss)
    torch.testing.assert_close(out.loss, out.contrastive_loss + 0.1 * out.mlm_loss)
    out.loss.backward()
    assert model.sentence_head.dense_in.weight.grad.abs().sum() > 0


def test_a_checkpoint_saved_without_the_pooler_loads_with_an_initialised_frozen_one(model, tmp_path):
    from safetensors.torch import load_file, save_file

    model.save_pretrained(tmp_path / "old")
    weights = load_file(tmp_path / "old" / "model.safetensors")
    save_file({k: v for k, v in weights.items() if ".pooler." not in k}, tmp_path / "old" / "model.safetensors",
              metadata={"format": "pt"})
    loaded, info = MLCTLForPreTraining.from_pretrained(tmp_path / "old", output_loading_info=True)
    assert info["missing_keys"] == {"mlctl.encoder.pooler.dense.weight", "mlctl.encoder.pooler.dense.bias"}
    weight = loaded.mlctl.encoder.pooler.dense.weight
    assert weight.device.type == "cpu" and not weight.requires_grad
    assert 0.01 < float(weight.std()) < 0.03  # BERT's normal(0, 0.02) initialisation, not empty memory
    assert torch.equal(loaded.mlctl.encoder.pooler.dense.bias, torch.zeros_like(loaded.mlctl.encoder.pooler.dense.bias))
