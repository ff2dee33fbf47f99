"""The record as FHIR R4 resources shaped to the UK Core profiles, built in SQL.

Each resource type is one SELECT over the record tables giving (patid, id, resource), where
`resource` is the resource's JSON text. DuckDB builds the JSON for millions of rows in parallel, so
the bulk export, the per-patient bundles and the FHIR API all use these same queries: what the API
serves is byte for byte what the export wrote. The mapping's codes, systems and profiles live in
`data/fhir.toml`. The queries live by resource family (fhir_practice, fhir_patient, fhir_observations,
fhir_requests; their shared helpers in fhir_common); this module gathers them.

Mapping (record -> FHIR):
  practice -> Organization; staff -> Practitioner and PractitionerRole; patient (+ identity, latest
  ethnicity code) -> Patient; consultation -> Encounter; problem (+ its observation) -> Condition;
  a systolic/diastolic pair -> one blood-pressure panel Observation; immunisations (a flu vaccination given,
  or declined) -> Immunization; other observations -> Observation, or Procedure for reviews, health checks
  and tests of organ damage; referral -> ServiceRequest;
  drug_issue -> MedicationRequest (dm+d coded, one per issue); a care plan agreed (an observation of the
  [care_plan] cluster) -> CarePlan.
Ids are the record's own ids (Patient/<patid>, Observation/<obsid>, ...), so a FHIR resource and its
Aurum row are found by the same number. Patient-level queries also give search columns (sdate, scodes,
scat) for the FHIR API; a query that does not select them (or the resource) does not compute them.
"""

from __future__ import annotations

from typing import Callable

from synthgp.formats.fhir_common import (  # noqa: F401  (the names every reader of fhir_resources uses)
    Filter,
    _case,
    _coding,
    _concept,
    _instant,
    _json,
    _meta,
    _nonempty,
    _not_condition,
    _quantity,
    _ref,
    _sys,
    everyone,
    mapping,
    profile,
    q,
    type_profile,
)
from synthgp.formats.fhir_observations import (  # noqa: F401
    _dated_vaccine,
    _observation_rows,
    diagnostic_report,
    immunization,
    immunization_status,
    observation,
    procedure,
    vaccine_sql,
)
from synthgp.formats.fhir_patient import _class_display, condition, encounter, encounter_mode, patient, reasons_sql  # noqa: F401
from synthgp.formats.fhir_practice import organization, practitioner, practitioner_role
from synthgp.formats.fhir_requests import acute_sql, care_plan, care_plan_rows, medication_request, service_request  # noqa: F401

# resource types in the order a bundle lists them (referenced before referencing)
PATIENT_TYPES = ("Patient", "Encounter", "Condition", "Observation", "DiagnosticReport", "Procedure", "Immunization",
                 "ServiceRequest", "MedicationRequest", "CarePlan")
PRACTICE_TYPES = ("Organization", "Practitioner", "PractitionerRole")
TYPES = PRACTICE_TYPES + PATIENT_TYPES


QUERIES: dict[str, Callable[[Filter], str]] = {
    "Organization": organization, "Practitioner": practitioner, "PractitionerRole": practitioner_role,
    "Patient": patient, "Encounter": encounter, "Condition": condition, "Observation": observation,
    "DiagnosticReport": diagnostic_report, "Procedure": procedure, "Immunization": immunization, "ServiceRequest": service_request,
    "MedicationRequest": medication_request, "CarePlan": care_plan,
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
