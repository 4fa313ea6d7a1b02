"""Generating a key pair ON a YubiKey in a PIV slot (yubikit), attested at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import SSlibKey

from ceremony.errors import KeyPolicyError, TokenError
from ceremony.tokens.types import Notifier, PinProvider
from ceremony.tokens.yubikey.attest import (
    check_attestation,
    policies_from_attestation,
    public_key_der,
    read_attestation,
)
from ceremony.tokens.yubikey.checks import (
    check_arguments,
    check_firmware,
    join,
    piv_enums,
    refuse_defaults,
    slot_contents,
)
from ceremony.tokens.yubikey.credentials import ask_pin, authenticate
from ceremony.tokens.yubikey.device import open_yubikey
from ceremony.tokens.yubikey.failures import cap, translating
from ceremony.tokens.yubikey.values import GeneratedPivKey, ManagementKeyProvider, YubiKeyInfo

if TYPE_CHECKING:
    from yubikit.piv import PivSession


def generate_piv_key(
    serial: int | None,
    slot: str = "9c",
    key_type: str = "ecdsa-p256",
    pin_policy: str = "always",
    touch_policy: str = "always",
    *,
    pin_provider: PinProvider,
    management_key_provider: ManagementKeyProvider,
    notify: Notifier,
    replace_existing: bool = False,
    write_certificate: bool = False,
    purpose: str | None = None,
    check_device: Callable[[YubiKeyInfo], None] | None = None,
) -> GeneratedPivKey:
    """Generate a key pair ON the YubiKey `serial` in PIV `slot`, attest it, and return it.

    Args:
        serial: the YubiKey's serial; None only when exactly one YubiKey is plugged in.
        slot: "9c" (Digital Signature, default), "9a", "9d", "9e" or a retired "82".."95".
        key_type: "ecdsa-p256", "ecdsa-p384", "ed25519" (firmware 5.7+), "rsa-3072" (5.7+).
        pin_policy, touch_policy: the PIV policies stored with the key ("default", "never",
            "once", "always"; touch also "cached"). A ceremony wants "always"/"always".
        pin_provider: asked for the PIN only when needed (firmware before 5.3, a PIN-protected
            management key, or `write_certificate`); never with a factory default accepted.
        management_key_provider: asked for the management key (hex) unless ykman stored it
            PIN-protected on the card.
        notify: one-line messages for the holder (what is happening, "touch the YubiKey").
        replace_existing: overwrite a key or certificate already in the slot (never silently).
        write_certificate: also store a self-signed certificate for the key in the slot (one
            more PIN and touch); only PKCS#11 modules such as OpenSC need it.
        purpose: the prompt's words, e.g. "generate the root key 'root-alice'".
        check_device: called with the YubiKey found, before anything is asked or changed;
            it refuses the device by raising (e.g. firmware under a published advisory).

    Returns a GeneratedPivKey (public key, DER attestation and f9 certificates, device).
    Raises InputError (exit 2) for bad arguments or a malformed management key; TokenError
    (exit 3) and subclasses for the device: TokenNotFound, AmbiguousToken,
    MechanismNotSupported (firmware), PinIncorrect/PinLocked, TouchNotDetected,
    DeviceRemoved, KeyPolicyError (attestation does not match), and TokenError for default
    credentials, an occupied slot or a wrong management key. When it raises before the key
    was generated, nothing was changed on the YubiKey.
    """
    slot = check_arguments(slot, key_type, pin_policy, touch_policy)
    what = {"ed25519": "Ed25519", "rsa-3072": "RSA-3072"}.get(
        key_type, key_type.replace("ecdsa-p", "ECDSA P-")
    )
    purpose = purpose or f"generate an {what} key in PIV slot {slot}"
    doing = f"generating an {what} key in PIV slot {slot}"
    state = {"generated": False}
    try:
        with open_yubikey(serial, doing) as (conn, info), translating(doing, info):
            return _generate_on(
                conn,
                info,
                slot,
                key_type,
                pin_policy,
                touch_policy,
                what,
                purpose,
                pin_provider=pin_provider,
                management_key_provider=management_key_provider,
                notify=notify,
                replace_existing=replace_existing,
                write_certificate=write_certificate,
                state=state,
                check_device=check_device,
            )
    except TokenError as e:
        raise _phase_note(e, slot, state["generated"]) from None


def _phase_note(e: TokenError, slot: str, generated: bool) -> TokenError:
    """Say whether the YubiKey was changed: before the generation nothing was; after it, the
    new key is in the slot (and a run again needs `replace_existing`)."""
    if generated:
        message = (
            f"{e.message} The new key was already generated in PIV slot {slot} (it is not "
            "enrolled). To start over, run the command again and confirm that the key in that "
            "slot may be replaced."
        )
    elif "othing was" in e.message or "not sent" in e.message:
        return e
    else:
        message = f"{e.message} Nothing was changed on the YubiKey."
    return type(e)(message, hint=e.hint)


def _generate_on(
    conn: Any,
    info: YubiKeyInfo,
    slot: str,
    key_type: str,
    pin_policy: str,
    touch_policy: str,
    what: str,
    purpose: str,
    *,
    pin_provider: PinProvider,
    management_key_provider: ManagementKeyProvider,
    notify: Notifier,
    replace_existing: bool,
    write_certificate: bool,
    state: dict[str, bool],
    check_device: Callable[[YubiKeyInfo], None] | None = None,
) -> GeneratedPivKey:
    """The body of `generate_piv_key` on an open connection; sets state["generated"]."""
    from yubikit.piv import PivSession

    slot_int = int(slot, 16)
    check_firmware(info, key_type)
    if check_device is not None:
        check_device(info)
    piv = PivSession(conn)
    kt, pp, tp = piv_enums(key_type, pin_policy, touch_policy)
    piv.check_key_support(kt, pp, tp, True, fips_restrictions=info.fips)
    has_metadata = refuse_defaults(piv, info)
    has_key, has_cert, _ = slot_contents(piv, slot_int)
    if (has_key or has_cert) and not replace_existing:
        held = join([w for w, h in (("a key", has_key), ("a certificate", has_cert)) if h])
        raise TokenError(
            f"PIV slot {slot} of {info.describe()} already holds {held}. Keys are never "
            "overwritten silently; nothing was generated and nothing was changed.",
            hint="Use an empty slot (--slot), or another YubiKey. Replace the key only if "
            "you are sure it is not enrolled anywhere (and say so explicitly).",
        )
    if not has_metadata:
        pin = ask_pin(info, purpose, pin_provider, piv)
        piv.verify_pin(pin)
        del pin
        notify(
            f"{cap(info.describe())} has no PIV metadata (firmware before 5.3): its PIN "
            "was checked, but whether its PUK is still the factory default (12345678) "
            "cannot be checked without spending a PUK try. Make sure it was changed."
        )
    authenticate(piv, info, purpose, management_key_provider, pin_provider)
    notify(
        f"Generating an {what} key on {info.describe()} in PIV slot {slot} (PIN policy "
        f"{pin_policy}, touch policy {touch_policy})"
        + ("; this can take a minute." if key_type == "rsa-3072" else ".")
    )
    public = piv.generate_key(slot_enum(slot_int), kt, pp, tp)
    state["generated"] = True
    public_der = public_key_der(public)
    if has_cert and not write_certificate:
        # The old certificate describes the old key: PKCS#11 modules would show it.
        piv.delete_certificate(slot_enum(slot_int))
    resolved = _read_back(piv, slot_int, kt, public_der, info, slot)
    att, f9 = read_attestation(piv, slot_int)
    check_attestation(att, f9, public_der, info, slot)
    if resolved is None:
        resolved = policies_from_attestation(att) or (pin_policy, touch_policy)
    if write_certificate:
        _write_self_signed(piv, slot_int, public, info, purpose, pin_provider, notify, resolved)
    return GeneratedPivKey(
        device=info,
        slot=slot,
        key_type=key_type,
        pin_policy=resolved[0],
        touch_policy=resolved[1],
        public_key=SSlibKey.from_crypto(public),
        public_key_der=public_der,
        attestation_certificate=att.public_bytes(serialization.Encoding.DER),
        device_certificate=f9.public_bytes(serialization.Encoding.DER),
        certificate_written=write_certificate,
        replaced=has_key or has_cert,
    )


def slot_enum(slot: int) -> Any:
    """yubikit's SLOT enum member of a slot number."""
    from yubikit.piv import SLOT

    return SLOT(slot)


