"""Pooling of the CCE encoder (paper, "The CCE encoder", steps 2–3): avg-first-last token vectors, then masked means
over the sentence's tokens and over the marked word's sub-word tokens."""
import torch


def avg_first_last_pool(hidden_states: tuple[torch.Tensor, ...], layers=(1, -1), combination="average") -> torch.Tensor:
    """Token vectors combined from several layers: `hidden_states[l]` for l in `layers` (index 0 is the embedding
    output), averaged (`"average"`, the paper) or summed (`"sum"`, the original code). Returns (batch, seq, hidden)."""
    combined = sum(hidden_states[layer] for layer in layers)
    return combined / len(layers) if combination == "average" else combined


def masked_mean(token_vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `token_vectors` (batch, seq, hidden) over the positions where `mask` (batch, seq) is non-zero.
    A row with an empty mask gives a zero vector (never NaN)."""
    mask = mask.to(token_vectors.dtype).unsqueeze(-1)
    total = (token_vectors * mask).sum(dim=1)
    return total / mask.sum(dim=1).clamp(min=1)
