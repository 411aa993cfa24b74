"""The nightly HTML report in a real browser, once: a run of the tiny world (first run, then a
forced regression, so the trend plots have two points and the findings are red) is opened in
headless Chromium; the title, the overview table and a trend plot must be visible, the page
must not have tried the network, and a full-page screenshot is kept as a test artifact
(test-artifacts/nightly-report.png)."""
from __future__ import annotations

from browser import launch_chromium, save_artifact, sync_playwright
from nightly_world import bad_reply, run_world, world_config


def test_report_renders_in_chromium(kbs, tmp_path) -> None:
    config = world_config(tmp_path)
    run_world(kbs, config)
    outcome = run_world(kbs, config, reply=bad_reply)
    report = outcome.out_dir / "report.html"
    shot = tmp_path / "nightly-report.png"
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.as_uri())
            assert page.title() == f"cairn nightly {outcome.run_id} — FAIL"
            overview = page.locator("#overview")
            assert overview.is_visible()
            assert overview.locator("tbody tr").count() == 2
            assert "world-qa" in overview.inner_text() and "FAIL" in overview.inner_text()
            assert page.locator("svg.trend").first.is_visible()
            assert page.locator("#suite-world-qa table").first.is_visible()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert requests == [report.as_uri()] and not errors  # the file itself, nothing else
    assert shot.stat().st_size > 10_000
    save_artifact(shot)
