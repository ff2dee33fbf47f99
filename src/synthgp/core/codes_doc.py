"""docs/codes.md, the code-provenance table, generated from data/codes.csv and data/medicines.toml.

    python -m synthgp.core.codes_doc            # rewrite docs/codes.md beside the package (a source checkout)
    python -m synthgp.core.codes_doc OUT.md     # write it elsewhere

tests/core/test_codes_doc.py holds the committed page to what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

from synthgp.core import codes, reference

DOC = Path(__file__).resolve().parents[3] / "docs" / "codes.md"

INTRO = """# Clinical codes and their provenance

Generated from [`data/codes.csv`](../src/synthgp/data/codes.csv) and
[`data/medicines.toml`](../src/synthgp/data/medicines.toml) by `python -m synthgp.core.codes_doc`; edit those files,
not this page (a test fails if the two differ).

- **Status** of a SNOMED CT or dm+d id: *confirmed* when the public code list named as its source shows that id with
  that meaning; *unconfirmed* when none was found that does; *unresolved* when no SNOMED CT id is given.
- **medcodeid / prodcodeid**: CPRD Aurum's own ids (EMIS ids) where a public CPRD Aurum code list gives them, with
  that list as source; so a researcher's CPRD code list selects these records unchanged. Where no public list gives
  one, the id is synthgp's own, from a reserved range (`9000000000000000000 + 1000 n + 999`, marked *reserved*):
  it ends in the partition identifier 99, which no SNOMED CT identifier, and so no EMIS id built on one, can have.
- Sources are GitHub repositories (`owner/name:path`); the commits read are listed at the top of each data file.
"""


def _link(source: str) -> str:
    """A source `owner/name[@commit]:path` as a Markdown link to the file on GitHub."""
    if not source:
        return ""
    repo, _, path = source.partition(":")
    repo, _, commit = repo.partition("@")
    return f"[{repo}: {path.rsplit('/', 1)[-1]}](https://github.com/{repo}/blob/{commit or 'HEAD'}/{quote(path)})"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def _medcode(identifier: int) -> str:
    return f"{identifier} (reserved)" if codes.is_reserved(identifier) else str(identifier)


def clinical_rows() -> list[str]:
    out = ["| key | term | system | id | status | source | medcodeid | medcodeid source |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in codes.table().values():
        system = "SNOMED CT" if c.snomed else "EMIS (CPRD Aurum)"
        term = c.term + (f" (CPRD term: {c.medcode_term})" if c.medcode_term else "")
        out.append(f"| `{c.key}` | {_cell(term)} | {system} | {c.snomed or ''} | {c.status} | {_link(c.source)} | "
                   f"{_medcode(c.medcodeid)} | {_link(c.medcode_source)} |")
    return out


def medicine_rows() -> list[str]:
    out = ["| product | system | dm+d VMP id | other VMP id | status | source | prodcodeid | prodcodeid source | BNF | BNF source |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, v in reference.toml("medicines.toml").items():
        if not isinstance(v, dict):
            continue
        for lv in v["levels"]:
            product = lv.get("term") or f"{name.capitalize()} {lv['mg']:g}mg {v['form']}s"  # its dm+d name, if given
            out.append(f"| {product} | dm+d | {lv['dmd']} | {lv.get('dmd_alt', '')} | {v['status']} | "
                       f"{_link(v['source'])} | {_medcode(lv['prodcodeid'])} | {_link(v['prodcode_source'])} | "
                       f"{v['bnf']} | {_link(v['bnf_source']) or 'unconfirmed'} |")
    return out


def render() -> str:
    table = codes.table().values()
    confirmed = sum(c.status == "confirmed" for c in table)
    real = sum(not codes.is_reserved(c.medcodeid) for c in table)
    meds = [lv for v in reference.toml("medicines.toml").values() if isinstance(v, dict) for lv in v["levels"]]
    real_prod = sum(not codes.is_reserved(lv["prodcodeid"]) for lv in meds)
    parts = [INTRO,
             "## Clinical codes (SNOMED CT)\n",
             f"{len(table)} codes: {confirmed} confirmed, "
             f"{sum(c.status == 'unconfirmed' for c in table)} unconfirmed, "
             f"{sum(c.status == 'unresolved' for c in table)} unresolved; {real} carry a real CPRD medcodeid.\n",
             *clinical_rows(), "",
             "## Medicines (dm+d)\n",
             f"{len(meds)} products; {real_prod} carry a real CPRD prodcodeid.\n",
             *medicine_rows(), ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    target = Path(argv[0]) if argv else DOC
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
