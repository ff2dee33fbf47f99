"""From simulated arrays to the record's Arrow tables (schema.py), for the plan and for each block."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from synthgp.core import codes as code_table
from synthgp.core import dates, reference, schema
from synthgp.core.ids import PATID_MULT
from synthgp.core.rng import Draws
from synthgp.population import identities
from synthgp.population.people import LEAVER, TEMPORARY, People
from synthgp.population.plan import Plan
from synthgp.record.log import EventLog, Finished


def _opt(values: np.ndarray, missing: np.ndarray, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type=type_, mask=missing)


def table(t: schema.Table, columns: dict[str, pa.Array | np.ndarray]) -> pa.Table:
    """Build a table in declared column order; columns left out are all null."""
    n = len(next(iter(columns.values())))
    arrays = []
    for col in t.columns:
        v = columns.get(col.name)
        arrays.append(pa.nulls(n, col.type) if v is None else pa.array(v, type=col.type))
    return pa.Table.from_arrays(arrays, schema=t.arrow_schema)


# ---------------------------------------------------------------- plan-level tables

def plan_tables(plan: Plan) -> dict[str, pa.Table]:
    name, names_town, postcode = identities.practice_identity(plan)
    practice = table(schema.PRACTICE, {
        "pracid": plan.pracid, "lcd": dates.arrow(np.full(plan.n_practices, plan.end_day)),
        "uts": pa.nulls(plan.n_practices, pa.date32()), "region": plan.region_id, "name": name, "town": names_town,
        "postcode": postcode, "list_size": plan.list_size,
    })

    jobs = reference.toml("aurum_lookups.toml")["JobCat"]
    job_ids = np.array([r[0] for r in jobs["rows"]])
    keys = np.array(jobs["job_keys"])
    counts = plan.staff_count
    prac_of = np.repeat(np.arange(plan.n_practices), counts.sum(axis=1))
    job_of = np.concatenate([np.repeat(np.arange(counts.shape[1]), c) for c in counts])
    local = np.concatenate([np.arange(1, c.sum() + 1) for c in counts])
    staffid = local * PATID_MULT + plan.pracid[prac_of]
    staff = table(schema.STAFF, {"staffid": staffid, "pracid": plan.pracid[prac_of], "jobcatid": job_ids[job_of]})
    title, given, family = identities.staff_names(plan, staffid, keys[job_of])
    staff_identity = table(schema.STAFF_IDENTITY, {"staffid": staffid, "title": title, "given_name": given,
                                                    "family_name": family})
    return {"practice": practice, "staff": staff, "staff_identity": staff_identity}


def lookup_tables() -> dict[str, pa.Table]:
    """Aurum lookups and the medical dictionary, as small tables."""
    out: dict[str, pa.Table] = {}
    lk = reference.toml("aurum_lookups.toml")
    for name, spec in lk.items():
        if not isinstance(spec, dict):
            continue
        cols = list(zip(*spec["rows"]))
        out[name] = pa.table({c: pa.array(v) for c, v in zip(spec["columns"], cols)})
    reg = reference.toml("regions.toml")["lookup"]
    out["Region"] = pa.table({"regionid": pa.array(reg["ids"], pa.int16()), "description": reg["names"]})
    meds = reference.toml("medicines.toml")
    rows = [(k, v, lv) for k, v in meds.items() if isinstance(v, dict) for lv in v["levels"]]
    out["ProductDictionary"] = pa.table({
        "prodcodeid": pa.array([lv["prodcodeid"] for _, _, lv in rows], pa.int64()),
        "dmdid": pa.array([lv["dmd"] for _, _, lv in rows], pa.int64()),
        "termfromemis": [lv.get("term", f"{k.capitalize()} {lv['mg']:g}mg {v['form']}s") for k, v, lv in rows],
        "productname": [lv.get("term", f"{k.capitalize()} {lv['mg']:g}mg {v['form']}s") for k, v, lv in rows],
        "formulation": [v["form"].capitalize() for _, v, _ in rows],
        "routeofadministration": [v.get("route", "Oral") for _, v, _ in rows],
        "drugsubstancename": [k.capitalize() for k, _, _ in rows],
        "substancestrength": [f"{lv['mg']:g}mg" for _, _, lv in rows],
        "bnfchapter": [v["bnf"] for _, v, _ in rows],
    })
    out["MedicalDictionary"] = medical_dictionary()
    return out


def medical_dictionary() -> pa.Table:
    """Aurum's MedicalDictionary from data/codes.csv: the real medcodeid, Read codes, description id and EMIS
    category where a public CPRD list gives them (synthgp's reserved medcodeid and empty fields otherwise)."""
    rows = list(code_table.table().values())
    return pa.table({
        "medcodeid": pa.array([c.medcodeid for c in rows], pa.int64()),
        "term": [c.term for c in rows],
        "originalreadcode": pa.array([c.original_read or None for c in rows], pa.string()),
        "cleansedreadcode": pa.array([c.cleansed_read or None for c in rows], pa.string()),
        "snomedctconceptid": pa.array([c.snomed for c in rows], pa.int64()),
        "snomedctdescriptionid": pa.array([c.description_id for c in rows], pa.int64()),
        "release": pa.nulls(len(rows), pa.string()),
        "emiscodecategoryid": pa.array([c.emis_category for c in rows], pa.int16()),
        "cluster": [c.cluster for c in rows],
        "code_status": [c.status for c in rows],
    })


def consultation_medcodes() -> np.ndarray:
    """The medcodeid of each consultation type (Consultation.consmedcodeid), indexed by conssourceid."""
    lk = reference.toml("aurum_lookups.toml")["ConsSource"]
    ids = [r[0] for r in lk["rows"]]
    out = np.full(max(ids) + 1, -1, dtype=np.int64)
    out[ids] = [code_table.medcode(k) for k in lk["code_keys"]]
    return out


def ethnicity_medcodes() -> np.ndarray:
    """The medcodeid recording each ethnic group of population.toml (its `code` keys, in codes.csv)."""
    return np.array([code_table.medcode(k) for k in reference.toml("population.toml")["ethnicity"]["code"]], np.int64)


# ---------------------------------------------------------------- block tables

def patient(plan: Plan, p: People) -> pa.Table:
    lk = reference.toml("aurum_lookups.toml")["PatientType"]["rows"]
    ptype = {desc: i for i, desc in lk}
    under16 = (plan.end_day - p.dob) < 16 * 365.25
    return table(schema.PATIENT, {
        "patid": p.patid, "pracid": p.pracid, "usualgpstaffid": p.usual_gp,
        "gender": np.where(p.male, 1, 2), "yob": dates.year_of(p.dob),
        "mob": _opt(dates.month_of(p.dob), ~under16, pa.int8()),
        "emis_ddate": dates.arrow(p.death, p.death < 0), "regstartdate": dates.arrow(p.regstart),
        "patienttypeid": np.where(p.status == TEMPORARY, ptype["Temporary"], ptype["Regular"]),
        "regenddate": dates.arrow(p.regend, p.regend < 0),
        "acceptable": np.where(p.status == TEMPORARY, 0, 1),
        "cprd_ddate": dates.arrow(p.death, p.death < 0),
    })


def ethnicity(plan: Plan, p: People, log: EventLog) -> None:
    """An ethnicity code for those whose ethnicity the practice recorded, on the day population/people.py gives."""
    lk = reference.toml("aurum_lookups.toml")
    r = np.flatnonzero(p.ethnicity_recorded)
    last = np.where(p.regend[r] >= 0, p.regend[r], plan.end_day)
    obsdate = np.minimum(p.ethnicity_day[r], np.where(p.death[r] >= 0, np.minimum(last, p.death[r]), last))
    obstype = {d: i for i, d in lk["ObsType"]["rows"]}["Observation"]
    log.observation(r, obsdate, ethnicity_medcodes()[p.ethnicity[r]], obstype=obstype)


def record_tables(plan: Plan, p: People, fin: Finished, problem_key: np.ndarray) -> dict[str, pa.Table]:
    def date(x: np.ndarray) -> pa.Array:
        return dates.arrow(x, x == dates.NONE)

    def opt(x: np.ndarray, type_: pa.DataType) -> pa.Array:
        return pa.array(x, type=type_, mask=x < 0)

    c, o, i = fin.cons, fin.obs, fin.issue
    out = {"consultation": table(schema.CONSULTATION, {
        "patid": p.patid[c["pat"]], "consid": c["consid"], "pracid": p.pracid[c["pat"]], "consdate": date(c["day"]),
        "enterdate": date(c["day"]), "staffid": c["staff"], "conssourceid": c["source"],
        "consmedcodeid": opt(consultation_medcodes()[c["source"]], pa.int64())})}
    out["observation"] = table(schema.OBSERVATION, {
        "patid": p.patid[o["pat"]], "consid": opt(o["consid"], pa.int64()), "pracid": p.pracid[o["pat"]],
        "obsid": o["obsid"], "obsdate": date(o["day"]), "enterdate": date(o["enter"]), "staffid": _obs_staff(plan, p, o, c),
        "parentobsid": opt(o["parentobsid"], pa.int64()), "medcodeid": o["medcode"],
        "value": pa.array(o["value"], mask=np.isnan(o["value"])), "numunitid": opt(np.where(o["unit"] > 0, o["unit"], -1), pa.int16()),
        "obstypeid": o["obstype"], "numrangelow": pa.array(o["low"], mask=np.isnan(o["low"])),
        "numrangehigh": pa.array(o["high"], mask=np.isnan(o["high"])),
    })
    pr = np.flatnonzero(o["problem"] > 0)
    out["problem"] = table(schema.PROBLEM, {
        "patid": p.patid[o["pat"][pr]], "obsid": o["obsid"][pr], "pracid": p.pracid[o["pat"][pr]],
        "probenddate": date(o["probend"][pr]),
        "probstatusid": np.where(o["probend"][pr] != dates.NONE, 2, o["problem"][pr]), "signid": np.ones(len(pr), dtype=np.int64)})
    rf = np.flatnonzero(o["referral"] > 0)
    out["referral"] = table(schema.REFERRAL, {
        "patid": p.patid[o["pat"][rf]], "obsid": o["obsid"][rf], "pracid": p.pracid[o["pat"][rf]],
        "refurgencyid": o["referral"][rf], "refservicetypeid": np.where(o["referral"][rf] == 3, 3, 1),
        "refmodeid": np.where(o["referral"][rf] == 3, 3, 1)})
    prob_obsid = np.full(len(p.patid), -1, dtype=np.int64)
    has = problem_key["key"] >= 0
    prob_obsid[problem_key["pat"][has]] = fin.obs_map[problem_key["key"][has]]
    meds = reference.toml("medicines.toml")
    for_hypertension = np.array([lv["prodcodeid"] for v in meds.values() if isinstance(v, dict) and v["class"] in ("A", "C", "D", "S")
                                 for lv in v["levels"]])
    issue_problem = np.where(np.isin(i["prod"], for_hypertension), prob_obsid[i["pat"]], -1)
    out["drug_issue"] = table(schema.DRUG_ISSUE, {
        "patid": p.patid[i["pat"]], "issueid": i["issueid"], "pracid": p.pracid[i["pat"]],
        "probobsid": opt(issue_problem, pa.int64()), "drugrecid": i["drugrecid"], "issuedate": date(i["day"]),
        "enterdate": date(i["day"]), "staffid": i["staff"], "prodcodeid": i["prod"], "dosageid": i["dosage"],
        "quantity": i["qty"], "quantunitid": i["qunit"], "duration": i["duration"], "estnhscost": i["cost"]})
    return out


def _obs_staff(plan: Plan, p: People, o: dict[str, np.ndarray], c: dict[str, np.ndarray]) -> np.ndarray:
    """Who entered each observation: the clinician of its consultation; without one, a clinician of the practice
    by the kind of entry (an admin for demographic codes, an HCA for values, a nurse otherwise)."""
    prac = p.practice[o["pat"]]
    lk = reference.toml("aurum_lookups.toml")["JobCat"]["job_keys"]
    job = np.where(o["obstype"] == 5, lk.index("admin"), np.where(o["obstype"] == 4, lk.index("hca"), lk.index("nurse")))
    count = plan.staff_count[prac, job]
    job = np.where(count > 0, job, lk.index("gp"))
    k = plan.staff_first[prac, job] + Draws(plan.seed, "obs.staff").integers(o["obsid"], plan.staff_count[prac, job])
    staff = k * PATID_MULT + p.pracid[o["pat"]]
    order = np.argsort(c["consid"], kind="stable")
    at = np.clip(np.searchsorted(c["consid"], o["consid"], sorter=order), 0, max(len(order) - 1, 0))
    if not len(order):
        return staff
    found = (o["consid"] >= 0) & (c["consid"][order[at]] == o["consid"])
    return np.where(found, c["staff"][order[at]], staff)


def deprivation(p: People) -> pa.Table:
    """CPRD's linked small-area deprivation. The simulation keeps IMD quintiles with 1 = most deprived (People.imd);
    CPRD's linkage (patient_2019_imd) counts the other way, 1 = least deprived, and so does the record."""
    return table(schema.DEPRIVATION, {"patid": p.patid, "pracid": p.pracid, "e2019_imd_5": 6 - p.imd,
                                      "townsend": p.townsend})


def truth_table(t: schema.Table, cols: dict[str, np.ndarray], p: People) -> pa.Table:
    out: dict[str, pa.Array | np.ndarray] = {"patid": p.patid[cols["pat"].astype(np.int64)]}
    for c in t.columns[1:]:
        v = cols[c.name]
        if c.type == pa.date32():
            out[c.name] = dates.arrow(v.astype(np.int64), v == dates.NONE)
        elif c.type == pa.string():
            out[c.name] = pa.array([None if x is None else str(x) for x in v], pa.string())
        elif pa.types.is_floating(c.type):
            out[c.name] = pa.array(v, type=c.type, mask=np.isnan(v.astype(np.float64)))
        else:
            out[c.name] = v
    return table(t, out)


def person_truth(plan: Plan, p: People) -> pa.Table:
    pop = reference.toml("population.toml")["ethnicity"]
    exit_reason = np.where(p.status == TEMPORARY, "temporary",
                           np.where(p.death >= 0, "died", np.where(p.status == LEAVER, "moved", None)))
    return table(schema.PERSON_TRUTH, {
        "patid": p.patid, "ethnicity": np.asarray(pop["groups"])[p.ethnicity],
        "ethnicity_broad": np.asarray(pop["broad"])[p.ethnicity], "date_of_birth": dates.arrow(p.dob),
        "date_of_death": dates.arrow(p.death, p.death < 0), "exit_reason": exit_reason,
    })
