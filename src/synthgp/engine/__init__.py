"""The practice engine: a block of patients simulated month by month through a declared schedule of
steps, each belonging to a service (engine/services/) or a pathway (pathways/), over a declared
struct-of-arrays state (engine/state.py). docs/architecture.md describes it."""
