"""ceremony.plan: strict parsing of ceremony.yaml, every problem named by its YAML path.

Table-driven: each row is a YAML input and the exact problem line(s) the operator sees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ceremony.errors import EXIT_INVALID_INPUT, PlanError
from ceremony.files import NAME_RE
from ceremony.plan import Expiry
from ceremony.plan.parse import parse_plan
from ceremony.plan.template import default_template, plan_template

# A small valid plan in block style; rows below edit it with exact text replacements.
BASE = """\
repository: example.org/simple
root:
  expires: 365d
  consistent_snapshot: true
roles:
  root: {threshold: 2, keys: [root-alice, root-bob, root-carol]}
  targets: {threshold: 1, keys: [targets-alice]}
  snapshot: {threshold: 1, keys: [online]}
  timestamp: {threshold: 1, keys: [online]}
keys:
  root-alice: {holder: Alice Example}
  root-bob: {holder: Bob Example}
  root-carol: {holder: Carol Example}
  targets-alice: {holder: Alice Example}
  online: {holder: Online signing service}
"""

SHA = "ab" * 32
KEYS_ALLOWED = "holder, note, require_attestation, status, type, uri, waive_attestation"
TOP_ALLOWED = "imported, keys, policy, previous_root, rehearsal, repository, roles, root, targets"
NOT_A_NAME = "is not a key name (lowercase letters, digits, '.', '_', '-')"
BAD_KEY_NAME = "a key name uses lowercase letters, digits, '.', '_' and '-' (max 64)"
EXPIRY_FORMS = "expected a duration like 365d or a date like 2027-11-24"
PIN_LINE = (
    "a PIN never goes in the plan: remove pin-value / pin-source; "
    "the PIN is typed on the signing machine"
)

DELEGATION = """\
targets:
  expires: 365d
  delegations:
    - name: bins
      threshold: 1
      keys: [targets-alice]
      hash_bins: {count: COUNT, threshold: 1, keys: [online]}
