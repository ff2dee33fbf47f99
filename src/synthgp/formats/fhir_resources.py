"""The record as FHIR R4 resources shaped to the UK Core profiles, built in SQL.

Each resource type is one SELECT over the record tables giving (patid, id, resource), where
`resource` is the resource's JSON text. DuckDB builds the JSON for millions of rows in parallel, so
the bulk export, the per-patient bundles and the FHIR API all use these same queries: what the API
serves is byte for byte what the export wrote. The mapping's codes, systems and profiles live in
`data/fhir.toml`.

Mapping (record -> FHIR):
  practice -> Organization; staff -> Practitioner and PractitionerRole; patient (+ identity, latest
  ethnicity code) -> Patient; consultation -> Encounter; problem (+ its observation) -> Condition;
  a systolic/diastolic pair -> one blood-pressure panel Observation; immunisations (a flu vaccination given,
  or declined) -> Immunization; other observations -> Observation, or Procedure for reviews, health checks
  and tests of organ damage; referral -> ServiceRequest;
  drug_issue -> MedicationRequest (dm+d coded, one per issue).
Ids are the record's own ids (Patient/<patid>, Observation/<obsid>, ...), so a FHIR resource and its
Aurum row are found by the same number. Patient-level queries also give search columns (sdate, scodes,
scat) for the FHIR API; a query that does not select them (or the resource) does not compute them.
"""

from __future__ import annotations

from functools import cache
from typing import Callable

from synthgp.core import codes, reference

# resource types in the order a bundle lists them (referenced before referencing)
PATIENT_TYPES = ("Patient", "Encounter", "Condition", "Observation", "DiagnosticReport", "Procedure", "Immunization",
                 "ServiceRequest", "MedicationRequest")
PRACTICE_TYPES = ("Organization", "Practitioner", "PractitionerRole")
TYPES = PRACTICE_TYPES + PATIENT_TYPES

# a filter on a table alias, e.g. lambda a: f"{a}.patid IN (SELECT patid FROM sel)"
Filter = Callable[[str], str]


def everyone(alias: str) -> str:
    """The filter that keeps every row."""
    return "TRUE"


def q(text: str) -> str:
    """A SQL string literal (for the packaged mapping's own constants, never user input)."""
    return "'" + str(text).replace("'", "''") + "'"


@cache
def mapping() -> dict:
    return reference.toml("fhir.toml")


def profile(name: str) -> str:
    return mapping()["profile_base"] + f"UKCore-{name}"


def type_profile(kind: str) -> str:
    """The UK Core profile the resources of a type claim (DiagnosticReport: the lab report's)."""
    return profile(mapping()["diagnostic_report"]["profile"] if kind == "DiagnosticReport" else kind)


def _sys(key: str) -> str:
    return q(mapping()["system"][key])


def _meta(name: str) -> str:
    return f"{{'profile': [{q(profile(name))}]}}"


def _ref(kind: str, col: str) -> str:
    """A Reference, or NULL when the id column is NULL."""
    return f"CASE WHEN {col} IS NOT NULL THEN {{'reference': '{kind}/' || CAST({col} AS VARCHAR)}} END"


def _nonempty(expr: str) -> str:
    """A list without its NULL elements, or NULL when none are left (FHIR forbids empty arrays)."""
    return (f"CASE WHEN len(list_filter({expr}, lambda x: x IS NOT NULL)) > 0 "
            f"THEN list_filter({expr}, lambda x: x IS NOT NULL) END")


def _case(col: str, table: dict, cast: str = "") -> str:
    whens = " ".join(f"WHEN {k if cast else q(k)} THEN {q(v)}" for k, v in table.items())
    return f"CASE {col}{cast} {whens} END"


def _concept(sct: str, term: str, extra: str = "", text: str | None = None) -> str:
    """CodeableConcept of a record code: SNOMED CT coding when the code has a concept id, text always
    (the term, or `text` where a profile fixes it)."""
    coding = f"{{'system': {_sys('snomed')}, 'code': CAST({sct} AS VARCHAR), 'display': {term}}}"
    codings = f"[{coding}{', ' + extra if extra else ''}]"
    return f"{{'coding': CASE WHEN {sct} IS NOT NULL THEN {codings} END, 'text': {text or term}}}"


def _quantity(value: str, unit: str, unit_text: str | None = None) -> str:
    """A Quantity with the UCUM code of the record's unit; `unit_text` where a profile fixes the unit's text."""
    ucum = _case(unit, mapping()["ucum"])
    return (f"CASE WHEN {value} IS NOT NULL THEN {{'value': {value}, 'unit': {unit_text or unit}, "
            f"'system': CASE WHEN {ucum} IS NOT NULL THEN {_sys('ucum')} END, 'code': {ucum}}} END")


def _instant(day: str) -> str:
    """A FHIR instant for a record date (the record keeps no time: midnight UTC), NULL for NULL."""
    return f"strftime({day}, '%Y-%m-%dT00:00:00Z')"


