"""Contrastive losses of ML-CTL, on embeddings alone (no model needed).

Layout used throughout: a batch holds n parallel pairs (x_i, y_i). For an anchor x_i the candidates are every y
and every x of the (possibly gathered, global) batch: the positive y_i and 2N − 2 negatives (eq. 1), where N is
the global batch size. The anchor itself is masked out. Similarity logits therefore have shape (n, 2N):
columns [0, N) are the targets (y for an x anchor), columns [N, 2N) the anchors' own side.

Low precision: the similarity matrix is computed in the input dtype (it is the expensive part and autocast
keeps it there); the reductions (log-sum-exp, softmax) run in float32 when the input is float16 or bfloat16,
so the value of each loss is right to the input's rounding. Gradients flow back into the input dtype, which is
where InfoNCE's gradient on the positive, −(1 − p⁺), rounds to zero at large margins while CZ-NCE's stays −1.
"""
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .configuration_mlctl import CZ_NCE_FORMS
from .configuration_mlctl import LOSSES
from .configuration_mlctl import MLCTLConfig
from .configuration_mlctl import check_choice


def _reduction_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float32 if tensor.dtype in (torch.float16, torch.bfloat16) else tensor.dtype


def gather_with_grad(embeddings: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All-gathers `embeddings` from every process, keeping the autograd graph (gradients flow back to the
    process that produced each row). Returns the concatenated (N, d) tensor and the offset of this process's rows.
    Processes may hold different numbers of rows (a global batch that does not split evenly): each is padded to the
    largest for the collective, which needs equal shapes, and the padding is cut off again. Without an initialised
    process group of more than one process, returns `embeddings` and 0."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return embeddings, 0
    from torch.distributed.nn.functional import all_gather

    local_rows = torch.tensor([embeddings.shape[0]], device=embeddings.device)
    rows = [torch.empty_like(local_rows) for _ in range(dist.get_world_size())]
    dist.all_gather(rows, local_rows)
    rows = [int(count) for count in rows]
    padded = torch.nn.functional.pad(embeddings.contiguous(), (0, 0, 0, max(rows) - embeddings.shape[0]))
    gathered = all_gather(padded)
    offset = sum(rows[: dist.get_rank()])
    return torch.cat([part[:count] for part, count in zip(gathered, rows)], dim=0), offset


def cross_lingual_similarity_logits(
    anchors: torch.Tensor,
    targets_all: torch.Tensor,
    anchors_all: torch.Tensor,
    anchor_offset: int,
    temperature: float,
) -> torch.Tensor:
    """Similarity logits of eq. (1) with negatives from both languages.

    Args:
        anchors: (n, d) the local anchors, e.g. x_1..x_n.
        targets_all: (N, d) the other side of the global batch, e.g. y_1..y_N; the positive of local anchor i is
            row `anchor_offset + i`.
        anchors_all: (N, d) the anchors' side of the global batch (it contains `anchors` at `anchor_offset`).
        anchor_offset: index in the global batch of the first local anchor.
        temperature: τ in s(a, b) = cos(a, b) / τ.

    Returns:
        (n, 2N) logits: [s(a_i, targets_all) | s(a_i, anchors_all)] with s(a_i, a_i) set to −inf; the positive of
        row i is column `anchor_offset + i`.
    """
    anchors = F.normalize(anchors, dim=-1)
    candidates = F.normalize(torch.cat([targets_all, anchors_all], dim=0), dim=-1)
    logits = anchors @ candidates.T / temperature
    n, num_global = anchors.shape[0], targets_all.shape[0]
    rows = torch.arange(n, device=logits.device)
    self_mask = torch.zeros_like(logits, dtype=torch.bool)
    self_mask[rows, num_global + anchor_offset + rows] = True
    return logits.masked_fill(self_mask, float("-inf"))


def info_nce_loss(logits: torch.Tensor, positive_index: torch.Tensor) -> torch.Tensor:
    """InfoNCE, eq. (1): −log(e^{s⁺} / (e^{s⁺} + Σ e^{s⁻})), averaged over the rows of `logits` (n, C);
    `positive_index` (n,) gives the column of each row's positive. Bounded below by 0."""
    return F.cross_entropy(logits.to(_reduction_dtype(logits)), positive_index)


def cz_nce_loss(logits: torch.Tensor, positive_index: torch.Tensor, form: str = MLCTLConfig.cz_nce_form) -> torch.Tensor:
    """Cross-zero NCE, eqs. (4)–(6): −log(e^{s⁺} / Σ e^{s⁻}) = log Σ exp(s⁻ − s⁺) = log φ, averaged over rows.

    The positive is left out of the denominator, so the loss has no lower bound and its gradient on s⁺ is
    exactly −1 per row (−1/n after the mean) at any margin.

    Args:
        logits: (n, C) similarity logits; −inf entries (the anchor itself) are ignored.
        positive_index: (n,) column of each row's positive.
        form: `"logsumexp"` computes eq. (5) stably as logsumexp(s⁻) − s⁺. `"stop_gradient"` computes eq. (6):
            φ / sg(φ), whose gradient is ∇φ / φ; the value returned is φ / sg(φ) − 1 + sg(log φ) so that it
            equals eq. (5) too (φ is computed with a max shift, so it cannot overflow).
    """
    check_choice("cz_nce_loss: form", form, CZ_NCE_FORMS)
    logits = logits.to(_reduction_dtype(logits))
    column = positive_index.unsqueeze(-1)
    positive = logits.gather(-1, column).squeeze(-1)
    negatives = logits.scatter(-1, column, float("-inf"))
    if form == "logsumexp":
        return (torch.logsumexp(negatives, dim=-1) - positive).mean()
    margins = negatives - positive.unsqueeze(-1)
    shift = margins.detach().amax(dim=-1, keepdim=True)  # φ = e^shift · Σ e^{margin − shift}
    shifted_phi = torch.exp(margins - shift).sum(dim=-1)
    log_phi = torch.log(shifted_phi.detach()) + shift.squeeze(-1)
    return (shifted_phi / shifted_phi.detach() - 1 + log_phi).mean()


def symmetric_contrastive_loss(
    x_embeddings: torch.Tensor,
    y_embeddings: torch.Tensor,
    temperature: float = MLCTLConfig.temperature,
    loss: str = MLCTLConfig.loss,
    cz_nce_form: str = MLCTLConfig.cz_nce_form,
    symmetric: bool = MLCTLConfig.symmetric,
    gather_negatives: bool = MLCTLConfig.gather_negatives,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The batch loss of eq. (2) (InfoNCE) or its CZ-NCE counterpart of eq. (7): the per-anchor loss averaged over
    the x anchors and the y anchors, Σ_i (L(x_i) + L(y_i)) / 2n. The settings are [`MLCTLConfig`]'s fields of the
    same names, and default to its defaults.

    With several processes and `gather_negatives`, candidates come from the global batch (gathered with gradients)
    while anchors stay local; averaging the processes' gradients (as DDP does) then gives exactly the gradient of
    the global-batch loss.

    Returns:
        (loss, x_logits, y_logits): `x_logits` (n, 2N) are x anchors against [y_all | x_all]; `y_logits` likewise
        for y anchors, or None when `symmetric` is False.
    """
    check_choice("loss", loss, LOSSES)
    if gather_negatives:
        x_all, offset = gather_with_grad(x_embeddings)
        y_all, _ = gather_with_grad(y_embeddings)
    else:
        x_all, y_all, offset = x_embeddings, y_embeddings, 0
    if x_all.shape[0] < 2:
        raise ValueError("contrastive loss needs at least 2 parallel pairs in the (global) batch: with 1 there is no negative")
    positive_index = offset + torch.arange(x_embeddings.shape[0], device=x_embeddings.device)

    def per_side(anchors, targets_all, anchors_all):
        logits = cross_lingual_similarity_logits(anchors, targets_all, anchors_all, offset, temperature)
        if loss == "info_nce":
            return info_nce_loss(logits, positive_index), logits
        return cz_nce_loss(logits, positive_index, form=cz_nce_form), logits

    x_loss, x_logits = per_side(x_embeddings, y_all, x_all)
    if not symmetric:
        return x_loss, x_logits, None
    y_loss, y_logits = per_side(y_embeddings, x_all, y_all)
    return (x_loss + y_loss) / 2, x_logits, y_logits


def with_sentence_term(cce_loss: torch.Tensor, x_sentence: torch.Tensor, y_sentence: torch.Tensor,
                       sentence_weight: float, **settings) -> tuple[torch.Tensor, torch.Tensor]:
    """The multi-level contrastive loss with an explicit sentence term: L_CCE + w · L_snt, where L_snt is
    [`symmetric_contrastive_loss`] (eq. 2, or eq. 7 for CZ-NCE; `settings` are its keyword arguments) of the
    projected sentence embeddings `x_sentence`, `y_sentence` (n, d). Returns (total, L_snt)."""
    sentence_loss = symmetric_contrastive_loss(x_sentence, y_sentence, **settings)[0]
    return cce_loss + sentence_weight * sentence_loss, sentence_loss


class MLCTLContrastiveLoss(nn.Module):
    """The contrastive part of ML-CTL as a module (sentence-transformers style): holds the settings of
    [`symmetric_contrastive_loss`] (by default [`MLCTLConfig`]'s) and applies it to two (n, d) embedding batches."""

    def __init__(self, temperature=MLCTLConfig.temperature, loss=MLCTLConfig.loss, cz_nce_form=MLCTLConfig.cz_nce_form,
                 symmetric=MLCTLConfig.symmetric, gather_negatives=MLCTLConfig.gather_negatives):
        super().__init__()
        self.settings = dict(
            temperature=temperature,
            loss=loss,
            cz_nce_form=cz_nce_form,
            symmetric=symmetric,
            gather_negatives=gather_negatives,
        )

    @classmethod
    def from_config(cls, config) -> "MLCTLContrastiveLoss":
        return cls(config.temperature, config.loss, config.cz_nce_form, config.symmetric, config.gather_negatives)

    def forward(self, x_embeddings, y_embeddings):
        return symmetric_contrastive_loss(x_embeddings, y_embeddings, **self.settings)

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.settings.items())
