"""The reports in a real browser: headless Chromium (Debian's `chromium`, installed by .ci/run).

`test_checker_catches_broken_pages` checks the checker itself on pages it writes (part of `make unit`).
`test_reports_render_in_chromium` is marked `browser` and left out of the plain `pytest` run: it opens
reports/<profile>/ (DTLIB_BROWSER_PROFILE, default smoke), which the pipeline must have built first —
`make test` runs it right after the smoke pipeline with `pytest -m browser tests/test_browser.py`.
Both skip with a message when no Chromium is installed.
"""
from __future__ import annotations

import base64
import os

import pytest

from dtlib import browser
from dtlib.paths import reports_dir

CHROMIUM = browser.find_browser()
NO_BROWSER = "no Chromium on this machine (apt-get install -y chromium; .ci/run installs it): browser test skipped"
PNG_1PX = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


@pytest.mark.skipif(CHROMIUM is None, reason=NO_BROWSER)
def test_checker_catches_broken_pages(tmp_path):
    root = tmp_path / "reports" / "p"
    (root / "figs").mkdir(parents=True)
    (root / "figs" / "ok.png").write_bytes(PNG_1PX)
    (root / "figs" / "bad.png").write_bytes(b"not a png")
    (root / "index.html").write_text(
        '<html><body><h1 id="top">index</h1><img src="figs/ok.png"><a href="00_good.html">good</a>'
        '<a href="10_bad.html">bad</a><a href="#top">top</a><a href="https://example.org/">away</a></body></html>')
    (root / "00_good.html").write_text(
        '<html><body><h2 id="a-%C2%B7-b">x</h2><a href="#a-%C2%B7-b">anchor as nbconvert writes it</a>'
        '<img src="data:image/png;base64,' + base64.b64encode(PNG_1PX).decode() + '"><a href="index.html">up</a>'
        "</body></html>")
    (root / "10_bad.html").write_text(
        '<html><body><img src="figs/bad.png"><a href="tables/missing.csv">csv</a><a href="#nowhere">x</a>'
        '<a href="../../outside.html">out</a><script>throw new Error("boom")</script></body></html>')
    pages = {r.path.name: r for r in browser.check_reports(root, CHROMIUM)}
    assert set(pages) == {"index.html", "00_good.html", "10_bad.html"}
    assert pages["index.html"].problems == [] and pages["index.html"].images == 1
    assert pages["00_good.html"].problems == []
    bad = "\n".join(pages["10_bad.html"].problems)
    for expected in ("image does not decode: 'figs/bad.png'", "broken link 'tables/missing.csv'",
                     "missing anchor: '#nowhere'", "link '../../outside.html' leaves", "boom"):
        assert expected in bad
    assert (root / "index.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.browser
def test_reports_render_in_chromium():
    if CHROMIUM is None:
        pytest.skip(NO_BROWSER)
    profile = os.environ.get("DTLIB_BROWSER_PROFILE", "smoke")
    root = reports_dir(profile)
    if not (root / "index.html").exists():
        pytest.skip(f"no {root / 'index.html'}: run `make reproduce PROFILE={profile}` first")
    pages = browser.check_reports(root, CHROMIUM)
    problems = [f"{r.path.name}: {p}" for r in pages for p in r.problems]
    assert not problems, "\n".join(problems)
    names = {r.path.name for r in pages}
    assert {p.name for p in root.glob("[0-9][0-9]_*.html")} <= names  # every notebook report was opened
    index = (root / "index.html").read_text()
    assert index.index('id="summary"') < index.index("<h2>Notebook reports</h2>")  # the summary leads
    assert pages[0].images >= 1 and (root / browser.SCREENSHOT).stat().st_size > 10_000
