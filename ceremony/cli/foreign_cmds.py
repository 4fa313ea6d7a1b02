"""Metadata and signatures from outside: import (a file another tool staged), payload (the
bytes a key in cold storage signs) and add-signature (that signature, verified)."""

from __future__ import annotations

from pathlib import Path

import typer

from ceremony.cli import DIR_ARG, ROLE_ARG, guarded, recorded, ui
from ceremony.clock import now_utc as now
from ceremony.errors import InputError

IMPORT_FORMATS = ["auto", "metadata", "tuf-on-ci", "rstuf-bootstrap", "rstuf-update", "rstuf-sign-request"]  # fmt: skip
ENCODINGS = ["auto", "hex", "base64", "raw", "json"]


def register(app: typer.Typer) -> None:
    app.command(name="import")(import_)
    app.command(name="payload")(payload)
    app.command(name="add-signature")(add_signature)


def import_(
    directory: Path = typer.Argument(
        ..., metavar="DIR", help="The new ceremony directory.", show_default=False
    ),
    file: Path = typer.Argument(
        ...,
        help="The staged metadata (root.json, targets.json) or RSTUF payload to sign.",
        show_default=False,
    ),
    previous_root: Path | None = typer.Option(
        None, "--previous-root", help="Root N-1, for a root of version N > 1: its keys sign too."
    ),
    root: Path | None = typer.Option(
        None, "--root", help="For a targets file: the root that says who signs it."
    ),
    fmt: str = typer.Option(
        "auto",
        "--format",
        help="What FILE is: " + ", ".join(IMPORT_FORMATS) + " (auto: from its fields).",
    ),
) -> None:
    """Make a ceremony directory around metadata another tool staged: its signed part becomes
    the frozen draft, unchanged; its keys are enrolled; signatures that verify are kept."""
    from ceremony.cli.screens import render_view
    from ceremony.services import importing

    with guarded():
        from ceremony import transcript

        if fmt not in IMPORT_FORMATS:
            raise InputError(f"--format {fmt} is not one of {', '.join(IMPORT_FORMATS)}.")
        args = {
            "file": str(file),
            "previous_root": str(previous_root) if previous_root else None,
            "root": str(root) if root else None,
            "format": fmt,
        }
        entry = transcript.Entry("import", args)
        res = importing.import_file(
            directory, file, now(), entry, previous_root=previous_root, root=root, fmt=fmt
        )
        transcript.append(res.path.absolute(), entry, "ok", 0)
        out = ui.console()
        out.print(
            f"Imported {res.role} version {res.version} ({res.format}) from {file} into {res.path}.",
            markup=False,
        )
        if res.previous_copy:
            out.print(f"The previous root was copied to {res.previous_copy} and pinned.")
        for note in res.notes:
            out.print(f"  {ui.value(note)}")
        out.print("Keys enrolled (name, keyid, holder as the file says):")
        for name, keyid, holder in res.keys:
            out.print(f"  {name}  {keyid[:16]}…  {holder}", markup=False)
        out.print(f"Signatures kept (they verify): {', '.join(res.kept) or 'none'}.", markup=False)
        for line in res.dropped:
            out.print(f"  dropped: {line}", markup=False)
        render_view(res.view)
        out.print(
            f"Next: each holder checks `ceremony show {res.path} {res.role}` and signs with "
            f"`ceremony sign {res.path} {res.role} --key NAME|KEYID`; a key in cold storage: "
            f"`ceremony payload {res.path} {res.role} --out FILE`, then `ceremony add-signature`."
        )


def payload(
    directory: Path = DIR_ARG,
    role: str = ROLE_ARG,
    out_file: Path = typer.Option(
        ..., "--out", help="The file to write the payload to (never overwritten)."
    ),
) -> None:
    """Write the exact bytes every key signs for ROLE (canonical JSON of its signed part),
    for a key in cold storage; prints their SHA-256."""
    from ceremony.services import external

    with (
        guarded(),
        recorded(directory, "payload", {"role": role, "out": str(out_file)}) as (cdir, entry),
    ):
        res = external.payload(cdir, role, out_file, now(), entry)
        out = ui.console()
        out.print(
            f"Wrote the payload of {res.role} version {res.version} to {res.path} ({res.size:,} "
            "bytes): the canonical JSON of its signed part, exactly what every key signs.",
            markup=False,
        )
        for line in ui.digest_block(res.digest):
            out.print(line)
        out.print(
            "Check this SHA-256 on the machine that signs (e.g. `sha256sum FILE`). Next: sign the "
            f"file's bytes with the key, then `ceremony add-signature {cdir.root} {role} --key "
            "NAME|KEYID --signature SIGFILE`."
        )


def add_signature(
    directory: Path = DIR_ARG,
    role: str = ROLE_ARG,
    key: str = typer.Option(
        ..., "--key", help="The key that made it: its name in the plan, or its full keyid."
    ),
    signature: Path = typer.Option(
        ..., "--signature", help="The signature file: hex, base64, raw bytes or JSON."
    ),
    encoding: str = typer.Option(
        "auto", "--encoding", help="How the file holds it: " + ", ".join(ENCODINGS) + "."
    ),
) -> None:
    """Add a signature made outside the tool: verified with the enrolled key over the draft's
    bytes, confirmed with a typed Yes, then stored like a token signature."""
    from ceremony.cli.screens import render_view
    from ceremony.services import external
    from ceremony.services.drafts import DraftView

    args = {"role": role, "key": key, "signature": str(signature), "encoding": encoding}
    with guarded(), recorded(directory, "add-signature", args) as (cdir, entry):

        def confirm(v: DraftView) -> bool:
            render_view(v)
            return ui.confirm_yes(
                f"The signature verifies. Add it to {v.role} version {v.version} as '{key}'?"
            )

        outcome = external.add_signature(
            cdir, role, key, signature, confirm, now(), entry, encoding=encoding
        )
        out = ui.console()
        rec = outcome.record
        if outcome.already_signed:
            out.print(f"'{rec.key_name}' has already signed this draft; nothing to do.")
        else:
            ext = rec.extra.get("external")
            how = ""
            if isinstance(ext, dict):
                how = (
                    f" ({ext.get('encoding')}{', ' + str(ext['note']) if ext.get('note') else ''})"
                )
            out.print(
                f"[green]Added[/green] the external signature of '{rec.key_name}' ({rec.holder}) "
                f"to {role}{how}: verified against the enrolled public key and saved as "
                f"{cdir.rel(cdir.signature_path(role, rec.keyid))}."
            )
        out.print("[bold]Status now:[/bold]")
        ui.render_status_block(outcome.status)
        out.print(f"Next: {outcome.next_step}.")
