"""YubiKey PIV attestation in a ceremony: attest a key at enrolment, re-check them all later.

At enrolment the attestation certificates are read from the token (or given as files),
verified against the pinned Yubico root (or CAs the operator passes) and the key being
enrolled, and kept as evidence beside the key record. `ceremony attestation verify`
re-checks every stored attestation against the certificates, the record and the plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from securesystemslib.signer import SSlibKey

from ceremony.attestation import (
    AttestationInfo,
    attestation_problems,
    attestation_required,
    verify_attestation,
)
from ceremony.errors import AttestationError, CeremonyError, InputError, StoreError
from ceremony.files import MAX_INPUT_BYTES, MAX_SMALL_FILE_BYTES, read_input
from ceremony.keys import EnrolledKey, key_type_of
from ceremony.keysource import TokenKeyRead, is_yubikey_token
from ceremony.plan import Plan
from ceremony.services.state import load
from ceremony.store import CeremonyDir
from ceremony.tokens.types import AttestationReader
from ceremony.transcript import Entry


@dataclass(frozen=True)
class AttestationFiles:
    """The attestation an operator asks for at enrolment: files given on the command line,
    or (with no `key_cert`) read from the token."""

    key_cert: Path | None = None  # --attestation: the key's attestation certificate
    device_cert: Path | None = None  # --attestation-intermediate: the slot f9 certificate
    extra_cas: Sequence[Path] = field(default_factory=list)  # --attestation-ca (trusted)
    chain: Sequence[Path] = field(default_factory=list)  # --attestation-chain (path only)

    @property
    def any_given(self) -> bool:
        """Was any attestation option given at all?"""
        return bool(self.key_cert or self.device_cert or self.extra_cas or self.chain)

    def names(self) -> list[str]:
        """The attestation options given, by their command-line names."""
        return [
            name
            for name, given in (
                ("--attestation", self.key_cert),
                ("--attestation-intermediate", self.device_cert),
                ("--attestation-ca", self.extra_cas),
                ("--attestation-chain", self.chain),
            )
            if given
        ]


def _pem(data: bytes) -> bytes:
    """PEM text of one or more certificates given as DER or PEM."""
    if b"-----BEGIN" in data:
        return b"".join(c.public_bytes(Encoding.PEM) for c in x509.load_pem_x509_certificates(data))
    return x509.load_der_x509_certificate(data).public_bytes(Encoding.PEM)


def waiver_of(plan: Plan, name: str) -> str | None:
    """The plan's reason to enrol the key `name` without its attestation (None: no waiver)."""
    spec = plan.keys.get(name)
    return spec.waive_attestation if spec is not None else None


def check_plan_policy(plan: Plan, rec: EnrolledKey) -> None:
    """Refuse (AttestationError, exit 1) a key whose attestation breaks the plan's policy
    (touch, PIN, firmware advisories the plan does not allow)."""
    assert rec.attestation is not None
    info = AttestationInfo.from_dict(rec.attestation, where=f"attestation of {rec.name}")
    problems = attestation_problems(plan, rec.name, key_type_of(rec.key), info)
    if problems:
        raise AttestationError(
            f"the attestation of '{rec.name}' ({info.summary('device')}) does not meet the "
            "plan's policy: " + "; ".join(problems) + ". Nothing was enrolled.",
            hint="Use a key that meets the policy, or change policy.attestation in the plan "
            "(reviewed) if this is a deliberate exception.",
        )


def attested_by_default(
    plan: Plan,
    name: str,
    read: Callable[[], TokenKeyRead],
    files: AttestationFiles,
    explicit: bool,
    read_attestation: AttestationReader | None,
    notify: Callable[[str], None],
) -> Callable[[], TokenKeyRead]:
    """Wrap a token key reader: the key is attested when asked (`explicit`: --attest or
    --attestation) or when its token can attest (a YubiKey PIV key) and the plan does not
    waive it. The attestation is read from the token (or taken from `files`) and verified
    against the pinned Yubico roots (or the operator's CAs) before anything is enrolled.

    The returned reader raises InputError (exit 2) for a missing or unreadable file or an
    attestation option that cannot apply to the key (no attestation is checked), and
    AttestationError (exit 1) for an attestation that does not verify.
    """

    def run() -> TokenKeyRead:
        got = read()
        can = is_yubikey_token(got.token)
        waiver = waiver_of(plan, name)
        if explicit or (can and waiver is None):
            if files.key_cert is not None:
                kc, dc = attestation_files(files)
            else:
                if read_attestation is None:
                    raise InputError("reading an attestation from a token is not possible here.")
                notify(
                    "Reading the attestation certificate and the device (f9) certificate "
                    "from the token ..."
                )
                kc, dc = read_attestation(got.uri)
            return verified(got, kc, dc, files)
        if files.any_given:
            why = (
                f"the plan waives the attestation of '{name}' (keys.{name}.waive_attestation)"
                if can
                else f"{got.token.get('label') or 'its token'} is not a YubiKey PIV token, so "
                "the key has no attestation to check"
            )
            raise InputError(
                f"{', '.join(files.names())} cannot apply: {why}. Nothing was enrolled."
            )
        return got

    return run


def attestation_files(files: AttestationFiles) -> tuple[bytes, bytes]:
    """The bytes of --attestation and --attestation-intermediate. Raises InputError (exit 2)
    when one is missing or unreadable."""
    if files.key_cert is None or files.device_cert is None:
        raise InputError(
            "--attestation (the key's attestation certificate) and --attestation-intermediate "
            "(the slot f9 device certificate) go together: give both files."
        )
    return (
        read_input(files.key_cert, "the attestation certificate ", MAX_SMALL_FILE_BYTES),
        read_input(files.device_cert, "the device certificate ", MAX_SMALL_FILE_BYTES),
    )


