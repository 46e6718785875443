"""Charger connector status over time: runs, "since when", utilization and faults.

A connector's status is piecewise constant: each ``charger_status`` report holds until the
next one. A **run** is a maximal sequence of reports of one status; chargers re-send the same
status (after a reboot, on request), so "since when" is the start of the current run, not
the time of the last report. Before a connector's first report its status is unknown, and
unknown time counts neither as charging nor as observed.

**Utilization** of a set of connectors in a window is the time they spent ``Charging`` divided
by the time their status was known (observed) in that window, up to ``now``; the occupied
share (:data:`OCCUPIED`: a vehicle is plugged in) is given beside it. OCPP 2.0.1 reports only
``Occupied`` as a connector status: whether the vehicle draws power is the ``chargingState``
of its ``TransactionEvent``s, which :func:`with_charging_states` folds into the history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from hub.insights.events import Event

__all__ = [
    "CHARGING",
    "FAULTED",
    "OCCUPIED",
    "Connector",
    "StatusRun",
    "StatusTime",
    "WindowTally",
    "WindowUse",
    "began_before",
    "by_connector",
    "status_runs",
    "utilization",
    "with_charging_states",
]

CHARGING = frozenset({"Charging"})
OCCUPIED = frozenset(
    {"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Occupied"}
)
FAULTED = "Faulted"
# OCPP 2.0.1 TransactionEvent.chargingState → the connector status it amounts to.
CHARGING_STATES = {
    "Charging": "Charging",
    "SuspendedEV": "SuspendedEV",
    "SuspendedEVSE": "SuspendedEVSE",
    "EVConnected": "Occupied",
    "Idle": "Occupied",
}


@dataclass(frozen=True, order=True)
class Connector:
    device: str
    connector: str


@dataclass(frozen=True)
class StatusRun:
    """Reports of one status from ``start_ns`` until ``end_ns`` (the next different status;
    ``None`` while current). ``first`` is the run's first report (error code, info...)."""

    status: str
    start_ns: int
    end_ns: int | None
    first: Event


def by_connector(events: Iterable[Event]) -> dict[Connector, list[Event]]:
    """Status events per (device, connector), in time order (given in time order)."""
    grouped: dict[Connector, list[Event]] = defaultdict(list)
    for event in events:
        grouped[Connector(event.tags.get("device", ""), event.tags.get("connector", ""))].append(
            event
        )
    return dict(grouped)


def status_runs(events: Sequence[Event]) -> list[StatusRun]:
    """The runs of one connector's status events (in time order)."""
    runs: list[StatusRun] = []
    for event in events:
        status = str(event.fields.get("status", ""))
        if runs and runs[-1].status == status:
            continue
        if runs:
            last = runs[-1]
            runs[-1] = StatusRun(last.status, last.start_ns, event.time_ns, last.first)
        runs.append(StatusRun(status, event.time_ns, None, event))
    return runs


def began_before(runs: Sequence[StatusRun], time_ns: int) -> bool:
    """Whether the status at ``time_ns`` is known, and so is when it began: the run holding
    ``time_ns`` follows an earlier, different one."""
    holding = [index for index, run in enumerate(runs) if run.start_ns <= time_ns]
    return bool(holding) and holding[-1] > 0


@dataclass
class WindowUse:
    """Seconds of one window: observed (status known), charging, occupied."""

    start_ns: int
    observed_s: float = 0.0
    charging_s: float = 0.0
    occupied_s: float = 0.0
    connectors: int = 0

    @property
    def charging_share(self) -> float | None:
        return self.charging_s / self.observed_s if self.observed_s else None

    @property
    def occupied_share(self) -> float | None:
        return self.occupied_s / self.observed_s if self.observed_s else None


@dataclass(frozen=True)
class StatusTime:
    """Nanoseconds spent observed (status known), charging and occupied: integers, so that
    time summed in any order (run by run, or interval by interval from rollups) is the same."""

    observed_ns: int = 0
    charging_ns: int = 0
    occupied_ns: int = 0

    @classmethod
    def of(cls, status: str, duration_ns: int) -> StatusTime:
        """``duration_ns`` spent in ``status``."""
        return cls(
            duration_ns,
            duration_ns if status in CHARGING else 0,
            duration_ns if status in OCCUPIED else 0,
        )

    def __add__(self, other: StatusTime) -> StatusTime:
        return StatusTime(
            self.observed_ns + other.observed_ns,
            self.charging_ns + other.charging_ns,
            self.occupied_ns + other.occupied_ns,
        )


