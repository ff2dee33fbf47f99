"""The output as a user meets it: Aurum files, the DuckDB file, identities, determinism."""

import csv
import datetime as dt
import hashlib
import re
from pathlib import Path

import duckdb
import pytest

from synthgp.core import nhs_number, reference

from tests.conftest import generate

# Column lists as the CPRD Aurum specification gives them (aurum.md), written out independently here.
AURUM = {
    "Patient.txt": "patid pracid usualgpstaffid gender yob mob emis_ddate regstartdate patienttypeid regenddate acceptable cprd_ddate",
    "Practice.txt": "pracid lcd uts region",
    "Staff.txt": "staffid pracid jobcatid",
    "Observation.txt": "patid consid pracid obsid obsdate enterdate staffid parentobsid medcodeid value numunitid obstypeid numrangelow numrangehigh probobsid",
    "Consultation.txt": "patid consid pracid consdate enterdate staffid conssourceid cprdconstype consmedcodeid",
    "Problem.txt": "patid obsid pracid parentprobobsid probenddate expduration lastrevdate lastrevstaffid parentprobrelid probstatusid signid",
    "Referral.txt": "patid obsid pracid refsourceorgid reftargetorgid refurgencyid refservicetypeid refmodeid",
    "DrugIssue.txt": "patid issueid pracid probobsid drugrecid issuedate enterdate staffid prodcodeid dosageid quantity quantunitid duration estnhscost",
}
DATE_COLS = {"emis_ddate", "regstartdate", "regenddate", "cprd_ddate", "lcd", "uts", "obsdate", "enterdate",
             "consdate", "issuedate", "probenddate", "lastrevdate"}
DDMMYYYY = re.compile(r"^\d{2}/\d{2}/\d{4}$")


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
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
    header, rows = _read(small / "aurum" / "Patient.txt")
    h = {c: i for i, c in enumerate(header)}
    patids = [r[h["patid"]] for r in rows]
    assert len(set(patids)) == len(patids)
    assert all(p.endswith(r[h["pracid"]]) for p, r in zip(patids, rows))
    assert {r[h["gender"]] for r in rows} <= {"1", "2", "3"}
    _, staff = _read(small / "aurum" / "Staff.txt")
    assert all(s[0].endswith(s[1]) for s in staff)
    # every code used is in the dictionary; every lookup the tables use is shipped
    ohead, obs = _read(small / "aurum" / "Observation.txt")
    _, dic = _read(small / "aurum" / "MedicalDictionary.txt")
    assert {o[ohead.index("medcodeid")] for o in obs} <= {d[0] for d in dic}
    _, prod = _read(small / "aurum" / "ProductDictionary.txt")
    ihead, issues = _read(small / "aurum" / "DrugIssue.txt")
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


def test_identities_are_artificial_and_well_formed(small):
    con = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    cur = con.execute("SELECT * FROM patient_identity")
    cols = [d[0] for d in cur.description]
    ident = [dict(zip(cols, row)) for row in cur.fetchall()]
    nhs = [r["nhs_number"] for r in ident]
    assert len(set(nhs)) == len(nhs) == con.execute("SELECT count(*) FROM patient").fetchone()[0]
    assert all(nhs_number.is_valid(n) and n.startswith("999") for n in nhs)
    outward = {r["outward"] for r in reference.csv_rows("postcodes.csv") if r["region"] == "south_west"}
    drama = re.compile(r"^(07700 900\d{3}|01632 960\d{3}|0117 496 0\d{3}|020 7946 0\d{3})$")
    for r in ident:
        out, inward = r["postcode"].split(" ")
        assert out in outward and re.fullmatch(r"\d[ABD-HJLNP-UW-Z]{2}", inward)
        for ph in (r["phone_home"], r["phone_mobile"]):
            assert ph is None or drama.match(ph), ph
        assert r["email"] is None or r["email"].split("@")[1] in {"example.com", "example.org", "example.net"}
        assert r["given_name"] and r["family_name"] and r["title"]
    # names are Faker en_GB's
    from faker.providers.person.en_GB import Provider

    assert {r["family_name"] for r in ident} <= set(Provider.last_names)


def test_duckdb_holds_every_table_with_docs(small):
    from synthgp.core import schema

    con = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {t.name for t in schema.ALL_TABLES} <= tables
    comment = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'person_truth'").fetchone()[0]
    assert comment.startswith("[truth]")


def _digest(out: Path) -> dict[str, str]:
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    from synthgp.core import schema

    d = {}
    for t in schema.ALL_TABLES:
        rows = con.execute(f"SELECT * FROM {t.name}").fetchall()
        d[t.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    for f in sorted((out / "aurum").rglob("*.txt")):
        d[str(f.relative_to(out))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return d


def test_same_seed_same_output_whatever_the_workers_and_block_size(tmp_path):
    # One block, three blocks over two processes, and six uneven blocks: every
    # per-person draw must be keyed by the person, never by where they fall.
    one = generate(tmp_path / "one", 12_000, seed=9, block_size=50_000)
    two = generate(tmp_path / "two", 12_000, seed=9, workers=2, block_size=5_000)
    small_blocks = generate(tmp_path / "three", 12_000, seed=9, block_size=2_048)
    d1 = _digest(one)
    assert d1 == _digest(two)
    assert d1 == _digest(small_blocks)
    other = generate(tmp_path / "four", 12_000, seed=10)
    assert _digest(other)["patient"] != d1["patient"]


def test_an_existing_dask_cluster_gives_the_same_output(tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = generate(tmp_path / "remote", 12_000, seed=21, scheduler=cluster.scheduler_address, block_size=5_000)
    local = generate(tmp_path / "local", 12_000, seed=21)
    assert _digest(remote) == _digest(local)


def test_local_cluster_workers_keep_glibc_dynamic_mmap_threshold():
    """Dask's default MALLOC_TRIM_THRESHOLD_ makes numpy blocks page-fault heavily (see engine.local_cluster);
    our workers must not carry it, but must keep Dask's one-thread limits for BLAS/OpenMP."""
    import os

    from dask.distributed import Client

    from synthgp.simulate.blocks import local_cluster

    with local_cluster(1) as cluster, Client(cluster) as client:
        env = next(iter(client.run(lambda: dict(os.environ)).values()))
    assert "MALLOC_TRIM_THRESHOLD_" not in env
    assert env.get("OMP_NUM_THREADS") == "1"
