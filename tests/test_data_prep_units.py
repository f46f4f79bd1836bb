"""data_prep building blocks: segmentation per script, Pharaoh parsing, symmetrisation, phrases,
word-list matching, the validation split and token spans."""
import math

import pytest

from data_prep import InputError, WordList
from data_prep.segment import NUMBER, PUNCT, WORD, segment, whitespace_tokens
from data_prep.word_pairs import link_candidates, parse_pharaoh, symmetrize
from data_prep.wps import TokenizedText, in_validation_split, pair_digest


def surfaces(text, tokens):
    return [(text[start:end], kind) for start, end, kind in tokens]


def test_latin_words_keep_hyphens_split_apostrophes_and_classify_numbers():
    text = "L'homme porte un T-shirt, 3.5 kg en 1990s!"
    assert surfaces(text, segment(text)) == [
        ("L", WORD), ("'", PUNCT), ("homme", WORD), ("porte", WORD), ("un", WORD), ("T-shirt", WORD),
        (",", PUNCT), ("3", NUMBER), (".", PUNCT), ("5", NUMBER), ("kg", WORD), ("en", WORD),
        ("1990s", WORD), ("!", PUNCT),
    ]


def test_combining_marks_and_zwnj_stay_inside_words():
    hindi = "हिन्दी भाषा"
    persian = "می\u200cخواهم بروم"
    assert [hindi[s:e] for s, e, _ in segment(hindi)] == ["हिन्दी", "भाषा"]
    assert [persian[s:e] for s, e, _ in segment(persian)] == ["می\u200cخواهم", "بروم"]


def test_han_is_one_word_per_character_and_katakana_runs_stay_whole():
    chinese = "我的电脑很好。"
    assert surfaces(chinese, segment(chinese)) == [
        ("我", WORD), ("的", WORD), ("电", WORD), ("脑", WORD), ("很", WORD), ("好", WORD), ("。", PUNCT),
    ]
    japanese = "私はコーヒーを飲みます"
    assert [japanese[s:e] for s, e, _ in segment(japanese)] == ["私", "は", "コーヒー", "を", "飲", "み", "ま", "す"]
    mixed = "用iPhone拍照"
    assert [mixed[s:e] for s, e, _ in segment(mixed)] == ["用", "iPhone", "拍", "照"]


def test_thai_splits_into_character_clusters_that_cover_the_text():
    thai = "ผู้ชายกำลังเดิน"
    clusters = [thai[s:e] for s, e, _ in segment(thai)]
    assert clusters == ["ผู้", "ชา", "ย", "กำ", "ลั", "ง", "เดิ", "น"]
    assert "".join(clusters) == thai


def test_whitespace_tokens_are_what_pharaoh_files_index():
    text = "l'homme  mange 3,5 pommes ."
    assert surfaces(text, whitespace_tokens(text)) == [
        ("l'homme", WORD), ("mange", WORD), ("3,5", NUMBER), ("pommes", WORD), (".", PUNCT),
    ]


def test_parse_pharaoh_reads_links_and_rejects_bad_indices():
    assert parse_pharaoh("0-0 2-1 1-1", 3, 2, "a.txt:1") == {(0, 0), (2, 1), (1, 1)}
    assert parse_pharaoh("", 3, 2, "a.txt:1") == set()
    with pytest.raises(InputError, match=r"^a\.txt:7: link '3-0' points past the end of the source sentence \(3 words\)$"):
        parse_pharaoh("0-0 3-0", 3, 2, "a.txt:7")
    with pytest.raises(InputError, match=r"^a\.txt:7: link '1-2' points past the end of the target sentence \(2 words\)$"):
        parse_pharaoh("1-2", 3, 2, "a.txt:7")
    with pytest.raises(InputError, match=r"^a\.txt:2: malformed link '0:1' \(expected 'i-j' with word indices\)$"):
        parse_pharaoh("0:1", 3, 2, "a.txt:2")


def test_symmetrize_intersection_and_grow_diag_final_and():
    forward = {(0, 0), (1, 1), (1, 2), (4, 4)}
    reverse = {(0, 0), (1, 1), (2, 2)}
    assert symmetrize(forward, reverse, "intersection") == {(0, 0), (1, 1)}
    # (1,2) and (2,2) grow from (1,1); (4,4) is isolated and joins in the final-and step.
    assert symmetrize(forward, reverse, "grow-diag-final-and") == {(0, 0), (1, 1), (1, 2), (2, 2), (4, 4)}
    # A union link touching an aligned word on both sides is never added.
    assert symmetrize({(0, 0), (1, 1)}, {(0, 0), (1, 1), (0, 1)}, "grow-diag-final-and") == {(0, 0), (1, 1)}


