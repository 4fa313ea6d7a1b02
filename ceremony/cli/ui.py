"""The terminal: the console, prompts (typed Yes, PIN without echo) and screens.

When standard input is not a terminal (scripts, tests), the confirmation and then the
PIN are read as lines from it. A PIN is never echoed, printed, logged or kept.

Screens show exactly what is signed (issue 9, rule 10). Every string the consoles render
passes `shown` at the one rendering boundary (`_Console.render_str`, which rich calls for
every printed string, table cell and rule title): control characters (C0, DEL, C1, so
ANSI escapes too), bidirectional controls (U+061C, U+200E/F, U+202A-U+202E,
U+2066-U+2069), line and paragraph separators (U+2028/9) and invisible characters
(U+200B-U+200D, U+2060-U+2064, U+FEFF) are printed escaped (`\u202e`), never obeyed by
the terminal. Newlines separate a screen's lines; inside a value (a table cell, a holder
or key name, an error message's file name) `value` escapes them too. Values are also
escaped for rich's markup (`[...]`), so a name is printed as written.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.errors import MarkupError
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ceremony import digest as digests
from ceremony.errors import CeremonyError, InputError, Interrupted

if TYPE_CHECKING:  # keep `ceremony --help` light: these pull in securesystemslib and pkcs11
    from ceremony.thresholds import RoleStatus, ThresholdStatus
    from ceremony.tokens.types import ManagementKeyPrompt, PinRequest


_CONTROLS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab and newline, DEL, C1 (ESC: ANSI escapes)
    "\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069"  # bidi controls, zero-width
    "\u2028\u2029\u2060-\u2064\ufeff"  # line/paragraph separators, invisible
)
_SCREEN = re.compile(f"[{_CONTROLS}]")
# In a value, a backslash that would read as one of those escapes is escaped too, so
# `\u202e` in a name always means the character, and six typed characters show `\\u202e`.
_VALUE = re.compile(f"[{_CONTROLS}\n\t]|\\\\(?=u[0-9a-fA-F]{{4}})")


def _escape_char(m: re.Match[str]) -> str:
    c = m.group(0)
    return "\\\\" if c == "\\" else f"\\u{ord(c):04x}"


def shown(text: str) -> str:
    """`text` as a screen shows it: every control, bidi, separator and invisible character
    escaped as `\\uXXXX` (newlines and tabs kept: they lay the screen out)."""
    return _SCREEN.sub(_escape_char, text)


def value(x: object) -> str:
    """A value (name, holder, path, field) to put in a printed line or a table cell: `shown`
    with newlines, tabs and escape-like backslashes escaped too, and rich's markup escaped
    (printed as written)."""
    return escape(_VALUE.sub(_escape_char, str(x)))


class _Console(Console):
    """A rich console whose every rendered string passes `shown` (see the module doc)."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        text = shown(text)
        try:
            return super().render_str(text, **kwargs)
        except MarkupError:  # a stray "[/]" from a value: print it as written
            return super().render_str(text, **{**kwargs, "markup": False})


def console() -> Console:
    """The one console (made per call so tests that swap sys.stdout see the output)."""
    tty = sys.stdout.isatty()
    width = None if tty else int(os.environ.get("COLUMNS", "110"))
    # Not a terminal (logs, scripts, tests): never break a sentence across lines.
    return _Console(file=sys.stdout, highlight=False, width=width, soft_wrap=not tty)


def err_console() -> Console:
    tty = sys.stderr.isatty()
    width = None if tty else 110
    return _Console(file=sys.stderr, highlight=False, width=width, soft_wrap=not tty)


def interactive() -> bool:
    return sys.stdin.isatty()


def _read_line(prompt: str) -> str:
    out = console()
    if interactive():
        try:
            return input(prompt)
        except EOFError:
            raise Interrupted("no answer was given (end of input); nothing was written.") from None
    out.print(prompt, end="")
    line = sys.stdin.readline()
    if not line:
        out.print()
        raise InputError(
            "standard input ended before an answer was given. When not at a terminal, give the "
            "confirmation and then the PIN as lines on standard input."
        )
    out.print("(answer read from standard input)")
    return line.rstrip("\r\n")


def confirm_yes(question: str) -> bool:
    """True only if the operator types exactly `Yes`."""
    answer = _read_line(f"{question} Type Yes to continue, anything else to stop: ")
    return answer == "Yes"


