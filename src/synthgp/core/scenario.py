"""The scenario: every tunable parameter of a run, validated, with its unit and source.

Defaults come from the packaged `default_scenario.toml`, where each parameter carries a value, a
unit, a kind and a source. A user's TOML or YAML file sets plain values for any subset; unknown
names are rejected (a typo must not pass silently).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synthgp.core import reference


class ScenarioError(ValueError):
    """A scenario or option that cannot be used; the message names the field and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    end: dt.date
    years: int = Field(ge=1, le=60)
    start: dt.date | None = None

    @model_validator(mode="after")
    def _order(self) -> "Period":
        if self.start is not None and self.start >= self.end:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        return self

    @property
    def first_day(self) -> dt.date:
        if self.start is not None:
            return self.start
        try:
            return self.end.replace(year=self.end.year - self.years) + dt.timedelta(days=1)
        except ValueError:  # 29 February
            return self.end.replace(year=self.end.year - self.years, day=28) + dt.timedelta(days=1)


class Population(_Strict):
    region: str
    list_size_mean: float = Field(gt=0)
    list_size_sd: float = Field(ge=0)
    list_size_min: int = Field(ge=1)
    list_size_max: int = Field(ge=1)
    ethnicity_unrecorded: float = Field(ge=0, le=1)

    @field_validator("region")
    @classmethod
    def _known_region(cls, v: str) -> str:
        allowed = reference.region_keys()
        if v not in allowed:
            raise ValueError(f"unknown region {v!r}; allowed: {', '.join(allowed)}")
        return v

    @model_validator(mode="after")
    def _bounds(self) -> "Population":
        if self.list_size_min > self.list_size_max:
            raise ValueError("list_size_min must not exceed list_size_max")
        return self


class Registration(_Strict):
    newborn_lag_mean_days: float = Field(ge=0, le=365)
    temporary_resident_share: float = Field(ge=0, le=0.5)
    temporary_stay_mean_days: float = Field(gt=0, le=365)
    deregistration_after_death_mean_days: float = Field(ge=0, le=365)


class Care(_Strict):
    """How the practice and its patients behave (hypertension pathway)."""

    burn_in_years: int = Field(ge=0, le=40)
    consultation_rate_young: float = Field(ge=0, le=50)
    consultation_rate_old: float = Field(ge=0, le=50)
    female_consultation_ratio: float = Field(gt=0, le=5)
    bp_check_if_overdue: float = Field(ge=0, le=1)
    bp_check_overdue_from_age: float = Field(ge=18, le=100)
    bp_check_young_factor: float = Field(ge=0, le=1)
    bp_check_opportunistic: float = Field(ge=0, le=1)
    bp_check_diagnosed: float = Field(ge=0, le=1)
    recheck_after_raised: float = Field(ge=0, le=1)
    health_check_uptake: float = Field(ge=0, le=1)
    review_delay_mean_days: float = Field(ge=0, le=3650)
    out_of_clinic_done: float = Field(ge=0, le=1)
    hbpm_share: float = Field(ge=0, le=1)
    prior_diagnosis: float = Field(ge=0, le=1)
    inertia: float = Field(ge=0, le=1)
    consider_uptake: float = Field(ge=0, le=1)
    decline_treatment: float = Field(ge=0, le=1)
    did_not_attend: float = Field(ge=0, le=1)
    nonadherent_share: float = Field(ge=0, le=1)
    adherence_partial: tuple[float, float]
    adherence_full: tuple[float, float]

    @field_validator("adherence_partial", "adherence_full")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1] <= 1:
            raise ValueError(f"must be [low, high] with 0 <= low <= high <= 1 (got {list(v)})")
        return v
    stop_per_year: float = Field(ge=0, le=1)
    repeat_56_day_share: float = Field(ge=0, le=1)
    refill_delay_share: float = Field(ge=0, le=1)
    prior_treated: float = Field(ge=0, le=1)
    restart_after_stopping: float = Field(ge=0, le=1)
    refer_under40: float = Field(ge=0, le=1)
    step4_alpha_share: float = Field(ge=0, le=1)
    diabetes_review_bp: float = Field(ge=0, le=1)
    acei_cough: float = Field(ge=0, le=1)
    condition_known_at_entry: float = Field(ge=0, le=1)
    condition_diagnosis_delay_years: float = Field(gt=0, le=50)


class Flu(_Strict):
    """The seasonal influenza vaccination programme (uptake by season is in data/flu.toml)."""

    persistence: float = Field(ge=0, le=1)
    uptake_scale: float = Field(ge=0, le=2)
    not_notified: float = Field(ge=0, le=1)
    declined_coded: float = Field(ge=0, le=1)


class Covid(_Strict):
    """COVID-19 from 2020 (waves, testing, outcomes and vaccination are in data/covid.toml)."""

    wave_scale: float = Field(ge=0, le=5)
    results_recorded: float = Field(ge=0, le=1)
    disruption_scale: float = Field(ge=0, le=1)


MATCHABLE = ("sex", "age", "imd", "ethnicity")


