"""Word pairs from the three sources: alignment links (eflomal or a Pharaoh file) and a
bilingual word list.  Every source yields *candidates* ``(src_start, src_end, tgt_start, tgt_end,
weight)``: half-open token spans in the two sentences, and the number of alignment links the
candidate stands for (1 for a word-list match), so that drop counts add up to the links read.
"""
from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field

from data_prep.reading import InputError, read_line_aligned, read_text_lines
from data_prep.segment import Token, segment

#: ``(src_start, src_end, tgt_start, tgt_end, weight)``.
Candidate = tuple[int, int, int, int, int]
Link = tuple[int, int]

SYMMETRIZATIONS = ("intersection", "grow-diag-final-and")


PHARAOH_LINE = re.compile(r"\s*(?:\d+-\d+(?:\s+|$))*")
NUMBER = re.compile(r"\d+")


def parse_pharaoh(line: str, n_src: int, n_tgt: int, where: str) -> set[Link]:
    """Parse a Pharaoh line (``"0-0 1-2"``) into ``{(i, j)}``, checking every index against the
    sentence lengths; ``where`` (``"file:line"``) prefixes the one-line error."""
    if PHARAOH_LINE.fullmatch(line):
        numbers = [int(number) for number in NUMBER.findall(line)]
        src_indices, tgt_indices = numbers[0::2], numbers[1::2]
        if not numbers or (max(src_indices) < n_src and max(tgt_indices) < n_tgt):
            return set(zip(src_indices, tgt_indices))
    links = set()
    for item in line.split():
        src_index, dash, tgt_index = item.partition("-")
        if not (dash and src_index.isdigit() and tgt_index.isdigit()):
            raise InputError(f"{where}: malformed link {item!r} (expected 'i-j' with word indices)")
        i, j = int(src_index), int(tgt_index)
        if i >= n_src:
            raise InputError(f"{where}: link {item!r} points past the end of the source sentence ({n_src} words)")
        if j >= n_tgt:
            raise InputError(f"{where}: link {item!r} points past the end of the target sentence ({n_tgt} words)")
        links.add((i, j))
    return links


def symmetrize(forward: set[Link], reverse: set[Link], method: str) -> set[Link]:
    """Combine the two directional alignments (both in ``src-tgt`` order).

    ``intersection`` keeps links both directions agree on (one-to-one, high precision);
    ``grow-diag-final-and`` (Koehn et al., 2005) starts there and adds neighbouring union links,
    then union links between words that are both still unaligned.
    """
    intersection = forward & reverse
    if method == "intersection":
        return intersection
    if method != "grow-diag-final-and":
        raise ValueError(f"symmetrization={method!r} is not valid; choose one of {', '.join(map(repr, SYMMETRIZATIONS))}")
    union = forward | reverse
    alignment = set(intersection)
    aligned_src = {i for i, _ in alignment}
    aligned_tgt = {j for _, j in alignment}
    neighbours = [(-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)]
    added = True
    while added:
        added = False
        for i, j in sorted(alignment):
            for di, dj in neighbours:
                link = (i + di, j + dj)
                if link in union and link not in alignment and (link[0] not in aligned_src or link[1] not in aligned_tgt):
                    alignment.add(link)
                    aligned_src.add(link[0])
                    aligned_tgt.add(link[1])
                    added = True
    for directional in (forward, reverse):
        for i, j in sorted(directional):
            if i not in aligned_src and j not in aligned_tgt:
                alignment.add((i, j))
                aligned_src.add(i)
                aligned_tgt.add(j)
    return alignment


def link_candidates(links: set[Link]) -> tuple[list[Candidate], int]:
    """Group links into connected components (one-to-one links stay single words, a word aligned
    to several neighbours becomes a phrase) and return ``(candidates, discontiguous_links)``.

    A component whose words are not contiguous on both sides is not a phrase: its links are
    counted in ``discontiguous_links`` instead.
    """
    if not links:
        return [], 0
    if len({i for i, _ in links}) == len(links) == len({j for _, j in links}):  # one-to-one, e.g. intersection
        return sorted((i, i + 1, j, j + 1, 1) for i, j in links), 0
    parent: dict = {}

    def root(node):
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for i, j in links:
        parent[root(("s", i))] = root(("t", j))
    components: dict = defaultdict(list)
    for link in links:
        components[root(("s", link[0]))].append(link)
    candidates, discontiguous = [], 0
    for component in components.values():
        src = {i for i, _ in component}
        tgt = {j for _, j in component}
        if max(src) - min(src) + 1 != len(src) or max(tgt) - min(tgt) + 1 != len(tgt):
            discontiguous += len(component)
            continue
        candidates.append((min(src), max(src) + 1, min(tgt), max(tgt) + 1, len(component)))
    candidates.sort()
    return candidates, discontiguous