def read_pin(request: PinRequest) -> str:
    """The PinProvider for every token operation."""
    out = console()
    tok = request.token
    out.print(f"[bold]PIN needed[/bold] for {value(tok.describe())} to {value(request.purpose)}.")
    if request.count_low and not request.final_try:
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
        answer = _read_line("Type 'final try' to enter the PIN anyway, anything else to stop: ")
        if answer != "final try":
            raise Interrupted("stopped before the final PIN try; nothing was signed or written.")
    if interactive():
        try:
            pin = getpass.getpass("PIN (not shown): ")
        except EOFError:
            raise Interrupted("no PIN was given; nothing was written.") from None
    else:
        line = sys.stdin.readline()
        if not line:
            raise InputError(
                "standard input ended before the PIN was given (scripts: give the confirmation, "
                "then the PIN, one per line)."
            )
        pin = line.rstrip("\r\n")
        out.print("PIN read from standard input (not shown).")
    if not pin:
        raise InputError("an empty PIN was given; nothing was sent to the token.")
    from ceremony.tokens.types import is_factory_default_pin

    if is_factory_default_pin(pin):
        out.print(
            "[yellow]Warning:[/yellow] this PIN is a well-known factory default. Change it on the "
            "token before any real ceremony."
        )
    return pin


def read_management_key(prompt: ManagementKeyPrompt) -> str:
    """The YubiKey PIV management key, asked like a PIN: never echoed, never on the command
    line (scripts: one line on standard input)."""
    out = console()
    out.print(
        f"[bold]Management key needed[/bold] for {prompt.device} to {prompt.purpose}: its "
        f"{prompt.algorithm} PIV management key, {prompt.hex_length} hexadecimal digits."
    )
    if interactive():
        try:
            key = getpass.getpass("Management key (not shown): ")
        except EOFError:
            raise Interrupted("no management key was given; nothing was changed.") from None
    else:
        line = sys.stdin.readline()
        if not line:
            raise InputError(
                "standard input ended before the management key was given (scripts: give it "
                "as one line)."
            )
        key = line.rstrip("\r\n")
        out.print("Management key read from standard input (not shown).")
    if not key.strip():
        raise InputError("an empty management key was given; nothing was sent to the YubiKey.")
    return key


def notify(message: str) -> None:
    console().print(f"[bold cyan]>>> {value(message)}[/bold cyan]")


def print_error(exc: CeremonyError) -> None:
    e = err_console()
    e.print(
        f"[red bold]{exc.title}:[/red bold] {escape(exc.message)}", markup=True, highlight=False
    )
    if exc.hint:
        e.print(f"Next: {escape(exc.hint)}")


def rehearsal_banner() -> None:
    console().print(
        "[black on yellow] REHEARSAL: practice keys (software token, SoftHSM) or a plan with "
        "rehearsal: true; not for production. Never publish these files. [/]"
    )


def digest_block(digest_hex: str) -> list[str]:
    return [
        "SHA-256 of the exact bytes every key signs (compare aloud and on paper):",
        f"  {digests.grouped_hex(digest_hex)}",
        "The same digest as words (PGP word list):",
        *[f"  {line}" for line in digests.pgp_words_lines(digest_hex)],
    ]


def threshold_line(t: ThresholdStatus) -> str:
    mark = "[green]met[/green]" if t.met else f"[yellow]{t.still_needed} more needed[/yellow]"
    signed = ", ".join(_who(t, n) for n in t.signed) or "nobody yet"
    label = value(t.label)
    missing = ", ".join(_who(t, n) for n in t.missing) or "-"
    return (
        f"{label}: {t.count} signed, {t.threshold} needed ({mark})\n"
        f"      signed:  {signed}\n"
        f"      missing: {missing}"
    )


def _who(t: ThresholdStatus, name: str) -> str:
    note = t.notes.get(name)
    base = f"{name} ({t.holders.get(name, 'unknown holder')})"
    if note == "compromised":
        base += " [compromised: its signature still counts toward the previous root, as the spec requires]"
    elif note:
        base += f" [{note}]"
    # Printed as rich markup: escape, or "[compromised: ...]" is taken for a style tag and vanishes.
    return value(base)


def render_status_block(st: RoleStatus) -> None:
    out = console()
    for t in st.thresholds:
        out.print("  " + threshold_line(t))
    for rec in st.valid:
        who = rec.key_name or rec.keyid[:8]
        if isinstance(rec.extra.get("external"), dict):
            out.print(f"  {escape(who)}: external signature (made outside tuf-ceremony, verified)")
        elif rec.extra.get("imported"):
            out.print(
                f"  {escape(who)}: signature that was already in the imported file (verified)"
            )
    for rj in st.rejected:
        who = rj.record.key_name or rj.record.keyid[:8]
        out.print(
            f"  [yellow]{value(rj.reason)}[/yellow]: {value(rj.record.file or who)} ({value(who)}): "
            f"{value(rj.detail)}"
        )


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[value(x) for x in r])
    return t


def debug_enabled() -> bool:
    return os.environ.get("CEREMONY_DEBUG") == "1"
