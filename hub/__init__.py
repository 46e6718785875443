"""City Data Hub core: canonical points, contracts, ingest, stores and the operator API.

Nothing in this package knows a sensor family by name: adapters are found through the
``cityhub.adapters`` entry-point group.
"""

__version__ = "0.1.0"
