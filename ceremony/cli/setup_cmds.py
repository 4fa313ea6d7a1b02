"""Setting a ceremony up: init, validate, enroll, keygen, and attestation verify."""

from __future__ import annotations

from pathlib import Path

import typer

from ceremony.cli import DIR_ARG, guarded, recorded, ui
from ceremony.clock import now_utc as now
from ceremony.errors import AttestationError, PlanError

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
        help="A PEM or TUF key JSON file, for a key not on a token here (e.g. the online key).",
    ),
    allow_imported_key: bool = typer.Option(
        False,
        "--allow-imported-key",
        help="Accept a token key that may have been imported or is extractable (recorded everywhere).",
    ),
    attest: bool = typer.Option(
        False, "--attest", help="Read and verify the YubiKey PIV attestation of the key."
    ),
    attestation: Path | None = typer.Option(
        None,
        "--attestation",
        metavar="FILE",
        help="The key's attestation certificate file (instead of reading it from the token).",
    ),
    attestation_intermediate: Path | None = typer.Option(
        None,
        "--attestation-intermediate",
        metavar="FILE",
        help="The device (slot f9) certificate file.",
    ),
    attestation_chain: list[Path] = typer.Option(
        [],
        "--attestation-chain",
        metavar="FILE",
        help="Intermediate CA certificates between the device certificate and the trusted root "
        "(firmware 5.7.4+; repeatable; used to build the path, never trusted by themselves).",
    ),
    attestation_ca: list[Path] = typer.Option(
        [],
        "--attestation-ca",
        metavar="FILE",
        help="Extra trusted attestation CA certificate (repeatable).",
    ),
) -> None:
    """Record a key's PUBLIC part (read from a token, or from a file) under its plan name."""
    from ceremony.cli.screens import print_enrolled
    from ceremony.services import enroll as enrolment
    from ceremony.services.attestation import AttestationFiles
    from ceremony.tokens import select

    with (
        guarded(),
        recorded(
            directory,
            "enroll",
            {"name": name, "uri": uri, "public_key": str(public_key) if public_key else None},
        ) as (cdir, entry),
    ):
        wanted = None
        if attest or attestation is not None:
            wanted = AttestationFiles(
                attestation, attestation_intermediate, attestation_ca, attestation_chain
            )
        res = enrolment.enroll(
            cdir,
            name,
            now(),
            entry,
            uri=uri,
            public_key=public_key,
            read_key=select.key_reader(
                module, allow_imported=allow_imported_key, pin_provider=ui.read_pin
            ),
            allow_imported=allow_imported_key,
            attestation=wanted,
            read_attestation=select.attestation_reader(module, pin_provider=ui.read_pin),
            inform=lambda line: ui.console().print(line),
            notify=ui.notify,
        )
        print_enrolled(res)


def keygen(
    directory: Path = DIR_ARG,
    name: str = typer.Argument(..., metavar="NAME", help="The key's name in the plan."),
    uri: str = typer.Option(
        ...,
        "--uri",
        metavar="URI",
        help="pkcs11: URI of the token (serial or label) and the new key's label (object=).",
    ),
    key_type: str = typer.Option(
        ..., "--type", metavar="TYPE", help="ed25519, ecdsa-p256, ecdsa-p384 or rsa-3072."
    ),
    module: str | None = typer.Option(
        None, "--module", metavar="FILE", help="PKCS#11 module path."
    ),
    attest: bool = typer.Option(
        False,
        "--attest",
        help="Refused with the reason: YubiKey keys are made with ykman, then `enroll --attest`.",
    ),
) -> None:
    """Generate a key pair ON the token (non-extractable, sensitive, sign-only) and enrol it."""
    from ceremony.cli.screens import print_enrolled
    from ceremony.services import enroll as enrolment
    from ceremony.tokens import select

    with (
        guarded(),
        recorded(directory, "keygen", {"name": name, "uri": uri, "type": key_type}) as (
            cdir,
            entry,
        ),
    ):
        res = enrolment.keygen(
            cdir,
            name,
            uri,
            key_type,
            now(),
            entry,
            generate=select.key_generator(module, pin_provider=ui.read_pin),
            attest=attest,
        )
        ui.console().print(f"Generated on the token: {ui.value(name)}.")
        print_enrolled(res)


def attestation_verify(
    directory: Path = DIR_ARG,
    attestation_ca: list[Path] = typer.Option(
        [],
        "--attestation-ca",
        metavar="FILE",
        help="Extra trusted attestation CA certificate (repeatable).",
    ),
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
