"""CPRD's identifiers as a user meets them: real medcodeids and prodcodeids (and synthgp's 19-digit reserved ones)
come out unchanged in every format, consultations carry their type's code, the linked deprivation file counts
quintiles as CPRD does, and a published CPRD Aurum code list selects our records as our own definition does."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from synthgp.core import codes, reference
from synthgp.formats import aurum

from tests.conftest import generate

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("identifiers") / "out", 2000, seed=16,
                    formats=("duckdb", "aurum", "parquet", "fhir", "csv", "cprd-cvd"))


@pytest.fixture(scope="module")
def db(out):
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    yield con
    con.close()


def _aurum(out: Path, name: str) -> list[dict[str, str]]:
    """Rows of an Aurum file, or of every CPRD-named chunk of a table (a name without .txt)."""
    rows: list[dict[str, str]] = []
    for path in [out / "aurum" / name] if name.endswith(".txt") else aurum.files(out / "aurum", name):
        with path.open(newline="") as f:
            rows += list(csv.DictReader(f, delimiter="\t"))
    return rows


def _medicines() -> list[dict]:
    return [lv for v in reference.toml("medicines.toml").values() if isinstance(v, dict) for lv in v["levels"]]


def test_medcodeids_survive_every_format(out, db):
    dictionary = {c.medcodeid for c in codes.table().values()}
    used = {r[0] for r in db.execute("SELECT DISTINCT medcodeid FROM observation").fetchall()}
    assert used <= dictionary
    # the record uses both real CPRD ids and synthgp's reserved 19-digit ones, so both kinds are exercised below
    assert any(codes.is_reserved(m) for m in used) and any(not codes.is_reserved(m) for m in used)
    assert {r[0] for r in db.execute("SELECT medcodeid FROM medical_dictionary").fetchall()} == dictionary
    # Aurum text: the same integers, written in full (no exponent, no rounding)
    assert {int(r["medcodeid"]) for r in _aurum(out, "Observation")} == used
    assert {int(r["medcodeid"]) for r in _aurum(out, "MedicalDictionary.txt")} == dictionary
    # Parquet: int64, the same values
    obs = pq.read_table(out / "parquet" / "observation").column("medcodeid")
    assert str(obs.type) == "int64" and set(obs.to_pylist()) == used
    # FHIR and Synthea CSV carry the SNOMED CT concepts of those medcodeids, as text
    snomed = {str(c.snomed) for c in codes.table().values() if c.medcodeid in used and c.snomed}
    snomed |= {c["code"] for c in reference.toml("fhir.toml")["blood_pressure"]["panel"] if c["system"] == "snomed"}
    fhir = {c["code"] for line in (out / "fhir" / "Observation.ndjson").open()
            for c in json.loads(line)["code"]["coding"] if c["system"] == "http://snomed.info/sct"}
    assert fhir and fhir <= snomed
    with (out / "csv" / "observations.csv").open(newline="") as f:
        assert {r["CODE"] for r in csv.DictReader(f)} <= snomed


def test_prodcodeids_and_dmd_ids_survive_every_format(out, db):
    prods = {lv["prodcodeid"]: lv["dmd"] for lv in _medicines()}
    issued = {r[0] for r in db.execute("SELECT DISTINCT prodcodeid FROM drug_issue").fetchall()}
    assert issued and issued <= set(prods)
    assert {int(r["prodcodeid"]) for r in _aurum(out, "DrugIssue")} == issued
    dictionary = {int(r["prodcodeid"]): int(r["dmdid"]) for r in _aurum(out, "ProductDictionary.txt")}
    assert dictionary == prods
    assert set(pq.read_table(out / "parquet" / "drug_issue").column("prodcodeid").to_pylist()) == issued
    dmd = {str(prods[p]) for p in issued}
    fhir = {c["code"] for line in (out / "fhir" / "MedicationRequest.ndjson").open()
            for c in json.loads(line)["medicationCodeableConcept"]["coding"]}
    assert fhir == dmd
    with (out / "csv" / "medications.csv").open(newline="") as f:
        assert {r["CODE"] for r in csv.DictReader(f)} == dmd


def test_cprd_cvd_reads_ethnicity_through_real_medcodeids(out, db):
    """The flat table maps each ethnicity medcodeid to QRISK3's group: with CPRD's ids it must still find them."""
    table = pq.read_table(next((out / "cprd_cvd").glob("*.parquet"))).to_pydict()
    baseline = json.loads((out / "cprd_cvd" / "data_dictionary.json").read_text())["baseline"]
    recorded = {r[0] for r in db.execute("""SELECT DISTINCT o.patid FROM observation o
        JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'ETH' AND o.obsdate <= ?::DATE""",
        [baseline]).fetchall()}
    ethr = dict(zip(table["patid"], table["ethr"]))
    with_code = [p for p in ethr if p in recorded]
    assert len(with_code) > 100 and all(ethr[p] is not None for p in with_code)
    assert all(ethr[p] is None for p in ethr if p not in recorded)


def test_dictionaries_carry_cprd_fields(out):
    md = {int(r["medcodeid"]): r for r in _aurum(out, "MedicalDictionary.txt")}
    eh = md[codes.medcode("essential_hypertension")]
    assert (eh["term"], eh["originalreadcode"], eh["cleansedreadcode"], eh["snomedctconceptid"],
            eh["snomedctdescriptionid"], eh["emiscodecategoryid"]) == (
        "Essential hypertension", "G20", "G20..00", str(codes.snomed("essential_hypertension")),
        str(codes.medcode("essential_hypertension")), "32")
    filled = sum(bool(r["originalreadcode"]) for r in md.values())
    assert filled >= 35, f"only {filled} dictionary rows carry a Read code"
    reserved = [r for m, r in md.items() if codes.is_reserved(m)]
    assert reserved and not any(r["originalreadcode"] or r["snomedctdescriptionid"] for r in reserved)


def test_consultations_carry_their_type_code(out, db):
    lk = reference.toml("aurum_lookups.toml")["ConsSource"]
    expected = {src: codes.medcode(key) for (src, _), key in zip(lk["rows"], lk["code_keys"])}
    rows = db.execute("SELECT conssourceid, consmedcodeid, count(*) FROM consultation GROUP BY ALL").fetchall()
    assert rows and all(m == expected[s] for s, m, _ in rows)
    text = _aurum(out, "Consultation")
    assert all(r["consmedcodeid"] == str(expected[int(r["conssourceid"])]) for r in text)
    dictionary = {r["medcodeid"] for r in _aurum(out, "MedicalDictionary.txt")}
    assert {r["consmedcodeid"] for r in text} <= dictionary


def test_practice_uts_is_empty_as_in_cprd_aurum(out):
    practices = _aurum(out, "Practice")
    assert practices and all(r["uts"] == "" and r["lcd"] for r in practices)


def test_linked_deprivation_counts_as_cprd_does(out, db):
    """CPRD's patient_2019_imd: e2019_imd_5 = 1 least deprived ... 5 most deprived, so the Townsend score (higher is
    more deprived) rises with the quintile, in the linked file and in the DuckDB table it is drawn from."""
    rows = _aurum(out, "linked/patient_2019_imd.txt")
    by_q: dict[int, list[float]] = {}
    for r in rows:
        by_q.setdefault(int(r["e2019_imd_5"]), []).append(float(r["townsend"]))
    means = [sum(by_q[q]) / len(by_q[q]) for q in range(1, 6)]
    assert means == sorted(means) and means[4] - means[0] > 3, means
    db_means = [m for _, m in db.execute("""SELECT e2019_imd_5, avg(townsend) FROM patient_deprivation
        GROUP BY 1 ORDER BY 1""").fetchall()]
    assert db_means == sorted(db_means)


def _public_list() -> set[int]:
    lines = [line for line in (FIXTURES / "exeter_medcodelist_hypertension_top35.txt").read_text().splitlines()
             if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    assert len(rows) == 35
    return {int(r["MedCodeId"]) for r in rows}


def test_a_published_cprd_code_list_selects_our_hypertensive_patients(out, db):
    """A researcher's CPRD Aurum hypertension list (Exeter, medcodeids) run on our Aurum Observation file finds exactly
    the patients our own definition finds: those with a diagnosis code our pathway writes (cluster HYP, QOF's
    HYP_COD concepts)."""
    public = _public_list()
    theirs = {int(r["patid"]) for r in _aurum(out, "Observation") if int(r["medcodeid"]) in public}
    ours = {r[0] for r in db.execute("""SELECT DISTINCT o.patid FROM observation o
        JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'HYP'""").fetchall()}
    assert len(ours) > 50
    assert theirs == ours
    # and every diagnosis code the pathway writes is one the researcher's list knows
    assert {c.medcodeid for c in codes.in_cluster("HYP")} <= public
