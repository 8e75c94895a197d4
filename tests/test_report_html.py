"""The HTML report in a real browser: headless Chromium, driven through chromedriver by Selenium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_report import LAVAPIPE, V3DV, two_drivers

from vkzc import cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs chromium and its chromedriver (apt-get install chromium chromium-driver)",
)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e .[test])")
By = pytest.importorskip("selenium.webdriver.common.by").By
Select = pytest.importorskip("selenium.webdriver.support.select").Select


@pytest.fixture(autouse=True)
def only_the_report_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("vkzc.report.command",))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    # An explicit chromedriver keeps Selenium from looking for (and downloading) one of its own.
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture
def page(tmp_path: Path, browser: object) -> object:
    results = two_drivers(tmp_path / "results")
    html = tmp_path / "report.html"
    assert cli.main(["report", str(results), "--format", "html", "--output", str(html)]) == 0
    browser.set_window_size(1280, 900)
    browser.get(html.as_uri())
    return browser


def shown(browser: object, selector: str) -> list[str]:
    """The first cell's text of each visible row that the selector finds."""
    rows = browser.find_elements(By.CSS_SELECTOR, selector)
    return [
        row.find_element(By.CSS_SELECTOR, "td").text.replace("\n", "") for row in rows if row.is_displayed()
    ]


def test_rows_exist_and_the_driver_filter_hides_the_other_drivers(page: object) -> None:
    assert shown(page, "#compat tbody tr") == [LAVAPIPE, V3DV]
    assert len(shown(page, "#features tbody tr")) == 6
    assert page.find_element(By.ID, "shown").text == "2 of 2 cells"

    Select(page.find_element(By.ID, "f-driver")).select_by_value("v3dv")
    assert shown(page, "#compat tbody tr") == [V3DV]
    assert shown(page, "#capabilities tbody tr") == [V3DV]
    assert set(shown(page, "#features tbody tr")) == {V3DV}
    assert page.find_element(By.ID, "shown").text == "1 of 2 cells"

    Select(page.find_element(By.ID, "f-driver")).select_by_value("")
    assert shown(page, "#compat tbody tr") == [LAVAPIPE, V3DV]


def test_path_and_format_filters_hide_rows_and_columns(page: object) -> None:
    Select(page.find_element(By.ID, "f-path")).select_by_value("host-pointer")
    headers = [th.text for th in page.find_elements(By.CSS_SELECTOR, "#compat th") if th.is_displayed()]
    assert not any(h.startswith("mapped") for h in headers) and "host-pointer" in headers[6]
    paths = [
        row.find_elements(By.CSS_SELECTOR, "td")[3].text
        for row in page.find_elements(By.CSS_SELECTOR, "#features tbody tr")
        if row.is_displayed()
    ]
    assert paths == ["host-pointer"] * 3

    Select(page.find_element(By.ID, "f-path")).select_by_value("")
    Select(page.find_element(By.ID, "f-feature")).select_by_value("memfd")
    assert shown(page, "#compat tbody tr") == [LAVAPIPE]  # v3dv ran no memfd case
    assert shown(page, "#features tbody tr") == [LAVAPIPE]


def test_the_search_box_and_sorting(page: object) -> None:
    search = page.find_element(By.ID, "f-text")
    search.send_keys("V3D 7.1")
    assert shown(page, "#compat tbody tr") == [V3DV]
    search.clear()
    search.send_keys(" ")  # clear() fires no input event; a blank search shows everything
    assert shown(page, "#compat tbody tr") == [LAVAPIPE, V3DV]

    verdict = page.find_elements(By.CSS_SELECTOR, "#compat th button")[5]
    verdict.click()
    first = shown(page, "#compat tbody tr")
    verdict.click()
    assert shown(page, "#compat tbody tr") == list(reversed(first))
    mapped = page.find_elements(By.CSS_SELECTOR, "#compat th button")[6]
    mapped.click()  # numeric: the lower pass ratio first
    assert shown(page, "#compat tbody tr") == [V3DV, LAVAPIPE]


def test_a_phone_sized_window_scrolls_tables_not_the_page(page: object) -> None:
    page.set_window_size(390, 844)
    width = page.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    assert shown(page, "#compat tbody tr") == [LAVAPIPE, V3DV]
