"""Open the reports in headless Chromium and fail on what a reader would see broken.

    python -m dtlib.browser reports/smoke      # check index.html and every report; write index.png

For each page (the index, every `NN_key.html`, and every HTML page the index links to) it records script
errors (uncaught exceptions, console errors, failed loads), images that do not decode, videos that do not
decode (readyState < 2, no duration, no frame size) or do not play (currentTime stays 0), clip sliders
(`dtlib.render.target_slider`) whose positions do not each show exactly their clip and label, and links
inside `reports/` whose target file or `#anchor` does not exist. It then saves a full-page screenshot of the index
as `index.png` beside it. Chromium is driven over the DevTools protocol on a pipe
(`--remote-debugging-pipe`: JSON messages separated by NUL bytes on file descriptors 3 and 4), so no
websocket client or browser driver is needed; Debian's `chromium` package is enough.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from dtlib import io

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SCREENSHOT = "index.png"
MAX_SCREENSHOT_HEIGHT = 20_000  # px: a taller index is cut here

# Runs in the page after `load`: wait for every image to decode, then list failures, links and missing anchors.
PAGE_PROBE = """(async () => {
  const imgs = [...document.images];
  const decoded = await Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth > 0, () => false)));
  const badImages = imgs.filter((_, k) => !decoded[k]).map(i => (i.getAttribute('src') || '').slice(0, 80));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  const decode = s => { try { return decodeURIComponent(s); } catch (e) { return s; } };
  const found = id => document.getElementById(id) || document.getElementsByName(id).length;
  // as browsers resolve a fragment: the id as written first, then percent-decoded (nbconvert keeps %C2%B7)
  const missingAnchors = links.filter(h => h.startsWith('#') && h.length > 1)
    .filter(h => !found(h.slice(1)) && !found(decode(h.slice(1))));
  // every <video>: decoded (readyState >= 2, duration > 0, a frame size) and playing (currentTime advances)
  const videos = [...document.querySelectorAll('video')];
  const loaded = v => new Promise(res => {
    const done = () => res();
    if (v.readyState >= 2) return done();
    v.addEventListener('loadeddata', done, {once: true});
    v.addEventListener('error', done, {once: true});
    setTimeout(done, 15000);
  });
  await Promise.all(videos.map(loaded));
  const badVideos = [];
  for (const [k, v] of videos.entries()) {
    const name = `video ${k + 1} of ${videos.length}`;
    if (v.error || v.readyState < 2 || !(v.duration > 0) || !v.videoWidth) {
      badVideos.push(`${name} does not decode: readyState ${v.readyState}, duration ${v.duration}, ` +
                     `size ${v.videoWidth}x${v.videoHeight}${v.error ? ', error ' + v.error.code : ''}`);
      continue;
    }
    try {
      v.muted = true;
      await v.play();
      await new Promise(r => setTimeout(r, 250));
      if (!(v.currentTime > 0)) badVideos.push(`${name} does not play: currentTime stays ${v.currentTime}`);
    } catch (e) { badVideos.push(`${name} does not play: ${e.name} ${e.message}`); }
    v.pause();
  }
  // every range slider of pre-rendered clips: each position shows exactly its clip and its label
  const badSliders = [];
  for (const [k, root] of [...document.querySelectorAll('.dtlib-slider')].entries()) {
    const s = root.querySelector('input[type=range]'), label = root.querySelector('.dtlib-slider-label');
    const clips = [...root.querySelectorAll('video')];
    if (!s || !label || clips.length !== +s.max + 1) {
      badSliders.push(`slider ${k + 1}: ${clips.length} clips for a range of ${s ? +s.max + 1 : 0} positions`);
      continue;
    }
    for (let pos = +s.max; pos >= 0; pos--) {
      s.value = pos;
      s.dispatchEvent(new Event('input'));
      const shown = clips.filter(c => getComputedStyle(c).display !== 'none');
      if (shown.length !== 1 || shown[0] !== clips[pos] || label.textContent !== clips[pos].dataset.label)
        badSliders.push(`slider ${k + 1} at ${pos}: ${shown.length} clip(s) shown, label '${label.textContent}'`);
    }
  }
  return {images: imgs.length, badImages, links, missingAnchors, videos: videos.length, badVideos, badSliders,
          sliders: document.querySelectorAll('.dtlib-slider').length,
          height: Math.max(document.body ? document.body.scrollHeight : 0, 600)};
})()"""


class BrowserError(RuntimeError):
    """Chromium could not be started or stopped answering."""


def find_browser() -> str | None:
    """The Chromium executable: $DTLIB_CHROMIUM, else the first of BROWSERS on PATH, else None."""
    env = os.environ.get("DTLIB_CHROMIUM")
    if env:
        return env if shutil.which(env) else None
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class Chromium:
    """A headless Chromium driven over the DevTools protocol on a pipe; use as a context manager."""

    def __init__(self, executable: str, timeout: float = 60.0):
        self.timeout = timeout
        self.profile_dir = tempfile.mkdtemp(prefix="dtlib-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds_3_and_4() -> None:  # Chromium reads commands on fd 3 and writes answers on fd 4
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        flags = ["--headless", "--remote-debugging-pipe", f"--user-data-dir={self.profile_dir}", "--disable-gpu",
                 "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
                 "--disable-dev-shm-usage", "--hide-scrollbars", "--allow-file-access-from-files",
                 "--autoplay-policy=no-user-gesture-required"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium's sandbox refuses to run as root (CI, containers)
        self.log = Path(self.profile_dir) / "chromium.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([executable, *flags, "about:blank"], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log, pass_fds=(3, 4), preexec_fn=fds_3_and_4)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer, self._next_id = b"", 0
        self.events: list[dict[str, Any]] = []
        self.call("Browser.getVersion")

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Ask Chromium to quit, kill it if it does not, and remove its profile folder."""
        if self.process.poll() is None:
            try:
                self.call("Browser.close", timeout=10)
                self.process.wait(timeout=10)
            except (BrowserError, OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile_dir, ignore_errors=True)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                tail = self.log.read_text(errors="replace")[-500:] if self.log.exists() else ""
                raise BrowserError(f"Chromium closed its DevTools pipe (exit {self.process.poll()}): {tail}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile go to `self.events`."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str, session: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait for an event of one session (it may already be in `self.events`)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self.events.append(self._read_message(deadline))


@dataclass
class PageReport:
    """What one page showed: its problems (empty when fine), its images and its links."""

    path: Path
    problems: list[str] = field(default_factory=list)
    images: int = 0
    links: list[str] = field(default_factory=list)
    videos: int = 0  # <video> elements that were checked (decoded and played)
    sliders: int = 0  # clip sliders that were moved through every position


def _event_problems(events: list[dict[str, Any]], session: str) -> list[str]:
    """Script errors, console errors and failed loads among one page's DevTools events."""
    out = []
    for e in events:
        if e.get("sessionId") != session:
            continue
        p = e.get("params", {})
        if e.get("method") == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"script error: {d.get('exception', {}).get('description') or d.get('text')}")
        elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") == "error":
            out.append("console error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                     for a in p.get("args", [])))
        elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            out.append(f"error ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
        elif e.get("method") == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"failed to load a resource: {p.get('errorText')} ({p.get('type')})")
    return out


def check_links(page: Path, links: list[str], root: Path) -> list[str]:
    """Problems with a page's links: a target inside `root` that does not exist, or a link leaving `root`.

    Links with a scheme other than file: (http, mailto, data) are not followed: the reports must read offline,
    and such links are the reader's to follow. `#anchor`-only links are checked in the page itself."""
    problems = []
    for href in links:
        parts = urlsplit(href)
        if parts.scheme not in ("", "file") or (not parts.path and not parts.netloc):
            continue
        target = Path(unquote(parts.path)) if parts.scheme == "file" else page.parent / unquote(parts.path)
        target = target.resolve()
        if not target.is_relative_to(root.resolve()):
            problems.append(f"link {href!r} leaves {root}")
        elif not target.exists():
            problems.append(f"broken link {href!r}: {target} does not exist")
    return problems


def open_page(browser: Chromium, path: Path, root: Path, screenshot: Path | None = None,
              width: int = 1280) -> PageReport:
    """Load one page, collect its problems and links, and optionally save a full-page screenshot."""
    report = PageReport(path)
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
        first = len(browser.events)
        nav = browser.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        if nav.get("errorText"):
            report.problems.append(f"page did not open: {nav['errorText']}")
            return report
        browser.wait_for("Page.loadEventFired", session)
        probe = browser.call("Runtime.evaluate", {"expression": PAGE_PROBE, "awaitPromise": True,
                                                  "returnByValue": True}, session=session)
        if "exceptionDetails" in probe:
            report.problems.append(f"probe failed: {probe['exceptionDetails'].get('text')}")
            return report
        value = probe["result"]["value"]
        report.images, report.links = value["images"], value["links"]
        report.problems += [f"image does not decode: {src!r}" for src in value["badImages"]]
        report.problems += [f"link to a missing anchor: {a!r}" for a in value["missingAnchors"]]
        report.videos, report.sliders = value["videos"], value["sliders"]
        report.problems += value["badVideos"] + value["badSliders"]
        report.problems += check_links(path, report.links, root)
        if screenshot is not None:
            height = min(int(value["height"]), MAX_SCREENSHOT_HEIGHT)
            browser.call("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                         session=session)
            shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)
            with io.atomic_path(screenshot) as tmp:
                tmp.write_bytes(base64.b64decode(shot["data"]))
        report.problems += _event_problems(browser.events[first:], session)
        return report
    finally:
        browser.call("Target.closeTarget", {"targetId": target})


def pages_to_check(root: Path, index_links: list[str]) -> list[Path]:
    """Every notebook report (`NN_key.html`) and every other HTML page inside `root` the index links to."""
    pages = {p.resolve() for p in root.glob("[0-9][0-9]_*.html")}
    for href in index_links:
        parts = urlsplit(href)
        if parts.scheme == "" and parts.path.endswith(".html"):
            target = (root / unquote(parts.path)).resolve()
            if target.exists() and target.is_relative_to(root.resolve()):
                pages.add(target)
    return sorted(pages)


def check_reports(root: str | Path, executable: str | None = None) -> list[PageReport]:
    """Open root/index.html (saving root/index.png) and every report it leads to; one PageReport each."""
    root = Path(root)
    executable = executable or find_browser()
    if executable is None:
        raise BrowserError("no Chromium found: install Debian's `chromium` (apt-get install -y chromium)")
    with Chromium(executable) as browser:
        index = open_page(browser, root / "index.html", root, screenshot=root / SCREENSHOT)
        return [index] + [open_page(browser, page, root) for page in pages_to_check(root, index.links)]


def main(argv: list[str] | None = None) -> int:
    """Command line: check one profile's reports; exit 1 when any page has a problem."""
    parser = argparse.ArgumentParser(prog="python -m dtlib.browser", description=__doc__.splitlines()[0])
    parser.add_argument("root", help="a profile's reports folder, e.g. reports/smoke")
    args = parser.parse_args(argv)
    reports = check_reports(args.root)
    for r in reports:
        print(f"{r.path.name}: {r.images} image(s), {r.videos} video(s), {r.sliders} slider(s), {len(r.links)} link(s), "
              + ("ok" if not r.problems else f"{len(r.problems)} problem(s)"))
        for problem in r.problems:
            print(f"  - {problem}")
    print(f"screenshot: {Path(args.root) / SCREENSHOT}")
    return 1 if any(r.problems for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
