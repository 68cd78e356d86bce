"""The detector: lexicon → one automaton, message → normalise, scan, apply context, score.

Built once (``Detector.default()`` is cached for the process); ``assess`` is then pure,
thread-safe and allocation-light, because it runs on every chat message before fan-out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib.resources.abc import Traversable
from pathlib import Path

from moderation.risk import context
from moderation.risk.conversation import CONVERSATION_NAME, Phrases
from moderation.risk.features import RULE_FEATURES, Document, document, is_short, rule_vector
from moderation.risk.language import (
    LANGID_NAME,
    LANGID_WEIGHTS,
    UNDETERMINED,
    Language,
    LanguageIdentifier,
)
from moderation.risk.lexicon import Cue, Lexicon, load_lexicon, shipped_data_dir
from moderation.risk.matching import Hit, Kind, Matcher
from moderation.risk.model import MODEL_NAME, WEIGHTS_NAME, Context, RiskModel, Score
from moderation.risk.normalise import NormalisedText, normalise
from moderation.risk.patterns import expand
from moderation.risk.types import (
    NO_RISK,
    SEVERITY_RANK,
    Assessment,
    Evidence,
    Finding,
    Severity,
    Suppressed,
)


def _model_in(directory: Traversable | Path) -> RiskModel | None:
    if (directory / MODEL_NAME).is_file() and (directory / WEIGHTS_NAME).is_file():
        return RiskModel.load(directory)
    return None


_NOTHING: tuple[float, str, float] = (0.0, "none", 0.0)
# A farewell is itself a strong sign: after the writer's own messages it counts when they
# carried even a tenth of risk (hopelessness, being a burden), far below the bar for a
# finding of their own, and never after ordinary ones.
FAREWELL_AFTER = 0.1
# A run of letters or digits; a run of Han characters is one "word" here too.
_WORD = re.compile(r"\w+")


_ESCALATE: dict[str, Severity] = {"concern": "high", "high": "critical", "critical": "critical"}


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A cue occurrence (a pattern hit, or the predicate of a completed ``all_of``)."""

    cue: Cue
    hit: Hit
    parts: tuple[Hit, ...]


@dataclass(frozen=True, slots=True)
class _Counted:
    candidate: _Candidate
    weight: float


