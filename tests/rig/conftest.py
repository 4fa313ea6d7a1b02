"""Fixtures of the YubiKey test rig (defined in tests/rig/rig.py so other directories can import them)."""

from .rig import piv_card, piv_rig

__all__ = ["piv_card", "piv_rig"]
