"""Supported languages and their stop-word lists.

A language is supported when the segmenter (``data_prep.segment``) handles its script.  Segmentation
is decided per *script*, not per language, so the table only has to say which ISO 639-1 codes we
accept: every language with a stopwords-iso list, plus the XTREME languages that have none (their
stop-word list is empty unless the user supplies one with ``--stopwords``).  Burmese (``my``) is
left out on purpose: it is written without spaces and we have no rule for its syllables.
"""
from __future__ import annotations

import functools
import logging

import stopwordsiso

from data_prep.reading import InputError, read_text_lines

logger = logging.getLogger(__name__)

#: XTREME languages that stopwords-iso does not cover; they are segmented like any spaced script.
LANGUAGES_WITHOUT_STOPWORD_LIST = frozenset({"jv", "ka", "kk", "ml", "ta", "te"})

#: Every ISO 639-1 code data_prep accepts.
SUPPORTED_LANGUAGES = frozenset(stopwordsiso.langs()) | LANGUAGES_WITHOUT_STOPWORD_LIST


def check_language(code: str, where: str) -> str:
    """Return ``code`` if supported, else raise a one-line error naming ``where`` it came from."""
    if code not in SUPPORTED_LANGUAGES:
        raise InputError(
            f"{where}: unknown language code {code!r}; supported: {', '.join(sorted(SUPPORTED_LANGUAGES))}"
        )
    return code


@functools.lru_cache(maxsize=None)
def stopwordsiso_words(lang: str) -> frozenset[str]:
    """The stopwords-iso list of ``lang``, case-folded (empty for languages it lacks)."""
    if lang in LANGUAGES_WITHOUT_STOPWORD_LIST:
        logger.warning("no stopwords-iso list for %r: no stop words are removed for it", lang)
        return frozenset()
    return frozenset(word.casefold() for word in stopwordsiso.stopwords(lang))


def read_stopword_file(path: str) -> frozenset[str]:
    """A user stop-word file: one word (or phrase) per line, blank lines ignored, case-folded."""
    return frozenset(text.strip().casefold() for _, text in read_text_lines(path) if text.strip())
