"""The fuzz targets: every parser of outside input, reached the way a user reaches it.

Each :class:`Target` pairs a Hypothesis strategy (mutations of a VALID input, plus raw bytes)
with a ``run(env, value)`` that feeds the value to the CLI and checks the contract of
``tests/fuzz/harness.py``. ``tests/fuzz/test_fuzz.py`` runs each briefly; ``fuzz/run.py``
runs them for minutes. :func:`build_env` makes the valid material once: a drafted first-root
ceremony on the software rehearsal token, a signed copy of it, a rotation ceremony from a
generated previous root, and a YubiKey-style attestation chain for a software-token key.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import strategies as st
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, Role, Root

from tests.fuzz import strategies as S
from tests.fuzz.harness import Crash, fresh_copy, run_cli

PIN = "fuzz-pin-24680"
HOLDER_TODO = re.compile(r"TODO: holder of key [0-9a-f]*")

FIRST_PLAN = """\
repository: "fuzz.example.org"
root:
  expires: 365d
roles:
  root:      {threshold: 2, keys: [root-a, root-b, root-c]}
  targets:   {threshold: 1, keys: [targets-a]}
  snapshot:  {threshold: 1, keys: [online]}
  timestamp: {threshold: 1, keys: [online]}
keys:
  root-a: {holder: "A"}
  root-b: {holder: "B"}
  root-c: {holder: "C"}
  targets-a: {holder: "A"}
  online: {holder: "Online service"}
rehearsal: true
"""

ATTEST_PLAN = """\
repository: "attestation.fuzz.example.org"
root: {expires: 365d}
roles:
  root:      {threshold: 1, keys: [root-yk]}
  targets:   {threshold: 1, keys: [root-yk]}
  snapshot:  {threshold: 1, keys: [online]}
  timestamp: {threshold: 1, keys: [online]}
keys:
  root-yk: {holder: "Yara", type: ecdsa-p256, require_attestation: true}
  online: {holder: "Online"}
