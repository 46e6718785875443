"""Wire-format adapters, one module or package per format family.

Each is registered in the ``cityhub.adapters`` entry-point group of ``pyproject.toml`` and
follows :class:`hub.contracts.Adapter`. See ``adapters/README.md`` for the canonical
measurements they produce and how to add one.
"""
