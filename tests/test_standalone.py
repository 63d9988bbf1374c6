"""The project stands alone: nothing points at files a clone does not have, and every pointer into
docs/paper-reference.md names a section that exists."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ("README.md", "Makefile", "dtlib", "tests", "notebooks", "benchmarks", "profiles")
SCANNED = (*CODE, "docs", "behaviour")
SUFFIXES = {".py", ".md", ".ipynb", ".yaml", ".yml", ".toml", ".txt", ".cfg", ""}
# the reference notes this project was written from live outside it (pieces joined so this file does not match);
# the code may not name a "shared" folder at all; the docs may, as an example path (docs/cluster.md)
NOTES = ["paper-" + "facts", "peers-and-" + "formats", "practical-" + "facts", "STYLE" + r"\.md", r"\.\./" + "shared",
         "shared" + "/(reference|design|hooks)"]
OUTSIDE = {"code": re.compile("|".join(NOTES + ["shared" + "/"])), "docs": re.compile("|".join(NOTES))}
REFERENCE = ROOT / "docs" / "paper-reference.md"
SECTION_REF = re.compile(r"paper-reference\.md`?\s*§(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?")


def project_files(scanned: tuple[str, ...] = SCANNED) -> list[Path]:
    out = []
    for name in scanned:
        path = ROOT / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        out += [p for p in candidates if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts
                and (p.suffix or p.name == "Makefile")]
    return out


def test_nothing_points_outside_the_project():
    code = set(project_files(CODE))
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()[:100]}" for p in project_files()
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
            if OUTSIDE["code" if p in code else "docs"].search(line)]
    assert not hits, "pointers to files outside the project:\n" + "\n".join(hits)


def test_every_pointer_into_the_paper_reference_names_one_of_its_sections():
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", REFERENCE.read_text(), re.M))
    assert {"1", "2.1", "3.1", "4.4", "5.3", "7"} <= sections  # the headings are numbered as the pointers expect
    refs = [(p.relative_to(ROOT), n) for p in project_files()
            for m in SECTION_REF.finditer(p.read_text(errors="replace")) for n in m.groups() if n]
    assert len(refs) >= 10  # the code does point here (specs, paper, train, config, envs, loaders)
    missing = sorted({f"{path}: §{n}" for path, n in refs if n not in sections})
    assert not missing, "pointers to sections docs/paper-reference.md lacks:\n" + "\n".join(missing)
