"""The embedded default job (`make demo`, or `train_mlctl.py` with no arguments): a short real ML-CTL pre-training of
a small BERT on the sample the project ships, then what it changed — retrieval before vs after training on the
held-out sample (and on ../shared's Tatoeba when present), and the paper's Figure 3 for both models.

    python -m mlctl.demo [--output_dir outputs/demo]
"""
from __future__ import annotations

import functools
import json
import shutil
import logging
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm
from transformers import AutoConfig
from transformers import TrainerCallback
from transformers import set_seed

import data_prep
from data_prep import InputError
from data_prep.arguments import CommandParser
from data_prep.arguments import shared
from data_prep import PairSpec
from data_prep import build_wps_dataset
from data_prep.reading import read_line_aligned
from data_prep.tokenizer import train_wordpiece_tokenizer
from mlctl.encoding import encode_sentences
from mlctl.encoding import load_encoder
from mlctl.encoding import resolve_layer
from mlctl.evaluation.plots import draw_tsne
from mlctl.evaluation.plots import read_word_lists
from mlctl.evaluation.readers import XtremeData
from mlctl.evaluation.readers import write_tatoeba_pairs
from mlctl.evaluation.xtreme import tatoeba_accuracies
from mlctl.training.arguments import training_argument_parser
from mlctl.training.errors import TrainingSetupError
from mlctl.training.run import train
from modeling_mlctl import MLCTLConfig
from modeling_mlctl import MLCTLModel

SAMPLE_DIR = Path(data_prep.__file__).resolve().parent / "sample"
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

#: The embedded default job: language pairs of the shipped sample, lines held out for evaluation, model shape.
DEMO_PAIRS = (("en", "de"), ("en", "fr"), ("en", "es"))
DEMO_HELD_OUT_LINES = 50
DEMO_VALIDATION_FRACTION = 0.05
DEMO_OUTPUT = Path("outputs/demo")
DEMO_ENCODER = dict(model_type="bert", hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
                    intermediate_size=256, max_position_embeddings=128)
DEMO_TRAINING = ["--max_steps", "240", "--per_device_train_batch_size", "32", "--learning_rate", "5e-4",
                 "--warmup_steps", "24", "--logging_steps", "20", "--eval_strategy", "steps", "--eval_steps", "80",
                 "--save_steps", "80", "--save_total_limit", "1", "--report_to", "none", "--seed", "42"]
#: The t-SNE picture's languages (the shipped word list `data_prep/sample/words/{lang}_uni.txt`).
TSNE_LANGUAGES = ("en", "de", "fr", "es")


def prepare_demo(output: Path = DEMO_OUTPUT) -> list[str]:
    """Prepares the embedded default job and returns its command line: splits the shipped sample into training
    lines and held-out Tatoeba-style test files, trains a WordPiece tokenizer on the training lines, builds WPS
    with data_prep, and writes a small BERT config."""
    corpus_dir, held_out_dir = output / "corpus", output / "heldout" / "tatoeba"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    training_texts = []
    for src, tgt in DEMO_PAIRS:
        sample = list(read_line_aligned(*(SAMPLE_DIR / f"{src}-{tgt}.{lang}" for lang in (src, tgt))))
        src_lines, tgt_lines = [src_line for src_line, _ in sample], [tgt_line for _, tgt_line in sample]
        cut = len(src_lines) - DEMO_HELD_OUT_LINES
        (corpus_dir / f"{src}-{tgt}.{src}").write_text("\n".join(src_lines[:cut]) + "\n", encoding="utf-8")
        (corpus_dir / f"{src}-{tgt}.{tgt}").write_text("\n".join(tgt_lines[:cut]) + "\n", encoding="utf-8")
        write_tatoeba_pairs(held_out_dir, tgt, tgt_lines[cut:], src_lines[cut:])
        training_texts += src_lines[:cut] + tgt_lines[:cut]

    tokenizer_dir = output / "tokenizer"
    tokenizer = train_wordpiece_tokenizer(training_texts, vocab_size=4000,
                                          model_max_length=DEMO_ENCODER["max_position_embeddings"])
    tokenizer.save_pretrained(tokenizer_dir)
    encoder_config = AutoConfig.for_model(**{**DEMO_ENCODER, "vocab_size": len(tokenizer),
                                             "pad_token_id": tokenizer.pad_token_id})
    config_dir = output / "encoder_config"
    encoder_config.save_pretrained(config_dir)

    wps_dir = output / "wps"
    pairs = [PairSpec(src, tgt, str(corpus_dir / f"{src}-{tgt}.{src}"), str(corpus_dir / f"{src}-{tgt}.{tgt}"))
             for src, tgt in DEMO_PAIRS]
    try:
        build_wps_dataset(pairs, wps_dir, tokenizer=tokenizer, max_length=DEMO_ENCODER["max_position_embeddings"],
                          validation_fraction=DEMO_VALIDATION_FRACTION, seed=0, show_progress=False)
    except InputError as error:
        raise TrainingSetupError(f"data_prep: {error}") from None
    return ["--config_name", str(config_dir), "--tokenizer_name", str(tokenizer_dir), "--train_dir", str(wps_dir),
            "--output_dir", str(output / "model"), *DEMO_TRAINING]


