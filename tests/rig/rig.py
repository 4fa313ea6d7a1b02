"""The YubiKey test rig: pcscd + vpcd + the PIV card emulator, driven by the REAL ykcs11/OpenSC.

    pcscd -f -c <own reader.conf dir>      reader "Yubico YubiKey vpcd 00 00" (libifdvpcd.so)
      ^ TCP 127.0.0.1:<port> (vpcd)
    python -m tests.rig.piv_emulator        a YubiKey-like PIV card (tests/rig/piv_emulator.py)

Use from any test directory:

    from tests.rig.rig import piv_rig, piv_card  # noqa: F401  (pytest fixtures)

    def test_x(piv_card):                        # fresh card state for this test
        lib = pkcs11.lib(piv_card.ykcs11)
        ...
        subprocess.run(["ceremony", "tokens"], env=piv_card.env)   # for CLI tests

`piv_rig` (session scope) starts everything once; `piv_card` (function scope) resets the card
to its initial state (remove, wipe, insert) and returns the same `PivRig`. Both skip the test
with a clear reason when a prerequisite is missing (packages, pcscd, unshare...), unless
TUF_CEREMONY_RIG=require is set (CI), in which case they fail.

pcscd always uses /run/pcscd/pcscd.comm (compiled in). To stay out of the system's way the rig
runs its own pcscd in a private mount namespace (`unshare --mount`) with a private directory
bound on /run, so the socket lands in the rig's work directory; clients find it through
PCSCLITE_CSOCK_NAME (honoured by libpcsclite), which the fixture sets in os.environ and in
`PivRig.env`. Without unshare (not root), the rig uses /run/pcscd directly, and only when no
other pcscd is running there. Note: libpcsclite caches the socket name at the first
SCardEstablishContext of a process, so load ykcs11/OpenSC in-process only after the fixture ran.

Caveats: vpcd listens on 0.0.0.0 on two consecutive TCP ports (two reader slots, "00 00" and
"00 01"; the card is in "00 00"); the private pcscd still does USB hotplug, so on a developer
machine with a real reader plugged in it may see that reader too.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
VPCD_DRIVER_CANDIDATES = [
    "/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
    "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
]
YKCS11_CANDIDATES = [
    "/usr/lib/x86_64-linux-gnu/libykcs11.so",
    "/usr/lib/aarch64-linux-gnu/libykcs11.so",
    "/usr/lib/x86_64-linux-gnu/libykcs11.so.2",
    "/usr/lib/aarch64-linux-gnu/libykcs11.so.2",
    "/usr/local/lib/libykcs11.so",
]
OPENSC_CANDIDATES = [
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/pkcs11/opensc-pkcs11.so",
    "/usr/local/lib/opensc-pkcs11.so",
]
READER_NAME = "Yubico YubiKey vpcd"
DEFAULT_MGMT_KEY = "010203040506070801020304050607080102030405060708"
RIG_ENV = "TUF_CEREMONY_RIG"  # "require": fail instead of skip when prerequisites are missing


class RigUnavailable(Exception):
    """A prerequisite is missing (the tests skip with this reason)."""


class RigError(Exception):
    """The prerequisites are there but the rig did not come up (a real failure)."""


def _first_existing(candidates: list[str], env_var: str) -> str | None:
    override = os.environ.get(env_var)
    if override:
        return override if os.path.exists(override) else None
    return next((c for c in candidates if os.path.exists(c)), None)


def _free_port_pair() -> int:
    """A port P with P and P+1 free on 0.0.0.0 (vpcd opens two reader slots)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
        except OSError:
            continue
        return port
    raise RigUnavailable("no two consecutive free TCP ports for vpcd")


def _unshare_works() -> bool:
    if os.environ.get("PIV_RIG_NO_UNSHARE") or shutil.which("unshare") is None:
        return False
    try:
        r = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "true"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


