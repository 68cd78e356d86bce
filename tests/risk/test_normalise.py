# ruff: noqa: RUF001 - look-alike and invisible characters are the test input.
from __future__ import annotations

import pytest

from moderation.risk.normalise import normalise, normalise_pattern


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I'm SOOOO done", "im so done"),
        ("s u i c i d e", "suicide"),
        ("s.u.i.c.i.d.e", "suicide"),
        ("k-y-s", "kys"),
        ("k1ll mys3lf", "kil myself"),
        ("$uicide", "suicide"),
        ("k!ll", "kil"),
        ("d13", "die"),
        ("Quiero MORIIIR mañana", "quiero morir manana"),
        ("Chcę umrzeć, zabiję się", "chce umrzec, zabije sie"),
        ("ł ø", "l o"),
        ("بدّي أموت", "بدي اموت"),
        ("موووووت", "موت"),
        ("میں مرنا چاہتی ہوں", "ميں مرنا چاهتي هوں"),
        ("Ｆｕｌｌ　ｗｉｄｔｈ", "ful width"),
        ("a\u200bb\u200dc", "abc"),
        ("e\u0301", "e"),
        ("don’t", "dont"),
        ("我想死。真的", "我想死.真的"),
        ("help!!! now", "help. now"),
        ("wait ,, what", "wait, what"),
        ("", ""),
        ("   \n\t ", ""),
    ],
)
def test_normalise_canonical_form(raw: str, expected: str) -> None:
    assert normalise(raw).text == expected


@pytest.mark.parametrize("raw", ["when i was 12", "at 3am", "24 7", "100mg", "covid 19"])
def test_digits_outside_words_are_kept(raw: str) -> None:
    assert normalise(raw).text == raw.lower()


def test_offsets_point_into_the_original() -> None:
    raw = "Honestly I'm sooo DONE, k1ll mys3lf"
    result = normalise(raw)
    start = result.text.index("kil myself")
    span = result.original_span(start, start + len("kil myself"))
    assert raw[span[0] : span[1]] == "k1ll mys3lf"
    assert len(result.offsets) == len(result.text)
    assert all(0 <= o < len(raw) for o in result.offsets)


def test_offsets_skip_removed_characters() -> None:
    raw = "a\u200bkill"
    result = normalise(raw)
    assert result.text == "akil"
    assert result.original_span(1, 4) == (2, 6)  # the whole "kill", zero-width space excluded
    assert result.original_span(0, 1) == (0, 1)


@pytest.mark.parametrize(
    "pattern", ["kill myself", "k m s", "want  to   die", "aaa bbb", "hello world", "off"]
)
def test_pattern_shortcut_agrees_with_full_normaliser(pattern: str) -> None:
    assert normalise_pattern(pattern) == normalise(pattern).text.strip(" .,")
