"""`ceremony tokens`: what is plugged in, and the keys on it."""

from __future__ import annotations

import typer

from ceremony.cli import guarded, ui


def register(app: typer.Typer) -> None:
    app.command(name="tokens")(tokens_cmd)


def tokens_cmd(
    module: str | None = typer.Option(
        None, "--module", help="PKCS#11 module path (default: the known list)."
    ),
    login: bool = typer.Option(
        False, "--login", help="Log in (PIN asked) to see private key attributes."
    ),
) -> None:
    """List every slot and token of a PKCS#11 module, and the keys on each."""
    with guarded():
        from ceremony.tokens import select

        path, listings = select.list_tokens(
            module, pin_provider=ui.read_pin if login else None, login=login
        )
        out = ui.console()
        out.print(f"PKCS#11 module: {ui.value(path)}")
        if not listings:
            out.print(
                "No token is present. Insert the device (and check the reader), then run this again."
            )
        for lst in listings:
            t = lst.token
            flags = []
            if not t.initialized:
                flags.append("NOT INITIALISED")
            if t.login_required:
                flags.append("login required")
            if t.pin_locked:
                flags.append("[red]PIN LOCKED[/red]")
            elif t.pin_final_try:
                flags.append("[red]PIN: FINAL TRY[/red]")
            elif t.pin_count_low:
                flags.append("[yellow]PIN count low[/yellow]")
            out.print(
                f"[bold]Token '{t.label}'[/bold]: {t.manufacturer} {t.model}, serial {t.serial}, "
                f"firmware {t.firmware}; {', '.join(flags) or 'no flags'}"
            )
            rows = []
            for k in lst.keys:
                a = k.attributes

                def b(v: bool | None) -> str:
                    return "?" if v is None else ("yes" if v else "no")

                rows.append(
                    [
                        k.label or "-",
                        k.key_id.hex(),
                        k.key_type,
                        b(a.sensitive) if a else "?",
                        b(a.extractable) if a else "?",
                        b(a.always_sensitive) if a else "?",
                        b(a.never_extractable) if a else "?",
                        b(a.local) if a else "?",
                        b(a.always_authenticate) if a else "?",
                        k.uri,
                    ]
                )
            if rows:
                out.print(
                    ui.table(
                        "Keys",
                        [
                            "label",
                            "id",
                            "type",
                            "sensitive",
                            "extractable",
                            "always-sens.",
                            "never-extr.",
                            "local",
                            "always-auth",
                            "URI",
                        ],
                        rows,
                    )
                )
                out.print("  Ready-to-copy URIs (give one to enroll --uri or sign --uri):")
                for r in rows:
                    out.print(f"    {ui.value(r[0])}: {ui.value(r[-1])}", soft_wrap=True)
            else:
                out.print(
                    "  no keys visible" + ("" if login else " (private objects need --login)")
                )
