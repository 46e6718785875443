"""City simulators: a deterministic city whose devices publish the real wire formats.

Generation is pure (:meth:`simulators.scenario.City.messages` yields
:class:`simulators.truth.SimMessage` objects holding the MQTT topic, the payload bytes and the
canonical values they encode); publishing is separate (:mod:`simulators.publisher`, paho).

==========================  ===============================================================
``scenario``                ``City.build(seed, buildings, charge_points, buses)``, messages
``buildings/``              load curves, weather effects, meter registers; SenML, Tasmota,
                            Shelly encoders
``charging/``               charge points, sessions with tapering power; OCPP 1.6 / 2.0.1
``transit/``                routes, timetables, bus motion; GTFS-RT protobuf and JSON
``faults``                  fault injection, each fault with the dead-letter reason it earns
``registry``                the device registry file the hub reads
``publisher`` / ``cli``     MQTT publishing (live, accelerated, backfill) and its command line
==========================  ===============================================================
"""

from simulators.registry import write_registry
from simulators.scenario import City
from simulators.truth import Expected, InjectedFault, SimMessage

__all__ = ["City", "Expected", "InjectedFault", "SimMessage", "write_registry"]
