"""FHIR requests and plans: ServiceRequest (referrals), MedicationRequest (drug issues) and CarePlan (care plans agreed)."""

from __future__ import annotations

from synthgp.core import codes
from synthgp.formats.fhir_common import Filter, _case, _concept, _json, _meta, _ref, _sys, everyone, mapping, q


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


def care_plan_rows(flt: Filter = everyone) -> str:
    """SQL for the record's care plans (fhir.toml [care_plan]): (patid, obsid, obsdate, consid, staffid, sct, term,
    stop, condid). `stop`: the day the plan ended (the next plan of the same code, or the patient's death or leaving
    the practice), NULL while it runs; `condid`: the obsid of the problem (a Condition) it addresses: the patient's
    latest problem of the plan's condition cluster on or before the plan, NULL if none."""
    cp = mapping()["care_plan"]
    targets = ", ".join(f"({codes.snomed(k)}, {q(c)})" for k, c in cp["addresses"].items())
    return f"""
WITH plan AS (
  SELECT o.patid, o.obsid, o.obsdate, o.consid, o.staffid, d.snomedctconceptid AS sct, d.term,
    lead(o.obsdate) OVER (PARTITION BY o.patid, o.medcodeid ORDER BY o.obsdate, o.obsid) AS next
  FROM observation o JOIN medical_dictionary d USING (medcodeid)
  WHERE d.cluster = {q(cp['cluster'])} AND {flt('o')}),
target(sct, cluster) AS (VALUES {targets}),
cond AS (
  SELECT pl.obsid, arg_max(pr.obsid, (po.obsdate, pr.obsid)) AS condid
  FROM plan pl JOIN target t ON t.sct = pl.sct JOIN problem pr ON pr.patid = pl.patid
  JOIN observation po ON po.obsid = pr.obsid JOIN medical_dictionary pd ON pd.medcodeid = po.medcodeid
  WHERE pd.cluster = t.cluster AND po.obsdate <= pl.obsdate AND {flt('pr')}
  GROUP BY pl.obsid)
SELECT pl.patid, pl.obsid, pl.obsdate, pl.consid, pl.staffid, pl.sct, pl.term,
  CASE WHEN coalesce(pl.next, p.emis_ddate, p.regenddate) IS NOT NULL
       THEN least(coalesce(pl.next, DATE '9999-12-31'), coalesce(p.emis_ddate, DATE '9999-12-31'),
                  coalesce(p.regenddate, DATE '9999-12-31')) END AS stop,
  cond.condid
FROM plan pl JOIN patient p ON p.patid = pl.patid LEFT JOIN cond ON cond.obsid = pl.obsid"""


def care_plan(flt: Filter = everyone) -> str:
    """One CarePlan per care plan agreed (codes.csv cluster of fhir.toml [care_plan], never also an Observation):
    category its own SNOMED CT code, intent "plan", `active` until it ends (the next plan of its code, the patient's
    death or leaving), then `completed` with the period's end; `addresses` the Condition it is for."""
    return f"""
SELECT cp.patid, CAST(cp.obsid AS VARCHAR) AS id, {_json(f'''{{
  'resourceType': 'CarePlan', 'id': CAST(cp.obsid AS VARCHAR), 'meta': {_meta('CarePlan')},
  'status': CASE WHEN cp.stop IS NULL THEN 'active' ELSE 'completed' END,
  'intent': 'plan',
  'category': [{_concept('cp.sct', 'cp.term')}],
  'title': cp.term,
  'subject': {{'reference': 'Patient/' || CAST(cp.patid AS VARCHAR)}},
  'encounter': {_ref('Encounter', 'cp.consid')},
  'period': {{'start': cp.obsdate, 'end': cp.stop}},
  'created': cp.obsdate,
  'author': {_ref('Practitioner', 'cp.staffid')},
  'addresses': CASE WHEN cp.condid IS NOT NULL THEN [{_ref('Condition', 'cp.condid')}] END
}}''')}
  , cp.obsdate AS sdate, [CAST(cp.sct AS VARCHAR)] AS scodes, CAST(cp.sct AS VARCHAR) AS scat
FROM ({care_plan_rows(flt)}) cp"""
