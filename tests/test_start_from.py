"""``reproduce_continued.py --start_from CKPT``: the continued ablation from a user's checkpoint instead of stage 0,
end to end offline on data in the shared folder's layout built from the shipped sample (so it runs in CI, where
../shared is absent), with a locally built checkpoint whose tokenizer (a WordPiece vocabulary of its own, built with
`tokenizers`) and depth (3 layers) are not the stand-in's; and the command line's flags."""
import gzip
import json
from dataclasses import replace
from pathlib import Path

import datasets
from transformers import AutoConfig, AutoTokenizer, BertForMaskedLM

import data_prep
from data_prep.tokenizer import train_wordpiece_tokenizer
from mlctl.experiments import continued
from mlctl.experiments.cli import run_experiment
from mlctl.experiments.provenance import RunRecord
from mlctl.experiments.runs import run_directory
from mlctl.experiments.shared_data import read_lines
from mlctl.experiments.settings import DATA_FOLDERS

CHECKPOINT_LAYERS = 3  # the quick stand-in has 2, the full one 4


#: The shipped sample (data_prep/sample: 300 sentences, the same English side in every file) standing in for each
#: language of the shared data; Czech is played by the Spanish side (the pipeline reads labels, not the language).
SAMPLE = Path(data_prep.__file__).parent / "sample"
SAMPLE_FILES = {"en": "en-de.en", "de": "en-de.de", "fr": "en-fr.fr", "cs": "en-es.es"}
UPOS = {".": "PUNCT", ",": "PUNCT", "the": "DET", "a": "DET", "der": "DET", "die": "DET", "das": "DET",
        "is": "AUX", "ist": "AUX", "in": "ADP", "and": "CCONJ", "und": "CCONJ"}


def conllu(sentences: list[str]) -> str:
    """CoNLL-U of whitespace-tokenised sentences (full stops split off), tagged by a small word list (else NOUN)."""
    blocks = []
    for sentence in sentences:
        words = sentence.replace(".", " .").replace(",", " ,").split()
        blocks.append("\n".join(f"{i}\t{word}\t_\t{UPOS.get(word.lower(), 'NOUN')}\t_\t_\t_\t_\t_\t_"
                                for i, word in enumerate(words, 1)))
    return "\n\n".join(blocks) + "\n\n"


def small_data(directory):
    """The shared data's layout (Multi30k train and test, Tatoeba deu/fra, UD English dev and German test) built
    from the shipped sample, so that the test runs where ../shared is absent (CI): every step runs, in seconds."""
    lines = {lang: (SAMPLE / name).read_text(encoding="utf-8").splitlines() for lang, name in SAMPLE_FILES.items()}
    for lang in SAMPLE_FILES:
        for name, part in (("train", slice(0, 200)), ("test_2016_flickr", slice(200, 300))):
            path = directory / "multi30k" / f"{name}.{lang}.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(path, "wt", encoding="utf-8") as stream:
                stream.writelines(line + "\n" for line in lines[lang][part])
    for lang, code in (("deu", "de"), ("fra", "fr")):
        for side, source in ((lang, code), ("eng", "en")):
            path = directory / "tatoeba" / f"tatoeba.{lang}-eng.{side}"
            path.parent.mkdir(exist_ok=True)
            path.write_text("".join(line + "\n" for line in lines[source][200:300]), encoding="utf-8")
    (directory / "udpos").mkdir()
    (directory / "udpos" / "en_ewt-ud-dev.conllu").write_text(conllu(lines["en"][:60]), encoding="utf-8")
    (directory / "udpos" / "de_gsd-ud-test.conllu").write_text(conllu(lines["de"][200:260]), encoding="utf-8")
    return directory


def build_checkpoint(directory, multi30k):
    """A 3-layer BERT masked LM (untrained) with a 1,200-token WordPiece vocabulary of its own, saved with its
    tokenizer in `directory`."""
    texts = [line for lang in ("en", "de", "fr", "cs") for line in read_lines(multi30k / f"train.{lang}.gz")]
    tokenizer = train_wordpiece_tokenizer(texts, vocab_size=1200, model_max_length=128)
    config = AutoConfig.for_model("bert", vocab_size=len(tokenizer), hidden_size=48, num_hidden_layers=CHECKPOINT_LAYERS,
                                  num_attention_heads=2, intermediate_size=96, max_position_embeddings=128,
                                  pad_token_id=tokenizer.pad_token_id)
    BertForMaskedLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return tokenizer


