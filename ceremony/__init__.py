"""tuf-ceremony: offline key ceremonies for TUF repositories on PKCS#11 tokens."""

__version__ = "0.1.0"
