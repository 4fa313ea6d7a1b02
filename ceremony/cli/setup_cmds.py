"""Setting a ceremony up: init, validate, enroll, keygen, and attestation verify."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ceremony.cli import DIR_ARG, guarded, recorded, secret_prompts, ui
from ceremony.clock import now_utc as now
from ceremony.errors import AttestationError, InputError, PlanError

if TYPE_CHECKING:
    from ceremony.services.attestation import AttestationFiles

attestation_app = typer.Typer(
    help="YubiKey PIV attestation of enrolled keys.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    for fn in (init, validate, enroll, keygen):
        app.command(name=fn.__name__)(fn)
    attestation_app.command(name="verify")(attestation_verify)
    app.add_typer(attestation_app, name="attestation")


def init(
    directory: Path = DIR_ARG,
    previous_root: Path | None = typer.Option(
        None,
        "--previous-root",
        metavar="FILE",
        help="The trusted previous root.json, for a rotation.",
    ),
    previous_ceremony: Path | None = typer.Option(
        None,
        "--previous-ceremony",
        metavar="DIR",
        help="The ceremony directory that produced the previous root: key names, holders and token URIs are carried over.",
    ),
    trusted_chain: list[Path] = typer.Option(
        [],
        "--trusted-chain",
        metavar="FILE",
        help="With --previous-root N.root.json: the roots before it, from one you already trust "
        "(e.g. 1.root.json ... N-1.root.json; repeat the option). The previous root must follow "
        "from them as a client's update would. Without it, only its own signatures are checked.",
    ),
) -> None:
    """Create a new ceremony directory with a commented plan template."""
    from ceremony.services import init as setup

    with guarded():
        from ceremony import transcript

        args: dict[str, object] = {
            "previous_root": str(previous_root) if previous_root else None,
            "directory": str(directory.absolute()),  # how a copy tells it is one
        }
        if trusted_chain:
            args["trusted_chain"] = [str(p) for p in trusted_chain]
        entry = transcript.Entry("init", args)
        res = setup.init(
            directory,
            previous_root,
            now(),
            entry,
            previous_ceremony=previous_ceremony,
            trusted_chain=trusted_chain,
        )
        transcript.append(res.path.absolute(), entry, "ok", 0)
        out = ui.console()
        out.print(f"Created the ceremony directory {ui.value(res.path)}.")
        if res.previous_copy:
            ui.say(
                f"The trusted previous root was copied to {res.previous_copy} and pinned by its "
                f"SHA-256 {res.previous_sha256}: CHECK it against the last ceremony record "
                "(SHA256SUMS)."
            )
            for note in res.notes:
                out.print(f"  - {ui.value(note[0].upper() + note[1:])}")
            out.print(f"Its keys were enrolled as: {ui.value(', '.join(res.enrolled))}.")
        out.print(
            f"Next: edit {res.path / 'ceremony.yaml'} (holders, roles, thresholds, expiry), have it "
            f"reviewed, then run `ceremony validate {res.path}`."
        )


def validate(directory: Path = DIR_ARG) -> None:
    """Check the whole plan with no token attached."""
    from ceremony.checks import errors, warnings
    from ceremony.services.state import load

    with guarded(), recorded(directory, "validate", {}, write=False) as (cdir, entry):
        loaded = load(cdir, now(), files_read=entry.files_read, enforce=False)
        out = ui.console()
        plan = loaded.plan
        out.print(
            f"Plan for [bold]{plan.repository}[/bold] ({cdir.rel(cdir.plan_path)}): schema OK."
        )
        if plan.rehearsal:
            ui.rehearsal_banner()
        for r in loaded.checks:
            colour = {"error": "red", "warning": "yellow"}.get(r.level, "green")
            out.print(f"  [{colour}]{r.level.upper():7}[/{colour}] {ui.value(r.line())}")
        bad = errors(loaded.checks)
        warn = warnings(loaded.checks)
        if bad:
            raise PlanError(
                f"{len(bad)} check{'s' if len(bad) != 1 else ''} failed (listed above as ERROR).",
                hint="Fix ceremony.yaml or enrol the missing keys, then validate again.",
            )
        missing = [r for r in warn if r.id == "CER-KEY-NOT-ENROLLED"]
        nxt = "enrol the keys listed above" if missing else f"`ceremony draft {cdir.root}`"
        if loaded.imported is not None:
            nxt = f"`ceremony show {cdir.root} {loaded.imported.role}`, then sign"
        out.print(
            f"The plan passes every check ({len(warn)} warning{'s' if len(warn) != 1 else ''}). Next: {nxt}."
        )


def _attestation_options(
    attestation: Path | None,
    intermediate: Path | None,
    chain: list[Path],
    cas: list[Path],
) -> AttestationFiles:
    from ceremony.services.attestation import AttestationFiles

    return AttestationFiles(attestation, intermediate, cas, chain)


ATTESTATION_CHAIN = typer.Option(
    [],
    "--attestation-chain",
    metavar="FILE",
    help="A Yubico intermediate certificate between the device certificate and the root (e.g. "
    "'Yubico PIV Attestation B2 1', checked against its pinned fingerprint; repeatable; used "
    "to build the path, never trusted by itself).",
)
ATTESTATION_CA = typer.Option(
    [],
    "--attestation-ca",
    metavar="FILE",
    help="Extra trusted attestation CA certificate (repeatable).",
)


def enroll(
    directory: Path = DIR_ARG,
    name: str = typer.Argument(
        ..., metavar="NAME", help="The key's name in the plan, e.g. root-alice."
    ),
    uri: str | None = typer.Option(
        None,
        "--uri",
        metavar="URI",
        help="pkcs11: URI of the key on a token (with the token serial).",
    ),
    module: str | None = typer.Option(
        None,
        "--module",
        metavar="FILE",
        help="PKCS#11 module path (default: from the URI or the known list).",
    ),
    public_key: Path | None = typer.Option(
        None,
        "--public-key",
        metavar="FILE",
        help="A PEM or TUF key JSON file, for a key not on a token here (e.g. the online key, "
        "or a YubiKey key with its published --attestation).",
    ),
    allow_imported_key: bool = typer.Option(
        False,
        "--allow-imported-key",
        help="Accept a token key that may have been imported or is extractable (recorded everywhere).",
    ),
    attest: bool = typer.Option(
        False,
        "--attest",
        help="Require the YubiKey PIV attestation of the token key (read and verified by "
        "default for any YubiKey key, unless the plan waives it).",
    ),
    attestation: Path | None = typer.Option(
        None,
        "--attestation",
        metavar="FILE",
        help="The key's attestation certificate file (instead of reading it from the token; "
        "with --public-key: enrol from published evidence).",
    ),
    attestation_intermediate: Path | None = typer.Option(
        None,
        "--attestation-intermediate",
        metavar="FILE",
        help="The device (slot f9) certificate file.",
    ),
    attestation_chain: list[Path] = ATTESTATION_CHAIN,
    attestation_ca: list[Path] = ATTESTATION_CA,
) -> None:
    """Record a key's PUBLIC part (read from a token, or from a file) under its plan name."""
    from ceremony.cli.screens import print_enrolled
    from ceremony.services import enroll as enrolment
    from ceremony.tokens import select

    with (
        guarded(),
        recorded(
            directory,
            "enroll",
            {"name": name, "uri": uri, "public_key": str(public_key) if public_key else None},
        ) as (cdir, entry),
    ):
        if public_key is not None and module is not None:
            raise InputError(
                "--module cannot apply to a key from a file (--public-key): no token is read. "
                "Nothing was enrolled."
            )
        res = enrolment.enroll(
            cdir,
            name,
            now(),
            entry,
            uri=uri,
            public_key=public_key,
            read_key=select.key_reader(
                module, allow_imported=allow_imported_key, pin_provider=secret_prompts.read_pin
            ),
            allow_imported=allow_imported_key,
            attestation=_attestation_options(
                attestation, attestation_intermediate, attestation_chain, attestation_ca
            ),
            attest=attest,
            read_attestation=select.attestation_reader(
                module, pin_provider=secret_prompts.read_pin
            ),
            inform=lambda line: ui.console().print(line),
            notify=ui.notify,
        )
        print_enrolled(res)


