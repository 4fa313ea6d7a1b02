"""The use cases: one module per family, each a plain function the CLI calls once.

| command                | function                                   | module        |
|------------------------|--------------------------------------------|---------------|
| init                   | `init`                                     | `init`        |
| validate               | `state.load` (enforce=False)               | `state`       |
| enroll, keygen         | `enroll`, `keygen`                         | `enroll`      |
| draft, show            | `draft`, `show`                            | `drafts`      |
| sign, merge            | `sign`, `merge`                            | `signing`     |
| status                 | `status`                                   | `status`      |
| export                 | `export`                                   | `export`      |
| attestation verify     | `reverify_attestations`                    | `attestation` |

Each takes its collaborators as parameters (the directory, the time, a transcript entry
to fill in; for tokens a `KeyReader`, `KeyGenerator` or `SignerFactory` from
`ceremony.tokens.select`; a `Confirm` callback), never prints and never prompts, and
raises a `ceremony.errors.CeremonyError` whose `exit_code` the CLI returns. A command loads
the directory once (`state.load`) and passes what it derived (the draft, the people, the
authorities) down. `ceremony verify` needs no use case: it is `clientcheck.verify_chain`.

The modules are imported by name (`from ceremony.services import signing`): importing this
package loads none of them, so `ceremony --help` stays fast.
"""
