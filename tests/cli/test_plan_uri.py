"""`keys.NAME.uri` in the plan tells `sign` where a key lives when enrolment recorded none
(a key enrolled from its public key, or carried over from a previous root)."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ceremony.tokens.software_rehearsal import SoftwareToken, SoftwareUri
from tests.cli.test_bad_inputs import PIN, run

PLAN = """\
repository: "plan-uri.example.org"
root: {{expires: 365d}}
roles:
  root:      {{threshold: 1, keys: [root-a]}}
  targets:   {{threshold: 1, keys: [root-a]}}
  snapshot:  {{threshold: 1, keys: [online]}}
  timestamp: {{threshold: 1, keys: [online]}}
keys:
  root-a: {{holder: "A"{uri}}}
  online: {{holder: "Online"}}
rehearsal: true
"""


def _pem(public: ed25519.Ed25519PublicKey, path: Path) -> Path:
    path.write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def test_sign_finds_the_key_where_the_plan_says(tmp_path: Path) -> None:
    tok = SoftwareToken.create(tmp_path / "tokens", "t", PIN)
    key = tok.generate("root-a", "ed25519", PIN)
    uri = str(SoftwareUri(tmp_path / "tokens", "t", "root-a"))
    root_pem = _pem(
        ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(key.keyval["public"])),
        tmp_path / "root-a.pem",
    )
    online_pem = _pem(ed25519.Ed25519PrivateKey.generate().public_key(), tmp_path / "online.pem")
    d = tmp_path / "c"
    assert run("init", d).returncode == 0
    (d / "ceremony.yaml").write_text(PLAN.format(uri=""))
    assert run("enroll", d, "root-a", "--public-key", root_pem).returncode == 0
    assert run("enroll", d, "online", "--public-key", online_pem).returncode == 0
    assert json.loads((d / "keys" / "root-a.json").read_text())["keyid"] == key.keyid
    assert run("draft", d).returncode == 0
    # No URI anywhere: sign cannot know where the key is (and writes nothing).
    r = run("sign", d, "root", "--key", "root-a", stdin=["Yes", PIN])
    assert r.returncode != 0
    assert not (d / "signatures").exists()
    # The plan says where it lives: sign uses that.
    (d / "ceremony.yaml").write_text(PLAN.format(uri=f', uri: "{uri}"'))
    r = run("sign", d, "root", "--key", "root-a", stdin=["Yes", PIN])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Signed root as 'root-a'" in r.stdout
