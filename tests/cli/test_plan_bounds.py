"""Plans cannot ask for what the tool cannot read back (issue 9, rule 9), through the CLI:
`validate` refuses a hash-bin count whose draft would exceed the tool's read limit, naming
the limit and the largest count that fits, and warns above the clients' download limit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.foreign_roots import ceremony, tree_hashes

PLAN = """\
repository: "bounds.example.org"
root: {{expires: 365d}}
roles:
  root:      {{threshold: 1, keys: [root-a]}}
  targets:   {{threshold: 1, keys: [targets-a]}}
  snapshot:  {{threshold: 1, keys: [online]}}
  timestamp: {{threshold: 1, keys: [online]}}
keys:
  root-a: {{holder: "A"}}
  targets-a: {{holder: "A"}}
  online: {{holder: "Online service"}}
targets:
  expires: 300d
  delegations:
    - name: bins
      paths: ["*"]
      threshold: 1
      keys: [targets-a]
      hash_bins: {{count: {count}, prefix: bin, threshold: 1, keys: [online], succinct: {succinct}}}
"""


@pytest.mark.parametrize(
    ("count", "succinct", "code", "says"),
    [
        (
            524_288,
            "false",
            2,
            r"ERROR\s+CER-SIZE-BINS: .*more than the 67,108,864 bytes this "
            r"tool reads back.*at most 262,144 bins fit",
        ),
        (32_768, "false", 0, r"WARNING\s+CER-SIZE-BINS: .*up to 5,000,000 bytes by default"),
        (16_384, "false", 0, None),
        (1_048_576, "true", 0, None),
    ],
)
def test_bin_counts_are_bounded_by_what_is_read_back(
    tmp_path: Path, count: int, succinct: str, code: int, says: str | None
) -> None:
    d = tmp_path / "c"
    assert ceremony("init", d).code == 0
    (d / "ceremony.yaml").write_text(PLAN.format(count=count, succinct=succinct))
    before = tree_hashes(d)
    r = ceremony("validate", d)
    assert r.code == code, r.out
    if says is None:
        assert "CER-SIZE-BINS" not in r.out
    else:
        assert re.search(says, r.out), r.out
    assert tree_hashes(d) == before or code == 0
