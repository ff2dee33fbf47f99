"""Writes ukcore_constraints.json from a checkout of NHSDigital/FHIR-R4-UKCORE-STAGING-MAIN:

    python tests/formats/clients/ukcore_extract.py <repo>/structuredefinitions [commit]

For each UK Core profile synthgp claims: its base profile and, from the differential, every element's
min cardinality (> 0), fixed or pattern value, and binding (strength, value set).
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

NS = {"f": "http://hl7.org/fhir"}
PROFILES = ("Patient", "Organization", "Practitioner", "PractitionerRole", "Encounter", "Condition", "Observation",
            "Observation-VitalSigns", "Observation-VitalSigns-BloodPressure", "Observation-VitalSigns-BMI",
            "Observation-VitalSigns-BodyHeight", "Observation-VitalSigns-BodyWeight", "Procedure", "Immunization",
            "ServiceRequest", "MedicationRequest", "DiagnosticReport", "DiagnosticReport-Lab", "CarePlan")


def extract(path: Path) -> dict:
    root = ET.parse(path).getroot()
    out = {"base": root.find("f:baseDefinition", NS).get("value"), "elements": []}
    for e in root.find("f:differential", NS).findall("f:element", NS):
        c: dict = {"id": e.get("id")}
        mn = e.find("f:min", NS)
        if mn is not None and int(mn.get("value")) > 0:
            c["min"] = int(mn.get("value"))
        for child in e:
            tag = child.tag.split("}")[1]
            if tag.startswith(("fixed", "pattern")) and child.get("value") is not None:
                c["fixed"] = child.get("value")
        b = e.find("f:binding", NS)
        if b is not None:
            vs = b.find("f:valueSet", NS)
            c["binding"] = {"strength": b.find("f:strength", NS).get("value"), "valueSet": vs.get("value") if vs is not None else None}
        if len(c) > 1:
            out["elements"].append(c)
    return out


def main(folder: str, commit: str = "") -> None:
    data = {"source": f"NHSDigital/FHIR-R4-UKCORE-STAGING-MAIN structuredefinitions {commit}".strip(),
            "profiles": {p: extract(Path(folder) / f"UKCore-{p}.xml") for p in PROFILES}}
    out = Path(__file__).with_name("ukcore_constraints.json")
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
