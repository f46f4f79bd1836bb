"""avg-first-last pooling and the masked means, on hand-built hidden states."""
import torch

from modeling_mlctl.pooling import avg_first_last_pool
from modeling_mlctl.pooling import masked_mean


def hidden_states():
    # (embeddings, layer 1, layer 2, layer 3) for 1 sentence of 3 tokens, hidden size 2
    layer = lambda value: torch.full((1, 3, 2), float(value))  # noqa: E731
    states = [layer(100), layer(1), layer(50), layer(3)]
    states[1][0, :, 0] = torch.tensor([1.0, 2.0, 3.0])
    states[3][0, :, 0] = torch.tensor([5.0, 6.0, 7.0])
    return tuple(states)


def test_average_of_first_transformer_layer_and_last():
    pooled = avg_first_last_pool(hidden_states(), layers=(1, -1), combination="average")
    assert pooled[0, :, 0].tolist() == [3.0, 4.0, 5.0]
    assert pooled[0, :, 1].tolist() == [2.0, 2.0, 2.0]


def test_sum_combination_is_the_original_code():
    pooled = avg_first_last_pool(hidden_states(), layers=(1, -1), combination="sum")
    assert pooled[0, :, 0].tolist() == [6.0, 8.0, 10.0]


def test_masked_mean_over_a_word_span_and_an_empty_mask():
    tokens = torch.tensor([[[1.0, 10.0], [3.0, 30.0], [8.0, 80.0]], [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]])
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    assert masked_mean(tokens, mask).tolist() == [[2.0, 20.0], [0.0, 0.0]]
