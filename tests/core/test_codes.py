"""Clinical codes are read by name: no SNOMED CT or dm+d id is typed into the package's code or SQL, and
data/codes.csv gives every code a usable key (core/codes.py)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import duckdb
import pytest

import synthgp
from synthgp.core import codes, reference

PACKAGE = Path(synthgp.__file__).parent
# Folders (under src/synthgp) the scan skips: none, the rule holds for the whole package.
NOT_YET_BY_NAME: frozenset[str] = frozenset()
# Files read as text besides Python (templates carry no code, but an id typed there is the same mistake).
TEXT_SUFFIXES = (".html", ".sql", ".js")
DIGITS = re.compile(r"(?<!\d)\d{6,18}(?!\d)")
# tokens whose text is searched for digit runs: strings (SQL included; f-strings are split into parts from
# Python 3.12) and comments
_TEXT_TOKENS = {tokenize.STRING, tokenize.COMMENT} | ({tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE") else set())


def _dmd_ids(node) -> set[int]:
    """Every `dmd` value anywhere in medicines.toml."""
    if isinstance(node, dict):
        return {node["dmd"]} if "dmd" in node else set().union(*(_dmd_ids(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_dmd_ids(v) for v in node))
    return set()


def known_ids() -> set[int]:
    """The SNOMED CT ids of data/codes.csv and the dm+d ids of data/medicines.toml."""
    sct = {int(r["snomedctconceptid"]) for r in reference.csv_rows("codes.csv") if r["snomedctconceptid"]}
    return sct | _dmd_ids(reference.toml("medicines.toml"))


def _number(text: str) -> int | None:
    """A Python integer literal's value (any base, underscores allowed), None for floats and the like."""
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        return int(text.replace("_", "")) if text.replace("_", "").isdigit() else None


def ids_in_python(source: str, ids: set[int]) -> list[tuple[int, int]]:
    """(line, id) for each known id in a Python source: as an integer literal, or as digits inside a
    string (SQL, f-strings, docstrings) or a comment."""
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NUMBER:
            value = _number(tok.string)
            if value in ids:
                found.append((tok.start[0], value))
        elif tok.type in _TEXT_TOKENS:
            for m in DIGITS.finditer(tok.string):
                if int(m.group()) in ids:
                    found.append((tok.start[0] + tok.string.count("\n", 0, m.start()), int(m.group())))
    return found


def ids_in_text(text: str, ids: set[int]) -> list[tuple[int, int]]:
    return [(text.count("\n", 0, m.start()) + 1, int(m.group())) for m in DIGITS.finditer(text) if int(m.group()) in ids]


def scanned_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*")
                  if p.is_file() and (p.suffix == ".py" or p.suffix in TEXT_SUFFIXES)
                  and p.relative_to(PACKAGE).parts[0] not in NOT_YET_BY_NAME)


def test_no_code_id_typed_into_the_package():
    ids = known_ids()
    found = []
    for path in scanned_files():
        text = path.read_text(encoding="utf-8")
        hits = ids_in_python(text, ids) if path.suffix == ".py" else ids_in_text(text, ids)
        found += [f"src/synthgp/{path.relative_to(PACKAGE).as_posix()}:{line}: {value}" for line, value in hits]
    assert not found, ("clinical code ids typed into the package; read them by key (codes.snomed/codes.sql, "
                       "data/codes.csv):\n" + "\n".join(found))


def test_the_scan_finds_ids_wherever_they_are_typed():
    bp = codes.snomed("bp_systolic")
    dmd = next(iter(_dmd_ids(reference.toml("medicines.toml"))))
    grouped = f"{bp:_}"
    source = (f"A = {bp}\nB = {grouped}\nC = 'x IN ({dmd}, 1)'\n"
              f'D = f"""\n  WHERE sct = {bp} AND {{x}}"""\n# {bp} in a comment\nE = 0.{bp}\nF = 1{bp}\n')
    assert ids_in_python(source, known_ids()) == [(1, bp), (2, bp), (3, dmd), (5, bp), (6, bp)]
    assert ids_in_text(f"<p>\n{bp}</p>", known_ids()) == [(2, bp)]


def test_the_scan_covers_the_package():
    names = {p.relative_to(PACKAGE).as_posix() for p in scanned_files()}
    assert {"core/codes.py", "evaluate/integrity.py", "formats/cprd_cvd.py", "serve/viewer.py"} <= names
    assert not any(n.split("/")[0] in NOT_YET_BY_NAME for n in names)
    assert NOT_YET_BY_NAME <= {p.name for p in PACKAGE.iterdir() if p.is_dir()}, "a skipped folder no longer exists"


def test_codes_csv_keys():
    keys = [r["key"] for r in reference.csv_rows("codes.csv")]
    assert all(keys), "a row of codes.csv has no key"
    assert len(keys) == len(set(keys)), f"duplicate keys: {sorted({k for k in keys if keys.count(k) > 1})}"
    bad = [k for k in keys if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", k)]
    assert not bad, f"keys not in snake_case: {bad}"
    assert list(codes.table()) == keys


def test_codes_csv_ids():
    for r in reference.csv_rows("codes.csv"):
        sct = r["snomedctconceptid"]
        if sct:
            assert sct.isdigit() and int(sct) > 0, f"{r['key']}: SNOMED CT id {sct!r} is not a positive integer"
            assert codes.snomed(r["key"]) == int(sct)
        else:
            assert r["status"] == "unresolved", f"{r['key']} has no SNOMED CT id but status {r['status']!r}"
    medcodes = [c.medcodeid for c in codes.table().values()]
    assert len(medcodes) == len(set(medcodes))


def test_unknown_key_is_named():
    with pytest.raises(KeyError, match="no_such_code"):
        codes.medcode("no_such_code")
    with pytest.raises(KeyError, match="no_such_code"):
        codes.snomed("no_such_code")


def test_lookups():
    assert codes.sql("bp_systolic", "abpm_systolic") == f"{codes.snomed('bp_systolic')}, {codes.snomed('abpm_systolic')}"
    assert {c.key for c in codes.in_cluster("SMOK")} == {"never_smoked", "ex_smoker", "light_smoker", "moderate_smoker",
                                                         "heavy_smoker"}
    with pytest.raises(KeyError, match="hypertension_annual_review"):
        codes.snomed("hypertension_annual_review")  # unresolved: no id to give
    case = codes.sql_case("sct", {"never_smoked": 0, "ex_smoker": "ex'"})
    assert case == f"CASE sct WHEN {codes.snomed('never_smoked')} THEN 0 WHEN {codes.snomed('ex_smoker')} THEN 'ex''' END"


def test_sql_case_runs():
    case = codes.sql_case("sct", {"light_smoker": 2, "heavy_smoker": 4})
    rows = duckdb.sql(f"SELECT {case} FROM (VALUES ({codes.snomed('heavy_smoker')}), ({codes.snomed('light_smoker')}), (1)) t(sct)")
    assert [r[0] for r in rows.fetchall()] == [4, 2, None]


def test_fhir_ethnic_categories_are_codes_csv_keys():
    eth = {c.key for c in codes.in_cluster("ETH")}
    assert set(reference.toml("fhir.toml")["ethnic_category"]) == eth
