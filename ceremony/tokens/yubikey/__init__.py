"""YubiKey PIV key generation and attestation through Yubico's own library, over PC/SC.

The only package of tuf-ceremony that imports `yubikit`/`ykman` (yubikey-manager) and
`smartcard` (pyscard); its modules import them inside the functions, so `ceremony --help` never
loads them. Signing
stays on the PKCS#11 path (ykcs11): this module makes the key, reads its attestation, and hands
back what enrolment needs.

What happens in `generate_piv_key` (one PC/SC connection, exclusive when the card allows it):

1. The YubiKey is found by serial (`list_yubikeys`), its PIV application selected.
2. Refusals before anything is asked or written: a key type the firmware cannot generate
   (Ed25519 and RSA-3072 need firmware 5.7+, Yubico "PIV key types"; yubikit's own
   `check_key_support`, e.g. no on-chip RSA generation on 4.2.0-4.3.4, ROCA/YSA-2017-01),
   a PIN/PUK still at its factory value or blocked (PIV metadata, INS F7, firmware 5.3+:
   `get_pin_metadata().default_value`), a management key still at its factory value
   (metadata), and a slot that already holds a key or a certificate (unless `replace_existing`).
3. The management key is asked through `management_key_provider` (hex, like a PIN: never argv),
   and refused when it is the factory key 010203...0708 (it is never sent). A management key
   that ykman stored PIN-protected on the card (`ykman piv access change-management-key
   --protect`) is read with the PIN instead, and nothing else is asked.
4. On firmware before 5.3 (no metadata) the PIN is asked, refused when it is a factory value,
   and verified: the card's PIN is then known not to be the default. The PUK cannot be checked
   there without spending a PUK try, so a warning goes to `notify`.
5. The key is generated ON the device (INS 47) with the requested PIN and touch policy, read
   back (metadata: generated, type, policies), attested (INS F9) and the slot f9 device
   certificate read (object 5FFF01). The attestation must carry the generated public key and be
   signed by the f9 key; the chain to Yubico's root is checked by `ceremony.attestation`.
6. Optionally a self-signed X.509 certificate is written into the slot (`write_certificate`,
   which costs one more PIN entry and touch). ykcs11 2.2 does not need one: it shows a key
   without a certificate from the slot metadata (firmware 5.3+) or from its attestation (older
   firmware), as tests/rig/test_yubikey_keygen.py shows with the real libykcs11. OpenSC 0.23
   shows no key object at all for a slot without a certificate.

Every failure is a `ceremony.errors.CeremonyError`: `TokenError` and its subclasses (exit 3)
for the device, `InputError` (exit 2) for arguments or a malformed management key. Messages
name the YubiKey by serial and say what to do; no yubikit traceback reaches the operator.

The modules, by concern: `values` (slots, factory defaults, the values returned), `failures`
(yubikit/pyscard errors as paragraphs), `device` (finding YubiKeys over PC/SC), `checks`
(refusals before the YubiKey is changed), `credentials` (PIN and management key), `attest`
(reading a slot's attestation), `keygen` (generating a key).
"""

from ceremony.tokens.yubikey.attest import read_piv_attestation
from ceremony.tokens.yubikey.device import list_yubikeys
from ceremony.tokens.yubikey.keygen import generate_piv_key
from ceremony.tokens.yubikey.values import (
    DEFAULT_MANAGEMENT_KEY,
    PIV_SLOTS,
    YKCS11_KEY_IDS,
    GeneratedPivKey,
    ManagementKeyProvider,
    ManagementKeyRequest,
    PivAttestation,
    YubiKeyInfo,
)

__all__ = [
    "DEFAULT_MANAGEMENT_KEY",
    "PIV_SLOTS",
    "YKCS11_KEY_IDS",
    "GeneratedPivKey",
    "ManagementKeyProvider",
    "ManagementKeyRequest",
    "PivAttestation",
    "YubiKeyInfo",
    "generate_piv_key",
    "list_yubikeys",
    "read_piv_attestation",
]
