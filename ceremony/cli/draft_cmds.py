"""Drafting: draft (freeze a role's unsigned metadata) and show (what a holder checks)."""

from __future__ import annotations

from pathlib import Path

import typer

from ceremony.cli import DIR_ARG, ROLE_ARG, guarded, recorded, ui
from ceremony.clock import now_utc as now


def register(app: typer.Typer) -> None:
    for fn in (draft, show):
        app.command(name=fn.__name__)(fn)


def draft(directory: Path = DIR_ARG, role: str = ROLE_ARG) -> None:
    """Build the unsigned draft of ROLE from the plan, enrolled keys and previous root."""
    from ceremony.cli.screens import render_view
    from ceremony.services import drafts

    with guarded(), recorded(directory, "draft", {"role": role}) as (cdir, entry):
        res = drafts.draft(cdir, role, now(), entry)
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
