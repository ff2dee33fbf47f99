"""FHIR practice-level resources: Organization, Practitioner and PractitionerRole."""

from __future__ import annotations

from synthgp.formats.fhir_common import Filter, _coding, _json, _meta, everyone, mapping, q


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
