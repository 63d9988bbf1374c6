"""The paper side by side: every claim with its verdict, the rules, every table, the figures and one deviations list.

    cfg = SummaryConfig(profile="small", bootstrap_reps=2000, match_margin=5.0)   # the notebook's parameters
    tables = load_tables(profile)                  # reports/<profile>/tables/*.csv, nothing else
    claims.claims(tables, cfg.rules)               # one row per claim × domain (dtlib.claims decides them)
    side_by_side("table2", tables)                 # paper / peers / ours, one row per (row, method)
    figures(tables, profile)                       # Figures 2/6, 4 and 5 redrawn from the saved tables
    write_section(profile, ...)                    # the HTML section that reports/<profile>/index.html leads with

Reads only the tidy tables the other notebooks saved (no training, no datasets). A notebook whose tables
are missing yields "not run at this profile", never an error, so the summary runs at every profile and
before every experiment exists. The paper's and peers' numbers come from `dtlib.paper`; every claim's
rule lives in `dtlib.claims` (this module only renders its verdicts and its rules table).

Adding a domain: write its tables with `report.save_table`, add its claim to `dtlib.claims` and, for a
paper table, a builder to `PAPER_TABLES`; Atari reads `atari_table1/4/5` and `atari_figure4`.
"""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from dtlib import io, paper
from dtlib.claims import NOT_IN_REPLICATION, NOT_RUN, NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED, UNDECIDED, ClaimRules
from dtlib.paths import git_commit, reports_dir
from dtlib.pipeline import SUMMARY_SECTION, discover
from dtlib.profiles import check_profile
from dtlib.validate import check_fields, check_int, check_positive

FIGURE_DIR = Path("summary")  # figure PNGs, relative to reports/<profile>/
NOTEBOOK_TABLES = {"gym": "20_gym", "keydoor": "30_keydoor", "graph": "31_graph", "atari": "40_atari"}

@dataclass(frozen=True)
class SummaryConfig:
    """The summary notebook's parameters, built by keyword and checked before any work (`__post_init__`)."""

    profile: str  # a profile in profiles/: smoke | small | paper
    bootstrap_reps: int  # bootstrap replicates behind every interval
    match_margin: float  # normalised points: "matches" = DT's interval low end above −margin

    def __post_init__(self) -> None:
        check_profile(self.profile)
        check_int("bootstrap_reps", self.bootstrap_reps, 1)
        check_positive("match_margin", self.match_margin)
        check_fields(self)  # strict types (an int margin becomes a float)

    @property
    def rules(self) -> ClaimRules:
        """The claims' rule parameters (dtlib.claims), the other numbers at the report's defaults."""
        return ClaimRules(bootstrap_reps=self.bootstrap_reps, match_margin=self.match_margin)


# ------------------------------------------------------------------------------------------------ tables
def load_tables(profile: str) -> dict[str, pd.DataFrame]:
    """Every tidy table of one profile (reports/<profile>/tables/*.csv) but the summary's own, by name."""
    folder = reports_dir(profile) / "tables"
    out = {}
    for path in sorted(folder.glob("*.csv")) if folder.exists() else []:
        if path.stem.startswith("summary_"):
            continue
        try:
            out[path.stem] = pd.read_csv(path)
        except pd.errors.EmptyDataError:  # a table with no columns at all: present but empty
            out[path.stem] = pd.DataFrame()
    return out