class Detector:
    """Compiled lexicon. Create with :meth:`from_data_dir` or :meth:`default`."""

    def __init__(
        self,
        lexicon: Lexicon,
        model: RiskModel | None = None,
        phrases: Phrases | None = None,
        languages: LanguageIdentifier | None = None,
    ) -> None:
        self.lexicon = lexicon
        self.model = model
        self.phrases = phrases
        self.languages = languages
        self._cues: list[Cue] = []
        self._matcher = Matcher()
        for pack in lexicon.languages:
            for kind, patterns in pack.markers.items():
                for pattern in patterns:
                    for variant in expand(pattern, pack.sets):
                        self._matcher.add(variant, Kind.MARKER, f"{kind}:{pack.language}")
            for pattern in pack.idioms:
                for variant in expand(pattern, pack.sets):
                    self._matcher.add(variant, Kind.IDIOM, pack.language)
            for cue in pack.cues:
                index = len(self._cues)
                self._cues.append(cue)
                for pattern in cue.patterns:
                    for variant in expand(pattern, pack.sets):
                        self._matcher.add(variant, Kind.CUE, index)
                for part_index, part in enumerate(cue.parts):
                    for pattern in part:
                        for variant in expand(pattern, pack.sets):
                            self._matcher.add(variant, Kind.PART, (index, part_index))
        self._matcher.build()

    @classmethod
    def from_data_dir(cls, path: str | Path) -> Detector:
        """Build from a directory holding ``manifest.json``, the language files and (if
        present) the learned model, ``model.json``."""
        directory = Path(path)
        return cls(
            load_lexicon(directory),
            _model_in(directory),
            _phrases_in(directory),
            _languages_in(directory),
        )

    @classmethod
    @functools.cache
    def default(cls) -> Detector:
        """The detector for the lexicon shipped with the server, built once per process."""
        directory = shipped_data_dir()
        return cls(
            load_lexicon(directory),
            _model_in(directory),
            _phrases_in(directory),
            _languages_in(directory),
        )

    @property
    def version(self) -> str:
        return self.lexicon.version

    @property
    def pattern_count(self) -> int:
        return self._matcher.size

    def cues(self) -> tuple[Cue, ...]:
        return tuple(self._cues)

    # --- assessing a message -------------------------------------------------------------

    def assess(self, text: str, *, context: Context = ()) -> Assessment:
        """Classify one chat message. Never raises on any string, whatever its script.

        ``context`` is the preceding messages in the room, oldest first, at most the last
        four counted, as ``(text, same_author)`` pairs: a short "same" after another
        member's risky message, or a goodbye after the writer's own hopeless ones, is a
        risk only the conversation shows. The learned model decides, weighing what the
        rules found and discounted; the rules' evidence explains a finding where they have
        one. Without a model the rules decide alone."""
        context = tuple(context)[-4:]
        normalised, rules, dense = self._read(text)
        language = self._language(text)
        if self.model is None:
            return replace(rules, language=language.code, coverage=language.coverage)
        other = own = _NOTHING
        for earlier, same_author in context:
            known = self._remembered(earlier)
            if same_author and known[0] > own[0]:
                own = known
            elif not same_author and known[0] > other[0]:
                other = known
        score = self.model.score(document(normalised.text, rules), dense, other=other, own=own)
        findings: tuple[Finding, ...] = ()
        short = is_short(text)
        critical = tuple(f for f in rules.findings if f.severity == "critical")
        if score.flagged and not short:
            findings = (self._finding(text, normalised, score, rules),)
        elif critical:
            # A plan with means and a time, an attacker at the door, an overdose: a
            # critical cue that no guard discounted is never overruled by the model.
            findings = critical
        elif short and rules.findings:
            # A line of one to three words is not the model's to flag: too little to read
            # ("same", "omg same", "this ^" count only as identifications, below, and "day
            # eight" after a risky message is nothing), but a cue the rules know stands
            # ("kms", "want to die").
            findings = rules.findings
        elif context:
            reply = self._in_conversation(text, dense, other, own)
            findings = (reply,) if reply is not None else ()
        return Assessment(
            findings=findings,
            suppressed=rules.suppressed,
            language=language.code,
            coverage=language.coverage,
        )

    def _in_conversation(
        self,
        text: str,
        dense: list[float],
        other: tuple[float, str, float],
        own: tuple[float, str, float],
    ) -> Finding | None:
        """The guard under the model for the two replies whose meaning is fixed: a short
        identification ("same", "我也是") with another member's risky message is a concern
        for the replier in that category; a farewell after the writer's own risky
        messages (even hopeless ones below the bar for a finding of their own,
        ``FAREWELL_AFTER``) is a high suicide risk, critical when they were severe
        (moderation/risk/conversation.py)."""
        assert self.model is not None
        threshold = self.model.threshold
        if dense[RULE_FEATURES.index("identifies")] and other[0] >= threshold:
            category, severity, cue = other[1], "concern", "(identifies with a risky message)"
            probability = other[0]
        elif dense[RULE_FEATURES.index("farewell")] and own[0] >= FAREWELL_AFTER:
            category, cue = "suicide", "(farewell after the writer's risky messages)"
            severity = "critical" if own[2] >= self.model.severe_threshold else "high"
            probability = own[0]
        else:
            return None
        evidence = Evidence(
            cue=cue, category=category, start=0, end=len(text), weight=1.0, rule="conversation"
        )
        return Finding(category, severity, round(probability, 3), (evidence,))  # type: ignore[arg-type]

    def _language(self, text: str) -> Language:
        if self.languages is None:
            return UNDETERMINED
        return self.languages.identify(text)

    def features(self, text: str) -> tuple[Document, list[float]]:
        """What the learned model reads of a message (for the trainer)."""
        normalised, rules, dense = self._read(text)
        return document(normalised.text, rules), dense

    def _read(self, text: str) -> tuple[NormalisedText, Assessment, list[float]]:
        normalised = normalise(text)
        rules = self._assess_rules(normalised)
        phrases = self.phrases
        identifies = phrases is not None and phrases.identifies(text)
        farewell = phrases is not None and not identifies and phrases.farewells(text)
        dense = rule_vector(rules, text=text, identifies=identifies, farewell=farewell)
        return normalised, rules, dense

    def _remembered(self, text: str) -> tuple[float, str, float]:
        assert self.model is not None
        known = self.model.recall(text)
        if known is None:
            normalised, rules, dense = self._read(text)
            known = self.model.remembered(text, document(normalised.text, rules), dense)
        return known

    def _finding(
        self, text: str, normalised: NormalisedText, score: Score, rules: Assessment
    ) -> Finding:
        """The model's category and severity; the rules' evidence when they found the same
        category, which may also raise the severity (a plan with means and a time)."""
        assert self.model is not None
        category = score.category
        severity: Severity = "concern"
        if score.severe >= self.model.severe_threshold:
            severity = "critical" if score.critical >= 0.5 else "high"
        same = next((f for f in rules.findings if f.category == category), None)
        if same is not None:
            if SEVERITY_RANK[same.severity] > SEVERITY_RANK[severity]:
                severity = same.severity
            return Finding(category, severity, round(score.probability, 3), same.evidence)  # type: ignore[arg-type]
        rule = f"model:{self.model.version}"
        weight = round(score.probability, 3)
        if score.from_context:
            evidence: tuple[Evidence, ...] = (
                Evidence("(learned model, in context)", category, 0, len(text), weight, rule),
            )
        else:
            evidence = tuple(
                Evidence(text[start:end], category, start, end, weight, rule)
                for start, end in self._pushing_words(normalised)
            ) or (Evidence("(learned model)", category, 0, len(text), weight, rule),)
        return Finding(category, severity, weight, evidence)  # type: ignore[arg-type]

    def _pushing_words(self, normalised: NormalisedText) -> list[tuple[int, int]]:
        """The (at most three) words of the message that pushed the model's risk up most,
        as spans of what was typed: what a moderator reads first."""
        assert self.model is not None
        pushes = []
        for match in _WORD.finditer(normalised.text):
            push = self.model.word_push(match.group())
            if push > 0:
                pushes.append((push, match.start(), match.end()))
        pushes.sort(reverse=True)
        return sorted(normalised.original_span(start, end) for _, start, end in pushes[:3])

    def _assess_rules(self, normalised: NormalisedText) -> Assessment:
        if not normalised.text:
            return NO_RISK
        cue_hits: list[Hit] = []
        part_hits: list[Hit] = []
        markers: dict[str, list[context.Marker]] = {}
        idioms: list[Hit] = []
        for hit in self._matcher.scan(normalised.text):
            if hit.kind is Kind.CUE:
                cue_hits.append(hit)
            elif hit.kind is Kind.PART:
                part_hits.append(hit)
            elif hit.kind is Kind.MARKER:
                kind, _, language = str(hit.ref).partition(":")
                markers.setdefault(kind, []).append(context.Marker(hit, language))
            else:
                idioms.append(hit)
        if not cue_hits and not part_hits:
            return NO_RISK
        candidates = [
            _Candidate(self._cues[h.ref], h, (h,)) for h in cue_hits if isinstance(h.ref, int)
        ]
        sentence_ends = [i for i, c in enumerate(normalised.text) if c == "."]
        candidates.extend(self._complete_combinations(part_hits, normalised.text, sentence_ends))
        if not candidates:
            return NO_RISK
        scene = context.Scene.build(
            normalised.text, markers, [(c.hit.start, c.hit.end) for c in candidates]
        )
        counted, suppressed = self._apply_context(_strongest_per_span(candidates), scene, idioms)
        findings = self._score(counted, scene, normalised)
        return Assessment(
            findings=findings,
            suppressed=tuple(_suppressed(c, reason, normalised) for c, reason in suppressed),
        )

    def _complete_combinations(
        self, part_hits: list[Hit], text: str, sentence_ends: list[int]
    ) -> Iterable[_Candidate]:
        """``all_of`` cues whose parts occur in one sentence; ``sequence`` cues whose parts
        follow each other closely, in order."""
        by_cue: dict[int, dict[int, list[Hit]]] = {}
        for hit in part_hits:
            cue_index, part_index = hit.ref  # type: ignore[misc]
            by_cue.setdefault(cue_index, {}).setdefault(part_index, []).append(hit)
        for cue_index, found in by_cue.items():
            cue = self._cues[cue_index]
            last = len(cue.parts) - 1
            if len(found) <= last:
                continue
            for predicate in found.get(last, ()):
                if cue.ordered:
                    chain = _chain_backwards(found, predicate, last, cue.max_gap, text)
                else:
                    chain = _same_sentence(found, predicate, last, sentence_ends)
                if chain is None:
                    continue
                if cue.ordered:
                    # Context rules look at the whole phrase: "I don't think he's outside".
                    start, end = chain[0].start, chain[-1].end
                    span = Hit(Kind.CUE, cue_index, start, end, text[start:end])
                    yield _Candidate(cue, span, chain)
                else:
                    yield _Candidate(cue, predicate, chain)

    def _apply_context(
        self, candidates: list[_Candidate], scene: context.Scene, idioms: list[Hit]
    ) -> tuple[list[_Counted], list[tuple[_Candidate, str]]]:
        scoring = self.lexicon.scoring
        counted: list[_Counted] = []
        weak: list[_Counted] = []
        suppressed: list[tuple[_Candidate, str]] = []
        for candidate in candidates:
            hit = candidate.hit
            policy = self.lexicon.policies[candidate.cue.category]
            reasons = policy.suppressed_by
            language = candidate.cue.language
            start, end = hit.start, hit.end
            reason: str | None = None
            weight = candidate.cue.weight
            if context.overlaps_any(start, end, idioms):
                reason = "idiom"
            elif "negation" in reasons and context.negated(
                scene, start, end, language, scoring.negation_window, scoring.negation_after_window
            ):
                reason = "negation"
            else:
                reason = _clause_reason(scene, reasons, start, end, language)
            if reason is None and "past" in reasons:
                parts = [(p.start, p.end) for p in candidate.parts]
                if context.in_past(scene, start, end, language, parts):
                    weight *= scoring.past_factor
                    if weight < scoring.min_weight:
                        reason = "past"
            if reason is None and weight < scoring.min_weight:
                weak.append(_Counted(candidate, weight))
            elif reason is None:
                counted.append(_Counted(candidate, weight))
            else:
                suppressed.append((candidate, reason))
        promoted, still_weak = _accumulate_weak(weak, counted, scoring.min_weight)
        counted.extend(promoted)
        suppressed.extend((item.candidate, "weak") for item in still_weak)
        return counted, suppressed

    def _score(
        self, counted: list[_Counted], scene: context.Scene, normalised: NormalisedText
    ) -> tuple[Finding, ...]:
        by_category: dict[str, list[_Counted]] = {}
        for item in counted:
            by_category.setdefault(item.candidate.cue.category, []).append(item)
        urgency = context.urgent(scene)
        findings: list[Finding] = []
        for category, items in by_category.items():
            severity: Severity = max(
                (i.candidate.cue.severity for i in items), key=SEVERITY_RANK.__getitem__
            )
            if severity == "concern" and len({i.candidate.cue.id for i in items}) >= 2:
                severity = "high"
            if (
                severity == "high"
                and urgency is not None
                and self.lexicon.policies[category].escalate_with_urgency
            ):
                severity = _ESCALATE[severity]
            miss = 1.0
            for item in items:
                miss *= 1.0 - item.weight
            evidence = tuple(
                _evidence(item, part, normalised) for item in items for part in item.candidate.parts
            )
            findings.append(Finding(category, severity, round(1.0 - miss, 3), evidence))  # type: ignore[arg-type]
        findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], -f.score, f.category))
        return tuple(findings)