def _read_back(
    piv: PivSession, slot: int, kt: Any, public_der: bytes, info: YubiKeyInfo, slot_name: str
) -> tuple[str, str] | None:
    """Check the slot metadata of the new key (5.3+); its resolved (PIN, touch) policies."""
    from yubikit.core import NotSupportedError

    try:
        md = piv.get_slot_metadata(slot_enum(slot))
    except NotSupportedError:
        return None
    problems = []
    if not md.generated:
        problems.append("the card says it was imported, not generated on the device")
    if md.key_type != kt:
        problems.append(f"it is {md.key_type.name}, not {kt.name}")
    if public_key_der(md.public_key) != public_der:
        problems.append("its public key is not the one the card returned when generating it")
    if problems:
        raise KeyPolicyError(
            f"The key just generated in slot {slot_name} of {info.describe()} is not what was "
            f"asked for: {'; '.join(problems)}.",
            hint="Use another YubiKey and report this device.",
        )
    return md.pin_policy.name.lower(), md.touch_policy.name.lower()


def _write_self_signed(
    piv: PivSession,
    slot: int,
    public: Any,
    info: YubiKeyInfo,
    purpose: str,
    pin_provider: PinProvider,
    notify: Notifier,
    policies: tuple[str, str],
) -> None:
    """Store a self-signed certificate for the new key in its slot (PIN + touch)."""
    from ykman.piv import generate_self_signed_certificate

    pin = ask_pin(info, f"{purpose}: sign the slot's self-signed certificate", pin_provider, piv)
    piv.verify_pin(pin)  # just before the signature: a PIN-always key consumes it
    if policies[1] in ("always", "cached"):
        notify(f"Touch {info.describe()} now (its light blinks) to sign the slot's certificate.")
    now = dt.datetime.now(dt.UTC)
    cert = generate_self_signed_certificate(
        piv,
        slot_enum(slot),
        public,
        f"CN=tuf-ceremony PIV {slot:02x} key",
        now - dt.timedelta(days=1),
        now + dt.timedelta(days=365 * 20),
    )
    piv.put_certificate(slot_enum(slot), cert)
