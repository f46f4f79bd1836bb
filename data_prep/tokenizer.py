"""A small WordPiece tokenizer trained offline, for demos, tests and benchmarks without the Hub.

Built with the ``tokenizers`` library and wrapped as a transformers fast tokenizer: under
transformers 5, ``BertTokenizerFast(vocab_file=...)`` silently maps every word to ``[UNK]``.
"""
from __future__ import annotations

from typing import Iterable

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_tokenizer(texts: Iterable[str], directory: str, vocab_size: int = 8000,
                              lowercase: bool = False) -> str:
    """Train a BERT-style WordPiece tokenizer (accents kept, ``[CLS] x [SEP]`` template) on
    ``texts``, save it with ``save_pretrained`` in ``directory`` and return the directory."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    BertTokenizerFast(tokenizer_object=tokenizer, do_lower_case=lowercase, strip_accents=False).save_pretrained(directory)
    return directory
