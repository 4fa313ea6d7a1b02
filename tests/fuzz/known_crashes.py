"""Crashes the fuzz targets found that are not fixed yet, each with its minimal input.

``tests/fuzz/test_fuzz.py`` runs every minimal input as ``xfail(strict=True)``: the day the
code is fixed that test turns red, and the entry is deleted here. While an entry is here, the
property tests of its target tolerate a crash with the same symptom (same command, same
exception) so that they keep looking for NEW crashes; ``fuzz/run.py`` reports such crashes as
"known". Move an entry to FIXED as soon as its fix lands: its symptom is then a failure
again, and its minimal input runs as an ordinary test forever
(``test_fuzz.py::test_fixed_crash_stays_fixed``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fuzz.targets import FuzzEnv


@dataclass(frozen=True)
class KnownCrash:
    id: str
    target: str
    commands: str  # regex: the command(s) that crash, e.g. "validate|draft"
    error: str  # the exception the CLI reports as "Internal error: ERROR"
    reason: str  # what breaks, for the xfail reason and the report
    make: Callable[[FuzzEnv], Any]  # the minimal input (for the target's run function)

    def matches(self, target: str, message: str) -> bool:
        first = message.split("\n", 1)[0]
        return (
            target == self.target
            and re.match(rf"ceremony (?:{self.commands}) ", first) is not None
            and f"Internal error: {self.error}" in message
        )


def _root_without_key_of_a_role(env: FuzzEnv) -> bytes:
    doc = json.loads(env.previous_root)
    kid = doc["signed"]["roles"]["root"]["keyids"][0]
    del doc["signed"]["keys"][kid]
    return json.dumps(doc).encode()


def _root_with_a_float(env: FuzzEnv) -> bytes:
    doc = copy.deepcopy(json.loads(env.previous_root))
    doc["signed"]["x-ratio"] = 1.5
    return json.dumps(doc).encode()


def _root_with_a_float_in_a_key(env: FuzzEnv) -> bytes:
    doc = json.loads(env.previous_root)
    kid = doc["signed"]["roles"]["root"]["keyids"][0]
    doc["signed"]["keys"][kid]["x-weight"] = 0.5
    return json.dumps(doc).encode()


def _root_with_a_null_keyid(env: FuzzEnv) -> bytes:
    doc = json.loads(env.previous_root)
    doc["signed"]["roles"]["root"]["keyids"] = [None]
    return json.dumps(doc).encode()


def _plan_with_a_list_as_key_type(env: FuzzEnv) -> tuple[str, bytes]:
    text = (env.rotation / "ceremony.yaml").read_text()
    return "rotation", text.replace('type: "ed25519"', 'type: ["x"]', 1).encode()


def _record_with_token_true(env: FuzzEnv) -> tuple[str, str, bytes]:
    doc = json.loads((env.attested / "keys" / "root-yk.json").read_bytes())
    doc["provenance"]["token"] = True
    return "verify", "record", json.dumps(doc).encode()


def _root_with_a_list_as_signature(env: FuzzEnv) -> bytes:
    doc = json.loads(env.previous_root)
    doc["signatures"][0]["sig"] = ["x"]
    return json.dumps(doc).encode()


def _record_with_an_unknown_curve(env: FuzzEnv) -> tuple[str, str, bytes]:
    """The record's PEM public key with its curve OID changed (1.2.840.10045.3.1.7, P-256,
    to 0.38.840.10045.3.1.7): cryptography raises UnsupportedAlgorithm reading it."""
    import base64

    doc = json.loads((env.attested / "keys" / "root-yk.json").read_bytes())
    pem = doc["key"]["keyval"]["public"]
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body)
    p256 = bytes.fromhex("2a8648ce3d030107")
    assert p256 in der, "the rig's attested key is P-256"
    der = der.replace(p256, bytes.fromhex("268648ce3d030107"))
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    doc["key"]["keyval"]["public"] = "\n".join(
        ["-----BEGIN PUBLIC KEY-----", *lines, "-----END PUBLIC KEY-----", ""]
    )
    return "verify", "record", json.dumps(doc).encode()


def _signature_name(env: FuzzEnv) -> str:
    return next((env.signed_copy / "signatures" / "root").glob("*.json")).name


DEEP_JSON = b"[" * 1000


KNOWN: list[KnownCrash] = []

# Crashes found by fuzzing and fixed (issue 9): the deep-nesting kinds by one JSON reader
# (`files.parse_json`) and one YAML event walk with depth limits, floats refused where JSON
# is read, cryptography's UnsupportedAlgorithm caught, a previous root judged by
# `tufread` before anything is built on it.
FIXED: list[KnownCrash] = [
    KnownCrash(
        "plan-deep-yaml",
        "plan",
        "validate|draft",
        "RecursionError",
        "validate: a ceremony.yaml nested 1,000 levels deep ends in 'Internal error: "
        "RecursionError' (the YAML parser recurses; refuse deep or oversized plans with a message)",
        lambda env: ("first", b"[" * 1000),
    ),
    KnownCrash(
        "merge-deep-json",
        "merge",
        "merge",
        "RecursionError",
        "merge: a signature file in the other copy nested 1,000 levels deep ends in "
        "'Internal error: RecursionError'",
        lambda env: ("signature", _signature_name(env), DEEP_JSON),
    ),
    KnownCrash(
        "attestation-record-not-utf8",
        "attestation",
        "attestation verify",
        "UnicodeDecodeError",
        "attestation verify: a keys/NAME.json that is not UTF-8 (one byte 0xff) ends in "
        "'Internal error: UnicodeDecodeError'",
        lambda env: ("verify", "record", b"\xff"),
    ),
    KnownCrash(
        "attestation-record-deep-json",
        "attestation",
        "attestation verify",
        "RecursionError",
        "attestation verify: a keys/NAME.json nested 1,000 levels deep ends in "
        "'Internal error: RecursionError'",
        lambda env: ("verify", "record", DEEP_JSON),
    ),
    KnownCrash(
        "metadata-role-keyid-without-key",
        "metadata",
        "init",
        "KeyError",
        "init --previous-root: a root whose role lists a keyid with no entry in `keys` (python-tuf "
        "and verify accept it) ends in 'Internal error: KeyError' (case 10)",
        _root_without_key_of_a_role,
    ),
    KnownCrash(
        "metadata-null-keyid",
        "metadata",
        "init",
        "TypeError",
        "init --previous-root: a root whose roles.root.keyids is [null] ends in 'Internal error: "
        "TypeError: 'NoneType' object is not subscriptable' (verify refuses it cleanly)",
        _root_with_a_null_keyid,
    ),
    KnownCrash(
        "metadata-float-in-a-key",
        "metadata",
        "validate",
        "FormatError",
        "a previous root whose key object carries a float ('x-weight': 0.5) passes verify and "
        "init; validate then ends in 'Internal error: FormatError ... I cannot encode 0.5' "
        "(case 09's kind, in a key)",
        _root_with_a_float_in_a_key,
    ),
    KnownCrash(
        "metadata-float-in-previous-root",
        "metadata",
        "show",
        "FormatError",
        "a previous root with a float ('x-ratio': 1.5) passes init, validate and draft; show then "
        "ends in 'Internal error: FormatError ... I cannot encode 1.5' (case 09)",
        _root_with_a_float,
    ),
    # Found by the 10-minute run of 2026-11-30 and fixed the same day.
    KnownCrash(
        "plan-key-type-not-text",
        "plan",
        "validate|draft",
        "TypeError",
        "validate: keys.NAME.type given as a list ([x]) ends in 'Internal error: TypeError: "
        "unhashable type: 'list'' (looked up in the key-type table unchecked)",
        _plan_with_a_list_as_key_type,
    ),
    KnownCrash(
        "attestation-record-token-not-object",
        "attestation",
        "attestation verify",
        "AttributeError",
        "attestation verify: a keys/NAME.json whose provenance.token is `true` ends in "
        "'Internal error: AttributeError: 'bool' object has no attribute 'get''",
        _record_with_token_true,
    ),
    # Found by the 10-minute run of 2026-11-29 (after merging issues 11-13), fixed the same day.
    KnownCrash(
        "metadata-signature-not-text",
        "metadata",
        "verify",
        "TypeError",
        "verify: a root whose signature `sig` is a JSON list (python-tuf 7 takes it) ends in "
        "'Internal error: TypeError: unhashable type: 'list''",
        _root_with_a_list_as_signature,
    ),
    KnownCrash(
        "attestation-record-unknown-curve",
        "attestation",
        "attestation verify",
        "UnsupportedAlgorithm",
        "attestation verify: a keys/NAME.json whose PEM public key names a curve cryptography "
        "does not know ends in 'Internal error: UnsupportedAlgorithm'",
        _record_with_an_unknown_curve,
    ),
]


def known_crash(target: str, message: str) -> KnownCrash | None:
    """The known crash that ``message`` (a Crash from ``target``) is an instance of, if any."""
    return next((k for k in KNOWN if k.matches(target, message)), None)
