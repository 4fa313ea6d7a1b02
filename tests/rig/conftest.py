"""Fixtures of the YubiKey test rig (defined in tests/rig/rig.py so other directories can import them)."""

try:  # the same module object as other test directories' `from tests.rig.rig import ...`
    from tests.rig.rig import piv_card, piv_rig
except ImportError:  # the repository root is not on sys.path
    from .rig import piv_card, piv_rig

__all__ = ["piv_card", "piv_rig"]
