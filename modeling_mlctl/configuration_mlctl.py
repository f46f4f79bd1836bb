"""Configuration of ML-CTL models (multi-level contrastive learning for cross-lingual alignment).

Every hyper-parameter of the method lives here, so a checkpoint's ``config.json`` fully describes how it
was trained and what its CCE head computes. Equation numbers refer to the ML-CTL paper (ICASSP 2022).
"""
import dataclasses
import inspect
import textwrap
import types
import typing

from transformers import AutoConfig
from transformers import PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

LEVELS = ("sentence+word", "sentence")
LOSSES = ("cz_nce", "info_nce")
CZ_NCE_FORMS = ("logsumexp", "stop_gradient")
LAYER_COMBINATIONS = ("average", "sum")
MLM_MODES = ("shared", "separate")

# Shape of bert-base-multilingual-cased, the paper's backbone.
MBERT_BASE_SHAPE = {
    "vocab_size": 119547,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}


def check_choice(name: str, value, choices, error: type[Exception] = ValueError) -> None:
    """The project's one check of an option with a fixed set of values (this config's fields, the losses, and the
    mlctl library's search methods, margins, poolings, samplers, aligners): raises ``error`` with the one-line
    message ``NAME=VALUE is not valid; choose one of A, B`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise error(f"{name}={value!r} is not valid; choose one of {', '.join(map(repr, choices))}")


def hyper_parameter(help_text: str, default=None, choices: tuple[str, ...] | None = None,
                    value_range: dict | None = None):
    """A field of an ML-CTL config with its description (`metadata["help"]`: the docstring's "Args:" entry and the
    training flag's help), for a field with a fixed set of values, those values (`metadata["choices"]`: checked
    at construction, and the flag's choices), and for a number its range (`metadata["range"]`, in the keys of
    `data_prep.arguments.arg`: the training flag's range, checked right after parsing)."""
    metadata = {"help": help_text} if choices is None else {"help": help_text, "choices": choices}
    if value_range is not None:
        metadata["range"] = value_range
    return dataclasses.field(default=default, metadata=metadata)


def _type_name(annotation) -> str:
    """`int | None` → "int"; `tuple[int, int] | list[int]` → "tuple[int, int] | list[int]"."""
    members = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return " | ".join(str(member) if typing.get_args(member) else member.__name__
                      for member in members if member is not type(None))


def _has_type(value, annotation) -> bool:
    """Whether `value` is of the field type `annotation` as JSON gives it: a float field takes an int, a sequence
    field a list or a tuple of its element type, no number field a bool."""
    members = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for member in members:
        origin = typing.get_origin(member) or member
        if origin in (tuple, list):
            if isinstance(value, (tuple, list)) and all(_has_type(item, typing.get_args(member)[0]) for item in value):
                return True
        elif origin is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return True
        elif origin is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return True
        elif isinstance(value, origin):
            return True
    return False


def _args_entry(config_field: dataclasses.Field) -> str:
    """The docstring entry of a field, in the transformers style."""
    default = config_field.default
    shown = f'"{default}"' if isinstance(default, str) else str(default)
    shown = "" if default is None else f", defaults to `{shown}`"
    header = f"        {config_field.name} (`{_type_name(config_field.type)}`, *optional*{shown}):\n"
    return header + textwrap.fill(config_field.metadata["help"], width=116, initial_indent=" " * 12,
                                  subsequent_indent=" " * 12, break_on_hyphens=False) + "\n"


def documented_by_field_help(config_class):
    """Class decorator of a config class: each field that the class declares must carry its description in
    `metadata["help"]` ([`hyper_parameter`]), else a `TypeError` at class definition names the fields without one
    (a field without help would silently get no documentation and no training flag); the class docstring gets an
    "Args:" section written from those descriptions, so that `help(config_class)` and the API documentation show
    them, each text kept in one place."""
    declared = inspect.get_annotations(config_class)
    config_fields = [config_field for config_field in dataclasses.fields(config_class) if config_field.name in declared]
    undocumented = [config_field.name for config_field in config_fields if not config_field.metadata.get("help")]
    if undocumented:
        raise TypeError(f"{config_class.__name__}: no help metadata for field(s) {', '.join(undocumented)}; declare "
                        "each with hyper_parameter(help_text, default)")
    if config_class.__doc__ is not None:  # None under python -OO
        config_class.__doc__ = (config_class.__doc__.rstrip() + "\n\n    Args:\n"
                                + "".join(map(_args_entry, config_fields)) + "    ")
    return config_class


def _read_through(name: str) -> property:
    """An attribute that is the backbone encoder's own (`config.encoder_config.<name>`), read and written through, so
    that transformers' writes (e.g. `resize_token_embeddings` sets `config.get_text_config().vocab_size`) reach the
    encoder config, the one copy that is saved."""

    def write(config, value):
        setattr(config.encoder_config, name, value)

    return property(lambda config: getattr(config.encoder_config, name), write, doc=f"The encoder's `{name}`.")


@documented_by_field_help
class MLCTLConfig(PreTrainedConfig):
    r"""
    Configuration of [`MLCTLModel`] and [`MLCTLForPreTraining`]: a multilingual encoder (the backbone) with the
    CCE head of ML-CTL on top, and the settings of the multi-level contrastive + MLM objective.

    The "Args:" section below is written from the fields' `help` metadata (`documented_by_field_help`), the same
    texts that the training command line shows as its flags' help.
    """

    model_type = "mlctl"
    sub_configs_defaults = {
        "encoder_config": SubConfigSpec(config_class=AutoConfig, model_type="bert", init_kwargs=MBERT_BASE_SHAPE)
    }

    encoder_config: dict | PreTrainedConfig | None = hyper_parameter(
        "Configuration of the backbone encoder. Any BERT-family encoder that has a masked-LM head in transformers "
        "works (BERT/mBERT, XLM-R, ...). A dict must carry `model_type`; `None` gives the shape of "
        "`bert-base-multilingual-cased` (the paper's backbone).")
    pooling_layers: tuple[int, int] | list[int] = hyper_parameter(
        "Indices into `hidden_states` (index 0 is the embedding output) whose token vectors are combined into the "
        '"avg-first-last" token vectors: by default the first transformer layer and the last one.', (1, -1))
    layer_combination: str = hyper_parameter(
        'How the pooled layers are combined: `"average"` (what the paper states) or `"sum"` (what the original code '
        "computes: the sum of the two layers' means). Both give the same cosine similarities up to the projection; "
        "they differ in scale.", "average", LAYER_COMBINATIONS)
    levels: str = hyper_parameter(
        '`"sentence+word"` is ML-CTL: the CCE is the projection of [sentence mean ; word mean]. `"sentence"` is the '
        '"-snt" ablation: the projection of the sentence mean alone.', "sentence+word", LEVELS)
    projection_dim: int | None = hyper_parameter(
        "Width of both layers of the CCE projection (Linear → ReLU → Linear). Defaults to `2 * hidden_size`.", value_range={"minimum": 1})
    temperature: float = hyper_parameter(
        "Similarities are cosine similarities divided by this temperature, s(a, b) = cos(a, b) / τ.", 0.07, value_range={"above": 0})
    loss: str = hyper_parameter(
        'Contrastive loss: `"cz_nce"` (cross-zero NCE, eq. 5) or `"info_nce"` (eq. 1).', "cz_nce", LOSSES)
    cz_nce_form: str = hyper_parameter(
        'How CZ-NCE is computed: `"logsumexp"`, the stable log Σ exp(s⁻ − s⁺) of eq. (5), or `"stop_gradient"`, the '
        "φ / sg(φ) form of eq. (6). Both have the same value and gradient.", "logsumexp", CZ_NCE_FORMS)
    symmetric: bool = hyper_parameter(
        "Average the loss over anchors from both sides (eq. 2). `False` uses the x side as anchors only.", True)
    gather_negatives: bool = hyper_parameter(
        "With several processes, gather the CCEs of every process (with gradients) so that each anchor sees the "
        "negatives of the global batch.", True)
    contrastive_weight: float = hyper_parameter(
        'Weight of the contrastive term in eqs. (3) and (7) (1 in the paper). 0 is the "MLM only" baseline: the '
        "contrastive loss is still computed and logged, but without gradient, so the CCE projection never trains.",
        1.0, value_range={"minimum": 0})
    sentence_weight: float = hyper_parameter(
        "Weight w of an explicit sentence-level contrastive term beside the CCE term (0 = the paper): the "
        "contrastive loss becomes L_CCE + w · L_snt, where L_snt is the same loss (eq. 2 or eq. 7, with `loss`, "
        '`temperature`, `symmetric`) on the sentence means projected by a separate head of the CCE head\'s shape (the '
        '"-snt" ablation\'s projection), so that the word level can be added without giving up the sentence '
        'alignment that the "-snt" arms get.', 0.0, value_range={"minimum": 0})
    mlm_weight: float = hyper_parameter(
        "α of eqs. (3) and (7): the weight of the masked-language-modelling loss. 0 disables MLM.", 0.1, value_range={"minimum": 0})
    mlm_mode: str = hyper_parameter(
        '`"shared"`: one encoder pass per side on the masked input serves both the MLM and the contrastive loss '
        '(what the original code effectively computes, at half the encoder cost). `"separate"`: a clean pass for the '
        "contrastive loss plus a masked pass for MLM.", "shared", MLM_MODES)
    classifier_dropout: float | None = hyper_parameter(
        "Dropout before the classification heads; defaults to the encoder's `hidden_dropout_prob`.")

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        for config_field in dataclasses.fields(self):
            if "help" in config_field.metadata and not _has_type(getattr(self, config_field.name), config_field.type):
                value = getattr(self, config_field.name)
                raise ValueError(f"MLCTLConfig (config.json): {config_field.name}={value!r} is not valid; it must be "
                                 f"{_type_name(config_field.type)}, not {type(value).__name__}")
        for config_field in dataclasses.fields(self):
            if "choices" in config_field.metadata:
                check_choice(f"MLCTLConfig: {config_field.name}", getattr(self, config_field.name),
                             config_field.metadata["choices"])
        self.pooling_layers = [int(layer) for layer in self.pooling_layers]
        num_states = self.encoder_config.num_hidden_layers + 1
        if not self.pooling_layers or any(not -num_states <= layer < num_states for layer in self.pooling_layers):
            raise ValueError(
                f"MLCTLConfig: pooling_layers={self.pooling_layers} is not valid; each must index hidden_states "
                f"(from {-num_states} to {num_states - 1}: 0 is the embeddings, 1 the first transformer layer)"
            )
        if not self.temperature > 0:
            raise ValueError(f"MLCTLConfig: temperature={self.temperature!r} is not valid; it must be > 0")
        for name in ("contrastive_weight", "sentence_weight", "mlm_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"MLCTLConfig: {name}={getattr(self, name)!r} is not valid; it must be >= 0")
        if self.contrastive_weight == 0 and self.mlm_weight == 0:
            raise ValueError("MLCTLConfig: contrastive_weight and mlm_weight are both 0; nothing would be trained")
        if self.projection_dim is None:
            self.projection_dim = 2 * self.encoder_config.hidden_size
        if self.projection_dim <= 0:
            raise ValueError(f"MLCTLConfig: projection_dim={self.projection_dim!r} is not valid; it must be > 0")
        # The MLM decoder shares the input embeddings exactly when the backbone family does.
        self.tie_word_embeddings = getattr(self.encoder_config, "tie_word_embeddings", True)

    # The encoder's shape, read and written through: scripts that ask any config for these (e.g. the longest input)
    # work as-is.
    hidden_size = _read_through("hidden_size")
    vocab_size = _read_through("vocab_size")
    num_hidden_layers = _read_through("num_hidden_layers")
    max_position_embeddings = _read_through("max_position_embeddings")

    @property
    def initializer_range(self) -> float:
        return getattr(self.encoder_config, "initializer_range", 0.02)

    @property
    def sentence_only(self) -> bool:
        return self.levels == "sentence"


__all__ = ["MLCTLConfig", "check_choice"]