def _accumulate_weak(
    weak: list[_Counted], counted: list[_Counted], min_weight: float
) -> tuple[list[_Counted], list[_Counted]]:
    """Weak signals (weight below ``min_weight``) count only together.

    One weak cue alone ("love you all", "got everything ready", "when everyone's asleep")
    is ordinary chat; two *different* weak cues of one category anywhere in the message, or
    a weak cue beside a counted ``concern`` cue of the same category (which it then escalates
    to ``high``), are evidence. Beside a ``high`` or ``critical`` cue they add nothing. Each
    weak class is its own cue id, so two farewells are still one signal. The combined
    (noisy-or) weight must reach ``min_weight``.
    """
    if not weak:
        return [], []
    promoted: list[_Counted] = []
    rest: list[_Counted] = []
    categories = {item.candidate.cue.category for item in weak}
    for category in categories:
        mine = [i for i in weak if i.candidate.cue.category == category]
        if any(
            i.candidate.cue.category == category and i.candidate.cue.severity != "concern"
            for i in counted
        ):
            rest.extend(mine)  # already a high or critical finding: nothing to add
            continue
        strong = [i for i in counted if i.candidate.cue.category == category]
        ids = {i.candidate.cue.id for i in mine} | {i.candidate.cue.id for i in strong}
        miss = 1.0
        for item in (*mine, *strong):
            miss *= 1.0 - item.weight
        if len(ids) >= 2 and 1.0 - miss >= min_weight:
            promoted.extend(mine)
        else:
            rest.extend(mine)
    return promoted, rest


