"""Reading tokens and keys: which module, which tokens, the key to enrol, where a key is.

None of these changes a token. Each logs in (one PIN prompt) only when the token hides
what is needed until login.
"""

from __future__ import annotations

from securesystemslib.signer import SSlibKey

from ceremony.errors import AmbiguousKey, AmbiguousToken, KeyNotFound, KeyPolicyError, TokenNotFound
from ceremony.keys import same_key, short
from ceremony.tokens.modules import find_module
from ceremony.tokens.pkcs11.errors import Ctx, cap, guarded, translating
from ceremony.tokens.pkcs11.login import acquire_login, release_login
from ceremony.tokens.pkcs11.objects import (
    describe_pair,
    find_pairs,
    holds,
    key_info,
    mismatch,
    one_pair,
    policy_error,
    refuse_unless_it_signs,
    sslib_key,
)
from ceremony.tokens.pkcs11.session import (
    close_session,
    describe_tokens,
    load_library,
    open_session,
    parse_uri,
    present_tokens,
    select_token,
)
from ceremony.tokens.types import KEY_TYPES, PinProvider, TokenKeyInfo, TokenListing
from ceremony.tokens.uri import Pkcs11Uri


@guarded("loading the PKCS#11 module")
def resolve_module(uri: Pkcs11Uri | None, module: str | None) -> str:
    """The PKCS#11 module (a shared library path) to use, loaded once to check.

    The order is --module, the URI's module-path / module-name, $CEREMONY_PKCS11_MODULE,
    then the first installed module of DEFAULT_MODULES (`ceremony.tokens.modules`).
    Raises ModuleLoadError if there is none or it does not load.
    """
    path = find_module(uri, module)
    load_library(path)
    return path


@guarded("listing the tokens")
def list_tokens(
    module: str,
    *,
    pin_provider: PinProvider | None = None,
    login: bool = False,
    only: str | None = None,
) -> list[TokenListing]:
    """Every slot with a token (also uninitialised ones) and the keys on each.

    Without login: the public key objects (and private ones where the token shows them).
    With login (and a pin_provider): also the private keys' attributes; one PIN prompt per
    token that needs it. Returns one TokenListing per token, in slot order, its keys sorted
    by CKA_ID. Raises ModuleLoadError, and TokenError subclasses (PinIncorrect, PinLocked,
    DeviceRemoved, ...). `only`: just the token whose label or serial it is (so one holder
    logs in to their own token only); TokenNotFound naming the tokens present if none is.
    """
    ctx = Ctx("listing the tokens", module)
    out: list[TokenListing] = []
    present = present_tokens(module, ctx)
    if only is not None:
        chosen = [t for t in present if only in (t.info.label, t.info.serial)]
        if not chosen:
            names = ", ".join(f"'{t.info.label}' (serial {t.info.serial})" for t in present)
            raise TokenNotFound(
                f"no token with the label or serial '{only}' is present in {module}. Present: "
                f"{names or 'none'}. Nothing was asked or read.",
                hint="Give --token the label or the serial exactly as `ceremony tokens` prints it.",
            )
        present = chosen
    for tok in present:
        ctx.token = tok.info
        if not tok.info.initialized:
            out.append(TokenListing(tok.info, []))
            continue
        logged = False
        session = None
        try:
            if login and tok.info.login_required and not tok.info.pin_locked:
                acquire_login(
                    tok,
                    "list the keys on it",
                    pin_provider,
                    ctx,
                    keep_pin=False,
                )
                logged = True
            session = open_session(tok, ctx)
            ctx.doing = "reading the keys"
            pairs = find_pairs(session, None, ctx)
            with translating(ctx):
                keys = [key_info(tok, p) for p in sorted(pairs, key=lambda p: p.key_id)]
            out.append(TokenListing(tok.info, keys))
        finally:
            if session is not None:
                close_session(session)
            if logged:
                release_login(tok)
    return out