def _json(struct: str) -> str:
    return f"json_strip_nulls(to_json({struct}))::VARCHAR AS resource"


# ------------------------------------------------------------------------------ practice-level

def _coding(c: dict, system: str | None = None) -> str:
    """A Coding of a mapping entry {system?, code, display}."""
    return f"{{'system': {q(system or c['system'])}, 'code': {q(c['code'])}, 'display': {q(c['display'])}}}"


def organization(flt: Filter = everyone) -> str:
    org_type = _coding(mapping()["uk_core"]["organization_type"])
    return f"""
SELECT NULL::BIGINT AS patid, CAST(pr.pracid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'Organization', 'id': CAST(pr.pracid AS VARCHAR), 'meta': {_meta('Organization')},
  'active': true,
  'type': [{{'coding': [{org_type}], 'text': 'GP practice'}}],
  'name': pr.name,
  'address': [{{'use': 'work', 'city': pr.town, 'postalCode': pr.postcode, 'country': 'GB'}}]
}}''')}
FROM practice pr WHERE {flt('pr')}"""


def practitioner(flt: Filter = everyone) -> str:
    return f"""
SELECT NULL::BIGINT AS patid, CAST(s.staffid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'Practitioner', 'id': CAST(s.staffid AS VARCHAR), 'meta': {_meta('Practitioner')},
  'active': true,
  'name': [{{'use': 'official', 'family': si.family_name, 'given': [si.given_name], 'prefix': [si.title]}}]
}}''')}
FROM staff s JOIN staff_identity si USING (staffid) WHERE {flt('s')}"""


def practitioner_role(flt: Filter = everyone) -> str:
    uk = mapping()["uk_core"]
    local = f"{{'system': {q(uk['jobcat_system'])}, 'code': CAST(s.jobcatid AS VARCHAR), 'display': j.description}}"
    sct = " ".join(f"WHEN {q(k)} THEN {_coding(v, mapping()['system']['snomed'])}" for k, v in uk["role_snomed"].items())
    role = f"list_filter([CASE j.description {sct} END, {local}], lambda x: x IS NOT NULL)"
    return f"""
SELECT NULL::BIGINT AS patid, CAST(s.staffid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'PractitionerRole', 'id': CAST(s.staffid AS VARCHAR), 'meta': {_meta('PractitionerRole')},
  'active': true,
  'practitioner': {{'reference': 'Practitioner/' || CAST(s.staffid AS VARCHAR)}},
  'organization': {{'reference': 'Organization/' || CAST(s.pracid AS VARCHAR)}},
  'code': [{{'coding': {role}, 'text': j.description}}]
}}''')}
FROM staff s JOIN "lookup_JobCat" j USING (jobcatid) WHERE {flt('s')}"""


# ------------------------------------------------------------------------------ patient-level

def patient(flt: Filter = everyone) -> str:
    m = mapping()
    # fhir.toml names each ethnicity code by its codes.csv key; the record carries its SNOMED CT id
    eth_rows = ", ".join(f"({codes.snomed(k)}, {q(v[0])}, {q(v[1])})" for k, v in m["ethnic_category"].items())
    ver = m["nhs_number_verification"]
    telecom = _nonempty(
        "[CASE WHEN i.phone_home IS NOT NULL THEN {'system': 'phone', 'value': i.phone_home, 'use': 'home'} END, "
        "CASE WHEN i.phone_mobile IS NOT NULL THEN {'system': 'phone', 'value': i.phone_mobile, 'use': 'mobile'} END, "
        "CASE WHEN i.email IS NOT NULL THEN {'system': 'email', 'value': i.email, 'use': 'home'} END]")
    gps = _nonempty(f"[{_ref('Organization', 'p.pracid')}, {_ref('Practitioner', 'p.usualgpstaffid')}]")
    return f"""
WITH eth_map(sct, code, display) AS (VALUES {eth_rows}),
eth AS (
  SELECT o.patid, arg_max(d.snomedctconceptid, o.obsdate) AS sct
  FROM observation o JOIN medical_dictionary d USING (medcodeid)
  WHERE d.cluster = 'ETH' AND {flt('o')} GROUP BY o.patid)
SELECT p.patid, CAST(p.patid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'Patient', 'id': CAST(p.patid AS VARCHAR), 'meta': {_meta('Patient')},
  'extension': CASE WHEN em.code IS NOT NULL THEN [{{'url': {q(m['extension']['ethnic_category'])},
      'valueCodeableConcept': {{'coding': [{{'system': {_sys('ethnic_category')}, 'code': em.code, 'display': em.display}}]}}}}] END,
  'identifier': [{{
      'extension': [{{'url': {q(m['extension']['nhs_number_verification'])}, 'valueCodeableConcept': {{'coding': [
          {{'system': {_sys('nhs_number_verification')}, 'code': {q(ver['code'])}, 'display': {q(ver['display'])}}}]}}}}],
      'system': {_sys('nhs_number')}, 'value': i.nhs_number}}],
  'active': p.regenddate IS NULL AND p.emis_ddate IS NULL,
  'name': [{{'use': 'official', 'family': i.family_name, 'given': [i.given_name], 'prefix': [i.title]}}],
  'telecom': {telecom},
  'gender': {_case('p.gender', m['gender'], cast='::INTEGER')},
  'birthDate': i.date_of_birth,
  'deceasedDateTime': p.emis_ddate,
  'address': [{{'use': 'home', 'line': [i.address_line], 'city': i.town, 'postalCode': i.postcode, 'country': 'GB'}}],
  'generalPractitioner': {gps},
  'managingOrganization': {{'reference': 'Organization/' || CAST(p.pracid AS VARCHAR)}}
}}''')}
FROM patient p JOIN patient_identity i USING (patid)
LEFT JOIN eth ON eth.patid = p.patid LEFT JOIN eth_map em ON em.sct = eth.sct
WHERE {flt('p')}"""


