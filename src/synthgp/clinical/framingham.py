"""The Framingham 1991 ten-year cardiovascular risk (Anderson et al., Am Heart J 1991), vectorised: the
equation behind the risk charts practices used before QRISK2. Coefficients in data/framingham.toml."""

from __future__ import annotations

import numpy as np

from synthgp.core import dates, reference


def score(male: np.ndarray, age: np.ndarray, sbp: np.ndarray, smoker: np.ndarray, chol_ratio: np.ndarray,
          diabetes: np.ndarray, years: float | None = None) -> np.ndarray:
    """Risk of a cardiovascular event within `years` (default the file's 10), in percent (unrounded).
    `smoker` is a current smoker; ECG-LVH, which a GP record does not hold, counts as absent."""
    c = reference.toml("framingham.toml")
    female = 1.0 - np.asarray(male, dtype=np.float64)
    diabetes = np.asarray(diabetes, dtype=np.float64)
    log_age = np.log(np.asarray(age, dtype=np.float64))
    mu = (c["beta0"] + c["female"] * female + c["log_age"] * log_age + c["log_age_female"] * log_age * female
          + c["log_sbp"] * np.log(sbp) + c["cigarettes"] * np.asarray(smoker, dtype=np.float64)
          + c["log_ratio"] * np.log(chol_ratio) + c["diabetes"] * diabetes + c["diabetes_female"] * diabetes * female)
    sigma = np.exp(c["theta0"] + c["theta1"] * mu)
    u = (np.log(c["years"] if years is None else years) - mu) / sigma
    return 100.0 * (1.0 - np.exp(-np.exp(u)))


def nice_adjusted(risk: np.ndarray, family_history: np.ndarray, day) -> np.ndarray:
    """The Framingham `risk` (percent) as NICE CG67 had it adjusted from its issue (data/framingham.toml
    [uk_adjustment]): times 1.5 with premature coronary heart disease in a first-degree relative, at most 100.
    Before CG67 the charts' risk stands. `day` is one day number for all or one per patient."""
    adj = reference.toml("framingham.toml")["uk_adjustment"]
    on = (np.asarray(day) >= dates.to_days(adj["start"])) & np.asarray(family_history, dtype=bool)
    return np.where(on, np.minimum(risk * adj["family_history"], 100.0), risk)