def _clause_reason(
    scene: context.Scene, reasons: frozenset[str], start: int, end: int, language: str
) -> str | None:
    """Reported speech, hypotheticals, third parties (earlier in the clause); media talk and
    jokes (anywhere in the sentence)."""
    for kind in ("reported", "hypothetical", "third_party"):
        if kind in reasons and context.preceded_in_clause(scene, kind, start, end, language):
            return kind
    for kind in ("media", "jest"):
        if kind in reasons and context.in_sentence(scene, kind, start, end, language):
            return kind
    return None


def _chain_backwards(
    found: dict[int, list[Hit]], predicate: Hit, last: int, max_gap: int, text: str
) -> tuple[Hit, ...] | None:
    chain = [predicate]
    for part_index in range(last - 1, -1, -1):
        following = chain[0]
        best: Hit | None = None
        for hit in found.get(part_index, ()):
            if hit.end > following.start:
                continue
            gap = text[hit.end : following.start]
            if "." in gap or context.count_tokens(gap) > max_gap:
                continue
            if (
                best is None
                or hit.end > best.end
                or (hit.end == best.end and hit.start < best.start)
            ):
                best = hit
        if best is None:
            return None
        chain.insert(0, best)
    return tuple(chain)


def _same_sentence(
    found: dict[int, list[Hit]], predicate: Hit, last: int, sentence_ends: list[int]
) -> tuple[Hit, ...] | None:
    sentence = _sentence_index(sentence_ends, predicate.start)
    chosen: list[Hit] = []
    for part_index in range(last):
        same = [
            h
            for h in found.get(part_index, ())
            if _sentence_index(sentence_ends, h.start) == sentence
            and (h.end <= predicate.start or h.start >= predicate.end)
        ]
        if not same:
            return None
        chosen.append(same[0])
    return (*chosen, predicate)


