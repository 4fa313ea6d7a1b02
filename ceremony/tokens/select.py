"""Which token backend serves a key, and how the use cases reach it.

The real PKCS#11 layer, or the built-in software rehearsal token (only for keys that
were enrolled from it, and URIs that name it). The functions here build the collaborators
the use cases take (`KeyReader`, `KeyGenerator`, `AttestationReader`, `SignerFactory`),
with the PIN prompt and the notifier of the session passed in.

Finding the key for `sign`: the --uri given, else the URI recorded at enrolment, else
the token whose key matches the enrolled public key (e.g. keys enrolled from a previous root).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from securesystemslib.signer import Signer, SSlibKey

from ceremony.errors import InputError
from ceremony.keys import SOURCE_IMPORTED, EnrolledKey, bare_key
from ceremony.keysource import TokenKeyRead
from ceremony.tokens import software_rehearsal as software
from ceremony.tokens.types import (
    AttestationReader,
    AttestedKeyRead,
    KeyAttributes,
    KeyGenerator,
    KeyReader,
    ManagementKeyPrompt,
    ManagementKeyReader,
    Notifier,
    PinProvider,
    PinRequest,
    SignerFactory,
    TokenInfo,
    TokenKeyInfo,
    TokenListing,
    YubiKeyFacts,
    YubiKeyGenerator,
)


def token_dict(info: TokenInfo) -> dict[str, str]:
    """What a key record keeps about its token (label, serial, model, firmware, module)."""
    return {
        "label": info.label,
        "serial": info.serial,
        "manufacturer": info.manufacturer,
        "model": info.model,
        "firmware": info.firmware,
        "module": info.module_path,
    }


def _attrs_dict(attrs: KeyAttributes | None) -> dict[str, bool | None] | None:
    return dataclasses.asdict(attrs) if attrs is not None else None


def token_key_read(ki: TokenKeyInfo) -> TokenKeyRead:
    """What to enrol about a key read from (or generated on) a PKCS#11 token."""
    if ki.public_key is None:
        raise InputError(f"the token key at {ki.uri} has no readable public key.")
    return TokenKeyRead(
        ki.public_key,
        ki.uri,
        token_dict(ki.token),
        ki.key_id.hex(),
        _attrs_dict(ki.attributes),
        False,
    )


def _not_for_software(uri: str, options: dict[str, bool], doing: str) -> None:
    """Refuse options that cannot apply to a key on the built-in software rehearsal token
    (InputError, exit 2): it is not a PKCS#11 token."""
    given = [name for name, on in options.items() if on]
    if given:
        raise InputError(
            f"{' and '.join(given)} cannot apply to {uri}: it is the built-in software "
            f"rehearsal token, not a PKCS#11 token. Nothing was done ({doing}); run the "
            "command again without them."
        )


def key_reader(module: str | None, *, allow_imported: bool, pin_provider: PinProvider) -> KeyReader:
    """Reads the public key at a URI (the PIN is asked only if the token needs it). `module`
    and `allow_imported` are refused for the software rehearsal token."""

    def read(uri: str, purpose: str) -> TokenKeyRead:
        if software.is_software_uri(uri):
            _not_for_software(
                uri,
                {"--module": module is not None, "--allow-imported-key": allow_imported},
                purpose,
            )
            key, info = software.read_key(uri, pin_provider, purpose)
            return TokenKeyRead(key, uri, token_dict(info), None, None, True)
        from ceremony.tokens import pkcs11 as p11

        ki = p11.read_key(
            uri, module=module, pin_provider=pin_provider, allow_imported=allow_imported
        )
        return token_key_read(ki)

    return read


def key_generator(module: str | None, *, pin_provider: PinProvider) -> KeyGenerator:
    """Generates a key pair on the token at a URI; the URI's `object=` is the new key's
    label (default: the key's name). A bad URI raises InputError before the token is used."""

    def generate(uri: str, name: str, key_type: str) -> TokenKeyRead:
        if software.is_software_uri(uri):
            _not_for_software(uri, {"--module": module is not None}, f"generate {name}")
            su = software.SoftwareUri.parse(uri)
            tok = software.token_for(su)
            pin = tok.login(pin_provider, f"generate {name}")
            key = tok.generate(su.object, key_type, pin)
            return TokenKeyRead(key, uri, token_dict(tok.info()), None, None, True)
        from ceremony.tokens import pkcs11 as p11
        from ceremony.tokens.uri import Pkcs11Uri

        label = Pkcs11Uri.parse(uri).object or name
        ki = p11.generate_key(
            uri, module=module, key_type=key_type, label=label, pin_provider=pin_provider
        )
        return token_key_read(ki)

    return generate


def ykcs11_module(module: str | None) -> str:
    """The ykcs11 module to record for a YubiKey key: `module` (--module, must exist), else
    the ykcs11 found in the known places, else "" (the key's URI then names it by
    module-name=ykcs11, which `sign` resolves on the signing machine)."""
    from ceremony.tokens.modules import find_module, present_default_modules

    if module:
        return find_module(None, module)
    return next((path for what, path in present_default_modules() if "ykcs11" in what), "")


