"""Commands on a ceremony directory: init, validate, enroll, keygen, draft, show, sign,
status, merge, export."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ceremony import digest as digests
from ceremony.cli import guarded, recorded, ui
from ceremony.clock import now_utc as now
from ceremony.errors import PlanError

if TYPE_CHECKING:  # the service layer (python-tuf, securesystemslib) loads when a command runs
    from ceremony import service
    from ceremony.review import RoleLine
    from ceremony.service import DraftView, RoleReport

DIR_ARG = typer.Argument(..., help="The ceremony directory.", show_default=False)
ROLE_ARG = typer.Argument(
    "root", help="The role: root (default), targets, or a delegated role of the plan (bins)."
)


def register(app: typer.Typer) -> None:
    for fn in (init, validate, enroll, keygen, draft, show, sign, status, merge, export):
        app.command(name=fn.__name__)(fn)


# --- init -------------------------------------------------------------------------------


def init(
    directory: Path = DIR_ARG,
    previous_root: Path | None = typer.Option(
        None, "--previous-root", help="The trusted previous root.json, for a rotation."
    ),
    previous_ceremony: Path | None = typer.Option(
        None,
        "--previous-ceremony",
        help="The ceremony directory that produced the previous root: key names, holders and token URIs are carried over.",
    ),
) -> None:
    """Create a new ceremony directory with a commented plan template."""
    from ceremony import service

    with guarded():
        from ceremony import transcript

        entry = transcript.Entry(
            "init", {"previous_root": str(previous_root) if previous_root else None}
        )
        res = service.init(
            directory, previous_root, now(), entry, previous_ceremony=previous_ceremony
        )
        transcript.append(res.path.absolute(), entry, "ok", 0)
        out = ui.console()
        out.print(f"Created the ceremony directory {res.path}.")
        if res.previous_copy:
            out.print(
                f"The trusted previous root was copied to {res.previous_copy} and pinned by its SHA-256."
            )
            out.print(f"Its keys were enrolled as: {', '.join(res.enrolled)}.")
        out.print(
            f"Next: edit {res.path / 'ceremony.yaml'} (holders, roles, thresholds, expiry), have it "
            f"reviewed, then run `ceremony validate {res.path}`."
        )


# --- validate ---------------------------------------------------------------------------


def validate(directory: Path = DIR_ARG) -> None:
    """Check the whole plan with no token attached."""
    from ceremony import service
    from ceremony.checks import ERROR, WARNING

    with guarded(), recorded(directory, "validate", {}, write=False) as (cdir, entry):
        loaded = service.load(cdir, now(), entry=entry, enforce=False)
        out = ui.console()
        plan = loaded.plan
        out.print(
            f"Plan for [bold]{plan.repository}[/bold] ({cdir.rel(cdir.plan_path)}): schema OK."
        )
        if plan.rehearsal:
            ui.rehearsal_banner()
        for r in loaded.checks:
            colour = {"error": "red", "warning": "yellow"}.get(r.level, "green")
            out.print(f"  [{colour}]{r.level.upper():7}[/{colour}] {r.line()}")
        bad = [r for r in loaded.checks if r.level == ERROR]
        warn = [r for r in loaded.checks if r.level == WARNING]
        if bad:
            raise PlanError(
                f"{len(bad)} check{'s' if len(bad) != 1 else ''} failed (listed above as ERROR).",
                hint="Fix ceremony.yaml or enrol the missing keys, then validate again.",
            )
        missing = [r for r in warn if r.id == "CER-KEY-NOT-ENROLLED"]
        nxt = "enrol the keys listed above" if missing else f"`ceremony draft {cdir.root}`"
        out.print(
            f"The plan passes every check ({len(warn)} warning{'s' if len(warn) != 1 else ''}). Next: {nxt}."
        )


# --- enroll / keygen --------------------------------------------------------------------


def enroll(
    directory: Path = DIR_ARG,
    name: str = typer.Argument(..., help="The key's name in the plan, e.g. root-alice."),
    uri: str | None = typer.Option(
        None, "--uri", help="pkcs11: URI of the key on a token (with the token serial)."
    ),
    module: str | None = typer.Option(
        None, "--module", help="PKCS#11 module path (default: from the URI or the known list)."
    ),
    public_key: Path | None = typer.Option(
        None,
        "--public-key",
        help="A PEM or TUF key JSON file, for a key not on a token here (e.g. the online key).",
    ),
    allow_imported_key: bool = typer.Option(
        False,
        "--allow-imported-key",
        help="Accept a token key that may have been imported or is extractable (recorded everywhere).",
    ),
    attest: bool = typer.Option(
        False, "--attest", help="Read and verify the YubiKey PIV attestation of the key."
    ),
    attestation: Path | None = typer.Option(
        None,
        "--attestation",
        help="The key's attestation certificate file (instead of reading it from the token).",
    ),
    attestation_intermediate: Path | None = typer.Option(
        None, "--attestation-intermediate", help="The device (slot f9) certificate file."
    ),
    attestation_chain: list[Path] = typer.Option(
        [],
        "--attestation-chain",
        help="Intermediate CA certificates between the device certificate and the trusted root "
        "(firmware 5.7.4+; repeatable; used to build the path, never trusted by themselves).",
    ),
    attestation_ca: list[Path] = typer.Option(
        [], "--attestation-ca", help="Extra trusted attestation CA certificate (repeatable)."
    ),
) -> None:
    """Record a key's PUBLIC part (read from a token, or from a file) under its plan name."""
    from ceremony import service
    from ceremony.cli.devices import key_reader

    with (
        guarded(),
        recorded(
            directory,
            "enroll",
            {"name": name, "uri": uri, "public_key": str(public_key) if public_key else None},
        ) as (cdir, entry),
    ):
        if uri is None and public_key is None:
            from ceremony.plan.parse import parse_plan

            spec = parse_plan(
                cdir.read_bytes("ceremony.yaml").decode("utf-8"), "ceremony.yaml"
            ).keys.get(name)
            if spec is not None and spec.uri:
                uri = spec.uri
                ui.console().print(f"Using the URI the plan gives for '{name}': {uri}")
        if (uri is None) == (public_key is None):
            from ceremony.errors import InputError

            raise InputError(
                "give exactly one of --uri (a key on a token; default: keys.NAME.uri in the "
                "plan) or --public-key FILE."
            )
        if public_key is not None:
            rec, new = service.enroll_public_key(cdir, name, public_key, now(), entry)
        else:
            assert uri is not None
            read = key_reader(
                uri,
                module,
                allow_imported=allow_imported_key,
                purpose=f"read the public key of {name}",
            )
            if attest or attestation is not None:
                from ceremony.cli.attest import with_attestation

                read = with_attestation(
                    read,
                    uri,
                    module,
                    attestation,
                    attestation_intermediate,
                    attestation_ca,
                    attestation_chain,
                )
            rec, new = service.enroll_token_key(
                cdir, name, read, now(), entry, allow_imported=allow_imported_key
            )
        _print_enrolled(rec, new)