@guarded("reading the key")
def read_key(
    uri: str, *, module: str | None, pin_provider: PinProvider | None, allow_imported: bool = False
) -> TokenKeyInfo:
    """Read a token key for enrolment: its public key and the private key's attributes.

    `uri` is a pkcs11: URI (RFC 7512) naming the token (serial, token label) and the key
    (id, object label). Logs in (one PIN prompt) only if the private key is not visible
    without it. Raises InputError (bad URI), ModuleLoadError, TokenNotFound, AmbiguousToken,
    KeyNotFound, AmbiguousKey, PIN errors, and KeyPolicyError: a key of a type TUF cannot
    use here, or, unless allow_imported, a key whose attributes say it was imported or is
    extractable.
    """
    parsed = parse_uri(uri)
    path = resolve_module(parsed, module)
    ctx = Ctx("reading the key", path)
    tok = select_token(path, parsed, ctx)
    session = open_session(tok, ctx)
    logged = False
    try:
        pairs = find_pairs(session, parsed, ctx)
        pair = one_pair(pairs, parsed, tok) if pairs else None
        if pair is None or pair.private is None:
            if tok.info.login_required:
                acquire_login(
                    tok,
                    f"read the key {parsed.describe_key()} on {tok.info.describe()}",
                    pin_provider,
                    ctx,
                    keep_pin=False,
                )
                logged = True
            pair = one_pair(find_pairs(session, parsed, ctx), parsed, tok)
        if pair.private is None:
            raise KeyNotFound(
                f"{cap(tok.info.describe())} has a public key ({describe_pair(pair)}) but no "
                "private key with the same id, so it cannot sign.",
                hint="Check the key URI; the private key may be on another token.",
            )
        with translating(ctx):
            info = key_info(tok, pair)
        if info.public_key is None:
            raise KeyPolicyError(
                f"The key ({describe_pair(pair)}) on {tok.info.describe()} is of type "
                f"{info.key_type}, which TUF metadata cannot use here (or its public key "
                "could not be read).",
                hint=f"Use one of: {', '.join(KEY_TYPES)}.",
            )
        assert info.attributes is not None
        with translating(ctx):
            refuse_unless_it_signs(tok, pair)
        problems = info.attributes.problems()
        if problems and not allow_imported:
            raise policy_error(tok, pair, problems)
        return info
    finally:
        close_session(session)
        if logged:
            release_login(tok)


@guarded("looking for the key")
def locate_key(public_key: SSlibKey, *, module: str | None, uri: str | None) -> TokenKeyInfo:
    """Find the token key pair whose public key equals `public_key`.

    `uri` is a hint: when it names a token and a key that is present but DIFFERENT, that is
    a KeyMismatch. Otherwise all initialised tokens of the module are scanned (no login).
    Raises KeyNotFound (no token shows the key), AmbiguousKey (several do), ModuleLoadError.
    """
    hint = parse_uri(uri) if uri else None
    path = resolve_module(hint, module)
    ctx = Ctx("looking for the key", path)
    if hint is not None and hint.selects_key:
        try:
            tok = select_token(path, hint, ctx)
            session = open_session(tok, ctx)
            try:
                pairs = find_pairs(session, hint, ctx)
                if len(pairs) == 1:
                    with translating(ctx):
                        found = sslib_key(pairs[0])
                    if found is not None or pairs[0].public is not None:
                        if found is None or not same_key(found, public_key):
                            raise mismatch(tok, pairs[0], found, public_key)
                        with translating(ctx):
                            return key_info(tok, pairs[0])
            finally:
                close_session(session)
        except (TokenNotFound, AmbiguousToken):
            pass
    hits: list[TokenKeyInfo] = []
    toks = [t for t in present_tokens(path, ctx) if t.info.initialized]
    for tok in toks:
        ctx.token = tok.info
        session = open_session(tok, ctx)
        try:
            for pair in find_pairs(session, None, ctx):
                with translating(ctx):
                    if holds(pair, public_key):
                        hits.append(key_info(tok, pair))
        finally:
            close_session(session)
    if not hits:
        raise KeyNotFound(
            f"No token in the PKCS#11 module {path} holds the key with keyid "
            f"{short(public_key.keyid)}…. Tokens checked: {describe_tokens(toks)}.",
            hint="Insert the token that holds this key and run again. (A token that hides "
            "its public keys until login cannot be searched this way: give the key URI.)",
        )
    if len(hits) > 1:
        raise AmbiguousKey(
            f"The key with keyid {short(public_key.keyid)}… is on several tokens: "
            + "; ".join(h.token.describe() for h in hits)
            + ".",
            hint="Remove all but the token you mean to use, or give its key URI.",
        )
    return hits[0]
