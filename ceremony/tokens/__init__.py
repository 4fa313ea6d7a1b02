"""Token access. The only package that talks PKCS#11 (in `pkcs11_backend`).

The public surface is re-exported lazily so that `import ceremony.tokens` stays cheap.
"""
