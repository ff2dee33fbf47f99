"""synthgp: an artificial English GP practice, with longitudinal primary-care records.

As a library:

    import synthgp

    out = synthgp.generate("practice", patients=2_000, seed=1, formats=("duckdb", "aurum"))
    with out.connect() as con:  # read-only DuckDB connection
        print(con.sql("SELECT gender, count(*) FROM patient GROUP BY ALL"))
    out.manifest["tables"]  # rows per table; also the seed, scenario, formats, timings

    sc = synthgp.Scenario.load(population={"region": "england"})  # or Scenario.load("my.toml")
    synthgp.generate("england", patients=2_000, seed=1, scenario=sc, overwrite=True)
    synthgp.open("practice").manifest["patients"]  # an existing output folder

synthgp.generate, synthgp.open, synthgp.Scenario and synthgp.Output are imported on first use, so
`import synthgp` stays light. docs/library.md says more; the command line (`synthgp --help`) does
the same and more.
"""

from synthgp._version import __version__

_LAZY = ("Output", "Scenario", "generate", "open")
__all__ = ["Output", "Scenario", "__version__", "generate"]  # not open: `from synthgp import *` must not hide the built-in


def __getattr__(name: str):
    if name in ("generate", "open"):
        from synthgp import _facade

        return getattr(_facade, name)
    if name == "Scenario":
        from synthgp.core.scenario import Scenario

        return Scenario
    if name == "Output":
        from synthgp.core.output import Output

        return Output
    raise AttributeError(f"module 'synthgp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