def encounter_mode(desc: str) -> str:
    """SQL for the v3 ActCode class (AMB, VR, HH) of a consultation from its ConsSource description
    (fhir.toml [encounter_class]: the first entry one of whose words the description holds)."""
    whens = " ".join(f"WHEN {' OR '.join(f'lower({desc}) LIKE {q(chr(37) + w + chr(37))}' for w in v['match'])} "
                     f"THEN {q(v['code'])}" for v in mapping()["encounter_class"]["mode"])
    return f"CASE {whens} ELSE {q(mapping()['encounter_class']['default']['code'])} END"


def _class_display(code: str) -> str:
    ec = mapping()["encounter_class"]
    return _case(code, {v["code"]: v["display"] for v in (*ec["mode"], ec["default"])})


def reasons_sql(flt: Filter = everyone) -> str:
    """SQL for (consid, n, sct, term, problem): each consultation's reasons, in the order written: the
    observations written at it with codes.csv cluster REASON, of ObsType Diagnosis, or made a problem
    (not family history). `problem` is the obsid of a problem (a Condition), else NULL."""
    diag = mapping()["encounter_reason"]["obstype"]
    return f"""
SELECT o.consid, row_number() OVER (PARTITION BY o.consid ORDER BY o.obsid) AS n, d.snomedctconceptid AS sct, d.term,
  CASE WHEN pr.obsid IS NOT NULL AND d.cluster NOT IN {_not_condition()} THEN o.obsid END AS problem
FROM observation o JOIN medical_dictionary d USING (medcodeid) LEFT JOIN problem pr ON pr.obsid = o.obsid
WHERE o.consid IS NOT NULL AND {flt('o')}
  AND (d.cluster = 'REASON' OR o.obstypeid = {int(diag)} OR (pr.obsid IS NOT NULL AND d.cluster NOT IN {_not_condition()}))"""


def encounter(flt: Filter = everyone) -> str:
    pt = mapping()["encounter_participant"]
    mode = encounter_mode("cs.description")
    who = "concat_ws(' ', si.title, si.given_name, si.family_name) || ' (' || j.description || ')'"
    return f"""
WITH why AS (
  SELECT consid, list({_concept('sct', 'term')} ORDER BY n) AS codes,
    list({{'reference': 'Condition/' || CAST(problem AS VARCHAR)}} ORDER BY n) FILTER (WHERE problem IS NOT NULL) AS refs,
    list(CAST(sct AS VARCHAR) ORDER BY n) FILTER (WHERE sct IS NOT NULL) AS scts
  FROM ({reasons_sql(flt)}) GROUP BY consid)
SELECT c.patid, CAST(c.consid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'Encounter', 'id': CAST(c.consid AS VARCHAR), 'meta': {_meta('Encounter')},
  'status': 'finished',
  'class': {{'system': {_sys('encounter_class')}, 'code': {mode}, 'display': {_class_display(mode)}}},
  'type': [{{'coding': [{{'system': {q(mapping()['uk_core']['cons_source_system'])},
      'code': CAST(c.conssourceid AS VARCHAR), 'display': cs.description}}], 'text': cs.description}}],
  'subject': {{'reference': 'Patient/' || CAST(c.patid AS VARCHAR)}},
  'participant': CASE WHEN c.staffid IS NOT NULL THEN [{{
      'type': [{{'coding': [{{'system': {_sys('participation_type')}, 'code': {q(pt['code'])}, 'display': {q(pt['display'])}}}]}}],
      'individual': {{'reference': 'PractitionerRole/' || CAST(c.staffid AS VARCHAR), 'display': {who}}}}}] END,
  'period': {{'start': c.consdate, 'end': c.consdate}},
  'reasonCode': why.codes,
  'reasonReference': CASE WHEN len(why.refs) > 0 THEN why.refs END,
  'serviceProvider': {{'reference': 'Organization/' || CAST(c.pracid AS VARCHAR)}}
}}''')}
  , c.consdate AS sdate, why.scts AS scodes, NULL::VARCHAR AS scat
FROM consultation c LEFT JOIN "lookup_ConsSource" cs USING (conssourceid)
LEFT JOIN staff s ON s.staffid = c.staffid LEFT JOIN staff_identity si ON si.staffid = c.staffid
LEFT JOIN "lookup_JobCat" j ON j.jobcatid = s.jobcatid
LEFT JOIN why ON why.consid = c.consid WHERE {flt('c')}"""


