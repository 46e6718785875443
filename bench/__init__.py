"""The City Data Hub benchmark harness: ``python -m bench --help`` (or ``make bench``).

Not part of the test run: it never asserts a time. It measures the hub against baselines
taken in the same run (mosquitto_sub, a bare paho client) and reports ratios, latencies and
query times next to the targets of DESIGN.md, in ``bench/results/latest.{json,md}``.
"""
