"""Collecting signatures: sign (one holder, one session), status, merge (other copies)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ceremony.cli import DIR_ARG, ROLE_ARG, guarded, recorded, ui
from ceremony.clock import now_utc as now


def register(app: typer.Typer) -> None:
    for fn in (sign, status, merge):
        app.command(name=fn.__name__)(fn)


def sign(
    directory: Path = DIR_ARG,
    role: str = ROLE_ARG,
    key: str = typer.Option(
        ..., "--key", help="Your key: its name in the plan, or its full keyid (64 hex digits)."
    ),
    uri: str | None = typer.Option(
        None,
        "--uri",
        help="pkcs11: URI of the key (default: the one recorded at enrolment, else found by public key).",
    ),
    module: str | None = typer.Option(None, "--module", help="PKCS#11 module path."),
    allow_imported_key: bool = typer.Option(
        False,
        "--allow-imported-key",
        help="Accept a token key that may have been imported (recorded in the signature file, "
        "the transcript and the ceremony record).",
    ),
) -> None:
    """Check the draft, confirm with a typed Yes, enter the PIN, sign on the token."""
    from ceremony.cli.screens import render_view
    from ceremony.services import signing
    from ceremony.services.drafts import DraftView
    from ceremony.tokens import select

    with (
        guarded(),
        recorded(
            directory,
            "sign",
            {"role": role, "key": key, "uri": uri}
            | ({"allow_imported_key": True} if allow_imported_key else {}),
        ) as (cdir, entry),
    ):

        def confirm(v: DraftView) -> bool:
            render_view(v)
            return ui.confirm_yes(f"Sign {v.role} version {v.version} with '{key}'?")

        outcome = signing.sign(
            cdir,
            role,
            key,
            select.signer_factory(
                uri,
                module,
                pin_provider=ui.read_pin,
                notify=ui.notify,
                allow_imported=allow_imported_key,
            ),
            confirm,
            now(),
            entry,
            allow_imported=allow_imported_key,
        )
        out = ui.console()
        if outcome.already_signed:
            out.print(
                f"'{key}' has already signed this draft ({ui.value(outcome.record.signed_at)}); nothing to do."
            )
        else:
            out.print(
                f"[green]Signed[/green] {role} as '{ui.value(outcome.record.key_name)}' "
                f"({ui.value(outcome.record.holder)}); the signature was "
                f"verified against the enrolled public key and saved as "
                f"{cdir.rel(cdir.signature_path(role, outcome.record.keyid))}."
            )
        out.print("[bold]Status now:[/bold]")
        ui.render_status_block(outcome.status)
        out.print(f"Next: {ui.value(outcome.next_step)}.")


def status(
    directory: Path = DIR_ARG,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Per role: digest, each threshold with who signed and who is missing, and the next step."""
    from ceremony.cli.screens import render_status, status_json
    from ceremony.services import status as states

    with guarded(), recorded(directory, "status", {}, write=False) as (cdir, _entry):
        report = states.status(cdir, now())
        if as_json:
            print(json.dumps(status_json(report), indent=2, sort_keys=True))
            return
        render_status(report)


def merge(
    directory: Path = DIR_ARG,
    others: list[Path] = typer.Argument(
        ..., help="Other copies of this ceremony (e.g. other machines' USB sticks)."
    ),
) -> None:
    """Bring signature files from other copies into DIR, verifying each; never overwrite one."""
    from ceremony.services import signing

    with (
        guarded(),
        recorded(directory, "merge", {"others": [str(o) for o in others]}) as (cdir, entry),
    ):
        rep = signing.merge(cdir, others, now(), entry)
        out = ui.console()
        out.print(
            f"Merge into {ui.value(cdir.root)}: {len(rep.added)} added, {len(rep.skipped)} skipped, {len(rep.refused)} refused."
        )
        for line in rep.added:
            out.print(f"  [green]added[/green]   {ui.value(line)}")
        for line in rep.skipped:
            out.print(f"  skipped {ui.value(line)}")
        for line in rep.refused:
            out.print(f"  [red]refused[/red] {ui.value(line)}")
        for problem in rep.transcript_problems:
            out.print(f"  [red]transcript:[/red] {ui.value(problem)}")
        out.print(f"Next: `ceremony status {ui.value(cdir.root)}`.")
