"""The last screen before a holder types Yes: everything they must check for THIS signature,
on one 24-line screen at any width from 80 columns up.

The long listing (every role and key, `ceremony show`) comes first; this block ends the
`sign` confirmation: the role, version and expiry; the changes in holder terms (or "first
root"); the holder's own key (name, type, 16-hex keyid, device and serial) with the
thresholds it counts for; the digest as hex (two lines of eight groups) and PGP words; then
the prompt, which states the exact-`Yes` rule. Values are wrapped, never cut; when the
changes do not fit, the last line says how many more there are and where they are listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ceremony import digest as digests
from ceremony.cli import ui

if TYPE_CHECKING:
    from ceremony.services.drafts import DraftView

SCREEN_LINES = 24


def sign_question(v: DraftView, key: str) -> str:
    return f"Sign {v.role} version {v.version} with '{key}'?"


def prompt_text(v: DraftView, key: str) -> str:
    """The prompt as `ui.ask_yes` prints it (before wrapping)."""
    return f"{sign_question(v, key)} {ui.YES_RULE}:"


def _lines(text: str, indent: int = 0, hanging: int | None = None) -> list[str]:
    return ui.wrap(text, indent, hanging)


def compact_block(v: DraftView, key: str) -> list[tuple[str, str | None]]:
    """The block's screen lines with their style, fitted to the screen with the prompt."""
    head: list[tuple[str, str | None]] = []
    tail: list[tuple[str, str | None]] = []

    def add(
        to: list[tuple[str, str | None]],
        text: str,
        indent: int = 0,
        hanging: int | None = None,
        style: str | None = None,
    ) -> None:
        to.extend((line, style) for line in _lines(text, indent, hanging))

    add(head, f"Before you sign: {v.role} version {v.version} of {v.repository}", style="bold")
    expires = f"expires {v.expires:%Y-%m-%d %H:%M} UTC"
    if v.previous_expires is not None:
        expires += f" (previous root: {v.previous_expires:%Y-%m-%d %H:%M} UTC)"
    add(head, expires, 2, 4)
    if v.rehearsal or v.rehearsal_plan:
        add(head, "REHEARSAL: practice only; never publish what these keys sign", 2, 4, "yellow")
    elif any(w.id == "CER-KEY-SOFTHSM" for w in v.warnings):
        add(head, "SoftHSM keys: for rehearsals and tests, not production", 2, 4, "yellow")
    changes: list[str] = []
    title = "Changes from the previous root:"
    if v.role == "root":
        shown = [c for c in v.changes if c.kind not in ("version", "expires")]
        if v.previous is None:
            title = "Changes: none, this is the first root (nothing to compare with)"
        elif not shown:
            title = "Changes from the previous root: only the version and expiry"
        # What changes who can sign first (thresholds, removed keys), so that a block cut to
        # one screen keeps them: the order of the long listing is role by role.
        rank = {"threshold": 0, "remove": 1, "add": 2}
        ordered = sorted(shown, key=lambda c: rank.get(c.kind, 3))
        changes = [c.brief or c.text for c in ordered if v.previous is not None]
        holder = v.signer.key.holder if v.signer is not None else None
        if holder is not None and any(s.startswith(holder) for s in v.swaps):
            # The long listing above names both keys (review.device_swaps); here, one line,
            # first: it is this holder's instruction.
            changes.insert(0, f"! {holder} holds an old and a new key: sign twice, once with each")
    else:
        title = "Delegations:"
        changes = [*v.details, *(f"PROBLEM {p}" for p in v.problems)]
    add(head, title, style="bold")
    if v.signer is not None:
        k = v.signer.key
        status = "" if k.status == "active" else f" [{k.status}]"
        add(tail, f"Your key: {k.name} ({k.holder}){status}", style="bold")
        add(tail, f"{k.key_type}, keyid {k.keyid[:16]}", 2, 4)
        add(tail, k.device, 2, 4)
        for line in v.signer.counts_for:
            add(tail, f"counts for {line}", 2, 4)
        if v.signer.optional:
            add(
                tail,
                "Every threshold your key counts for is met already: your signature is extra "
                "(optional). It still counts, and adds a spare.",
                2,
                4,
                "cyan",
            )
    add(tail, "Digest to compare aloud (SHA-256 of the exact bytes you sign):", style="bold")
    for line in digests.grouped_hex_lines(v.digest):
        add(tail, line, 2)
    for line in digests.pgp_words_lines(v.digest):
        add(tail, line, 2, 9)
    body: list[tuple[str, str | None]] = []
    for c in changes:
        add(body, c if c.startswith(("!", "PROBLEM")) else f"- {c}", 2, 4)
    out = ui.console()
    if out.is_terminal:
        prompt = len(_lines(prompt_text(v, key), 0, 0)) or 1
        room = SCREEN_LINES - 1 - prompt - len(head) - len(tail)  # 1: the rule above
        if len(body) > room:
            more = len(body) - max(room - 1, 0)
            body = body[: max(room - 1, 0)]
            body.append(
                (
                    f"  … {more} more line{'s' if more != 1 else ''} of changes: listed above, "
                    "and with `ceremony show`",
                    "yellow",
                )
            )
    return head + body + tail


def render_compact(v: DraftView, key: str) -> None:
    """Print the block (after a rule); the caller asks the question next."""
    out = ui.console()
    out.rule(style="bold")
    for line, style in compact_block(v, key):
        out.print(line, markup=False, highlight=False, style=style, soft_wrap=True)