def verified(got: TokenKeyRead, kc: bytes, dc: bytes, files: AttestationFiles) -> TokenKeyRead:
    """`got` with its attestation (`kc` the key's certificate, `dc` the f9 certificate, DER or
    PEM) verified against the pinned roots (or the operator's CAs in `files`, through the
    chain certificates in `files`) and the key, the facts recorded and the certificates kept
    as evidence. Raises InputError (exit 2) for an unreadable file, AttestationError (exit 1)
    for an attestation that does not verify."""
    cas = [read_input(p, "the attestation CA file ", MAX_INPUT_BYTES) for p in files.extra_cas]
    inters = [read_input(p, "the attestation chain file ", MAX_INPUT_BYTES) for p in files.chain]
    info = verify_attestation(kc, dc, got.public_key, extra_cas=cas, intermediates=inters)
    evidence = {"attestation.pem": _pem(kc) + _pem(dc)}
    if cas:
        evidence["attestation-cas.pem"] = b"".join(_pem(c) for c in cas)
    if inters:
        evidence["attestation-chain.pem"] = b"".join(_pem(c) for c in inters)
    return replace(got, attestation=info.to_dict(), evidence=evidence)


@dataclass(frozen=True)
class AttestationCheck:
    """One enrolled key's re-check: passed or not, and why (or what the device is)."""

    name: str
    ok: bool
    detail: str


def reverify_attestations(
    cdir: CeremonyDir, extra_cas: Sequence[Path], now: dt.datetime, entry: Entry
) -> list[AttestationCheck]:
    """Re-verify every enrolled key's stored attestation (`ceremony attestation verify`).

    Each is checked against the pinned roots (and the CAs the operator gave at enrolment or
    now), the enrolled public key, the recorded facts and the plan's policy; a key the plan
    requires an attestation of must have one.

    Args:
        cdir: the ceremony directory (read only).
        extra_cas: more trusted CA certificate files (PEM or DER), --attestation-ca.
        now: the time certificates must be valid at (timezone-aware UTC).
        entry: the transcript entry; receives the files read.

    Returns:
        One `AttestationCheck` per key that has or needs an attestation, by name. A key
        that fails is reported, not raised: the caller decides (the CLI exits 1).

    Raises:
        InputError (exit 2): an `extra_cas` file cannot be read, or `extra_cas` are given
            and no enrolled key has an attestation.
        PlanError or StoreError (exit 2): the plan or a key record cannot be read.
    """
    ca_files = [read_input(p, "the attestation CA file ", MAX_INPUT_BYTES) for p in extra_cas]
    loaded = load(cdir, now, files_read=entry.files_read, enforce=False)
    if ca_files and not any(k.attestation for k in loaded.keys.values()):
        raise InputError(
            "--attestation-ca cannot apply: no enrolled key has an attestation to check."
        )
    out: list[AttestationCheck] = []
    for name, key in sorted(loaded.keys.items()):
        required = attestation_required(loaded.plan, name)
        if key.attestation is None:
            if required:
                out.append(
                    AttestationCheck(
                        name, False, "the plan requires an attestation; none was recorded"
                    )
                )
            continue
        ev_path = cdir.path(f"keys/{name}.attestation.pem")
        try:
            certs = x509.load_pem_x509_certificates(
                cdir.read_bytes(ev_path, max_bytes=MAX_INPUT_BYTES)
            )
        except (StoreError, ValueError) as exc:
            out.append(
                AttestationCheck(
                    name, False, f"the attestation certificates are missing or damaged ({exc})"
                )
            )
            continue
        if len(certs) != 2:
            out.append(
                AttestationCheck(name, False, f"{cdir.rel(ev_path)} should hold 2 certificates")
            )
            continue
        cas = list(ca_files)
        ca_path = cdir.path(f"keys/{name}.attestation-cas.pem")
        if ca_path.exists():
            cas.append(cdir.read_bytes(ca_path, max_bytes=MAX_INPUT_BYTES))
        chain_path = cdir.path(f"keys/{name}.attestation-chain.pem")
        inters = (
            [cdir.read_bytes(chain_path, max_bytes=MAX_INPUT_BYTES)] if chain_path.exists() else []
        )
        try:
            assert isinstance(key.key, SSlibKey)
            info = verify_attestation(
                certs[0].public_bytes(Encoding.DER),
                certs[1].public_bytes(Encoding.DER),
                key.key,
                extra_cas=cas,
                intermediates=inters,
                now=now,
            )
        except CeremonyError as exc:
            out.append(AttestationCheck(name, False, exc.message))
            continue
        recorded = AttestationInfo.from_dict(key.attestation, where=f"keys/{name}.json")
        if (
            recorded.serial,
            recorded.firmware,
            recorded.pin_policy,
            recorded.touch_policy,
            recorded.root_fingerprint,
        ) != (
            info.serial,
            info.firmware,
            info.pin_policy,
            info.touch_policy,
            info.root_fingerprint,
        ):
            out.append(
                AttestationCheck(
                    name, False, "keys/NAME.json does not say what the certificates say (edited?)"
                )
            )
            continue
        problems = attestation_problems(loaded.plan, name, key_type_of(key.key), info)
        if problems:
            out.append(AttestationCheck(name, False, "; ".join(problems)))
            continue
        out.append(
            AttestationCheck(
                name, True, f"{info.summary()}, chain to {info.root_name} ({info.root_source})"
            )
        )
    return out
