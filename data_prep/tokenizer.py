"""A BERT-style WordPiece tokenizer trained offline, for the demo, tests and benchmarks without the Hub.

Built with the ``tokenizers`` library and wrapped with ``tokenizer_object=``: under transformers 5,
``BertTokenizerFast(vocab_file=...)`` silently maps every word to ``[UNK]``.
"""
from __future__ import annotations

from typing import Iterable

#: Tokens per sentence by default, wherever text is tokenised (data prep, the training collator, XTREME fine-tuning:
#: its ``scripts/train.sh`` uses 128).
MAX_SEQ_LENGTH = 128

SPECIAL_TOKENS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
                  "mask_token": "[MASK]"}


def train_wordpiece_tokenizer(texts: Iterable[str], vocab_size: int = 8000, model_max_length: int = 512,
                              lowercase: bool = False):
    """A WordPiece tokenizer ([PAD] [UNK] [CLS] [SEP] [MASK]; accents kept; ``[CLS] A [SEP] B [SEP]`` with segment ids)
    trained on ``texts``. Returns a ``BertTokenizerFast`` (so ``AutoTokenizer`` reloads it as one); ``save_pretrained`` it to reuse it.

    Reproducible: the same texts give the same vocabulary. The ``tokenizers`` trainer numbers the word-initial
    characters in sorted order but the continuation pieces (``##x``) in the order of its word hash map, which
    differs from run to run, and breaks ties between equally frequent merges by piece number; so every character
    and its ``##`` piece are numbered here first, in sorted order (as fixed initial pieces), and every tie is
    broken the same way in every run."""
    from tokenizers import Tokenizer
    from tokenizers import models
    from tokenizers import normalizers
    from tokenizers import pre_tokenizers
    from tokenizers import trainers

    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=False)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    texts = list(texts)
    characters = sorted({character for text in texts
                         for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))
                         for character in word})
    initial_pieces = [*SPECIAL_TOKENS.values(), *characters, *(f"##{character}" for character in characters)]
    backend.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, show_progress=False,
                                                                 special_tokens=initial_pieces))
    return wordpiece_tokenizer_from_vocab(backend.get_vocab(), model_max_length, lowercase)


def wordpiece_tokenizer_from_vocab(vocab: dict[str, int] | list[str], model_max_length: int = 512,
                                   lowercase: bool = False):
    """The BERT-style ``BertTokenizerFast`` of :func:`train_wordpiece_tokenizer` over a given vocabulary (a list in
    id order, or a ``{piece: id}`` dict) that must hold the special tokens."""
    from tokenizers import Tokenizer
    from tokenizers import decoders
    from tokenizers import models
    from tokenizers import normalizers
    from tokenizers import pre_tokenizers
    from tokenizers import processors
    from transformers import BertTokenizerFast

    if not isinstance(vocab, dict):
        vocab = {piece: index for index, piece in enumerate(vocab)}
    missing = [token for token in SPECIAL_TOKENS.values() if token not in vocab]
    if missing:
        raise ValueError(f"the WordPiece vocabulary lacks the special token(s) {', '.join(missing)}")
    backend = Tokenizer(models.WordPiece(vocab=dict(vocab), unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=False)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    backend.decoder = decoders.WordPiece()
    return BertTokenizerFast(tokenizer_object=backend, do_lower_case=lowercase, strip_accents=False,
                             model_max_length=model_max_length, **SPECIAL_TOKENS)


def load_auto_fast_tokenizer(source, purpose: str, **pretrained_kwargs):
    """``AutoTokenizer.from_pretrained(source, **pretrained_kwargs)`` (the Hub snapshot:
    `data_prep.arguments.HubArguments.pretrained_kwargs`) with one-line errors, for every command that takes a
    tokenizer name.

    Raises ``ValueError`` naming ``source``: a local path that does not exist, a tokenizer that does not load (the
    first line of transformers' reason), or one that is not fast (``purpose`` says what needs the fast one).
    """
    import os

    from transformers import AutoTokenizer

    text = str(source)
    if text.startswith(("/", "./", "../", "~")) and not os.path.exists(os.path.expanduser(text)):
        raise ValueError(f"{text}: no such file or directory (and not a Hub model name)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(os.path.expanduser(text), **pretrained_kwargs)
    except (OSError, ValueError) as error:
        raise ValueError(f"{text}: cannot load a tokenizer: {str(error).splitlines()[0]}") from None
    if not tokenizer.is_fast:
        raise ValueError(f"{text}: not a fast tokenizer; {purpose} needs one")
    return tokenizer


def token_span(offsets, char_start: int, char_end: int, may_be_truncated: bool = False) -> tuple[int, int] | str:
    """The half-open token span of the characters ``[char_start, char_end)`` of a sentence, or the reason there is
    none: ``"truncated"`` (the sequence may have been cut at max_length and the word's first or last character has
    no token) or ``"untokenizable"`` (no token covers any of its characters).

    ``offsets`` are the fast tokenizer's ``(start, end)`` character offsets per token (``offset_mapping``, or a
    ``tokenizers.Encoding``'s ``offsets``); special tokens, whose offsets are empty, never match. The span runs from
    the first to the last token overlapping the word, so a character the normaliser removed at the word's edge
    (a stray combining mark, say) does not lose the word. The WPS data (``data_prep``, tokenised rows) and the
    trainer's collator (text rows) both locate words with this function."""
    hits = [index for index, (start, end) in enumerate(offsets) if start < end and start < char_end and end > char_start]
    if may_be_truncated:
        covered = lambda char: any(start <= char < end for start, end in offsets)  # noqa: E731
        if not (covered(char_start) and covered(char_end - 1)):
            return "truncated"
    return (hits[0], hits[-1] + 1) if hits else "untokenizable"


def vocabulary_sha256(tokenizer) -> str:
    """SHA-256 of a fast tokenizer's vocabulary (every piece with its id, added tokens included): the identity of
    the token ids that data_prep writes, which training compares with its own tokenizer's."""
    import hashlib
    import json

    vocabulary = sorted(tokenizer.backend_tokenizer.get_vocab(with_added_tokens=True).items(), key=lambda item: item[1])
    return hashlib.sha256(json.dumps(vocabulary, ensure_ascii=False).encode("utf-8")).hexdigest()
