"""Token access: every way tuf-ceremony reaches a private key.

- `pkcs11/`: PKCS#11 tokens (YubiKeys through ykcs11, HSMs, SoftHSM2), the ONLY package
  that imports python-pkcs11; import it inside the commands that need it
  (`from ceremony.tokens import pkcs11 as p11`), so that `ceremony --help` stays fast;
- `software_rehearsal`: the built-in software token, for rehearsals only;
- `types`: the plain values the rest of the program sees (TokenInfo, TokenKeyInfo, ...);
- `uri`: pkcs11: URIs (RFC 7512); `modules`: which PKCS#11 module to load;
- `encoding`: byte-level helpers for key material; `softhsm`: a private SoftHSM2 set-up.

Every failure is a `ceremony.errors.CeremonyError` (token problems: `TokenError`).
"""
