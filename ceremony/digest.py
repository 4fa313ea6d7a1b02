"""Digests that people compare aloud and on paper.

The digest of a draft is the SHA-256 of the canonical JSON bytes of its `signed` part
(exactly the bytes every key signs). It is shown as hex in groups of four and as words
of the PGP word list (Juola and Zimmermann), where even-position bytes use two-syllable
words and odd-position bytes three-syllable ones, so a swapped or dropped word is heard.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from securesystemslib.formats import encode_canonical

# SHA-256 of "\n".join(PGP_EVEN) + "\n" + "\n".join(PGP_ODD): pins the lists against typos.
PGP_WORDS_SHA256 = "e9b7b0052233a74aa56724ed3f79c272036aed68d8f4c0856e833c8043b9ac62"

# fmt: off
PGP_EVEN: tuple[str, ...] = (
    "aardvark", "absurd", "accrue", "acme", "adrift", "adult", "afflict", "ahead", "aimless",
    "Algol", "allow", "alone", "ammo", "ancient", "apple", "artist", "assume", "Athens",
    "atlas", "Aztec", "baboon", "backfield", "backward", "banjo", "beaming", "bedlamp",
    "beehive", "beeswax", "befriend", "Belfast", "berserk", "billiard", "bison", "blackjack",
    "blockade", "blowtorch", "bluebird", "bombast", "bookshelf", "brackish", "breadline",
    "breakup", "brickyard", "briefcase", "Burbank", "button", "buzzard", "cement", "chairlift",
    "chatter", "checkup", "chisel", "choking", "chopper", "Christmas", "clamshell", "classic",
    "classroom", "cleanup", "clockwork", "cobra", "commence", "concert", "cowbell", "crackdown",
    "cranky", "crowfoot", "crucial", "crumpled", "crusade", "cubic", "dashboard", "deadbolt",
    "deckhand", "dogsled", "dragnet", "drainage", "dreadful", "drifter", "dropper", "drumbeat",
    "drunken", "Dupont", "dwelling", "eating", "edict", "egghead", "eightball", "endorse",
    "endow", "enlist", "erase", "escape", "exceed", "eyeglass", "eyetooth", "facial", "fallout",
    "flagpole", "flatfoot", "flytrap", "fracture", "framework", "freedom", "frighten",
    "gazelle", "Geiger", "glitter", "glucose", "goggles", "goldfish", "gremlin", "guidance",
    "hamlet", "highchair", "hockey", "indoors", "indulge", "inverse", "involve", "island",
    "jawbone", "keyboard", "kickoff", "kiwi", "klaxon", "locale", "lockup", "merit", "minnow",
    "miser", "Mohawk", "mural", "music", "necklace", "Neptune", "newborn", "nightbird",
    "Oakland", "obtuse", "offload", "optic", "orca", "payday", "peachy", "pheasant", "physique",
    "playhouse", "Pluto", "preclude", "prefer", "preshrunk", "printer", "prowler", "pupil",
    "puppy", "python", "quadrant", "quiver", "quota", "ragtime", "ratchet", "rebirth", "reform",
    "regain", "reindeer", "rematch", "repay", "retouch", "revenge", "reward", "rhythm",
    "ribcage", "ringbolt", "robust", "rocker", "ruffled", "sailboat", "sawdust", "scallion",
    "scenic", "scorecard", "Scotland", "seabird", "select", "sentence", "shadow", "shamrock",
    "showgirl", "skullcap", "skydive", "slingshot", "slowdown", "snapline", "snapshot",
    "snowcap", "snowslide", "solo", "southward", "soybean", "spaniel", "spearhead", "spellbind",
    "spheroid", "spigot", "spindle", "spyglass", "stagehand", "stagnate", "stairway",
    "standard", "stapler", "steamship", "sterling", "stockman", "stopwatch", "stormy", "sugar",
    "surmount", "suspense", "sweatband", "swelter", "tactics", "talon", "tapeworm", "tempest",
    "tiger", "tissue", "tonic", "topmost", "tracker", "transit", "trauma", "treadmill",
    "Trojan", "trouble", "tumor", "tunnel", "tycoon", "uncut", "unearth", "unwind", "uproot",
    "upset", "upshot", "vapor", "village", "virus", "Vulcan", "waffle", "wallet", "watchword",
    "wayside", "willow", "woodlark", "Zulu",
)

PGP_ODD: tuple[str, ...] = (
    "adroitness", "adviser", "aftermath", "aggregate", "alkali", "almighty", "amulet",
    "amusement", "antenna", "applicant", "Apollo", "armistice", "article", "asteroid",
    "Atlantic", "atmosphere", "autopsy", "Babylon", "backwater", "barbecue", "belowground",
    "bifocals", "bodyguard", "bookseller", "borderline", "bottomless", "Bradbury", "bravado",
    "Brazilian", "breakaway", "Burlington", "businessman", "butterfat", "Camelot", "candidate",
    "cannonball", "Capricorn", "caravan", "caretaker", "celebrate", "cellulose", "certify",
    "chambermaid", "Cherokee", "Chicago", "clergyman", "coherence", "combustion", "commando",
    "company", "component", "concurrent", "confidence", "conformist", "congregate", "consensus",
    "consulting", "corporate", "corrosion", "councilman", "crossover", "crucifix", "cumbersome",
    "customer", "Dakota", "decadence", "December", "decimal", "designing", "detector",
    "detergent", "determine", "dictator", "dinosaur", "direction", "disable", "disbelief",
    "disruptive", "distortion", "document", "embezzle", "enchanting", "enrollment",
    "enterprise", "equation", "equipment", "escapade", "Eskimo", "everyday", "examine",
    "existence", "exodus", "fascinate", "filament", "finicky", "forever", "fortitude",
    "frequency", "gadgetry", "Galveston", "getaway", "glossary", "gossamer", "graduate",
    "gravity", "guitarist", "hamburger", "Hamilton", "handiwork", "hazardous", "headwaters",
    "hemisphere", "hesitate", "hideaway", "holiness", "hurricane", "hydraulic", "impartial",
    "impetus", "inception", "indigo", "inertia", "infancy", "inferno", "informant", "insincere",
    "insurgent", "integrate", "intention", "inventive", "Istanbul", "Jamaica", "Jupiter",
    "leprosy", "letterhead", "liberty", "maritime", "matchmaker", "maverick", "Medusa",
    "megaton", "microscope", "microwave", "midsummer", "millionaire", "miracle", "misnomer",
    "molasses", "molecule", "Montana", "monument", "mosquito", "narrative", "nebula",
    "newsletter", "Norwegian", "October", "Ohio", "onlooker", "opulent", "Orlando",
    "outfielder", "Pacific", "pandemic", "Pandora", "paperweight", "paragon", "paragraph",
    "paramount", "passenger", "pedigree", "Pegasus", "penetrate", "perceptive", "performance",
    "pharmacy", "phonetic", "photograph", "pioneer", "pocketful", "politeness", "positive",
    "potato", "processor", "provincial", "proximate", "puberty", "publisher", "pyramid",
    "quantity", "racketeer", "rebellion", "recipe", "recover", "repellent", "replica",
    "reproduce", "resistor", "responsive", "retraction", "retrieval", "retrospect", "revenue",
    "revival", "revolver", "sandalwood", "sardonic", "Saturday", "savagery", "scavenger",
    "sensation", "sociable", "souvenir", "specialist", "speculate", "stethoscope", "stupendous",
    "supportive", "surrender", "suspicious", "sympathy", "tambourine", "telephone", "therapist",
    "tobacco", "tolerance", "tomorrow", "torpedo", "tradition", "travesty", "trombonist",
    "truncated", "typewriter", "ultimate", "undaunted", "underfoot", "unicorn", "unify",
    "universe", "unravel", "upcoming", "vacancy", "vagabond", "vertigo", "Virginia", "visitor",
    "vocalist", "voyager", "warranty", "Waterloo", "whimsical", "Wichita", "Wilmington",
    "Wyoming", "yesteryear", "Yucatan",
)
# fmt: on


# In compact JSON (no spaces) a number follows ":", "," or "["; a float has "." or "e" after
# its first digits. Inside a string the same characters make a harmless false alarm.
_FLOAT_TOKEN = re.compile(rb"[:,\[]-?[0-9]+[.eE]")


def canonical_bytes(signed: dict[str, Any]) -> bytes:
    """The OLPC canonical JSON bytes of a `signed` dict: what is signed.

    Fast path: the C JSON encoder with sorted keys, no spaces and raw UTF-8 produces the
    same bytes as securesystemslib's (pure-Python) `encode_canonical` whenever no string
    needs an escape and no number is a float: canonical JSON escapes only `"` and `\\`
    (json escapes those and control characters, each with a backslash) and has no floats.
    So the fast result is used only if it holds no backslash and no float
    (`is_canonical_text`); otherwise `encode_canonical` decides (and refuses floats). 16,384
    hash bins: 0.05 s instead of 0.22 s.
    """
    try:
        fast = json.dumps(
            signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError):
        fast = None
    if fast is not None and is_canonical_text(fast):
        return fast
    data = encode_canonical(signed)
    assert isinstance(data, str)
    return data.encode("utf-8")


def is_canonical_text(text: bytes) -> bool:
    """Is this JSON text, written by `json_text` (sorted keys, no spaces, raw UTF-8), already
    its canonical form? Yes when no string needs an escape and no number is a float: the rule
    `canonical_bytes` applies to its fast path. Never yes wrongly; it may say no for a
    canonical text whose strings hold something like ":1.5" (the caller then checks the slow
    way). One pass over the bytes (3 MB of hash bins: 0.015 s)."""
    return b"\\" not in text and _FLOAT_TOKEN.search(text) is None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def grouped_hex(digest_hex: str, group: int = 4) -> str:
    """`3f5c a1b2 ...`: hex in groups of four for reading aloud."""
    return " ".join(digest_hex[i : i + group] for i in range(0, len(digest_hex), group))


def pgp_words(digest_hex: str) -> list[str]:
    """The PGP words of every byte of a hex digest (32 words for SHA-256)."""
    raw = bytes.fromhex(digest_hex)
    return [(PGP_EVEN if i % 2 == 0 else PGP_ODD)[b] for i, b in enumerate(raw)]


def pgp_words_lines(digest_hex: str, per_line: int = 8) -> list[str]:
    """The PGP words in numbered lines of eight, as printed for comparison."""
    words = pgp_words(digest_hex)
    return [
        f"{i + 1:2d}-{min(i + per_line, len(words)):2d}: " + " ".join(words[i : i + per_line])
        for i in range(0, len(words), per_line)
    ]


def grouped_hex_lines(digest_hex: str, per_line: int = 8) -> list[str]:
    """The grouped hex in lines of `per_line` groups of four (8: two 39-character lines for
    SHA-256), so it never wraps on an 80-column screen."""
    groups = grouped_hex(digest_hex).split()
    return [" ".join(groups[i : i + per_line]) for i in range(0, len(groups), per_line)]


def json_text(signed: dict[str, Any]) -> bytes:
    """Standard JSON of `signed`: sorted keys, no spaces, raw UTF-8 (always valid JSON).

    This is what a draft file holds. It equals the canonical bytes unless a string needs an
    escape (e.g. the newlines of a PEM key): see `canonical_from_json`.
    """
    return json.dumps(
        signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_from_json(text: bytes) -> bytes:
    """The canonical bytes of a JSON text written by `json_text`.

    With no backslash in it, such a text IS its canonical form (sorted, compact, raw UTF-8,
    and TUF metadata has no floats), which spares parsing 3 MB of hash-bin delegations.
    Otherwise it is parsed and canonicalised.
    """
    if b"\\" not in text:
        return text
    return canonical_bytes(json.loads(text))


def _refuse_float(value: str) -> Any:
    raise ValueError(f"a number with a fraction ({value}) is not allowed in TUF metadata")


def parse_metadata_json(text: bytes) -> Any:
    """json.loads that refuses floats (canonical JSON has none)."""
    return json.loads(text, parse_float=_refuse_float)
