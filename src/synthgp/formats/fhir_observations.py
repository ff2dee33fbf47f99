"""FHIR resources of the record's observations: Observation, Procedure, Immunization and DiagnosticReport."""

from __future__ import annotations

from synthgp.core import codes
from synthgp.formats.fhir_common import (
    Filter,
    _case,
    _coding,
    _concept,
    _instant,
    _json,
    _meta,
    _not_condition,
    _quantity,
    _ref,
    _sys,
    everyone,
    mapping,
    profile,
    q,
)


def immunization_status(cluster: str) -> str:
    """SQL for the Immunization.status of a code of `cluster` (a column), NULL when it is no immunisation:
    the clusters fhir.toml [immunization.cluster] names, and every codes.csv cluster starting IMM
    ('not-done' if it ends in DECL, a vaccination declined; else 'completed')."""
    named = _case(cluster, {c: v["status"] for c, v in mapping()["immunization"]["cluster"].items()})
    return (f"coalesce({named}, CASE WHEN starts_with({cluster}, 'IMM') THEN "
            f"CASE WHEN ends_with({cluster}, 'DECL') THEN 'not-done' ELSE 'completed' END END)")


def _observation_rows(flt: Filter, leave: str = "FALSE") -> str:
    """Observations that are FHIR Observations: not ethnicity (Patient), referrals (ServiceRequest), care plans
    (CarePlan), procedures, panel headers (DiagnosticReport) or problems (Condition); a diastolic is folded into its
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
  WHERE cluster NOT IN ('ETH', 'REFERRAL', 'PANEL', {q(mapping()['care_plan']['cluster'])}, {procs}) AND NOT (cluster = 'BP' AND parentobsid IS NOT NULL)
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
