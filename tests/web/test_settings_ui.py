"""The dashboard's settings: a tile URL reaches the page, a malformed one stops the hub."""

from __future__ import annotations

import html
import json
import re

import pytest

from hub.errors import ConfigError
from hub.settings import load_settings
from hub.web.routes import _index_html


def _page_config(page: str) -> dict:
    return json.loads(html.unescape(re.search(r'data-ui-config="([^"]*)"', page).group(1)))


def test_the_tile_url_and_attribution_reach_the_page_escaped() -> None:
    settings = load_settings(
        mode="test",
        ui={
            "tile_url": "https://tiles.example.org/{z}/{x}/{y}.png",
            "tile_attribution": '© "Example" <a href="https://example.org">map data</a>',
        },
    )
    page = _index_html(settings)
    assert _page_config(page) == {
        "tile_url": "https://tiles.example.org/{z}/{x}/{y}.png",
        "tile_attribution": '© "Example" <a href="https://example.org">map data</a>',
    }
    assert "<a href" not in page.split("data-ui-config=")[1].split(">")[0]


def test_without_a_tile_url_the_page_draws_from_data_only() -> None:
    assert _page_config(_index_html(load_settings(mode="test")))["tile_url"] is None


@pytest.mark.parametrize("url", ["tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org/"])
def test_a_tile_url_without_scheme_or_zoom_is_a_startup_error(url: str) -> None:
    with pytest.raises(ConfigError, match="CITYHUB_UI__TILE_URL"):
        load_settings(mode="test", ui={"tile_url": url})