class StageProgress(TrainerCallback):
    """One progress bar for the training stage, the last logged loss beside it (instead of the Trainer's bar and
    its printed log lines)."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = tqdm(total=state.max_steps, desc="training", unit="step", initial=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.update(min(state.global_step, self.bar.total) - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.3f}", contrastive=f"{logs.get('contrastive_loss', float('nan')):.3f}")

    def on_train_end(self, args, state, control, **kwargs):
        self.bar.close()


def retrieval_table(models: dict, tokenizer, test_sets: dict[str, tuple[list[str], list[str]]], layer: int) -> dict:
    """{model: {test set: Tatoeba accuracy in %, XTREME's direction (en → xx)}} of every model on every
    (xx sentences, en sentences) set."""
    scores = {name: {} for name in models}
    with tqdm(total=len(models) * len(test_sets), desc="evaluating", unit="set") as bar:
        for name, model in models.items():
            encode = functools.partial(encode_sentences, model, tokenizer, layer=layer, show_progress=False)
            for set_name, (xx, en) in test_sets.items():
                scores[name][set_name] = tatoeba_accuracies(encode(xx), encode(en))["accuracy"]
                bar.update(1)
    return scores


def markdown_scores(scores: dict) -> str:
    sets = list(next(iter(scores.values())))
    lines = ["| model | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
    lines += [f"| {name} | " + " | ".join(f"{row[s]:.1f}" for s in sets) + " |" for name, row in scores.items()]
    return "\n".join(lines)


def run_demo(output: Path = DEMO_OUTPUT) -> dict:
    """Prepares, trains, evaluates before vs after and draws t-SNE; returns (and writes to `output`/demo_results.json)
    the scores, the PNG path and the wall time."""
    started = time.perf_counter()
    print(f"ML-CTL demo in {output}: data, training, evaluation, picture")
    shutil.rmtree(output / "model", ignore_errors=True)  # a demo trains from scratch, never resumes an old run
    argv = prepare_demo(output)
    model_args, data_args, training_args = training_argument_parser().parse_command(argv)
    train(model_args, data_args, training_args, progress=StageProgress())

    trained, tokenizer = load_encoder(str(output / "model"))
    set_seed(training_args.seed)  # the weights the training started from: same seed, same config
    untrained = MLCTLModel(MLCTLConfig(**{**trained.config.to_dict(), "auto_map": None})).to(trained.device).eval()
    models = {"untrained": untrained, "ML-CTL": trained}
    layer = resolve_layer(trained.config.num_hidden_layers + 1, None)
    held_out = XtremeData(output / "heldout", use_hub=False)
    test_sets = {f"held-out {lang}": held_out.tatoeba_pairs(lang)[:2] for _, lang in DEMO_PAIRS}
    if (SHARED_DATA / "tatoeba").is_dir():
        shared = XtremeData(SHARED_DATA, use_hub=False)
        test_sets.update({f"Tatoeba {lang}": shared.tatoeba_pairs(lang)[:2] for _, lang in DEMO_PAIRS})
    scores = retrieval_table(models, tokenizer, test_sets, layer)
    rows = read_word_lists(SAMPLE_DIR / "words", list(TSNE_LANGUAGES), 16)
    picture = output / "tsne.png"
    draw_tsne(models, tokenizer, rows, list(TSNE_LANGUAGES), layer, picture)
    result = {"retrieval_accuracy": scores, "layer": layer, "tsne": str(picture),
              "wall_time_s": round(time.perf_counter() - started, 1)}
    (output / "demo_results.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"\nRetrieval accuracy (%) before vs after ML-CTL training, as XTREME scores Tatoeba (each English sentence "
          f"retrieves its translation by cosine; mean of hidden_states[{layer}]):\n\n{markdown_scores(scores)}\n")
    if not (SHARED_DATA / "tatoeba").is_dir():
        print(f"({SHARED_DATA / 'tatoeba'} is absent: the real Tatoeba sets were skipped.)")
    print(f"t-SNE of the sample's words before and after (the paper's Figure 3): {picture}")
    print(f"Model: {output / 'model'} ({result['wall_time_s']} s in all)")
    return result


def quiet() -> None:
    """Only the demo's own bars and results: no library info logs, no warnings a user can do nothing about."""
    import datasets
    import transformers

    logging.basicConfig(level=logging.ERROR)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore")


@dataclass
class DemoArguments:
    """The one flag of `mlctl-demo`."""

    output_dir: str = shared("output_dir", str(DEMO_OUTPUT))


def build_parser() -> CommandParser:
    """The parser of `mlctl-demo` (`DemoArguments`)."""
    return CommandParser((DemoArguments,), prog="mlctl-demo", description=__doc__.splitlines()[0])


def main(argv: list[str] | None = None) -> int:
    """Console entry point (`mlctl-demo`): 0 on success, 2 with a one-line error."""
    args, = build_parser().parse_command(argv)
    quiet()
    try:
        run_demo(Path(args.output_dir))
    except (TrainingSetupError, InputError) as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