def _not_condition() -> str:
    return "(" + ", ".join(q(c) for c in mapping()["cluster"]["not_condition"]) + ")"


def condition(flt: Filter = everyone) -> str:
    s = mapping()["system"]
    return f"""
SELECT pr.patid, CAST(pr.obsid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'Condition', 'id': CAST(pr.obsid AS VARCHAR), 'meta': {_meta('Condition')},
  'clinicalStatus': {{'coding': [{{'system': {q(s['condition_clinical'])},
      'code': CASE WHEN pr.probenddate IS NOT NULL THEN 'resolved' WHEN pr.probstatusid = 2 THEN 'inactive' ELSE 'active' END}}]}},
  'verificationStatus': {{'coding': [{{'system': {q(s['condition_verification'])}, 'code': 'confirmed'}}]}},
  'category': [{{'coding': [{{'system': {q(s['condition_category'])}, 'code': 'problem-list-item', 'display': 'Problem List Item'}}]}}],
  'code': {_concept('d.snomedctconceptid', 'd.term')},
  'subject': {{'reference': 'Patient/' || CAST(pr.patid AS VARCHAR)}},
  'encounter': {_ref('Encounter', 'o.consid')},
  'onsetDateTime': o.obsdate,
  'abatementDateTime': pr.probenddate,
  'recordedDate': o.enterdate,
  'recorder': {_ref('Practitioner', 'o.staffid')}
}}''')}
  , o.obsdate AS sdate, [CAST(d.snomedctconceptid AS VARCHAR)] AS scodes, 'problem-list-item' AS scat
FROM problem pr JOIN observation o ON o.obsid = pr.obsid JOIN medical_dictionary d ON d.medcodeid = o.medcodeid
WHERE d.cluster NOT IN {_not_condition()} AND {flt('pr')}"""


def immunization_status(cluster: str) -> str:
    """SQL for the Immunization.status of a code of `cluster` (a column), NULL when it is no immunisation:
    the clusters fhir.toml [immunization.cluster] names, and every codes.csv cluster starting IMM
    ('not-done' if it ends in DECL, a vaccination declined; else 'completed')."""
    named = _case(cluster, {c: v["status"] for c, v in mapping()["immunization"]["cluster"].items()})
    return (f"coalesce({named}, CASE WHEN starts_with({cluster}, 'IMM') THEN "
            f"CASE WHEN ends_with({cluster}, 'DECL') THEN 'not-done' ELSE 'completed' END END)")


def _observation_rows(flt: Filter, leave: str = "FALSE") -> str:
    """Observations that are FHIR Observations: not ethnicity (Patient), referrals (ServiceRequest),
    procedures, panel headers (DiagnosticReport) or problems (Condition); a diastolic is folded into its
    systolic's panel. `leave`: a SQL condition on `cluster` of more to leave out (the FHIR export leaves
    out the immunisations, which are Immunizations)."""
    procs = ", ".join(q(c) for c in mapping()["cluster"]["procedure"])
    # NOT MATERIALIZED: inlined where used, DuckDB prunes what a query does not read (a count over
    # every Observation: 0.3 s, not 7 s, at 20,000 patients; the export itself a fifth faster)
    return f"""
obs AS NOT MATERIALIZED (
  SELECT o.*, d.term, d.snomedctconceptid AS sct, d.cluster, u.description AS unit
  FROM observation o JOIN medical_dictionary d USING (medcodeid) LEFT JOIN "lookup_NumUnit" u USING (numunitid)
  WHERE {flt('o')}),
probs AS (SELECT pr.obsid FROM problem pr WHERE {flt('pr')}),
dia AS (SELECT * FROM obs WHERE cluster = 'BP' AND parentobsid IS NOT NULL),
main AS (
  SELECT obs.* FROM obs
  WHERE cluster NOT IN ('ETH', 'REFERRAL', 'PANEL', {procs}) AND NOT (cluster = 'BP' AND parentobsid IS NOT NULL)
    AND NOT coalesce({leave}, false)
    AND (cluster IN {_not_condition()} OR obsid NOT IN (SELECT obsid FROM probs)))"""


