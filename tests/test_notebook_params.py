"""papermill must see every parameter: a line it cannot parse is silently not overridable by name."""
from pathlib import Path

import nbformat
import papermill as pm
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_parses_every_parameter(path):
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    names = [line.split(":")[0].strip() for line in cell.source.splitlines() if line.strip()]
    assert list(pm.inspect_notebook(str(path))) == names
