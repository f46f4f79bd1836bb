"""ML-CTL models: a multilingual encoder with the CCE head (concatenated contextual embedding), the multi-level
contrastive + MLM pre-training objective, and classification heads for XTREME fine-tuning.

Equation numbers refer to the ML-CTL paper (ICASSP 2022). This file uses relative imports only, so that
`save_pretrained` can ship it with a checkpoint for `trust_remote_code=True`.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel
from transformers import AutoModelForMaskedLM
from transformers import PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.modeling_outputs import TokenClassifierOutput

from .configuration_mlctl import MLCTLConfig
from .losses import MLCTLContrastiveLoss
from .losses import _reduction_dtype
from .losses import with_sentence_term
from .outputs_mlctl import MLCTLForPreTrainingOutput
from .outputs_mlctl import MLCTLModelOutput
from .pooling import avg_first_last_pool
from .pooling import masked_mean

# Written into every saved config.json, so that each Auto class resolves from the checkpoint alone.
AUTO_MAP = {
    "AutoConfig": "configuration_mlctl.MLCTLConfig",
    "AutoModel": "modeling_mlctl.MLCTLModel",
    "AutoModelForPreTraining": "modeling_mlctl.MLCTLForPreTraining",
    "AutoModelForSequenceClassification": "modeling_mlctl.MLCTLForSequenceClassification",
    "AutoModelForTokenClassification": "modeling_mlctl.MLCTLForTokenClassification",
}


def build_encoder(encoder_config) -> PreTrainedModel:
    """The backbone encoder from its config, with the family's pooler (e.g. `BertPooler`) kept but frozen.

    ML-CTL never uses the pooler: its parameters do not require gradients (so they are out of the optimizer, the
    gradients and DDP's reduction and stay bit-identical through training), but they are in the state dict, so
    that `from_backbone_pretrained` → training → `save_backbone` hands the encoder family's own classification
    head (e.g. `BertForSequenceClassification`) its pre-trained pooler. The pooler is built and initialised with a
    forked random generator: every other weight is initialised exactly as without it."""
    try:
        encoder = AutoModel.from_config(encoder_config, add_pooling_layer=False)
    except TypeError:  # families without a pooler do not take the argument
        return AutoModel.from_config(encoder_config)
    with torch.device("meta"):
        pooler_class = type(AutoModel.from_config(encoder_config).pooler)
    with torch.random.fork_rng(devices=[]):
        pooler = pooler_class(encoder_config)
        pooler.apply(encoder._init_weights)
    for module in pooler.modules():  # post_init must not draw from the generator for it again
        module._is_hf_initialized = True
    encoder.pooler = pooler.requires_grad_(False)
    return encoder


def _frozen_pooler(model) -> nn.Module | None:
    return getattr(model.base_model.encoder, "pooler", None)


def masked_lm_head_spec(encoder_config) -> tuple[type[nn.Module], str, str, dict[str, str]]:
    """How the encoder family's own masked-LM model is laid out, read from a parameter-free (meta) instance:
    (head class, attribute name of the head, attribute name of the encoder, tied-weights map {target: source})."""
    with torch.device("meta"):
        template = AutoModelForMaskedLM.from_config(encoder_config)
    encoder_name = template.base_model_prefix
    head_name = next(name for name, _ in template.named_children() if name != encoder_name)
    return type(getattr(template, head_name)), head_name, encoder_name, template.get_expanded_tied_weights_keys()


class MLCTLPreTrainedModel(PreTrainedModel):
    config: MLCTLConfig
    config_class = MLCTLConfig
    base_model_prefix = "mlctl"
    supports_gradient_checkpointing = True
    # The encoder's own no-split modules (e.g. BertLayer) are gathered from it at post_init.
    _no_split_modules = ["MLCTLProjection"]
    _supports_sdpa = True
    _supports_flash_attn = True
    # Heads of a pre-training checkpoint that AutoModel and the classifiers do not have: ignored on load, no warning.
    _keys_to_ignore_on_load_unexpected = [r"^mlm_head\.", r"^sentence_head\."]

    def _init_weights(self, module):
        """The CCE projection, the MLM head and the classifiers are initialised as the encoder family initialises
        its own modules (normal(0, initializer_range) for linear layers, zero biases, unit LayerNorms)."""
        self.base_model.encoder._init_weights(module)

    def _initialize_missing_keys(self, *args, **kwargs):
        """Loading: a checkpoint saved without the pooler (before it was carried) gets it initialised like any
        other missing weight (`build_encoder` marked it initialised for construction only); it stays frozen."""
        pooler = _frozen_pooler(self)
        if pooler is not None:
            for module in pooler.modules():
                module._is_hf_initialized = False
        super()._initialize_missing_keys(*args, **kwargs)
        if pooler is not None:
            _frozen_pooler(self).requires_grad_(False)

    def save_pretrained(self, save_directory, *args, **kwargs):
        self.config.auto_map = dict(AUTO_MAP)
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_backbone_pretrained(cls, pretrained_model_name_or_path, loading_kwargs: dict | None = None, **config_kwargs):
        """Starts ML-CTL from a pre-trained encoder, e.g. `"bert-base-multilingual-cased"` or `"xlm-roberta-base"`.

        The encoder weights (and, for [`MLCTLForPreTraining`], the masked-LM head) are copied exactly from the
        checkpoint; the CCE projection and any classifier are freshly initialised.

        Args:
            pretrained_model_name_or_path: Hub name or local directory of the encoder checkpoint.
            loading_kwargs: passed to `AutoModelForMaskedLM.from_pretrained` (e.g. `revision`, `dtype`, `token`).
            config_kwargs: [`MLCTLConfig`] fields, e.g. `levels="sentence"`, `loss="info_nce"`.
        """
        loading_kwargs = loading_kwargs or {}
        backbone = AutoModel.from_pretrained(pretrained_model_name_or_path, **loading_kwargs)  # with its pooler
        model = cls(MLCTLConfig(encoder_config=backbone.config, **config_kwargs))
        model.base_model.encoder.load_state_dict(backbone.state_dict())
        if isinstance(model, MLCTLForPreTraining):
            masked_lm = AutoModelForMaskedLM.from_pretrained(pretrained_model_name_or_path, **loading_kwargs)
            model.mlm_head.load_state_dict(getattr(masked_lm, model.mlm_head_source_name).state_dict())
        model.name_or_path = str(pretrained_model_name_or_path)
        return model.to(backbone.dtype)

    def save_backbone(self, save_directory, tokenizer=None) -> str:
        """Exports the encoder as a plain checkpoint of its own family (e.g. `BertForMaskedLM` when an MLM head is
        present, else `BertModel`), loadable by stock scripts with no knowledge of mlctl; the pooler goes with it
        (`AutoModelForSequenceClassification` loads it, `AutoModelForMaskedLM` ignores it). Returns the directory."""
        encoder = self.base_model.encoder
        if isinstance(self, MLCTLForPreTraining):
            exported = AutoModelForMaskedLM.from_config(encoder.config)
            if getattr(encoder, "pooler", None) is not None:  # the MLM model has none; its checkpoint keeps ours
                exported.base_model.pooler = type(encoder.pooler)(encoder.config)
            exported.base_model.load_state_dict(encoder.state_dict())
            getattr(exported, self.mlm_head_source_name).load_state_dict(self.mlm_head.state_dict())
            exported.to(encoder.dtype).save_pretrained(save_directory)
        else:
            encoder.save_pretrained(save_directory)
        if tokenizer is not None:
            tokenizer.save_pretrained(save_directory)
        return str(save_directory)


class MLCTLProjection(nn.Module):
    """The FC part of the CCE encoder: two linear layers with a ReLU between them (on [sentence ; word], or on the
    sentence mean alone with `sentence_only`)."""

    def __init__(self, config: MLCTLConfig, sentence_only: bool | None = None):
        super().__init__()
        sentence_only = config.sentence_only if sentence_only is None else sentence_only
        in_features = config.hidden_size * (1 if sentence_only else 2)
        self.dense_in = nn.Linear(in_features, config.projection_dim)
        self.activation = nn.ReLU()
        self.dense_out = nn.Linear(config.projection_dim, config.projection_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.dense_out(self.activation(self.dense_in(features)))


class MLCTLModel(MLCTLPreTrainedModel):
    """The CCE encoder: backbone → avg-first-last token vectors → sentence and word means → projection.
    This is what `AutoModel` gives for an ML-CTL checkpoint."""

    def __init__(self, config: MLCTLConfig):
        super().__init__(config)
        self.encoder = build_encoder(config.encoder_config)
        self.cce_head = MLCTLProjection(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.encoder.set_input_embeddings(value)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        word_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MLCTLModelOutput | tuple:
        r"""
        word_mask (`torch.Tensor` of shape `(batch_size, sequence_length)`, *optional*):
            1 on the sub-word tokens of the marked word of each sample, 0 elsewhere.
        output_hidden_states (`bool`, *optional*):
            Return every layer's output (`hidden_states`); defaults to `config.output_hidden_states`. The pooling
            always reads the layers it needs; this only decides what is returned.
        return_dict (`bool`, *optional*):
            Return an [`MLCTLModelOutput`] (default, `config.return_dict`) or a tuple of its non-`None` fields.
        """
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            inputs_embeds=inputs_embeds,
            output_hidden_states=True,
            return_dict=True,
            **kwargs,
        )
        token_vectors = avg_first_last_pool(
            outputs.hidden_states, self.config.pooling_layers, self.config.layer_combination
        )
        if attention_mask is None:
            attention_mask = torch.ones(token_vectors.shape[:2], device=token_vectors.device)
        sentence = masked_mean(token_vectors, attention_mask)
        word = masked_mean(token_vectors, word_mask) if word_mask is not None else None
        if self.config.sentence_only:
            cce = self.cce_head(sentence)
        else:
            cce = self.cce_head(torch.cat([sentence, word], dim=-1)) if word is not None else None
        result = MLCTLModelOutput(
            cce_embeddings=cce,
            sentence_embeddings=sentence,
            word_embeddings=word,
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states if output_hidden_states else None,
        )
        return result if return_dict else result.to_tuple()


def _pad_and_concat(x: torch.Tensor | None, y: torch.Tensor | None, pad_value) -> torch.Tensor | None:
    """Stacks the x and y sides into one batch (x rows first), right-padding the shorter one."""
    if x is None and y is None:
        return None
    if x is None or y is None:
        raise ValueError("MLCTLForPreTraining: an input is given for one side of the parallel batch but not the other")
    length = max(x.shape[1], y.shape[1])
    x, y = (F.pad(side, (0, length - side.shape[1]), value=pad_value) for side in (x, y))
    return torch.cat([x, y], dim=0)


class MLCTLForPreTraining(MLCTLPreTrainedModel):
    """ML-CTL pre-training: the CCE encoder, the encoder family's masked-LM head and the multi-level contrastive
    loss (eqs. 3 and 7: contrastive + α · MLM). One encoder call serves both sides of the parallel batch."""

    def __init__(self, config: MLCTLConfig):
        super().__init__(config)
        self.mlctl = MLCTLModel(config)
        head_class, head_name, encoder_name, tied = masked_lm_head_spec(config.encoder_config)
        self.mlm_head = head_class(config.encoder_config)
        self.mlm_head_source_name = head_name
        # The family's own ties, renamed: e.g. cls.predictions.decoder.weight → mlm_head.predictions.decoder.weight
        # tied to bert.embeddings.word_embeddings.weight → mlctl.encoder.embeddings.word_embeddings.weight.
        rename = {f"{head_name}.": "mlm_head.", f"{encoder_name}.": "mlctl.encoder."}

        def renamed(key):
            prefix = next(p for p in rename if key.startswith(p))
            return rename[prefix] + key[len(prefix):]

        self._tied_weights_keys = {renamed(target): renamed(source) for target, source in tied.items()}
        self.contrastive = MLCTLContrastiveLoss.from_config(config)
        # The explicit sentence term's own projection (config.sentence_weight > 0), shaped as the "-snt" CCE head.
        self.sentence_head = MLCTLProjection(config, sentence_only=True) if config.sentence_weight > 0 else None
        self.post_init()

    def get_input_embeddings(self):
        return self.mlctl.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.mlctl.set_input_embeddings(value)

    def _decoder_name(self) -> str:
        """Where the MLM head's decoder (the output embeddings) is, e.g. `mlm_head.predictions.decoder`."""
        return next(key for key in self._tied_weights_keys if key.endswith(".weight")).removesuffix(".weight")

    def get_output_embeddings(self):
        return self.get_submodule(self._decoder_name())

    def set_output_embeddings(self, new_embeddings):
        """The new decoder of `resize_token_embeddings`; its bias becomes the head's tied output bias too."""
        decoder = self._decoder_name()
        self.set_submodule(decoder, new_embeddings)
        bias_source = self._tied_weights_keys.get(f"{decoder}.bias")
        if bias_source is not None:
            owner, _, name = bias_source.rpartition(".")
            setattr(self.get_submodule(owner), name, new_embeddings.bias)

    def combine_losses(self, contrastive_loss: torch.Tensor, mlm_loss: torch.Tensor | None) -> torch.Tensor:
        """Eqs. (3) and (7): `contrastive_weight` · contrastive + α · MLM. With `contrastive_weight` 0 (the "MLM only"
        baseline) the contrastive term is left out of the sum, so no gradient reaches the CCE projection."""
        terms = []
        if self.config.contrastive_weight > 0:
            terms.append(self.config.contrastive_weight * contrastive_loss)
        if mlm_loss is not None:
            terms.append(self.config.mlm_weight * mlm_loss)
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]

    def mlm_loss(self, last_hidden_state: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Masked-LM cross-entropy; the head runs on the masked positions only (labels != -100), not on every
        token, which saves a (tokens × vocabulary) matmul that dominates for mBERT's 119k vocabulary. As the
        contrastive losses, it reduces in float32 for float16/bfloat16 logits and in the logits' dtype otherwise."""
        selected = labels != -100
        if not selected.any():
            return last_hidden_state.sum() * 0.0
        logits = self.mlm_head(last_hidden_state[selected])
        return F.cross_entropy(logits.to(_reduction_dtype(logits)), labels[selected])

    def encode_parallel_batch(self, **inputs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The part of [`forward`] that treats each pair on its own, on the keyword arguments of [`forward`]: the
        encoder pass(es) of `mlm_mode`, then (x CCEs, y CCEs, MLM loss: token mean over this batch's masked tokens,
        `None` without MLM). The contrastive loss, which couples all pairs of the (global) batch, is left out, so that
        gradient caching (`mlctl.training.grad_cache`) can run this on mini-batches."""
        if inputs.get("x_input_ids") is None or inputs.get("y_input_ids") is None:
            raise ValueError("MLCTLForPreTraining needs x_input_ids and y_input_ids (a parallel batch)")
        if not self.config.sentence_only and (inputs.get("x_word_mask") is None or inputs.get("y_word_mask") is None):
            raise ValueError('MLCTLForPreTraining with levels="sentence+word" needs x_word_mask and y_word_mask')
        n = inputs["x_input_ids"].shape[0]
        # Each side's tensors share one length, so padding every x/y pair to the longer side keeps them aligned.
        pad_id = self.config.encoder_config.pad_token_id or 0
        pad_values = dict(input_ids=pad_id, attention_mask=0, token_type_ids=0, word_mask=0, mlm_input_ids=pad_id,
                          labels=-100)
        input_ids, attention_mask, token_type_ids, word_mask, mlm_input_ids, labels = (
            _pad_and_concat(inputs.pop(f"x_{name}", None), inputs.pop(f"y_{name}", None), pad)
            for name, pad in pad_values.items()
        )
        if labels is not None and mlm_input_ids is None:
            raise ValueError("MLCTLForPreTraining: MLM labels given without the masked mlm_input_ids")
        use_mlm = labels is not None and self.config.mlm_weight > 0

        shared = self.config.mlm_mode == "shared"
        contrastive_ids = mlm_input_ids if (shared and use_mlm) else input_ids
        # what is left of inputs goes to the encoder
        encoded = self.mlctl(contrastive_ids, attention_mask, token_type_ids, word_mask, return_dict=True, **inputs)
        mlm_loss = None
        if use_mlm:
            if shared:
                mlm_hidden = encoded.last_hidden_state
            else:
                mlm_hidden = self.mlctl.encoder(
                    input_ids=mlm_input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                    return_dict=True).last_hidden_state
            mlm_loss = self.mlm_loss(mlm_hidden, labels)
        embeddings = encoded.cce_embeddings
        if self.sentence_head is not None:  # [CCE ; projected sentence] of each sample, split by contrastive_losses
            embeddings = torch.cat([embeddings, self.sentence_head(encoded.sentence_embeddings)], dim=-1)
        return embeddings[:n], embeddings[n:], mlm_loss

    def contrastive_losses(self, x_embeddings: torch.Tensor, y_embeddings: torch.Tensor):
        """The part of [`forward`] that couples all pairs of the (global) batch, on the embeddings of
        [`encode_parallel_batch`]: the contrastive loss of the CCEs (eq. 2 / 5) plus, with `sentence_weight` > 0, the
        explicit sentence term. Returns (contrastive loss, x_logits, y_logits, sentence loss or None); without
        gradient when `contrastive_weight` is 0."""
        cce = self.config.projection_dim
        sentence_loss = None
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.config.contrastive_weight > 0):
            contrastive_loss, x_logits, y_logits = self.contrastive(x_embeddings[:, :cce], y_embeddings[:, :cce])
            if self.sentence_head is not None:
                contrastive_loss, sentence_loss = with_sentence_term(
                    contrastive_loss, x_embeddings[:, cce:], y_embeddings[:, cce:], self.config.sentence_weight,
                    **self.contrastive.settings)
        return contrastive_loss, x_logits, y_logits, sentence_loss

    def forward(
        self,
        x_input_ids: torch.Tensor | None = None,
        x_attention_mask: torch.Tensor | None = None,
        x_word_mask: torch.Tensor | None = None,
        x_token_type_ids: torch.Tensor | None = None,
        x_mlm_input_ids: torch.Tensor | None = None,
        x_labels: torch.Tensor | None = None,
        y_input_ids: torch.Tensor | None = None,
        y_attention_mask: torch.Tensor | None = None,
        y_word_mask: torch.Tensor | None = None,
        y_token_type_ids: torch.Tensor | None = None,
        y_mlm_input_ids: torch.Tensor | None = None,
        y_labels: torch.Tensor | None = None,
        return_contrastive_loss: bool = True,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MLCTLForPreTrainingOutput | tuple:
        r"""
        A parallel batch of n word positioned sample pairs (x_i, y_i), each side with:
            input_ids / attention_mask / token_type_ids: the clean tokenised sentences;
            word_mask: 1 on the sub-word tokens of the marked word (required for `levels="sentence+word"`);
            mlm_input_ids: the same sentences with MLM masking applied (required with labels);
            labels: MLM targets, -100 where no prediction is made.
        With `mlm_mode="shared"` a single encoder pass over `mlm_input_ids` (or `input_ids` without MLM) gives both
        losses; with `"separate"` the contrastive loss uses a clean pass and MLM a second, masked pass.

        return_contrastive_loss (`bool`, *optional*, defaults to `True`):
            `False` runs only the part that treats each pair on its own ([`encode_parallel_batch`]) and returns
            `mlm_loss`, `x_embeddings` and `y_embeddings` alone: no contrastive loss, logits or `loss`, and no
            gathering across processes. With `sentence_weight` > 0 the embeddings are then [CCE ; projected sentence
            mean], the input of [`contrastive_losses`]. Gradient caching (`mlctl.training.grad_cache`) calls the
            model so on its mini-batches, through DistributedDataParallel when there is one, so that DDP reduces
            their gradients.
        return_dict (`bool`, *optional*):
            Return an [`MLCTLForPreTrainingOutput`] (default, `config.return_dict`) or a tuple of its non-`None`
            fields.
        """
        return_dict = self.config.return_dict if return_dict is None else return_dict
        x_embeddings, y_embeddings, mlm_loss = self.encode_parallel_batch(
            x_input_ids=x_input_ids, x_attention_mask=x_attention_mask, x_word_mask=x_word_mask,
            x_token_type_ids=x_token_type_ids, x_mlm_input_ids=x_mlm_input_ids, x_labels=x_labels,
            y_input_ids=y_input_ids, y_attention_mask=y_attention_mask, y_word_mask=y_word_mask,
            y_token_type_ids=y_token_type_ids, y_mlm_input_ids=y_mlm_input_ids, y_labels=y_labels, **kwargs)
        if not return_contrastive_loss:
            result = MLCTLForPreTrainingOutput(mlm_loss=mlm_loss, x_embeddings=x_embeddings, y_embeddings=y_embeddings)
            return result if return_dict else result.to_tuple()
        contrastive_loss, x_logits, y_logits, sentence_loss = self.contrastive_losses(x_embeddings, y_embeddings)
        x_embeddings, y_embeddings = (side[:, :self.config.projection_dim] for side in (x_embeddings, y_embeddings))
        result = MLCTLForPreTrainingOutput(
            loss=self.combine_losses(contrastive_loss, mlm_loss),
            contrastive_loss=contrastive_loss,
            sentence_loss=sentence_loss,
            mlm_loss=mlm_loss,
            x_logits=x_logits,
            y_logits=y_logits,
            x_embeddings=x_embeddings,
            y_embeddings=y_embeddings,
        )
        return result if return_dict else result.to_tuple()


class _MLCTLClassifier(MLCTLPreTrainedModel):
    """The CCE encoder with dropout and a linear classifier over the features that `classifier_features` picks."""

    def __init__(self, config: MLCTLConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.mlctl = MLCTLModel(config)
        dropout = config.classifier_dropout
        self.dropout = nn.Dropout(config.encoder_config.hidden_dropout_prob if dropout is None else dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def classifier_features(self, outputs: MLCTLModelOutput) -> torch.Tensor:
        raise NotImplementedError

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy over the labels, -100 marking positions without one."""
        return F.cross_entropy(logits.view(-1, self.num_labels).float(), labels.view(-1))

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None, **kwargs):
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.mlctl(input_ids, attention_mask, token_type_ids, output_hidden_states=output_hidden_states,
                             return_dict=True, **kwargs)
        logits = self.classifier(self.dropout(self.classifier_features(outputs)))
        loss = self.classification_loss(logits, labels) if labels is not None else None
        result = self.output_class(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return result if return_dict else result.to_tuple()


class MLCTLForSequenceClassification(_MLCTLClassifier):
    """Sentence(-pair) classification (XNLI, PAWS-X) on the ML-CTL sentence representation: the mean of the
    avg-first-last token vectors, the representation the contrastive objective aligned across languages.
    `num_labels=1` is regression (mean squared error)."""

    output_class = SequenceClassifierOutput

    def classifier_features(self, outputs):
        return outputs.sentence_embeddings

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """As transformers' sequence classifiers: `config.problem_type` (inferred when unset: one label is
        regression, integer labels single-label, float labels multi-label) picks MSE, cross-entropy or BCE."""
        if self.config.problem_type is None:
            if self.num_labels == 1:
                self.config.problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int):
                self.config.problem_type = "single_label_classification"
            else:
                self.config.problem_type = "multi_label_classification"
        if self.config.problem_type == "regression":
            return F.mse_loss(logits.squeeze(-1).float(), labels.float()) if self.num_labels == 1 else \
                F.mse_loss(logits.float(), labels.float())
        if self.config.problem_type == "multi_label_classification":
            return F.binary_cross_entropy_with_logits(logits.float(), labels.float())
        return super().classification_loss(logits, labels)


class MLCTLForTokenClassification(_MLCTLClassifier):
    """Token classification (POS, NER) on the encoder's last layer, as BERT's token classifier does."""

    output_class = TokenClassifierOutput

    def classifier_features(self, outputs):
        return outputs.last_hidden_state


__all__ = [
    "MLCTLPreTrainedModel",
    "MLCTLModel",
    "MLCTLForPreTraining",
    "MLCTLForSequenceClassification",
    "MLCTLForTokenClassification",
    "MLCTLModelOutput",
    "MLCTLForPreTrainingOutput",
]
