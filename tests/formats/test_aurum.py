"""The Aurum text files as a user meets them: the specified columns and dates, CPRD's id conventions, no identities."""

import csv
import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest

from synthgp.formats import aurum

# Column lists as the CPRD Aurum specification gives them (aurum.md), written out independently here.
AURUM = {
    "Patient": "patid pracid usualgpstaffid gender yob mob emis_ddate regstartdate patienttypeid regenddate acceptable cprd_ddate",
    "Practice": "pracid lcd uts region",
    "Staff": "staffid pracid jobcatid",
    "Observation": "patid consid pracid obsid obsdate enterdate staffid parentobsid medcodeid value numunitid obstypeid numrangelow numrangehigh probobsid",
    "Consultation": "patid consid pracid consdate enterdate staffid conssourceid cprdconstype consmedcodeid",
    "Problem": "patid obsid pracid parentprobobsid probenddate expduration lastrevdate lastrevstaffid parentprobrelid probstatusid signid",
    "Referral": "patid obsid pracid refsourceorgid reftargetorgid refurgencyid refservicetypeid refmodeid",
    "DrugIssue": "patid issueid pracid probobsid drugrecid issuedate enterdate staffid prodcodeid dosageid quantity quantunitid duration estnhscost",
}
DATE_COLS = {"emis_ddate", "regstartdate", "regenddate", "cprd_ddate", "lcd", "uts", "obsdate", "enterdate",
             "consdate", "issuedate", "probenddate", "lastrevdate"}
DDMMYYYY = re.compile(r"^\d{2}/\d{2}/\d{4}$")


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of an Aurum file; a table name (no .txt) reads all its CPRD-named chunks."""
    if path.suffix != ".txt":
        chunks = [_read(f) for f in aurum.files(path.parent, path.name)]
        assert chunks, f"no {path.name} chunk in {path.parent}"
        assert all(h == chunks[0][0] for h, _ in chunks), "every chunk repeats the header"
        return chunks[0][0], [r for _, rows in chunks for r in rows]
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return rows[0], rows[1:]


@pytest.mark.parametrize("name", sorted(AURUM))
def test_aurum_files_have_the_specified_columns_and_dates(small, name):
    header, rows = _read(small / "aurum" / name)
    assert header == AURUM[name].split()
    assert rows, f"{name} is empty"
    for col in DATE_COLS & set(header):
        i = header.index(col)
        values = [r[i] for r in rows if r[i] != ""]
        assert all(DDMMYYYY.match(v) for v in values), col
        for v in values[:2000]:
            dt.datetime.strptime(v, "%d/%m/%Y")
    for r in rows:
        assert len(r) == len(header)


def test_aurum_ids_follow_cprd_conventions(small):
    header, rows = _read(small / "aurum" / "Patient")
    h = {c: i for i, c in enumerate(header)}
    patids = [r[h["patid"]] for r in rows]
    assert len(set(patids)) == len(patids)
    assert all(p.endswith(r[h["pracid"]]) for p, r in zip(patids, rows))
    assert {r[h["gender"]] for r in rows} <= {"1", "2", "3"}
    _, staff = _read(small / "aurum" / "Staff")
    assert all(s[0].endswith(s[1]) for s in staff)
    # every code used is in the dictionary; every lookup the tables use is shipped
    ohead, obs = _read(small / "aurum" / "Observation")
    _, dic = _read(small / "aurum" / "MedicalDictionary.txt")
    assert {o[ohead.index("medcodeid")] for o in obs} <= {d[0] for d in dic}
    _, prod = _read(small / "aurum" / "ProductDictionary.txt")
    ihead, issues = _read(small / "aurum" / "DrugIssue")
    assert {i[ihead.index("prodcodeid")] for i in issues} <= {p[0] for p in prod}
    for lookup in ("JobCat", "Region", "PatientType", "Gender", "ObsType", "NumUnit", "ConsSource", "ProbStatus",
                   "RefUrgency", "QuantUnit", "common_dosages"):
        assert (small / "aurum" / "lookups" / f"{lookup}.txt").is_file()


def test_aurum_files_carry_no_identities(small):
    con = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    nhs, name = con.execute("SELECT nhs_number, family_name FROM patient_identity LIMIT 1").fetchone()
    for f in (small / "aurum").rglob("*.txt"):
        body = f.read_text()
        assert nhs not in body
        assert "nhs_number" not in body and "family_name" not in body and "ethnicity" not in body.split("\n")[0]