def _print_enrolled(rec: Any, new: bool) -> None:
    out = ui.console()
    if rec.is_software:
        ui.rehearsal_banner()
    verb = "Enrolled" if new else "Already enrolled (same key, nothing changed):"
    out.print(f"{verb} '{rec.name}': {rec.key.scheme}, keyid {rec.keyid[:16]}…, {rec.device()}.")
    if rec.uri:
        out.print(f"  URI: {rec.uri}")
    if rec.attestation:
        a = rec.attestation
        out.print(
            f"  Attested: YubiKey serial {a.get('serial')}, firmware {a.get('firmware')}, "
            f"PIN policy {a.get('pin_policy')}, touch policy {a.get('touch_policy')}."
        )
        from ceremony.attestation import AttestationInfo, advisories
        from ceremony.keys import key_type_of

        for advisory in advisories(AttestationInfo.from_dict(a), key_type_of(rec.key)):
            out.print(
                f"  [yellow]WARNING:[/yellow] {advisory}. Accepted only because the plan allows "
                "vulnerable firmware."
            )
    if rec.allow_imported:
        out.print(
            "  [yellow]Accepted with --allow-imported-key: the token does not prove on-device generation.[/yellow]"
        )
    out.print("Next: enrol the other keys, then `ceremony validate DIR` and `ceremony draft DIR`.")


