"""Drafting: draft (freeze a role's unsigned metadata) and show (what a holder checks)."""

from __future__ import annotations

from pathlib import Path

import typer

from ceremony.cli import DIR_ARG, ROLE_ARG, guarded, recorded, ui
from ceremony.clock import now_utc as now


def register(app: typer.Typer) -> None:
    for fn in (draft, show, copy):
        app.command(name=fn.__name__)(fn)


def draft(
    directory: Path = DIR_ARG,
    role: str = ROLE_ARG,
    replace: bool = typer.Option(
        False,
        "--replace",
        help="Replace a draft that already has signatures without asking (they become stale).",
    ),
    reopen: bool = typer.Option(
        False,
        "--reopen",
        help="Draft again after an export, re-opening the ceremony (recorded). Only if nothing "
        "was published.",
    ),
) -> None:
    """Build the unsigned draft of ROLE from the plan, enrolled keys and previous root."""
    from ceremony.cli.screens import render_view
    from ceremony.errors import Declined
    from ceremony.services import drafts

    def approve(stale: int, old_digest: str) -> bool:
        if replace:
            return True
        ui.say(
            f"The current {role} draft ({old_digest[:16]}…) has {stale} signature"
            f"{'s' if stale != 1 else ''}. A new draft makes {'them' if stale != 1 else 'it'} "
            "STALE: every holder then checks the new digest and signs again.",
            style="yellow",
        )
        answer = ui.ask_yes("Replace the draft?")
        if answer != "Yes":
            raise Declined(
                f"the {role} draft was not replaced: {ui.not_yes(answer)}; its signatures "
                "still count and nothing was written."
            )
        return True

    args = {"role": role, "replace": replace, "reopen": reopen}
    with guarded(), recorded(directory, "draft", args) as (cdir, entry):
        res = drafts.draft(cdir, role, now(), entry, approve_stale=approve, reopen=reopen)
        out = ui.console()
        if res.unchanged:
            out.print(f"The {role} draft is already up to date with the plan; nothing changed.")
        else:
            out.print(
                f"Drafted {role} version {res.draft.metadata.signed.version} ({cdir.rel(cdir.draft_path(role))})."
            )
            if res.previous_digest:
                out.print(
                    f"[yellow]This replaces the earlier draft {res.previous_digest[:16]}…: its "
                    f"{res.stale_signatures} signature(s) are now STALE and no longer count.[/yellow]"
                )
        render_view(res.view)
        out.print(
            f"Next: each key holder checks this with `ceremony show {ui.value(cdir.root)} {role}` and signs."
        )


def show(
    directory: Path = DIR_ARG,
    role: str = ROLE_ARG,
    full: bool = typer.Option(
        False, "--full", help="List every delegated role (16,384 lines for PEP 458 bins)."
    ),
) -> None:
    """What a key holder checks before signing: summary, diff, digest, signatures so far."""
    from ceremony.cli.screens import render_view
    from ceremony.services import drafts

    with guarded(), recorded(directory, "show", {"role": role}, write=False) as (cdir, _entry):
        render_view(drafts.show(cdir, role, now(), full=full))
        ui.say(
            "Next: if every value above is what was agreed, each holder signs with "
            f"`ceremony sign {cdir.root} {role} --key NAME`."
        )


def copy(
    directory: Path = DIR_ARG,
    dest: Path = typer.Argument(
        ...,
        metavar="DEST",
        help="Where the copy goes: a new folder, e.g. on a holder's USB stick.",
        show_default=False,
    ),
) -> None:
    """Copy DIR for a holder who signs elsewhere; the copy knows it is one (bring it back
    for `ceremony merge`)."""
    from ceremony.services import copies

    with guarded(), recorded(directory, "copy", {"dest": str(dest)}) as (cdir, entry):
        res = copies.copy(cdir, dest, now(), entry)
        ui.say(f"Copied {cdir.root} to {res.path} ({res.files} files), marked as a copy.")
        for role, digest in res.drafts.items():
            ui.say(f"{role} draft: {digest[:16]}…", 2)
        if not res.drafts:
            ui.say(
                "There is no draft in it yet: a holder cannot sign in this copy. Draft first, "
                "then copy again.",
                style="yellow",
            )
        ui.say(
            f"Next: the holder signs in the copy (`ceremony sign {res.path} ROLE --key NAME`) "
            f"and brings it back; then `ceremony merge {cdir.root} {res.path}`."
        )
