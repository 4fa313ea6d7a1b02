"""`ceremony rehearse`: a complete practice ceremony, step by step, as holders see it.

Two ceremonies with three holders (Alice, Bob, Carol; threshold 2):
1. the first root: keys generated on each holder's token, the plan validated, the root
   drafted, Alice signing in one session, Bob in another on a COPY of the directory (as
   on a second machine), the copies merged, the root exported and verified;
2. a rotation after Carol's key is lost: Dave's new key replaces it; the new root is signed
   by a threshold of the previous root's keys AND of its own; exported; the chain verified.

Every step runs the real `ceremony` command in its own process, so what is printed is what a
holder sees. The tokens are the built-in SOFTWARE rehearsal token (default) or SoftHSM2
(`--softhsm`). PINs are random, typed by the rehearsal through standard input, never shown.
"""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from ceremony.cli import guarded, ui
from ceremony.clock import now_utc as now
from ceremony.errors import InputError, RehearsalFailed, TokenError

HOLDERS = {
    "alice": ("Alice Example", "ed25519"),
    "bob": ("Bob Example", "ecdsa-p256"),
    "carol": ("Carol Example", "rsa-3072"),
    "dave": ("Dave Example", "ecdsa-p256"),
}


PRONOUN = {"alice": "her", "bob": "his", "carol": "her", "dave": "his"}

KEY_HOLDERS = {
    "root-alice": "Alice Example",
    "root-bob": "Bob Example",
    "root-carol": "Carol Example",
    "targets-alice": "Alice Example",
    "online": "Online signing service",
}


def _roles(root_keys: list[str]) -> dict[str, tuple[int, list[str]]]:
    """Root 2 of 3 with these keys; targets Alice's; snapshot/timestamp the online key."""
    return {
        "root": (2, root_keys),
        "targets": (1, ["targets-alice"]),
        "snapshot": (1, ["online"]),
        "timestamp": (1, ["online"]),
    }


@dataclass
class Rig:
    base: Path
    softhsm: bool
    env: dict[str, str]
    pins: dict[str, str]
    module: str | None = None

    def uri(self, holder: str, key_name: str) -> str:
        if self.softhsm:
            return f"pkcs11:token=rehearsal-{holder};object={key_name}"
        from ceremony.tokens.software_rehearsal import SoftwareUri

        return str(SoftwareUri(self.base / "software-tokens", f"rehearsal-{holder}", key_name))


def register(app: typer.Typer) -> None:
    app.command(name="rehearse")(rehearse)


def rehearse(
    directory: Path | None = typer.Argument(
        None,
        metavar="DIR",
        help="Where to rehearse (a new folder; default ./ceremony-rehearsal-TIME).",
    ),
    softhsm: bool = typer.Option(
        False, "--softhsm", help="Use SoftHSM2 tokens instead of the built-in software token."
    ),
) -> None:
    """Run a complete 3-holder, threshold-2 rehearsal: a first root, then a key rotation."""
    with guarded():
        base = directory or Path(f"ceremony-rehearsal-{now():%Y%m%d-%H%M%S}")
        if base.exists() and any(base.iterdir()):
            raise InputError(f"{base} exists and is not empty; the rehearsal needs a new folder.")
        base.mkdir(parents=True, exist_ok=True)
        base = base.absolute()
        rig = _setup(base, softhsm)
        out = ui.console()
        ui.rehearsal_banner()
        out.print(
            f"Rehearsal in {base} on the {'SoftHSM2' if softhsm else 'built-in software'} token."
        )
        first = _first_root(rig)
        second = _rotation(rig, first)
        _step(
            rig,
            "Anyone, anywhere: verify the published chain as a client would",
            [
                "verify",
                str(first / "published" / "1.root.json"),
                str(second / "published" / "2.root.json"),
            ],
        )
        out.rule("Rehearsal complete")
        out.print(
            f"Published roots: {first / 'published' / '1.root.json'} and {second / 'published' / '2.root.json'}.\n"
            "They are signed with REHEARSAL keys: practice only, never publish them."
        )