def _sentence_index(sentence_ends: list[int], position: int) -> int:
    count = 0
    for end in sentence_ends:
        if end < position:
            count += 1
        else:
            break
    return count


def _strongest_per_span(candidates: list[_Candidate]) -> list[_Candidate]:
    """Of overlapping cues in one category keep the strongest ("want to kill myself" and
    "kill myself" are one piece of evidence, not two)."""
    ordered = sorted(
        candidates, key=lambda c: (-c.cue.weight, -(c.hit.end - c.hit.start), c.hit.start)
    )
    kept: list[_Candidate] = []
    for candidate in ordered:
        hit = candidate.hit
        if not any(
            k.cue.category == candidate.cue.category
            and k.hit.start < hit.end
            and hit.start < k.hit.end
            for k in kept
        ):
            kept.append(candidate)
    kept.sort(key=lambda c: c.hit.start)
    return kept


def _evidence(item: _Counted, part: Hit, normalised: NormalisedText) -> Evidence:
    start, end = normalised.original_span(part.start, part.end)
    return Evidence(
        cue=part.text,
        category=item.candidate.cue.category,
        start=start,
        end=end,
        weight=round(item.weight, 3),
        rule=item.candidate.cue.id,
    )


def _suppressed(candidate: _Candidate, reason: str, normalised: NormalisedText) -> Suppressed:
    start, end = normalised.original_span(candidate.hit.start, candidate.hit.end)
    return Suppressed(
        cue=candidate.hit.text,
        category=candidate.cue.category,
        start=start,
        end=end,
        rule=candidate.cue.id,
        reason=reason,
    )


def _languages_in(directory: Traversable | Path) -> LanguageIdentifier | None:
    if (directory / LANGID_NAME).is_file() and (directory / LANGID_WEIGHTS).is_file():
        return LanguageIdentifier.load(directory)
    return None


def _phrases_in(directory: Traversable | Path) -> Phrases | None:
    path = directory / CONVERSATION_NAME
    return Phrases.load(path) if path.is_file() else None


def assess(text: str, *, context: Context = ()) -> Assessment:
    """Assess ``text`` (with the room's preceding messages, oldest first, as ``(text,
    same_author)`` pairs) with the detector built from the shipped lexicon and model."""
    return Detector.default().assess(text, context=context)