def inventory(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Which experiment notebooks left tables at this profile (the others are "not run at this profile")."""
    rows = []
    for prefix, notebook in NOTEBOOK_TABLES.items():
        names = sorted(n for n in tables if n.startswith(prefix + "_"))
        rows.append({"notebook": notebook, "tables": ", ".join(names) if names else "",
                     "status": f"{len(names)} table(s)" if names else NOT_RUN})
    return pd.DataFrame(rows)


def _get(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame | None:
    df = tables.get(name)
    return df if df is not None and len(df) else None


# ----------------------------------------------------------------------------------------- paper tables
@dataclass(frozen=True)
class PaperTable:
    """One of the paper's tables: its rows' keys, its methods' columns in `dtlib.paper`, and where ours are."""

    title: str  # caption in the report
    keys: tuple[str, ...]  # row keys shared by the paper's table and ours
    methods: tuple[tuple[str, str, str | None], ...]  # (label, paper column, paper std column or None)
    ours: Callable[[dict], pd.DataFrame | None]  # keys + method, ours, ours_std, seeds, note; None: not run
    ran: tuple[str, ...]  # labels this replication runs (the others are "not part of this replication")
    unit: str  # what the numbers are


def _agg(df: pd.DataFrame, keys: list[str], score: str) -> pd.DataFrame:
    return (df.groupby(keys, sort=False).agg(ours=(score, "mean"), ours_std=(score, "std"),
                                             seeds=("seed", "nunique")).reset_index())


def _ours_table2(tables: dict) -> pd.DataFrame | None:
    t = _get(tables, "gym_table2")
    if t is None:
        return None
    return t.rename(columns={"last_mean": "ours", "last_std": "ours_std"})[
        ["dataset", "env", "method", "ours", "ours_std", "seeds"]].assign(note="")


def _ours_delayed(tables: dict) -> pd.DataFrame | None:
    runs = _get(tables, "gym_runs")
    if runs is None:
        return None
    df = runs[runs["context_len"] == 0]
    rl = df[df["method"].isin(["dt", "cql"])]
    rl = rl.assign(method=rl["method"].str.upper() + ", " + rl["reward_mode"])
    out = [_agg(rl, ["dataset", "env", "method"], "last").assign(note="")]
    dense = df[df["reward_mode"] == "dense"]
    out.append(_agg(dense[dense["method"] == "bc"].assign(method="BC"), ["dataset", "env", "method"], "last")
               .assign(note=""))
    pct = dense[dense["method"] == "pct_bc"]
    if len(pct):  # the paper does not say which fraction its %BC kept: ours is the best one per row
        a = _agg(pct, ["dataset", "env", "pct"], "last")
        a = a.loc[a.groupby(["dataset", "env"])["ours"].idxmax()]
        out.append(a.assign(method="%BC", note=[f"ours: {p * 100:g}%BC" for p in a["pct"]]).drop(columns="pct"))
    return pd.concat(out, ignore_index=True)


def _ours_keydoor(tables: dict) -> pd.DataFrame | None:
    t = _get(tables, "keydoor_table6")
    if t is None:
        return None
    n = [int(str(d)[:-1]) * 1000 if str(d).endswith("k") else int(d) for d in t["dataset"]]
    return pd.DataFrame({"trajectories": n, "method": t["method"], "ours": t["mean_%"], "ours_std": t["std_%"],
                         "seeds": t["n_seeds"], "note": ""})


def _ours_atari(name: str) -> Callable[[dict], pd.DataFrame | None]:
    def ours(tables: dict) -> pd.DataFrame | None:
        t = _get(tables, name)
        if t is None:
            return None
        t = t.rename(columns={"score_mean": "ours", "score_std": "ours_std"})
        if name == "atari_table5":  # ours K is the study's, the paper's 30 (Pong 50): the note says which
            t = t.assign(method=np.where(t["K"] == 1, "DT, K=1", "DT, long K"),
                         note=np.where(t["K"] == 1, "", [f"ours K={k}" for k in t["K"]]))
        return t.assign(note=t["note"] if "note" in t else "")[["game", "method", "ours", "ours_std", "seeds",
                                                                "note"]]
    return ours


_PCT = (("10%BC", "pct_bc10", None), ("25%BC", "pct_bc25", None), ("40%BC", "pct_bc40", None))
PAPER_TABLES: dict[str, PaperTable] = {
    "table1": PaperTable("Table 1 — Atari, 1% DQN-replay (gamer-normalised)", ("game",),
                         (("DT", "dt", "dt_std"), ("CQL", "cql", None), ("QR-DQN", "qr_dqn", None),
                          ("REM", "rem", None), ("BC", "bc", "bc_std")), _ours_atari("atari_table1"), ("DT", "BC"),
                         "gamer-normalised score"),
    "table2": PaperTable("Table 2 — D4RL (normalised, 100 = expert)", ("dataset", "env"),
                         (("DT", "dt", "dt_std"), ("CQL", "cql", None), ("BEAR", "bear", None),
                          ("BRAC-v", "brac_v", None), ("AWR", "awr", None), ("BC", "bc", None)),
                         _ours_table2, ("DT", "CQL", "BC"), "D4RL-normalised score"),
    "table3": PaperTable("Table 3 — DT vs percentile BC on D4RL", ("dataset", "env"),
                         (("DT", "dt", None), *_PCT, ("BC", "bc", None)), _ours_table2,
                         ("DT", "10%BC", "25%BC", "40%BC", "BC"), "D4RL-normalised score"),
    "table4": PaperTable("Table 4 — DT vs percentile BC on Atari", ("game",),
                         (("DT", "dt", "dt_std"), ("10%BC", "pct_bc10", "pct_bc10_std"),
                          ("25%BC", "pct_bc25", "pct_bc25_std"), ("40%BC", "pct_bc40", "pct_bc40_std"),
                          ("BC", "bc", "bc_std")), _ours_atari("atari_table4"),
                         ("DT", "10%BC", "25%BC", "40%BC", "BC"), "gamer-normalised score"),
    "table5": PaperTable("Table 5 — context length on Atari", ("game",),
                         (("DT, long K", "dt", "dt_std"), ("DT, K=1", "dt_k1", "dt_k1_std")),
                         _ours_atari("atari_table5"), ("DT, long K", "DT, K=1"), "gamer-normalised score"),
    "table6": PaperTable("Table 6 — Key-to-Door success rate (%)", ("trajectories",),
                         (("DT", "dt", None), ("CQL", "cql", None), ("BC", "bc", None), ("%BC", "pct_bc", None),
                          ("Random", "random", None)), _ours_keydoor, ("DT", "CQL", "BC", "%BC", "Random"),
                         "success rate (%)"),
    "delayed": PaperTable("Delayed rewards (§5.6) — Hopper", ("dataset", "env"),
                          (("DT, delayed", "delayed_dt", "delayed_dt_std"), ("CQL, delayed", "delayed_cql", None),
                           ("BC", "bc", None), ("%BC", "pct_bc", None), ("DT, dense", "dense_dt", None),
                           ("CQL, dense", "dense_cql", None)), _ours_delayed,
                          ("DT, delayed", "CQL, delayed", "BC", "%BC", "DT, dense", "CQL, dense"),
                          "D4RL-normalised score"),
}


def _peers(dataset: str, env: str) -> str:
    """Other reproductions of DT on the same D4RL task (last / final evaluation), as one line."""
    p = paper.table("peers_d4rl").set_index(["dataset", "env"])
    if (dataset, env) not in p.index:
        return ""
    r = p.loc[(dataset, env)]
    parts = [(name, r[col], r[col + "_std"]) for name, col in
             (("CORL", "corl_last"), ("d3rlpy", "d3rlpy_final"), ("JAX-CORL", "jaxcorl"))]
    return " · ".join(f"{n} {m:.1f} ± {s:.1f}" for n, m, s in parts if np.isfinite(m))


def side_by_side(name: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One paper table as tidy rows: keys, method, paper (± std), peers, ours (± std over seeds), note."""
    spec = PAPER_TABLES[name]
    keys = list(spec.keys)
    src = paper.table(name)
    rows = []
    for _, r in src.iterrows():
        for label, col, std in spec.methods:
            value = r[col] if col in src.columns else np.nan
            rows.append({**{k: r[k] for k in keys}, "method": label, "paper": value,
                         "paper_std": r[std] if std and std in src.columns else np.nan})
    theirs = pd.DataFrame(rows).dropna(subset=["paper"])
    for k in keys:  # iterrows made every value a float; keep the paper's key types so ours merge on them
        theirs[k] = theirs[k].astype(src[k].dtype)
    theirs["peers"] = [_peers(d, e) if "env" in keys and m == "DT" else ""
                       for d, e, m in zip(theirs.get("dataset", [""] * len(theirs)),
                                          theirs.get("env", [""] * len(theirs)), theirs["method"])]
    ours = spec.ours(tables)
    if ours is None:
        out = theirs.assign(ours=np.nan, ours_std=np.nan, seeds=np.nan, note="")
    else:
        labels = [label for label, _, _ in spec.methods]
        pct_table = any(label.endswith("%BC") for label in labels)  # there our other fractions are shown too
        ours = ours[ours["method"].isin(labels) | (pct_table & ours["method"].astype(str).str.endswith("%BC"))]
        out = theirs.merge(ours, on=keys + ["method"], how="outer", sort=False)
        out["peers"] = out["peers"].fillna("")
    missing = out["ours"].isna()
    ran = out["method"].isin(spec.ran)
    out["note"] = np.where(missing, np.where(ran | (ours is None), NOT_RUN, NOT_IN_REPLICATION),
                           out["note"].fillna("").astype(str))
    order = {label: i for i, (label, _, _) in enumerate(spec.methods)}
    rank = {k: {v: i for i, v in enumerate(dict.fromkeys(src[k]))} for k in keys}  # the paper's row order
    sort = {f"_{k}": out[k].map(rank[k]).fillna(len(rank[k])) for k in keys}
    out = out.assign(**sort, _m=out["method"].map(order).fillna(len(order)))
    out = out.sort_values([*sort, "_m"], kind="stable").drop(columns=[*sort, "_m"]).reset_index(drop=True)
    return out[keys + ["method", "paper", "paper_std", "peers", "ours", "ours_std", "seeds", "note"]]


def _pm(mean: float, std: float, digits: int = 1) -> str:
    if not np.isfinite(mean):
        return "—"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if np.isfinite(std) else "")


def display_table(df: pd.DataFrame) -> pd.DataFrame:
    """A side-by-side table as strings: paper (± std), peers, ours (± std, n seeds) or why there is none."""
    keys = [c for c in df.columns if c not in ("method", "paper", "paper_std", "peers", "ours", "ours_std",
                                                "seeds", "note")]
    ours = [(_pm(m, s) + (f" ({int(n)} seed{'s' if n != 1 else ''})" if np.isfinite(n) else "")
             + (f" — {note}" if note else "")) if np.isfinite(m) else note
            for m, s, n, note in zip(df["ours"].astype(float), df["ours_std"].astype(float),
                                     df["seeds"].astype(float), df["note"])]
    return pd.DataFrame({**{k: df[k] for k in keys}, "method": df["method"],
                         "paper": [_pm(m, s) for m, s in zip(df["paper"].astype(float), df["paper_std"].astype(float))],
                         "peers (DT)": df["peers"], "ours": ours})


def paper_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every paper table side by side with ours (Tables 1–6 and the delayed-reward table)."""
    return {name: side_by_side(name, tables) for name in PAPER_TABLES}


# ---------------------------------------------------------------------------------------------- figures
@dataclass(frozen=True)
class SummaryFigure:
    """One of the paper's figures, redrawn from the saved tables (or why it is not there)."""

    name: str  # file stem under reports/<profile>/summary/
    paper_figure: str  # which figure of the paper it is
    caption: str  # what it shows
    tables: str  # the tables it is drawn from
    path: Path | None  # the PNG; None when its tables are missing
    status: str  # "" or NOT_RUN


def _figure_specs(tables: dict) -> list[tuple[str, str, str, str, Callable[[], "object"] | None]]:
    """(name, paper figure, caption, tables, draw) for every figure; draw is None when a table is missing."""
    from dtlib import plots
    from dtlib.envs.keydoor import check_params as keydoor_params

    g6, gsum = _get(tables, "graph_fig6"), _get(tables, "graph_summary")
    f4, a4 = _get(tables, "gym_figure4"), _get(tables, "atari_figure4")
    left, right = _get(tables, "keydoor_fig5_left"), _get(tables, "keydoor_fig5_right")
    kd = keydoor_params()
    starts = (kd["key_steps"], kd["key_steps"] + kd["distractor_steps"])
    max_steps = int(gsum["max_steps"].iloc[0]) if gsum is not None else None
    return [
        ("figure6_graph", "Figures 2 and 6", "Shortest paths on a graph: steps to the goal of random walks, BFS "
         "shortest paths and the DT's paths (∞: not reached).", "graph_fig6, graph_summary",
         (lambda: plots.fig_steps_histogram(g6, max_steps)) if g6 is not None and max_steps else None),
        ("figure4_d4rl", "Figure 4 (bottom, D4RL)", "Achieved vs target return of DT on medium-replay.",
         "gym_figure4", (lambda: plots.fig_target_return(f4)) if f4 is not None else None),
        ("figure4_atari", "Figure 4 (top, Atari)", "Achieved vs target return of DT on Atari.", "atari_figure4",
         (lambda: plots.fig_target_return(a4.rename(columns={"game": "env"}), panel="Atari"))
         if a4 is not None else None),
        ("figure5_left", "Figure 5 (left)", "Key-to-Door: the critic's running P(success), averaged by episode "
         "outcome.", "keydoor_fig5_left",
         (lambda: plots.fig_return_probabilities(left, starts)) if left is not None else None),
        ("figure5_right", "Figure 5 (right)", "Key-to-Door: attention over one successful episode, all steps "
         "superimposed.", "keydoor_fig5_right", (lambda: plots.fig_attention(right)) if right is not None else None),
    ]


def figures(tables: dict[str, pd.DataFrame], profile: str) -> list[SummaryFigure]:
    """Draw every figure whose tables exist into reports/<profile>/summary/<name>.png (smoke-labelled)."""
    import matplotlib.pyplot as plt

    from dtlib.report import label_figure

    out = []
    for name, which, caption, source, draw in _figure_specs(tables):
        path = None
        if draw is not None:
            fig = label_figure(draw(), profile)
            path = reports_dir(profile) / FIGURE_DIR / f"{name}.png"
            with io.atomic_path(path) as tmp:
                fig.savefig(tmp, format="png", dpi=90)
            plt.close(fig)
        out.append(SummaryFigure(name, which, caption, source, path, "" if path else NOT_RUN))
    return out


# ------------------------------------------------------------------------------------------- deviations
def gather_deviations(profile: str, order: list[str] | None = None) -> pd.DataFrame:
    """Every notebook's recorded deviations (reports/<profile>/deviations/*.json), one row per item,
    notebooks in pipeline order (`order`: their keys; default the pipeline's notebooks)."""
    if order is None:
        order = [nb.key for nb in discover()]
    folder = reports_dir(profile) / "deviations"
    rank = {k: i for i, k in enumerate(order)}
    files = sorted(folder.glob("*.json"), key=lambda p: (rank.get(p.stem, len(rank)), p.stem)) \
        if folder.exists() else []
    rows = [{"notebook": p.stem, "deviation": str(item)} for p in files for item in io.read_json(p).get("items", [])]
    return pd.DataFrame(rows, columns=["notebook", "deviation"])


def deviations(cfg: SummaryConfig) -> list[str]:
    """The summary's own departures from the paper: the verdict rules and where the evidence comes from."""
    r = cfg.rules
    return [
        "Verdicts are ours (`dtlib.claims`, every rule in the report's rules table): the paper reports means and "
        "spreads but no tests. 'Beats' needs the 95% stratified-bootstrap interval of the difference above 0; "
        f"'matches or exceeds' needs its low end above −{r.match_margin:g} points; an interval straddling its "
        f"threshold and wider than ±{r.undecided_points:g} normalised points (Key-to-Door ±{r.undecided_success:g} "
        f"points of success) reads '{UNDECIDED}'; return conditioning needs Spearman ρ ≥ {r.rho_min:g} with an "
        f"interval above 0 ({r.bootstrap_reps} bootstrap replicates each).",
        "The context-length claim is tested on D4RL (K=20 vs K=1) as well as on Atari; the paper's Table 5 is "
        "Atari only.",
        "Each domain's verdict pools the tasks this profile ran (mean over tasks); the paper's numbers beside it "
        "are its means on the same tasks where it reports them.",
    ]


# ------------------------------------------------------------------------------------------------- HTML
STYLE = """<style>
.dtlib-summary table { border-collapse: collapse; margin: .5em 0 1.2em; font-size: .9em; }
.dtlib-summary table.dt-table td, .dtlib-summary table.dt-table th { border: 1px solid #ccc;
  padding: .25em .5em; text-align: left; vertical-align: top; }  /* beats JupyterLab's right-aligned cells */
.dtlib-summary .supported { color: #070; font-weight: bold; } .dtlib-summary .not-supported { color: #b00;
  font-weight: bold; } .dtlib-summary .not-run, .dtlib-summary tr.absent td { color: #888; }
.dtlib-summary figure { display: inline-block; margin: .5em 1em .5em 0; max-width: 100%; }
.dtlib-summary figure img { max-width: 100%; } .dtlib-summary figcaption { font-size: .85em; color: #444; }
.dtlib-summary .smoke { color: #b00; font-weight: bold; } .dtlib-summary .undecided { color: #a60;
  font-weight: bold; }
</style>"""


def _css(verdict: str) -> str:
    return {SUPPORTED: "supported", NOT_SUPPORTED: "not-supported", UNDECIDED: "undecided"}.get(verdict, "not-run")


def _table(header: list[str], rows: list[list[str]], row_class: list[str] | None = None) -> str:
    """An HTML table from already-escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join(f'<tr class="{(row_class or [""] * len(rows))[i]}">' + "".join(f"<td>{c}</td>" for c in r)
                   + "</tr>" for i, r in enumerate(rows))
    return f'<table class="dt-table"><tr>{head}</tr>{body}</table>'


def claims_html(df: pd.DataFrame) -> str:
    """The claims table: the paper's claim and numbers, ours with its interval, the rule and the verdict."""
    e = html.escape
    rows = []
    for _, r in df.iterrows():
        ours = (f"{e(r['measure'])}: <b>{r['estimate']:+.2f}</b> [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
                f"<br><small>{e(r['runs'])}</small>" if np.isfinite(r["estimate"]) else e(r["measure"] or "—"))
        rows.append([f"<b>{e(r['claim'])}</b><br><small>{e(r['domain'])}</small>",
                     f"{e(r['paper_says'])}<br><small>{e(r['paper_numbers'])}</small>", ours,
                     f'<span class="{_css(r["verdict"])}">{e(r["verdict"])}</span>',
                     f"<small>{e(r['evidence'])}<br>rule: {e(r['rule'])}<br>tables: {e(r['tables'])}</small>"])
    return _table(["claim", "the paper", "ours (estimate [95% interval])", "verdict", "evidence and rule"], rows)


def rules_html(rules_df: pd.DataFrame) -> str:
    """The rules table (`dtlib.claims.rules_table`): every claim's rule in words, as the verdicts apply it."""
    e = html.escape
    rows = [[f"<b>{e(r['claim'])}</b><br><small>{e(r['domain'])}</small>", e(r["rule"]),
             f"<small>{e(r['tables'])}</small>"]
            for _, r in rules_df.iterrows()]
    return _table(["claim", "rule (ours; the paper states no tests)", "tables"], rows)


def tables_html(side: dict[str, pd.DataFrame]) -> str:
    """Every paper table side by side: paper, peers' reproductions, ours."""
    parts = []
    for name, df in side.items():
        shown = display_table(df)
        rows = [[html.escape(str(v)) for v in row] for row in shown.itertuples(index=False)]
        classes = ["absent" if n in (NOT_RUN, NOT_IN_REPLICATION) else "" for n in df["note"]]
        parts.append(f"<h4>{html.escape(PAPER_TABLES[name].title)}</h4><p><small>paper: "
                     f"{html.escape(paper.SOURCES.get(name, ''))}; peers: "
                     f"{html.escape(paper.SOURCES['peers_d4rl']) if 'env' in PAPER_TABLES[name].keys else 'none'}; "
                     f"unit: {html.escape(PAPER_TABLES[name].unit)}; ours: mean ± std over seeds</small></p>"
                     + _table([html.escape(c) for c in shown.columns], rows, classes))
    return "".join(parts)


def figures_html(figs: list[SummaryFigure], profile: str, inline: bool = False) -> str:
    """The figures as <figure> elements: files relative to reports/<profile>/, or embedded (`inline`)."""
    parts = []
    for f in figs:
        title = f"<b>{html.escape(f.paper_figure)}</b> — {html.escape(f.caption)} <i>({html.escape(f.tables)})</i>"
        if f.path is None:
            parts.append(f'<figure><figcaption>{title}: <span class="not-run">{NOT_RUN}</span></figcaption></figure>')
            continue
        src = ("data:image/png;base64," + base64.b64encode(f.path.read_bytes()).decode() if inline
               else f.path.relative_to(reports_dir(profile)).as_posix())
        parts.append(f'<figure><img src="{html.escape(src)}" alt="{html.escape(f.paper_figure)}">'
                     f"<figcaption>{title}</figcaption></figure>")
    return "".join(parts)


def _code(text: str) -> str:
    """Escape `text` for HTML, Markdown `code` spans becoming <code> elements."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def deviations_html(devs: pd.DataFrame) -> str:
    """One deviations list, grouped by notebook."""
    parts = []
    for nb, g in devs.groupby("notebook", sort=False):
        items = "".join(f"<li>{_code(d)}</li>" for d in g["deviation"])
        parts.append(f"<h4>{html.escape(nb)}</h4><ul>{items}</ul>")
    return "".join(parts) or "<p>none recorded</p>"


def section_html(profile: str, claims_df: pd.DataFrame, side: dict[str, pd.DataFrame], figs: list[SummaryFigure],
                 devs: pd.DataFrame, inventory_df: pd.DataFrame, rules_df: pd.DataFrame, inline: bool = False) -> str:
    """The whole summary as one HTML section (what reports/<profile>/index.html leads with)."""
    counts = claims_df["verdict"].value_counts()
    tally = ", ".join(f"{counts.get(v, 0)} {v}" for v in (SUPPORTED, NOT_SUPPORTED, UNDECIDED, NOT_RUN)
                      + ((NOT_TESTABLE,) if counts.get(NOT_TESTABLE) else ()))
    missing = [r["notebook"] for _, r in inventory_df.iterrows() if r["status"] == NOT_RUN]
    smoke = ('<p class="smoke">smoke — not evidence: tiny budgets and one seed; every verdict below only shows '
             "that the pipeline runs.</p>" if profile == "smoke" else "")
    return (f'<section class="dtlib-summary" id="summary">{STYLE}'
            f"<h2>Summary: the paper's claims at profile <code>{html.escape(profile)}</code></h2>{smoke}"
            f"<p>{tally}. Computed from the tidy tables in <code>tables/</code> at commit "
            f"<code>{html.escape(git_commit())}</code>"
            + (f"; not run at this profile: {html.escape(', '.join(missing))}" if missing else "") + ".</p>"
            f"<h3>Claims</h3>{claims_html(claims_df)}"
            f"<h3>The rules behind the verdicts</h3>{rules_html(rules_df)}"
            f"<h3>Figures</h3>{figures_html(figs, profile, inline)}"
            f"<h3>The paper's tables: paper, peers, ours</h3>{tables_html(side)}"
            f"<h3>Deviations from the paper (all notebooks)</h3>{deviations_html(devs)}</section>")


def write_section(profile: str, claims_df: pd.DataFrame, side: dict[str, pd.DataFrame], figs: list[SummaryFigure],
                  devs: pd.DataFrame, inventory_df: pd.DataFrame, rules_df: pd.DataFrame) -> Path:
    """Write reports/<profile>/summary/section.html (figures as files beside it) and its JSON stamp."""
    path = reports_dir(profile) / SUMMARY_SECTION
    io.write_text(path, section_html(profile, claims_df, side, figs, devs, inventory_df, rules_df))
    io.write_json(path.with_suffix(".json"), {"profile": profile, "commit": git_commit(),
                                              "verdicts": claims_df["verdict"].value_counts().to_dict()})
    return path


def show(fragment: str):
    """An HTML fragment of this module, styled, for display in the notebook."""
    from IPython.display import HTML

    return HTML(f'<div class="dtlib-summary">{STYLE}{fragment}</div>')
