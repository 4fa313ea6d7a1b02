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

import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ceremony.errors import CeremonyError, InputError, Interrupted

if TYPE_CHECKING:  # keep `ceremony --help` light: these pull in securesystemslib and pkcs11
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ceremony.thresholds import RoleStatus, ThresholdStatus

# rich (0.03 s to import) is imported by the functions that render with it, so a command
# that prints plain lines (`verify`) or nothing styled never loads it.


_CAPTURING: Console | None = None  # set while `long_listing` captures a screen for the pager
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


def plain_value(x: object) -> str:
    """`value` for a line printed without rich (no markup to escape): `shown`, with
    newlines, tabs and escape-like backslashes escaped too."""
    return _VALUE.sub(_escape_char, str(x))


def escape(text: str) -> str:
    """rich's markup escaped in `text` (rich imported on first use)."""
    from rich.markup import escape as markup_escape

    return markup_escape(text)


def value(x: object) -> str:
    """A value (name, holder, path, field) to put in a printed line or a table cell: `shown`
    with newlines, tabs and escape-like backslashes escaped too, and rich's markup escaped
    (printed as written)."""
    return escape(plain_value(x))


@functools.cache
def _console_class() -> type[Console]:
    """A rich console whose every rendered string passes `shown` (see the module doc);
    made on first use, so that a command printing plain lines never imports rich."""
    from rich.console import Console
    from rich.errors import MarkupError

    class _Console(Console):
        def render_str(self, text: str, **kwargs: Any) -> Text:
            text = shown(text)
            try:
                return super().render_str(text, **kwargs)
            except MarkupError:  # a stray "[/]" from a value: print it as written
                return super().render_str(text, **{**kwargs, "markup": False})

    return _Console


def console() -> Console:
    """The one console (made per call so tests that swap sys.stdout see the output)."""
    if _CAPTURING is not None:
        return _CAPTURING
    tty = sys.stdout.isatty()
    width = None if tty else int(os.environ.get("COLUMNS", "110"))
    # Not a terminal (logs, scripts, tests): never break a sentence across lines.
    return _console_class()(file=sys.stdout, highlight=False, width=width, soft_wrap=not tty)


def err_console() -> Console:
    tty = sys.stderr.isatty()
    width = None if tty else 110
    return _console_class()(file=sys.stderr, highlight=False, width=width, soft_wrap=not tty)


def interactive() -> bool:
    return sys.stdin.isatty()


def read_line(prompt: str) -> str:
    out = console()
    if interactive():
        try:
            return input(prompt)
        except EOFError:
            out.print()  # the message starts on its own line, not after the prompt
            raise Interrupted("no answer was given (end of input); nothing was written.") from None
    out.print(prompt, end="")
    line = sys.stdin.readline()
    if not line:
        out.print()
        raise InputError(
            f"standard input ended before an answer was given to: {prompt.strip()} Nothing was "
            "written. When not at a terminal, give the answers (the confirmation, then any PIN) "
            "as lines on standard input."
        )
    out.print("(answer read from standard input)")
    return line.rstrip("\r\n")


YES_RULE = "Type exactly Yes (capital Y, nothing else) to go on; anything else stops"


def ask_yes(question: str) -> str:
    """The holder's answer to `question`, which states the exact-`Yes` rule. Only the exact
    answer `Yes` goes on; callers compare and explain (`not_yes`). On a terminal the prompt
    is wrapped at spaces, never in a word."""
    return read_line("\n".join(wrap(f"{question} {YES_RULE}:", 0, 0)) + " ")


def typed(answer: str) -> str:
    """What was typed, quoted with every invisible character made visible ('yes ', '\\t')."""
    return repr(answer) if answer else "nothing (an empty line)"


def not_yes(answer: str) -> str:
    """Why an answer did not confirm: what was typed and the rule."""
    return f"you typed {typed(answer)}; only exactly Yes (capital Y, no spaces) confirms"


def confirm_yes(question: str) -> bool:
    """True only if the operator types exactly `Yes`."""
    return ask_yes(question) == "Yes"


# --- layout for 80 columns and up --------------------------------------------------------


def wrap(text: str, indent: int = 0, hanging: int | None = None) -> list[str]:
    """`text` as screen lines: on a terminal wrapped to its width at spaces (a word longer
    than a line is folded, never cut), the first line indented by `indent` and the rest by
    `hanging` (default: indent + 2); not on a terminal, one line (logs never break a
    sentence). Plain text, not markup: newlines, tabs and escape-like backslashes in it are
    shown escaped (`value`'s rule), and the console escapes the other controls (`shown`)."""
    text = _VALUE.sub(_escape_char, text)  # a value's newline or tab shown, never obeyed
    first = " " * indent
    rest = " " * (indent + 2 if hanging is None else hanging)
    out = console()
    if not out.is_terminal:
        return [first + text]
    return textwrap.wrap(
        text,
        width=max(out.width, 20),
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=True,
    ) or [first]


def say(text: str, indent: int = 0, hanging: int | None = None, style: str | None = None) -> int:
    """Print `text` wrapped (`wrap`), as plain text (values are never read as markup).
    Returns the number of screen lines printed."""
    out = console()
    lines = wrap(text, indent, hanging)
    for line in lines:
        out.print(line, markup=False, highlight=False, style=style, soft_wrap=True)
    return len(lines)