def keygen(
    directory: Path = DIR_ARG,
    name: str = typer.Argument(..., help="The key's name in the plan."),
    uri: str = typer.Option(
        ...,
        "--uri",
        help="pkcs11: URI of the token (serial or label) and the new key's label (object=).",
    ),
    key_type: str = typer.Option(
        ..., "--type", help="ed25519, ecdsa-p256, ecdsa-p384 or rsa-3072."
    ),
    module: str | None = typer.Option(None, "--module", help="PKCS#11 module path."),
    attest: bool = typer.Option(
        False,
        "--attest",
        help="Refused with the reason: YubiKey keys are made with ykman, then `enroll --attest`.",
    ),
) -> None:
    """Generate a key pair ON the token (non-extractable, sensitive, sign-only) and enrol it."""
    from ceremony import service

    with (
        guarded(),
        recorded(directory, "keygen", {"name": name, "uri": uri, "type": key_type}) as (
            cdir,
            entry,
        ),
    ):
        from ceremony.errors import InputError
        from ceremony.keys import KEY_TYPES
        from ceremony.service import TokenKeyRead

        if key_type not in KEY_TYPES:
            raise InputError(f"--type {key_type} is not one of {', '.join(KEY_TYPES)}.")
        loaded = service.load(cdir, now(), enforce=False)
        if name not in loaded.plan.keys:
            raise InputError(f"'{name}' is not a key in the plan; add it under keys: first.")
        if name in loaded.keys:
            raise InputError(f"'{name}' is already enrolled; keygen never replaces a key.")
        planned = loaded.plan.keys[name].type
        if planned is not None and planned != key_type:
            raise InputError(
                f"the plan says keys.{name}.type: {planned}, but --type is {key_type}. Nothing "
                "was generated: fix the command (or the reviewed plan) first."
            )
        if attest:
            raise InputError(
                "--attest after keygen needs a YubiKey, and YubiKey PIV keys are generated with "
                "ykman, not through PKCS#11 (runbooks/token-preparation.md); HSMs here give no "
                "PIV attestation. Nothing was generated. Generate the YubiKey key with ykman, "
                "then `ceremony enroll DIR NAME --uri URI --attest`."
            )
        from ceremony.tokens import software_rehearsal as software

        if software.is_software_uri(uri):
            label = software.SoftwareUri.parse(uri).object
        else:
            from ceremony.tokens.uri import Pkcs11Uri

            label = Pkcs11Uri.parse(uri).object or name  # the URI's object= names the label

        def generate() -> TokenKeyRead:
            from ceremony import tokens
            from ceremony.cli.devices import token_dict, token_key_read
            from ceremony.tokens import software_rehearsal as software

            if software.is_software_uri(uri):
                su = software.SoftwareUri.parse(uri)
                tok = software.token_for(su)
                pin = tok.login(ui.read_pin, f"generate {name}")
                key = tok.generate(su.object, key_type, pin)
                return TokenKeyRead(key, uri, token_dict(tok.info()), None, None, True)
            ki = tokens.generate_key(
                uri, module=module, key_type=key_type, label=label, pin_provider=ui.read_pin
            )
            return token_key_read(ki)

        rec, new = service.enroll_token_key(
            cdir, name, generate, now(), entry, allow_imported=False
        )
        ui.console().print(f"Generated on the token: {name}.")
        _print_enrolled(rec, new)


# --- draft / show -----------------------------------------------------------------------


def draft(directory: Path = DIR_ARG, role: str = ROLE_ARG) -> None:
    """Build the unsigned draft of ROLE from the plan, enrolled keys and previous root."""
    from ceremony import service

    with guarded(), recorded(directory, "draft", {"role": role}) as (cdir, entry):
        res = service.draft(cdir, role, now(), entry)
        out = ui.console()
        if res.unchanged:
            out.print(f"The {role} draft is already up to date with the plan; nothing changed.")
        else:
            out.print(
                f"Drafted {role} version {res.draft.metadata.signed.version} ({cdir.rel(cdir.draft_path(role))})."
            )
            if res.previous_digest:
                out.print(
                    f"[yellow]This replaces the earlier draft {res.previous_digest[:16]}…: its "
                    f"{res.stale_signatures} signature(s) are now STALE and no longer count.[/yellow]"
                )
        # The draft just made (or found up to date): no need to read and re-check it again.
        _render_view(service.view(service.load(cdir, now()), res.draft))
        out.print(
            f"Next: each key holder checks this with `ceremony show {cdir.root} {role}` and signs."
        )


