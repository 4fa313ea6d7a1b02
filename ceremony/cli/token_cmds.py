"""`ceremony tokens`: what is plugged in, and the keys on it."""

from __future__ import annotations

from pathlib import Path

import typer

from ceremony.cli import guarded, ui

attestation_app = typer.Typer(
    help="YubiKey PIV attestation of enrolled keys.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command(name="tokens")(tokens_cmd)
    attestation_app.command(name="verify")(attestation_verify)
    app.add_typer(attestation_app, name="attestation")


def attestation_verify(
    directory: Path = typer.Argument(..., help="The ceremony directory."),
    attestation_ca: list[Path] = typer.Option(
        [], "--attestation-ca", help="Extra trusted attestation CA certificate (repeatable)."
    ),
) -> None:
    """Re-check every enrolled key's attestation: chain, key, recorded facts, plan policy."""
    from ceremony import service
    from ceremony.cli import recorded
    from ceremony.clock import now_utc as now
    from ceremony.errors import AttestationError
    from ceremony.files import read_input

    with guarded(), recorded(directory, "attestation verify", {}, write=False) as (cdir, entry):
        cas = [read_input(p) for p in attestation_ca]
        results = service.reverify_attestations(cdir, cas, now(), entry)
        out = ui.console()
        if not results:
            out.print("No enrolled key has an attestation, and the plan requires none.")
        for r in results:
            mark = "[green]ok  [/green]" if r.ok else "[red]FAIL[/red]"
            out.print(f"{mark} {r.name}: {r.detail}")
        bad = [r.name for r in results if not r.ok]
        if bad:
            raise AttestationError(
                f"{len(bad)} key(s) fail their attestation check: {', '.join(bad)}."
            )


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
        from ceremony import tokens

        path = tokens.resolve_module(None, module)
        listings = tokens.list_tokens(
            path, pin_provider=ui.read_pin if login else None, login=login
        )
        out = ui.console()
        out.print(f"PKCS#11 module: {path}")
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
                    out.print(f"    {r[0]}: {r[-1]}", soft_wrap=True)
            else:
                out.print(
                    "  no keys visible" + ("" if login else " (private objects need --login)")
                )
