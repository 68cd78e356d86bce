"""The name a staff-side person (a peer facilitator, a moderator, professional staff) goes by
in rooms: chosen once by them, the same in every room, beside the badge of their role.

Members trust that name, so it must not be made to look like someone else's. A name is
refused when it:

- holds invisible or direction-changing characters (zero-width spaces and joiners, the
  left-to-right and right-to-left marks and overrides, other format and control characters);
- mixes writing systems (a Cyrillic "a" among Latin letters), or uses digits or symbols;
- reads the same as another staff member's name once look-alike characters are folded
  together (its "skeleton": case, accents, Cyrillic and Greek look-alikes, 0/o, 1/l/I, rn/m,
  vv/w and the spaces and punctuation between words);
- names a role ("Moderator Sam": the badge says the role, a name must not claim one);
- looks like a member's random name ("Quiet Heron"), or is what someone in a room already goes
  by.

Staff accounts must choose one before joining a room (``NameRequired``); choosing it renames
their places in the rooms they are already in.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Final

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from chatserver.audit import actor_for_user, audit_append
from rooms.errors import NotAllowed, RoomError
from rooms.models import Membership, StaffName
from rooms.pseudonyms import ADJECTIVES, NOUNS

MIN_CHARS: Final = 2
MAX_CHARS: Final = 32


class NameRefused(RoomError):
    code = "name_refused"
    http_status = 400


class NameRequired(NotAllowed):
    code = "name_required"
    http_status = 409


class NameChosen(RoomError):
    code = "name_chosen"
    http_status = 409


# Letters that look like Latin ones (lower case: the skeleton is case-folded first), and
# digits and symbols read as letters.
_LOOK_ALIKES: Final = str.maketrans(
    {
        # Cyrillic
        "\u0430": "a",  # cyrillic small letter a
        "\u0432": "b",  # cyrillic small letter ve
        "\u0435": "e",  # cyrillic small letter ie
        "\u0451": "e",  # cyrillic small letter io
        "\u043a": "k",  # cyrillic small letter ka
        "\u043c": "m",  # cyrillic small letter em
        "\u043d": "h",  # cyrillic small letter en
        "\u043e": "o",  # cyrillic small letter o
        "\u0440": "p",  # cyrillic small letter er
        "\u0441": "c",  # cyrillic small letter es
        "\u0442": "t",  # cyrillic small letter te
        "\u0443": "y",  # cyrillic small letter u
        "\u0445": "x",  # cyrillic small letter ha
        "\u0455": "s",  # cyrillic small letter dze
        "\u0456": "i",  # cyrillic small letter byelorussian-ukrainian i
        "\u0457": "i",  # cyrillic small letter yi
        "\u0458": "j",  # cyrillic small letter je
        "\u0501": "d",  # cyrillic small letter komi de
        "\u04bb": "h",  # cyrillic small letter shha
        "\u04cf": "l",  # cyrillic small letter palochka
        "\u051b": "q",  # cyrillic small letter qa
        "\u051d": "w",  # cyrillic small letter we
        "\u044c": "b",  # cyrillic small letter soft sign
        "\u0433": "r",  # cyrillic small letter ghe
        "\u043f": "n",  # cyrillic small letter pe
        # Greek
        "\u03b1": "a",  # greek small letter alpha
        "\u03b2": "b",  # greek small letter beta
        "\u03b3": "y",  # greek small letter gamma
        "\u03b5": "e",  # greek small letter epsilon
        "\u03b7": "n",  # greek small letter eta
        "\u03b9": "i",  # greek small letter iota
        "\u03ba": "k",  # greek small letter kappa
        "\u03bc": "u",  # greek small letter mu
        "\u03bd": "v",  # greek small letter nu
        "\u03bf": "o",  # greek small letter omicron
        "\u03c1": "p",  # greek small letter rho
        "\u03c3": "o",  # greek small letter sigma
        "\u03c4": "t",  # greek small letter tau
        "\u03c5": "u",  # greek small letter upsilon
        "\u03c7": "x",  # greek small letter chi
        "\u03c9": "w",  # greek small letter omega
        # Latin look-alikes
        "\u0131": "i",  # latin small letter dotless i
        "\u0142": "l",  # latin small letter l with stroke
        "\u0261": "g",  # latin small letter script g
        "\u0251": "a",  # latin small letter alpha
        # digits and symbols
        "0": "o",
        "1": "l",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "|": "l",
        "!": "l",
        "$": "s",
        "@": "a",
    }
)
_PAIRS: Final = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("l", "i"))
# Spaces, hyphens and dashes (U+2010 to U+2015), apostrophes (' and U+2019), full stops.
_BETWEEN_WORDS: Final = re.compile("[\\s\\-'\u2019.\u2010-\u2015_]+")
ROLE_WORDS: Final = (
    "admin",
    "administrator",
    "moderator",
    "facilitator",
    "staff",
    "official",
    "system",
    "supportteam",
)
# Letters may be followed by combining marks (accents); words by one of these.
_JOINERS: Final = frozenset(" -'\u2019.")


def skeleton(name: str) -> str:
    """What a name looks like, with look-alike characters folded together: two names with
    the same skeleton can be taken for each other."""
    text = unicodedata.normalize("NFKC", name).casefold().translate(_LOOK_ALIKES)
    text = "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).translate(_LOOK_ALIKES)
    text = _BETWEEN_WORDS.sub("", text)
    for pair, single in _PAIRS:
        text = text.replace(pair, single)
    return text


def _script(char: str) -> str:
    """The writing system of a letter, from its Unicode name ("LATIN", "CYRILLIC", "CJK")."""
    return unicodedata.name(char, "UNKNOWN").split(" ")[0]


def _invisible(char: str) -> bool:
    return unicodedata.category(char) in {"Cf", "Cc", "Co", "Cs", "Cn", "Zl", "Zp"} or (
        char.isspace() and char != " "
    )


def clean(raw: str) -> str:
    """The name as it will be shown, or ``NameRefused`` saying why not (the rules above)."""
    if any(_invisible(c) for c in raw):
        raise NameRefused(
            "names can't contain invisible characters, such as zero-width spaces or marks "
            "that change the direction of text"
        )
    name = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not MIN_CHARS <= len(name) <= MAX_CHARS:
        raise NameRefused(f"a name is {MIN_CHARS} to {MAX_CHARS} characters long")
    letters = [c for c in name if unicodedata.category(c).startswith("L")]
    others = [
        c for c in name if not unicodedata.category(c).startswith(("L", "M")) and c not in _JOINERS
    ]
    if others or not letters:
        raise NameRefused("use letters only, with spaces, hyphens or apostrophes between words")
    if len({_script(c) for c in letters}) > 1:
        raise NameRefused("use letters from one alphabet only, so the name can't be mistaken")
    words = [w.casefold() for w in name.split(" ")]
    shapes = [skeleton(w) for w in words]
    runs = {*shapes, *(a + b for a, b in itertools.pairwise(shapes)), skeleton(name)}
    if runs & {skeleton(word) for word in ROLE_WORDS}:
        raise NameRefused("a name can't name a role: your badge already says what you do")
    if len(words) in (2, 3) and (
        words[0] in {a.casefold() for a in ADJECTIVES} and words[1] in {n.casefold() for n in NOUNS}
    ):
        raise NameRefused("that looks like a member's name; choose one that doesn't")
    return name


def name_of(user: User) -> str | None:
    """The name this staff account goes by in rooms, if chosen."""
    return StaffName.objects.filter(user=user).values_list("name", flat=True).first()


@transaction.atomic
def name_choose(*, user: User, raw: str) -> str:
    """Choose the name once: checked (``clean``), unlike every other staff member's, used by
    nobody in any room; the account's places in rooms take it at once."""
    if StaffName.objects.filter(user=user).exists():
        raise NameChosen("you have already chosen your name; an admin can change it")
    name = clean(raw)
    shape = skeleton(name)
    if StaffName.objects.filter(skeleton=shape).exists():
        raise NameRefused("that name is too like another staff member's; choose another")
    if Membership.objects.filter(pseudonym__iexact=name).exclude(user=user).exists():
        raise NameRefused("someone in a room already goes by that name; choose another")
    try:
        with transaction.atomic():
            StaffName.objects.create(user=user, name=name, skeleton=shape, chosen_at=timezone.now())
    except IntegrityError:  # chosen at the same moment by someone else
        raise NameRefused("that name was just taken; choose another") from None
    Membership.objects.filter(user=user).update(pseudonym=name)
    audit_append(
        actor=actor_for_user(user),
        action="staff.name_chosen",
        object_type="user",
        object_id=user.pk,
    )
    return name


def staff_pseudonym(user: User) -> str:
    """The pseudonym a staff account joins a room under: its chosen name (required)."""
    name = name_of(user)
    if name is None:
        raise NameRequired(
            "choose the name you'll use in rooms first: sign in on the staff page, where you "
            "are asked for it"
        )
    return name