def show(
    directory: Path = DIR_ARG,
    role: str = ROLE_ARG,
    full: bool = typer.Option(
        False, "--full", help="List every delegated role (16,384 lines for PEP 458 bins)."
    ),
) -> None:
    """What a key holder checks before signing: summary, diff, digest, signatures so far."""
    from ceremony import service

    with guarded(), recorded(directory, "show", {"role": role}, write=False) as (cdir, _entry):
        _render_view(service.show(cdir, role, now(), full=full))


def _render_view(v: DraftView) -> None:
    out = ui.console()
    if v.rehearsal:
        ui.rehearsal_banner()
    out.rule(f"{v.role} version {v.version} for {v.repository}")
    out.print(
        f"Version {v.version}, expires {v.expires:%Y-%m-%d %H:%M} UTC"
        + (
            f", consistent_snapshot {str(v.consistent_snapshot).lower()}"
            if v.consistent_snapshot is not None
            else ""
        )
    )
    rows: list[list[Any]] = []
    for rl in v.roles:
        rows += _role_rows(rl)
    out.print(
        ui.table(
            "Roles and keys",
            ["role", "threshold", "key", "holder", "type", "keyid", "device"],
            rows,
        )
    )
    if v.attestations:
        for name, a in sorted(v.attestations.items()):
            out.print(
                f"  attested {name}: YubiKey serial {a.get('serial')}, firmware {a.get('firmware')}, "
                f"PIN {a.get('pin_policy')}, touch {a.get('touch_policy')}"
            )
    if v.details or v.problems:
        out.print("[bold]Delegations:[/bold]")
        for line in v.details:
            out.print(f"  - {line}", markup=False)
        for line in v.problems:
            out.print(f"  [red]PROBLEM[/red] {line}")
    if v.full is not None:
        out.print(f"[bold]Every delegated role ({len(v.full):,}):[/bold]")
        out.file.write("".join(f"  {line}\n" for line in v.full))  # fast: no rich rendering
        out.file.flush()
    if v.role == "root":
        out.print("[bold]Changes from the previous root:[/bold]")
    for c in v.changes:
        out.print(f"  - {c.text}")
    for s in v.swaps:
        out.print(f"  [cyan]! {s}[/cyan]")
    for w in v.warnings:
        out.print(f"  [yellow]warning[/yellow] {w.line()}")
    for line in ui.digest_block(v.digest):
        out.print(line)
    out.print("[bold]Signatures so far:[/bold]")
    ui.render_status_block(v.status)
    out.print(
        "Check before signing: the version, expiry, keys and holders above are what was agreed, and "
        "the digest matches the one read out by the administrator and printed on the ceremony record."
    )


def _role_rows(rl: RoleLine) -> list[list[Any]]:
    rows = []
    for i, k in enumerate(rl.keys):
        device = k.device + (" (REHEARSAL)" if k.rehearsal and "REHEARSAL" not in k.device else "")
        status = "" if k.status == "active" else f" [{k.status}]"
        rows.append(
            [
                rl.role if i == 0 else "",
                f"{rl.threshold} of {len(rl.keys)}" if i == 0 else "",
                k.name + status,
                k.holder,
                k.key_type,
                k.keyid[:8],
                device,
            ]
        )
    return rows


# --- sign -------------------------------------------------------------------------------


