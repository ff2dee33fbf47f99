"""docs/codes.md is the code table as data/codes.csv and data/medicines.toml hold it (core/codes_doc.py writes it)."""

from __future__ import annotations

from pathlib import Path

from synthgp.core import codes, codes_doc

DOC = Path(__file__).resolve().parents[2] / "docs" / "codes.md"


def test_committed_doc_matches_the_generator():
    assert DOC.read_text(encoding="utf-8") == codes_doc.render(), (
        "docs/codes.md is out of date: run python -m synthgp.core.codes_doc")


def test_doc_lists_every_code_with_its_source_and_ids(tmp_path):
    out = tmp_path / "codes.md"
    assert codes_doc.main([str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    for c in codes.table().values():
        line = next(x for x in text.splitlines() if x.startswith(f"| `{c.key}` |"))
        assert str(c.medcodeid) in line and (c.snomed is None or f"| {c.snomed} |" in line)
        assert ("(reserved)" in line) == codes.is_reserved(c.medcodeid)
        if c.source:
            assert "](https://github.com/" + c.source.split(":")[0].split("@")[0] + "/blob/" in line
    assert "| Prednisolone 5mg tablets | dm+d | 325427002 |" in text
