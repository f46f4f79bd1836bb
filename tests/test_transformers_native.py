"""ML-CTL as transformers expects a model to behave: resize_token_embeddings on every class (saved, reloaded in a fresh
process through the Auto classes), and the trainer's saves and Hub pushes through public Trainer API only, uploading
the published file types alone."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig

import train_mlctl
from mlctl.training.hub import PUBLISHED_PATTERNS
from train_fixtures import HubStandIn
from train_fixtures import cli_args

from modeling_mlctl import MLCTLConfig
from modeling_mlctl import MLCTLForPreTraining
from modeling_mlctl import MLCTLForSequenceClassification
from modeling_mlctl import MLCTLForTokenClassification
from modeling_mlctl import MLCTLModel
from test_modeling import parallel_batch

ADDED_TOKENS = 3
#: Each ML-CTL class, the Auto class that loads its checkpoint, and the output compared after the reload.
CLASSES = {
    "MLCTLModel": (MLCTLModel, "AutoModel", "cce_embeddings"),
    "MLCTLForPreTraining": (MLCTLForPreTraining, "AutoModelForPreTraining", "x_logits"),
    "MLCTLForSequenceClassification": (MLCTLForSequenceClassification, "AutoModelForSequenceClassification", "logits"),
    "MLCTLForTokenClassification": (MLCTLForTokenClassification, "AutoModelForTokenClassification", "logits"),
}

FRESH_PROCESS_OUTPUTS = """
import json, sys, torch, transformers
import modeling_mlctl  # registers the ML-CTL classes with the Auto classes
checkpoints, inputs_path = json.loads(sys.argv[1]), sys.argv[2]
inputs = torch.load(inputs_path)
outputs = {}
for name, (auto_name, path, output) in checkpoints.items():
    model = getattr(transformers, auto_name).from_pretrained(path).eval()
    with torch.no_grad():
        outputs[name] = getattr(model(**inputs[name]), output)
torch.save(outputs, inputs_path + ".out")
"""


def resized_inputs(name: str, vocab_size: int) -> dict:
    """A batch for class `name` whose ids include the added tokens (the last `ADDED_TOKENS` ids)."""
    batch = parallel_batch(vocab=vocab_size, seed=1)
    for key in ("x_input_ids", "y_input_ids", "x_mlm_input_ids", "y_mlm_input_ids"):
        batch[key][:, 2] = vocab_size - 1 - torch.arange(batch[key].shape[0]) % ADDED_TOKENS
    batch["x_labels"][:, 1] = vocab_size - 2  # the MLM predicts an added token
    if name == "MLCTLForPreTraining":
        return batch
    single = {"input_ids": batch["x_input_ids"], "attention_mask": batch["x_attention_mask"]}
    if name == "MLCTLModel":
        return {**single, "word_mask": batch["x_word_mask"]}
    if name == "MLCTLForSequenceClassification":
        return {**single, "labels": torch.tensor([0, 1, 2, 1])}
    return {**single, "labels": batch["x_labels"].clamp(max=2)}


def one_step_loss(model, inputs: dict) -> torch.Tensor:
    outputs = model(**inputs)
    loss = getattr(outputs, "loss", None)  # MLCTLModel has no loss: its CCEs are pulled to 0
    return loss if loss is not None else outputs.cce_embeddings.square().sum()


@pytest.mark.parametrize("encoder", ["tiny_bert_config", "tiny_xlmr_config"])
def test_every_class_resizes_trains_saves_and_reloads_in_a_fresh_process(encoder, request, tmp_path):
    encoder_config = AutoConfig.for_model(**request.getfixturevalue(encoder))
    old_vocab = encoder_config.vocab_size
    checkpoints, inputs, expected = {}, {}, {}
    for name, (model_class, auto_name, output) in CLASSES.items():
        torch.manual_seed(0)
        model = model_class(MLCTLConfig(encoder_config=encoder_config, num_labels=3, sentence_weight=1.0))
        model.resize_token_embeddings(old_vocab + ADDED_TOKENS)
        assert model.config.vocab_size == model.config.encoder_config.vocab_size == old_vocab + ADDED_TOKENS
        assert model.get_input_embeddings().weight.shape[0] == old_vocab + ADDED_TOKENS
        if model_class is MLCTLForPreTraining:  # the decoder and its bias grew with the embeddings, still tied
            head = model.mlm_head.predictions if hasattr(model.mlm_head, "predictions") else model.mlm_head
            assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
            assert head.bias is model.get_output_embeddings().bias and head.bias.shape == (old_vocab + ADDED_TOKENS,)
        inputs[name] = resized_inputs(name, old_vocab + ADDED_TOKENS)
        before = model.get_input_embeddings().weight[-ADDED_TOKENS:].detach().clone()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        one_step_loss(model.train(), inputs[name]).backward()
        optimizer.step()
        assert not torch.equal(model.get_input_embeddings().weight[-ADDED_TOKENS:], before)  # the new rows trained
        model.save_pretrained(tmp_path / name)
        checkpoints[name] = (auto_name, str(tmp_path / name), output)
        with torch.no_grad():
            expected[name] = getattr(model.eval()(**inputs[name]), output)
    torch.save(inputs, tmp_path / "inputs.pt")
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS_OUTPUTS, json.dumps(checkpoints),
                             str(tmp_path / "inputs.pt")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    reloaded = torch.load(tmp_path / "inputs.pt.out")
    for name in CLASSES:
        assert torch.equal(reloaded[name], expected[name]), name


def test_pushes_upload_the_published_file_types_only(work, tmp_path, monkeypatch):
    """A stray pickle (and a log) in output_dir stays local: every push passes the allow-list to upload_folder."""
    import huggingface_hub

    hub = HubStandIn()
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda api, repo_id, **kw: hub.create_repo(api, repo_id, **kw))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda api, **kw: hub.upload_folder(api, **kw))
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.pkl").write_bytes(b"\x80\x04K\x01.")
    (out / "run.log").write_text("local notes\n")
    train_mlctl.main(cli_args(work, out, "--max_steps", "4", "--save_steps", "2", "--push_to_hub", "--hub_model_id",
                              "someone/tiny"))
    assert [upload["message"] for upload in hub.uploads] == [
        "Training in progress, step 2", "Training in progress, step 4", "ML-CTL pre-training"]
    for upload in hub.uploads:
        assert "notes.pkl" not in upload["files"] and "run.log" not in upload["files"], sorted(upload["files"])
        assert {"config.json", "model.safetensors", "modeling_mlctl.py", "tokenizer.json"} <= set(upload["files"])
    assert (out / "notes.pkl").exists() and not (out / "training_args.bin").exists()
    assert json.loads((out / "training_args.json").read_text())["push_to_hub"] is True
    assert {"*.safetensors", "*.json", "*.py", "*.md", "*.txt"} <= set(PUBLISHED_PATTERNS)


def test_no_private_trainer_api_in_the_library():
    """Saves and pushes go through public Trainer methods and callbacks (`on_save`, `should_save` are public)."""
    private = re.compile(r"(?<![A-Za-z])_save\b|_push_from_checkpoint|_internal_call")
    library = Path(__file__).resolve().parent.parent / "mlctl"
    assert [str(path) for path in library.rglob("*.py") if private.search(path.read_text())] == []