def _pager() -> list[str] | None:
    """The pager command: $PAGER (empty or `cat`: none), else `less`, else none."""
    env = os.environ.get("PAGER")
    if env is not None:
        argv = shlex.split(env)
        return None if not argv or argv[0] == "cat" else argv
    less = shutil.which("less")
    if less is None:
        return None
    # The prompt says where the text ends (less(1), PROMPTS: ?e at end of file).
    return [less, "-R", "-X", "-Ps?e[ END, q - done ]:[ space - more, b - back, q - done ]."]


def long_listing(render: Callable[[], None]) -> None:
    """Print what `render` prints; on a terminal, through a pager when it is taller than
    the screen (never when standard output is not a terminal)."""
    global _CAPTURING
    out = console()
    if not out.is_terminal:
        render()
        return
    _CAPTURING = out
    try:
        with out.capture() as cap:
            render()
    finally:
        _CAPTURING = None
    text = cap.get()
    pager = _pager()
    if pager is None or text.count("\n") < out.height - 1:
        out.file.write(text)
        out.file.flush()
        return
    try:
        # LESSSECURE: no shell escapes (`!cmd`), no editor, no log files from the pager of a
        # ceremony machine (less(1), "SECURITY"); harmless for other pagers.
        env = {**os.environ, "LESSSECURE": "1"}
        subprocess.run(pager, input=text.encode(), check=False, env=env)
    except OSError:
        out.file.write(text)
        out.file.flush()


def notify(message: str) -> None:
    console().print(f"[bold cyan]>>> {value(message)}[/bold cyan]")


def print_error(exc: CeremonyError) -> None:
    e = err_console()
    # The message is plain text (a plan line such as `keys: [a]` is not markup).
    e.print(
        f"[red bold]{exc.title}:[/red bold] {escape(exc.message)}", markup=True, highlight=False
    )
    if exc.hint:
        e.print(f"Next: {escape(exc.hint)}")


def rehearsal_banner(plan_only: bool = False) -> None:
    """The banner of every screen of a rehearsal: software keys, or (`plan_only`) a plan that
    says `rehearsal: true` (SoftHSM2 keys, for instance)."""
    if plan_only:
        console().print(
            "[black on yellow] REHEARSAL: this plan says rehearsal: true. Never publish these "
            "files. [/]"
        )
        return
    console().print(
        "[black on yellow] REHEARSAL: practice keys (software token, SoftHSM) or a plan with "
        "rehearsal: true; not for production. Never publish these files. [/]"
    )


def digest_block(digest_hex: str) -> list[str]:
    from ceremony import digest as digests  # (securesystemslib: not for --help)

    return [
        "SHA-256 of the exact bytes every key signs (compare aloud and on paper):",
        *[f"  {line}" for line in digests.grouped_hex_lines(digest_hex)],
        "The same digest as words (PGP word list):",
        *[f"  {line}" for line in digests.pgp_words_lines(digest_hex)],
    ]


def threshold_lines(t: ThresholdStatus) -> list[str]:
    """One threshold, as plain text: the count, who signed, and who has not. Once it is met,
    the keys that have not signed are `optional` (their signature would be extra)."""
    signed = ", ".join(_who(t, n) for n in t.signed) or "nobody yet"
    others = ", ".join(_who(t, n) for n in t.missing) or "-"
    if t.met:
        more = "; more signatures are optional" if t.missing else ""
        return [
            f"{t.label}: {t.count} signed, {t.threshold} needed (met){more}",
            f"    signed:   {signed}",
            *([f"    optional: {others}"] if t.missing else []),
        ]
    return [
        f"{t.label}: {t.count} signed, {t.threshold} needed ({t.still_needed} more needed)",
        f"    signed:  {signed}",
        f"    missing: {others}",
    ]


def _who(t: ThresholdStatus, name: str) -> str:
    note = t.notes.get(name)
    base = f"{name} ({t.holders.get(name, 'unknown holder')})"
    if note == "compromised":
        base += " [compromised: its signature still counts toward the previous root, as the spec requires]"
    elif note:
        base += f" [{note}]"
    return base  # plain text: `say` escapes it for the screen (rendered without markup)


def render_status_block(st: RoleStatus) -> None:
    for t in st.thresholds:
        first, *rest = threshold_lines(t)
        say(first, 2, 6)
        for line in rest:
            say(line, 2, 16)
    # Who signed is the enrolled key of each keyid (as counted above), never the file's names.
    names = {k: n for t in st.thresholds for k, n in zip(t.signed_keyids, t.signed, strict=True)}
    for rec in st.valid:
        who = names.get(rec.keyid, f"key {rec.keyid[:8]}")
        if isinstance(rec.extra.get("external"), dict):
            say(f"{who}: external signature (made outside tuf-ceremony, verified)", 2, 4)
        elif rec.extra.get("imported"):
            say(f"{who}: signature that was already in the imported file (verified)", 2, 4)
    for rj in [*st.rejected, *st.disputed]:
        who = rj.key or rj.record.keyid[:8]  # the enrolled key's name, never the file's
        say(f"{rj.reason}: {rj.record.file or who} ({who}): {rj.detail}", 2, 6, style="yellow")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_lines=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[value(x) for x in r])
    return t


def debug_enabled() -> bool:
    return os.environ.get("CEREMONY_DEBUG") == "1"
