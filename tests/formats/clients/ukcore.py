"""A checker of FHIR resources against the UK Core profiles they claim, from the profiles' own
StructureDefinitions (ukcore_constraints.json, extracted by ukcore_extract.py).

For the profile in `meta.profile` and the UK Core profiles it derives from, every differential element is
checked where its parent is present: `min` (the element is there, as often as the minimum), a fixed or
pattern value (every occurrence equals it), and a binding (a coded element carries a coding with a system
and a code, not text only; a required binding's value set is not expanded here). Slices (`coding:loinc`,
`component:SystolicBP`, `identifier:nhsNumber`) hold the occurrences that match the slice's fixed
`system` and `code` children, as the profiles' discriminators do. This is not the HL7 validator: it
checks the constraints UK Core adds, not FHIR R4's base cardinalities or FHIRPath invariants.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
PROFILE_BASE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
# slice names whose discriminator is the coding system (set in the base VitalSigns profile)
_SYSTEM_SLICES = {"loinc": "http://loinc.org", "snomedCT": "http://snomed.info/sct"}


@cache
def constraints() -> dict:
    return json.loads((HERE / "ukcore_constraints.json").read_text())


def chain(profile_url: str) -> list[dict]:
    """The profile's constraints and those of the UK Core profiles it derives from, base first."""
    out = []
    name = profile_url.removeprefix(PROFILE_BASE)
    while name in constraints()["profiles"]:
        p = constraints()["profiles"][name]
        out.insert(0, p)
        base = p["base"]
        name = base.removeprefix(PROFILE_BASE) if base.startswith(PROFILE_BASE) else ""
    if not out:
        raise KeyError(f"no UK Core constraints for {profile_url}")
    return out


def _split(path: str) -> list[tuple[str, str | None]]:
    segs = []
    for s in path.split("."):
        name, _, sl = s.partition(":")
        segs.append((name, sl or None))
    return segs


def _children(node, name: str) -> list:
    if not isinstance(node, dict):
        return []
    if name.endswith("[x]"):
        stem = name[:-3]
        vals = [v for k, v in node.items() if k.startswith(stem) and k[len(stem):len(stem) + 1].isupper()]
    else:
        vals = [node[name]] if name in node else []
    out = []
    for v in vals:
        out.extend(v if isinstance(v, list) else [v])
    return out


class Profile:
    def __init__(self, url: str):
        self.elements = [e for p in chain(url) for e in p["elements"]]
        self.fixed = {e["id"]: e["fixed"] for e in self.elements if "fixed" in e}

    def _in_slice(self, item, prefix: str, slice_name: str) -> bool:
        """Whether `item` belongs to the slice whose element id is `prefix` (ending in :slice_name)."""
        keys = {k[len(prefix) + 1:]: v for k, v in self.fixed.items() if k.startswith(prefix + ".")}
        disc = {k: v for k, v in keys.items() if k.split(".")[-1] in ("system", "code")
                and not k.startswith(("value[x]", "valueQuantity"))}
        if slice_name in _SYSTEM_SLICES and "system" not in disc:
            disc["system"] = _SYSTEM_SLICES[slice_name]
        if not disc:
            return True
        return all(any(n == v for n in self._nodes(item, k, prefix)) for k, v in disc.items())

    def _nodes(self, node, rel: str, at: str) -> list:
        """Occurrences of relative path `rel` under `node`, whose element id is `at`."""
        nodes = [node]
        for name, sl in _split(rel):
            at = f"{at}.{name}" + (f":{sl}" if sl else "")
            nodes = [c for n in nodes for c in _children(n, name)]
            if sl:
                nodes = [c for c in nodes if self._in_slice(c, at, sl)]
        return nodes

    def check(self, resource: dict) -> list[str]:
        """Each constraint the resource breaks, as 'element id: what'."""
        errors = []
        rtype = resource["resourceType"]
        for e in self.elements:
            eid = e["id"]
            rel = eid.split(".", 1)[1] if "." in eid else ""
            if not rel:
                continue
            parent_rel, _, last = rel.rpartition(".")
            parents = self._nodes(resource, parent_rel, rtype) if parent_rel else [resource]
            parent_id = f"{rtype}.{parent_rel}" if parent_rel else rtype
            for p in parents:
                here = self._nodes(p, last, parent_id)
                if len(here) < e.get("min", 0):
                    errors.append(f"{eid}: missing (min {e['min']})")
                if "fixed" in e and any(h != e["fixed"] for h in here):
                    errors.append(f"{eid}: {[h for h in here if h != e['fixed']][:1]} is not the fixed {e['fixed']!r}")
                b = e.get("binding")
                if b and any(isinstance(h, dict) and "text" in h and not h.get("coding") for h in here):
                    errors.append(f"{eid}: text only, not coded ({b['strength']} binding {b['valueSet']})")
                if b and any(isinstance(h, dict) and any(not (c.get("system") and c.get("code"))
                                                         for c in h.get("coding", [])) for h in here):
                    errors.append(f"{eid}: a coding without system and code")
        return errors


@cache
def profile(url: str) -> Profile:
    return Profile(url)


def check(resource: dict) -> list[str]:
    """The constraints `resource` breaks of every UK Core profile it claims."""
    return [err for url in resource.get("meta", {}).get("profile", []) for err in profile(url).check(resource)]
