"""Scoring the detector against a labelled JSONL file (pure; the ``risk_eval`` command
prints what this computes).

A line is ``{"text": ..., "risk": true|false, "category": "<category>"|"none"}`` with the
optional keys ``severity``, ``lang``, ``kind`` and ``context`` (the preceding messages,
oldest first, as ``[{"text": ..., "same_author": true|false}]``); other keys are ignored.
A message counts as flagged when the detector would send it anywhere
(``Assessment.flagged``: a review item or an alert).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from moderation.risk.types import CATEGORIES, SEVERITIES, Assessment

_LABELS = (*CATEGORIES, "none")


class EvalDataError(ValueError):
    """A labelled file that cannot be scored; the message names the line."""


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    text: str
    risk: bool
    category: str
    severity: str | None
    lang: str = "?"
    kind: str = "?"
    context: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    example: Example
    flagged: bool
    categories: tuple[str, ...]
    severity: str | None
    micros: float
    action: str = "none"
    coverage: str = "covered"


@dataclass(slots=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_positive_rate(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def lines(self) -> int:
        return self.tp + self.fn + self.fp + self.tn


@dataclass(slots=True)
class Report:
    outcomes: list[Outcome]
    overall: Counts
    per_category: dict[str, Counts]
    flagged_recall: dict[str, float]
    critical_recall: float
    critical_support: int
    median_us: float
    p99_us: float
    errors: list[Outcome] = field(default_factory=list)
    # Flagged recall and false-positive rate per language and per kind of line, and the
    # flagged recall of the lines that carry context.
    per_language: dict[str, Counts] = field(default_factory=dict)
    per_kind: dict[str, Counts] = field(default_factory=dict)
    context_counts: Counts = field(default_factory=Counts)
    critical_alerted: float = 1.0

    @property
    def right_category(self) -> dict[str, float]:
        return {c: round(n.recall, 4) for c, n in self.per_category.items()}


def _parse_line(number: int, raw: str) -> Example:
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise EvalDataError(
            f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise EvalDataError(f"line {number}: expected a JSON object")
    text = data.get("text")
    if not isinstance(text, str):
        raise EvalDataError(f"line {number}: 'text' must be a string")
    risk = data.get("risk")
    if not isinstance(risk, bool):
        raise EvalDataError(f"line {number}: 'risk' must be true or false")
    category = data.get("category", "none" if not risk else None)
    if category not in _LABELS:
        raise EvalDataError(f"line {number}: 'category' must be one of {', '.join(_LABELS)}")
    if risk != (category != "none"):
        raise EvalDataError(
            f"line {number}: 'risk' is {str(risk).lower()} but 'category' is {category!r}"
        )
    severity = data.get("severity")
    if severity in ("none", ""):  # how some files label a safe line
        severity = None
    if severity is not None and severity not in SEVERITIES:
        raise EvalDataError(f"line {number}: 'severity' must be one of {', '.join(SEVERITIES)}")
    lang = data.get("lang", "?")
    kind = data.get("kind", "?")
    if not isinstance(lang, str) or not isinstance(kind, str):
        raise EvalDataError(f"line {number}: 'lang' and 'kind' must be strings")
    return Example(number, text, risk, category, severity, lang, kind, _context(number, data))


def _context(number: int, data: dict[str, Any]) -> tuple[tuple[str, bool], ...]:
    raw = data.get("context", [])
    if not isinstance(raw, list) or not all(
        isinstance(c, dict) and isinstance(c.get("text"), str) for c in raw
    ):
        raise EvalDataError(
            f'line {number}: \'context\' must be a list of {{"text", "same_author"}} objects'
        )
    return tuple((c["text"], bool(c.get("same_author", False))) for c in raw)


def parse_jsonl(lines: Iterable[str]) -> list[Example]:
    """Parse labelled lines (blank lines are skipped); raise EvalDataError naming the line."""
    examples = [
        _parse_line(number, raw) for number, raw in enumerate(lines, start=1) if raw.strip()
    ]
    if not examples:
        raise EvalDataError("no labelled lines found")
    return examples


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def run(
    examples: list[Example],
    assess: Callable[..., Assessment],
    clock: Callable[[], int] = time.perf_counter_ns,
) -> Report:
    """Assess every example (with its context, when it has one), timing each call, and
    compute the scores."""
    outcomes: list[Outcome] = []
    for example in examples:
        started = clock()
        assessment = (
            assess(example.text, context=example.context)
            if example.context
            else assess(example.text)
        )
        micros = (clock() - started) / 1000
        top = assessment.top
        outcomes.append(
            Outcome(
                example,
                assessment.flagged,
                tuple(f.category for f in assessment.findings),
                top.severity if top else None,
                micros,
                assessment.action,
                assessment.coverage,
            )
        )
    return score(outcomes)


def score(outcomes: list[Outcome]) -> Report:
    overall = Counts()
    per_category: dict[str, Counts] = {category: Counts() for category in CATEGORIES}
    flagged_hits: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
    critical_total = critical_hit = critical_alert = 0
    errors: list[Outcome] = []
    per_language: dict[str, Counts] = {}
    per_kind: dict[str, Counts] = {}
    context_counts = Counts()
    for outcome in outcomes:
        example = outcome.example
        groups = [
            per_language.setdefault(example.lang, Counts()),
            per_kind.setdefault(example.kind, Counts()),
        ]
        if example.context:
            groups.append(context_counts)
        for group in groups:
            _count(group, example.risk, outcome.flagged)
        if example.risk and outcome.flagged:
            overall.tp += 1
        elif example.risk:
            overall.fn += 1
        elif outcome.flagged:
            overall.fp += 1
        else:
            overall.tn += 1
        if example.risk != outcome.flagged:
            errors.append(outcome)
        if example.severity == "critical":
            critical_total += 1
            critical_hit += outcome.flagged
            critical_alert += outcome.action == "alert"
        for category, counts in per_category.items():
            labelled = example.category == category
            found = category in outcome.categories
            if labelled and found:
                counts.tp += 1
            elif labelled:
                counts.fn += 1
            elif found:
                counts.fp += 1
            else:
                counts.tn += 1
        if example.risk and outcome.flagged:
            flagged_hits[example.category] += 1
    flagged_recall: dict[str, float] = {
        c: (flagged_hits[c] / per_category[c].support if per_category[c].support else 0.0)
        for c in CATEGORIES
    }
    timings = [o.micros for o in outcomes] or [0.0]
    return Report(
        outcomes=outcomes,
        overall=overall,
        per_category=per_category,
        flagged_recall=flagged_recall,
        critical_recall=critical_hit / critical_total if critical_total else 1.0,
        critical_support=critical_total,
        median_us=statistics.median(timings),
        p99_us=_percentile(timings, 0.99),
        errors=errors,
        per_language=dict(sorted(per_language.items())),
        per_kind=dict(sorted(per_kind.items())),
        context_counts=context_counts,
        critical_alerted=critical_alert / critical_total if critical_total else 1.0,
    )


def _count(counts: Counts, truth: bool, flagged: bool) -> None:
    if truth and flagged:
        counts.tp += 1
    elif truth:
        counts.fn += 1
    elif flagged:
        counts.fp += 1
    else:
        counts.tn += 1


def format_table(report: Report) -> str:
    """A fixed-width table: per category, then overall."""
    header = (
        f"{'category':<18} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8} {'flagged':>8}"
    )
    rows = [header, "-" * len(header)]
    for category, counts in report.per_category.items():
        rows.append(
            f"{category:<18} {counts.precision:>9.3f} {counts.recall:>7.3f} {counts.f1:>6.3f} "
            f"{counts.support:>8d} {report.flagged_recall[category]:>8.3f}"
        )
    overall = report.overall
    rows.append("-" * len(header))
    rows.append(
        f"{'overall (any)':<18} {overall.precision:>9.3f} {overall.recall:>7.3f} "
        f"{overall.f1:>6.3f} {overall.support:>8d} {overall.recall:>8.3f}"
    )
    rows.append(
        f"messages {len(report.outcomes)}, false-positive rate "
        f"{overall.false_positive_rate:.3f}, critical recall {report.critical_recall:.3f} "
        f"({report.critical_support} critical), median {report.median_us:.1f} µs, "
        f"p99 {report.p99_us:.1f} µs"
    )
    rows.append("recall = the right category found; flagged = any finding at all")
    for title, groups in (("language", report.per_language), ("kind", report.per_kind)):
        rows.append("")
        rows.append(f"{title:<18} {'lines':>6} {'risky':>6} {'recall':>7} {'fpr':>6}")
        for name, counts in groups.items():
            rows.append(
                f"{name:<18} {counts.lines:>6d} "
                f"{counts.support:>6d} {counts.recall:>7.3f} {counts.false_positive_rate:>6.3f}"
            )
    ctx = report.context_counts
    rows.append(
        f"\nwith context: {ctx.lines} lines, recall {ctx.recall:.3f}, "
        f"false-positive rate {ctx.false_positive_rate:.3f}; critical lines alerted "
        f"{report.critical_alerted:.3f}"
    )
    outside = sum(o.coverage == "outside" for o in report.outcomes)
    rows.append(f"marked outside the languages the detector reads: {outside} lines")
    return "\n".join(rows)


def summary(report: Report) -> dict[str, Any]:
    """The machine-readable summary printed as the last line of ``risk_eval``."""
    overall = report.overall
    return {
        "messages": len(report.outcomes),
        "precision": round(overall.precision, 4),
        "recall": round(overall.recall, 4),
        "f1": round(overall.f1, 4),
        "false_positive_rate": round(overall.false_positive_rate, 4),
        "critical_recall": round(report.critical_recall, 4),
        "per_category_recall": {c: round(n.recall, 4) for c, n in report.per_category.items()},
        "per_category": {
            c: {
                "recall": round(n.recall, 4),
                "precision": round(n.precision, 4),
                "f1": round(n.f1, 4),
                "flagged_recall": round(report.flagged_recall[c], 4),
                "support": n.support,
            }
            for c, n in report.per_category.items()
        },
        "right_category": report.right_category,
        "per_language": {
            lang: {
                "recall": round(n.recall, 4),
                "false_positive_rate": round(n.false_positive_rate, 4),
                "lines": n.lines,
            }
            for lang, n in report.per_language.items()
        },
        "per_kind": {kind: round(n.recall, 4) for kind, n in report.per_kind.items()},
        "context_recall": round(report.context_counts.recall, 4),
        "critical_alerted": round(report.critical_alerted, 4),
        "median_us": round(report.median_us, 1),
        "p99_us": round(report.p99_us, 1),
        # Lines the detector said it cannot read (shown to facilitators as not assessed).
        "outside_coverage": sum(o.coverage == "outside" for o in report.outcomes),
    }
