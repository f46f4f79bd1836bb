"""The outputs of the ML-CTL models (transformers `ModelOutput` dataclasses). Relative imports only: shipped with a
checkpoint for `trust_remote_code=True`."""
from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


@dataclass
class MLCTLModelOutput(ModelOutput):
    r"""
    cce_embeddings (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
        The CCE of each word positioned sample: the projection of [sentence ; word] (or of the sentence alone when
        `config.levels == "sentence"`). `None` for `"sentence+word"` models called without `word_mask`.
    sentence_embeddings (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
        Mean of the avg-first-last token vectors over the sentence's tokens (attention mask).
    word_embeddings (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
        Mean of the avg-first-last token vectors over the marked word's sub-word tokens (`word_mask`).
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, sequence_length, hidden_size)`):
        The encoder's last layer.
    hidden_states (`tuple(torch.FloatTensor)`):
        Embedding output and every layer's output of the encoder.
    """

    cce_embeddings: torch.FloatTensor | None = None
    sentence_embeddings: torch.FloatTensor | None = None
    word_embeddings: torch.FloatTensor | None = None
    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class MLCTLForPreTrainingOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`):
        contrastive_loss + mlm_weight · mlm_loss (eqs. 3 and 7).
    contrastive_loss (`torch.FloatTensor` of shape `()`):
        The symmetric InfoNCE (eq. 2) or CZ-NCE (eq. 5) batch loss of the CCEs, plus `sentence_weight` ·
        `sentence_loss` when the config adds the explicit sentence term.
    mlm_loss (`torch.FloatTensor` of shape `()`):
        Masked-LM cross-entropy over the masked tokens of both sides; `None` without labels or with mlm_weight 0.
    x_logits (`torch.FloatTensor` of shape `(batch_size, 2 * global_batch_size)`):
        Similarity logits of the x anchors against [y_1..y_N | x_1..x_N] (self masked to −inf).
    y_logits (`torch.FloatTensor` of shape `(batch_size, 2 * global_batch_size)`):
        The same for the y anchors against [x_1..x_N | y_1..y_N]; `None` when `config.symmetric` is False.
    x_embeddings, y_embeddings (`torch.FloatTensor` of shape `(batch_size, projection_dim)`):
        The CCEs of both sides.
    sentence_loss (`torch.FloatTensor` of shape `()`):
        The same loss on the separately projected sentence means; `None` with `sentence_weight` 0 (the paper).
    """

    loss: torch.FloatTensor | None = None
    contrastive_loss: torch.FloatTensor | None = None
    mlm_loss: torch.FloatTensor | None = None
    x_logits: torch.FloatTensor | None = None
    y_logits: torch.FloatTensor | None = None
    x_embeddings: torch.FloatTensor | None = None
    y_embeddings: torch.FloatTensor | None = None
    sentence_loss: torch.FloatTensor | None = None
