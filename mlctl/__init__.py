"""mlctl: ML-CTL (multi-level contrastive learning for cross-lingual alignment) for Hugging Face transformers.

The library behind the scripts: `mlctl.training` (pre-training), `mlctl.evaluation` (XTREME), `mlctl.encoding` (the
public way to embed sentences and words) and `mlctl.demo`. The model code that ships with a checkpoint lives in
`modeling_mlctl`, the corpus preparation in `data_prep`.
"""
from mlctl.encoding import encode_sentences
from mlctl.encoding import encode_words
from mlctl.encoding import load_encoder

__all__ = ["encode_sentences", "encode_words", "load_encoder"]
