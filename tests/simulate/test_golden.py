"""The output of a small practice, digest by digest, is what tests/golden/digests.json says.

A restructure must leave every digest unchanged. A deliberate change to the output rewrites the
file in its own commit (python -m tests.golden.digest --update) and says what changed and why.
"""

import json

from tests.golden import digest


def test_every_table_and_file_matches_the_golden_digests(tmp_path):
    now = digest.digests(digest.generate(tmp_path / "out"))
    golden = json.loads(digest.GOLDEN.read_text())
    assert any(k.startswith("table/observation") for k in now)
    assert digest.compare(now, golden) == []
