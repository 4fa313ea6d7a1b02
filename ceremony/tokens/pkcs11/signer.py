"""Signing on a token: the securesystemslib `Signer` for PKCS#11 keys.

`open_signer` (a context manager) opens the key, checks it, logs in once and yields a
`Pkcs11Signer`; `register_signer` lets securesystemslib's `Signer.from_priv_key_uri`
open 'pkcs11:' URIs the same way. Every signature is verified with the enrolled public key
before it is returned, so a faulty token cannot make the ceremony write a bad signature.

The mechanism for each TUF signature scheme is chosen in `sign_plan`.
"""

from __future__ import annotations

import contextlib
import sys
import weakref
from collections.abc import Iterator
from typing import cast

from securesystemslib.exceptions import UnverifiedSignatureError, VerificationError
from securesystemslib.signer import (
    SIGNER_FOR_URI_SCHEME,
    Key,
    SecretsHandler,
    Signature,
    Signer,
    SSlibKey,
)

from ceremony.errors import BadTokenSignature, KeyNotFound, TokenError
from ceremony.keys import same_key, short
from ceremony.tokens import encoding
from ceremony.tokens.pkcs11.discovery import resolve_module
from ceremony.tokens.pkcs11.errors import Ctx, cap, guarded, translating
from ceremony.tokens.pkcs11.login import acquire_login, ask_pin, release_login
from ceremony.tokens.pkcs11.objects import (
    KeyPair,
    describe_pair,
    find_pairs,
    holds,
    key_attributes,
    key_uri,
    mismatch,
    one_pair,
    policy_error,
    refuse_unless_it_signs,
    sslib_key,
)
from ceremony.tokens.pkcs11.session import (
    Pkcs11Session,
    Pkcs11SigningKey,
    TokenHandle,
    close_session,
    is_yubico,
    open_session,
    parse_uri,
    select_token,
)
from ceremony.tokens.pkcs11.sign_plan import SignPlan, sign_plan
from ceremony.tokens.types import Notifier, PinProvider, PinRequest, TokenInfo
from ceremony.tokens.uri import Pkcs11Uri