"""


def edit(*pairs: tuple[str, str], append: str = "") -> str:
    """BASE with each `old` replaced by `new` (each `old` must occur exactly once)."""
    text = BASE
    for old, new in pairs:
        assert text.count(old) == 1, f"test bug: {old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text + append


def problems_of(text: str) -> tuple[PlanError, list[str]]:
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    return info.value, list(info.value.problems)


# --- valid plans --------------------------------------------------------------------------


def test_default_template_parses() -> None:
    plan = parse_plan(default_template())
    assert plan.repository == "example.org/simple"
    assert plan.previous_root is None
    assert plan.root.version is None
    assert plan.root.expires == Expiry(days=365)
    assert plan.root.consistent_snapshot is True
    assert {n: (r.threshold, r.keys) for n, r in plan.roles.items()} == {
        "root": (2, ("root-alice", "root-bob", "root-carol")),
        "targets": (1, ("targets-alice",)),
        "snapshot": (1, ("online",)),
        "timestamp": (1, ("online",)),
    }
    assert plan.keys["root-bob"].holder == "Bob Example"
    assert plan.keys["online"].status == "active"
    assert plan.rehearsal is False
    assert plan.offline_key_names() == {"root-alice", "root-bob", "root-carol", "targets-alice"}
    assert plan.online_key_names() == {"online"}


def test_base_plan_parses() -> None:
    plan = parse_plan(BASE)
    assert plan.holder("root-alice") == "Alice Example"
    assert plan.holder("nobody") == "unknown holder"
    assert plan.roles_of_key("online") == ["snapshot", "timestamp"]


def test_full_plan_with_every_optional_section_parses() -> None:
    text = edit(
        ("root:\n  expires: 365d\n", "root:\n  version: 3\n  expires: 2027-11-24\n"),
        (
            "root-alice: {holder: Alice Example}",
            "root-alice:\n"
            "    holder: Alice Example\n"
            "    uri: 'pkcs11:serial=12345678;id=%01'\n"
            "    type: ecdsa-p256\n"
            "    note: YubiKey 5C, safe 2\n"
            "    require_attestation: true",
        ),
        ("root-carol: {holder: Carol Example}", "root-carol: {holder: Carol, status: active}"),
        append=(
            f"previous_root: {{path: previous/2.root.json, sha256: {SHA.upper()}}}\n"
            + DELEGATION.replace("COUNT", "16")
            + "  version: 4\n"
            "policy:\n"
            "  max_expiry: {root: 400d, targets: 100d, delegation: 90d}\n"
            "  min_expiry: 14d\n"
            "  attestation: {roles: [root], touch: always}\n"
            "rehearsal: true\n"
        ),
    )
    plan = parse_plan(text)
    assert plan.previous_root is not None
    assert plan.previous_root.path == "previous/2.root.json"
    assert plan.previous_root.sha256 == SHA  # normalised to lowercase
    assert plan.root.version == 3
    assert plan.root.expires == Expiry(date=dt.date(2027, 11, 24))
    alice = plan.keys["root-alice"]
    assert alice.uri == "pkcs11:serial=12345678;id=%01"
    assert alice.type == "ecdsa-p256"
    assert alice.note == "YubiKey 5C, safe 2"
    assert alice.require_attestation is True
    assert plan.targets is not None
    assert plan.targets.version == 4
    (bins,) = plan.targets.delegations
    assert bins.name == "bins"
    assert bins.paths == ("*",)
    assert bins.expires == Expiry(days=365)
    assert bins.hash_bins is not None
    assert (bins.hash_bins.count, bins.hash_bins.prefix) == (16, "bin")
    assert plan.online_key_names() == {"online"}
    assert "targets-alice" in plan.offline_key_names()
    assert dict(plan.policy.max_expiry_days) == {"root": 400, "targets": 100, "delegation": 90}
    assert plan.policy.min_expiry_days == 14
    assert plan.policy.attestation.roles == ("root",)
    assert plan.policy.attestation.touch == "always"
    assert plan.rehearsal is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("365d", Expiry(days=365)),
        ("1d", Expiry(days=1)),
        ("2027-11-24", Expiry(date=dt.date(2027, 11, 24))),
        ("'2027-11-24'", Expiry(date=dt.date(2027, 11, 24))),
    ],
)
def test_expiry_forms_accepted(value: str, expected: Expiry) -> None:
    plan = parse_plan(edit(("expires: 365d", f"expires: {value}")))
    assert plan.root.expires == expected


def test_expiry_resolution() -> None:
    now = dt.datetime(2026, 1, 1, 12, 30, 15, 999, tzinfo=dt.UTC)
    assert Expiry(days=10).resolve(now) == dt.datetime(2026, 1, 11, 12, 30, 15, tzinfo=dt.UTC)
    assert Expiry(date=dt.date(2027, 11, 24)).resolve(now) == dt.datetime(
        2027, 11, 24, tzinfo=dt.UTC
    )
    assert str(Expiry(days=10)) == "10d"
    assert str(Expiry(date=dt.date(2027, 11, 24))) == "2027-11-24"


# --- invalid plans: input -> exact problem lines -------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    problems: list[str]


CASES = [
    Case(
        "unknown-top-level-field",
        BASE + "colour: blue\n",
        [f"colour: unknown field; allowed here: {TOP_ALLOWED}"],
    ),
    Case(
        "unknown-field-in-root",
        edit(("  consistent_snapshot: true\n", "  consistent_snapshot: true\n  colour: blue\n")),
        ["root.colour: unknown field; allowed here: consistent_snapshot, expires, version"],
    ),
    Case(
        "unknown-field-in-role",
        edit(
            ("{threshold: 1, keys: [targets-alice]}", "{threshold: 1, keys: [targets-alice], x: 1}")
        ),
        ["roles.targets.x: unknown field; allowed here: keys, threshold"],
    ),
    Case(
        "unknown-field-in-key",
        edit(("{holder: Bob Example}", "{holder: Bob Example, pin: 1234}")),
        [f"keys.root-bob.pin: unknown field; allowed here: {KEYS_ALLOWED}"],
    ),
    Case(
        "unknown-role",
        edit(("  timestamp: {", "  mirrors: {threshold: 1, keys: [online]}\n  timestamp: {")),
        ["roles.mirrors: unknown field; allowed here: root, snapshot, targets, timestamp"],
    ),
    Case(
        "missing-role",
        edit(("  timestamp: {threshold: 1, keys: [online]}\n", "")),
        ["roles.timestamp: required field is missing"],
    ),
    Case(
        "threshold-zero",
        edit(("{threshold: 1, keys: [targets-alice]}", "{threshold: 0, keys: [targets-alice]}")),
        ["roles.targets.threshold: 0 is less than 1"],
    ),
    Case(
        "threshold-above-key-count",
        edit(("{threshold: 2, keys: [root-alice", "{threshold: 4, keys: [root-alice")),
        ["roles.root.threshold: 4 is more than its 3 keys; the role could never be signed"],
    ),
    Case(
        "threshold-above-single-key",
        edit(("{threshold: 1, keys: [targets-alice]}", "{threshold: 2, keys: [targets-alice]}")),
        ["roles.targets.threshold: 2 is more than its 1 key; the role could never be signed"],
    ),
    Case(
        "threshold-not-a-number",
        edit(("{threshold: 1, keys: [targets-alice]}", "{threshold: two, keys: [targets-alice]}")),
        ["roles.targets.threshold: expected a whole number, found the text 'two'"],
    ),
    Case(
        "threshold-boolean",
        edit(("{threshold: 1, keys: [targets-alice]}", "{threshold: true, keys: [targets-alice]}")),
        ["roles.targets.threshold: expected a whole number, found the boolean true"],
    ),
    Case(
        "key-listed-twice-in-role",
        edit(("[root-alice, root-bob, root-carol]", "[root-alice, root-bob, root-alice]")),
        ["roles.root.keys[2]: key 'root-alice' is listed twice; a key counts only once"],
    ),
    Case(
        "role-key-not-described",
        edit(("keys: [targets-alice]", "keys: [targets-dave]")),
        [
            "roles.targets.keys: key 'targets-dave' is not described under 'keys' (add its holder there)"
        ],
    ),
    Case(
        "empty-role-key-list",
        edit(("{threshold: 1, keys: [targets-alice]}", "{threshold: 1, keys: []}")),
        ["roles.targets.keys: expected a non-empty list of key names, found a list"],
    ),
    Case(
        "bad-key-name-under-keys",
        edit(
            (
                "  online: {holder: Online signing service}\n",
                "  online: {holder: Online signing service}\n  Root_Dave: {holder: Dave}\n",
            )
        ),
        [f"keys.Root_Dave: {BAD_KEY_NAME}"],
    ),
    Case(
        "bad-key-name-in-role",
        edit(("[root-alice, root-bob, root-carol]", "[root-alice, Root-Bob, root-carol]")),
        [f"roles.root.keys[1]: the text 'Root-Bob' {NOT_A_NAME}"],
    ),
    Case(
        "number-as-key-name-in-role",
        edit(("[root-alice, root-bob, root-carol]", "[root-alice, root-bob, 42]")),
        [f"roles.root.keys[2]: the number 42 {NOT_A_NAME}"],
    ),
    Case(
        "bad-key-type",
        edit(("{holder: Bob Example}", "{holder: Bob Example, type: rsa-2048}")),
        ["keys.root-bob.type: 'rsa-2048' is not one of ed25519, ecdsa-p256, ecdsa-p384, rsa-3072"],
    ),
    Case(
        "bad-key-status",
        edit(("{holder: Bob Example}", "{holder: Bob Example, status: revoked}")),
        ["keys.root-bob.status: 'revoked' is not one of active, compromised, lost"],
    ),
    Case(
        "holder-not-text",
        edit(("{holder: Bob Example}", "{holder: 1234}")),
        [
            "keys.root-bob.holder: expected text, found the number 1234 (quote it if it looks like a number)"
        ],
    ),
    Case(
        "require-attestation-not-boolean",
        edit(("{holder: Bob Example}", "{holder: Bob Example, require_attestation: maybe}")),
        ["keys.root-bob.require_attestation: expected true or false, found the text 'maybe'"],
    ),
    Case(
        "expiry-word",
        edit(("expires: 365d", "expires: soon")),
        [f"root.expires: {EXPIRY_FORMS}, found the text 'soon'"],
    ),
    Case(
        "expiry-zero-days",
        edit(("expires: 365d", "expires: 0d")),
        ["root.expires: a duration must be at least 1d"],
    ),
    Case(
        "expiry-datetime",
        edit(("expires: 365d", "expires: 2027-11-24T10:00:00Z")),
        ["root.expires: give a date (2027-11-24) or a duration (365d), not a date and time"],
    ),
    Case(
        "expiry-datetime-with-space",
        edit(("expires: 365d", "expires: 2027-11-24 10:00:00")),
        ["root.expires: give a date (2027-11-24) or a duration (365d), not a date and time"],
    ),
    Case(
        "expiry-bare-number",
        edit(("expires: 365d", "expires: 365")),
        [f"root.expires: {EXPIRY_FORMS}, found the number 365"],
    ),
    Case(
        "expiry-weeks",
        edit(("expires: 365d", "expires: 52w")),
        [f"root.expires: {EXPIRY_FORMS}, found the text '52w'"],
    ),
    Case(
        "expiry-impossible-date",
        edit(("expires: 365d", "expires: '2027-02-30'")),
        [f"root.expires: {EXPIRY_FORMS}, found the text '2027-02-30'"],
    ),
    Case(
        "root-version-zero",
        edit(("root:\n", "root:\n  version: 0\n")),
        ["root.version: 0 is less than 1"],
    ),
    Case(
        "consistent-snapshot-not-boolean",
        edit(("consistent_snapshot: true", "consistent_snapshot: sometimes")),
        ["root.consistent_snapshot: expected true or false, found the text 'sometimes'"],
    ),
    Case(
        "previous-root-sha-short",
        BASE + "previous_root: {path: previous/1.root.json, sha256: abcdef}\n",
        ["previous_root.sha256: expected the 64 hex digits of the file's SHA-256"],
    ),
    Case(
        "previous-root-sha-not-hex",
        BASE + f"previous_root: {{path: previous/1.root.json, sha256: {'g' * 64}}}\n",
        ["previous_root.sha256: expected the 64 hex digits of the file's SHA-256"],
    ),
    Case(
        "previous-root-sha-65-digits",
        BASE + f"previous_root: {{path: previous/1.root.json, sha256: {SHA}a}}\n",
        ["previous_root.sha256: expected the 64 hex digits of the file's SHA-256"],
    ),
    Case(
        "previous-root-without-path",
        BASE + f"previous_root: {{sha256: {SHA}}}\n",
        ["previous_root.path: required field is missing"],  # reported once (was twice)
    ),
    Case(
        "pin-value-in-uri",
        edit(
            (
                "{holder: Bob Example}",
                "{holder: Bob Example, uri: 'pkcs11:serial=1;id=%01?pin-value=123456'}",
            )
        ),
        [f"keys.root-bob.uri: {PIN_LINE}"],
    ),
    Case(
        "pin-source-in-uri-any-case",
        edit(
            (
                "{holder: Bob Example}",
                "{holder: Bob Example, uri: 'PKCS11:serial=1?PIN-Source=file:/pin'}",
            )
        ),
        [f"keys.root-bob.uri: {PIN_LINE}"],
    ),
    Case(
        "non-pkcs11-uri",
        edit(("{holder: Bob Example}", "{holder: Bob Example, uri: 'file:/home/bob/key.pem'}")),
        ["keys.root-bob.uri: expected an RFC 7512 URI starting with 'pkcs11:'"],
    ),
    Case(
        "hash-bins-count-not-power-of-two",
        BASE + DELEGATION.replace("COUNT", "1000"),
        [
            "targets.delegations[0].hash_bins.count: 1000 is not a power of two (2, 4, ..., 16384, ...)"
        ],
    ),
    Case(
        "hash-bins-count-too-large",
        BASE + DELEGATION.replace("COUNT", str(2**21)),
        [
            "targets.delegations[0].hash_bins.count: 2097152 bins is more than the 1,048,576 supported"
        ],
    ),
    Case(
        "hash-bins-count-one",
        BASE + DELEGATION.replace("COUNT", "1"),
        ["targets.delegations[0].hash_bins.count: 1 is less than 2"],
    ),
    Case(
        "delegation-named-like-top-level-role",
        BASE + DELEGATION.replace("name: bins", "name: snapshot").replace("COUNT", "16"),
        ["targets.delegations[0].name: the text 'snapshot' is not a usable role name"],
    ),
    Case(
        "policy-max-expiry-date",
        BASE + "policy: {max_expiry: {root: 2027-11-24}}\n",
        ["policy.max_expiry.root: give a duration such as 731d"],
    ),
    Case(
        "policy-unknown-touch",
        BASE + "policy: {attestation: {touch: never}}\n",
        ["policy.attestation.touch: expected 'always' or 'cached'"],
    ),
    Case(
        "rehearsal-not-boolean",
        BASE + "rehearsal: please\n",
        ["rehearsal: expected true or false, found the text 'please'"],
    ),
    Case(
        "several-problems-at-once",
        edit(
            ("expires: 365d", "expires: soon"),
            ("{threshold: 2, keys: [root-alice", "{threshold: 4, keys: [root-alice"),
            ("{holder: Bob Example}", "{holder: Bob Example, status: revoked}"),
            ("keys: [targets-alice]", "keys: [targets-dave]"),
            append="colour: blue\n",
        ),
        [
            f"colour: unknown field; allowed here: {TOP_ALLOWED}",
            f"root.expires: {EXPIRY_FORMS}, found the text 'soon'",
            "roles.root.threshold: 4 is more than its 3 keys; the role could never be signed",
            "keys.root-bob.status: 'revoked' is not one of active, compromised, lost",
            "roles.targets.keys: key 'targets-dave' is not described under 'keys' "
            "(add its holder there)",
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan_problem_lines(case: Case) -> None:
    err, problems = problems_of(case.text)
    assert problems == case.problems
    text = str(err)
    n = len(case.problems)
    assert text.startswith(f"ceremony.yaml has {n} problem{'s' if n != 1 else ''}:")
    for line in case.problems:
        assert f"\n  - {line}" in text
    assert err.exit_code == EXIT_INVALID_INPUT
    assert err.hint is not None and "ceremony validate" in err.hint


def test_pin_value_is_not_echoed() -> None:
    err, _ = problems_of(
        edit(("{holder: Bob Example}", "{holder: Bob, uri: 'pkcs11:id=%01?pin-value=918273'}"))
    )
    assert "918273" not in str(err)
    assert all("918273" not in p for p in err.problems)


def test_source_name_used_in_messages() -> None:
    with pytest.raises(PlanError) as info:
        parse_plan(BASE + "colour: blue\n", source="other/plan.yaml")
    assert str(info.value).startswith("other/plan.yaml has 1 problem:")


# --- YAML-level refusals (one message for the whole file) ----------------------------------


YAML_CASES = [
    Case(
        "duplicate-top-level-key",
        BASE + "repository: again\n",
        [
            "ceremony.yaml: not valid YAML (line 16, column 1): duplicate key 'repository' "
            "(first on line 1). Fix the file and run the command again."
        ],
    ),
    Case(
        "duplicate-nested-key",
        edit(("  consistent_snapshot: true\n", "  consistent_snapshot: true\n  expires: 30d\n")),
        [
            "ceremony.yaml: not valid YAML (line 5, column 3): duplicate key 'expires' "
            "(first on line 3). Fix the file and run the command again."
        ],
    ),
    Case(
        "duplicate-key-in-flow-mapping",
        edit(("{holder: Bob Example}", "{holder: Bob Example, holder: Mallory}")),
        [
            "ceremony.yaml: not valid YAML (line 12, column 35): duplicate key 'holder' "
            "(first on line 12). Fix the file and run the command again."
        ],
    ),
    Case(
        "anchor-and-alias",
        edit(
            ("root-alice: {holder: Alice Example}", "root-alice: &alice {holder: Alice Example}"),
            ("targets-alice: {holder: Alice Example}", "targets-alice: *alice"),
        ),
        [
            "ceremony.yaml: YAML anchors and aliases (&name, *name) are not allowed in a plan; "
            "write every value out so reviewers see it."
        ],
    ),
    Case(
        "anchor-alone",
        edit(("root-alice: {holder: Alice Example}", "root-alice: &alice {holder: Alice Example}")),
        [
            "ceremony.yaml: YAML anchors and aliases (&name, *name) are not allowed in a plan; "
            "write every value out so reviewers see it."
        ],
    ),
    Case(
        "merge-key",
        edit(("{holder: Bob Example}", "{<<: {holder: Mallory}, holder: Bob Example}")),
        [
            "ceremony.yaml: not valid YAML (line 12, column 14): could not determine a "
            "constructor for the tag 'tag:yaml.org,2002:merge'. Fix the file and run the "
            "command again."
        ],
    ),
    Case(
        "two-documents",
        BASE + "---\nrepository: second\n",
        [
            "ceremony.yaml: expected exactly one YAML document, found 2. "
            "Remove extra '---' separators."
        ],
    ),
    Case(
        "python-tag",
        BASE + "x: !!python/object/apply:os.system ['true']\n",
        [
            "ceremony.yaml: not valid YAML (line 16, column 4): could not determine a "
            "constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'. "
            "Fix the file and run the command again."
        ],
    ),
    Case(
        "not-a-mapping",
        "- just\n- a list\n",
        ["(top level): expected a mapping (key: value lines), found a list"],
    ),
]


@pytest.mark.parametrize("case", YAML_CASES, ids=[c.id for c in YAML_CASES])
def test_yaml_level_refusals(case: Case) -> None:
    err, problems = problems_of(case.text)
    assert problems == case.problems
    for line in case.problems:
        assert line in str(err)


def test_ampersand_and_star_in_quoted_text_are_fine() -> None:
    plan = parse_plan(edit(("{holder: Bob Example}", "{holder: 'Bob & *Partners*'}")))
    assert plan.keys["root-bob"].holder == "Bob & *Partners*"


def test_oversized_plan_refused() -> None:
    with pytest.raises(PlanError, match="larger than 1 MiB"):
        parse_plan(BASE + "# " + "x" * (1024 * 1024) + "\n")


# --- missing required fields ----------------------------------------------------------------

MISSING = [
    ("repository", edit(("repository: example.org/simple\n", "")), "repository"),
    ("root", edit(("root:\n  expires: 365d\n  consistent_snapshot: true\n", "")), "root"),
    ("root.expires", edit(("  expires: 365d\n", "")), "root.expires"),
    (
        "keys.holder",
        edit(("{holder: Bob Example}", "{uri: 'pkcs11:serial=1'}")),
        "keys.root-bob.holder",
    ),
    (
        "roles.threshold",
        edit(("{threshold: 1, keys: [targets-alice]}", "{keys: [targets-alice]}")),
        "roles.targets.threshold",
    ),
]


@pytest.mark.parametrize(("text", "path"), [m[1:] for m in MISSING], ids=[m[0] for m in MISSING])
def test_missing_required_field_named(text: str, path: str) -> None:
    err, problems = problems_of(text)
    assert f"{path}: required field is missing" in problems
    assert f"{path}: required field is missing" in str(err)


@pytest.mark.parametrize(("text", "path"), [m[1:] for m in MISSING], ids=[m[0] for m in MISSING])
def test_missing_required_field_reported_once(text: str, path: str) -> None:
    _, problems = problems_of(text)
    assert problems == [f"{path}: required field is missing"]


# --- bugs found -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "# keys & holders\n" + BASE + "bad: [1\n",
        BASE + "paths: [*]\n",
    ],
    ids=["ampersand-in-comment", "bare-star"],
)
def test_invalid_yaml_with_ampersand_or_star_is_a_plan_error(text: str) -> None:
    with pytest.raises(PlanError, match="not valid YAML"):
        parse_plan(text)


def test_invalid_yaml_without_ampersand_is_a_plan_error() -> None:
    # Issue 11: the line and column of the unclosed '[' itself: line 16 (the parser said line 17,
    # column 1), in words, with the line and a caret.
    with pytest.raises(
        PlanError, match=r"not valid YAML \(line 16, column 6\): the '\[' here"
    ) as e:
        parse_plan(BASE + "bad: [1\n")
    assert "  16 | bad: [1\n     |      ^" in str(e.value)


YAML_SYNTAX = [
    # (the mistake, the plan, the line and column reported, words of the explanation)
    (
        "indented one space too far",
        "repository: x\nroot:\n  expires: 365d\nroles:\n   root: {threshold: 2, keys: [a]}\n"
        "  targets: {threshold: 1, keys: [b]}\n",
        (5, 4),
        "the indentation does not line up: line 5 starts in column 4 and line 6 in column 3",
    ),
    (
        "missing }",
        "repository: x\nroles:\n  root: {threshold: 2, keys: [a]\n  targets: {threshold: 1}\n",
        (3, 9),
        "the '{' here is not closed with '}'",
    ),
    ("a tab", "repository: x\nkeys:\n\ta: {holder: A}\n", (3, 1), "a tab character"),
    (
        "no colon",
        "repository: x\nkeys\n  a: {holder: A}\n",
        (2, 1),
        "'keys' is not followed by ':'",
    ),
    ("open quote", 'repository: "x\nkeys: {}\n', (1, 13), "this quoted text is never closed"),
]


@pytest.mark.parametrize(
    ("text", "where", "words"), [c[1:] for c in YAML_SYNTAX], ids=[c[0] for c in YAML_SYNTAX]
)
def test_yaml_syntax_errors_in_words_on_the_right_line_with_a_caret(
    text: str, where: tuple[int, int], words: str
) -> None:
    """Issue 11: no parser jargon (`<block end>`, `<scalar>`), the line of the mistake (not
    the line after it), the line itself and a caret under the place."""
    with pytest.raises(PlanError) as e:
        parse_plan(text)
    msg = str(e.value)
    line, column = where
    assert f"not valid YAML (line {line}, column {column}): {words}" in msg
    assert "<" not in msg and "block end" not in msg
    shown = text.splitlines()[line - 1].replace("\t", "→")
    assert f"  {line} | {shown}\n    | {' ' * (column - 1)}^" in msg


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_plan_says_it_is_empty(text: str) -> None:
    with pytest.raises(PlanError, match=r"ceremony\.yaml is empty: it holds no plan"):
        parse_plan(text)


def test_key_name_with_trailing_newline_refused() -> None:
    text = edit(
        ("  root-alice: {holder: Alice Example}", '  "root-alice\\n": {holder: Alice Example}'),
        ("keys: [root-alice,", 'keys: ["root-alice\\n",'),
    )
    _, problems = problems_of(text)
    assert any(p.startswith("keys.root-alice") for p in problems), problems


def test_policy_min_expiry_date_refused() -> None:
    _, problems = problems_of(BASE + "policy: {min_expiry: 2027-01-01}\n")
    assert any(p.startswith("policy.min_expiry: ") for p in problems), problems


def test_policy_attestation_unknown_role_refused() -> None:
    _, problems = problems_of(BASE + "policy: {attestation: {roles: [rooot]}}\n")
    assert any(p.startswith("policy.attestation.roles") for p in problems), problems


def test_policy_attestation_allow_advisories_by_name() -> None:
    plan = parse_plan(
        BASE + "policy: {attestation: {allow_advisories: [YSA-2024-03, YSA-2019-02]}}\n"
    )
    assert plan.policy.attestation.allow_advisories == ("YSA-2024-03", "YSA-2019-02")
    assert plan.policy.attestation.allow_vulnerable_firmware is False
    _, problems = problems_of(BASE + "policy: {attestation: {allow_advisories: [YSA-2024-3]}}\n")
    assert problems == [
        "policy.attestation.allow_advisories[0]: the text 'YSA-2024-3' is not a known advisory "
        "(YSA-2024-03, YSA-2017-01, YSA-2019-02)"
    ]
    _, problems = problems_of(BASE + "policy: {attestation: {allow_advisories: YSA-2024-03}}\n")
    assert problems[0].startswith("policy.attestation.allow_advisories: expected a list")


def test_waive_attestation_needs_a_reason_and_excludes_require() -> None:
    text = edit(
        (
            "root-alice: {holder: Alice Example}",
            "root-alice: {holder: Alice Example, waive_attestation: 'f9 overwritten in 2023'}",
        )
    )
    assert parse_plan(text).keys["root-alice"].waive_attestation == "f9 overwritten in 2023"
    _, problems = problems_of(
        edit(
            (
                "root-alice: {holder: Alice Example}",
                "root-alice: {holder: A, waive_attestation: true}",
            )
        )
    )
    assert problems[0].startswith("keys.root-alice.waive_attestation: expected text")
    _, problems = problems_of(
        edit(
            (
                "root-alice: {holder: Alice Example}",
                "root-alice: {holder: A, waive_attestation: why, require_attestation: true}",
            )
        )
    )
    assert problems == [
        "keys.root-alice.waive_attestation: the key cannot both require an attestation and "
        "waive it; keep one"
    ]


def test_bad_key_name_in_role_reported_alone() -> None:
    _, problems = problems_of(edit(("keys: [targets-alice]", "keys: [Targets-Alice]")))
    assert problems == [f"roles.targets.keys[0]: the text 'Targets-Alice' {NOT_A_NAME}"]


# --- the generated template (plan.template.plan_template) parses back -------------------------------


def _template(names: list[str]) -> str:
    return plan_template(
        "example.org/x",
        ("previous/1.root.json", SHA),
        2,
        "365d",
        True,
        {
            "root": (1, names),
            "targets": (1, names[:1]),
            "snapshot": (1, names[:1]),
            "timestamp": (1, names[:1]),
        },
        {n: {"holder": f"Holder {n}"} for n in names},
    )


def test_template_marks_lost_and_compromised_keys() -> None:
    text = plan_template(
        "example.org/x",
        ("previous/1.root.json", SHA),
        None,
        "365d",
        True,
        {r: (1, ["root-1"]) for r in ("root", "targets", "snapshot", "timestamp")},
        {"root-1": {"holder": "One"}, "root-2": {"holder": "Two"}, "root-3": {"holder": "Three"}},
        {"root-2": "lost", "root-3": "compromised"},
    )
    assert '  "root-2": {status: lost, holder: "Two"}' in text
    plan = parse_plan(text)
    assert [plan.keys[n].status for n in ("root-1", "root-2", "root-3")] == [
        "active",
        "lost",
        "compromised",
    ]


def test_template_with_ordinary_names_parses_back() -> None:
    plan = parse_plan(_template(["root-1", "root-2", "targets-1"]))
    assert list(plan.keys) == ["root-1", "root-2", "targets-1"]
    assert plan.previous_root is not None and plan.previous_root.sha256 == SHA
    assert plan.root.version == 2


key_names = st.from_regex(NAME_RE, fullmatch=True).filter(lambda n: "\n" not in n)


@settings(max_examples=50, deadline=None)
@given(name=key_names)
@example(name="on")
@example(name="123")
def test_template_parses_back_for_every_valid_name(name: str) -> None:
    plan = parse_plan(_template([name]))
    assert list(plan.keys) == [name]
