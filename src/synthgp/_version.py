"""synthgp's version, in a module of its own: the engine's manifest and the server read it without
importing the package's library facade (synthgp/__init__.py), which reaches every layer."""

__version__ = "0.1.0"
