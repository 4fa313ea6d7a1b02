"""Published YubiKey security advisories that let someone recover or predict a private key.

Pure: a device's firmware version, form factor and certification flags (as its attestation
says them, or as its token reports them), and the key type, in; the advisories that apply out.
YubiKey firmware cannot be upgraded: an affected device stays affected.

Sources (Yubico Security Advisories, yubico.com/support/security-advisories/):

- YSA-2024-03 "EUCLEAK" (2024-09-03): a side channel in Infineon's ECDSA implementation lets
  someone with the device and lab equipment recover an ECDSA private key. YubiKey 5 Series and
  Security Key before firmware 5.7.0; YubiKey 5 FIPS, 5 CSPN and Bio before 5.7.2.
- YSA-2017-01 "ROCA" (CVE-2017-15361, 2017-10-16): RSA keys generated ON YubiKey 4 devices with
  firmware 4.2.6 to 4.3.4 can be factored from the public key. Fixed in 4.3.5.
- YSA-2019-02 (2019-06-13): YubiKey FIPS Series with firmware 4.4.2 and 4.4.4 use values of
  reduced randomness right after power-up, so RSA and ECDSA keys and signatures made then may
  be predictable. Fixed in 4.4.5.
"""

from __future__ import annotations

from dataclasses import dataclass

from ceremony.plan.model import ADVISORY_IDS

EUCLEAK, ROCA, FIPS_ENTROPY = ADVISORY_IDS  # "YSA-2024-03", "YSA-2017-01", "YSA-2019-02"


@dataclass(frozen=True)
class Advisory:
    """One advisory that applies: its identifier ("YSA-2024-03") and one sentence saying what
    it means for this device and key (the firmware is named in it)."""

    id: str
    text: str


def key_family(key_type: str) -> str:
    """ "ecdsa", "rsa" or "ed25519" of a ceremony key type or TUF scheme ("ecdsa-p256",
    "ecdsa-sha2-nistp384", "rsa-3072", "rsassa-pss-sha256", ...)."""
    k = key_type.lower()
    if k.startswith("ecdsa"):
        return "ecdsa"
    if k.startswith("rsa"):
        return "rsa"
    if k.startswith("ed25519"):
        return "ed25519"
    return k


def firmware_advisories(
    firmware: tuple[int, int, int],
    *,
    form_factor: str,
    fips: bool,
    cspn: bool,
    key_type: str,
) -> list[Advisory]:
    """The advisories that apply to a key of `key_type` on a YubiKey with this firmware.

    `form_factor` is "usb-a-bio", "usb-c-nano", ... ("unknown" when not said); `fips` and
    `cspn` whether the device is of the FIPS or CSPN series.
    """
    out: list[Advisory] = []
    family = key_family(key_type)
    text = ".".join(map(str, firmware))
    bio = form_factor.endswith("-bio")
    fixed = (5, 7, 2) if bio or fips or cspn else (5, 7, 0)
    if family == "ecdsa" and firmware[0] == 5 and firmware < fixed:
        out.append(
            Advisory(
                EUCLEAK,
                f"YubiKey firmware {text} is affected by Yubico Security Advisory "
                f"{EUCLEAK} ('EUCLEAK'): the ECDSA implementation of YubiKey 5 devices before "
                f"firmware {'.'.join(map(str, fixed))} leaks enough through a side channel that "
                "someone with the device and lab equipment can recover the private key; use a "
                "YubiKey with newer firmware",
            )
        )
    if family == "rsa" and firmware[0] == 4 and firmware < (4, 3, 5):
        out.append(
            Advisory(
                ROCA,
                f"YubiKey firmware {text} is affected by Yubico Security Advisory {ROCA} "
                "('ROCA', CVE-2017-15361): RSA keys generated on YubiKey 4 before firmware "
                "4.3.5 can be factored from the public key; use another device",
            )
        )
    if family in ("rsa", "ecdsa") and (4, 4, 2) <= firmware < (4, 4, 5):
        out.append(
            Advisory(
                FIPS_ENTROPY,
                f"YubiKey firmware {text} is affected by Yubico Security Advisory "
                f"{FIPS_ENTROPY} (YubiKey FIPS reduced initial randomness): keys and "
                "signatures made right after the device is plugged in may be predictable; use "
                "another device",
            )
        )
    return out
