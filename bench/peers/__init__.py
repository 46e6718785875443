"""The hub beside its peers (``python -m bench --only peers``): Node-RED with
node-red-contrib-influxdb and mqtt2influxdb bridge the same SenML stream into the same sink.

Files here: ``install.sh`` (the peers' set-up: npm into ``node_modules/``, PyPI into
``.venv/``, both gitignored), ``flows.json`` (built by :mod:`bench.peers.flow` from
``senml-to-points.js``), ``mqtt2influxdb.yaml``; the measurement is :mod:`bench.peers.stage`.
"""

from bench.peers.stage import run_peers

__all__ = ["run_peers"]
