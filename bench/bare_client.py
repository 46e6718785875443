"""Consumer (b) of the drain test: a bare paho-mqtt client that does nothing but acknowledge.

MQTT v5, ``manual_ack=True``, the persistent session the harness created, the hub's topic
filters and Receive Maximum: everything as the hub's MQTT source, minus the hub. Each
message is acknowledged in ``on_message`` as soon as it arrives. Prints one JSON line:
``{"connected_at": <epoch s>, "done_at": <epoch s>, "received": <n>, "connected_cpu_s": <s>,
"done_cpu_s": <s>}`` (the process's user + system CPU seconds at both moments, so that its
start-up is not counted in its CPU per message).

    python -m bench.bare_client --port P --client-id ID --count N
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.services import HUB_FILTERS, SESSION_EXPIRY_S


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--receive-maximum", type=int, default=10000)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    state: dict[str, Any] = {"received": 0, "connected_at": None, "done_at": None}

    def cpu_s() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
        return usage.ru_utime + usage.ru_stime

    done = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=args.client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )

    def on_connect(client: mqtt.Client, _u: Any, _flags: Any, _reason: Any, _p: Any) -> None:
        state["connected_at"] = time.time()
        state["connected_cpu_s"] = cpu_s()
        client.subscribe([(f, 1) for f in HUB_FILTERS])

    def on_message(client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        client.ack(message.mid, message.qos)
        state["received"] += 1
        if state["received"] == args.count:
            state["done_at"] = time.time()
            state["done_cpu_s"] = cpu_s()
            done.set()

    client.on_connect = on_connect
    client.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = SESSION_EXPIRY_S
    properties.ReceiveMaximum = args.receive_maximum
    client.connect("127.0.0.1", args.port, clean_start=False, properties=properties)
    client.loop_start()
    finished = done.wait(args.timeout)
    client.disconnect()
    client.loop_stop()
    print(json.dumps(state))
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
