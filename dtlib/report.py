"""Helpers the notebooks call so every report saves its tables, labels its figures and ends the same way."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from IPython.display import Markdown

from dtlib import io
from dtlib.paths import reports_dir
from dtlib.validate import ParameterError

if TYPE_CHECKING:  # imported lazily: pandas and matplotlib are slow to import
    import pandas as pd
    from matplotlib.figure import Figure

SMOKE_LABEL = "smoke — not evidence"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_name(what: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(f"{what}={name!r} must be a plain file name (letters, digits, '_', '.', '-')")
    return name


def save_table(df: "pd.DataFrame", name: str, profile: str) -> "pd.DataFrame":
    """Write `df` to reports/<profile>/tables/<name>.csv atomically and return it for display."""
    io.write_csv(reports_dir(profile) / "tables" / f"{_check_name('name', name)}.csv", df)
    return df


def label_figure(fig: "Figure", profile: str) -> "Figure":
    """Stamp a visible "smoke — not evidence" label across the figure when profile is 'smoke'."""
    if profile == "smoke":
        fig.text(0.5, 0.5, SMOKE_LABEL, ha="center", va="center", rotation=20, fontsize=28,
                 color="red", alpha=0.35, zorder=1000)
    return fig


def deviations(notebook_key: str, profile: str, items: list[str]) -> Markdown:
    """Record this notebook's deviations from the paper (reports/<profile>/deviations/<key>.json); show them."""
    items = [str(item) for item in items]
    io.write_json(reports_dir(profile) / "deviations" / f"{_check_name('notebook_key', notebook_key)}.json",
                  {"notebook": notebook_key, "profile": profile, "items": items})
    lines = [f"- {item}" for item in items] or ["- none"]
    return Markdown("\n".join(["**Deviations from the paper**", "", *lines]))


def make_command(notebook_key: str, profile: str) -> str:
    """The exact command that regenerates one notebook's report."""
    return f"make reproduce PROFILE={profile} ONLY={notebook_key}"


def footer(notebook_key: str, profile: str) -> Markdown:
    """The closing line of every report: the command that regenerated it."""
    return Markdown(f"Regenerate this report with `{make_command(notebook_key, profile)}`"
                    + (f" — **{SMOKE_LABEL}**." if profile == "smoke" else "."))