def observation(flt: Filter = everyone) -> str:
    m = mapping()
    bp = m["blood_pressure"]
    panel = ", ".join(f"{{'system': {_sys(c['system'])}, 'code': {q(c['code'])}, 'display': {q(c['display'])}}}"
                      for c in bp["panel"])

    def loinc(c: dict) -> str:
        return f"{{'system': {_sys('loinc')}, 'code': {q(c['code'])}, 'display': {q(c['display'])}}}"

    cats = m["cluster"]["observation_category"]
    cat = _case("o.cluster", cats)
    uk = m["uk_core"]
    prof = f"CASE o.cluster WHEN 'BP' THEN {q(profile('Observation-VitalSigns-BloodPressure'))} " \
           f"WHEN 'BMI' THEN {q(profile('Observation-VitalSigns-BMI'))} " \
           f"WHEN 'HEIGHT' THEN {q(profile('Observation-VitalSigns-BodyHeight'))} " \
           f"WHEN 'WEIGHT' THEN {q(profile('Observation-VitalSigns-BodyWeight'))} ELSE {q(profile('Observation'))} END"
    code = (f"CASE WHEN o.cluster = 'BP' THEN {{'coding': [{panel}], 'text': 'Blood pressure'}} "
            f"WHEN o.cluster = 'BMI' THEN {_concept('o.sct', 'o.term', loinc(m['bmi']['loinc']))} "
            f"WHEN o.cluster = 'HEIGHT' THEN {_concept('o.sct', 'o.term', loinc(uk['height_loinc']))} "
            f"WHEN o.cluster = 'WEIGHT' THEN {_concept('o.sct', 'o.term', loinc(uk['weight_loinc']))} "
            f"ELSE {_concept('o.sct', 'o.term')} END")
    mmhg = q(uk["bp_unit_text"])
    components = (f"CASE WHEN o.cluster = 'BP' THEN ["
                  f"{{'code': {_concept('o.sct', 'o.term', loinc(bp['systolic_loinc']), q(uk['bp_systolic_text']))}, "
                  f"'valueQuantity': {_quantity('o.value', 'o.unit', mmhg)}}}, "
                  f"{{'code': {_concept('dia.sct', 'dia.term', loinc(bp['diastolic_loinc']), q(uk['bp_diastolic_text']))}, "
                  f"'valueQuantity': {_quantity('dia.value', 'dia.unit', mmhg)}}}"
                  f"] END")
    value = (f"CASE WHEN o.cluster = 'WEIGHT' THEN {_quantity('o.value', 'o.unit', q(uk['weight_unit_text']))} "
             f"WHEN o.cluster <> 'BP' THEN {_quantity('o.value', 'o.unit')} END")
    bound = lambda col: _quantity(col, "o.unit")  # noqa: E731
    panel_codes = ", ".join(q(c["code"]) for c in bp["panel"])
    scodes = (f"CASE WHEN o.cluster = 'BP' THEN [{panel_codes}, CAST(o.sct AS VARCHAR)] "
              f"WHEN o.cluster = 'BMI' THEN [CAST(o.sct AS VARCHAR), {q(m['bmi']['loinc']['code'])}] "
              f"WHEN o.cluster = 'HEIGHT' THEN [CAST(o.sct AS VARCHAR), {q(uk['height_loinc']['code'])}] "
              f"WHEN o.cluster = 'WEIGHT' THEN [CAST(o.sct AS VARCHAR), {q(uk['weight_loinc']['code'])}] "
              f"ELSE [CAST(o.sct AS VARCHAR)] END")
    return f"""
WITH {_observation_rows(flt, immunization_status('cluster') + ' IS NOT NULL')}
SELECT o.patid, CAST(o.obsid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'Observation', 'id': CAST(o.obsid AS VARCHAR), 'meta': {{'profile': [{prof}]}},
  'status': 'final',
  'category': CASE WHEN {cat} IS NOT NULL THEN [{{'coding': [{{'system': {_sys('observation_category')}, 'code': {cat}}}]}}] END,
  'code': {code},
  'subject': {{'reference': 'Patient/' || CAST(o.patid AS VARCHAR)}},
  'encounter': {_ref('Encounter', 'o.consid')},
  'effectiveDateTime': o.obsdate,
  'issued': {_instant('o.enterdate')},
  'performer': CASE WHEN o.staffid IS NOT NULL THEN [{_ref('Practitioner', 'o.staffid')}] END,
  'valueQuantity': {value},
  'referenceRange': CASE WHEN o.numrangelow IS NOT NULL OR o.numrangehigh IS NOT NULL
      THEN [{{'low': {bound('o.numrangelow')}, 'high': {bound('o.numrangehigh')}}}] END,
  'component': {components}
}}''')}
  , o.obsdate AS sdate, {scodes} AS scodes, {cat} AS scat
FROM main o LEFT JOIN dia ON dia.parentobsid = o.obsid"""


