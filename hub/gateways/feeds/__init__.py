"""GTFS-Realtime feeds polled over HTTP(S) and published to the broker
(see :mod:`hub.gateways.feeds.poller`)."""

from hub.gateways.feeds.poller import FeedPoller, FeedPollers, FeedStatus

__all__ = ["FeedPoller", "FeedPollers", "FeedStatus"]
