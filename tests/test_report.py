from __future__ import annotations

import json

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dtlib import report  # noqa: E402
from dtlib.validate import ParameterError  # noqa: E402


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DTLIB_HOME", str(tmp_path))
    return tmp_path


def test_save_table_writes_csv_and_returns_df(home):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert report.save_table(df, "t1", "smoke") is df
    assert (home / "reports" / "smoke" / "tables" / "t1.csv").read_text() == "a,b\n1,x\n2,y\n"
    with pytest.raises(ParameterError, match="name"):
        report.save_table(df, "../escape", "smoke")


def test_label_figure_only_for_smoke():
    fig, _ = plt.subplots()
    assert [t.get_text() for t in report.label_figure(fig, "smoke").texts] == ["smoke — not evidence"]
    fig2, _ = plt.subplots()
    assert report.label_figure(fig2, "small").texts == []
    plt.close("all")


def test_deviations_written_and_shown(home):
    shown = report.deviations("keydoor", "small", ["one", "two"])
    saved = json.loads((home / "reports" / "small" / "deviations" / "keydoor.json").read_text())
    assert saved == {"notebook": "keydoor", "profile": "small", "items": ["one", "two"]}
    assert "- one\n- two" in shown.data and "Deviations" in shown.data


def test_footer_names_the_make_command():
    assert "`make reproduce PROFILE=paper ONLY=keydoor`" in report.footer("keydoor", "paper").data
    assert "not evidence" in report.footer("keydoor", "smoke").data