def _setup(base: Path, softhsm: bool) -> Rig:
    env = dict(os.environ)
    env.pop("CEREMONY_DEBUG", None)
    env["COLUMNS"] = "100"
    pins = {h: f"{secrets.randbelow(10**8):08d}" for h in HOLDERS}
    rig = Rig(base, softhsm, env, pins)
    if softhsm:
        from ceremony.tokens import softhsm as softhsm2

        if softhsm2.missing() is not None:
            raise TokenError(
                "--softhsm needs SoftHSM2 (softhsm2-util and libsofthsm2.so). Install it "
                "(Debian: apt-get install softhsm2) or rehearse without --softhsm."
            )
        hsm = softhsm2.set_up(base / "softhsm")
        env[softhsm2.CONF_ENV] = str(hsm.conf)
        rig.module = hsm.module
        for holder in HOLDERS:
            so_pin = f"{secrets.randbelow(10**8):08d}"
            hsm.init_token(f"rehearsal-{holder}", pin=pins[holder], so_pin=so_pin, env=env)
    else:
        from ceremony.tokens.software_rehearsal import SoftwareToken

        for holder in HOLDERS:
            SoftwareToken.create(base / "software-tokens", f"rehearsal-{holder}", pins[holder])
    return rig


def _step(
    rig: Rig,
    who: str,
    args: list[str],
    stdin_lines: list[str] | None = None,
    *,
    secret_last: bool = False,
) -> str:
    out = ui.console()
    out.rule(who)
    shown = " ".join(shlex.quote(a) for a in args)
    out.print(f"$ ceremony {shown}")
    if stdin_lines:
        typed = stdin_lines[:-1] if secret_last else stdin_lines
        for line in typed:
            out.print(f"  (types: {line})")
        if secret_last:
            out.print("  (types the PIN: not shown)")
    cmd = [sys.executable, "-m", "ceremony", *args]
    if rig.module and args[0] in ("keygen", "sign", "enroll") and "--public-key" not in args:
        cmd += ["--module", rig.module]  # not for a key file: --module cannot apply there
    proc = subprocess.run(
        cmd,
        input="".join(line + "\n" for line in (stdin_lines or [])),
        capture_output=True,
        text=True,
        env=rig.env,
        cwd=rig.base,
        check=False,
    )
    text = proc.stdout + proc.stderr
    for pin in rig.pins.values():
        text = text.replace(pin, "******")  # belt and braces: the tool never prints PINs
    for line in text.rstrip().splitlines():
        out.print("  " + line, markup=False, highlight=False, soft_wrap=True)
    if proc.returncode != 0:
        raise RehearsalFailed(
            f"`ceremony {shown}` exited with {proc.returncode}; see its output above."
        )
    return text


def _sign(rig: Rig, title: str, d: Path, holder: str) -> None:
    """A holder's signing session: the typed Yes, then the PIN (never shown)."""
    args = ["sign", str(d), "root", "--key", f"root-{holder}"]
    _step(rig, title, args, ["Yes", rig.pins[holder]], secret_last=True)


def _plan(
    repository: str,
    previous: tuple[str, str] | None,
    roles: dict[str, tuple[int, list[str]]],
    keys: dict[str, str],
    statuses: dict[str, str] | None = None,
) -> str:
    from ceremony.plan.template import plan_template

    text = plan_template(
        repository,
        previous,
        None,
        "365d",
        True,
        roles,
        {k: {"holder": h} for k, h in keys.items()},
        statuses,
    )
    return text + "\nrehearsal: true   # software or SoftHSM keys: practice only\n"


