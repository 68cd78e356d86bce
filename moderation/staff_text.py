"""Staff outcomes and the detector's matched words, sealed like the excerpts and notes they
sit beside.

Why: an escalation's excerpt and staff notes, and a report's note and replies, were sealed,
but the outcome staff wrote when resolving an escalation or closing a report, and the words
each cue of the risk detector matched (what the member typed), were stored in clear. An
outcome says what happened to a person ("spoke to her, she is with her sister tonight"); the
matched words are the most telling words of a survivor's message. A stolen database would
have held both.

Each is sealed with ``rooms.encryption.seal_text`` under the key that already seals the text
beside it, with associated data naming what it is and where it belongs:

* an escalation's outcome and matched words under the escalation's data key (the member's,
  which seals its excerpt and notes), so erasing the member or the end of retention shreds
  them with the excerpt;
* a report's outcome under the report's key (the reporter's, which seals the note and the
  replies); a report without a note takes the reporter's current key, as a reply does.

When that key is gone (the member was erased, or retention destroyed it), the outcome is not
kept: the status change is recorded as before, and nothing is stored in clear instead.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from moderation.models import Escalation, Report
from rooms.encryption import aead_for, current_data_key, open_text, seal_text
from rooms.errors import NotAllowed
from rooms.models import DataKey, Room


def _live(key: DataKey | None) -> bool:
    return key is not None and key.wrapped is not None and key.destroyed_at is None


# --- the detector's matched words -------------------------------------------------------------


def _evidence_aad(room_id: int, seq: int | None, key_id: int) -> str:
    return f"esc-evidence|{room_id}|{seq}|{key_id}"


def evidence_fields(
    evidence: list[dict[str, Any]], *, aead: AESGCM, room_id: int, seq: int | None, key_id: int
) -> dict[str, Any]:
    """An escalation's evidence as it is stored: in clear, what names no words (the rule,
    the category, the span); sealed, the words each cue matched, in the same order."""
    words = [str(item.get("cue", "")) for item in evidence]
    plain = [{k: v for k, v in item.items() if k != "cue"} for item in evidence]
    sealed = None
    if any(words):
        sealed = seal_text(
            aead=aead, text=json.dumps(words), aad=_evidence_aad(room_id, seq, key_id)
        )
    return {"evidence": plain, "evidence_ciphertext": sealed}


def evidence_words(e: Escalation) -> list[str] | None:
    """The words the cues matched, in the order of ``e.evidence``; None when there were
    none or they can no longer be read."""
    text = open_text(
        data_key=e.data_key,
        sealed=e.evidence_ciphertext,
        aad=_evidence_aad(e.room_id, e.message_seq, e.data_key_id or 0),
    )
    return None if text is None else [str(w) for w in json.loads(text)]


# --- outcomes --------------------------------------------------------------------------------


def _outcome_aad(escalation_id: int, key_id: int) -> str:
    return f"esc-outcome|{escalation_id}|{key_id}"


def escalation_outcome_seal(e: Escalation, outcome: str) -> None:
    """Set ``e``'s sealed outcome (the caller saves the row); none when its key is gone."""
    key = e.data_key
    if key is None or not _live(key):
        e.outcome_ciphertext = None
        return
    e.outcome_ciphertext = seal_text(
        aead=aead_for(key), text=outcome, aad=_outcome_aad(e.pk, key.pk)
    )


def escalation_outcome(e: Escalation) -> str:
    """The outcome staff wrote, or "" (none yet, or its key is gone)."""
    if e.outcome_ciphertext is None:
        return ""
    opened = open_text(
        data_key=e.data_key,
        sealed=e.outcome_ciphertext,
        aad=_outcome_aad(e.pk, e.data_key_id or 0),
    )
    return opened or ""


def _report_outcome_aad(report_id: int, key_id: int) -> str:
    return f"report-outcome|{report_id}|{key_id}"


def _report_key(report: Report) -> tuple[int, AESGCM] | None:
    if report.data_key_id is not None:
        key = report.data_key
        return (key.pk, aead_for(key)) if key is not None and _live(key) else None
    if report.reporter is None:
        return None
    try:
        room = Room.objects.get(pk=report.room_id)
        return current_data_key(room=room, membership=report.reporter)
    except NotAllowed:  # the reporter's data was erased
        return None


def report_outcome_seal(report: Report, outcome: str) -> None:
    """Set the report's sealed outcome, and its key if it had none (the caller saves
    ``outcome_ciphertext`` and ``data_key``); none when no key of the reporter is left."""
    found = _report_key(report)
    if found is None:
        report.outcome_ciphertext = None
        return
    key_id, aead = found
    report.data_key_id = key_id
    report.outcome_ciphertext = seal_text(
        aead=aead, text=outcome, aad=_report_outcome_aad(report.pk, key_id)
    )


def report_outcome(report: Report) -> str:
    """The outcome the moderator wrote, or "" (open, or its key is gone)."""
    if report.outcome_ciphertext is None:
        return ""
    opened = open_text(
        data_key=report.data_key,
        sealed=report.outcome_ciphertext,
        aad=_report_outcome_aad(report.pk, report.data_key_id or 0),
    )
    return opened or ""
