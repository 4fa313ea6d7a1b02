"""The one exception hierarchy of tuf-ceremony.

Every error a key holder can meet is a `CeremonyError`. Its message is one paragraph
written for a person under stress: what failed, where (file, field, key name, token
serial), what was expected and found, and what to do next. It never contains a PIN.

The CLI catches `CeremonyError` in one place and turns it into that paragraph and the
error's exit code:

- 0 success
- 1 a check or a verification failed, or a threshold is not met
- 2 invalid input (plan, files, arguments)
- 3 a token or device problem (no token, wrong PIN, key missing, removed mid-operation)
- 130 interrupted

This module imports nothing from the project.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_TOKEN = 3
EXIT_INTERRUPTED = 130


class CeremonyError(Exception):
    """Base class. `str(e)` is the paragraph shown to the operator; `hint` the next step."""

    exit_code: ClassVar[int] = EXIT_CHECK_FAILED
    title: ClassVar[str] = "Ceremony error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


# --- 1: checks and verification -------------------------------------------------------


class CheckFailed(CeremonyError):
    """A named check, a verification or a threshold failed (exit 1)."""

    title = "Check failed"


class ThresholdNotMet(CheckFailed):
    """Not enough valid signatures yet (exit 1)."""

    title = "Threshold not met"


class VerificationFailed(CheckFailed):
    """Metadata or a signature did not verify (exit 1)."""

    title = "Verification failed"


class AttestationError(CheckFailed):
    """A hardware attestation did not verify or does not meet the plan's policy (exit 1)."""

    title = "Attestation failed"


class Declined(CeremonyError):
    """The key holder did not confirm (typed something other than Yes): nothing was signed
    or written (exit 1)."""

    title = "Not signed"


class RehearsalFailed(CeremonyError):
    """A step of `ceremony rehearse` failed; its own output says why (exit 1)."""

    title = "Rehearsal step failed"


# --- 2: invalid input -------------------------------------------------------------------


class InputError(CeremonyError):
    """Invalid input: arguments, files, or the ceremony directory (exit 2)."""

    exit_code = EXIT_INVALID_INPUT
    title = "Invalid input"


class PlanError(InputError):
    """The plan (ceremony.yaml) is invalid. Messages name the YAML path (exit 2)."""

    title = "Invalid plan"

    def __init__(self, message: str, *, problems: list[str] | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = problems or [message]


class StoreError(InputError):
    """The ceremony directory or a file in it is missing, malformed or unsafe (exit 2)."""

    title = "Ceremony directory problem"


class LockedError(InputError):
    """Another session holds the ceremony directory's lock (exit 2)."""

    title = "Ceremony directory in use"


# --- 3: tokens and devices --------------------------------------------------------------


class TokenError(CeremonyError):
    """A token or device problem (exit 3). Nothing was written."""

    exit_code = EXIT_TOKEN
    title = "Token problem"


class ModuleLoadError(TokenError):
    """No PKCS#11 module could be loaded."""

    title = "PKCS#11 module not found"


class TokenNotFound(TokenError):
    title = "Token not found"


class AmbiguousToken(TokenError):
    title = "Several tokens match"


class PinIncorrect(TokenError):
    title = "Wrong PIN"


class PinLocked(TokenError):
    title = "PIN locked"


class KeyNotFound(TokenError):
    title = "Key not found on the token"


class AmbiguousKey(TokenError):
    title = "Several keys match"


class KeyMismatch(TokenError):
    """The key on the token is not the enrolled one."""

    title = "Wrong key"


class KeyPolicyError(TokenError):
    """The token key is extractable, not sensitive, imported, or of the wrong type."""

    title = "Key refused"


class MechanismNotSupported(TokenError):
    title = "Not supported by this token"


class DeviceRemoved(TokenError):
    title = "Device removed"


class TouchNotDetected(TokenError):
    title = "Touch not detected"


class BadTokenSignature(TokenError):
    """The token returned a signature that does not verify. It was not written."""

    title = "Bad signature from the token"


# --- 130: interrupted -------------------------------------------------------------------


class Interrupted(CeremonyError):
    exit_code = EXIT_INTERRUPTED
    title = "Interrupted"
