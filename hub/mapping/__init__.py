"""Declarative mappings: onboard a JSON device with a few lines of YAML, no Python.

A mappings file (``CITYHUB_INGEST__MAPPINGS_FILE``) lists mappings; each becomes an adapter
(:class:`MappedAdapter`) that the router treats like the built-in ones. The file format is in
:mod:`hub.mapping.spec`, the loading and every start-up check in :mod:`hub.mapping.loader`.
"""

from hub.mapping.adapter import MappedAdapter
from hub.mapping.loader import load_mappings

__all__ = ["MappedAdapter", "load_mappings"]
