"""Every committed notebook: outputs stripped, one well-formed `parameters` cell whose defaults are the
`small` profile's values, `dtlib` metadata, and no logic in cells (a notebook holds parameters, calls into dtlib,
plots and prose)."""
from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import nbformat
import pytest

from dtlib import pipeline
from dtlib.profiles import available_profiles, load_profile

NOTEBOOKS = pipeline.discover(Path(__file__).resolve().parents[1] / "notebooks")
MAX_CELL_LINES = 15  # cells stay short (about ten lines); longer logic moves into dtlib


def read(nb: pipeline.Notebook) -> nbformat.NotebookNode:
    return nbformat.read(nb.path, as_version=4)


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no NN_key.ipynb"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_every_cell_has_its_own_id(nb):
    """nbformat 4.5 wants a cell id (a missing one is a warning today, an error in future nbformat)."""
    import json

    cells = json.loads(nb.path.read_text())["cells"]
    ids = [c.get("id") for c in cells]
    assert None not in ids, f"{nb.name}: cell {ids.index(None) + 1} has no id"
    assert len(set(ids)) == len(ids), f"{nb.name}: repeated cell ids"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_outputs_stripped(nb):
    for i, cell in enumerate(read(nb).cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{nb.name} cell {i + 1} has outputs"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_one_parameters_cell_of_commented_annotated_literals(nb):
    source = next(c.source for c in read(nb).cells if "parameters" in c.metadata.get("tags", []))
    params = pipeline.parameters_cell(read(nb))  # raises unless exactly one cell of `name: type = literal`
    assert "profile" in params, f"{nb.name}: the parameters cell must declare `profile: str = \"small\"`"
    commented = {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                 if tok.type == tokenize.COMMENT}
    for stmt in ast.parse(source).body:
        assert stmt.end_lineno in commented, f"{nb.name}: parameter {stmt.target.id} needs a comment"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_defaults_are_the_small_profile(nb):
    assert pipeline.parameters_cell(read(nb)) == load_profile("small").notebook_params(nb.key)


@pytest.mark.parametrize("profile", available_profiles())
def test_each_profile_sets_every_parameter_of_every_notebook(profile):
    loaded = load_profile(profile)
    assert set(loaded.notebooks) == {nb.key for nb in NOTEBOOKS}, f"{profile}.yaml: notebook keys"
    for nb in NOTEBOOKS:
        assert set(loaded.notebook_params(nb.key)) == set(pipeline.parameters_cell(read(nb))), \
            f"profiles/{profile}.yaml must set every parameter of {nb.name}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: nb.name)
def test_metadata_and_no_logic_in_cells(nb):
    notebook = read(nb)
    assert nb.purpose, f"{nb.name}: metadata.dtlib.purpose is empty"
    assert notebook.metadata.get("kernelspec", {}).get("name") == "dtlib", f"{nb.name}: kernel must be dtlib"
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        # the parameters cell is a list of literals, one per line: its length is the notebook's knob count
        if "parameters" not in cell.metadata.get("tags", []):
            assert len(cell.source.splitlines()) <= MAX_CELL_LINES, f"{nb.name} cell {i + 1} is too long"
        code = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(code)):
            assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)), \
                f"{nb.name} cell {i + 1}: move `def`/`class` into dtlib"
