# ruff: noqa: RUF001 - Turkish and other scripts are written here on purpose.
"""A message in a language the detector does not read is never passed as safe in silence:
the assessment names the language and says it is outside coverage. These lines are written
here, not taken from the corpus or the language samples."""

from __future__ import annotations

import pytest

from moderation.risk import Detector
from moderation.risk.language import COVERED, UNDETERMINED, main_script


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("I don't really know how to say this but tonight feels heavy", "en"),
        ("Dw i ddim yn gwybod be i neud heno, mae popeth yn ormod", "cy"),
        ("Nie wiem co robić, wszystko mnie dzisiaj przytłacza", "pl"),
        ("No sé qué hacer, hoy todo me pesa muchísimo", "es"),
        ("mujhe samajh nahi aa raha kya karun, sab kuch bohat bhari lag raha hai", "ur"),
        ("مجھے سمجھ نہیں آ رہا کیا کروں، سب کچھ بہت بھاری لگ رہا ہے", "ur"),
        ("ana mesh 3arfa a3mel eh, kol 7aga ta2eela awi ennaharda", "ar"),
        ("أنا مش عارفة أعمل إيه، كل حاجة تقيلة أوي النهاردة", "ar"),
        ("今天真的不知道该怎么办了感觉什么都压着我", "zh"),
    ],
)
def test_each_covered_language_is_read_as_covered(
    full_detector: Detector, text: str, language: str
) -> None:
    found = full_detector.assess(text)
    assert found.coverage == "covered" and found.assessed
    assert found.language == language


@pytest.mark.parametrize(
    "text",
    [
        "Não sei o que fazer, hoje tudo está muito pesado para mim",  # Portuguese
        "Nu știu ce să fac, astăzi totul mi se pare foarte greu",  # Romanian
        "Ne yapacağımı bilmiyorum, bugün her şey çok ağır geliyor",  # Turkish
        "Je ne sais pas quoi faire, tout me pèse aujourd'hui",  # French
        "Я не знаю, что делать, сегодня всё очень тяжело",  # Russian, Cyrillic
        "আমি জানি না কী করব, আজ সবকিছু খুব ভারী লাগছে",  # Bengali
        "ਮੈਨੂੰ ਨਹੀਂ ਪਤਾ ਕੀ ਕਰਾਂ, ਅੱਜ ਸਭ ਕੁਝ ਬਹੁਤ ਭਾਰੀ ਲੱਗਦਾ ਹੈ",  # Punjabi, Gurmukhi
        "मुझे नहीं पता क्या करूँ, आज सब कुछ बहुत भारी लग रहा है",  # Hindi, Devanagari
        "今日はどうしたらいいかわからない、全部が重く感じる",  # Japanese (kana)
    ],
)
def test_a_language_outside_coverage_is_marked_not_assessed(
    full_detector: Detector, text: str
) -> None:
    found = full_detector.assess(text)
    assert found.coverage == "outside" and not found.assessed
    assert found.language not in COVERED and found.language != "und"


@pytest.mark.parametrize("text", ["same", "ok", "💜💜", "jaja", "lol same tbh", "我也是"])
def test_a_line_too_short_to_tell_counts_as_covered(full_detector: Detector, text: str) -> None:
    found = full_detector.assess(text)
    assert (found.language, found.coverage) == (UNDETERMINED.code, "covered")


def test_outside_coverage_is_not_a_finding(full_detector: Detector) -> None:
    """Not assessed is its own state: it raises no risk finding by itself."""
    found = full_detector.assess("Hoje o dia foi longo mas estou bem, obrigado a todos")
    assert not found.assessed and not found.flagged and found.action == "none"


def test_the_script_decides_first() -> None:
    assert main_script("hello там")[0] == "LATIN"
    assert main_script("привет мир hi")[0] == "CYRILLIC"
    assert main_script("12345 !!")[1] == 0
