"""The record as a simulation writes it: the event log pathways emit into, and the Arrow tables it
becomes (one schema, core/schema.py)."""
