"""The version of gankit (recorded in exports, evaluations and reports)."""
__version__ = "0.1.0"
