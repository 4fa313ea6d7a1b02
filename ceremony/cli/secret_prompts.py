"""The prompts for secrets: a token's PIN (`read_pin`, the PinProvider of every token
operation) and a YubiKey's PIV management key (`read_management_key`). Neither is ever
echoed, printed, logged or kept; when standard input is not a terminal (scripts, tests),
each is read as one line of it, after the confirmation.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ceremony.cli import ui
from ceremony.errors import InputError, Interrupted

if TYPE_CHECKING:
    from ceremony.tokens.types import ManagementKeyPrompt, PinRequest


def read_pin(request: PinRequest) -> str:
    """The PinProvider for every token operation."""
    out = ui.console()
    tok = request.token
    out.print(
        f"[bold]PIN needed[/bold] for {ui.value(tok.describe())} to {ui.value(request.purpose)}."
    )
    if request.count_low and not request.final_try and tok.is_softhsm:
        out.print(
            "Note: SoftHSM2 shows 'PIN count low' after any wrong PIN. It never locks (a "
            "rehearsal token), and the flag clears at the next right PIN."
        )
    elif request.count_low and not request.final_try:
        out.print(
            "[yellow]Warning:[/yellow] the token reports that few PIN tries are left. Type carefully; "
            "if you are unsure of the PIN, stop now (Ctrl-C) and ask the administrator."
        )
    if request.final_try:
        out.print(
            "[red bold]FINAL TRY:[/red bold] one more wrong PIN LOCKS this token. Unlocking needs "
            "the PUK (or SO PIN); if that is blocked too, the token must be reset, which DESTROYS "
            "its keys."
        )
        answer = ui.read_line("Type 'final try' to enter the PIN anyway, anything else to stop: ")
        if answer != "final try":
            raise Interrupted("stopped before the final PIN try; nothing was signed or written.")
    pin = _read_secret(
        "PIN",
        "no PIN was given; nothing was written.",
        "scripts: give the confirmation, then the PIN, one per line",
    )
    if not pin:
        raise InputError("an empty PIN was given; nothing was sent to the token.")
    from ceremony.tokens.types import is_factory_default_pin

    if is_factory_default_pin(pin):
        out.print(
            "[yellow]Warning:[/yellow] the PIN typed is a well-known factory default (such as "
            "123456). If the token accepts it, the token still has its factory PIN: change it "
            "before any real ceremony (runbooks/token-preparation.md, A4)."
        )
    return pin


def read_management_key(prompt: ManagementKeyPrompt) -> str:
    """The YubiKey PIV management key, asked like a PIN: never echoed, never on the command
    line (scripts: one line on standard input)."""
    out = ui.console()
    out.print(
        f"[bold]Management key needed[/bold] for {prompt.device} to {prompt.purpose}: its "
        f"{prompt.algorithm} PIV management key, {prompt.hex_length} hexadecimal digits."
    )
    key = _read_secret(
        "Management key",
        "no management key was given; nothing was changed.",
        "scripts: give it as one line",
    )
    if not key.strip():
        raise InputError("an empty management key was given; nothing was sent to the YubiKey.")
    return key


def _read_secret(what: str, none_given: str, scripts: str) -> str:
    """One secret: from the terminal without echo (getpass), else one line of standard input
    (said, never shown). Raises Interrupted (end of input at the terminal: `none_given`) or
    InputError (standard input ended: `scripts` says how to give it)."""
    if ui.interactive():
        import getpass

        try:
            return getpass.getpass(f"{what} (not shown): ")
        except EOFError:
            ui.console().print()  # the message on its own line, not after the prompt
            raise Interrupted(none_given) from None
    line = sys.stdin.readline()
    if not line:
        raise InputError(
            f"standard input ended before the {what if what.isupper() else what.lower()} was "
            f"given ({scripts})."
        )
    ui.console().print(f"{what} read from standard input (not shown).")
    return line.rstrip("\r\n")
