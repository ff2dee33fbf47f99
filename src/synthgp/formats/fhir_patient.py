"""FHIR Patient, Encounter (with its reasons) and Condition (the problem list)."""

from __future__ import annotations

from synthgp.core import codes
from synthgp.formats.fhir_common import Filter, _case, _concept, _json, _meta, _nonempty, _not_condition, _ref, _sys, everyone, mapping, q


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