def keygen(
    directory: Path = DIR_ARG,
    name: str = typer.Argument(..., metavar="NAME", help="The key's name in the plan."),
    uri: str | None = typer.Option(
        None,
        "--uri",
        metavar="URI",
        help="pkcs11: URI of the token (serial or label) and the new key's label (object=). "
        "Not with --yubikey.",
    ),
    key_type: str | None = typer.Option(
        None,
        "--type",
        metavar="TYPE",
        help="ed25519, ecdsa-p256, ecdsa-p384 or rsa-3072 (default: the plan's keys.NAME.type).",
    ),
    module: str | None = typer.Option(
        None,
        "--module",
        metavar="FILE",
        help="PKCS#11 module path (with --yubikey: the ykcs11 module `sign` will use).",
    ),
    yubikey: int | None = typer.Option(
        None,
        "--yubikey",
        metavar="SERIAL",
        help="Generate on the YubiKey with this serial (printed on it), in a PIV slot, with the "
        "plan's PIN and touch policies; its attestation is verified and recorded.",
    ),
    slot: str | None = typer.Option(
        None,
        "--slot",
        metavar="SLOT",
        help="With --yubikey: the PIV slot (9c, the default; 9a, 9d, 9e or 82-95).",
    ),
    replace_existing: bool = typer.Option(
        False,
        "--replace-existing",
        help="With --yubikey: replace a key or certificate already in the slot (never silently).",
    ),
    write_certificate: bool = typer.Option(
        False,
        "--write-certificate",
        help="With --yubikey: also store a self-signed certificate in the slot (one more PIN "
        "and touch), for PKCS#11 modules such as OpenSC that show no key without one.",
    ),
    attestation_chain: list[Path] = ATTESTATION_CHAIN,
    attestation_ca: list[Path] = ATTESTATION_CA,
    attest: bool = typer.Option(
        False,
        "--attest",
        help="Attestation needs --yubikey (which always attests); refused with a PKCS#11 --uri.",
    ),
) -> None:
    """Generate a key pair ON the token (non-extractable, sensitive, sign-only) and enrol it."""
    from ceremony.cli.screens import print_enrolled
    from ceremony.services import keygen as keygens
    from ceremony.tokens import select

    args: dict[str, object] = {"name": name, "uri": uri, "type": key_type}
    piv_slot = slot or "9c"
    if yubikey is not None:
        args |= {"yubikey": yubikey, "slot": piv_slot}
    with guarded(), recorded(directory, "keygen", args) as (cdir, entry):
        if yubikey is None:
            yubikey_only = [
                opt
                for opt, given in (
                    ("--slot", slot is not None),
                    ("--replace-existing", replace_existing),
                    ("--write-certificate", write_certificate),
                    ("--attestation-chain", attestation_chain),
                    ("--attestation-ca", attestation_ca),
                )
                if given
            ]
            if yubikey_only:
                raise InputError(
                    f"{', '.join(yubikey_only)} cannot apply without --yubikey SERIAL (they "
                    "are for a key generated on a YubiKey). Nothing was generated."
                )
            if uri is None:
                raise InputError(
                    "give --uri (a PKCS#11 token and the new key's label) or --yubikey SERIAL. "
                    "Nothing was generated."
                )
            res = keygens.keygen(
                cdir,
                name,
                uri,
                key_type,
                now(),
                entry,
                generate=select.key_generator(module, pin_provider=secret_prompts.read_pin),
                attest=attest,
            )
            ui.console().print(f"Generated on the token: {ui.value(name)}.")
            print_enrolled(res)
            return
        if uri is not None:
            raise InputError(
                "--uri cannot apply with --yubikey: the YubiKey is named by its serial and the "
                "key by --slot. Nothing was generated."
            )
        res = keygens.keygen_yubikey(
            cdir,
            name,
            key_type,
            now(),
            entry,
            generate=select.yubikey_generator(
                yubikey,
                piv_slot,
                module,
                pin_provider=secret_prompts.read_pin,
                management_key=secret_prompts.read_management_key,
                notify=ui.notify,
                replace_existing=replace_existing,
                write_certificate=write_certificate,
            ),
            attestation=_attestation_options(None, None, attestation_chain, attestation_ca),
            notify=ui.notify,
        )
        ui.console().print(
            f"Generated on YubiKey {yubikey}, PIV slot {ui.value(piv_slot)}: {ui.value(name)}."
        )
        print_enrolled(res)


def attestation_verify(
    directory: Path = DIR_ARG,
    attestation_ca: list[Path] = ATTESTATION_CA,
) -> None:
    """Re-check every enrolled key's attestation: chain, key, recorded facts, plan policy."""
    from ceremony.services.attestation import reverify_attestations

    with guarded(), recorded(directory, "attestation verify", {}, write=False) as (cdir, entry):
        results = reverify_attestations(cdir, attestation_ca, now(), entry)
        out = ui.console()
        if not results:
            out.print("No enrolled key has an attestation, and the plan requires none.")
        for r in results:
            mark = "[green]ok  [/green]" if r.ok else "[red]FAIL[/red]"
            out.print(f"{mark} {ui.value(r.name)}: {ui.value(r.detail)}")
        bad = [r.name for r in results if not r.ok]
        if bad:
            raise AttestationError(
                f"{len(bad)} key(s) fail their attestation check: {', '.join(bad)}."
            )