def procedure(flt: Filter = everyone) -> str:
    procs = ", ".join(q(c) for c in mapping()["cluster"]["procedure"])
    return f"""
SELECT o.patid, CAST(o.obsid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'Procedure', 'id': CAST(o.obsid AS VARCHAR), 'meta': {_meta('Procedure')},
  'status': 'completed',
  'code': {_concept('d.snomedctconceptid', 'd.term')},
  'subject': {{'reference': 'Patient/' || CAST(o.patid AS VARCHAR)}},
  'encounter': {_ref('Encounter', 'o.consid')},
  'performedPeriod': {{'start': o.obsdate, 'end': o.obsdate}},
  'performer': CASE WHEN o.staffid IS NOT NULL THEN [{{'actor': {_ref('Practitioner', 'o.staffid')}}}] END
}}''')}
  , o.obsdate AS sdate, [CAST(d.snomedctconceptid AS VARCHAR)] AS scodes, NULL::VARCHAR AS scat
FROM observation o JOIN medical_dictionary d USING (medcodeid)
WHERE d.cluster IN ({procs}) AND {flt('o')}"""


def _dated_vaccine(vaccine: str | list, field: str, date: str | None) -> str:
    """SQL for `field` of a cluster's [immunization.cluster] `vaccine`: one entry's name, or a dated list (each
    entry's vaccine before its `until`, exclusive; the last one, with no `until`, from then on) read at `date`."""
    vac = mapping()["immunization"]["vaccine"]
    if isinstance(vaccine, str):
        return q(vac[vaccine][field])
    if date is None:
        raise ValueError("a dated vaccine list needs the vaccination's date (vaccine_sql date=)")
    if any("until" not in v for v in vaccine[:-1]) or "until" in vaccine[-1]:
        raise ValueError(f"a dated vaccine list gives `until` on every entry but the last: {vaccine}")
    whens = " ".join(f"WHEN {date} < DATE {q(v['until'].isoformat())} THEN {q(vac[v['vaccine']][field])}" for v in vaccine[:-1])
    return f"CASE {whens} ELSE {q(vac[vaccine[-1]['vaccine']][field])} END"


def vaccine_sql(cluster: str, field: str, age: str | None = None, date: str | None = None,
                concept: str | None = None) -> str:
    """SQL for the vaccineCode `field` (code, display) of a vaccination: the dm+d VMP fhir.toml names for it, NULL
    where it names none. In order: the VMP of its code (`concept`, the SNOMED CT id) where [immunization.code] names
    one; for a child (`age` years at the vaccination below [immunization.child]'s limit) the child's VMP; else its
    `cluster`'s [immunization.cluster] VMP, chosen by the vaccination's `date` where the programme changed it."""
    im = mapping()["immunization"]
    whens = []
    if concept is not None:
        whens += [f"WHEN {concept} = {codes.snomed(k)} THEN {q(im['vaccine'][v][field])}" for k, v in im["code"].items()]
    if age is not None:
        whens += [f"WHEN {cluster} = {q(c)} AND {age} < {int(v['under_age'])} THEN {q(im['vaccine'][v['vaccine']][field])}"
                  for c, v in im["child"].items()]
    whens += [f"WHEN {cluster} = {q(c)} THEN {_dated_vaccine(v['vaccine'], field, date)}"
              for c, v in im["cluster"].items() if "vaccine" in v]
    return f"CASE {' '.join(whens)} END"