def _stderr_notify(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _SignerState:
    """Everything an open signer holds; close() ends the session and the login."""

    def __init__(
        self,
        tok: TokenHandle,
        session: Pkcs11Session,
        private: Pkcs11SigningKey,
        plan: SignPlan,
        pin: str | None,
        notify: Notifier,
        pair: KeyPair,
    ) -> None:
        self.tok = tok
        self.session = session
        self.private: Pkcs11SigningKey | None = private
        self.plan = plan
        self.pin = pin
        self.notify = notify
        self.pair = pair
        self.closed = False

    def close(self) -> None:
        """Drop the PIN and the key, close the session, release the login. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.pin = None
        self.private = None
        close_session(self.session)
        release_login(self.tok)


class Pkcs11Signer(Signer):
    """A securesystemslib Signer for a key on a PKCS#11 token.

    Get one from `open_signer` (a context manager) or, through securesystemslib, from
    `Signer.from_priv_key_uri("pkcs11:...", public_key, secrets_handler)` after
    `register_signer()`; call close() when done with the latter.
    """

    SCHEME = "pkcs11"

    def __init__(self, state: _SignerState, public_key: SSlibKey) -> None:
        self._state = state
        self._public_key = public_key
        self._finalizer = weakref.finalize(self, state.close)

    @property
    def public_key(self) -> SSlibKey:
        """The enrolled public key this signer signs as."""
        return self._public_key

    @property
    def token(self) -> TokenInfo:
        """The token the key is on."""
        return self._state.tok.info

    @property
    def uri(self) -> str:
        """Canonical URI of the token key this signer uses."""
        pair = self._state.pair
        return key_uri(self._state.tok.info, pair.key_id, pair.label)

    def close(self) -> None:
        """End the session (and the login, if this signer made it). Idempotent."""
        self._finalizer()

    def sign(self, payload: bytes) -> Signature:
        """Sign `payload` (bytes: TUF's canonical signed bytes) on the token.

        On a Yubico token, `notify` is first told to touch it. The signature is verified
        with the enrolled public key before it is returned (hex, ECDSA as DER). Raises
        BadTokenSignature (a signature that does not verify), TouchNotDetected,
        DeviceRemoved, PinIncorrect (CKA_ALWAYS_AUTHENTICATE keys), TokenError.
        """
        state = self._state
        info = state.tok.info
        if state.closed or state.private is None:
            raise TokenError(
                f"The signer for {info.describe()} was already closed.",
                hint="This is a bug in the calling code.",
            )
        plan = state.plan
        data = plan.prehash(payload) if plan.prehash else payload
        ctx = Ctx(
            f"signing with the key {describe_pair(state.pair)}",
            info.module_path,
            info,
            slot=state.tok.slot,
            lib=state.tok.lib,
        )
        if is_yubico(info):
            state.notify(f"Touch {info.describe()} now (if it blinks) to approve the signature.")
            ctx.touch_prompted = True
        with translating(ctx):
            raw = bytes(
                state.private.sign(
                    data, mechanism=plan.mechanism, mechanism_param=plan.param, pin=state.pin
                )
            )
        try:
            sig = encoding.ecdsa_raw_to_der(raw) if plan.der else raw
        except ValueError as e:
            raise self._bad(f"it is not an ECDSA signature ({e})") from e
        signature = Signature(self._public_key.keyid, sig.hex())
        try:
            self._public_key.verify_signature(signature, payload)
        except (UnverifiedSignatureError, VerificationError) as e:
            raise self._bad("it does not verify with the enrolled public key") from e
        return signature

    def _bad(self, why: str) -> BadTokenSignature:
        return BadTokenSignature(
            f"{cap(self._state.tok.info.describe())} returned a signature that is wrong: {why}. "
            "It was not written.",
            hint="Run the command again. If it happens again, stop: the token may be faulty "
            "or not what it claims; record its serial in the ceremony log.",
        )

    @classmethod
    def from_priv_key_uri(
        cls, priv_key_uri: str, public_key: Key, secrets_handler: SecretsHandler | None = None
    ) -> Pkcs11Signer:
        """securesystemslib entry point for 'pkcs11:' URIs; secrets_handler('pin') gives the PIN.

        The module comes from the URI (module-path / module-name), CEREMONY_PKCS11_MODULE,
        or the default list. Imported/extractable keys are refused. Touch prompts go to stderr.
        """
        if not isinstance(public_key, SSlibKey):
            raise ValueError(f"expected an SSlibKey, got {type(public_key).__name__}")
        handler = secrets_handler

        def provider(_request: PinRequest) -> str:
            if handler is None:
                raise TokenError("The token needs a PIN, and no secrets handler was given.")
            return handler("pin")

        return _open_signer(
            priv_key_uri,
            module=None,
            public_key=public_key,
            pin_provider=provider,
            notify=_stderr_notify,
            purpose=f"sign with key {short(public_key.keyid)}…",
            allow_imported=False,
        )


def register_signer() -> None:
    """Make securesystemslib's Signer.from_priv_key_uri() handle 'pkcs11:' URIs
    (securesystemslib.signer.SIGNER_FOR_URI_SCHEME)."""
    SIGNER_FOR_URI_SCHEME[Pkcs11Signer.SCHEME] = Pkcs11Signer


@guarded("opening the key for signing")
def _open_signer(
    uri: str,
    *,
    module: str | None,
    public_key: SSlibKey,
    pin_provider: PinProvider,
    notify: Notifier,
    purpose: str,
    allow_imported: bool,
) -> Pkcs11Signer:
    parsed = parse_uri(uri)
    path = resolve_module(parsed, module)
    ctx = Ctx("opening the key for signing", path)
    tok = select_token(path, parsed, ctx)
    session = open_session(tok, ctx)
    logged = False
    pin: str | None = None
    try:
        pair = _pick_for_signing(tok, session, parsed, public_key, ctx, final=False)
        plan = sign_plan(tok, public_key)
        pin = acquire_login(tok, purpose, pin_provider, ctx, keep_pin=True)
        logged = True
        if pair is None or pair.private is None:
            pair = _pick_for_signing(tok, session, parsed, public_key, ctx, final=True)
        assert pair is not None
        if pair.private is None:
            raise KeyNotFound(
                f"{cap(tok.info.describe())} has the public key ({describe_pair(pair)}) but no "
                "private key with the same id, so it cannot sign.",
                hint="Check the key URI; the private key may be on another token.",
            )
        with translating(ctx):
            refuse_unless_it_signs(tok, pair)
        attributes = key_attributes(pair.private)
        problems = attributes.problems()
        if problems and not allow_imported:
            raise policy_error(tok, pair, problems)
        if attributes.always_authenticate:
            if pin is None:
                pin = ask_pin(tok, purpose, pin_provider, ctx)
        else:
            pin = None
        # a CKO_PRIVATE_KEY object with CKA_SIGN (python-pkcs11: a SignMixin)
        private = cast(Pkcs11SigningKey, pair.private)
        state = _SignerState(tok, session, private, plan, pin, notify, pair)
        pin = None
        return Pkcs11Signer(state, public_key)
    except BaseException:
        pin = None
        close_session(session)
        if logged:
            release_login(tok)
        raise


def _pick_for_signing(
    tok: TokenHandle,
    session: Pkcs11Session,
    uri: Pkcs11Uri,
    public_key: SSlibKey,
    ctx: Ctx,
    *,
    final: bool,
) -> KeyPair | None:
    """The pair to sign with, checked against public_key; None if not decidable yet (pre-login)."""
    pairs = find_pairs(session, uri, ctx)
    if uri.selects_key:
        if not pairs and not final:
            return None
        pair = one_pair(pairs, uri, tok)
        with translating(ctx):
            found = sslib_key(pair)
        if found is None and pair.public is None and not final:
            return pair if pair.private is not None else None
        if found is None or not same_key(found, public_key):
            raise mismatch(tok, pair, found, public_key)
        return pair
    with translating(ctx):
        matching = [p for p in pairs if holds(p, public_key)]
    if matching:
        return matching[0]
    if not final:
        return None
    raise KeyNotFound(
        f"{cap(tok.info.describe())} has no key with keyid {short(public_key.keyid)}….",
        hint="Insert the token that holds this key, or give its key URI.",
    )


@contextlib.contextmanager
def open_signer(
    uri: str,
    *,
    module: str | None,
    public_key: SSlibKey,
    pin_provider: PinProvider,
    notify: Notifier,
    purpose: str,
    allow_imported: bool = False,
) -> Iterator[Pkcs11Signer]:
    """Open the token key for signing as `public_key`; one session, one PIN prompt.

    Checks, in order: the token (by serial/label), the key (by id/label, else by public key)
    equals public_key (KeyMismatch otherwise), the mechanism is supported, the PIN flags
    (PinLocked; final-try reported to the prompt), login, the key's attributes. The session
    is closed and the login ended when the block exits. `purpose` is shown at the PIN
    prompt; `notify` receives the touch prompt. Raises InputError (bad URI),
    ModuleLoadError, TokenNotFound, AmbiguousToken, KeyNotFound, AmbiguousKey, KeyMismatch,
    MechanismNotSupported, PinIncorrect, PinLocked, KeyPolicyError (imported or extractable
    key, unless allow_imported).
    """
    signer = _open_signer(
        uri,
        module=module,
        public_key=public_key,
        pin_provider=pin_provider,
        notify=notify,
        purpose=purpose,
        allow_imported=allow_imported,
    )
    try:
        yield signer
    finally:
        signer.close()