class RiskFactors(_Strict):
    """Where the population's QRISK3 inputs come from: the built-in network, or a learned model."""

    model: str = ""
    match: tuple[str, ...] = ("sex", "age")
    age_band_years: int = Field(ge=1, le=50)
    pool_rows: int = Field(ge=1_000, le=20_000_000)

    @field_validator("match")
    @classmethod
    def _matchable(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [m for m in v if m not in MATCHABLE]
        if bad or len(set(v)) != len(v):
            raise ValueError(f"must be distinct names from {', '.join(MATCHABLE)} (got {list(v)})")
        return v


class Exports(_Strict):
    cvd_baseline: str

    @field_validator("cvd_baseline")
    @classmethod
    def _date_or_start(cls, v: str) -> str:
        if v != "start":
            try:
                dt.date.fromisoformat(v)
            except ValueError:
                raise ValueError(f"must be 'start' or a date YYYY-MM-DD (got {v!r})") from None
        return v


class Scenario(_Strict):
    name: str
    period: Period
    population: Population
    registration: Registration
    care: Care
    flu: Flu
    covid: Covid
    risk_factors: RiskFactors
    exports: Exports

    @model_validator(mode="after")
    def _baseline_in_period(self) -> "Scenario":
        b = self.exports.cvd_baseline
        if b != "start" and not (self.period.first_day <= dt.date.fromisoformat(b) <= self.period.end):
            raise ValueError(f"exports.cvd_baseline {b} must lie in the study period "
                             f"({self.period.first_day} to {self.period.end})")
        return self

    # For library users (synthgp.Scenario); the module's build() and load() below do the work.
    @classmethod
    def default(cls) -> "Scenario":
        """The built-in scenario (data/default_scenario.toml), as `synthgp scenario show` prints it."""
        return build()

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> "Scenario":
        """A scenario file (TOML or YAML; None: the defaults), with overrides on top given as nested
        keywords, e.g. `Scenario.load(population={"region": "england"}, period={"end": date(2023, 12, 31)})`.
        ScenarioError (a ValueError) names any bad field and what is allowed."""
        return load(path, overrides)


def _defaults_table() -> dict[str, Any]:
    return reference.toml("default_scenario.toml")


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Flatten the defaults file to {"period.end": {"value": ..., "unit": ...}, ...}."""
    out: dict[str, dict[str, Any]] = {}
    for key, val in tree.items():
        path = f"{prefix}{key}"
        if isinstance(val, dict) and "value" in val:
            out[path] = val
        elif isinstance(val, dict):
            out.update(_leaves(val, path + "."))
    return out


def parameters() -> dict[str, dict[str, Any]]:
    """Every parameter with its default value, unit, kind and source."""
    return _leaves(_defaults_table())


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        node = tree
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def _flatten_user(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, val in tree.items():
        path = f"{prefix}{key}"
        if isinstance(val, dict):
            out.update(_flatten_user(val, path + "."))
        else:
            out[path] = val
    return out


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"invalid scenario ({source}):"]
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(scenario)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown parameter; see `synthgp scenario show` for the allowed names"
        got = e.get("input")
        # a whole section (a rule across fields) is named by the message itself, not dumped as a dict
        lines.append(f"  {field}: {msg}" + ("" if isinstance(got, dict) else f" (got {got!r})"))
    return "\n".join(lines)


def read_file(path: str | Path) -> dict[str, Any]:
    """Parse a TOML or YAML scenario file into plain values."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"scenario file not found: {p}")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif p.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ScenarioError(f"scenario file {p}: unknown type {p.suffix!r}; allowed: .toml, .yaml, .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"scenario file {p} is not valid {p.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario file {p}: expected a table of parameters at the top level")
    return data


def build(overrides: dict[str, Any] | None = None, source: str = "defaults") -> Scenario:
    """Defaults, then `overrides` (nested or dotted keys), validated."""
    values = {path: meta["value"] for path, meta in parameters().items()}
    values.update(_flatten_user(overrides or {}))
    try:
        sc = Scenario.model_validate(_nest(values))
    except ValidationError as err:
        raise ScenarioError(_format_errors(err, source)) from None
    model = sc.risk_factors.model
    if model and not Path(model).is_file():
        # what the model holds is checked before a run (population/cohort.py), not here: core reads no
        # model, and a finished output's scenario can be re-read (synthgp export) after the file has moved
        raise ScenarioError(f"invalid scenario ({source}):\n  risk_factors.model: model file not found: {model} "
                            "(make one with `synthgp learn fit DATA --out MODEL.npz`)")
    return sc


def load(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Scenario:
    """The scenario from a file (or the default), with command-line overrides on top."""
    data = read_file(path) if path else {}
    merged = _flatten_user(data)
    model = merged.get("risk_factors.model")
    if path and isinstance(model, str) and model and not Path(model).is_absolute():
        # a model named in a scenario file is found beside the file, wherever synthgp is run from
        merged["risk_factors.model"] = str((Path(path).parent / model).resolve())
    merged.update(_flatten_user(overrides or {}))
    return build(merged, source=str(path) if path else "defaults")


def describe(sc: Scenario) -> list[tuple[str, str, str, str, str]]:
    """Rows of (parameter, effective value, unit, kind, source) for printing."""
    flat = _flatten_user(sc.model_dump(mode="json", exclude_none=True))
    rows = []
    for path, meta in parameters().items():
        rows.append((path, str(flat.get(path, meta["value"])), meta["unit"], meta["kind"], meta["source"]))
    if sc.period.start is not None:
        rows.append(("period.start", str(sc.period.start), "date", "modelling", "set by the user"))
    return rows
