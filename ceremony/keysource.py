"""What a key source (a PKCS#11 token, a YubiKey through yubikit, the software rehearsal
token) says about a key it read or generated (`TokenKeyRead`: public material only), and
which kind of token a key record's `token` describes (a YubiKey PIV application, whose keys
can be attested; SoftHSM, whose keys are files on a disk).

Pure: values only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from securesystemslib.signer import SSlibKey


@dataclass(frozen=True)
class TokenKeyRead:
    """What any key source (a PKCS#11 token, the software token) says about a key it read or
    generated: public material only, and what to record about where it lives."""

    public_key: SSlibKey
    uri: str
    token: dict[str, str]  # label, serial, manufacturer, model, firmware, module
    cka_id: str | None  # hex
    attributes: dict[str, bool | None] | None  # CKA_SENSITIVE, CKA_EXTRACTABLE, ... as read
    software: bool  # the software rehearsal token
    attestation: dict[str, Any] | None = None  # AttestationInfo.to_dict() once verified
    evidence: dict[str, bytes] = field(default_factory=dict)  # suffix -> file bytes (PEMs)


def is_yubikey_token(token: Mapping[str, str] | None) -> bool:
    """Does a key record's token (`EnrolledKey.token`, `TokenKeyRead.token`) describe a YubiKey
    PIV application, whose keys can be attested? ykcs11 says manufacturer "Yubico ..." and
    model "YubiKey ..." (label "YubiKey PIV #SERIAL"); OpenSC's PIV driver labels its tokens
    "YubiKey PIV Slot 9c"; a YubiHSM 2 ("YubiHSM") is not one."""
    if not token:
        return False
    label = str(token.get("label", ""))
    maker = str(token.get("manufacturer", "")).lower()
    model = str(token.get("model", "")).lower()
    return label.startswith("YubiKey PIV") or (maker.startswith("yubico") and "yubikey" in model)


def is_softhsm_token(token: Mapping[str, str] | None) -> bool:
    """Does a key record's token say it is SoftHSM (keys kept in files on a disk)?"""
    return "softhsm" in str((token or {}).get("manufacturer", "")).lower()
