// The words for the protocol's closed lists, for both pages: why a message is reported,
// hidden, held or flagged, and what an escalation or a report is at. Plain and neutral; never
// a judgement of the person. Some lists have two wordings: the member page's (in a room, to
// the people in it) and the staff dashboard's (to the people who follow it up).
// `label(LABELS, key)` (core/format.js) looks a key up.

// --- the member page --------------------------------------------------------------------------

export const REPORT_REASON_LABELS = Object.freeze({
  harassment: "It's hurtful or harassing",
  unsafe: "Someone may be unsafe",
  identifying: "It could identify someone",
  graphic: "Graphic detail without a content warning",
  spam: "Spam or advertising",
  impersonation: "Someone is pretending to be someone else",
  other: "Something else",
});

export const HIDE_REASON_LABELS = Object.freeze({
  agreement: "Goes against the group agreement",
  identifying: "Could identify someone",
  graphic: "Graphic detail without a content warning",
  harassment: "Hurtful to someone in the room",
  spam: "Spam",
  other: "Another reason",
});

// "A facilitator hid this message because …" (the same words the server uses).
export const HIDE_REASON_BECAUSE = Object.freeze({
  agreement: "it goes against the group agreement",
  identifying: "it could identify someone",
  graphic: "it had graphic detail without a content warning",
  harassment: "it was hurtful to someone in the room",
  spam: "it was spam",
  other: "a facilitator decided it should not stay up",
});

export const HELD_REASON_LABELS = Object.freeze({
  blocked_term: "Contains a word this room checks first",
  risk: "May show someone at risk",
});

export const FLAG_CATEGORY_LABELS = Object.freeze({
  suicide: "Suicide",
  self_harm: "Self-harm",
  immediate_danger: "In danger now",
  child_at_risk: "A child at risk",
  harm_to_others: "Harm to others",
  medical_emergency: "Medical emergency",
});

// What a message folded behind a care note talks about ("This message talks about …").
export const CARE_TOPICS = Object.freeze({
  suicide: "suicide",
  self_harm: "self-harm",
  immediate_danger: "someone being in danger",
  child_at_risk: "a child at risk",
  harm_to_others: "harming someone",
  medical_emergency: "a medical emergency",
});

// The badge beside a facilitator's or staff member's name, in messages and in presence.
export const ROLE_BADGES = Object.freeze({
  facilitator: "Peer facilitator",
  moderator: "Moderator",
  staff: "Professional staff",
  admin: "Admin",
});

export const FLAG_SEVERITY_LABELS = Object.freeze({
  concern: "A concern",
  high: "High",
  critical: "Critical: needs help now",
});

// --- both -------------------------------------------------------------------------------------

export const REPORT_STATUS_LABELS = Object.freeze({ open: "Open", closed: "Closed" });

// --- the staff dashboard ----------------------------------------------------------------------

export const SEVERITY_LABELS = Object.freeze({
  critical: "Critical",
  high: "High",
  concern: "Concern",
});

export const CATEGORY_LABELS = Object.freeze({
  suicide: "Suicide risk",
  self_harm: "Self-harm",
  immediate_danger: "In immediate danger",
  child_at_risk: "A child at risk",
  harm_to_others: "Risk of harm to others",
  medical_emergency: "Medical emergency",
});

export const ESCALATION_STATUS_LABELS = Object.freeze({
  open: "Not acknowledged yet",
  acknowledged: "Acknowledged",
  in_progress: "In progress",
  resolved: "Resolved",
  false_alarm: "False alarm",
});

export const QUEUE_LABELS = Object.freeze({ staff: "Staff alert", review: "Moderator review" });
export const SOURCE_LABELS = Object.freeze({ detector: "found by the risk detector", manual: "flagged by a person" });

export const STAFF_REPORT_REASON_LABELS = Object.freeze({
  harassment: "Harassment or bullying",
  unsafe: "Someone may be unsafe",
  identifying: "Shares identifying details",
  graphic: "Graphic detail without a warning",
  spam: "Spam or advertising",
  impersonation: "Not who they say they are",
  other: "Something else",
});
