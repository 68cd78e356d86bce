"""The learned classifier: features shared by trainer and scorer, the numpy scorer against
scikit-learn, deterministic training, how the model and the rules combine, and the shipped
model's figures on the writer held out from training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from moderation.risk import Detector
from moderation.risk.commands import evaluate_file
from moderation.risk.features import CUE_PREFIX, WORD_PREFIX, document, grams, is_short
from moderation.risk.lexicon import shipped_data_dir
from moderation.risk.model import MODEL_NAME, WEIGHTS_NAME, RiskModel
from moderation.risk.train import CORPUS, held_out_writers

SHIPPED = Path(str(shipped_data_dir()))


@pytest.fixture(scope="module")
def model() -> RiskModel:
    return RiskModel.load(SHIPPED)


def test_grams_are_padded_char_ngrams_and_words() -> None:
    found = grams("im ok")
    assert " im" in found and "im " in found and " im " in found and " ok " in found
    assert f"{WORD_PREFIX}im" in found and f"{WORD_PREFIX}im ok" in found
    # Han text has no spaces: the clause is one "word" and its bigrams are features.
    assert "不想" in grams("我不想活了") and "死" in grams("想死")


def test_a_document_carries_the_cues_that_matched_and_what_discounted_them(
    full_detector: Detector,
) -> None:
    (text, tokens), _ = full_detector.features("When I was 12 I tried to kill myself")
    assert "kil" in text  # normalised (repeated letters folded)
    assert any(t.startswith(f"{CUE_PREFIX}s:") and t.endswith(":past") for t in tokens)
    (_, counted), _ = full_detector.features("i'm going to kill myself tonight")
    assert any(t.startswith(f"{CUE_PREFIX}c:") for t in counted)
    assert document("x", full_detector.assess("hello")) == ("x", ())


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("same", True),
        ("omg same", True),
        ("this ^", True),
        ("i am not ok", False),
        ("我也是", True),
        ("我真的不想再活下去了", False),
    ],
)
def test_short_lines(text: str, short: bool) -> None:
    assert is_short(text) is short


def test_shipped_model_reproduces_the_scores_recorded_at_training(
    model: RiskModel, full_detector: Detector
) -> None:
    assert len(model.checks) >= 10
    for check in model.checks:
        doc, dense = full_detector.features(check["text"])
        assert model.score(doc, dense).probability == pytest.approx(
            check["probability"], abs=1e-5
        ), check["text"]


def test_model_is_trained_on_training_writers_with_thresholds_chosen_without_them(
    model: RiskModel,
) -> None:
    held = held_out_writers()
    assert model.trained_on and not {f for f in model.trained_on if f.split("/")[0] in held}
    assert 0.3 <= model.threshold <= 0.9
    assert 0.0 < model.severe_threshold <= 0.5
    assert set(model.categories) == {
        "suicide",
        "self_harm",
        "immediate_danger",
        "child_at_risk",
        "harm_to_others",
        "medical_emergency",
    }
    size = (SHIPPED / MODEL_NAME).stat().st_size + (SHIPPED / WEIGHTS_NAME).stat().st_size
    assert size <= 20 * 1024 * 1024


def test_an_unknown_model_format_or_other_rule_features_are_refused() -> None:
    meta = json.loads((SHIPPED / MODEL_NAME).read_text(encoding="utf-8"))
    with np.load(SHIPPED / WEIGHTS_NAME) as npz:
        arrays = {k: npz[k] for k in npz.files}
    with pytest.raises(ValueError, match="unsupported model format"):
        RiskModel({**meta, "format": 99}, arrays)
    with pytest.raises(ValueError, match="other rule features"):
        RiskModel({**meta, "rule_features": ["rule:x"]}, arrays)


def test_a_model_only_finding_points_at_the_words_that_carried_it(
    full_detector: Detector,
) -> None:
    text = "gave my guitar and my books to my cousin, won't need them where im going"
    finding = full_detector.assess(text).top
    assert finding is not None and finding.category == "suicide"
    for evidence in finding.evidence:
        assert evidence.rule.startswith("model:")
        assert text[evidence.start : evidence.end] == evidence.cue
        assert 0 < evidence.end - evidence.start < len(text)


def test_a_critical_cue_is_never_overruled_by_the_model(
    full_detector: Detector, detector: Detector
) -> None:
    """The rules' critical finding (intent, means, a time) stands even where the model's
    probability falls short of its threshold."""
    text = "I'm going to end my life tonight, I have the rope ready"
    rules = detector.assess(text)
    assert rules.top is not None and rules.top.severity == "critical"
    found = full_detector.assess(text)
    assert found.action == "alert" and found.top is not None
    assert found.top.severity == "critical" and found.top.category == "suicide"
    assert any(not e.rule.startswith("model:") for e in found.top.evidence)


def test_a_plan_with_means_and_a_time_alerts_as_critical(full_detector: Detector) -> None:
    found = full_detector.assess("i'm going to kill myself tonight, the pills are ready")
    assert found.action == "alert"
    assert found.top is not None and found.top.category == "suicide"
    assert found.top.severity == "critical"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("he's outside my door right now and he's kicking it", "immediate_danger"),
        ("i took all my tablets an hour ago and i can't keep my eyes open", "medical_emergency"),
        (
            "my little sister is 8 and my stepdad keeps touching her, he's in her room now",
            "child_at_risk",
        ),
        (
            "i've bought a knife and i'm going round to his tonight to use it on him",
            "harm_to_others",
        ),
        ("cut myself again just now, deeper than before", "self_harm"),
    ],
)
def test_who_is_at_risk_decides_the_category(
    full_detector: Detector, text: str, category: str
) -> None:
    found = full_detector.assess(text)
    assert found.top is not None and found.top.category == category, found


@pytest.mark.parametrize(
    "text",
    [
        "hi everyone, hope you're all ok",
        "thank you, that really helped",
        "the weather is awful today",
        "this essay is killing me",
        "when i was 15 he hurt me, it took years to talk about it",
        "Second message from Ana",
        "Third message from Ana",
        "You're all making this up",
        "cutting back on sugar this month, wish me luck",
    ],
)
def test_ordinary_chat_and_past_disclosures_do_not_fire(full_detector: Detector, text: str) -> None:
    assert not full_detector.assess(text).findings, text


def test_without_a_model_file_the_detector_is_the_lexicon_alone(tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(SHIPPED, copy)
    (copy / WEIGHTS_NAME).unlink()
    detector = Detector.from_data_dir(copy)
    assert detector.model is None
    text = "gave my guitar and my books to my cousin, won't need them where im going"
    assert not detector.assess(text).findings
    assert detector.assess("i'm going to kill myself tonight").action == "alert"


def _tiny_corpus(root: Path) -> Path:
    """A copy of the shipped data with a corpus of three small writers."""
    data = root / "data"
    shutil.copytree(SHIPPED, data, ignore=shutil.ignore_patterns("corpus"))
    lines = {
        "wa": [
            ("i want to die tonight", True, "suicide"),
            ("he is outside my door", True, "immediate_danger"),
            ("i wish i could sleep forever", True, "suicide"),
            ("lovely weather today", False, "none"),
            ("i had tea with my mum", False, "none"),
        ],
        "wb": [
            ("i want to end my life", True, "suicide"),
            ("he's at the door again", True, "immediate_danger"),
            ("the weather is nice", False, "none"),
            ("tea and cake with friends", False, "none"),
        ],
        "wc": [
            ("i really want to die", True, "suicide"),
            ("lovely cake today", False, "none"),
        ],
    }
    for writer, rows in lines.items():
        (data / "corpus" / writer).mkdir(parents=True)
        (data / "corpus" / writer / "en.jsonl").write_text(
            "".join(
                json.dumps(
                    {"text": t, "risk": r, "category": c, "lang": "en", "kind": "direct"}
                    | ({"severity": "concern" if "sleep" in t else "high"} if r else {})
                )
                + "\n"
                for t, r, c in rows
            )
        )
    (data / "corpus" / "splits.json").write_text(json.dumps({"test": ["wc"]}))
    return data


def test_training_is_deterministic_and_the_scorer_matches_scikit_learn(tmp_path: Path) -> None:
    from moderation.risk.train import train

    data = _tiny_corpus(tmp_path / "one")
    first: dict[str, Any] = train("9.9.9", data, cross_validate=False)
    assert first["parity"] < 1e-4 and first["trained_lines"] == 9
    again = _tiny_corpus(tmp_path / "two")
    train("9.9.9", again, cross_validate=False)
    assert (data / MODEL_NAME).read_text() == (again / MODEL_NAME).read_text()
    with np.load(data / WEIGHTS_NAME) as a, np.load(again / WEIGHTS_NAME) as b:
        for name in a.files:
            assert np.array_equal(a[name], b[name]), name
    meta = json.loads((data / MODEL_NAME).read_text())
    assert meta["trained_on"] == ["wa/en.jsonl", "wb/en.jsonl"]  # never the held-out writer


def test_the_shipped_detector_on_the_held_out_writer(tmp_path: Path) -> None:
    """Floors under the figures in docs/risk-detection.md, on the writer no part of the
    detector was trained or tuned on: a change that loses recall fails here."""
    held = sorted(held_out_writers())
    path = tmp_path / "held_out.jsonl"
    path.write_text(
        "".join(
            p.read_text(encoding="utf-8")
            for w in held
            for p in sorted((CORPUS / w).glob("*.jsonl"))
        ),
        encoding="utf-8",
    )
    result = evaluate_file(path, write=lambda _: None)
    assert result["recall"] >= 0.79
    assert result["precision"] >= 0.91
    assert result["false_positive_rate"] <= 0.075
    assert result["critical_alerted"] >= 0.83
    assert min(v["recall"] for v in result["per_language"].values()) >= 0.65  # type: ignore[attr-defined]
