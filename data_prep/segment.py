"""Word segmentation, decided per script.

A sentence becomes a list of tokens ``(start, end, kind)``: a half-open span of Python string
indices (Unicode code points) and a kind, :data:`WORD`, :data:`NUMBER` or :data:`PUNCT`.  The
rules, tried in this order at each position:

* **Han and Hiragana** (zh, ja): every character is one word. Neither script marks word
  boundaries, and one character is the unit BERT-style tokenizers use for Han as well; a
  multi-character word or a word-list entry is a *phrase* of such words (``电脑`` = ``电`` ``脑``).
* **Katakana** (ja): a run of katakana (with the prolonged-sound mark ``ー``) is one word, so
  loanwords such as ``コーヒー`` stay whole.
* **Thai**: a *Thai character cluster*, the smallest unit no word boundary splits: an optional
  leading vowel (``เ แ โ ใ ไ``), a consonant, its above/below vowels and tone marks, and a
  trailing ``ะ า ำ ๅ ๆ``.  A cluster is often a syllable, sometimes less; a Thai word is a phrase
  of clusters.  (Dictionary segmentation would need an extra dependency; we do not ship one.)
* **Every other script** (Latin, Cyrillic, Greek, Arabic, Hebrew, Indic, Hangul, ...): a maximal
  run of letters, digits and combining marks (plus ZWJ/ZWNJ, which Persian and Indic spelling use
  inside words); runs joined by a hyphen stay one word (``T-shirt``, ``E-Mail``).  Apostrophes are
  punctuation, so ``l'homme`` is ``l`` ``'`` ``homme``.
* Any other non-space character is a one-character punctuation token.

A token is a NUMBER when it has digits and no letters (``1990``, ``3-4``), PUNCT when it has
neither, otherwise a WORD.  Pharaoh alignment files index whitespace-separated tokens instead, see
:func:`whitespace_tokens`.
"""
from __future__ import annotations

import functools
import re
import sys
import unicodedata

WORD, NUMBER, PUNCT = 0, 1, 2

#: A token: ``(start, end, kind)`` with ``text[start:end]`` its surface form.
Token = tuple[int, int, int]

HAN = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
HIRAGANA = "\u3041-\u309f"
KATAKANA = "\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f"
THAI = "\u0e00-\u0e7f"
THAI_LEADING_VOWEL = "\u0e40-\u0e44"
THAI_CONSONANT = "\u0e01-\u0e2e"
THAI_MARK = "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
THAI_TRAILING = "\u0e30\u0e32\u0e33\u0e45\u0e46"
HYPHENS = "\\-\u2010\u2011"
WORD_JOINERS = "\u200c\u200d"


@functools.lru_cache(maxsize=1)
def _combining_marks() -> str:
    """A regex character-class body with every combining mark (Mn, Mc, Me) outside Thai."""
    ranges = []  # [first, last] code points of each run of marks
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code))[0] == "M" and not 0x0E00 <= code <= 0x0E7F:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


@functools.lru_cache(maxsize=1)
def _token_pattern() -> re.Pattern:
    """The segmentation regex; :data:`_GROUP_KINDS` gives the kind of each group's tokens."""
    word_char = f"(?:[^\\W_{HAN}{HIRAGANA}{KATAKANA}{THAI}]|[{_combining_marks()}{WORD_JOINERS}])"
    thai_cluster = (
        f"[{THAI_LEADING_VOWEL}]?[{THAI_CONSONANT}][{THAI_MARK}]*(?:[{THAI_TRAILING}][{THAI_MARK}]*)*"
    )
    number = f"\\d+(?:[{HYPHENS}]\\d+)*(?!{word_char})"
    return re.compile(
        f"([{HAN}{HIRAGANA}])|([{KATAKANA}]+)|({thai_cluster})|({number})|({word_char}+(?:[{HYPHENS}]{word_char}+)*)|(\\S)"
    )


#: Token kind per regex group: CJK characters, katakana runs, Thai clusters, numbers, word runs;
#: None for the one-character fallback, classified by :func:`token_kind`.
_GROUP_KINDS = (None, WORD, WORD, WORD, NUMBER, WORD, None)


def token_kind(surface: str) -> int:
    """WORD if ``surface`` has a letter, else NUMBER if it has a digit, else PUNCT."""
    if surface.isalpha() or any(char.isalpha() for char in surface):
        return WORD
    if any(char.isdigit() or char.isnumeric() for char in surface):
        return NUMBER
    return PUNCT


def segment(text: str) -> list[Token]:
    """Split ``text`` into word, number and punctuation tokens (rules in the module docstring)."""
    tokens = []
    for match in _token_pattern().finditer(text):
        kind = _GROUP_KINDS[match.lastindex]
        start, end = match.span()
        if kind is None:
            surface = match.group()
            kind = token_kind(surface) if surface.isalnum() else PUNCT
        tokens.append((start, end, kind))
    return tokens


def whitespace_tokens(text: str) -> list[Token]:
    """The whitespace-separated tokens of ``text``: what Pharaoh files (fast_align, eflomal,
    awesome-align) index, since those aligners read pre-tokenised, space-separated input."""
    return [(m.start(), m.end(), token_kind(m.group())) for m in re.finditer(r"\S+", text)]