def test_links_group_into_contiguous_phrases_and_discontiguous_ones_are_counted():
    links = {(0, 0), (1, 1), (1, 2), (3, 5), (3, 7)}
    candidates, discontiguous = link_candidates(links)
    assert candidates == [(0, 1, 0, 1, 1), (1, 2, 1, 3, 2)]
    assert discontiguous == 2


def test_word_list_matches_whole_words_once_per_sentence():
    word_list = WordList("en", "fr")
    for src, tgt in [("art", "art"), ("ice cream", "glace"), ("cream", "crème"), ("cat", "chat"), ("party", "fête")]:
        word_list.add(src, tgt)

    def match(src, tgt):
        return word_list.candidates(src, segment(src), tgt, segment(tgt))

    # "art" inside "party" is no match; "party" is.
    assert match("A party for everyone", "Une fête pour l'art") == ([(1, 2, 1, 2, 1)], 0, 0)
    # Multi-word entry, matched whole; "cream" inside it overlaps the longer match.
    assert match("Ice cream for you", "De la glace à la crème") == ([(0, 2, 2, 3, 1)], 0, 1)
    # "cream" twice in the source (once inside "ice cream"): repeated, counted, never guessed.
    assert match("Ice cream and cream", "De la glace et de la crème") == ([(0, 2, 2, 3, 1)], 1, 0)
    # "cat" twice in the source: ambiguous, dropped and counted.
    assert match("A cat sees a cat", "Un chat voit un chat") == ([], 1, 0)
    reverse = word_list.reversed()
    assert reverse.candidates("une glace", segment("une glace"), "an ice cream", segment("an ice cream"))[0] == [
        (1, 2, 1, 3, 1)
    ]


def test_word_list_matches_chinese_words_as_character_phrases():
    word_list = WordList("en", "zh")
    word_list.add("river", "河流")
    word_list.add("cat", "猫")
    src, tgt = "The cat is near the river", "猫在河流旁边"
    candidates, repeated, overlapping = word_list.candidates(src, segment(src), tgt, segment(tgt))
    assert candidates == [(1, 2, 0, 1, 1), (5, 6, 2, 4, 1)]
    assert (repeated, overlapping) == (0, 0)


def test_validation_split_is_by_distinct_pair_near_the_fraction_and_seeded():
    pairs = [(f"source {i}", f"target {i}") for i in range(10_000)]
    chosen = {pair for pair in pairs if in_validation_split(pair_digest(*pair, seed=0), 0.3)}
    assert abs(len(chosen) - 3_000) < 4 * math.sqrt(10_000 * 0.3 * 0.7)  # four binomial standard deviations
    assert chosen != {pair for pair in pairs if in_validation_split(pair_digest(*pair, seed=1), 0.3)}
    assert not any(in_validation_split(pair_digest(*pair, seed=0), 0.0) for pair in pairs)
    assert pair_digest("a b", "c", 0) == pair_digest("a b", "c", 0) != pair_digest("a", " bc", 0)


def word_piece_encoding(text, max_length):
    """Encode ``text`` with a hand-made WordPiece vocabulary where "black" is "bl" + "##ack"."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "the": 3, "bl": 4, "##ack": 5, "cat": 6, "sleeps": 7}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    tokenizer.enable_truncation(max_length)
    encoding = tokenizer.encode(text)
    return TokenizedText(encoding.ids, encoding, len(encoding.ids) >= max_length)


def test_token_span_maps_characters_to_tokens_and_detects_truncation():
    text = "the black cat sleeps"
    full = word_piece_encoding(text, 16)
    assert full.input_ids == [1, 3, 4, 5, 6, 7, 2]
    assert full.span(4, 9) == (2, 4)  # "black" = bl ##ack, counting [CLS]
    assert full.span(10, 13) == (4, 5)
    assert full.span(0, 3) == (1, 2)
    cut = word_piece_encoding(text, 4)  # [CLS] the bl [SEP]
    assert cut.input_ids == [1, 3, 4, 2]
    assert cut.span(0, 3) == (1, 2)
    assert cut.span(4, 9) == "truncated"  # half of "black" is gone: the word is dropped
    assert cut.span(14, 20) == "truncated"
