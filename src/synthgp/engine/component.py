"""The interface every service and pathway implements: the state it owns, reads and writes, the
steps the schedule names, and the truth tables it writes.

    class Flu(Pathway):
        name = "flu"
        fields = {"flu_vaccinated": "day of the last flu vaccination, or NONE"}
        reads = ("dob", "ent", "lst")
        truth = ()
        def init(self, sim): return {"flu_vaccinated": np.full(sim.n, NONE)}
        def invite(self, sim, month): ...      # a step, named in the schedule as ("flu", "invite")

A component's `s` is its view of the state (engine/state.py): its own fields and `writes` writable,
`reads` read-only, nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from synthgp.engine.state import View

if TYPE_CHECKING:
    from synthgp.engine.sim import Sim


class Component:
    name: ClassVar[str]
    fields: ClassVar[dict[str, str]] = {}  # state it owns and initialises: name -> what it holds
    reads: ClassVar[tuple[str, ...]] = ()  # others' fields it reads
    writes: ClassVar[tuple[str, ...]] = ()  # others' fields it changes (rare; each one is a coupling)
    truth: ClassVar[tuple[str, ...]] = ()  # truth tables it writes (core/schema.py names)
    # a component of adult care (the default) has its per-person truth rows limited to those simulated as adults
    all_ages: ClassVar[bool] = False

    s: View

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        """Initial values of the owned fields (all of them), given the fields declared before it."""
        return {}

    def bind(self, sim: "Sim") -> None:
        """Called once every component's fields exist: take the view, look up what the steps need."""
        self.s = sim.state.view(self.name, self.fields, self.reads, self.writes)

    def truth_tables(self, sim: "Sim") -> dict[str, dict[str, np.ndarray]]:
        """The truth tables named in `truth`, as columns with "pat" (simulated position) first."""
        return {}


class Service(Component):
    """Shared machinery pathways use and never re-implement (engine/services/)."""


class Pathway(Component):
    """A condition or programme of care (pathways/)."""
