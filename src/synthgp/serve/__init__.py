"""`synthgp serve`: a clinical record viewer and a FHIR R4 API over a generated practice (read-only)."""
