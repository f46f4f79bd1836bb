"""`mlctl-export`: a checkpoint (ML-CTL or a plain BERT-family encoder) as a sentence-transformers model directory
that embeds exactly as `mlctl.encode_sentences` does.

    mlctl-export --model_name_or_path CKPT --output_dir DIR [--layer L] [--pooling mean|cls|cce_sentence]

    from sentence_transformers import SentenceTransformer
    vectors = SentenceTransformer("DIR").encode(["A dog runs.", "Ein Hund rennt."])

`mean` and `cls` pool `hidden_states[L]` (default: `DEFAULT_RETRIEVAL_LAYER`, the layer of our retrieval numbers, or
the last layer of a shallower model): the directory holds the backbone cut to its first L layers, whose last hidden
state is `hidden_states[L]`, and a `Pooling` module. `cce_sentence` (ML-CTL checkpoints) is the ML-CTL sentence vector,
the mean of the avg-first-last token vectors of `pooling_layers` (`modeling_mlctl.pooling`): the whole backbone, a
`WeightedLayerPooling` with weight 1 on each pooled layer and 0 elsewhere (their average), mean `Pooling`, and for
`layer_combination="sum"` a `Dense` identity scaled by the number of layers. Only sentence-transformers' own modules:
the directory loads without mlctl. The backbone is a plain checkpoint of its family, so
`transformers.pipeline("feature-extraction", model=DIR)` gives the token vectors of `hidden_states[L]` (of the last
layer for `cce_sentence`).
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass

import torch
from torch import nn

from data_prep.arguments import CommandParser
from data_prep.arguments import ModelArguments
from data_prep.arguments import shared
from data_prep.output_dir import ensure_writable_directory
from mlctl.command_line import run_command
from mlctl.encoding import SENTENCE_POOLINGS
from mlctl.encoding import default_max_length
from mlctl.encoding import load_encoder
from mlctl.encoding import resolve_layer
from modeling_mlctl import MLCTLConfig
from modeling_mlctl.configuration_mlctl import check_choice


@dataclass(kw_only=True)
class ExportArguments(ModelArguments):
    """What `mlctl-export` exports (`ModelArguments`: the checkpoint and its Hub snapshot), and how it pools."""

    output_dir: str = shared("output_dir", required=True)
    layer: int | None = shared("layer")
    pooling: str = shared("pooling", "mean", choices=SENTENCE_POOLINGS)


def backbone_up_to(backbone, layer: int):
    """A copy of the BERT-family `backbone` with its first `layer` transformer layers only: its last hidden state is
    the full model's `hidden_states[layer]` (these families apply no norm after the last layer)."""
    layers = getattr(getattr(backbone, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(f"{type(backbone).__name__}: not a BERT-family encoder (no encoder.layer); export with "
                         "--pooling cce_sentence or at the last layer")
    cut = copy.deepcopy(backbone)
    cut.encoder.layer = layers[:layer]
    cut.config.num_hidden_layers = layer
    return cut


def cce_sentence_modules(config: MLCTLConfig) -> list[nn.Module]:
    """The sentence-transformers modules after the whole backbone that compute `pooling="cce_sentence"`: the masked
    mean over the tokens of `avg_first_last_pool(hidden_states, pooling_layers, layer_combination)`."""
    from sentence_transformers.sentence_transformer.modules import Dense
    from sentence_transformers.sentence_transformer.modules import Pooling
    from sentence_transformers.sentence_transformer.modules import WeightedLayerPooling

    num_states = config.num_hidden_layers + 1
    weights = torch.zeros(num_states)
    for layer in config.pooling_layers:
        weights[layer % num_states] += 1
    modules = [WeightedLayerPooling(config.hidden_size, config.num_hidden_layers, layer_start=0,
                                    layer_weights=nn.Parameter(weights)),
               Pooling(config.hidden_size, pooling_mode="mean")]
    if config.layer_combination == "sum":
        modules.append(Dense(config.hidden_size, config.hidden_size, bias=False, activation_function=nn.Identity(),
                             init_weight=torch.eye(config.hidden_size) * len(config.pooling_layers)))
    return modules


def export_sentence_transformer(model_name_or_path: str, output_dir: str, layer: int | None = None,
                                pooling: str = "mean", **pretrained_kwargs) -> str:
    """Writes the sentence-transformers directory of the module docstring and returns its path. Raises
    `ValueError` (one line) for an output directory that cannot be written, a checkpoint that does not load, a
    layer it does not have, or `cce_sentence` on a checkpoint that is not ML-CTL."""
    try:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Pooling
        from sentence_transformers.sentence_transformer.modules import Transformer
    except ImportError:
        raise ValueError("mlctl-export needs sentence-transformers: pip install 'sentence-transformers>=6.2'") from None
    check_choice("pooling", pooling, SENTENCE_POOLINGS)
    ensure_writable_directory(output_dir)
    model, tokenizer = load_encoder(model_name_or_path, device="cpu", **pretrained_kwargs)
    is_mlctl = isinstance(model.config, MLCTLConfig)
    backbone = model.encoder if is_mlctl else model
    if pooling == "cce_sentence":
        if not is_mlctl:
            raise ValueError(f"{model_name_or_path}: pooling=cce_sentence needs an ML-CTL checkpoint")
        exported = copy.deepcopy(backbone)
        exported.config.output_hidden_states = True  # the Transformer module then passes all_layer_embeddings on
        pooling_modules = cce_sentence_modules(model.config)
    else:
        exported = backbone_up_to(backbone, resolve_layer(backbone.config.num_hidden_layers + 1, layer))
        pooling_modules = [Pooling(backbone.config.hidden_size, pooling_mode=pooling)]
    exported.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    transformer = Transformer(output_dir, max_seq_length=default_max_length(model))
    SentenceTransformer(modules=[transformer, *pooling_modules], device="cpu").save(output_dir)
    return output_dir


def build_parser() -> CommandParser:
    """The parser of `mlctl-export` (`ExportArguments`)."""
    return CommandParser((ExportArguments,), prog="mlctl-export", description=__doc__.split("\n\n")[0],
                         required=("model_name_or_path",))


def main(argv: list[str] | None = None) -> str:
    """Parses `argv` (default: the command line; `--help` lists the flags) and exports; returns the directory."""
    args, = build_parser().parse_command(argv)
    return export_sentence_transformer(args.model_name_or_path, args.output_dir, args.layer, args.pooling,
                                       **args.pretrained_kwargs())


def cli() -> int:
    """Console entry point (`mlctl-export`): 0 when written, 2 with a one-line error when the export cannot run."""
    return run_command(lambda: f"sentence-transformers model written to {main()}", "mlctl-export: error")


if __name__ == "__main__":
    sys.exit(cli())