def sign(
    directory: Path = DIR_ARG,
    role: str = ROLE_ARG,
    key: str = typer.Option(..., "--key", help="The name of your key in the plan."),
    uri: str | None = typer.Option(
        None,
        "--uri",
        help="pkcs11: URI of the key (default: the one recorded at enrolment, else found by public key).",
    ),
    module: str | None = typer.Option(None, "--module", help="PKCS#11 module path."),
    allow_imported_key: bool = typer.Option(
        False,
        "--allow-imported-key",
        help="Accept a token key that may have been imported (recorded).",
    ),
) -> None:
    """Check the draft, confirm with a typed Yes, enter the PIN, sign on the token."""
    from ceremony import service
    from ceremony.cli.devices import signer_factory

    with (
        guarded(),
        recorded(directory, "sign", {"role": role, "key": key, "uri": uri}) as (cdir, entry),
    ):

        def confirm(v: DraftView) -> bool:
            _render_view(v)
            return ui.confirm_yes(f"Sign {v.role} version {v.version} with '{key}'?")

        outcome = service.sign(
            cdir,
            role,
            key,
            signer_factory(
                uri,
                module,
                allow_imported=allow_imported_key,
            ),
            confirm,
            now(),
            entry,
        )
        out = ui.console()
        if outcome.already_signed:
            out.print(
                f"'{key}' has already signed this draft ({outcome.record.signed_at}); nothing to do."
            )
        else:
            out.print(
                f"[green]Signed[/green] {role} as '{key}' ({outcome.record.holder}); the signature was "
                f"verified against the enrolled public key and saved as "
                f"{cdir.rel(cdir.signature_path(role, outcome.record.keyid))}."
            )
        out.print("[bold]Status now:[/bold]")
        ui.render_status_block(outcome.status)
        out.print(f"Next: {service.next_step(cdir, role, outcome.status, False)}.")


# --- status -----------------------------------------------------------------------------


