"""The reports in a real browser: headless Chromium (Debian's `chromium`, installed by .ci/run).

`test_checker_catches_broken_pages` checks the checker itself on pages it writes (part of `make unit`).
`test_reports_render_in_chromium` is marked `browser` and left out of the plain `pytest` run: it opens
reports/<profile>/ (DTLIB_BROWSER_PROFILE, default smoke), which the pipeline must have built first —
`make test` runs it right after the smoke pipeline with `pytest -m browser tests/test_browser.py`.
Without Chromium they skip with a message — or fail when DTLIB_REQUIRE_BROWSER=1 (set by .ci/run), so CI cannot
pass with the reports unchecked.
"""
from __future__ import annotations

import base64
import os
import re

import pytest

from dtlib import browser
from dtlib.paths import reports_dir

CHROMIUM = browser.find_browser()
NO_BROWSER = ("no Chromium on this machine: the reports were NOT checked in a browser (install it: "
              "apt-get install -y chromium, or set DTLIB_CHROMIUM=/path/to/chromium; .ci/run installs it)")
REQUIRE_ENV = "DTLIB_REQUIRE_BROWSER"  # "1": a browser check that cannot run fails instead of skipping


def not_checked(reason: str) -> None:
    """Skip with `reason`, or fail with it when $DTLIB_REQUIRE_BROWSER is 1 (CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 makes this a failure", pytrace=False)
    pytest.skip(reason)


def chromium() -> str:
    """The Chromium executable, or skip / fail (not_checked) without one."""
    if CHROMIUM is None:
        not_checked(NO_BROWSER)
    return CHROMIUM
PNG_1PX = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def test_checker_catches_broken_pages(tmp_path):
    executable = chromium()
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
    pages = {r.path.name: r for r in browser.check_reports(root, executable)}
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
    executable = chromium()
    profile = os.environ.get("DTLIB_BROWSER_PROFILE", "smoke")
    root = reports_dir(profile)
    if not (root / "index.html").exists():
        not_checked(f"no {root / 'index.html'}: the reports were NOT checked; run `make reproduce PROFILE={profile}` "
                    "first")
    pages = browser.check_reports(root, executable)
    problems = [f"{r.path.name}: {p}" for r in pages for p in r.problems]
    assert not problems, "\n".join(problems)
    names = {r.path.name for r in pages}
    assert {p.name for p in root.glob("[0-9][0-9]_*.html")} <= names  # every notebook report was opened
    index = (root / "index.html").read_text()
    assert index.index('id="summary"') < index.index("<h2>Notebook reports</h2>")  # the summary leads
    assert pages[0].images >= 1 and (root / browser.SCREENSHOT).stat().st_size > 10_000
    from dtlib import render

    by_name = {r.path.name: r for r in pages}  # the clips are there, not silently skipped (each was checked above)
    drawn = {"30_keydoor.html": (1, 0), "31_graph.html": (1, 0)}  # drawn from traces: no GL needed
    if render.gl_problem() is None:
        drawn.update({"20_gym.html": (2, 1), "50_explore.html": (2, 1)})
    for name, (videos, sliders) in drawn.items():
        if name in by_name:
            assert by_name[name].videos >= videos and by_name[name].sliders >= sliders, \
                f"{name}: {by_name[name].videos} videos, {by_name[name].sliders} sliders"


def test_checker_plays_videos_and_moves_sliders(tmp_path):
    executable = chromium()
    import numpy as np

    from dtlib import render

    frames = [np.full((32, 48, 3), 40 * k, dtype=np.uint8) for k in range(6)]
    mp4 = render.encode_mp4(frames, fps=5)
    root = tmp_path / "reports" / "p"
    root.mkdir(parents=True)
    good_slider = render.target_slider([("first", mp4), ("second", mp4)], None, "two clips")
    # a slider whose script never runs: moving it swaps nothing
    stuck = re.sub(r"<script>.*?</script>", "", render.target_slider([("a", mp4), ("b", mp4)], None, "stuck"))
    (root / "index.html").write_text('<html><body><a href="00_videos.html">v</a><a href="10_broken.html">b</a></body></html>')
    (root / "00_videos.html").write_text(f"<html><body>{render.video_tag(mp4, 'a clip')}{good_slider}</body></html>")
    garbage = base64.b64encode(b"\x00\x00\x00\x18ftypmp42 this is not a video").decode()
    (root / "10_broken.html").write_text(f'<html><body><video controls src="data:video/mp4;base64,{garbage}"></video>'
                                         f"{stuck}</body></html>")
    pages = {r.path.name: r for r in browser.check_reports(root, executable)}
    good = pages["00_videos.html"]
    assert good.problems == [] and good.videos == 3 and good.sliders == 1
    bad = "\n".join(pages["10_broken.html"].problems)
    assert "video 1 of 3 does not decode" in bad
    assert "slider 1 at 0" in bad  # position 0 shows nothing: the page's script that would show it is gone


@pytest.mark.parametrize("require", ["", "1"])
def test_without_chromium_the_browser_check_says_so_and_fails_when_required(tmp_path, require):
    """`make test` without Chromium: the browser step passes with a loud skip line; under .ci/run
    (DTLIB_REQUIRE_BROWSER=1) it fails."""
    import subprocess
    import sys

    env = {**os.environ, "DTLIB_CHROMIUM": str(tmp_path / "no-such-chromium"), REQUIRE_ENV: require,
           "DTLIB_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-m", "browser", __file__], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    out = done.stdout + done.stderr
    assert "the reports were NOT checked in a browser" in out and "apt-get install -y chromium" in out, out
    assert (done.returncode != 0) == (require == "1"), out
