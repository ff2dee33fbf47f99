"""What a SMART bearer token lets a request read and write through the FHIR API."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from synthgp.serve.fhir_params import PATIENT_SCOPED, FhirError


@dataclass(frozen=True)
class Access:
    """What a SMART bearer token may read: resource types in its patient's compartment (`patient/...`
    scopes) and across the practice (`user/...`); '*' for any type."""

    patient: int | None
    patient_types: frozenset[str]
    user_types: frozenset[str]
    write_types: frozenset[str] = frozenset()  # types the token may create (patient/X.c, .write; '*' any)

    def may_write(self, kind: str) -> bool:
        return "*" in self.write_types or kind in self.write_types

    def restrict(self, kind: str) -> int | None:
        """The patient a read of `kind` is confined to (None: not confined); 403 if no scope covers it."""
        if "*" in self.user_types or kind in self.user_types:
            return None
        if ("*" in self.patient_types or kind in self.patient_types) and self.patient is not None:
            return self.patient if kind in PATIENT_SCOPED or kind == "Patient" else None
        raise FhirError(403, "forbidden", f"the access token's scopes do not cover {kind}"
                        + ("" if self.patient is not None or not self.patient_types else " (no patient in context)"))


def confine(kind: str, p: dict[str, list[str]], access: Access | None) -> None:
    """Add the token's patient to a search: ANDed with what the client asked, so nothing else matches."""
    pid = access.restrict(kind) if access else None
    if pid is not None:
        p.setdefault("_id" if kind == "Patient" else "patient", []).append(str(pid))



def access(request: Request) -> Access | None:
    """The bearer token's access, as the SMART sandbox's middleware left it (None: open, no token)."""
    return request.scope.get("state", {}).get("access")