def immunization(flt: Filter = everyone) -> str:
    """Observations of the immunisation clusters (immunization_status): a vaccination given at the
    practice (primary source, with its consultation and clinician), one given by another provider and
    entered from their notification (reportOrigin), or one not given (not-done, the record's code as
    statusReason). vaccineCode is the dm+d VMP where fhir.toml names one (vaccine_sql); otherwise the
    record does not say which product was given: data-absent-reason "unknown", the record's term as text
    (the vaccination procedure itself is in the VaccinationProcedure extension)."""
    m = mapping()
    im = m["immunization"]
    reported = f"d.snomedctconceptid IN ({codes.sql(*im['reported']['keys'])})"
    origin, fn = im["reported"]["origin"], im["performer_function"]
    procedure_code = _concept("d.snomedctconceptid", "d.term")
    age = "(year(o.obsdate) - p.yob)"

    def vmp(field: str) -> str:
        return vaccine_sql("d.cluster", field, age, "o.obsdate", "d.snomedctconceptid")

    unknown = f"{{'system': {_sys('data_absent_reason')}, 'code': 'unknown', 'display': 'Unknown'}}"
    vaccine = (f"CASE WHEN s.vcode IS NOT NULL THEN {{'coding': [{{'system': {_sys('dmd')}, 'code': s.vcode, "
               f"'display': s.vdisplay}}], 'text': s.vdisplay}} ELSE {{'coding': [{unknown}], 'text': d.term}} END")
    return f"""
SELECT o.patid, CAST(o.obsid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'Immunization', 'id': CAST(o.obsid AS VARCHAR), 'meta': {_meta('Immunization')},
  'extension': CASE WHEN s.status = 'completed' AND d.snomedctconceptid IS NOT NULL THEN [{{
      'url': {q(m['extension']['vaccination_procedure'])}, 'valueCodeableConcept': {procedure_code}}}] END,
  'status': s.status,
  'statusReason': CASE WHEN s.status = 'not-done' THEN {procedure_code} END,
  'vaccineCode': {vaccine},
  'patient': {{'reference': 'Patient/' || CAST(o.patid AS VARCHAR)}},
  'encounter': {_ref('Encounter', 'o.consid')},
  'occurrenceDateTime': o.obsdate,
  'recorded': o.enterdate,
  'primarySource': NOT s.reported,
  'reportOrigin': CASE WHEN s.reported THEN {{'coding': [{{'system': {_sys('immunization_origin')},
      'code': {q(origin['code'])}, 'display': {q(origin['display'])}}}]}} END,
  'performer': CASE WHEN s.status = 'completed' AND NOT s.reported AND o.staffid IS NOT NULL THEN [{{
      'function': {{'coding': [{{'system': {_sys('performer_function')}, 'code': {q(fn['code'])}, 'display': {q(fn['display'])}}}]}},
      'actor': {_ref('Practitioner', 'o.staffid')}}}] END
}}''')}
  , o.obsdate AS sdate, list_filter([s.vcode, CAST(d.snomedctconceptid AS VARCHAR)], lambda x: x IS NOT NULL) AS scodes,
  s.status AS scat
FROM observation o JOIN medical_dictionary d USING (medcodeid) JOIN patient p ON p.patid = o.patid,
  LATERAL (SELECT {immunization_status('d.cluster')} AS status, {vmp('code')} AS vcode, {vmp('display')} AS vdisplay,
                  coalesce({reported}, false) AS reported) s
WHERE s.status IS NOT NULL AND {flt('o')}"""


def diagnostic_report(flt: Filter = everyone) -> str:
    """One DiagnosticReport per lab panel header (cluster PANEL): its results are the observations whose
    parentobsid is the header (ordered by obsid), each an Observation of its own."""
    dr = mapping()["diagnostic_report"]
    cat = dr["category"]
    return f"""
WITH kids AS (
  SELECT parentobsid, list({{'reference': 'Observation/' || CAST(obsid AS VARCHAR)}} ORDER BY obsid) AS result
  FROM observation o WHERE parentobsid IS NOT NULL AND {flt('o')} GROUP BY parentobsid)
SELECT o.patid, CAST(o.obsid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'DiagnosticReport', 'id': CAST(o.obsid AS VARCHAR), 'meta': {_meta(dr['profile'])},
  'status': 'final',
  'category': [{{'coding': [{_coding(cat)}]}}],
  'code': {_concept('d.snomedctconceptid', 'd.term')},
  'subject': {{'reference': 'Patient/' || CAST(o.patid AS VARCHAR)}},
  'encounter': {_ref('Encounter', 'o.consid')},
  'effectiveDateTime': o.obsdate,
  'issued': {_instant('o.enterdate')},
  'performer': CASE WHEN o.staffid IS NOT NULL THEN [{_ref('Practitioner', 'o.staffid')}] END,
  'result': kids.result
}}''')}
  , o.obsdate AS sdate, [CAST(d.snomedctconceptid AS VARCHAR)] AS scodes, 'laboratory' AS scat
FROM observation o JOIN medical_dictionary d USING (medcodeid) LEFT JOIN kids ON kids.parentobsid = o.obsid
WHERE d.cluster = 'PANEL' AND {flt('o')}"""


def service_request(flt: Filter = everyone) -> str:
    pri = _case("r.refurgencyid", mapping()["priority"], cast="::INTEGER")
    return f"""
SELECT r.patid, CAST(r.obsid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'ServiceRequest', 'id': CAST(r.obsid AS VARCHAR), 'meta': {_meta('ServiceRequest')},
  'status': 'active', 'intent': 'order',
  'priority': {pri},
  'code': {_concept('d.snomedctconceptid', 'd.term')},
  'subject': {{'reference': 'Patient/' || CAST(r.patid AS VARCHAR)}},
  'encounter': {_ref('Encounter', 'o.consid')},
  'authoredOn': o.obsdate,
  'requester': {_ref('Practitioner', 'o.staffid')},
  'performerType': CASE WHEN st.description IS NOT NULL THEN {{'text': st.description}} END,
  'reasonReference': CASE WHEN o.probobsid IS NOT NULL THEN [{_ref('Condition', 'o.probobsid')}] END
}}''')}
  , o.obsdate AS sdate, [CAST(d.snomedctconceptid AS VARCHAR)] AS scodes, NULL::VARCHAR AS scat
FROM referral r JOIN observation o ON o.obsid = r.obsid JOIN medical_dictionary d ON d.medcodeid = o.medcodeid
LEFT JOIN "lookup_RefServiceType" st USING (refservicetypeid)
WHERE {flt('r')}"""


