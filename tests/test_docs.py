"""The README stays a front door, and every link in it and in docs/ leads somewhere."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def anchors(page: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"(?m)^#+\s+(.*)$", page.read_text())}


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for href in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", href):
            continue  # http(s), mailto: not followed
        path, _, anchor = href.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{href}: {target} does not exist")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{href}: no heading '#{anchor}' in {target.name}")
    assert not broken, "\n".join(broken)


def test_slug_matches_github():
    assert slug("How the pipeline decides what to run") == "how-the-pipeline-decides-what-to-run"
    assert slug("Running `paper` on a GPU or a cluster") == "running-paper-on-a-gpu-or-a-cluster"
    assert slug("Using the real D4RL / Minari / DQN-replay data") == "using-the-real-d4rl--minari--dqn-replay-data"
