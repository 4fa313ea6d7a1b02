"""The setup use cases in-process: init, enroll, keygen, attestation re-check.

Each drives `ceremony.services` directly with a temporary directory, the software token and
its real selection code (`tests/unit/services_kit.py`): milliseconds per test. The same
behaviour through the command line is tested in tests/cli/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ceremony.errors import EXIT_INVALID_INPUT, InputError, PlanError
from ceremony.keys import SOURCE_PUBLIC_KEY, SOURCE_SOFTWARE
from ceremony.keysource import TokenKeyRead
from ceremony.services import attestation, enroll, init, state
from ceremony.services import keygen as keygens
from ceremony.tokens import select
from ceremony.tokens.software_rehearsal import SoftwareUri, token_for
from ceremony.tokens.types import KeyReader
from ceremony.transcript import Entry
from tests.unit.services_kit import (
    HOLDERS,
    NOW,
    TOKEN_KEYS,
    new_ceremony,
    online_pem,
    pin,
    plan,
)


def _reader() -> KeyReader:
    return select.key_reader(None, allow_imported=False, pin_provider=pin)


def test_init_writes_the_plan_template_and_records_it(tmp_path: Path) -> None:
    entry = Entry("init")
    res = init.init(tmp_path / "c", None, NOW, entry)
    assert res.previous_copy is None and res.enrolled == []
    assert (tmp_path / "c" / "ceremony.yaml").is_file()
    assert list(entry.files_written) == ["ceremony.yaml"]


def test_init_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="already exists and is not empty") as exc:
        init.init(tmp_path / "c", None, NOW, Entry("init"))
    assert exc.value.exit_code == EXIT_INVALID_INPUT


def test_init_from_a_previous_root_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read the previous root .*missing\.json"):
        init.init(tmp_path / "c", tmp_path / "missing.json", NOW, Entry("init"))
    assert not (tmp_path / "c").exists()  # nothing written


def test_keygen_generates_on_the_token_and_records_the_key(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path, enrol=False)
    res = kit.keygen("root-alice")
    assert res.new and res.record.source == SOURCE_SOFTWARE
    assert res.record.uri == kit.uri("root-alice")
    stored = json.loads((kit.root / "keys" / "root-alice.json").read_text())
    assert stored["keyid"] == res.record.keyid and stored["rehearsal_only"] is True


@pytest.mark.parametrize(
    ("name", "key_type", "attest", "message"),
    [
        ("root-alice", "dsa-1024", False, "--type dsa-1024 is not one of ed25519, ecdsa-p256"),
        ("root-zed", "ed25519", False, "'root-zed' is not a key in the plan"),
        ("root-alice", "ed25519", True, "--attest cannot apply to a key generated through PKCS#11"),
        ("root-alice", None, False, "no key type for 'root-alice': give --type"),
    ],
)
def test_keygen_refusals_generate_nothing(
    tmp_path: Path, name: str, key_type: str | None, attest: bool, message: str
) -> None:
    kit = new_ceremony(tmp_path, enrol=False)
    called: list[str] = []

    def generate(uri: str, key_name: str, kind: str) -> TokenKeyRead:
        called.append(key_name)
        raise AssertionError("generated despite the refusal")

    with pytest.raises(InputError, match=message):
        keygens.keygen(
            kit.cdir,
            name,
            kit.uri(name),
            key_type,
            NOW,
            Entry("keygen"),
            generate=generate,
            attest=attest,
        )
    assert called == [] and not (kit.root / "keys").exists()


def test_keygen_never_replaces_an_enrolled_key(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path, enrol=False)
    kit.keygen("root-alice")
    with pytest.raises(InputError, match="'root-alice' is already enrolled; keygen never replaces"):
        kit.keygen("root-alice")


def test_keygen_with_the_wrong_planned_type(tmp_path: Path) -> None:
    keys = {name: {"holder": holder} for name, holder in HOLDERS.items()}
    keys["root-alice"]["type"] = "ecdsa-p256"
    kit = new_ceremony(tmp_path, enrol=False, plan_text=plan(keys))
    with pytest.raises(InputError, match=r"the plan says keys\.root-alice\.type: ecdsa-p256"):
        kit.keygen("root-alice")


def test_enroll_a_public_key_file_twice_changes_nothing(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path, enrol=False)
    pem = online_pem(tmp_path)
    first, again = (
        enroll.enroll(
            kit.cdir, "online", NOW, Entry("enroll"), uri=None, public_key=pem, read_key=_reader()
        )
        for _ in range(2)
    )
    assert first.new and not again.new
    assert first.record.source == SOURCE_PUBLIC_KEY and again.record == first.record


def test_enroll_uses_the_plan_uri_when_none_is_given(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path, enrol=False)
    keys = {name: {"holder": holder} for name, holder in HOLDERS.items()}
    keys["root-bob"]["uri"] = kit.uri("root-bob")
    (kit.root / "ceremony.yaml").write_text(plan(keys))
    # the key exists on Bob's token (made outside the ceremony)
    tok = token_for(SoftwareUri.parse(kit.uri("root-bob")))
    tok.generate("root-bob", "ed25519", tok.login(pin, "test"))
    said: list[str] = []
    entry = Entry("enroll")
    res = enroll.enroll(
        kit.cdir,
        "root-bob",
        NOW,
        entry,
        uri=None,
        public_key=None,
        read_key=_reader(),
        inform=said.append,
    )
    assert said == [f"Using the URI the plan gives for 'root-bob': {kit.uri('root-bob')}"]
    assert res.new and res.record.uri == kit.uri("root-bob")
    assert "ceremony.yaml" in entry.files_read and "keys/root-bob.json" in entry.files_written


@pytest.mark.parametrize("both", [True, False])
def test_enroll_needs_exactly_one_source(tmp_path: Path, both: bool) -> None:
    kit = new_ceremony(tmp_path, enrol=False)
    with pytest.raises(InputError, match="give exactly one of --uri"):
        enroll.enroll(
            kit.cdir,
            "root-alice",
            NOW,
            Entry("enroll"),
            uri=kit.uri("root-alice") if both else None,
            public_key=tmp_path / "x.pem" if both else None,
            read_key=_reader(),
        )


def test_enroll_a_name_not_in_the_plan_reads_no_token(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path, enrol=False)

    def read(uri: str, purpose: str) -> TokenKeyRead:
        raise AssertionError("the token was read")

    with pytest.raises(InputError, match="'stranger' is not a key in the plan"):
        enroll.enroll(
            kit.cdir,
            "stranger",
            NOW,
            Entry("enroll"),
            uri=kit.uri("root-alice"),
            public_key=None,
            read_key=read,
        )


def test_enroll_refuses_one_key_under_two_names(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path)
    (kit.root / "keys" / "root-bob.json").unlink()
    with pytest.raises(InputError, match="this public key is already enrolled as 'root-alice'"):
        enroll.enroll(
            kit.cdir,
            "root-bob",
            NOW,
            Entry("enroll"),
            uri=kit.uri("root-alice"),
            public_key=None,
            read_key=_reader(),
        )
    assert not (kit.root / "keys" / "root-bob.json").exists()


def test_load_reports_checks_without_enforcing(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path, enrol=False)
    loaded = state.load(kit.cdir, NOW, enforce=False)
    assert any(c.id == "CER-KEY-NOT-ENROLLED" for c in loaded.checks)
    with pytest.raises(PlanError, match="CER-KEY-NOT-ENROLLED") as exc:
        state.load(kit.cdir, NOW, require_enrolled=True)
    assert exc.value.exit_code == EXIT_INVALID_INPUT


def test_every_key_enrolled_makes_a_rehearsal(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path)
    loaded = state.load(kit.cdir, NOW, require_enrolled=True)
    assert sorted(loaded.keys) == sorted([*TOKEN_KEYS, "online"])
    assert loaded.rehearsal
    assert loaded.people.holder(loaded.keys["root-bob"].keyid) == "Bob Example"


def test_attestation_recheck_with_none_recorded_or_required(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path)
    assert attestation.reverify_attestations(kit.cdir, [], NOW, Entry("attestation verify")) == []


def test_attestation_recheck_with_an_unreadable_ca_file(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path)
    with pytest.raises(InputError, match=r"cannot read .*nope\.pem"):
        attestation.reverify_attestations(kit.cdir, [tmp_path / "nope.pem"], NOW, Entry("a"))
