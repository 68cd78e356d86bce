"""Loading and validating the lexicon data files (``moderation/risk/data/``).

The files are plain JSON so a clinician can review a change as a readable diff and an admin
can edit them without touching code. Validation is strict and names the file and the field:
a typo in a category, a severity or a marker type must stop the server from starting with a
clear message, never silently drop a cue. The format is documented in docs/risk-detection.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Final

from moderation.risk.patterns import PatternError, expand
from moderation.risk.types import CATEGORIES, SEVERITIES, Category, Severity

FORMAT_VERSION: Final = 1
MANIFEST_NAME: Final = "manifest.json"

#: Context markers a language file may define, and what each one does (see context.py).
MARKER_TYPES: Final[dict[str, str]] = {
    "negation": "negates a cue that follows it closely in the same clause",
    "negation_after": "negates a cue that it follows closely ('suicidal? not anymore')",
    "negation_exception": "phrases whose negation word negates nothing ('can't stop')",
    "past": "places the sentence in the past (a disclosure, not current risk)",
    "present": "places the clause in the present; overrides 'past'",
    "reported": "reported speech: someone else said or asked it",
    "hypothetical": "a question, condition or general statement, often supportive",
    "media": "talk about a film, book, song or the news",
    "third_party": "the cue is about someone else",
    "jest": "joking ('lol', 'jk')",
    "urgency": "imminence anywhere in the message: 'tonight', 'right now'",
    "clause_break": "words that start a new clause ('but', 'and now')",
    "subject": "a first-person subject that restarts a clause and ends a negation's reach",
}
SUPPRESSION_REASONS: Final = frozenset(
    {"negation", "past", "reported", "hypothetical", "media", "third_party", "jest"}
)
_CUE_KEYS: Final = frozenset(
    {
        "id",
        "category",
        "severity",
        "weight",
        "patterns",
        "all_of",
        "sequence",
        "max_gap",
        "note",
        "examples",
    }
)
_LANGUAGE_KEYS: Final = frozenset(
    {"format", "language", "version", "description", "sets", "markers", "idioms", "cues"}
)


class LexiconError(ValueError):
    """The data files are invalid; the message names the file and the offending field."""


@dataclass(frozen=True, slots=True)
class Cue:
    """A risk cue: a list of phrasings (``patterns``), a co-occurrence (``all_of``) or an
    ordered ``sequence``.

    With ``all_of`` every part must match within one sentence, in any order. With
    ``sequence`` the parts must follow each other in order, at most ``max_gap`` words apart,
    within one sentence ("{AGENT}" then "is outside my door"): this keeps the automaton small
    where a full template would multiply into hundreds of thousands of variants. Context rules
    are applied to the LAST part, which by convention is the predicate.
    """

    id: str
    language: str
    category: Category
    severity: Severity
    weight: float
    patterns: tuple[str, ...]
    parts: tuple[tuple[str, ...], ...]
    ordered: bool
    max_gap: int
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LanguagePack:
    language: str
    version: str
    sets: Mapping[str, tuple[str, ...]]
    markers: Mapping[str, tuple[str, ...]]
    idioms: tuple[str, ...]
    cues: tuple[Cue, ...]


@dataclass(frozen=True, slots=True)
class CategoryPolicy:
    """How context may discount a category, and whether urgency escalates it."""

    suppressed_by: frozenset[str]
    escalate_with_urgency: bool


@dataclass(frozen=True, slots=True)
class Scoring:
    min_weight: float
    negation_window: int
    negation_after_window: int
    past_factor: float


@dataclass(frozen=True, slots=True)
class Lexicon:
    version: str
    languages: tuple[LanguagePack, ...]
    policies: Mapping[str, CategoryPolicy]
    scoring: Scoring


def _fail(where: str, message: str) -> LexiconError:
    return LexiconError(f"{where}: {message}")


def _require(
    mapping: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str
) -> Any:
    if key not in mapping:
        raise _fail(where, f"missing required field {key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise _fail(f"{where}.{key}", f"expected {names}, got {type(value).__name__}")
    return value


def _strings(value: Any, where: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise _fail(where, "expected a non-empty list of strings")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise _fail(f"{where}[{index}]", "expected a non-empty string")
    return tuple(value)


def _check_format(data: Mapping[str, Any], where: str) -> None:
    found = _require(data, "format", int, where)
    if found != FORMAT_VERSION:
        raise _fail(f"{where}.format", f"unsupported format {found}, expected {FORMAT_VERSION}")


def _check_patterns(patterns: Sequence[str], sets: Mapping[str, Sequence[str]], where: str) -> None:
    for index, pattern in enumerate(patterns):
        try:
            expand(pattern, sets)
        except PatternError as exc:
            raise _fail(f"{where}[{index}]", str(exc)) from None


def _parse_cue(raw: Any, language: str, sets: Mapping[str, Sequence[str]], where: str) -> Cue:
    if not isinstance(raw, dict):
        raise _fail(where, "expected an object")
    unknown = set(raw) - _CUE_KEYS
    if unknown:
        raise _fail(where, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(_CUE_KEYS)}")
    cue_id = _require(raw, "id", str, where)
    where = f"{where}({cue_id})"
    category = _require(raw, "category", str, where)
    if category not in CATEGORIES:
        raise _fail(f"{where}.category", f"unknown category {category!r}; one of {CATEGORIES}")
    severity = _require(raw, "severity", str, where)
    if severity not in SEVERITIES:
        raise _fail(f"{where}.severity", f"unknown severity {severity!r}; one of {SEVERITIES}")
    weight = float(_require(raw, "weight", (int, float), where))
    if not 0.0 < weight <= 1.0:
        raise _fail(f"{where}.weight", f"must be in (0, 1], got {weight}")
    patterns: tuple[str, ...] = ()
    parts: tuple[tuple[str, ...], ...] = ()
    shapes = [key for key in ("patterns", "all_of", "sequence") if key in raw]
    if len(shapes) != 1:
        raise _fail(where, "needs exactly one of 'patterns', 'all_of' or 'sequence'")
    shape = shapes[0]
    if shape == "patterns":
        patterns = _strings(raw["patterns"], f"{where}.patterns")
        _check_patterns(patterns, sets, f"{where}.patterns")
    else:
        raw_parts = raw[shape]
        if not isinstance(raw_parts, list) or len(raw_parts) < 2:
            raise _fail(f"{where}.{shape}", "expected a list of at least two pattern lists")
        parts = tuple(_strings(part, f"{where}.{shape}[{i}]") for i, part in enumerate(raw_parts))
        for i, part in enumerate(parts):
            _check_patterns(part, sets, f"{where}.{shape}[{i}]")
    max_gap = raw.get("max_gap", 2)
    if shape != "sequence" and "max_gap" in raw:
        raise _fail(f"{where}.max_gap", "only applies to a 'sequence'")
    if not isinstance(max_gap, int) or isinstance(max_gap, bool) or not 0 <= max_gap <= 10:
        raise _fail(f"{where}.max_gap", "expected a whole number of words from 0 to 10")
    examples = _strings(raw.get("examples", []), f"{where}.examples", allow_empty=True)
    if "note" in raw and not isinstance(raw["note"], str):
        raise _fail(f"{where}.note", "expected a string")
    return Cue(
        id=cue_id,
        language=language,
        category=category,
        severity=severity,
        weight=weight,
        patterns=patterns,
        parts=parts,
        ordered=shape == "sequence",
        max_gap=max_gap,
        examples=examples,
    )


def parse_language(data: Any, where: str) -> LanguagePack:
    """Validate one language file's parsed JSON."""
    if not isinstance(data, dict):
        raise _fail(where, "expected a JSON object")
    unknown = set(data) - _LANGUAGE_KEYS
    if unknown:
        raise _fail(where, f"unknown field(s) {sorted(unknown)}")
    _check_format(data, where)
    language = _require(data, "language", str, where)
    version = _require(data, "version", str, where)
    raw_sets = data.get("sets", {})
    if not isinstance(raw_sets, dict):
        raise _fail(f"{where}.sets", "expected an object of NAME: [strings]")
    sets = {name: _strings(items, f"{where}.sets.{name}") for name, items in raw_sets.items()}
    for name in sets:
        if not name.isupper() or not name.replace("_", "").isalnum():
            raise _fail(f"{where}.sets.{name}", "set names are UPPER_CASE letters, digits, _")
    raw_markers = _require(data, "markers", dict, where)
    markers: dict[str, tuple[str, ...]] = {}
    for kind, items in raw_markers.items():
        if kind not in MARKER_TYPES:
            raise _fail(
                f"{where}.markers.{kind}", f"unknown marker type; one of {list(MARKER_TYPES)}"
            )
        markers[kind] = _strings(items, f"{where}.markers.{kind}", allow_empty=True)
        _check_patterns(markers[kind], sets, f"{where}.markers.{kind}")
    idioms = _strings(data.get("idioms", []), f"{where}.idioms", allow_empty=True)
    _check_patterns(idioms, sets, f"{where}.idioms")
    raw_cues = _require(data, "cues", list, where)
    cues = tuple(
        _parse_cue(raw, language, sets, f"{where}.cues[{index}]")
        for index, raw in enumerate(raw_cues)
    )
    return LanguagePack(language, version, sets, markers, idioms, cues)


