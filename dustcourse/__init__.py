"""Shared code of the Return to Dust data-analysis course."""

from .deferred_iri_grammar import import_jsonschema

__version__ = "0.1.0"

import_jsonschema()  # before nbformat, nbgrader or frictionless import it (0.8 s less)