def status(
    directory: Path = DIR_ARG,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Per role: digest, each threshold with who signed and who is missing, and the next step."""
    from ceremony import service

    with guarded(), recorded(directory, "status", {}, write=False) as (cdir, _entry):
        loaded, reports = service.status(cdir, now())
        if as_json:
            print(json.dumps(status_json(reports, loaded), indent=2, sort_keys=True))
            return
        out = ui.console()
        if any(k.is_software for k in loaded.keys.values()):
            ui.rehearsal_banner()
        out.print(f"Ceremony for [bold]{loaded.plan.repository}[/bold] in {cdir.root}")
        for r in reports:
            if r.draft is None or r.status is None:
                out.print(f"[bold]{r.role}[/bold]: not drafted yet. Next: {r.next_step}.")
                continue
            state = (
                "[green]COMPLETE[/green]"
                if r.status.complete
                else "[yellow]collecting signatures[/yellow]"
            )
            out.print(f"[bold]{r.role}[/bold] version {r.draft.version}: {state}")
            out.print(f"  digest {digests.grouped_hex(r.draft.digest)}")
            out.print(f"  words  {' '.join(digests.pgp_words(r.draft.digest)[:8])} …")
            if r.draft_outdated:
                out.print("  [red]the plan or keys changed since this draft was made[/red]")
            ui.render_status_block(r.status)
            out.print(f"  Next: {r.next_step}.")
        for w in status_warnings(loaded):
            out.print(f"[yellow]warning[/yellow] {w}")
        from ceremony.transcript import verify_hash_chain

        for problem in verify_hash_chain(cdir.root):
            out.print(f"[red]transcript:[/red] {problem}")


def status_warnings(loaded: service.Loaded) -> list[str]:
    """Deliberate exceptions that every status screen repeats (e.g. --allow-imported-key)."""
    ids = {"CER-KEY-IMPORTED", "CER-SOFTWARE-KEY", "CER-KEY-SOFTHSM", "CER-ATTESTATION-ADVISORY"}
    return [c.line() for c in loaded.checks if c.id in ids]


def status_json(reports: list[RoleReport], loaded: service.Loaded) -> dict[str, Any]:
    roles: dict[str, Any] = {}
    for r in reports:
        if r.draft is None or r.status is None:
            roles[r.role] = {
                "digest": None,
                "complete": False,
                "thresholds": [],
                "next_step": r.next_step,
            }
            continue
        roles[r.role] = {
            "digest": r.draft.digest,
            "version": r.draft.version,
            "complete": r.status.complete and not r.draft_outdated,
            "outdated": r.draft_outdated,
            "thresholds": [
                {
                    "of": t.of,
                    "label": t.label,
                    "threshold": t.threshold,
                    "signed": t.signed,
                    "missing": t.missing,
                    "holders": dict(t.holders),
                    "notes": dict(t.notes),
                }
                for t in r.status.thresholds
            ],
            "stale": [rj.record.file for rj in r.status.rejected if rj.reason == "stale"],
            "invalid": [
                f"{rj.record.file}: {rj.detail}" for rj in r.status.rejected if rj.reason != "stale"
            ],
            "next_step": r.next_step,
        }
    from ceremony.transcript import verify_hash_chain

    return {
        "warnings": status_warnings(loaded),
        "transcript_problems": verify_hash_chain(loaded.cdir.root),
        "repository": loaded.plan.repository,
        "rehearsal": any(k.is_software for k in loaded.keys.values()),
        "roles": roles,
    }


# --- merge / export ---------------------------------------------------------------------


def merge(
    directory: Path = DIR_ARG,
    others: list[Path] = typer.Argument(
        ..., help="Other copies of this ceremony (e.g. other machines' USB sticks)."
    ),
) -> None:
    """Bring signature files from other copies into DIR, verifying each; never overwrite one."""
    from ceremony import service

    with (
        guarded(),
        recorded(directory, "merge", {"others": [str(o) for o in others]}) as (cdir, entry),
    ):
        rep = service.merge(cdir, others, now(), entry)
        out = ui.console()
        out.print(
            f"Merge into {cdir.root}: {len(rep.added)} added, {len(rep.skipped)} skipped, {len(rep.refused)} refused."
        )
        for line in rep.added:
            out.print(f"  [green]added[/green]   {line}")
        for line in rep.skipped:
            out.print(f"  skipped {line}")
        for line in rep.refused:
            out.print(f"  [red]refused[/red] {line}")
        out.print(f"Next: `ceremony status {cdir.root}`.")


def export(
    directory: Path = DIR_ARG,
    out_dir: Path | None = typer.Option(
        None, "--out", help="Where to write (default: DIR/published). Never overwrites."
    ),
    out_of_band: bool = typer.Option(
        False,
        "--out-of-band",
        help="Rotation whose previous threshold cannot be met: check the new root by its own "
        "threshold only; clients must receive it directly.",
    ),
    test_only_unverified: bool = typer.Option(
        False,
        "--test-only-unverified",
        hidden=True,
        help="Client test suites only (CEREMONY_TEST_MODE=1).",
    ),
) -> None:
    """Write the signed metadata, checked as a client would, with SHA256SUMS and a record."""
    from ceremony import service

    args = {"out": str(out_dir) if out_dir else None, "out_of_band": out_of_band}
    if test_only_unverified:
        args["test_only_unverified"] = True
    with guarded(), recorded(directory, "export", args) as (cdir, entry):
        if test_only_unverified and os.environ.get("CEREMONY_TEST_MODE") != "1":
            from ceremony.errors import InputError

            raise InputError(
                "--test-only-unverified writes metadata that clients must reject; it exists only "
                "for client test suites (CEREMONY_TEST_MODE=1)."
            )
        res = service.export(
            cdir,
            out_dir,
            now(),
            entry,
            out_of_band=out_of_band,
            unverified_for_tests=test_only_unverified,
        )
        out = ui.console()
        loaded = service.load(cdir, now(), enforce=False)
        if any(k.is_software for k in loaded.keys.values()):
            ui.rehearsal_banner()
        out.print(
            f"Exported to {res.out_dir} (each file verified as a TUF client would, before writing):"
        )
        for name, sha in res.files.items():
            size = (res.out_dir / name).stat().st_size
            out.print(f"  {sha}  {name}  ({size:,} bytes)")
        if out_of_band:
            out.print(f"[red bold]OUT OF BAND:[/red bold] {service.out_of_band_text(res.roles)}")
        out.print(
            "Next: copy these files to the repository. Publish the new root BEFORE any online "
            "metadata (snapshot, timestamp) that depends on it; keep every N.root.json forever."
        )