def _parse_policies(raw: Any, where: str) -> dict[str, CategoryPolicy]:
    if not isinstance(raw, dict):
        raise _fail(where, "expected an object keyed by category")
    policies: dict[str, CategoryPolicy] = {}
    for category in CATEGORIES:
        if category not in raw:
            raise _fail(where, f"missing category {category!r}")
    for category, body in raw.items():
        if category not in CATEGORIES:
            raise _fail(f"{where}.{category}", f"unknown category; one of {CATEGORIES}")
        here = f"{where}.{category}"
        if not isinstance(body, dict):
            raise _fail(here, "expected an object")
        reasons = _strings(_require(body, "suppressed_by", list, here), f"{here}.suppressed_by")
        for reason in reasons:
            if reason not in SUPPRESSION_REASONS:
                raise _fail(f"{here}.suppressed_by", f"unknown reason {reason!r}")
        escalate = _require(body, "escalate_with_urgency", bool, here)
        policies[category] = CategoryPolicy(frozenset(reasons), escalate)
    return policies


def _parse_scoring(raw: Any, where: str) -> Scoring:
    if not isinstance(raw, dict):
        raise _fail(where, "expected an object")
    min_weight = float(_require(raw, "min_weight", (int, float), where))
    past_factor = float(_require(raw, "past_factor", (int, float), where))
    window = _require(raw, "negation_window_tokens", int, where)
    after = _require(raw, "negation_after_window_tokens", int, where)
    if not 0 <= min_weight <= 1 or not 0 <= past_factor <= 1 or window < 0 or after < 0:
        raise _fail(where, "weights must be in [0, 1] and windows non-negative")
    return Scoring(min_weight, window, after, past_factor)


