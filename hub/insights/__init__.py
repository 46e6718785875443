"""Operator answers built only on the store's query primitives (:mod:`hub.query`).

Plain functions, no HTTP: the API's routers call them, tests call them directly.

* :mod:`hub.insights.events`: raw events of a measurement, read through ``points``;
* :mod:`hub.insights.status`: charger status runs, "since when", utilization, faults;
* :mod:`hub.insights.sessions`: OCPP sessions, 1.6 starts paired with their stops;
* :mod:`hub.insights.energy`: building demand, charger energy per site;
* :mod:`hub.insights.sites`: a charging site's peak demand and week-on-week comparison;
* :mod:`hub.insights.carbon`: the carbon estimate's arithmetic.
"""