def yubikey_generator(
    serial: int | None,
    slot: str,
    module: str | None,
    *,
    pin_provider: PinProvider,
    management_key: ManagementKeyReader,
    notify: Notifier,
    replace_existing: bool = False,
    write_certificate: bool = False,
) -> YubiKeyGenerator:
    """Generates a key pair ON the YubiKey `serial` in PIV `slot` through Yubico's yubikit,
    and reads its attestation. The key is recorded for ykcs11 (`ykcs11_module(module)`), whose
    URI (token "YubiKey PIV #SERIAL", CKA_ID of the slot) `sign` uses. Raises what
    `ceremony.tokens.yubikey.generate_piv_key` raises."""
    path = ykcs11_module(module)

    def generate(
        name: str,
        key_type: str,
        pin_policy: str,
        touch_policy: str,
        check: Callable[[YubiKeyFacts], None],
    ) -> AttestedKeyRead:
        from ceremony.tokens import yubikey
        from ceremony.tokens.uri import Pkcs11Uri

        def ask(request: yubikey.ManagementKeyRequest) -> str:
            return management_key(
                ManagementKeyPrompt(
                    request.device.describe(),
                    request.purpose,
                    request.algorithm,
                    request.hex_length,
                )
            )

        def check_device(info: yubikey.YubiKeyInfo) -> None:
            facts = YubiKeyFacts(
                info.serial, info.firmware_version, info.form_factor, info.fips, info.describe()
            )
            check(facts)

        gen = yubikey.generate_piv_key(
            serial,
            slot,
            key_type,
            pin_policy,
            touch_policy,
            pin_provider=pin_provider,
            management_key_provider=ask,
            notify=notify,
            replace_existing=replace_existing,
            write_certificate=write_certificate,
            purpose=f"generate the key '{name}' in PIV slot {slot}",
            check_device=check_device,
        )
        uri = Pkcs11Uri.parse(gen.pkcs11_uri())
        if not path:
            uri = dataclasses.replace(uri, module_name="ykcs11")
        dev = gen.device
        model = "YubiKey" + (f" {dev.form_factor}" if dev.form_factor != "unknown" else "")
        token = {
            "label": dev.token_info().label,
            "serial": str(dev.serial) if dev.serial is not None else "",
            "manufacturer": "Yubico",
            "model": model + (" FIPS" if dev.fips else ""),
            "firmware": dev.firmware,
            "module": path,
        }
        read = TokenKeyRead(
            gen.public_key, uri.to_string(), token, gen.pkcs11_key_id.hex(), None, False
        )
        return AttestedKeyRead(
            read, gen.attestation_certificate, gen.device_certificate, gen.slot, dev.describe()
        )

    return generate


def attestation_reader(module: str | None, *, pin_provider: PinProvider) -> AttestationReader:
    """Reads a YubiKey PIV attestation (key certificate, f9 certificate) at a URI."""

    def read(uri: str) -> tuple[bytes, bytes]:
        if software.is_software_uri(uri):
            raise InputError(
                f"{uri} is the built-in software rehearsal token: it has no attestation to read "
                "(a YubiKey PIV feature). Give the attestation files (--attestation, "
                "--attestation-intermediate), or enrol without --attest."
            )
        from ceremony.tokens import pkcs11 as p11

        return p11.read_attestation(uri, module=module, pin_provider=pin_provider)

    return read


def signer_factory(
    uri: str | None,
    module: str | None,
    *,
    pin_provider: PinProvider,
    notify: Notifier,
    allow_imported: bool = False,
) -> SignerFactory:
    """Opens a signer for an enrolled key: `uri` (--uri) or the URI recorded at enrolment,
    else the token whose key is the enrolled public key; `module` (--module) or the module
    the key was enrolled with, when it is installed here."""

    @contextmanager
    def open_signer(
        key: EnrolledKey, purpose: str, before_pin: Callable[[], None]
    ) -> Iterator[Signer]:
        def ask_pin(request: PinRequest) -> str:
            before_pin()  # the holder's typed Yes, once the token is known to be right
            return pin_provider(request)

        public = key.key
        assert isinstance(public, SSlibKey)
        if public.unrecognized_fields or key.source == SOURCE_IMPORTED:
            public = bare_key(public)  # a token knows the key material, not a tool's keyid
        chosen = uri or key.uri
        if key.is_software or software.is_software_uri(chosen):
            _not_for_software(
                chosen or key.name,
                {"--module": module is not None, "--allow-imported-key": allow_imported},
                purpose,
            )
            if not chosen:
                raise InputError(
                    f"'{key.name}' is a rehearsal software key but no software token URI is known; "
                    "give --uri."
                )
            with software.open_signer(
                chosen, public_key=public, pin_provider=ask_pin, notify=notify, purpose=purpose
            ) as signer:
                yield signer
            return
        from ceremony.tokens import pkcs11 as p11

        mod = module
        recorded_module = (key.token or {}).get("module")
        if mod is None and recorded_module and Path(recorded_module).exists():
            mod = recorded_module  # the module the key was enrolled with, when it is here too
        if not chosen:
            notify(f"Looking for the token that holds '{key.name}' (no URI recorded) ...")
            found = p11.locate_key(public, module=mod, uri=None)
            chosen = found.uri
            notify(f"Found it on {found.token.describe()}.")
        with p11.open_signer(
            chosen,
            module=mod,
            public_key=public,
            pin_provider=ask_pin,
            notify=notify,
            purpose=purpose,
            allow_imported=allow_imported or key.allow_imported,
        ) as signer:
            yield signer

    return open_signer


def list_tokens(
    module: str | None, *, pin_provider: PinProvider | None, login: bool, only: str | None = None
) -> tuple[str, list[TokenListing]]:
    """The PKCS#11 module used (--module, else the known list) and every token on it,
    with its keys (`ceremony tokens`); `only`: just the token with that label or serial
    (TokenNotFound, exit 3, naming the tokens present, when there is none)."""
    from ceremony.tokens import pkcs11 as p11

    path = p11.resolve_module(None, module)
    return path, p11.list_tokens(path, pin_provider=pin_provider, login=login, only=only)
