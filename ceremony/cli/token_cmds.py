"""`ceremony tokens`: what is plugged in, and the keys on it."""

from __future__ import annotations

import typer

from ceremony.cli import guarded, secret_prompts, ui


def register(app: typer.Typer) -> None:
    app.command(name="tokens")(tokens_cmd)


ATTRIBUTES = (  # CKA_* of the private key, as `tokens` names them
    ("sensitive", "sensitive"),
    ("extractable", "extractable"),
    ("always-sensitive", "always_sensitive"),
    ("never-extractable", "never_extractable"),
    ("local", "local"),
    ("always-authenticate", "always_authenticate"),
)


def tokens_cmd(
    module: str | None = typer.Option(
        None, "--module", metavar="FILE", help="PKCS#11 module path (default: the known list)."
    ),
    login: bool = typer.Option(
        False, "--login", help="Log in (PIN asked) to see private key attributes."
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        metavar="LABEL|SERIAL",
        help="Only the token with this label or serial (with --login: only its PIN is asked).",
    ),
) -> None:
    """List every token of a PKCS#11 module (or one: --token), its URI, and the keys on it."""
    with guarded():
        from ceremony.tokens import select
        from ceremony.tokens.uri import Pkcs11Uri

        path, listings = select.list_tokens(
            module, pin_provider=secret_prompts.read_pin if login else None, login=login, only=token
        )
        out = ui.console()
        ui.say(f"PKCS#11 module: {path}")
        if not listings:
            ui.say(
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
            elif t.pin_count_low and t.is_softhsm:
                flags.append(
                    "PIN count low (SoftHSM2 shows it after any wrong PIN; it never locks)"
                )
            elif t.pin_count_low:
                flags.append("[yellow]PIN count low[/yellow]")
            if not t.initialized and not t.label and not t.serial:
                # SoftHSM2 always offers one free slot: nothing in it to list.
                ui.say(
                    f"An empty slot of {t.manufacturer} {t.model} (no token initialised in it; "
                    "`softhsm2-util --init-token --free` uses it)."
                    if t.is_softhsm
                    else f"An empty slot of {t.manufacturer} {t.model} (no token initialised).",
                )
                continue
            out.print(
                f"[bold]Token '{ui.value(t.label)}'[/bold]: {ui.value(t.manufacturer)} "
                f"{ui.value(t.model)}, serial {ui.value(t.serial)}, firmware {ui.value(t.firmware)}; "
                + (", ".join(flags) or "no flags")
            )
            if t.initialized:
                token_uri = Pkcs11Uri(token=t.label, serial=t.serial or None).to_string()
                _uri_line(f"  token URI: {token_uri}")
            for k in lst.keys:
                a = k.attributes

                def b(v: bool | None) -> str:
                    return "?" if v is None else ("yes" if v else "no")

                ui.say(f"Key '{k.label or '-'}': id {k.key_id.hex()}, {k.key_type}", 2, 4)
                attrs = ", ".join(
                    f"{name} {b(getattr(a, field)) if a else '?'}" for name, field in ATTRIBUTES
                )
                ui.say(attrs + ("" if a else " (? : the private key needs --login)"), 4, 6)
                _uri_line(f"    URI: {k.uri}")
            if t.initialized and not lst.keys:
                ui.say("no keys visible" + ("" if login else " (private objects need --login)"), 2)
            if lst.keys:
                ui.say("(give a key's URI to enroll --uri or sign --uri)", 2)


def _uri_line(line: str) -> None:
    """A URI is printed whole on one line (never broken by us): a terminal shows a long one
    over two rows, and copying it gives the URI, not a URI with a line break in it."""
    ui.console().print(line, markup=False, highlight=False, soft_wrap=True)
