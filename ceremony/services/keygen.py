"""Generating a plan's key on a token and enrolling it, in one command (`ceremony keygen`):
through PKCS#11 (`keygen`), or ON a YubiKey with its attestation (`keygen_yubikey`,
`ceremony keygen DIR NAME --yubikey SERIAL`).

The key is made in a PIV slot (9c by default) with the plan's PIN and touch policies
(`policy.attestation.pin` and `.touch`; "always" when the plan says nothing), through Yubico's
own library. Before anything is asked or changed, the device's firmware is checked against the
published advisories the plan does not allow; right after, the attestation is read and verified
against the pinned Yubico roots and the plan's policy, and the key is enrolled with it for
ykcs11 (so `sign` finds it). Credentials: the management key and, when needed, the PIN are asked
like a PIN; factory defaults are refused by the device layer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ceremony.attestation import allowed_by_plan, firmware_advisories
from ceremony.errors import AttestationError, CeremonyError, InputError
from ceremony.keys import KEY_TYPES
from ceremony.keysource import TokenKeyRead
from ceremony.services.attestation import AttestationFiles, verified
from ceremony.services.enroll import EnrollResult, enroll_token_key
from ceremony.services.state import Loaded, load
from ceremony.store import CeremonyDir
from ceremony.tokens.types import AttestedKeyRead, KeyGenerator, YubiKeyFacts, YubiKeyGenerator
from ceremony.transcript import Entry


def _not_enrolled(e: CeremonyError, made: AttestedKeyRead) -> CeremonyError:
    """The same error, saying that the key exists on the YubiKey but was not enrolled."""
    message = (
        f"{e.message} The new key was generated in PIV slot {made.slot} of {made.device} but it "
        "was NOT enrolled. To start over, run keygen again with --replace-existing (the slot's "
        "key is then replaced), or use another YubiKey."
    )
    return type(e)(message, hint=e.hint)


def keygen_yubikey(
    cdir: CeremonyDir,
    name: str,
    key_type: str | None,
    now: dt.datetime,
    entry: Entry,
    *,
    generate: YubiKeyGenerator,
    attestation: AttestationFiles,
    notify: Callable[[str], None] = lambda _: None,
) -> EnrollResult:
    """Generate the plan's key `name` on a YubiKey and enrol it with its verified attestation.

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        name: the key's name in the plan (not enrolled yet).
        key_type: ed25519 (firmware 5.7+), ecdsa-p256, ecdsa-p384 or rsa-3072 (5.7+); None:
            the plan's `keys.NAME.type`.
        now: the enrolment time (recorded).
        entry: the transcript entry; receives the files read and written and notes.
        generate: makes the key on the YubiKey (`tokens.select.yubikey_generator`).
        attestation: extra chain certificates or CAs (`--attestation-chain`,
            `--attestation-ca`); the bundled pinned Yubico roots are always trusted.
        notify: announces a device operation.

    Returns:
        An `EnrollResult` (always new), with the attestation in one line.

    Raises:
        InputError (exit 2): the name is not in the plan or is enrolled already, no key type
            is known, the type is not the plan's, or an attestation option was given that
            cannot apply here; nothing is generated.
        AttestationError (exit 1): the YubiKey's firmware is under an advisory the plan does
            not allow (nothing is generated), or the attestation does not verify or breaks
            the plan's policy (the key was generated but not enrolled: the message says so).
        TokenError (exit 3): the YubiKey, its credentials or its slot are not right (the
            message says whether anything was changed on it).
    """
    if attestation.key_cert is not None or attestation.device_cert is not None:
        raise InputError(
            "--attestation and --attestation-intermediate cannot apply to keygen: the "
            "attestation of a key made here is read from the YubiKey right after it is made. "
            "Nothing was generated."
        )
    loaded, key_type = _new_key(cdir, name, key_type, now, entry)
    policy = loaded.plan.policy.attestation
    pin_policy, touch_policy = policy.pin or "always", policy.touch or "always"

    def check(facts: YubiKeyFacts) -> None:
        found = firmware_advisories(
            facts.firmware,
            form_factor=facts.form_factor,
            fips=facts.fips,
            cspn=False,
            key_type=key_type,
        )
        refused = [a for a in found if allowed_by_plan(loaded.plan, a) is None]
        if refused:
            raise AttestationError(
                f"{facts.description} is not used for '{name}': "
                + "; ".join(a.text for a in refused)
                + ". Nothing was generated and nothing was changed on the YubiKey.",
                hint="Use a YubiKey whose firmware is not affected. Only as a deliberate, "
                "reviewed exception, list the advisory in the plan under "
                f"policy.attestation.allow_advisories: [{refused[0].id}].",
            )

    made = generate(name, key_type, pin_policy, touch_policy, check)
    entry.notes.append(
        f"{name} generated on {made.device} in PIV slot {made.slot} (PIN policy {pin_policy}, "
        f"touch policy {touch_policy})"
    )
    notify(f"Verifying the attestation of the new key in PIV slot {made.slot} ...")
    try:
        got: TokenKeyRead = verified(
            made.read, made.attestation_certificate, made.device_certificate, attestation
        )
        return enroll_token_key(loaded, name, lambda: got, now, entry, allow_imported=False)
    except CeremonyError as e:
        raise _not_enrolled(e, made) from None


def keygen(
    cdir: CeremonyDir,
    name: str,
    uri: str,
    key_type: str | None,
    now: dt.datetime,
    entry: Entry,
    *,
    generate: KeyGenerator,
    attest: bool = False,
) -> EnrollResult:
    """Generate the plan's key `name` ON the token at `uri` and enrol it (`ceremony keygen`).

    Args:
        uri: the token (serial or label) and the new key's label (`object=`).
        key_type: one of `keys.KEY_TYPES` (ed25519, ecdsa-p256, ecdsa-p384, rsa-3072); None:
            the plan's `keys.NAME.type`.
        generate: makes the key pair on the token (`tokens.select.key_generator`):
            (uri, name, key_type) -> the new key's public part.
        attest: refused with the reason (a YubiKey key is made with `keygen_yubikey`).

    Returns:
        An `EnrollResult` (always new).

    Raises:
        InputError (exit 2): an unknown or missing type, a name not in the plan or already
            enrolled, a type other than the plan's, `attest`, or a bad URI; nothing is
            generated.
        TokenError (exit 3): the token refused or failed to generate the key.
    """
    if attest:
        raise InputError(
            "--attest cannot apply to a key generated through PKCS#11: attestation is a "
            "YubiKey PIV feature, and a YubiKey key is generated with `ceremony keygen DIR "
            "NAME --yubikey SERIAL`, which always reads and verifies it. Nothing was generated."
        )
    loaded, kt = _new_key(cdir, name, key_type, now, entry)
    return enroll_token_key(
        loaded, name, lambda: generate(uri, name, kt), now, entry, allow_imported=False
    )


def _new_key(
    cdir: CeremonyDir, name: str, key_type: str | None, now: dt.datetime, entry: Entry
) -> tuple[Loaded, str]:
    """The directory loaded, and the type of the plan's key `name` to generate (given, or
    the plan's). Raises InputError (exit 2), nothing generated, for a name not in the plan
    or already enrolled, a missing or unknown type, or a type other than the plan's."""
    if key_type is not None and key_type not in KEY_TYPES:
        raise InputError(f"--type {key_type} is not one of {', '.join(KEY_TYPES)}.")
    loaded = load(cdir, now, files_read=entry.files_read, enforce=False)
    spec = loaded.plan.keys.get(name)
    if spec is None:
        raise InputError(f"'{name}' is not a key in the plan; add it under keys: first.")
    if name in loaded.keys:
        raise InputError(f"'{name}' is already enrolled; keygen never replaces a key.")
    if key_type is None and spec.type is None:
        raise InputError(
            f"no key type for '{name}': give --type ({', '.join(KEY_TYPES)}) or set "
            f"keys.{name}.type in the plan. Nothing was generated."
        )
    if key_type is not None and spec.type is not None and spec.type != key_type:
        raise InputError(
            f"the plan says keys.{name}.type: {spec.type}, but --type is {key_type}. Nothing "
            "was generated: fix the command (or the reviewed plan) first."
        )
    return loaded, key_type or str(spec.type)
