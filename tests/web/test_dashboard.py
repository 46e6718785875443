"""The dashboard in a real browser (Debian's chromium, headless, driven by Playwright) against a
real ``cityhub run`` fed by the city simulators through a real Mosquitto.

Every view must load without a console error, and the numbers on the page must equal the
API's answers for the same moment. The simulators publish a backfill only (no live traffic)
and buses count as reporting for a day, so the answers hold still while the page is read.

Screenshots go to a temporary folder; with ``CITYHUB_SCREENSHOTS=1`` they replace the ones in
``docs/screenshots/`` that the README shows (so a plain test run leaves the tree clean).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.broker import Mosquitto
from tests.conftest import ADMIN_KEY, READ_KEY, HubProcess, Publisher, wait_until

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BAD_MESSAGES = [  # dead letters for the Data health view: broken frames, an unknown meter
    ("senml/meter-web-1", b'[{"n": "power", "v": 1'),
    ("senml/meter-web-2", b"not json at all"),
    ("senml/meter-web-3", b'[{"n": "power", "u": "W", "v": 5}]'),
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (deploy/install-deps.sh)"
)


@dataclass
class Site:
    hub: HubProcess
    browser: object
    shots: Path

    def api(self, path: str, key: str = ADMIN_KEY, **params: str) -> dict:
        with self.hub.client(key) as client:
            response = client.get(f"/api/v1/{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()


def _messages_handled(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    counters = re.finditer(r"^cityhub_messages_total\{[^}]*\} (\S+)$", text, re.M)
    return sum(float(m.group(1)) for m in counters)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from simulators.publisher import run as publish
    from simulators.registry import write_registry
    from simulators.scenario import City

    tmp = tmp_path_factory.mktemp("web")
    broker = Mosquitto(tmp / "broker").start()
    city = City.build(seed=42)
    write_registry(city, tmp / "registry.json")
    hub = HubProcess(
        tmp,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(tmp / "registry.json"),
        CITYHUB_INSIGHTS__BUS_STALE_S="86400",
    )
    try:
        hub.start()
        stats = publish(
            city,
            "127.0.0.1",
            broker.port,
            stop_event=threading.Event(),
            backfill_s=6 * 3600,
            backfill_only=True,
            client_id="web-test-simulators",
            progress=False,
        )
        assert stats.connected and stats.backfilled > 1000, stats
        publisher = Publisher(broker.port, client_id="web-test-bad-devices")
        publisher.publish_all(BAD_MESSAGES)
        publisher.close()
        wait_until(
            lambda: _messages_handled(hub.base_url) >= stats.backfilled + len(BAD_MESSAGES),
            timeout_s=90,
            message=f"the hub did not take the {stats.backfilled} backfilled messages",
        )
        shots = SCREENSHOTS if os.environ.get("CITYHUB_SCREENSHOTS") else tmp / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        with playwright_api.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                yield Site(hub, browser, shots)
            finally:
                browser.close()
    finally:
        hub.stop()
        broker.stop()


class Page:
    """One browser tab with its console errors collected."""

    def __init__(self, site: Site, width: int = 1280, height: int = 860) -> None:
        self.context = site.browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: m.type == "error" and self.errors.append(f"{m.text} {m.location.get('url')}"),
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.base = site.hub.base_url

    def open_view(self, view: str) -> None:
        self.page.evaluate(f"location.hash = '#/{view}'") if self.page.url.startswith(
            self.base
        ) else self.page.goto(f"{self.base}/#/{view}")
        self.page.wait_for_selector(f'#view[data-view="{view}"][data-loaded="true"]')

    def metric(self, name: str) -> str:
        return self.page.inner_text(f'#view [data-metric="{name}"]')

    def close(self) -> None:
        self.context.close()


def _number(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text.replace(",", "")))


def test_every_view_loads_without_a_console_error_and_shows_the_apis_numbers(site: Site) -> None:
    tab = Page(site)
    try:
        # The demo's link: the key in the fragment, which the page stores and removes at once.
        tab.page.goto(f"{site.hub.base_url}/#key={ADMIN_KEY}")
        tab.page.wait_for_selector('#view[data-view="city"][data-loaded="true"]')
        assert ADMIN_KEY not in tab.page.url
        assert tab.page.inner_text("#role") == "admin key"
        assert tab.page.is_hidden("#banner"), tab.page.inner_text("#banner")
        assert tab.page.inner_text("#updated").startswith("Updated")

        overview = site.api("city/overview")
        assert tab.metric("buses-reporting") == (
            f"{overview['buses']['reporting']} of {overview['buses']['vehicles']}"
        )
        assert overview["buses"]["vehicles"] > 0, overview
        shown_status = {
            item.get_attribute("data-status"): int(item.inner_text().split()[-1])
            for item in tab.page.query_selector_all('[data-metric="connectors-by-status"] li')
            if item.get_attribute("data-status")
        }
        assert shown_status == overview["chargers"]["by_status"] and shown_status, overview
        assert tab.metric("power-now").endswith(" kW")
        tab.page.screenshot(path=str(site.shots / "city.png"))

        tab.open_view("buildings")
        buildings = site.api("buildings")["buildings"]
        assert tab.metric("buildings-count") == f"{len(buildings)} buildings"
        rows = tab.page.query_selector_all("table[data-table=buildings] tbody tr")
        assert len(rows) == len(buildings) > 0
        one = max(buildings, key=lambda b: b["energy_today_kwh"])
        row = tab.page.locator(f'tr[data-building="{one["building"]}"]')
        shown_kwh = _number(row.locator('td[data-col="energy_today_kwh"]').inner_text())
        assert shown_kwh == pytest.approx(one["energy_today_kwh"], abs=0.05)
        # Sorting by a header, then a building's chart, peak and week-over-week, by keyboard.
        tab.page.click('th[data-key="energy_today_kwh"] button')
        first = tab.page.locator("table[data-table=buildings] tbody tr").first
        assert first.get_attribute("data-building") == one["building"]
        drawn_at = tab.page.get_attribute("#updated", "data-at")
        tab.page.wait_for_timeout(20)
        tab.page.click("#refresh")  # the chosen order survives the refresh that redraws it
        tab.page.wait_for_function(
            f"document.querySelector('#updated').dataset.at !== '{drawn_at}'"
        )
        assert tab.page.get_attribute('th[data-key="energy_today_kwh"]', "aria-sort") == (
            "descending"
        )
        first = tab.page.locator("table[data-table=buildings] tbody tr").first
        assert first.get_attribute("data-building") == one["building"]
        first.focus()
        tab.page.keyboard.press("Enter")
        tab.page.wait_for_selector("#building-detail canvas")
        peak = site.api(f"buildings/{one['building']}/peak", start="-24h", window="15m")
        assert tab.metric("building-peak").endswith(" kW")
        assert _number(tab.metric("building-peak")) == pytest.approx(peak["peak_kw"], abs=0.05)
        assert "same time last week" in tab.metric("building-comparison")
        with tab.page.expect_download() as download:
            tab.page.click("text=Download CSV")
        csv_text = Path(download.value.path()).read_text()
        assert csv_text.splitlines()[0].startswith("building,")
        assert len(csv_text.strip().splitlines()) == len(buildings) + 1
        tab.page.screenshot(path=str(site.shots / "buildings.png"), full_page=True)

        tab.open_view("chargers")
        board = site.api("chargers/status")
        shown_rows = tab.page.query_selector_all("table[data-table=status] tbody tr")
        assert len(shown_rows) == len(board["connectors"]) > 0
        shown_counts: dict[str, int] = {}
        for shown in shown_rows:
            status = shown.get_attribute("data-status")
            shown_counts[status] = shown_counts.get(status, 0) + 1
            assert ("faulted" in (shown.get_attribute("class") or "")) == (status == "Faulted")
        assert shown_counts == board["counts"]
        tab.page.screenshot(path=str(site.shots / "chargers.png"), full_page=True)

        tab.open_view("buses")
        positions = site.api("buses/positions")["features"]
        reporting = sum(1 for f in positions if not f["properties"]["stale"])
        assert tab.metric("buses-reporting") == f"{reporting} of {len(positions)} reporting"
        assert reporting == overview["buses"]["reporting"]
        tab.page.locator("table[data-table=vehicles] tbody tr").first.click()
        tab.page.wait_for_function(
            "document.querySelector('#track-info').textContent.includes('km')"
        )
        tab.page.screenshot(path=str(site.shots / "buses.png"), full_page=True)

        tab.open_view("health")
        counts = site.api("dead-letters/counts")
        assert tab.metric("dead-letters") == str(counts["total"]) == str(len(BAD_MESSAGES))
        shown_reasons = {
            item.get_attribute("data-reason"): int(
                item.query_selector("summary").inner_text().split()[-1]
            )
            for item in tab.page.query_selector_all("details[data-reason]")
        }
        assert shown_reasons == counts["counts"]
        tab.page.locator("details[data-reason] summary").first.click()  # its examples open
        assert tab.page.locator("details[data-reason] pre.example").first.is_visible()
        tab.page.wait_for_function(
            "document.querySelector('[data-metric=ingest-rate]').textContent.includes('msg/s')",
            timeout=15000,
        )
        tab.page.screenshot(path=str(site.shots / "health.png"), full_page=True)
        assert tab.page.is_hidden("#banner"), tab.page.inner_text("#banner")
        assert tab.errors == []
    finally:
        tab.close()


def test_a_wrong_key_is_refused_with_a_clear_message(site: Site) -> None:
    tab = Page(site)
    try:
        tab.page.goto(site.hub.base_url + "/")
        tab.page.wait_for_selector("#signin:not([hidden])")
        tab.page.fill("#key", "not-a-key")
        tab.page.press("#key", "Enter")
        message = tab.page.wait_for_selector("#signin-error:not([hidden])").inner_text()
        assert "refused" in message and "CITYHUB_API__READ_KEYS" in message
        assert tab.page.is_hidden("#nav")
        assert tab.page.evaluate("sessionStorage.getItem('cityhub.apiKey')") is None
        tab.page.screenshot(path=str(site.shots / "signin.png"))
        # The only console errors are the browser's notes of the refused requests.
        assert all("401" in error for error in tab.errors), tab.errors
    finally:
        tab.close()


def test_a_read_key_sees_no_admin_view(site: Site) -> None:
    tab = Page(site, width=820, height=1180)  # a tablet, upright
    try:
        tab.page.goto(site.hub.base_url + "/")
        tab.page.fill("#key", READ_KEY)
        tab.page.click("#signin button[type=submit]")
        tab.page.wait_for_selector('#view[data-view="city"][data-loaded="true"]')
        assert tab.page.inner_text("#role") == "read key"
        assert tab.page.is_hidden('#nav a[data-view="health"]')
        tab.page.goto(site.hub.base_url + "/#/health")  # typed by hand: back to City now
        tab.page.wait_for_selector('#view[data-view="city"][data-loaded="true"]')
        assert tab.page.evaluate("sessionStorage.getItem('cityhub.apiKey')") == READ_KEY
        # The only console errors: the first visit's probe without a key (401) and the role
        # probe's 403, as the browser notes refused requests.
        assert all("401" in error or "403" in error for error in tab.errors), tab.errors
    finally:
        tab.close()


def test_the_page_and_its_files_ship_in_the_package_without_a_key(site: Site) -> None:
    page = httpx.get(site.hub.base_url + "/", timeout=10)
    assert page.status_code == 200 and "City Data Hub" in page.text
    config = json.loads(
        re.search(r'data-ui-config="([^"]*)"', page.text).group(1).replace("&quot;", '"')
    )
    assert config == {"tile_url": None, "tile_attribution": ""}
    for path in ("/ui/app.js", "/ui/vendor/leaflet/leaflet.js", "/ui/vendor/uplot/LICENSE"):
        assert httpx.get(site.hub.base_url + path, timeout=10).status_code == 200, path


def test_a_failed_request_and_an_unready_hub_show_a_banner(site: Site) -> None:
    tab = Page(site)
    try:
        tab.page.goto(f"{site.hub.base_url}/#key={ADMIN_KEY}")
        tab.page.wait_for_selector('#view[data-view="city"][data-loaded="true"]')
        assert tab.page.is_hidden("#banner")
        # The network drops the next overview request, as a hub gone away would.
        tab.page.route("**/api/v1/city/overview", lambda route: route.abort())
        tab.page.click("#refresh")
        banner = tab.page.wait_for_selector("#banner:not([hidden])").inner_text()
        assert "A request failed" in banner and "/api/v1/city/overview" in banner
        tab.page.unroute("**/api/v1/city/overview")
        tab.page.click("#refresh")
        tab.page.wait_for_selector("#banner", state="hidden")
        # The hub is still up, but /ready says it is not (a broker gone away, say).
        tab.page.route(
            "**/ready",
            lambda route: route.fulfill(
                status=503, json={"ready": False, "checks": {"mqtt": "disconnected"}}
            ),
        )
        tab.page.click("#refresh")
        banner = tab.page.wait_for_selector("#banner:not([hidden])").inner_text()
        assert "not ready" in banner and "mqtt: disconnected" in banner
    finally:
        tab.close()
