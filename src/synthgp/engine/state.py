"""The patient state of one block: a struct of arrays, one entry per simulated patient, declared
field by field by the component (service or pathway) that owns it.

A component sees the state through a `View` of the fields it declared: its own fields and those it
`writes` are writable, those it `reads` come read-only (numpy raises on a write), and any other name
is an AttributeError naming the component and what it declared. A typo or an undeclared dependency
fails at once instead of passing silently (Synthea's string-keyed attributes let both through).
Fields are changed in place (`s.dx[pos] = True`); a view never rebinds an array.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class State:
    """Every declared field of the block, by name."""

    def __init__(self, n: int):
        self.n = n
        self._arrays: dict[str, np.ndarray] = {}
        self.owner: dict[str, str] = {}
        self.doc: dict[str, str] = {}

    def add(self, owner: str, name: str, values: np.ndarray, doc: str = "") -> np.ndarray:
        if name in self._arrays:
            raise ValueError(f"state field {name!r} of {owner} is already declared by {self.owner[name]}")
        values = np.asarray(values)
        if values.shape[:1] != (self.n,):
            raise ValueError(f"state field {name!r} of {owner}: {values.shape[0] if values.ndim else 'a scalar'} "
                             f"entries for {self.n} patients")
        self._arrays[name], self.owner[name], self.doc[name] = values, owner, doc
        return values

    def __contains__(self, name: str) -> bool:
        return name in self._arrays

    def array(self, name: str) -> np.ndarray:
        try:
            return self._arrays[name]
        except KeyError:
            raise AttributeError(f"no state field {name!r}; declared: {', '.join(sorted(self._arrays))}") from None

    def view(self, who: str, own: Iterable[str], reads: Iterable[str] = (), writes: Iterable[str] = ()) -> "View":
        return View(self, who, set(own) | set(writes), set(reads))


class View:
    """One component's window on the state (see the module docstring)."""

    def __init__(self, state: State, who: str, writable: set[str], readable: set[str]):
        fields: dict[str, np.ndarray] = {}
        for name in sorted(writable):
            fields[name] = state.array(name)
        for name in sorted(readable - writable):
            ro = state.array(name).view()
            ro.flags.writeable = False
            fields[name] = ro
        # the fields are plain instance attributes (read at the speed of any attribute, a hundred
        # thousand times a block); __getattr__ is only reached for a name not declared
        self.__dict__.update(fields)
        self.__dict__["_fields"], self.__dict__["_who"], self.__dict__["_declared"] = fields, who, sorted(fields)

    def __getattr__(self, name: str) -> np.ndarray:
        raise AttributeError(f"{self._who} did not declare state field {name!r}; it declared: "
                             f"{', '.join(self._declared)}")

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"{self._who}: state fields change in place (s.{name}[...] = ...), never by rebinding")
