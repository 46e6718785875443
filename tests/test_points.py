"""The canonical point's series key: one per tag set, whatever the order of the tags, also
once the remembered keys have been dropped for a flood of new series."""

from __future__ import annotations

import pytest

from hub import points
from hub.points import Point, series_key


def test_a_tag_set_has_one_key_in_any_order() -> None:
    assert series_key({"device": "m-1", "building": "b-7"}) == "building=b-7,device=m-1"
    assert series_key({"building": "b-7", "device": "m-1"}) == "building=b-7,device=m-1"
    assert series_key({}) == ""


def test_points_of_one_device_share_the_series_of_their_tags() -> None:
    first = Point("building_energy", {"device": "m-1", "channel": "1"}, {"power_w": 1.0}, 1)
    again = Point("building_energy", {"device": "m-1", "channel": "1"}, {"power_w": 2.0}, 2)
    other = Point("building_energy", {"device": "m-1", "channel": "2"}, {"power_w": 1.0}, 1)
    assert first.series == again.series == "channel=1,device=m-1"
    assert other.series == "channel=2,device=m-1"


def test_keys_stay_right_past_the_remembered_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(points, "SERIES_KEYS_KEPT", 3)
    for round_ in range(3):  # the cache fills, is dropped and fills again
        for number in range(10):
            tags = {"device": f"m-{number}", "building": f"b-{round_}"}
            assert series_key(tags) == f"building=b-{round_},device=m-{number}"
