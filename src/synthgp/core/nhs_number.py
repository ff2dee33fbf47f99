"""NHS numbers in ranges that are never issued to real people.

An NHS number is nine digits plus a modulus-11 check digit. For a fixed first eight digits, the
ninth digit's weight is 2, so nine or ten of its ten values give a valid number; we enumerate the
valid ones in order, which gives a bijection from patient index to a unique valid number.
Patients get the 999 range first (999 + six digits + check: about 900,000 numbers); a run larger
than that continues into the rest of the 9000000000-9999999999 test range.
"""

from __future__ import annotations

import numpy as np

_WEIGHTS = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)
_GROUPS_999 = 100_000  # 8-digit stems 999xxxxx


def check_digit(first_nine: np.ndarray) -> np.ndarray:
    """Check digit for 9-digit stems (ints); 10 means no valid number has this stem."""
    digits = (np.asarray(first_nine, dtype=np.int64)[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    c = 11 - (digits @ _WEIGHTS) % 11
    return np.where(c == 11, 0, c)


def is_valid(number: str) -> bool:
    """True for a 10-digit string whose check digit is right."""
    s = number.replace(" ", "")
    if len(s) != 10 or not s.isdigit():
        return False
    c = check_digit(np.array([int(s[:9])]))[0]
    return c != 10 and c == int(s[9])


def _stem_of_group(g: np.ndarray) -> np.ndarray:
    """Map group index to an 8-digit stem: the 999 range first (scrambled), then 90000000-99899999."""
    g = np.asarray(g, dtype=np.int64)
    in_999 = g < _GROUPS_999
    # A bijection on [0, 100000): multiplication by a unit mod 10^5, so numbers do not follow patid order.
    scrambled = (g * 38_917 + 1_234) % _GROUPS_999
    beyond = 90_000_000 + (g - _GROUPS_999)
    return np.where(in_999, 99_900_000 + scrambled, beyond)


def for_indices(index: np.ndarray) -> np.ndarray:
    """Unique valid NHS numbers (as int64) for distinct non-negative patient indices."""
    index = np.asarray(index, dtype=np.int64)
    group, pos = np.divmod(index, 9)
    if (group >= 9_900_000).any():
        raise ValueError("more patients than the NHS test range can number (about 89 million)")
    stems = _stem_of_group(group)
    nine = stems[:, None] * 10 + np.arange(10)[None, :]
    # the stem's eight digits weigh the same for every ninth digit, whose weight is 2
    stem_sum = ((stems[:, None] // 10 ** np.arange(7, -1, -1)) % 10) @ _WEIGHTS[:8]
    checks = 11 - (stem_sum[:, None] + _WEIGHTS[8] * np.arange(10)[None, :]) % 11
    checks = np.where(checks == 11, 0, checks)
    valid = checks != 10
    # pos-th valid ninth digit (there are at least nine in every group)
    rank = np.cumsum(valid, axis=1) - 1
    col = np.argmax(valid & (rank == pos[:, None]), axis=1)
    rows = np.arange(len(index))
    return nine[rows, col] * 10 + checks[rows, col]


def format_334(number: int | str) -> str:
    s = str(number)
    return f"{s[:3]} {s[3:6]} {s[6:]}"
