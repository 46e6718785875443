"""Declarative mappings shipped with the hub for devices city buildings really have.

Each YAML file here is a mappings file (:mod:`hub.mapping.spec`): point
``CITYHUB_INGEST__MAPPINGS_FILE`` at one, or ``include`` them from a site's own file. They
need no Python and no release: a new device family is a new file.
"""

from pathlib import Path

__all__ = ["SHIPPED"]

SHIPPED = Path(__file__).parent