rehearsal: true
"""


@dataclass
class FuzzEnv:
    base: Path
    first: Path  # drafted, unsigned first root; software-token keys; online key enrolled
    enroll_base: Path  # `first` before `online` was enrolled (and before the draft)
    signed_copy: Path  # a copy of `first` in which root-a signed the root draft
    rotation: Path  # init --previous-root of `previous_root`, holders filled (validates)
    previous_root: bytes
    attest_dir: Path  # ATTEST_PLAN, nothing enrolled
    attest_uri: str  # the software-token key root-yk
    attest_files: dict[str, bytes]  # att, device, root: a valid chain for that key (PEM)
    attested: Path  # attest_dir with root-yk enrolled with its attestation
    key_files: dict[str, bytes] = field(default_factory=dict)  # valid --public-key files
    scratch_counter: list[int] = field(default_factory=lambda: [0])

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """A new empty folder for one example, removed afterwards."""
        self.scratch_counter[0] += 1
        d = Path(tempfile.mkdtemp(prefix=f"ex{self.scratch_counter[0]}-", dir=self.base))
        try:
            yield d
        finally:
            shutil.rmtree(d, ignore_errors=True)


def _ok(args: list[Any], stdin: str | None = None) -> str:
    out = run_cli(args, stdin=stdin)
    if out.exit_code != 0:
        raise RuntimeError(f"fuzz set-up failed: ceremony {args}: {out.output}")
    return out.output


def _pem(pub: Any) -> bytes:
    data: bytes = pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def _make_previous_root() -> bytes:
    """A valid root v1: 3 ed25519 root keys (threshold 2), targets and online keys."""
    signers = [CryptoSigner.generate_ed25519() for _ in range(5)]
    root = Root(expires=dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
    for role in root.roles:
        root.roles[role] = Role([], 1)
    for s in signers[:3]:
        root.add_key(s.public_key, "root")
    root.roles["root"].threshold = 2
    root.add_key(signers[3].public_key, "targets")
    root.add_key(signers[4].public_key, "snapshot")
    root.add_key(signers[4].public_key, "timestamp")
    md = Metadata(root)
    for s in signers[:3]:
        md.sign(s, append=True)
    return md.to_bytes()


def build_env(base: Path) -> FuzzEnv:
    from ceremony.tokens.software_rehearsal import SoftwareToken, SoftwareUri
    from tests.unit.test_attestation import make_attestation, make_ca, pem, yubico_exts

    base.mkdir(parents=True, exist_ok=True)
    tokens = base / "tokens"
    SoftwareToken.create(tokens, "t", PIN)

    # First root, keys on the software rehearsal token.
    enroll_base = base / "enroll-base"
    _ok(["init", enroll_base])
    (enroll_base / "ceremony.yaml").write_text(FIRST_PLAN)
    for name in ("root-a", "root-b", "root-c", "targets-a"):
        uri = str(SoftwareUri(tokens, "t", name))
        _ok(["keygen", enroll_base, name, "--uri", uri, "--type", "ed25519"], stdin=PIN + "\n")
    first = fresh_copy(enroll_base, base / "first")
    online = base / "online.pem"
    online.write_bytes(_pem(ed25519.Ed25519PrivateKey.generate().public_key()))
    _ok(["enroll", first, "online", "--public-key", online])
    _ok(["draft", first])
    signed_copy = fresh_copy(first, base / "signed-copy")
    _ok(["sign", signed_copy, "root", "--key", "root-a"], stdin=f"Yes\n{PIN}\n")

    # Rotation from a generated previous root.
    prev = _make_previous_root()
    (base / "1.root.json").write_bytes(prev)
    rotation = base / "rotation"
    _ok(["init", rotation, "--previous-root", base / "1.root.json"])
    plan = rotation / "ceremony.yaml"
    plan.write_text(HOLDER_TODO.sub("Someone", plan.read_text()))
    _ok(["validate", rotation])

    # A YubiKey-style attestation chain (root -> device f9 -> key) for a software-token key.
    attest_dir = base / "attest"
    _ok(["init", attest_dir])
    (attest_dir / "ceremony.yaml").write_text(ATTEST_PLAN)
    tok = SoftwareToken.create(base / "yk-tokens", "yk", PIN)
    sslib = tok.generate("root-yk", "ecdsa-p256", PIN)
    pub = serialization.load_pem_public_key(sslib.keyval["public"].encode())
    ca_root = make_ca("Test Attestation Root 1", key=ec.generate_private_key(ec.SECP384R1()))
    device = make_ca("Yubico PIV Attestation", ca_root)
    att = make_attestation(
        device, SimpleNamespace(public_key=lambda: pub), exts=yubico_exts(firmware=b"\x05\x07\x04")
    )
    attest_files = {"att": pem(att), "device": pem(device[0]), "root": pem(ca_root[0])}
    attest_uri = str(SoftwareUri(base / "yk-tokens", "yk", "root-yk"))
    attested = fresh_copy(attest_dir, base / "attested")
    files = {}
    for k, v in attest_files.items():
        files[k] = base / f"{k}.pem"
        files[k].write_bytes(v)
    _ok(
        [
            "enroll",
            attested,
            "root-yk",
            "--uri",
            attest_uri,
            "--attestation",
            files["att"],
            "--attestation-intermediate",
            files["device"],
            "--attestation-ca",
            files["root"],
        ],
        stdin=PIN + "\n",
    )

    key_files = _key_files()
    return FuzzEnv(
        base=base,
        first=first,
        enroll_base=enroll_base,
        signed_copy=signed_copy,
        rotation=rotation,
        previous_root=prev,
        attest_dir=attest_dir,
        attest_uri=attest_uri,
        attest_files=attest_files,
        attested=attested,
        key_files=key_files,
    )


def _key_files() -> dict[str, bytes]:
    """Valid and near-valid public key files of every shape a holder might hand over."""
    ed = ed25519.Ed25519PrivateKey.generate()
    p256 = ec.generate_private_key(ec.SECP256R1())
    rsa3072 = rsa.generate_private_key(65537, 3072)
    out = {
        "ed25519.pem": _pem(ed.public_key()),
        "p256.pem": _pem(p256.public_key()),
        "rsa3072.pem": _pem(rsa3072.public_key()),
        "p256-private.pem": p256.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "ed25519-openssh.pub": ed.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        "p521.pem": _pem(ec.generate_private_key(ec.SECP521R1()).public_key()),
        "secp256k1.pem": _pem(ec.generate_private_key(ec.SECP256K1()).public_key()),
    }
    for name, pub in (("ed25519", ed.public_key()), ("p256", p256.public_key())):
        key = SSlibKey.from_crypto(pub)
        out[f"{name}.json"] = json.dumps(key.to_dict(), indent=1).encode()
        out[f"{name}-with-keyid.json"] = json.dumps(
            {"keyid": key.keyid, **key.to_dict()}, indent=1
        ).encode()
        out[f"{name}-record.json"] = json.dumps(
            {"keyid": key.keyid, "key": key.to_dict()}, indent=1
        ).encode()
    return out


# --- targets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    what: str
    strategy: Callable[[FuzzEnv], st.SearchStrategy[Any]]
    run: Callable[[FuzzEnv, Any], None]


def _plan_base(env: FuzzEnv, which: str) -> Any:
    d = env.rotation if which == "rotation" else env.first
    return yaml.safe_load((d / "ceremony.yaml").read_text())


def plan_strategy(env: FuzzEnv) -> st.SearchStrategy[tuple[str, bytes]]:
    def from_doc(which: str) -> st.SearchStrategy[tuple[str, bytes]]:
        base = _plan_base(env, which)
        text = (env.rotation if which == "rotation" else env.first).joinpath("ceremony.yaml")
        return st.one_of(
            S.mutated_document(base).map(S.yaml_bytes),
            S.damaged_bytes(text.read_bytes()),
            st.sampled_from(S.YAML_SPECIALS).map(str.encode),
            S.any_bytes(),
        ).map(lambda b: (which, b))

    return st.one_of(from_doc("first"), from_doc("rotation"))


def run_plan(env: FuzzEnv, value: tuple[str, bytes]) -> None:
    """The plan (ceremony.yaml) through `validate`, then `draft` (which writes on success)."""
    which, data = value
    with env.scratch() as tmp:
        d = fresh_copy(env.rotation if which == "rotation" else env.first, tmp / "c")
        (d / "ceremony.yaml").write_bytes(data)
        run_cli(["validate", d], watch=[d])
        run_cli(["draft", d], watch=[d])


def key_file_strategy(env: FuzzEnv) -> st.SearchStrategy[tuple[str, bytes]]:
    names = sorted(env.key_files)
    json_names = [n for n in names if n.endswith(".json")]
    return st.one_of(
        st.sampled_from(names).map(lambda n: (n, env.key_files[n])),
        st.sampled_from(json_names).flatmap(
            lambda n: S.mutated_json_bytes(json.loads(env.key_files[n])).map(lambda b: (n, b))
        ),
        st.sampled_from(names).flatmap(
            lambda n: S.damaged_bytes(env.key_files[n]).map(lambda b: (n, b))
        ),
        S.any_bytes().map(lambda b: ("bytes", b)),
        st.just(("deep.json", b'{"keytype": ' + b"[" * 100000)),
    )


def run_key_file(env: FuzzEnv, value: tuple[str, bytes]) -> None:
    """A public key file through `enroll DIR online --public-key FILE`."""
    _, data = value
    with env.scratch() as tmp:
        d = fresh_copy(env.enroll_base, tmp / "c")
        f = tmp / "key.pub"
        f.write_bytes(data)
        run_cli(["enroll", d, "online", "--public-key", f], watch=[d])


def metadata_strategy(env: FuzzEnv) -> st.SearchStrategy[bytes]:
    base = json.loads(env.previous_root)
    return st.one_of(
        S.mutated_json_bytes(base),
        S.mutated_document(base["signed"]).map(
            lambda s: S.to_json_bytes({**base, "signed": s}, indent=None, ascii_only=True)
        ),
        S.damaged_bytes(env.previous_root),
        S.any_bytes(),
    )


def run_metadata(env: FuzzEnv, data: bytes) -> None:
    """Root metadata through `verify FILE` and `init DIR --previous-root FILE`; when init takes
    it, through the rest of an expiry-only rotation (`validate`, `draft`, `show`), which read
    the previous root again."""
    with env.scratch() as tmp:
        f = tmp / "1.root.json"
        f.write_bytes(data)
        run_cli(["verify", f], watch=[tmp])
        d = tmp / "c"
        if run_cli(["init", d, "--previous-root", f], watch=[tmp]).exit_code == 0:
            plan = d / "ceremony.yaml"
            plan.write_text(HOLDER_TODO.sub("Someone", plan.read_text()))
            for command in ("validate", "draft", "show"):
                run_cli([command, d], watch=[d])
        # A second root given after a good one: the chain walk reads it too.
        good = tmp / "good.root.json"
        good.write_bytes(env.previous_root)
        run_cli(["verify", good, f], watch=[tmp])


def _signature_file(env: FuzzEnv) -> Path:
    return next((env.signed_copy / "signatures" / "root").glob("*.json"))


def merge_strategy(env: FuzzEnv) -> st.SearchStrategy[tuple[str, str, bytes]]:
    sig = _signature_file(env)
    sig_bytes = sig.read_bytes()
    others = sorted(
        str(p.relative_to(env.signed_copy))
        for p in env.signed_copy.rglob("*.json")
        if "signatures" not in p.parts
    )
    name = st.one_of(
        st.just(sig.name),
        st.sampled_from(["x.json", "..json", "ÖÖ.json", "0" * 64 + ".json", sig.name.upper()]),
    )
    content = st.one_of(
        S.mutated_json_bytes(json.loads(sig_bytes)),
        S.damaged_bytes(sig_bytes),
        S.any_bytes(),
    )
    sig_case = st.tuples(st.just("signature"), name, content)
    other_case = st.sampled_from(others).flatmap(
        lambda rel: st.tuples(
            st.just("other"),
            st.just(rel),
            S.mutated_json_bytes(json.loads((env.signed_copy / rel).read_bytes())),
        )
    )
    return st.one_of(sig_case, sig_case, other_case)


def run_merge(env: FuzzEnv, value: tuple[str, str, bytes]) -> None:
    """A copy coming back with a damaged signature file (or other file) through `merge`."""
    kind, name, data = value
    with env.scratch() as tmp:
        d = fresh_copy(env.first, tmp / "c")
        other = fresh_copy(env.signed_copy, tmp / "other")
        if kind == "signature":
            sig = _signature_file(env)
            (other / "signatures" / "root" / sig.name).unlink()
            (other / "signatures" / "root" / name).write_bytes(data)
        else:
            (other / name).write_bytes(data)
        run_cli(["merge", d, other], watch=[d], always_unchanged=[other])


def uri_strategy(env: FuzzEnv) -> st.SearchStrategy[str]:
    good = [
        "pkcs11:token=alice;serial=0123;object=root-alice;type=private",
        "pkcs11:token=a%20b;id=%01%02;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so",
        "pkcs11:model=YubiKey%20YK5;manufacturer=Yubico%20%28www.yubico.com%29;id=%02",
        env.attest_uri,
    ]
    pieces = st.sampled_from(
        [
            "pkcs11:",
            "token=",
            "serial=",
            "object=",
            "id=",
            "type=",
            "slot-id=1",
            "pin-value=1234",
            "library-version=",
            "module-path=",
            "module-name=",
            "x-vendor=1",
            ";",
            "?",
            "&",
            "%",
            "%0",
            "%zz",
            "%00",
            "=",
            "ö",
            "\x00",
            "/",
            "private",
            "1.2.3",
            "99999999999999999999",
        ]
    )
    return st.one_of(
        st.sampled_from(good),
        st.sampled_from(good).flatmap(
            lambda g: S.damaged_bytes(g.encode()).map(lambda b: b.decode("utf-8", "replace"))
        ),
        st.lists(pieces, max_size=12).map("".join),
        st.text(max_size=60).map(lambda t: "pkcs11:" + t),
    )


def run_uri(env: FuzzEnv, uri: str) -> None:
    """A pkcs11: URI parsed directly, then as a plan's keys.NAME.uri through `validate`."""
    from ceremony.errors import CeremonyError
    from ceremony.tokens.uri import Pkcs11Uri

    try:
        parsed = Pkcs11Uri.parse(uri)
    except CeremonyError as exc:
        if not str(exc).strip():
            raise Crash(f"Pkcs11Uri.parse({uri!r}) refused it with an empty message") from None
    except Exception as exc:
        raise Crash(f"Pkcs11Uri.parse({uri!r}) raised {type(exc).__name__}: {exc}") from None
    else:
        text = parsed.to_string()
        try:
            again = Pkcs11Uri.parse(text)
        except Exception as exc:
            raise Crash(
                f"{uri!r} parsed, but its canonical form {text!r} does not: {exc}"
            ) from None
        if again != parsed:
            raise Crash(f"{uri!r} -> {text!r} does not parse back to the same URI")
    with env.scratch() as tmp:
        d = fresh_copy(env.first, tmp / "c")
        plan = yaml.safe_load((d / "ceremony.yaml").read_text())
        plan["keys"]["root-a"]["uri"] = uri
        (d / "ceremony.yaml").write_bytes(S.yaml_bytes(plan))
        run_cli(["validate", d], watch=[d])


