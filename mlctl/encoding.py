"""The public way in: sentences, and words in their sentences, to vectors with any encoder checkpoint (an ML-CTL
checkpoint or a plain BERT / XLM-R).

    from mlctl import load_encoder, encode_sentences, encode_words

    model, tokenizer = load_encoder("outputs/demo/model")
    sentences = encode_sentences(model, tokenizer, ["A dog runs.", "Ein Hund rennt."], pooling="mean", layer=-1)
    words = encode_words(model, tokenizer, ["A dog runs.", "Ein Hund rennt."], [(2, 5), (4, 8)])

Both return float32 NumPy arrays, one row per input in input order. Inputs are batched longest first (little
padding), run on the model's device without gradients, with a progress bar for long inputs. XTREME retrieval, the
t-SNE picture, the ablation's word score and the demo all encode through these two functions.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from data_prep.arguments import ModelArguments
from data_prep.arguments import shared
from data_prep.tokenizer import load_auto_fast_tokenizer
from data_prep.tokenizer import token_span
from mlctl.files import weights_problem
from mlctl.search import default_device
from modeling_mlctl.configuration_mlctl import check_choice  # importing modeling_mlctl registers the Auto classes
from modeling_mlctl.pooling import avg_first_last_pool
from modeling_mlctl.pooling import masked_mean

#: `encode_sentences` poolings: the mean of `hidden_states[layer]` over every token (special tokens included, as
#: XTREME's `--pool_type mean`), its first token (`cls`), or the ML-CTL sentence vector that enters the CCE
#: (the mean of the avg-first-last token vectors; ML-CTL checkpoints only).
SENTENCE_POOLINGS = ("mean", "cls", "cce_sentence")
#: `encode_words` poolings: the mean of `hidden_states[layer]` over the word's sub-word tokens, the same mean of the
#: average of hidden_states[1] and hidden_states[-1] (avg-first-last, for any encoder), the ML-CTL word vector that
#: enters the CCE (avg-first-last mean over the word), or the whole CCE of the word positioned sample.
WORD_POOLINGS = ("mean", "avg_first_last", "cce_word", "cce")
#: Inputs longer than this many batches get a progress bar when `show_progress` is None.
PROGRESS_MIN_BATCHES = 8
#: The retrieval layer: hidden_states[8] == XTREME's ``--specific_layer 7`` (its layer count skips the embedding
#: output).
DEFAULT_RETRIEVAL_LAYER = 8


def load_encoder(model_name_or_path: str, device: str | torch.device | None = None, **pretrained_kwargs):
    """(`AutoModel` in eval mode on `device` — the GPU when there is one —, its fast tokenizer) of a checkpoint, at
    the Hub snapshot of `pretrained_kwargs` (`data_prep.arguments.HubArguments.pretrained_kwargs`: revision, token,
    cache_dir, trust_remote_code). An ML-CTL checkpoint gives `MLCTLModel`. Raises `ValueError` with a one-line
    reason when either cannot load (a config.json field of the wrong type, damaged weights included)."""
    from transformers import AutoModel

    tokenizer = load_auto_fast_tokenizer(model_name_or_path, "locating words by character offsets", **pretrained_kwargs)
    problem = weights_problem(model_name_or_path)
    if problem:
        raise ValueError(problem)
    try:
        model = AutoModel.from_pretrained(model_name_or_path, **pretrained_kwargs)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as error:  # the last two: damaged .bin weights
        raise ValueError(f"{model_name_or_path}: cannot load with AutoModel: {str(error).splitlines()[0]}") from None
    device = device or default_device()
    return model.to(device).eval(), tokenizer


def default_max_length(model) -> int:
    """The longest input the model takes: its position embeddings, at most 512 tokens."""
    return min(512, getattr(model.config, "max_position_embeddings", 512))


def resolve_layer(num_hidden_states: int, requested: int | None) -> int:
    """The ``hidden_states`` index to embed with: ``requested``, else 8 (XTREME's), else the last one."""
    if requested is None:
        return DEFAULT_RETRIEVAL_LAYER if num_hidden_states > DEFAULT_RETRIEVAL_LAYER else num_hidden_states - 1
    if not -num_hidden_states <= requested < num_hidden_states:
        raise ValueError(f"layer={requested}: the model returns {num_hidden_states} hidden states "
                         f"(0 = embeddings .. {num_hidden_states - 1} = last layer)")
    return requested % num_hidden_states


def _batches(count: int, lengths: Sequence[int], batch_size: int, show_progress: bool | None, description: str):
    """Index batches, longest inputs first, with a progress bar when asked (or, by default, for long inputs)."""
    order = sorted(range(count), key=lambda i: -lengths[i])
    starts = range(0, count, batch_size)
    if show_progress is None:
        show_progress = len(starts) >= PROGRESS_MIN_BATCHES
    for start in tqdm(starts, desc=description, unit="batch", leave=False, disable=not show_progress):
        yield order[start:start + batch_size]


def _hidden_layer(outputs, layer: int) -> torch.Tensor:
    return outputs.hidden_states[resolve_layer(len(outputs.hidden_states), layer)]


def _ml_ctl_output(outputs, name: str, pooling: str) -> torch.Tensor:
    value = getattr(outputs, name, None)
    if value is None:
        raise ValueError(f"pooling={pooling!r} needs an ML-CTL checkpoint (MLCTLModel); this model has no {name}")
    return value


def _encode_in_batches(model, sentences: Sequence[str], encode_batch, batch_size: int, show_progress: bool | None,
                       description: str) -> np.ndarray:
    """Rows of `encode_batch(indices)` (one vector per index) for every sentence, batched longest first, in input
    order as float32; an empty input gives a (0, hidden size) array."""
    embeddings = np.zeros((0, model.config.hidden_size), dtype=np.float32)
    for indices in _batches(len(sentences), [len(s) for s in sentences], batch_size, show_progress, description):
        vectors = encode_batch(indices).float().cpu().numpy()
        if len(embeddings) != len(sentences):
            embeddings = np.zeros((len(sentences), vectors.shape[1]), dtype=np.float32)
        embeddings[indices] = vectors
    return embeddings


@torch.no_grad()
def encode_sentences(model, tokenizer, sentences: Sequence[str], *, pooling: str = "mean", layer: int = -1,
                     batch_size: int = 64, max_length: int | None = None, show_progress: bool | None = None,
                     description: str = "encoding sentences") -> np.ndarray:
    """One vector per sentence: `pooling` (see `SENTENCE_POOLINGS`) of `hidden_states[layer]` (0 is the embedding
    output, -1 the last layer; ignored by `cce_sentence`). Sentences are truncated to `max_length` tokens (default:
    the model's, at most 512). Returns float32 (len(sentences), hidden size)."""
    check_choice("pooling", pooling, SENTENCE_POOLINGS)
    device = next(model.parameters()).device
    max_length = max_length or default_max_length(model)

    def encode_batch(indices: list[int]) -> torch.Tensor:
        batch = tokenizer([sentences[i] for i in indices], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt").to(device)
        outputs = model(**batch, output_hidden_states=True, return_dict=True)
        if pooling == "cce_sentence":
            return _ml_ctl_output(outputs, "sentence_embeddings", pooling)
        if pooling == "cls":
            return _hidden_layer(outputs, layer)[:, 0]
        return masked_mean(_hidden_layer(outputs, layer), batch["attention_mask"])

    return _encode_in_batches(model, sentences, encode_batch, batch_size, show_progress, description)


@torch.no_grad()
def encode_words(model, tokenizer, sentences: Sequence[str], spans: Sequence[tuple[int, int]], *,
                 pooling: str = "mean", layer: int = -1, batch_size: int = 64, max_length: int | None = None,
                 show_progress: bool | None = None, description: str = "encoding words") -> np.ndarray:
    """One vector per word in its sentence: `spans[i]` is the half-open character span of the word in
    `sentences[i]`, mapped to sub-word tokens by `data_prep.tokenizer.token_span` (the span function of the WPS
    data). `pooling` (see `WORD_POOLINGS`) averages `hidden_states[layer]` (`mean`) or the avg-first-last token vectors
    (`avg_first_last`) over the word's tokens, or takes the ML-CTL word vector (`cce_word`) or CCE (`cce`). A word
    that truncation cuts off or that has no token raises `ValueError` naming the sentence. Returns float32 (len(sentences), dim)."""
    check_choice("pooling", pooling, WORD_POOLINGS)
    if len(spans) != len(sentences):
        raise ValueError(f"{len(spans)} word spans for {len(sentences)} sentences")
    device = next(model.parameters()).device
    max_length = max_length or default_max_length(model)

    def encode_batch(indices: list[int]) -> torch.Tensor:
        batch = tokenizer([sentences[i] for i in indices], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt", return_offsets_mapping=True)
        word_mask = torch.zeros_like(batch["input_ids"])
        for row, index in enumerate(indices):
            offsets = batch["offset_mapping"][row].tolist()
            truncated = int(batch["attention_mask"][row].sum()) >= max_length
            span = token_span(offsets, *spans[index], may_be_truncated=truncated)
            if isinstance(span, str):
                raise ValueError(f"sentence {index}: the word at characters [{spans[index][0]}, {spans[index][1]}) "
                                 f"of {sentences[index]!r} has no token ({span})")
            word_mask[row, span[0]:span[1]] = 1
        del batch["offset_mapping"]
        batch, word_mask = batch.to(device), word_mask.to(device)
        if pooling in ("mean", "avg_first_last"):
            outputs = model(**batch, output_hidden_states=True, return_dict=True)
            tokens = _hidden_layer(outputs, layer) if pooling == "mean" else avg_first_last_pool(outputs.hidden_states)
            return masked_mean(tokens, word_mask)
        outputs = model(**batch, word_mask=word_mask, return_dict=True)
        return _ml_ctl_output(outputs, "word_embeddings" if pooling == "cce_word" else "cce_embeddings", pooling)

    return _encode_in_batches(model, sentences, encode_batch, batch_size, show_progress, description)


@torch.no_grad()
def encode_subwords(model, tokenizer, sentences: Sequence[Sequence[str]], *, layer: int = -1, batch_size: int = 64,
                    max_length: int | None = None, show_progress: bool | None = None,
                    description: str = "encoding sub-words") -> list[tuple[np.ndarray, np.ndarray]]:
    """The sub-word vectors of pre-split sentences (lists of words), as word aligners use them: for each sentence
    ``(hidden_states[layer] of its sub-word tokens without the special tokens, float32 (tokens, hidden)`` and
    ``the index of the word each token belongs to, int64 (tokens,))``. Words are tokenized one by one
    (``is_split_into_words``, as SimAlign and awesome-align do); a word cut off by truncation to ``max_length`` has
    no token."""
    device = next(model.parameters()).device
    max_length = max_length or default_max_length(model)
    encoded: list = [None] * len(sentences)
    lengths = [sum(len(word) for word in words) for words in sentences]
    for indices in _batches(len(sentences), lengths, batch_size, show_progress, description):
        batch = tokenizer([list(sentences[i]) for i in indices], is_split_into_words=True, padding=True,
                          truncation=True, max_length=max_length, return_tensors="pt")
        word_ids = [batch.word_ids(row) for row in range(len(indices))]
        hidden = _hidden_layer(model(**batch.to(device), output_hidden_states=True, return_dict=True), layer)
        hidden = hidden.float().cpu().numpy()
        for row, index in enumerate(indices):
            tokens = [position for position, word in enumerate(word_ids[row]) if word is not None]
            encoded[index] = (hidden[row, tokens], np.asarray([word_ids[row][t] for t in tokens], dtype=np.int64))
    return encoded


@dataclass
class EncoderArguments(ModelArguments):
    """The flags of the tools that encode with a checkpoint (`mlctl-mine`, `mlctl-align`): the model and its Hub
    snapshot (`ModelArguments`), the layer, the batch, the truncation and the device."""

    layer: int | None = shared("layer")
    batch_size: int = shared("batch_size", 32, minimum=1)
    max_seq_length: int | None = shared("max_seq_length", minimum=3)
    device: str | None = shared("device")


__all__ = ["EncoderArguments", "SENTENCE_POOLINGS", "WORD_POOLINGS", "default_max_length", "encode_sentences",
           "encode_subwords", "encode_words", "load_encoder"]
