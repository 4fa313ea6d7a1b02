"""Collecting signatures: sign (one holder, one session), status, merge (other copies)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ceremony.cli import DIR_ARG, ROLE_ARG, guarded, recorded, secret_prompts, ui
from ceremony.clock import now_utc as now


def register(app: typer.Typer) -> None:
    for fn in (sign, status, merge):
        app.command(name=fn.__name__)(fn)


def sign(
    directory: Path = DIR_ARG,
    role: str = ROLE_ARG,
    key: str = typer.Option(
        ...,
        "--key",
        metavar="NAME|KEYID",
        help="Your key: its name in the plan, or its full keyid (64 hex digits).",
    ),
    uri: str | None = typer.Option(
        None,
        "--uri",
        metavar="URI",
        help="pkcs11: URI of the key (default: the one recorded at enrolment, else found by public key).",
    ),
    module: str | None = typer.Option(
        None, "--module", metavar="FILE", help="PKCS#11 module path."
    ),
    allow_imported_key: bool = typer.Option(
        False,
        "--allow-imported-key",
        help="Accept a token key that may have been imported (recorded in the signature file, "
        "the transcript and the ceremony record).",
    ),
    reopen: bool = typer.Option(
        False,
        "--reopen",
        help="Sign a draft that was exported already, re-opening the ceremony (recorded).",
    ),
) -> None:
    """Check the draft, confirm with a typed Yes, enter the PIN, sign on the token."""
    from ceremony.cli.screens import copy_note, render_view
    from ceremony.cli.sign_screen import render_compact, sign_question
    from ceremony.errors import Declined
    from ceremony.services import signing
    from ceremony.services.drafts import DraftView
    from ceremony.tokens import select

    args = {"role": role, "key": key, "uri": uri, "reopen": reopen}
    if allow_imported_key:
        args["allow_imported_key"] = True
    with guarded(), recorded(directory, "sign", args) as (cdir, entry):

        def confirm(v: DraftView) -> bool:
            name = v.signer.key.name if v.signer is not None else key  # --key may be a keyid
            render_view(v)
            render_compact(v, name)
            answer = ui.ask_yes(sign_question(v, name))
            if answer != "Yes":
                holder = v.signer.key.holder if v.signer is not None else "the holder"
                raise Declined(
                    f"{name} ({holder}) did not confirm: {ui.not_yes(answer)}; nothing was signed "
                    "or written.",
                    hint="Run the command again, check the screen, and type exactly Yes to sign.",
                )
            return True

        outcome = signing.sign(
            cdir,
            role,
            key,
            select.signer_factory(
                uri,
                module,
                pin_provider=secret_prompts.read_pin,
                notify=ui.notify,
                allow_imported=allow_imported_key,
            ),
            confirm,
            now(),
            entry,
            allow_imported=allow_imported_key,
            reopen=reopen,
        )
        if outcome.already_signed:
            ui.say(
                f"'{key}' has already signed this draft ({outcome.record.signed_at}); nothing to do."
            )
        else:
            ui.say(
                f"Signed {role} as '{outcome.record.key_name}' ({outcome.record.holder}); the "
                "signature was verified against the enrolled public key and saved as "
                f"{cdir.rel(cdir.signature_path(role, outcome.record.keyid))}.",
                style="green",
            )
            signer = outcome.view.signer
            if signer is not None and signer.optional:
                ui.say(
                    "Your signature is extra: every threshold your key counts for was met before "
                    "you signed. It counts all the same, as a spare.",
                    style="cyan",
                )
        ui.say("Status now:", style="bold")
        ui.render_status_block(outcome.status)
        ui.say(f"Next: {outcome.next_step}.")
        copy_note(outcome.copy)


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
        ...,
        metavar="OTHER...",
        help="Other copies of this ceremony (e.g. other machines' USB sticks).",
        show_default=False,
    ),
) -> None:
    """Bring signature files from other copies into DIR, verifying each; never overwrite one.
    Exits 1 when any file was refused (each is listed with its reason)."""
    from ceremony.errors import CheckFailed
    from ceremony.services import merging

    with (
        guarded(),
        recorded(directory, "merge", {"others": [str(o) for o in others]}) as (cdir, entry),
    ):
        rep = merging.merge(cdir, others, now(), entry)
        added = "added" if rep.written else "would add"
        ui.say(
            f"Merge into {cdir.root}: {len(rep.added)} {added}, {len(rep.skipped)} skipped, "
            f"{len(rep.refused)} refused."
            + (
                f" The names of {len(rep.names_refused)} file(s) were refused (below)."
                if rep.names_refused
                else ""
            )
        )
        for line in rep.added:
            ui.say(f"{added:<9} {line}", 2, 4, style="green" if rep.written else None)
        for line in rep.skipped:
            ui.say(f"skipped   {line}", 2, 4)
        for line in rep.refused:
            ui.say(f"refused   {line}", 2, 4, style="red")
        for line in rep.names_refused:  # quotes the file's own fields: escaped by say
            ui.say(f"names refused {line}", 2, 4, style="yellow")
        for problem in rep.transcript_problems:
            ui.say(f"transcript: {problem}", 2, 4, style="red")
        if rep.refused:  # raised inside: nothing written, the transcript included
            n = len(rep.refused)
            raise CheckFailed(
                f"{n} entr{'ies were' if n != 1 else 'y was'} refused (listed above): a refused "
                "file never counts, and nothing was merged, not even the good signatures.",
                hint="Read each reason. Merge the other copies one at a time to take their "
                "signatures; a copy with a refused file can be merged once that file is "
                "removed from it (or its holder signs again on a fresh copy: `ceremony copy`).",
            )
        ui.say(f"Next: `ceremony status {cdir.root}`.")