def attestation_strategy(env: FuzzEnv) -> st.SearchStrategy[tuple[str, str, bytes]]:
    from cryptography import x509

    def der(p: bytes) -> bytes:
        return x509.load_pem_x509_certificate(p).public_bytes(serialization.Encoding.DER)

    shapes = {f"{k}.pem": v for k, v in env.attest_files.items()}
    shapes |= {f"{k}.der": der(v) for k, v in env.attest_files.items()}
    which = st.sampled_from(["att", "device", "root"])
    content = st.sampled_from(sorted(shapes)).flatmap(
        lambda n: st.one_of(
            S.damaged_bytes(shapes[n]),
            st.just(shapes[n] + shapes[n]),
            st.sampled_from(sorted(shapes)).map(lambda m: shapes[m]),
        )
    )
    enroll = st.tuples(st.just("enroll"), which, st.one_of(content, S.any_bytes()))
    verify = st.tuples(
        st.just("verify"),
        st.sampled_from(["extra-ca", "evidence"]),
        st.one_of(content, S.any_bytes()),
    )
    record = json.loads((env.attested / "keys" / "root-yk.json").read_bytes())
    edited = st.tuples(st.just("verify"), st.just("record"), S.mutated_json_bytes(record))
    return st.one_of(enroll, verify, edited)


