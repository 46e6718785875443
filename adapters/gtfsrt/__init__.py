"""GTFS-Realtime VehiclePosition feeds, protobuf or JSON (``gtfsrt/<feed>/vehicle_positions``)."""

from adapters.gtfsrt.adapter import GtfsRtAdapter

__all__ = ["GtfsRtAdapter"]
