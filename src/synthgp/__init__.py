"""synthgp: an artificial English GP practice, with longitudinal primary-care records."""

from synthgp._version import __version__

__all__ = ["__version__"]