def run_attestation(env: FuzzEnv, value: tuple[str, str, bytes]) -> None:
    """Attestation certificates through `enroll --attestation ...` and `attestation verify`."""
    kind, which, data = value
    with env.scratch() as tmp:
        if kind == "enroll":
            d = fresh_copy(env.attest_dir, tmp / "c")
            files = {}
            for k, v in env.attest_files.items():
                files[k] = tmp / f"{k}.pem"
                files[k].write_bytes(data if k == which else v)
            args: list[str | Path] = ["enroll", d, "root-yk", "--uri", env.attest_uri]
            args += ["--attestation", str(files["att"])]
            args += ["--attestation-intermediate", str(files["device"])]
            args += ["--attestation-ca", str(files["root"])]
            run_cli(args, watch=[d], stdin=PIN + "\n")
            return
        d = fresh_copy(env.attested, tmp / "c")
        extra: list[str] = []
        if which == "extra-ca":
            (tmp / "ca.pem").write_bytes(data)
            extra = ["--attestation-ca", str(tmp / "ca.pem")]
        elif which == "evidence":
            (d / "keys" / "root-yk.attestation.pem").write_bytes(data)
        else:
            (d / "keys" / "root-yk.json").write_bytes(data)
        run_cli(["attestation", "verify", d, *extra], watch=[d])


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("plan", "ceremony.yaml through validate and draft", plan_strategy, run_plan),
        Target(
            "key-file", "enroll --public-key (PEM / TUF key JSON)", key_file_strategy, run_key_file
        ),
        Target(
            "metadata",
            "root metadata through verify and init --previous-root",
            metadata_strategy,
            run_metadata,
        ),
        Target(
            "merge", "signature and other files of a copy through merge", merge_strategy, run_merge
        ),
        Target("pkcs11-uri", "pkcs11: URIs (parser and plan keys.NAME.uri)", uri_strategy, run_uri),
        Target(
            "attestation",
            "attestation certificates (enroll --attestation, attestation verify)",
            attestation_strategy,
            run_attestation,
        ),
    )
}
