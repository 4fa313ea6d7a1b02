"""What a verified YubiKey PIV attestation says, as stored in `keys/NAME.json`.

Pure values: the policies and form factors the attestation extensions encode (see
`ceremony.attestation.verify` for the byte layout and its sources), and the one summary
line every screen and record prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ceremony.errors import StoreError

PIN_POLICIES = {
    0: "default",
    1: "never",
    2: "once",
    3: "always",
    4: "match-once",
    5: "match-always",
}
TOUCH_POLICIES = {0: "default", 1: "never", 2: "always", 3: "cached"}
# The form factor byte of a YubiKey (Yubico, "PIV attestation": extension 1.3.6.1.4.1.41482.3.9,
# and yubikit.management.FORM_FACTOR): the one table, also for the device layer.
FORM_FACTORS = {
    0: "unknown",
    1: "usb-a-keychain",
    2: "usb-a-nano",
    3: "usb-c-keychain",
    4: "usb-c-nano",
    5: "usb-c-lightning",
    6: "usb-a-bio",
    7: "usb-c-bio",
}
# The PIN policy a YubiKey applies to a slot when the key was made with "default".
SLOT_DEFAULT_PIN_POLICY = {"9c": "always", "9e": "never"}


@dataclass(frozen=True)
class AttestationInfo:
    """What a verified attestation says. Stored in keys/NAME.json via `to_dict()`."""

    serial: int
    firmware: str  # "5.4.3"
    pin_policy: str  # default, never, once, always, match-once, match-always
    touch_policy: str  # default, never, always, cached
    form_factor: str  # usb-a-keychain, ..., "unknown" when absent
    fips: bool
    cspn: bool
    slot: str | None  # "9c", from the subject "YubiKey PIV Attestation 9c"
    root_fingerprint: str  # SHA-256 (hex, upper case) of the trust anchor used
    root_name: str  # the anchor's common name
    root_source: str  # "pinned" (bundled) or "operator" (extra_cas)
    # SHA-256 of every certificate from the attestation certificate up to the anchor.
    chain_fingerprints: tuple[str, ...] = field(default_factory=tuple)

    @property
    def firmware_version(self) -> tuple[int, int, int]:
        return _parse_version(self.firmware)

    def summary(self, style: str = "screen") -> str:
        """One line about the device and the key's policies; see `summary`."""
        return summary(self.to_dict(), style)

    def to_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "firmware": self.firmware,
            "pin_policy": self.pin_policy,
            "touch_policy": self.touch_policy,
            "form_factor": self.form_factor,
            "fips": self.fips,
            "cspn": self.cspn,
            "slot": self.slot,
            "root_fingerprint": self.root_fingerprint,
            "root_name": self.root_name,
            "root_source": self.root_source,
            "chain_fingerprints": list(self.chain_fingerprints),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "attestation") -> AttestationInfo:
        """Parse a stored record; StoreError naming the field when it is malformed."""

        def get(key: str, typ: type | tuple[type, ...], *, optional: bool = False) -> Any:
            if key not in d:
                if optional:
                    return None
                raise StoreError(f"{where}.{key} is missing from the stored attestation record.")
            value = d[key]
            if value is None and optional:
                return None
            if (isinstance(value, bool) and typ is int) or not isinstance(value, typ):
                raise StoreError(
                    f"{where}.{key} has the wrong type ({type(value).__name__}) in the stored "
                    "attestation record."
                )
            return value

        if not isinstance(d, Mapping):
            raise StoreError(f"{where} is not a mapping.")
        firmware = get("firmware", str)
        try:
            _parse_version(firmware)
        except ValueError:
            raise StoreError(
                f"{where}.firmware {firmware!r} is not a version like 5.4.3."
            ) from None
        pin = get("pin_policy", str)
        touch = get("touch_policy", str)
        if pin not in PIN_POLICIES.values():
            raise StoreError(f"{where}.pin_policy {pin!r} is not a known PIN policy.")
        if touch not in TOUCH_POLICIES.values():
            raise StoreError(f"{where}.touch_policy {touch!r} is not a known touch policy.")
        chain = get("chain_fingerprints", list)
        if not all(isinstance(x, str) for x in chain):
            raise StoreError(f"{where}.chain_fingerprints must be a list of strings.")
        return cls(
            serial=get("serial", int),
            firmware=firmware,
            pin_policy=pin,
            touch_policy=touch,
            form_factor=get("form_factor", str),
            fips=get("fips", bool),
            cspn=get("cspn", bool),
            slot=get("slot", str, optional=True),
            root_fingerprint=get("root_fingerprint", str),
            root_name=get("root_name", str),
            root_source=get("root_source", str),
            chain_fingerprints=tuple(chain),
        )


def _parse_version(text: str) -> tuple[int, int, int]:
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def summary(attestation: Mapping[str, Any], style: str = "screen") -> str:
    """The one summary of a stored attestation (a `to_dict()` mapping), in one of the
    wordings the screens and records use:

    - "device": `YubiKey serial S, firmware F` (in an error about the device);
    - "screen": `YubiKey serial S, firmware F, PIN P, touch T` (show, attestation verify);
    - "enrolled": `YubiKey serial S, firmware F, PIN policy P, touch policy T` (enroll);
    - "table": `YubiKey S fw F PIN P touch T` (the ceremony record's key table).
    """
    a = attestation
    serial, firmware = a.get("serial"), a.get("firmware")
    pin, touch = a.get("pin_policy"), a.get("touch_policy")
    if style == "table":
        return f"YubiKey {serial} fw {firmware} PIN {pin} touch {touch}"
    head = f"YubiKey serial {serial}, firmware {firmware}"
    if style == "device":
        return head
    if style == "enrolled":
        return f"{head}, PIN policy {pin}, touch policy {touch}"
    return f"{head}, PIN {pin}, touch {touch}"