@dataclass
class WordList:
    """A bilingual word list for one language pair, matched on whole tokens, case-insensitively.

    Entries are segmented with :func:`data_prep.segment.segment`, so a multi-word entry (or a
    Chinese word, a phrase of characters) matches a run of consecutive tokens.
    """

    src_lang: str
    tgt_lang: str
    translations: dict[tuple[str, ...], set[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(set))
    src_by_first_token: dict[str, set[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(set))
    tgt_by_first_token: dict[str, set[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(set))

    def __len__(self) -> int:
        return sum(len(targets) for targets in self.translations.values())

    def add(self, src_entry: str, tgt_entry: str) -> None:
        """Add one ``src_entry`` ↔ ``tgt_entry`` pair (blank entries are ignored)."""
        src, tgt = entry_tokens(src_entry), entry_tokens(tgt_entry)
        if src and tgt:
            self.translations[src].add(tgt)
            self.src_by_first_token[src[0]].add(src)
            self.tgt_by_first_token[tgt[0]].add(tgt)

    def reversed(self) -> "WordList":
        """The same list for the opposite direction."""
        result = WordList(self.tgt_lang, self.src_lang)
        for src, targets in self.translations.items():
            for tgt in targets:
                result.add(" ".join(tgt), " ".join(src))
        return result

    @classmethod
    def from_muse_file(cls, src_lang: str, tgt_lang: str, path: str) -> "WordList":
        """Read a MUSE-style list: ``src tgt`` per line, or ``src<TAB>tgt`` for multi-word entries."""
        word_list = cls(src_lang, tgt_lang)
        for line_number, text in read_text_lines(path):
            if not text.strip():
                continue
            fields = text.split("\t") if "\t" in text else text.split()
            if len(fields) != 2:
                raise InputError(
                    f"{path}:{line_number}: expected 2 fields 'src tgt' (tab-separated for multi-word "
                    f"entries), got {len(fields)}"
                )
            word_list.add(fields[0], fields[1])
        return word_list

    @classmethod
    def from_parallel_files(cls, src_lang: str, tgt_lang: str, src_path: str, tgt_path: str) -> "WordList":
        """Read line-parallel lists: line *i* of ``src_path`` translates line *i* of ``tgt_path``."""
        word_list = cls(src_lang, tgt_lang)
        for src_entry, tgt_entry in read_line_aligned(src_path, tgt_path):
            word_list.add(src_entry, tgt_entry)
        return word_list

    def candidates(self, src_text: str, src_tokens: list[Token], tgt_text: str, tgt_tokens: list[Token]):
        """Match the list against one sentence pair.

        Returns ``(candidates, repeated, overlapping)``: matches whose entry occurs exactly once in
        each sentence, longest first, never two sharing a token; ``repeated`` counts matches
        dropped because an entry occurs more than once in its sentence, ``overlapping`` those
        that overlap a longer (or earlier) accepted match.
        """
        src_occurrences = _occurrences(src_text, src_tokens, self.src_by_first_token)
        if not src_occurrences:
            return [], 0, 0
        tgt_occurrences = _occurrences(tgt_text, tgt_tokens, self.tgt_by_first_token)
        matches, repeated = [], 0
        for src_entry, src_spans in src_occurrences.items():
            for tgt_entry in self.translations[src_entry]:
                tgt_spans = tgt_occurrences.get(tgt_entry)
                if tgt_spans is None:
                    continue
                if len(src_spans) > 1 or len(tgt_spans) > 1:
                    repeated += 1
                    continue
                matches.append((src_spans[0], tgt_spans[0]))
        matches.sort(key=lambda m: (-(m[0][1] - m[0][0] + m[1][1] - m[1][0]), m))
        used_src, used_tgt, candidates, overlapping = set(), set(), [], 0
        for (src_start, src_end), (tgt_start, tgt_end) in matches:
            src_range, tgt_range = range(src_start, src_end), range(tgt_start, tgt_end)
            if used_src.intersection(src_range) or used_tgt.intersection(tgt_range):
                overlapping += 1
                continue
            used_src.update(src_range)
            used_tgt.update(tgt_range)
            candidates.append((src_start, src_end, tgt_start, tgt_end, 1))
        candidates.sort()
        return candidates, repeated, overlapping


def entry_tokens(entry: str) -> tuple[str, ...]:
    """A word-list entry as the case-folded surface forms of its tokens."""
    return tuple(entry[start:end].casefold() for start, end, _ in segment(entry))


def _occurrences(text: str, tokens: list[Token], by_first_token: dict) -> dict[tuple[str, ...], list[tuple[int, int]]]:
    """Every entry of ``by_first_token`` found in the sentence, with the token spans where it occurs."""
    folded = [text[start:end].casefold() for start, end, _ in tokens]
    found: dict = defaultdict(list)
    for position, token in enumerate(folded):
        for entry in by_first_token.get(token, ()):
            end = position + len(entry)
            if tuple(folded[position:end]) == entry:
                found[entry].append((position, end))
    return found


def load_word_list_dir(directory: str, src_lang: str, tgt_lang: str) -> WordList | None:
    """The list for a pair from a directory of line-parallel files ``{lang}_uni.txt`` or
    ``{lang}.txt`` (the ML-CTL release layout); None when either language has no file."""
    paths = []
    for lang in (src_lang, tgt_lang):
        found = [path for name in (f"{lang}_uni.txt", f"{lang}.txt")
                 if os.path.isfile(path := os.path.join(directory, name))]
        if not found:
            return None
        paths.append(found[0])
    return WordList.from_parallel_files(src_lang, tgt_lang, *paths)

