"""Is this machine fit for a ceremony? (`ceremony preflight`): the air gap, the clock, the
installed tool against its wheel RECORDs and the wheelhouse, versions, and which PKCS#11
modules and tokens are visible. Read only; the network is never used, only described.

The root-ceremony runbook starts with it, and its digest goes on the paper record.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ceremony import __version__
from ceremony.attestation import load_pinned_roots
from ceremony.errors import CeremonyError
from ceremony.machine.install import TOOL, check_installed, check_wheelhouse, closure
from ceremony.machine.network import NetworkState, network_state
from ceremony.services.state import Loaded, load
from ceremony.store import CeremonyDir
from ceremony.tokens.types import TokenListing
from ceremony.transcript import read_entries

# The dependencies whose versions the report names (the others are counted).
NAMED = ("tuf", "securesystemslib", "cryptography", "python-pkcs11", "yubikey-manager", "pyscard")


@dataclass(frozen=True)
class Section:
    """One line of the report: its topic, whether it passes, a summary and details.
    `warn`: not a failure here (e.g. a rehearsal), but said."""

    topic: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)
    warn: bool = False


@dataclass(frozen=True)
class PreflightReport:
    """What `ceremony preflight` found, section by section; `ok` when every section passes."""

    now: dt.datetime
    host: str
    rehearsal: bool
    sections: list[Section]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sections)

    @property
    def failed(self) -> list[str]:
        return [s.topic for s in self.sections if not s.ok]


def _network(net: NetworkState, rehearsal: bool) -> Section:
    lo = [i for i in net.interfaces if i.loopback]
    lo_text = ", ".join(i.describe() for i in lo) or "none"
    up = [
        i.name + (" (state unknown)" if i.up is None else "")
        for i in net.interfaces
        if not i.loopback and i.up is not False
    ]
    routed: dict[str, int] = {}
    for r in net.routes:
        if r.device != "lo":
            routed[r.device] = routed.get(r.device, 0) + 1
    if not up and not routed:
        down = [i.name for i in net.interfaces if not i.loopback]
        tail = f"; down: {', '.join(down)}" if down else ""
        return Section("Network", True, f"air-gapped: only loopback ({lo_text}){tail}; no route")
    details = [f"up: {', '.join(up) or 'none'}"]
    details += [f"routes via {dev}: {n}" for dev, n in sorted(routed.items())]
    if rehearsal:
        return Section("Network", True, "NOT air-gapped (allowed: --rehearsal)", details, True)
    return Section("Network", False, "NOT air-gapped: disconnect every interface", details)


def _clock(now: dt.datetime, loaded: Loaded | None, recorded: list[dt.datetime]) -> Section:
    problems: list[str] = []
    facts: list[str] = []
    floor = max(c.not_valid_before_utc for c in load_pinned_roots())
    if now < floor:
        problems.append(
            f"before {floor:%Y-%m-%d}, when a certificate bundled in this tool was made"
        )
    if recorded and now < max(recorded):
        problems.append(f"before the directory's last record ({max(recorded):%Y-%m-%d %H:%M} UTC)")
    if loaded is not None:
        prev = loaded.previous_root
        if prev is not None:
            expires = prev.expires
            days = loaded.plan.policy.max_expiry_days.get("root", 731)
            earliest = expires - dt.timedelta(days=days)
            facts.append(f"previous root v{prev.version} expires {expires:%Y-%m-%d}")
            if now > expires:
                problems.append(f"after the previous root's expiry ({expires:%Y-%m-%d})")
            elif now < earliest:
                problems.append(
                    f"before {earliest:%Y-%m-%d}, the earliest the previous root can have been "
                    f"signed (its expiry minus policy.max_expiry.root, {days} days)"
                )
        date = loaded.plan.root.expires.date
        if date is not None:
            facts.append(f"plan root.expires {date}")
            if now.date() >= date:
                problems.append(f"on or after the plan's root.expires date ({date})")
    else:
        facts.append("no ceremony directory given: checked against the tool only")
    summary = f"{now:%Y-%m-%d %H:%M} UTC: " + ("SUSPICIOUS" if problems else "plausible")
    return Section("Clock", not problems, summary, [*problems, *facts])


def _installed(rehearsal: bool) -> tuple[Section, Section, list[str]]:
    dists = closure(TOOL)
    results = [check_installed(d) for d in dists]
    problems: list[str] = []
    soft: list[str] = []
    for r in results:
        if not r.has_record:
            soft.append(f"{r.name} {r.version} has no RECORD (not installed from a wheel)")
        elif r.editable:
            soft.append(f"{r.name} {r.version} is an editable (development) install")
        problems += [f"{r.name}: {f} differs from its RECORD" for f in r.bad]
    if not results or results[0].name.lower() != TOOL:
        problems.append(f"{TOOL} is not installed as a package here")
    files = sum(r.checked for r in results)
    count = f"{TOOL} and {len(results) - 1} dependencies, {files:,} files"
    warn = bool(soft) and rehearsal and not problems
    ok = not problems and (not soft or rehearsal)
    if problems or soft:
        summary = "FAILED" if not ok else "not from a wheel (allowed: --rehearsal)"
        sec = Section("Installed", ok, f"{summary}: {count}", [*problems, *soft], warn)
    else:
        sec = Section("Installed", True, f"match their RECORD: {count}")
    versions = {r.name.lower(): r.version for r in results}
    named = [f"{n} {versions[n]}" for n in NAMED if n in versions]
    others = len(results) - 1 - len(named)
    ver = Section(
        "Versions",
        True,
        f"{TOOL} {__version__}, Python {platform.python_version()}",
        [", ".join(named) + (f" and {others} more" if others > 0 else "")],
    )
    return sec, ver, [d.metadata["Name"] for d in dists]


def _wheelhouse(folder: Path | None) -> Section | None:
    if folder is None:
        return None
    state = check_wheelhouse(folder, closure(TOOL))
    if state.problems:
        return Section("Wheelhouse", False, f"FAILED: {folder}", state.problems)
    return Section(
        "Wheelhouse",
        True,
        f"{state.checked} files match SHA256SUMS; the installed wheels are those",
    )


def _tokens(
    list_tokens: Callable[[str], list[TokenListing]], modules: list[tuple[str, str]]
) -> Section:
    details: list[str] = []
    for what, path in modules:
        try:
            found = list_tokens(path)
        except CeremonyError as exc:
            details.append(f"{what} ({path}): cannot list: {exc.message}")
            continue
        tokens = [
            f"'{t.token.label}' serial {t.token.serial}" for t in found if t.token.initialized
        ]
        shown = ", ".join(tokens[:3]) + (f" and {len(tokens) - 3} more" if len(tokens) > 3 else "")
        count = f"{len(tokens)} token{'s' if len(tokens) != 1 else ''}: " if tokens else ""
        details.append(f"{what}: {count}{shown or 'no token'}")
    summary = f"{len(modules)} module{'s' if len(modules) != 1 else ''} found"
    return Section("PKCS#11", True, summary, details or ["none of the known modules is installed"])


def preflight(
    now: dt.datetime,
    *,
    rehearsal: bool,
    directory: CeremonyDir | None = None,
    wheelhouse: Path | None = None,
    modules: list[tuple[str, str]] | None = None,
    list_tokens: Callable[[str], list[TokenListing]] | None = None,
) -> PreflightReport:
    """Check this machine before a ceremony (`ceremony preflight`).

    Args:
        now: the clock to judge (timezone-aware UTC).
        rehearsal: a practice run: a network and a development install are said, not failed.
        directory: the ceremony directory, to judge the clock against its previous root, its
            plan and its records; None: against the tool's bundled certificates only.
        wheelhouse: the wheelhouse the tool was installed from (its SHA256SUMS is checked,
            and that the installed wheels are those).
        modules: (what, path) of the PKCS#11 modules to list (default: the known ones found).
        list_tokens: lists the tokens of a module (`tokens.select.list_tokens`, no login).

    Returns:
        A `PreflightReport`; a failed check is reported, not raised (the CLI exits 1).

    Raises:
        PlanError or StoreError (exit 2): the ceremony directory's plan or previous root
            cannot be read.
    """
    loaded = load(directory, now, enforce=False) if directory is not None else None
    recorded: list[dt.datetime] = []
    if directory is not None:
        for e in read_entries(directory.root):
            try:
                recorded.append(dt.datetime.fromisoformat(str(e.get("time", ""))))
            except ValueError:
                continue
    installed, versions, _names = _installed(rehearsal)
    sections = [_network(network_state(), rehearsal), _clock(now, loaded, recorded), installed]
    wh = _wheelhouse(wheelhouse)
    if wh is not None:
        sections.append(wh)
    sections.append(versions)
    if list_tokens is not None:
        sections.append(_tokens(list_tokens, modules or []))
    return PreflightReport(now, platform.node() or os.uname().nodename, rehearsal, sections)
