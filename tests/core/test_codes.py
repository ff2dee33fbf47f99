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
DIGITS = re.compile(r"(?<!\d)\d{6,19}(?!\d)")
# tokens whose text is searched for digit runs: strings (SQL included; f-strings are split into parts from
# Python 3.12) and comments
_TEXT_TOKENS = {tokenize.STRING, tokenize.COMMENT} | ({tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE") else set())


def levels() -> list[dict]:
    """Every dose level of every product in medicines.toml."""
    return [lv for v in reference.toml("medicines.toml").values() if isinstance(v, dict) for lv in v["levels"]]


def _dmd_ids() -> set[int]:
    """Every dm+d id (`dmd` and `dmd_alt`) in medicines.toml."""
    return {lv[k] for lv in levels() for k in ("dmd", "dmd_alt") if k in lv}


def known_ids() -> set[int]:
    """The ids no code may type: SNOMED CT concepts, real medcodeids, description ids of data/codes.csv; dm+d ids and
    real prodcodeids of data/medicines.toml (reserved ids and small numbers aside)."""
    ids = {i for c in codes.table().values() for i in (c.snomed, c.medcodeid, c.description_id) if i}
    ids |= _dmd_ids() | {lv["prodcodeid"] for lv in levels()}
    return {i for i in ids if i >= 100_000 and not codes.is_reserved(i)}


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
    dmd = min(_dmd_ids())
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


def test_every_code_says_where_it_was_checked():
    """A code is confirmed only with the public list that shows it; a real medcodeid only with its CPRD list."""
    for c in codes.table().values():
        assert c.status in ("confirmed", "unconfirmed", "unresolved"), c.key
        assert bool(c.source) == (c.status == "confirmed"), f"{c.key}: status {c.status} but source {c.source!r}"
        assert (c.status == "unresolved") == (c.snomed is None), c.key
        assert bool(c.medcode_source) != codes.is_reserved(c.medcodeid), f"{c.key}: medcodeid {c.medcodeid}"
        assert not (codes.is_reserved(c.medcodeid) and (c.description_id or c.original_read or c.emis_category)), c.key
    for name, v in reference.toml("medicines.toml").items():
        if isinstance(v, dict):
            # as in codes.csv: confirmed with the list that shows it, or unconfirmed and saying so
            assert v["status"] in ("confirmed", "unconfirmed") and bool(v["source"]) == (v["status"] == "confirmed"), name
            for lv in v["levels"]:
                assert bool(v["prodcode_source"]) != codes.is_reserved(lv["prodcodeid"]), (name, lv["mg"])


def test_ids_have_the_snomed_structure():
    """Every SNOMED CT and dm+d id is a concept (partition 00 or 10) and every real medcodeid, description id and
    prodcodeid a description-style EMIS id (partition 01 or 11), each with a valid Verhoeff check digit: a typo
    or a spreadsheet-rounded id fails here."""
    for c in codes.table().values():
        if c.snomed:
            assert codes.verhoeff_ok(c.snomed) and codes.partition(c.snomed) in (0, 10), (c.key, c.snomed)
        if c.description_id:
            assert codes.verhoeff_ok(c.description_id) and codes.partition(c.description_id) in (1, 11), c.key
        if not codes.is_reserved(c.medcodeid):
            assert codes.verhoeff_ok(c.medcodeid) and codes.partition(c.medcodeid) in (1, 11), (c.key, c.medcodeid)
    for name, v in reference.toml("medicines.toml").items():
        for lv in v["levels"] if isinstance(v, dict) else ():
            for dmd in (lv["dmd"], lv.get("dmd_alt", lv["dmd"])):
                if codes.is_reserved(dmd):  # no public dm+d id found: only an unconfirmed product may say so
                    assert v["status"] == "unconfirmed", (name, dmd)
                    continue
                assert codes.verhoeff_ok(dmd) and codes.partition(dmd) in (0, 10), dmd
            if not codes.is_reserved(lv["prodcodeid"]):
                assert codes.verhoeff_ok(lv["prodcodeid"]) and codes.partition(lv["prodcodeid"]) == 11, lv


def test_the_structure_checks_catch_a_wrong_digit():
    real = str(codes.medcode("essential_hypertension"))
    typos = {real[:i] + d + real[i + 1:] for i in range(len(real)) for d in "0123456789"} - {real}
    swaps = {real[:i] + real[i + 1] + real[i] + real[i + 2:] for i in range(len(real) - 1)} - {real}
    assert codes.verhoeff_ok(int(real)) and not any(codes.verhoeff_ok(int(t)) for t in typos | swaps)
    real = int(real)
    assert codes.partition(real) == 1 and codes.partition(codes.snomed("essential_hypertension")) == 0


def test_reserved_ids_cannot_be_real():
    """synthgp's own ids end in partition 99, which no SNOMED CT or EMIS id has, and fit a signed 64-bit integer."""
    mine = [codes.reserved(n) for n in (1, 2, 500, 10**14 - 1)]
    assert all(codes.is_reserved(i) and codes.partition(i) == codes.RESERVED_PARTITION for i in mine)
    assert all(len(str(i)) == 19 and i < 2**63 for i in mine)
    assert len(set(mine)) == len(mine)
    with pytest.raises(ValueError):
        codes.reserved(0)
    with pytest.raises(ValueError):
        codes.reserved(10**14)
    real = [c.medcodeid for c in codes.table().values() if c.medcode_source] + [
        lv["prodcodeid"] for lv in levels() if not codes.is_reserved(lv["prodcodeid"])]
    assert real and not any(codes.is_reserved(i) or codes.partition(i) == codes.RESERVED_PARTITION for i in real)


def test_real_cprd_identifiers():
    """Where a public CPRD Aurum list gives them, the dictionaries carry CPRD's own ids (spec: aurum.md, practice.md)."""
    assert codes.medcode("essential_hypertension") == 99042012
    assert codes.medcode("never_smoked") == 397732011
    eh = codes.get("essential_hypertension")
    assert (eh.description_id, eh.original_read, eh.cleansed_read, eh.emis_category) == (99042012, "G20", "G20..00", 32)
    ramipril = reference.toml("medicines.toml")["ramipril"]["levels"]
    assert [lv["prodcodeid"] for lv in ramipril] == [1151341000033117, 1151441000033111, 1151541000033112,
                                                      1769841000033111]
    real = sum(not codes.is_reserved(c.medcodeid) for c in codes.table().values())
    assert real >= 55, f"only {real} codes carry a real medcodeid"


def test_corrected_ids():
    """The ids the review of issue 16 found wrong."""
    meds = reference.toml("medicines.toml")
    assert [lv["dmd"] for lv in meds["prednisolone"]["levels"]] == [325427002]  # not 325426001
    doxazosin = [lv["dmd"] for lv in meds["doxazosin"]["levels"]]
    assert doxazosin == [318781001, 318782008, 42209311000001101]  # 1, 2 and 4 mg tablets
    assert not {317993003, 317994009, 317995005} & _dmd_ids()
    assert meds["olanzapine"]["bnf"] == "040201060"  # olanzapine; 0402010AB is quetiapine
    assert meds["olanzapine"]["bnf"] != meds["olanzapine"]["bnf"][:7] + "AB"
    assert codes.snomed("fundoscopy") == 53524009  # ophthalmoscopy; 314971001 is camera fundoscopy
    assert codes.snomed("family_history_chd") == 266895004  # IHD in a relative under 60; 266894000 is any CVD
    assert "less than 60" in codes.get("family_history_chd").term


def test_unknown_key_is_named():
    with pytest.raises(KeyError, match="no_such_code"):
        codes.medcode("no_such_code")
    with pytest.raises(KeyError, match="no_such_code"):
        codes.snomed("no_such_code")


def test_lookups():
    assert codes.sql("bp_systolic", "abpm_systolic") == f"{codes.snomed('bp_systolic')}, {codes.snomed('abpm_systolic')}"
    assert {c.key for c in codes.in_cluster("SMOK")} == {"never_smoked", "ex_smoker", "light_smoker", "moderate_smoker",
                                                         "heavy_smoker"}
    with pytest.raises(KeyError, match="consultation_face_to_face"):
        codes.snomed("consultation_face_to_face")  # unresolved: no id to give
    case = codes.sql_case("sct", {"never_smoked": 0, "ex_smoker": "ex'"})
    assert case == f"CASE sct WHEN {codes.snomed('never_smoked')} THEN 0 WHEN {codes.snomed('ex_smoker')} THEN 'ex''' END"


def test_sql_case_runs():
    case = codes.sql_case("sct", {"light_smoker": 2, "heavy_smoker": 4})
    rows = duckdb.sql(f"SELECT {case} FROM (VALUES ({codes.snomed('heavy_smoker')}), ({codes.snomed('light_smoker')}), (1)) t(sct)")
    assert [r[0] for r in rows.fetchall()] == [4, 2, None]


def test_fhir_ethnic_categories_are_codes_csv_keys():
    eth = {c.key for c in codes.in_cluster("ETH")}
    assert set(reference.toml("fhir.toml")["ethnic_category"]) == eth
