"""synthgp: an artificial English GP practice, with longitudinal primary-care records."""

__version__ = "0.1.0"
