"""Load for the live test: the benchmark's traffic at a fixed rate for a bounded time.

    python -m bench.publisher --port P --rate 5000 --duration 20 [--seed 7] [--device-scale 1]

Messages are generated and encoded before the clock starts, then written every 10 ms as
many as are due (QoS 1, raw socket: see :mod:`bench.wire`). Prints one JSON line with the
messages sent and the rate achieved.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.wire import RawPublisher
from bench.workload import Workload

TICK_S = 0.01


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="messages per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--client-id", default="bench-load")
    parser.add_argument("--device-scale", type=int, default=1, help="Workload's device_scale")
    args = parser.parse_args(argv)

    count = int(args.rate * args.duration)
    publisher = RawPublisher(args.port, args.client_id)
    workload = Workload(args.seed, device_scale=args.device_scale)
    packets = publisher.encode(list(workload.messages(count)))
    print("ready", file=sys.stderr, flush=True)
    started = time.perf_counter()
    sent = 0
    while sent < count:
        due = min(count, int((time.perf_counter() - started) * args.rate) + 1)
        if due > sent:
            publisher.send(packets[sent:due])
            sent = due
        time.sleep(TICK_S)
    seconds = time.perf_counter() - started
    publisher.wait_acked()
    publisher.close()
    print(json.dumps({"sent": sent, "seconds": seconds, "rate": sent / seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
