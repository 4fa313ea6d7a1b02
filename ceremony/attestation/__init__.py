"""YubiKey PIV attestation: proof from the device that a key was generated on it.

- `record`: what a verified attestation says (`AttestationInfo`, stored in keys/NAME.json);
- `anchors`: the pinned Yubico roots and certificate reading;
- `verify`: the chain and the extensions (`verify_attestation`; byte layout and sources);
- `policy`: the plan's rules (which keys need one, what it must say, firmware advisories).
"""

from ceremony.attestation.anchors import (
    KNOWN_ROOTS,
    PINNED_ROOT_FILES,
    fingerprint,
    load_pinned_roots,
)
from ceremony.attestation.policy import (
    advisories,
    attestation_problems,
    attestation_required,
    check_policy,
    effective_pin_policy,
    key_requires_attestation,
    roles_require_attestation,
)
from ceremony.attestation.record import AttestationInfo, summary
from ceremony.attestation.verify import (
    OID_CSPN,
    OID_FIPS,
    OID_FIRMWARE,
    OID_FORM_FACTOR,
    OID_POLICY,
    OID_SERIAL,
    verify_attestation,
)

__all__ = [
    "KNOWN_ROOTS",
    "OID_CSPN",
    "OID_FIPS",
    "OID_FIRMWARE",
    "OID_FORM_FACTOR",
    "OID_POLICY",
    "OID_SERIAL",
    "PINNED_ROOT_FILES",
    "AttestationInfo",
    "advisories",
    "attestation_problems",
    "attestation_required",
    "check_policy",
    "effective_pin_policy",
    "fingerprint",
    "key_requires_attestation",
    "load_pinned_roots",
    "roles_require_attestation",
    "summary",
    "verify_attestation",
]
