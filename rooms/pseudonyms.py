"""Readable random pseudonyms ("Quiet Heron"), unique within a room.

Chosen at random from the word lists below, never derived from anything about the person,
and drawn again per room so two rooms' pseudonyms cannot be linked. Both lists are held to
the same deny list as recovery phrases (``rooms.wordlists``): a word added to it leaves the
lists drawn from without an edit here, and a test checks that none is left in the source
either. Taken out for that reason: "Dusky" and "Pale" (read as words about skin), "Honey"
(a pet name abusers use).
"""

from __future__ import annotations

from collections.abc import Callable

from chatserver.crypto import random_choice
from rooms.wordlists import kept

_ADJECTIVE_WORDS = [
    "Amber",
    "Bright",
    "Calm",
    "Clear",
    "Coral",
    "Cosy",
    "Crisp",
    "Dawn",
    "Deep",
    "Early",
    "Even",
    "Fair",
    "Fern",
    "Gentle",
    "Glad",
    "Golden",
    "Green",
    "Hazel",
    "Hopeful",
    "Indigo",
    "Ivory",
    "Jade",
    "Kind",
    "Light",
    "Linen",
    "Lunar",
    "Maple",
    "Meadow",
    "Mellow",
    "Misty",
    "Mossy",
    "Noble",
    "North",
    "Oaken",
    "Olive",
    "Opal",
    "Patient",
    "Pearl",
    "Plum",
    "Quiet",
    "Rainy",
    "River",
    "Rosy",
    "Russet",
    "Sage",
    "Sandy",
    "Silver",
    "Soft",
    "Solar",
    "Steady",
    "Still",
    "Sunny",
    "Swift",
    "Tidal",
    "Tender",
    "Velvet",
    "Warm",
    "Willow",
    "Wise",
]
_NOUN_WORDS = [
    "Alder",
    "Aspen",
    "Badger",
    "Birch",
    "Bluebell",
    "Bramble",
    "Brook",
    "Canyon",
    "Cedar",
    "Clover",
    "Comet",
    "Cove",
    "Crane",
    "Cricket",
    "Daisy",
    "Delta",
    "Dune",
    "Ember",
    "Falcon",
    "Fern",
    "Finch",
    "Fjord",
    "Garnet",
    "Glade",
    "Harbour",
    "Hare",
    "Hazel",
    "Heron",
    "Hill",
    "Iris",
    "Ivy",
    "Juniper",
    "Kestrel",
    "Lake",
    "Lark",
    "Laurel",
    "Lily",
    "Linnet",
    "Lotus",
    "Maple",
    "Marsh",
    "Meadow",
    "Moon",
    "Moss",
    "Nettle",
    "Oak",
    "Orchid",
    "Otter",
    "Owl",
    "Pebble",
    "Pine",
    "Plover",
    "Poppy",
    "Quartz",
    "Raven",
    "Reed",
    "Robin",
    "Rowan",
    "Sparrow",
    "Spruce",
    "Star",
    "Stone",
    "Swan",
    "Thistle",
    "Thrush",
    "Tide",
    "Valley",
    "Willow",
    "Wren",
]
# What names are drawn from.
ADJECTIVES = kept(_ADJECTIVE_WORDS)
NOUNS = kept(_NOUN_WORDS)

MAX_ATTEMPTS = 40


def new_pseudonym(is_taken: Callable[[str], bool]) -> str:
    """A pseudonym not yet used in the room (``is_taken`` answers for the room). With
    thousands of combinations and rooms of tens of people, a clash is rare; after many
    clashes a number keeps it unique rather than failing the join."""
    for _ in range(MAX_ATTEMPTS):
        candidate = f"{random_choice(ADJECTIVES)} {random_choice(NOUNS)}"
        if not is_taken(candidate):
            return candidate
    while True:
        candidate = (
            f"{random_choice(ADJECTIVES)} {random_choice(NOUNS)} {random_choice(range(10, 100))}"
        )
        if not is_taken(candidate):
            return candidate