def medication_request(flt: Filter = everyone) -> str:
    """One per issue; `encounter` the consultation the prescriber held with the patient that day, if any (an
    acute item prescribed at it, a course started at a review)."""
    course, disp = acute_sql()
    return f"""
SELECT di.patid, CAST(di.issueid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'MedicationRequest', 'id': CAST(di.issueid AS VARCHAR), 'meta': {_meta('MedicationRequest')},
  'status': 'completed', 'intent': 'order',
  'medicationCodeableConcept': {{'coding': [{{'system': {_sys('dmd')}, 'code': CAST(pd.dmdid AS VARCHAR),
      'display': pd.termfromemis}}], 'text': pd.termfromemis}},
  'subject': {{'reference': 'Patient/' || CAST(di.patid AS VARCHAR)}},
  'encounter': {_ref('Encounter', 'ec.consid')},
  'authoredOn': di.issuedate,
  'requester': {_ref('Practitioner', 'di.staffid')},
  'reasonReference': CASE WHEN di.probobsid IS NOT NULL THEN [{_ref('Condition', 'di.probobsid')}] END,
  'courseOfTherapyType': {{'coding': [{{'system': {_sys('course_of_therapy')}, 'code': {course}, 'display': {_case(course, disp)}}}]}},
  'dosageInstruction': CASE WHEN cd.dosage_text IS NOT NULL THEN [{{
      'text': cd.dosage_text,
      'timing': CASE WHEN cd.dose_frequency >= 1 THEN {{'repeat': {{'frequency': CAST(cd.dose_frequency AS INTEGER),
                                                                     'period': cd.dose_interval, 'periodUnit': 'd'}}}} END,
      'doseAndRate': CASE WHEN cd.dose_number > 0 THEN [{{'doseQuantity': {{'value': cd.dose_number, 'unit': lower(cd.dose_unit)}}}}] END}}] END,
  'substitution': {{'allowedBoolean': {str(mapping()['uk_core']['substitution_allowed']).lower()}}},
  'dispenseRequest': {{
      'quantity': {{'value': di.quantity, 'unit': qu.description}},
      'expectedSupplyDuration': CASE WHEN di.duration IS NOT NULL THEN
          {{'value': di.duration, 'unit': 'days', 'system': {_sys('ucum')}, 'code': 'd'}} END}}
}}''')}
  , di.issuedate AS sdate, [CAST(pd.dmdid AS VARCHAR)] AS scodes, NULL::VARCHAR AS scat
FROM drug_issue di JOIN product_dictionary pd USING (prodcodeid)
LEFT JOIN "lookup_common_dosages" cd USING (dosageid) LEFT JOIN "lookup_QuantUnit" qu USING (quantunitid)
LEFT JOIN (SELECT drugrecid, count(*) AS n FROM drug_issue di WHERE {flt('di')} GROUP BY drugrecid) cn USING (drugrecid)
LEFT JOIN (SELECT patid, consdate, staffid, min(consid) AS consid FROM consultation c WHERE {flt('c')} GROUP BY ALL) ec
  ON ec.patid = di.patid AND ec.consdate = di.issuedate AND ec.staffid = di.staffid
WHERE {flt('di')}"""


def acute_sql() -> tuple[str, dict[str, str]]:
    """SQL for the courseOfTherapyType code of an issue `di` (needing `cn.n`, its course's issue count), and
    the display of each code (fhir.toml [medication_request]): acute for the one issue of a course shorter
    than any repeat, else continuous."""
    mr = mapping()["medication_request"]
    code = (f"CASE WHEN cn.n = 1 AND di.duration < {int(mr['acute_below_days'])} THEN {q(mr['acute']['code'])} "
            f"ELSE {q(mr['continuous']['code'])} END")
    return code, {mr[k]["code"]: mr[k]["display"] for k in ("acute", "continuous")}


QUERIES: dict[str, Callable[[Filter], str]] = {
    "Organization": organization, "Practitioner": practitioner, "PractitionerRole": practitioner_role,
    "Patient": patient, "Encounter": encounter, "Condition": condition, "Observation": observation,
    "DiagnosticReport": diagnostic_report, "Procedure": procedure, "Immunization": immunization, "ServiceRequest": service_request,
    "MedicationRequest": medication_request,
}


def staff_referenced(flt: Filter = everyone) -> str:
    """(patid, staffid) for every member of staff a patient's resources refer to."""
    return f"""
SELECT DISTINCT patid, staffid FROM (
  SELECT patid, usualgpstaffid AS staffid FROM patient p WHERE {flt('p')}
  UNION ALL SELECT patid, staffid FROM consultation c WHERE {flt('c')}
  UNION ALL SELECT patid, staffid FROM observation o WHERE {flt('o')}
  UNION ALL SELECT patid, staffid FROM drug_issue di WHERE {flt('di')}
) WHERE staffid IS NOT NULL"""