def _first_root(rig: Rig) -> Path:
    d = rig.base / "1-first-root"
    _step(rig, "Administrator: create the ceremony directory", ["init", str(d)])
    (d / "ceremony.yaml").write_text(
        _plan(
            "rehearsal.example.org/simple",
            None,
            _roles(["root-alice", "root-bob", "root-carol"]),
            KEY_HOLDERS,
        )
    )
    ui.console().print(
        "(The administrator wrote the reviewed plan: root 2 of 3, Alice, Bob and Carol.)"
    )
    for holder, key_name in (
        ("alice", "root-alice"),
        ("bob", "root-bob"),
        ("carol", "root-carol"),
        ("alice", "targets-alice"),
    ):
        name, ktype = HOLDERS[holder]
        _step(
            rig,
            f"{name}: generate '{key_name}' on {PRONOUN[holder]} token",
            ["keygen", str(d), key_name, "--uri", rig.uri(holder, key_name), "--type", ktype],
            [rig.pins[holder]],
            secret_last=True,
        )
    online = rig.base / "online-key.pub.pem"
    if not online.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        pub = ed25519.Ed25519PrivateKey.generate().public_key()
        online.write_bytes(
            pub.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    _step(
        rig,
        "Administrator: enrol the online key's public part",
        ["enroll", str(d), "online", "--public-key", str(online)],
    )
    _step(rig, "Administrator: validate the plan", ["validate", str(d)])
    _step(rig, "Administrator: draft root version 1", ["draft", str(d)])
    _sign(rig, "Session 1 - Alice signs", d, "alice")
    copy = rig.base / "1-first-root-copy-bob"
    _step(
        rig, "Administrator: copy the directory onto Bob's USB stick", ["copy", str(d), str(copy)]
    )
    ui.console().print(f"(The copy travels on the USB stick to Bob's machine: {copy}.)")
    _sign(rig, "Session 2 - Bob signs on his own machine, days later", copy, "bob")
    _step(rig, "Administrator: merge Bob's copy back", ["merge", str(d), str(copy)])
    _step(rig, "Administrator: status", ["status", str(d)])
    _step(rig, "Administrator: export root version 1", ["export", str(d)])
    return d


def _rotation(rig: Rig, first: Path) -> Path:
    d = rig.base / "2-rotation"
    _step(
        rig,
        "Administrator: start the rotation from the published root",
        [
            "init",
            str(d),
            "--previous-root",
            str(first / "published" / "1.root.json"),
            "--previous-ceremony",
            str(first),
        ],
    )
    from ceremony.services.init import previous_root_pin

    pinned = previous_root_pin(d)
    assert pinned is not None
    (d / "ceremony.yaml").write_text(
        _plan(
            "rehearsal.example.org/simple",
            pinned,
            _roles(["root-alice", "root-bob", "root-dave"]),
            {**KEY_HOLDERS, "root-dave": "Dave Example"},
            {"root-carol": "lost"},
        )
    )
    ui.console().print(
        "(The plan now says: Carol's key is LOST; Dave's new key replaces it; threshold stays 2.)"
    )
    _step(
        rig,
        "Dave: generate his key",
        [
            "keygen",
            str(d),
            "root-dave",
            "--uri",
            rig.uri("dave", "root-dave"),
            "--type",
            HOLDERS["dave"][1],
        ],
        [rig.pins["dave"]],
        secret_last=True,
    )
    _step(rig, "Administrator: validate", ["validate", str(d)])
    _step(rig, "Administrator: draft root version 2", ["draft", str(d)])
    _sign(
        rig,
        "Session 1 - Alice signs (her key counts for the previous AND the new root)",
        d,
        "alice",
    )
    _sign(rig, "Session 2 - Dave signs (new root only)", d, "dave")
    _step(rig, "Administrator: status shows both thresholds", ["status", str(d)])
    _sign(rig, "Session 3 - Bob signs (previous and new root)", d, "bob")
    _step(rig, "Administrator: export root version 2", ["export", str(d)])
    return d
