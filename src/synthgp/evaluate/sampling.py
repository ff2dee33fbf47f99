"""How far a generated share can stray from its target by sampling alone, at the size of the run.

A figure measured over a small group (a 0.4% register band of a few thousand people, women aged 85 and over) has a
binomial standard error of sqrt(p(1-p)/n): at 20,000 patients it can exceed the figure's tolerance, which is sized
for 200,000. `Share` carries the denominator with the value, so the calibration table can say whether a miss is
within the noise of the run (`noise`) or a real one (`FAIL`). The strict within-tolerance test is unchanged.
A rate of rare events (per 100,000 person-years) is a `Rate`, with the person-years behind it: its margin is
Poisson's, sqrt(expected events) at the target rate.
"""

from __future__ import annotations

import math

Z = 1.96  # two-sided 95%


class Share(float):
    """A proportion that knows how many people it was measured over; `per` scales it (100,000 for a rate per 100,000
    people, whose proportion is value / per)."""

    __slots__ = ("n", "per")

    def __new__(cls, value: float, n: int, per: float = 1.0) -> Share:
        obj = super().__new__(cls, value)
        obj.n = int(n)
        obj.per = float(per)
        return obj


def share(value: float | None, n: int | None, per: float = 1.0) -> Share | float | None:
    """`Share(value, n, per)`, or the bare value when either is missing (no rows: nothing to carry)."""
    if value is None or not n:
        return value
    return Share(value, n, per)


def margin(p: float, n: int | None) -> float:
    """Half-width of the 95% sampling interval of a share p measured over n people (0 when n is unknown)."""
    if not n or not 0 <= p <= 1:
        return 0.0
    return Z * math.sqrt(p * (1 - p) / n)


class Rate(float):
    """Events per `per` person-years that know how many person-years they were counted over."""

    __slots__ = ("years", "per")

    def __new__(cls, value: float, years: float, per: float) -> Rate:
        obj = super().__new__(cls, value)
        obj.years, obj.per = float(years), float(per)
        return obj


def rate_margin(rate: float, years: float, per: float) -> float:
    """Half-width of the 95% Poisson interval of a rate expected at `rate` per `per` person-years, counted over
    `years` person-years: Z * sqrt(expected events), in the rate's own unit (0 when `years` is not positive)."""
    if years <= 0 or rate < 0:
        return 0.0
    return Z * math.sqrt(rate * years / per) * per / years