def test_continued_ablation_starts_from_a_local_checkpoint_with_its_own_tokenizer(tmp_path, monkeypatch):
    data_dir = small_data(tmp_path / "data")
    tokenizer = build_checkpoint(tmp_path / "ckpt", data_dir / "multi30k")
    settings = replace(continued.QUICK, pairs_per_language=150, max_length=32, steps=2, batch_size=8,
                       lr_candidates=(1e-4,), seeds=(1,), low_resource_arms=(), pos_steps=2, word_pairs_per_language=40,
                       selection_pairs_per_language=20, start_from=str(tmp_path / "ckpt"))
    monkeypatch.setattr(continued, "ARMS", (continued.ARMS_BY_NAME["ML-CTL-CZ"],))  # one arm keeps it fast
    work_dir = tmp_path / "work"
    note = continued.reproduce_continued(settings, True, data_dir, work_dir, tmp_path / "results", 1, False,
                                         RunRecord(["benchmarks/reproduce_continued.py", "--quick", "--start_from",
                                                    str(tmp_path / "ckpt")]))
    summary = json.loads((tmp_path / "results" / "ablation_continued.json").read_text())
    assert summary["settings"]["retrieval_layer"] == 2 == continued.xtreme_layer(CHECKPOINT_LAYERS)
    assert summary["stage0"]["num_layers"] == CHECKPOINT_LAYERS and not (work_dir / "stage0").exists()
    # The WPS were prepared with the checkpoint's tokenizer: its vocabulary, its ids.
    report = json.loads((work_dir / "wps" / "data_prep_report.json").read_text())
    assert report["tokenizer"]["vocab_size"] == len(tokenizer) != continued.QUICK.vocab_size
    row = datasets.load_from_disk(str(work_dir / "wps"))["train"][0]
    assert row["src_input_ids"] == tokenizer(row["src_text"], truncation=True, max_length=32)["input_ids"]
    # Every run continued the checkpoint: its depth, width and vocabulary; the learning-rate run and the arm.
    for regime, arm in (("lr=0.0001", "CZ-snt"), ("standard", "ML-CTL-CZ")):
        model_dir = run_directory(work_dir, regime, arm, 1) / "model"
        encoder = AutoConfig.from_pretrained(model_dir).encoder_config
        assert (encoder.num_hidden_layers, encoder.hidden_size, encoder.vocab_size) == (3, 48, len(tokenizer))
        assert AutoTokenizer.from_pretrained(model_dir).get_vocab() == tokenizer.get_vocab()
    result = json.loads((run_directory(work_dir, "standard", "ML-CTL-CZ", 1) / "result.json").read_text())
    assert 0 <= result["metrics"]["multi30k"] <= 100 and result["training"]["train_seconds"] > 0
    text = note.read_text()
    assert f"- Start (replacing stage 0; its row is the checkpoint itself): `{tmp_path / 'ckpt'}`" in text
    assert f"retrieval at hidden_states[2] of {CHECKPOINT_LAYERS} layers" in text


def test_command_line_passes_the_checkpoint_and_revision_and_names_the_work_dir(tmp_path, capsys):
    for folder in DATA_FOLDERS:
        (tmp_path / "data" / folder).mkdir(parents=True)
    seen = {}

    def reproduce(settings, quick, data_dir, work_dir, results_dir, jobs, partial, record):
        seen.update(settings=settings, work_dir=work_dir)
        (tmp_path / "note.md").write_text("note")
        return tmp_path / "note.md"

    argv = ["reproduce_continued.py", "--quick", "--data", str(tmp_path / "data"), "--start_from",
            "bert-base-multilingual-cased", "--model_revision", "v1"]
    assert run_experiment(reproduce, continued.FULL, continued.QUICK, "d", "continued", argv, start_from=True) == 0
    assert seen["settings"] == replace(continued.QUICK, start_from="bert-base-multilingual-cased", model_revision="v1")
    assert seen["work_dir"].name == "quick-bert-base-multilingual-cased_v1"
    assert run_experiment(reproduce, continued.FULL, continued.QUICK, "d", "continued", argv[:-2], start_from=True) == 0
    assert seen["settings"].model_revision is None and seen["work_dir"].name == "quick-bert-base-multilingual-cased"
    assert run_experiment(reproduce, continued.FULL, continued.QUICK, "d", "continued", [*argv[:4], *argv[-2:]],
                          start_from=True) == 2
    assert capsys.readouterr().err == "reproduce_continued: error: --model_revision needs --start_from\n"
