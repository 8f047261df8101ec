"""Shared code of the Return to Dust data-analysis course."""

__version__ = "0.1.0"
