"""Which PKCS#11 module is used: --module, URI, environment, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from ceremony.errors import ModuleLoadError
from ceremony.tokens import modules
from ceremony.tokens.modules import ENV_MODULE
from ceremony.tokens.pkcs11 import resolve_module
from ceremony.tokens.uri import Pkcs11Uri


@pytest.fixture
def libs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    paths = {}
    for name in ("explicit", "uri", "env", "first", "second"):
        path = tmp_path / f"lib{name}.so"
        path.write_bytes(b"")
        paths[name] = str(path)
    monkeypatch.delenv(ENV_MODULE, raising=False)
    monkeypatch.setattr(
        modules,
        "DEFAULT_MODULES",
        (
            ("missing", (str(tmp_path / "nope.so"),)),
            ("first", (str(tmp_path / "nope2.so"), paths["first"])),
            ("second", (paths["second"],)),
        ),
    )
    monkeypatch.setattr(modules, "_MODULE_DIRS", (str(tmp_path),))
    return paths


def test_order(libs: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    uri = Pkcs11Uri(module_path=libs["uri"])
    assert modules.find_module(uri, libs["explicit"]) == libs["explicit"]
    monkeypatch.setenv(ENV_MODULE, libs["env"])
    assert modules.find_module(uri, None) == libs["uri"]
    assert modules.find_module(Pkcs11Uri(module_name="uri"), None) == libs["uri"]
    assert modules.find_module(None, None) == libs["env"]
    monkeypatch.delenv(ENV_MODULE)
    assert modules.find_module(Pkcs11Uri(token="x"), None) == libs["first"]
    assert [p for _, p in modules.present_default_modules()] == [libs["first"], libs["second"]]


def test_missing(libs: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModuleLoadError, match=r"from --module\) does not exist"):
        modules.find_module(None, str(tmp_path / "absent.so"))
    with pytest.raises(ModuleLoadError, match="module-name=absent"):
        modules.find_module(Pkcs11Uri(module_name="absent"), None)
    monkeypatch.setenv(ENV_MODULE, str(tmp_path / "absent.so"))
    with pytest.raises(ModuleLoadError, match=f"environment variable {ENV_MODULE}"):
        modules.find_module(None, None)
    monkeypatch.delenv(ENV_MODULE)
    monkeypatch.setattr(modules, "DEFAULT_MODULES", (("x", (str(tmp_path / "absent.so"),)),))
    with pytest.raises(ModuleLoadError, match="none of the known ones"):
        modules.find_module(None, None)


def test_not_a_pkcs11_module(libs: dict[str, str]) -> None:
    with pytest.raises(ModuleLoadError, match="could not be loaded") as info:
        resolve_module(None, libs["explicit"])
    assert info.value.exit_code == 3


def test_real_default_list_names_known_modules() -> None:
    names = [what for what, _ in modules.DEFAULT_MODULES]
    assert names[0] == "SoftHSM2" and "OpenSC" in names and "YubiHSM 2" in names