class WindowTally:
    """Status time per epoch-aligned window of ``every_ns`` inside ``[start_ns, end_ns)``,
    summed over connectors, and how many connectors were observed in each window."""

    def __init__(self, start_ns: int, end_ns: int, every_ns: int) -> None:
        self.start_ns, self.end_ns, self.every_ns = start_ns, end_ns, every_ns
        self._time: dict[int, StatusTime] = {}
        self._seen: dict[int, set[Hashable]] = defaultdict(set)

    def add(self, connector: Hashable, index: int, time: StatusTime) -> None:
        """``time`` of ``connector`` in window ``index`` (a window is counted for a connector
        once it was observed in it)."""
        if time.observed_ns <= 0:
            return
        self._time[index] = self._time.get(index, StatusTime()) + time
        self._seen[index].add(connector)

    def hold(self, connector: Hashable, status: str, low_ns: int, high_ns: int) -> None:
        """``status`` held from ``low_ns`` to ``high_ns``, cut at the windows' boundaries and
        clipped to the range."""
        low, high = max(low_ns, self.start_ns), min(high_ns, self.end_ns)
        while low < high:
            index = low // self.every_ns
            window_end = min((index + 1) * self.every_ns, high)
            self.add(connector, index, StatusTime.of(status, window_end - low))
            low = window_end

    def windows(self) -> list[WindowUse]:
        """The windows in which some connector was observed, in time order."""
        return [
            WindowUse(
                index * self.every_ns,
                observed_s=time.observed_ns / 1e9,
                charging_s=time.charging_ns / 1e9,
                occupied_s=time.occupied_ns / 1e9,
                connectors=len(self._seen[index]),
            )
            for index, time in sorted(self._time.items())
        ]


def utilization(
    runs_per_connector: Iterable[Sequence[StatusRun]],
    start_ns: int,
    end_ns: int,
    every_ns: int,
) -> list[WindowUse]:
    """Time per epoch-aligned window of ``every_ns`` inside ``[start_ns, end_ns)``, summed over
    the connectors. The last run of a connector lasts until ``end_ns`` (pass ``min(end, now)``).
    Windows in which no connector was observed are left out."""
    tally = WindowTally(start_ns, end_ns, every_ns)
    for connector, runs in enumerate(runs_per_connector):
        for run in runs:
            tally.hold(
                connector,
                run.status,
                run.start_ns,
                run.end_ns if run.end_ns is not None else end_ns,
            )
    return tally.windows()


def with_charging_states(status: Sequence[Event], sessions: Sequence[Event]) -> list[Event]:
    """Status events with OCPP 2.0.1 charging states folded in, in time order.

    A transaction's events carry ``chargingState``, but only its first one names the EVSE
    (the ``connector`` tag); later ones are matched to it by ``session_id``. Each becomes a
    status report of that connector (``Charging``, ``SuspendedEV``, ``Occupied``...) at its
    time. The ``ended`` event is left out: the StatusNotification that follows says what the
    connector is then. OCPP 1.6 sessions carry no charging state and add nothing."""
    connector_of: dict[tuple[str, str], str] = {}
    folded: list[Event] = []
    for event in sorted(sessions, key=lambda e: e.time_ns):
        device = event.tags.get("device", "")
        session_id = str(event.fields.get("session_id", ""))
        if event.tags.get("connector"):
            connector_of[device, session_id] = event.tags["connector"]
        connector = event.tags.get("connector") or connector_of.get((device, session_id))
        state = CHARGING_STATES.get(str(event.fields.get("charging_state", "")))
        if state is None or connector is None or event.fields.get("event") == "ended":
            continue
        folded.append(
            Event({**event.tags, "connector": connector}, event.time_ns, {"status": state})
        )
    return sorted([*status, *folded], key=lambda e: e.time_ns)
