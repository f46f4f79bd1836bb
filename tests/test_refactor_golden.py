"""The library refactor changed no behaviour: a tiny seeded ML-CTL training (word-list word pairs, pre-tokenised
WPS from data_prep, the default sampler) ends with the same logged losses and the same weights as the recording
made at commit 6b7b014, before the scripts became thin entry points over the `mlctl` package.

The frozen pooler (carried for the encoder family's classifier) added two tensors, recorded without re-running the rest.
Re-recorded in full when data_prep's train/validation split became one by distinct sentence pair (issue 19), which
moved some of the corpus's pairs between the splits.
Regenerate the recording (only when a change of behaviour is intended) with
    python tests/test_refactor_golden.py tests/data/golden_training.json
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "data" / "golden_training.json"
#: Float32 training on the CPU is deterministic here; the tolerance only absorbs a different BLAS thread split.
RELATIVE_TOLERANCE = 1e-4


def run_golden_training(work_dir: Path) -> dict:
    """Builds the data, trains with `train_mlctl.py` in a subprocess, returns the logged values and weight stats."""
    from data_prep_fixtures import write_lines
    from safetensors.torch import load_file
    from transformers import AutoConfig

    from data_prep import PairSpec, WordList, build_wps_dataset
    from data_prep.tokenizer import SPECIAL_TOKENS, wordpiece_tokenizer_from_vocab
    from mlctl.experiments.synthetic import EN_TO_DE, synthetic_corpus

    en, de = synthetic_corpus(160, seed=4)
    # A fixed vocabulary (whole words and characters, sorted): WordPiece training breaks ties in no fixed order.
    words = sorted({word.lower() for line in en + de for word in line.split()})
    characters = sorted({character for word in words for character in word})
    vocab = list(dict.fromkeys([*SPECIAL_TOKENS.values(), *characters, *(f"##{c}" for c in characters), *words]))
    tokenizer = wordpiece_tokenizer_from_vocab(vocab, model_max_length=64, lowercase=True)
    tokenizer.save_pretrained(work_dir / "tokenizer")
    word_list = WordList("en", "de")
    for source, target in EN_TO_DE.items():
        word_list.add(source, target)
    spec = PairSpec("en", "de", write_lines(work_dir / "c.en", en), write_lines(work_dir / "c.de", de))
    build_wps_dataset([spec], work_dir / "wps", aligner="word-list", word_lists=[word_list], tokenizer=tokenizer,
                      max_length=32, validation_fraction=0.1, seed=0, show_progress=False)
    AutoConfig.for_model(model_type="bert", vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                         pad_token_id=tokenizer.pad_token_id).save_pretrained(work_dir / "encoder_config")
    output_dir = work_dir / "model"
    command = [sys.executable, str(REPO_ROOT / "train_mlctl.py"), "--config_name", str(work_dir / "encoder_config"),
               "--tokenizer_name", str(work_dir / "tokenizer"), "--train_dir", str(work_dir / "wps"),
               "--output_dir", str(output_dir), "--max_steps", "8", "--per_device_train_batch_size", "8",
               "--learning_rate", "1e-3", "--logging_steps", "1", "--save_strategy", "no", "--eval_strategy", "no",
               "--report_to", "none", "--seed", "3", "--disable_tqdm", "true", "--use_cpu", "true"]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    finished = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-3000:]
    state = json.loads((output_dir / "trainer_state.json").read_text(encoding="utf-8"))
    logged = [{key: value for key, value in entry.items() if not key.endswith(("runtime", "per_second", "flos"))}
              for entry in state["log_history"]]
    weights = {name: [float(tensor.double().sum()), float(tensor.double().abs().sum())]
               for name, tensor in sorted(load_file(output_dir / "model.safetensors").items())}
    return {"logged": logged, "weights": weights}


def assert_close(actual, expected, where: str) -> None:
    if isinstance(expected, dict):
        assert sorted(actual) == sorted(expected), where
        for key in expected:
            assert_close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{where}[{index}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=RELATIVE_TOLERANCE, abs=1e-6), where
    else:
        assert actual == expected, where


@pytest.mark.timeout(300)
def test_training_matches_the_recording_made_before_the_refactor(tmp_path):
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    actual = run_golden_training(tmp_path)
    assert_close(actual["logged"], expected["logged"], "log_history")
    assert_close(actual["weights"], expected["weights"], "weights")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        result = run_golden_training(Path(directory))
    Path(sys.argv[1]).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {sys.argv[1]}: {len(result['logged'])} log entries, {len(result['weights'])} tensors")