def _read_json(source: Traversable | Path, where: str) -> Any:
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(where, "file not found") from None
    except json.JSONDecodeError as exc:
        raise _fail(
            where, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def load_lexicon(directory: Traversable | Path) -> Lexicon:
    """Read and validate ``manifest.json`` and every language file it lists."""
    manifest = _read_json(directory / MANIFEST_NAME, MANIFEST_NAME)
    if not isinstance(manifest, dict):
        raise _fail(MANIFEST_NAME, "expected a JSON object")
    _check_format(manifest, MANIFEST_NAME)
    version = _require(manifest, "version", str, MANIFEST_NAME)
    files = _require(manifest, "languages", dict, MANIFEST_NAME)
    if not files:
        raise _fail(f"{MANIFEST_NAME}.languages", "lists no language file")
    policies = _parse_policies(manifest.get("categories"), f"{MANIFEST_NAME}.categories")
    scoring = _parse_scoring(manifest.get("scoring"), f"{MANIFEST_NAME}.scoring")
    packs: list[LanguagePack] = []
    seen_ids: dict[str, str] = {}
    for code, filename in files.items():
        if not isinstance(filename, str):
            raise _fail(f"{MANIFEST_NAME}.languages.{code}", "expected a file name")
        pack = parse_language(_read_json(directory / filename, filename), filename)
        if pack.language != code:
            raise _fail(f"{filename}.language", f"is {pack.language!r}, manifest says {code!r}")
        for cue in pack.cues:
            if cue.id in seen_ids:
                raise _fail(
                    f"{filename}.cues({cue.id})", f"duplicate id (also in {seen_ids[cue.id]})"
                )
            seen_ids[cue.id] = filename
        packs.append(pack)
    return Lexicon(version, tuple(packs), policies, scoring)


def shipped_data_dir() -> Traversable:
    """The data directory shipped inside the package (read with importlib.resources)."""
    return resources.files("moderation.risk") / "data"
