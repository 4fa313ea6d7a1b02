"""YubiKey PIV attestation: proof from the device that a key was generated on it.

- `record`: what a verified attestation says (`AttestationInfo`, stored in keys/NAME.json);
- `anchors`: the pinned Yubico roots and intermediates, and certificate reading;
- `advisories`: the published Yubico advisories that apply to a firmware and key type;
- `verify`: the chain and the extensions (`verify_attestation`; byte layout and sources);
- `policy`: the plan's rules (which keys need one, what it must say, firmware advisories).
"""

from typing import TYPE_CHECKING, Any

from ceremony.attestation.advisories import Advisory, firmware_advisories
from ceremony.attestation.policy import (
    advisories,
    advisories_of,
    allowed_by_plan,
    attestation_problems,
    attestation_required,
    check_policy,
    effective_pin_policy,
    key_requires_attestation,
    refused_advisories,
    roles_require_attestation,
)
from ceremony.attestation.record import AttestationInfo, summary

if TYPE_CHECKING:
    from ceremony.attestation.anchors import (
        KNOWN_ROOTS,
        OPERATOR_PINNED,
        PINNED_INTERMEDIATE_FILES,
        PINNED_ROOT_FILES,
        check_operator_certificate,
        common_name,
        fingerprint,
        load_pinned_intermediates,
        load_pinned_roots,
    )
    from ceremony.attestation.verify import (
        OID_CSPN,
        OID_FIPS,
        OID_FIRMWARE,
        OID_FORM_FACTOR,
        OID_POLICY,
        OID_SERIAL,
        verify_attestation,
    )

# The certificate side (cryptography.x509, the pinned Yubico roots: 0.02-0.03 s to import)
# loads when first used, so that the commands that only read a recorded attestation (the
# plan's checks, show, export) do not pay for it (docs/adr/0008-startup.md).
_LAZY = {
    "KNOWN_ROOTS": "anchors",
    "OPERATOR_PINNED": "anchors",
    "PINNED_INTERMEDIATE_FILES": "anchors",
    "PINNED_ROOT_FILES": "anchors",
    "check_operator_certificate": "anchors",
    "common_name": "anchors",
    "fingerprint": "anchors",
    "load_pinned_intermediates": "anchors",
    "load_pinned_roots": "anchors",
    "OID_CSPN": "verify",
    "OID_FIPS": "verify",
    "OID_FIRMWARE": "verify",
    "OID_FORM_FACTOR": "verify",
    "OID_POLICY": "verify",
    "OID_SERIAL": "verify",
    "verify_attestation": "verify",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "KNOWN_ROOTS",
    "OID_CSPN",
    "OID_FIPS",
    "OID_FIRMWARE",
    "OID_FORM_FACTOR",
    "OID_POLICY",
    "OID_SERIAL",
    "OPERATOR_PINNED",
    "PINNED_INTERMEDIATE_FILES",
    "PINNED_ROOT_FILES",
    "Advisory",
    "AttestationInfo",
    "advisories",
    "advisories_of",
    "allowed_by_plan",
    "attestation_problems",
    "attestation_required",
    "check_operator_certificate",
    "check_policy",
    "common_name",
    "effective_pin_policy",
    "fingerprint",
    "firmware_advisories",
    "key_requires_attestation",
    "load_pinned_intermediates",
    "load_pinned_roots",
    "refused_advisories",
    "roles_require_attestation",
    "summary",
    "verify_attestation",
]