@dataclass
class PivRig:
    """A running rig. All paths are absolute; `env` is for subprocesses (CLI tests)."""

    ykcs11: str
    opensc: str | None
    pin: str
    puk: str
    mgmt_key: str
    serial: int
    firmware: str
    token_label: str
    ca_cert: Path  # the TEST "Test Yubico PIV Root CA" (PEM): trust it as an extra CA
    ca_certs: list[Path]
    device_cert: Path  # the emulator's f9 certificate (PEM), as read from slot f9
    env: dict[str, str] = field(repr=False)
    workdir: Path
    control_path: Path
    config: dict[str, Any]
    reconfigured: bool = False  # the card runs with overrides (see reset)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)
    _created_dirs: list[Path] = field(default_factory=list, repr=False)

    # -- control socket --

    def control(self, cmd: str, **kwargs: Any) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(str(self.control_path))
            s.sendall(json.dumps({"cmd": cmd, **kwargs}).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        reply: dict[str, Any] = json.loads(buf)
        if not reply.get("ok"):
            raise RigError(f"emulator control {cmd!r} failed: {reply}")
        return reply

    def state(self) -> dict[str, Any]:
        """The card state: pin_left, puk_left, keys {slot: {alg, pin_policy, ...}}, objects."""
        state: dict[str, Any] = self.control("state")["state"]
        return state

    def remove(self) -> None:
        """Pull the card out of the reader (PKCS#11 sessions see the device disappear)."""
        self.control("remove")
        self._wait_for_token(present=False)

    def insert(self) -> None:
        self.control("insert")
        self._wait_for_token(present=True)

    def reset(self, **overrides: Any) -> None:
        """Fresh card (default PIN/PUK/management key, no keys but f9, same f9 key).

        The card stays in the reader (its state is wiped in place, like another application
        resetting the PIV applet): ykcs11 2.2.0 does not recover from a removal inside one
        process until C_Finalize/C_Initialize (python-pkcs11: `lib.reinitialize()`).

        `overrides` change card settings until the next reset: serial, firmware, pin, puk,
        form_factor, fips, cspn, startup_key... (CardConfig fields). PKCS#11 modules cache the
        serial and firmware they saw: after changing those, call `lib.reinitialize()` (the
        `piv_card` fixture does that for ykcs11 and OpenSC when the previous test changed them).
        """
        config = {**self.config, **overrides}
        self.control("reset", config=config)
        self.serial = int(config["serial"])
        self.firmware = str(config["firmware"])
        self.pin, self.puk = str(config["pin"]), str(config["puk"])
        self.token_label = f"YubiKey PIV #{self.serial}"
        self.reconfigured = bool(overrides)
        if not self.control("ping").get("connected"):
            self.insert()

    def set_touch(self, ok: bool) -> None:
        """ok=False: operations on touch-policy keys fail with 6985 (no touch)."""
        self.control("set", touch_ok=ok)

    # -- life cycle --

    def _wait_for_token(self, *, present: bool, timeout: float = 20.0) -> None:
        """Wait until pcscd reports the card (a)present in the rig's reader."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            ok, last = _card_present(self.env)
            if ok == present:
                return
            time.sleep(0.1)
        raise RigError(f"card did not become {'present' if present else 'absent'}: {last}")

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self._procs.clear()
        for d in self._created_dirs:  # e.g. /run/pcscd, when the rig made it
            with contextlib.suppress(OSError):
                d.rmdir()
        self._created_dirs.clear()

    def logs(self) -> str:
        out = []
        for name in ("pcscd.log", "emulator.log"):
            p = self.workdir / name
            if p.exists():
                out.append(
                    f"--- {name} (tail)\n"
                    + "\n".join(p.read_text(errors="replace").splitlines()[-40:])
                )
        return "\n".join(out)


_PCSC_PROBE = r"""
import ctypes, ctypes.util, sys
name = ctypes.util.find_library("pcsclite") or "libpcsclite.so.1"
lib = ctypes.CDLL(name)
ctx = ctypes.c_long()
rv = lib.SCardEstablishContext(2, None, None, ctypes.byref(ctx))
if rv != 0:
    print("SCardEstablishContext %08x" % (rv & 0xffffffff)); sys.exit(3)
size = ctypes.c_ulong(0)
rv = lib.SCardListReaders(ctx, None, None, ctypes.byref(size))
if rv != 0:
    print("SCardListReaders %08x" % (rv & 0xffffffff)); sys.exit(3)
buf = ctypes.create_string_buffer(size.value)
lib.SCardListReaders(ctx, None, buf, ctypes.byref(size))
readers = [r for r in buf.raw[: size.value].decode().split("\0") if r]
class STATE(ctypes.Structure):
    _fields_ = [("reader", ctypes.c_char_p), ("user", ctypes.c_void_p),
                ("current", ctypes.c_ulong), ("event", ctypes.c_ulong),
                ("atrlen", ctypes.c_ulong), ("atr", ctypes.c_ubyte * 33)]
present = False
for r in readers:
    if not r.startswith(sys.argv[1]):
        continue
    st = STATE(r.encode(), None, 0, 0, 0)
    lib.SCardGetStatusChange(ctx, 0, ctypes.byref(st), 1)
    if st.event & 0x20 and r.endswith(" 00 00"):   # SCARD_STATE_PRESENT
        present = True
print("readers=%r present=%s" % (readers, present))
sys.exit(0 if present else 1)
"""


def _card_present(env: dict[str, str]) -> tuple[bool, str]:
    r = subprocess.run(
        [sys.executable, "-c", _PCSC_PROBE, READER_NAME],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return r.returncode == 0, (r.stdout + r.stderr).strip()


_YKCS11_PROBE = r"""
import sys, pkcs11
lib = pkcs11.lib(sys.argv[1])
for slot in lib.get_slots(token_present=True):
    t = slot.get_token()
    print(t.label)
"""


def start_rig(
    workdir: Path | None = None,
    *,
    serial: int = 12345678,
    firmware: str = "5.4.3",
    pin: str = "123456",
    puk: str = "12345678",
    **card_config: Any,
) -> PivRig:
    """Start pcscd + emulator and wait until ykcs11 lists the token. Raises RigUnavailable."""
    pcscd = shutil.which("pcscd") or next(
        (p for p in ("/usr/sbin/pcscd", "/sbin/pcscd") if os.path.exists(p)), None
    )
    if pcscd is None:
        raise RigUnavailable(
            "pcscd is not installed (apt-get install pcscd; see .ci/install-rig.sh)"
        )
    vpcd = _first_existing(VPCD_DRIVER_CANDIDATES, "VPCD_DRIVER")
    if vpcd is None:
        raise RigUnavailable("the vpcd reader driver is missing (apt-get install vsmartcard-vpcd)")
    ykcs11 = _first_existing(YKCS11_CANDIDATES, "YKCS11_MODULE")
    if ykcs11 is None:
        raise RigUnavailable("libykcs11.so is missing (apt-get install ykcs11)")
    opensc = _first_existing(OPENSC_CANDIDATES, "OPENSC_MODULE")
    try:
        import pkcs11  # noqa: F401
    except ImportError as e:
        raise RigUnavailable(f"python-pkcs11 is not importable: {e}") from e

    workdir = Path(workdir or tempfile.mkdtemp(prefix="piv-rig-"))
    workdir.mkdir(parents=True, exist_ok=True)
    confdir = workdir / "reader.conf.d"
    confdir.mkdir(exist_ok=True)
    port = _free_port_pair()
    (confdir / "vpcd").write_text(
        f'FRIENDLYNAME "{READER_NAME}"\n'
        f"DEVICENAME   /dev/null:0x{port:04X}\n"
        f"LIBPATH      {vpcd}\n"
        f"CHANNELID    0x{port:04X}\n"
    )

    # pcscd: private mount namespace with our own /run, or the real /run/pcscd if it is free.
    created_run_dir: Path | None = None
    if _unshare_works():
        runroot = workdir / "run"
        (runroot / "pcscd").mkdir(parents=True, exist_ok=True)
        sock = runroot / "pcscd" / "pcscd.comm"
        cmd = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            'mount --bind "$1" /run && exec "$2" -f -c "$3"',
            "sh",
            str(runroot),
            pcscd,
            str(confdir),
        ]
    else:
        sock = Path("/run/pcscd/pcscd.comm")
        if sock.exists():
            raise RigUnavailable(
                "a pcscd is already running (/run/pcscd/pcscd.comm exists) and unshare is not "
                "available to run a private one; stop it or run the rig tests as root"
            )
        try:
            if not sock.parent.exists():
                sock.parent.mkdir(parents=True)
                created_run_dir = sock.parent
        except OSError as e:
            raise RigUnavailable(f"cannot create /run/pcscd for pcscd: {e}") from e
        if not os.access(sock.parent, os.W_OK):
            raise RigUnavailable("/run/pcscd is not writable (run the rig tests as root)")
        cmd = [pcscd, "-f", "-c", str(confdir)]

    env = dict(os.environ)
    env["PCSCLITE_CSOCK_NAME"] = str(sock)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        logf = open(workdir / log_name, "wb")  # noqa: SIM115
        try:
            p = subprocess.Popen(
                args, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, env=env
            )
        finally:
            logf.close()
        procs.append(p)
        return p

    # Test CA (TEST root, never the real Yubico one).
    from .piv_emulator import TestCA

    ca_dir = workdir / "ca"
    ca_cert, ca_key = TestCA.create().save(ca_dir)
    device_cert = ca_dir / "device-f9.pem"
    config = {
        "serial": serial,
        "firmware": firmware,
        "pin": pin,
        "puk": puk,
        **card_config,
    }
    (workdir / "card.json").write_text(json.dumps(config))
    control_path = workdir / "emulator.sock"

    rig = PivRig(
        ykcs11=ykcs11,
        opensc=opensc,
        pin=pin,
        puk=puk,
        mgmt_key=card_config.get("mgmt_key", DEFAULT_MGMT_KEY),
        serial=serial,
        firmware=firmware,
        token_label=f"YubiKey PIV #{serial}",
        ca_cert=ca_cert,
        ca_certs=[ca_cert],
        device_cert=device_cert,
        env=env,
        workdir=workdir,
        control_path=control_path,
        config=config,
        _procs=procs,
        _created_dirs=[created_run_dir] if created_run_dir else [],
    )
    try:
        pcscd_proc = spawn(cmd, "pcscd.log")
        deadline = time.monotonic() + 15
        while not sock.exists():
            if pcscd_proc.poll() is not None or time.monotonic() > deadline:
                raise RigError(f"pcscd did not start (socket {sock})\n{rig.logs()}")
            time.sleep(0.05)
        spawn(
            [
                sys.executable,
                "-m",
                "tests.rig.piv_emulator",
                "--port",
                str(port),
                "--control",
                str(control_path),
                "--config",
                str(workdir / "card.json"),
                "--ca-cert",
                str(ca_cert),
                "--ca-key",
                str(ca_key),
                "--device-cert-out",
                str(device_cert),
                *(["-vv"] if os.environ.get("PIV_EMULATOR_DEBUG") else []),
            ],
            "emulator.log",
        )
        deadline = time.monotonic() + 20
        while True:
            if procs[-1].poll() is not None or time.monotonic() > deadline:
                raise RigError(f"the PIV emulator did not connect to vpcd\n{rig.logs()}")
            if control_path.exists():
                with contextlib.suppress(OSError, RigError, json.JSONDecodeError):
                    if rig.control("ping").get("connected"):
                        break
            time.sleep(0.05)
        rig._wait_for_token(present=True)
        # ykcs11 itself must list the token (label "YubiKey PIV #<serial>").
        deadline = time.monotonic() + 20
        while True:
            r = subprocess.run(
                [sys.executable, "-c", _YKCS11_PROBE, ykcs11],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if rig.token_label in r.stdout.splitlines():
                break
            if time.monotonic() > deadline:
                raise RigError(
                    f"ykcs11 does not list {rig.token_label!r}: {r.stdout}{r.stderr}\n{rig.logs()}"
                )
            time.sleep(0.2)
    except BaseException:
        rig.stop()
        raise
    atexit.register(rig.stop)  # safety net when the caller never stops it
    return rig


# --- pytest fixtures ---------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - rig used outside pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    _CONFIG_ATTR = "_tuf_ceremony_piv_rig"

    @pytest.fixture(scope="session")
    def piv_rig(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[PivRig]:
        """The running rig for the whole session (skips when prerequisites are missing).

        One rig per pytest process, even when this module is imported under two names
        (tests.rig.rig and rig.rig) and the fixture is thus defined twice: libpcsclite keeps
        the first socket name it used, so a second rig would be unreachable anyway.
        """
        shared: dict[str, Any] | None = getattr(request.config, _CONFIG_ATTR, None)
        owner = shared is None
        if shared is None:
            shared = {"rig": None, "reason": None, "old": os.environ.get("PCSCLITE_CSOCK_NAME")}
            setattr(request.config, _CONFIG_ATTR, shared)
            try:
                shared["rig"] = start_rig(tmp_path_factory.mktemp("piv-rig"))
            except RigUnavailable as e:
                shared["reason"] = str(e)
            else:
                os.environ["PCSCLITE_CSOCK_NAME"] = shared["rig"].env["PCSCLITE_CSOCK_NAME"]
        rig: PivRig | None = shared["rig"]
        if rig is None:
            reason = shared["reason"]
            if os.environ.get(RIG_ENV) == "require":
                pytest.fail(f"PIV rig unavailable but {RIG_ENV}=require: {reason}")
            pytest.skip(f"PIV rig unavailable: {reason}")
        try:
            yield rig
        finally:
            if owner:
                rig.stop()
                old = shared["old"]
                if old is None:
                    os.environ.pop("PCSCLITE_CSOCK_NAME", None)
                else:
                    os.environ["PCSCLITE_CSOCK_NAME"] = old

    @pytest.fixture
    def piv_card(piv_rig: PivRig) -> PivRig:
        """The rig with a fresh card (default PIN/PUK/management key, no keys)."""
        was_reconfigured = piv_rig.reconfigured
        piv_rig.reset()
        if was_reconfigured:  # modules cached the old serial/firmware: make them look again
            import pkcs11

            for path in (piv_rig.ykcs11, piv_rig.opensc):
                if path:
                    pkcs11.lib(path).reinitialize()
        return piv_rig
