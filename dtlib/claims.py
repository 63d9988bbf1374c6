"""Every claim of the paper this replication tests, with its rule written once, decided from the tables only.

    rules = ClaimRules(bootstrap_reps=2000, match_margin=5.0)   # the numbers every rule reads
    claims(tables, rules)              # one row per claim × domain: estimate, 95% interval, rule, verdict
    claims(tables, rules, ["D4RL"])    # one domain (what an experiment notebook shows)
    rules_table(rules)                 # every rule in words: the table the summary renders

`tables` maps a table name (reports/<profile>/tables/<name>.csv) to its DataFrame: `gym_runs`,
`gym_figure4`, `keydoor_per_seed`, `keydoor_table6`, `graph_path_summary`, `atari_runs`, `atari_figure4`
and `atari_datasets`. The studies only emit these tables; nothing else in dtlib decides a claim.

The rules are ours (the paper publishes no tests). A claim is a conjunction of tests; each test judges one
95% interval (`dtlib.stats`: seeds resampled within each task, the estimate a difference of means over
tasks) against one threshold:
- "beats" needs the interval's low end above 0; "matches" its low end above −`match_margin`;
- an interval that straddles its threshold and is wider than ±`undecided_points` normalised points
  (Key-to-Door: ±`undecided_success` points of success) is *undecided at this budget*: more seeds or more
  training would be needed before it says anything; a narrower straddling interval is *not supported*;
- the tests combine as "and": one not supported makes the claim not supported, else one undecided makes it
  undecided.
A test with no data leaves the claim "not run at this profile". This module reads `dtlib.paper` for the
paper's numbers and `dtlib.stats` for the intervals; it never imports `dtlib.summary`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from dtlib import paper, stats
from dtlib.stats import difference_ci, mean, stratified_bootstrap_ci

SUPPORTED, NOT_SUPPORTED = "supported", "not supported"
UNDECIDED = "undecided at this budget"  # the interval straddles the threshold and is too wide to read
NOT_RUN = "not run at this profile"
NOT_IN_REPLICATION = "not part of this replication"
NOT_TESTABLE = "not testable at this scale"  # Atari at the random floor; D4RL / Key-to-Door methods undertrained
VERDICTS = (SUPPORTED, NOT_SUPPORTED, UNDECIDED, NOT_TESTABLE, NOT_RUN)
CLAIM_COLUMNS = ["claim", "domain", "paper_says", "paper_numbers", "measure", "estimate", "ci_low", "ci_high",
                 "runs", "rule", "verdict", "evidence", "tables"]
D4RL_UNIT, ATARI_UNIT, KEYDOOR_UNIT = "D4RL-normalised points", "gamer-normalised points", "points of success"


@dataclass(frozen=True)
class ClaimRules:
    """The numbers the rules read; the summary notebook passes its parameters in (defaults: the report's)."""

    bootstrap_reps: int = 2000  # bootstrap replicates behind every interval
    match_margin: float = 5.0  # "matches": the interval's low end above −this (normalised or success points)
    undecided_points: float = 7.5  # a straddling interval wider than ± this (normalised points) is undecided
    undecided_success: float = 10.0  # the same for Key-to-Door's success-rate points
    rho_min: float = 0.8  # return conditioning: Spearman ρ at least this (and its interval above 0)
    graph_reached_min: float = 90.0  # graph: % of starts from which the DT reaches the goal
    graph_ratio_max: float = 1.2  # graph: DT steps / shortest steps, the interval's high end at most this
    atari_floor: float = 5.0  # Atari: a game is at the random-play floor when no method's mean exceeds this
    atari_span_min: float = 0.1  # Atari: the data is informative when its returns span this share of random→gamer
    d4rl_trained_min: float = 0.5  # D4RL: a compared method is trained when its mean score is ≥ this share of the paper's
    keydoor_trained_min: float = 0.5  # Key-to-Door: the same for the hindsight methods (DT, %BC) against Table 6


# ------------------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Criterion:
    """One measure's 95% interval judged against one threshold."""

    measure: str  # what is measured, e.g. "DT − CQL"
    threshold: float  # the rule's threshold
    side: str  # 'above': low end > threshold; 'below': high end <= threshold; 'at_least': estimate >= threshold
    unit: str = ""  # unit of the measure and the threshold
    undecided: float | None = None  # a straddling interval wider than ± this reads UNDECIDED (None: never)
    when: str = ""  # where the test applies, when not always

    def judge(self, r: dict | None) -> str:
        """SUPPORTED, NOT_SUPPORTED or UNDECIDED for the result `r` (estimate, ci_low, ci_high); NOT_RUN if None."""
        if r is None:
            return NOT_RUN
        est, lo, hi = r["estimate"], r["ci_low"], r["ci_high"]
        if self.side == "at_least":
            return SUPPORTED if est >= self.threshold else NOT_SUPPORTED
        if (lo > self.threshold) if self.side == "above" else (hi <= self.threshold):
            return SUPPORTED
        if self.undecided is not None and lo <= self.threshold <= hi and (hi - lo) / 2 > self.undecided:
            return UNDECIDED
        return NOT_SUPPORTED

    def text(self) -> str:
        """The test in words."""
        unit = f" {self.unit}" if self.unit else ""
        words = {"above": f"the 95% interval's low end > {self.threshold:+g}{unit}",
                 "below": f"the 95% interval's high end ≤ {self.threshold:g}{unit}",
                 "at_least": f"≥ {self.threshold:g}{unit}"}[self.side]
        out = f"{self.measure}: {words}" + (f" ({self.when})" if self.when else "")
        if self.undecided is not None:
            out += f"; straddling {self.threshold:+g} and wider than ±{self.undecided:g}: undecided"
        return out


@dataclass(frozen=True)
class Claim:
    """One of the paper's claims in one domain: what the paper says and the tests that decide it."""

    claim: str  # short name
    domain: str  # D4RL | Atari | Key-to-Door | Graph
    paper_says: str  # the claim in the paper's terms, with where it is made
    tables: str  # the tables it is decided from
    tests: tuple[Criterion, ...]  # all must pass ("and")

    @property
    def rule(self) -> str:
        return "supported when " + "; and ".join(t.text() for t in self.tests)


def rulebook(rules: ClaimRules) -> dict[str, Claim]:
    """Every claim and its rule, by key: the one place the rules are written."""
    m, pts, gamer, success = rules.match_margin, rules.undecided_points, rules.undecided_points, rules.undecided_success
    rho = (Criterion("Spearman ρ(target, mean achieved return)", rules.rho_min, "at_least"),
           Criterion("Spearman ρ(target, mean achieved return)", 0.0, "above"))
    says_rho = "achieved return tracks the target return within the data's range (Figure 4)"
    return {
        "d4rl_td": Claim("DT vs TD learning", "D4RL", "DT matches or exceeds TD learning (CQL) on D4RL (Table 2)",
                         "gym_runs", (Criterion("DT − CQL", -m, "above", D4RL_UNIT, pts),)),
        "d4rl_low_quality_bc": Claim(
            "DT vs BC on low-quality data", "D4RL",
            "DT beats behaviour cloning on the low-quality medium-replay data (Table 2)", "gym_runs",
            (Criterion("DT − BC on medium-replay", 0.0, "above", D4RL_UNIT, pts),)),
        "d4rl_conditioning": Claim("Return conditioning", "D4RL", says_rho, "gym_figure4", rho),
        "atari_conditioning": Claim("Return conditioning", "Atari", says_rho, "atari_figure4", rho),
        "d4rl_context": Claim("Context length", "D4RL", "a longer context (K=20) beats K=1 (paper: Table 5, on Atari)",
                              "gym_runs", (Criterion("DT at K=20 − DT at K=1", 0.0, "above", D4RL_UNIT, pts),)),
        "atari_context": Claim("Context length", "Atari", "DT with a long context beats K=1 (Table 5)", "atari_runs",
                               (Criterion("DT at the study's K − DT at K=1", 0.0, "above", ATARI_UNIT, gamer),)),
        "d4rl_delayed": Claim(
            "Delayed rewards", "D4RL",
            "DT is barely affected when all reward comes at the episode's end, while CQL fails (§5.6)", "gym_runs",
            (Criterion("DT delayed − DT dense", -m, "above", D4RL_UNIT, pts),
             Criterion("DT − CQL, both delayed", 0.0, "above", D4RL_UNIT, pts,
                       "where CQL ran with delayed rewards"))),
        "keydoor": Claim(
            "Key-to-Door credit assignment", "Key-to-Door",
            "hindsight methods (DT, %BC) learn successful policies from random data; TD learning (CQL) "
            "struggles (Table 6)", "keydoor_per_seed, keydoor_table6",
            (Criterion("DT − CQL", 0.0, "above", KEYDOOR_UNIT, success),
             Criterion("DT − %BC", -m, "above", KEYDOOR_UNIT, success, "where %BC ran"),
             Criterion("DT − random", 0.0, "above", KEYDOOR_UNIT, success, "instead, where %BC did not run"))),
        "d4rl_pct_bc": Claim("%BC", "D4RL", "DT is competitive with the best percentile BC on D4RL (Table 3)",
                             "gym_runs", (Criterion("DT − best %BC", -m, "above", D4RL_UNIT, pts),)),
        "atari_pct_bc": Claim("%BC", "Atari", "with little data (Atari) DT beats every %BC (Table 4)", "atari_runs",
                              (Criterion("DT − best %BC", 0.0, "above", ATARI_UNIT, gamer),)),
        "atari_bc": Claim("Atari", "Atari", "DT beats behaviour cloning on 1% DQN-replay Atari (Table 1)",
                          "atari_runs", (Criterion("DT − BC", 0.0, "above", ATARI_UNIT, gamer),)),
        "graph": Claim(
            "Shortest paths from random walks", "Graph",
            "trained on random walks and conditioned on the best return at each node, DT walks shortest paths "
            "(Figures 2 and 6)", "graph_path_summary",
            (Criterion("DT reaches the goal, mean over seeds", rules.graph_reached_min, "at_least", "% of starts"),
             Criterion("DT steps / shortest steps, same starts", rules.graph_ratio_max, "below"))),
    }


def atari_precondition_rule(rules: ClaimRules) -> str:
    """When the Atari comparisons are not testable, in words."""
    return (f"every Atari comparison reads '{NOT_TESTABLE}' when, in every game run, no method's mean score at "
            f"the paper's target exceeds {rules.atari_floor:g} {ATARI_UNIT} (the random-play floor); a game's "
            f"data is 'informative' when its episode returns span ≥ {rules.atari_span_min:.0%} of random-to-gamer")


def d4rl_precondition_rule(rules: ClaimRules) -> str:
    """When a D4RL comparison is not testable, in words."""
    return (f"a D4RL claim reads '{NOT_TESTABLE}' when a method it compares scores, over the tasks it ran, less than "
            f"{rules.d4rl_trained_min:.0%} of what it should reach there (mean of ours / mean of the references, last "
            "evaluation; a task's reference is the paper's score for that method, capped by the mean score of our "
            "data's best episodes — those 10%BC clones — since our datasets are weaker than D4RL's): an "
            "undertrained model, DT or baseline, neither supports nor refutes the paper. The share carries a 95% "
            "interval (seeds resampled within each task): 'not testable' needs the whole interval below the "
            f"minimum; where it straddles the minimum the claim reads '{UNDECIDED}', so a share near the line "
            "cannot flip a verdict between machines")


def keydoor_precondition_rule(rules: ClaimRules) -> str:
    """When the Key-to-Door claim is not testable, in words."""
    return (f"the Key-to-Door claim reads '{NOT_TESTABLE}' when DT or %BC (the hindsight methods it says learn) "
            f"succeeds, over the datasets it ran, less than {rules.keydoor_trained_min:.0%} as often as in the "
            "paper's Table 6 on the same datasets (mean of ours / mean of the paper's): a DT that has not learned "
            "neither supports nor refutes the paper; CQL and BC fail in the paper too, so they are not checked. The "
            "share carries a 95% interval (seeds resampled within each dataset): 'not testable' needs the whole "
            f"interval below the minimum; where it straddles the minimum the claim reads '{UNDECIDED}'")


KEYDOOR_TRAINED = {"DT": "dt", "%BC": "pct_bc"}  # the methods the precondition checks, and their Table 6 column


def keydoor_training(tables: dict) -> pd.DataFrame:
    """Per Key-to-Door method (DT, %BC): mean success over the datasets it ran beside Table 6's on the same
    datasets, and the share."""
    cols = ["method", "datasets", "ours", "paper", "share", "share_low", "share_high"]
    per_seed = _get(tables, "keydoor_per_seed")
    if per_seed is None or not len(per_seed):
        return pd.DataFrame(columns=cols)
    t6 = paper.table("table6").set_index("trajectories")
    size = {f"{n // 1000}k" if n % 1000 == 0 else str(n): n for n in t6.index}  # keydoor_study.dataset_label
    rows = []
    for label, column in KEYDOOR_TRAINED.items():
        g = per_seed[(per_seed["method"] == label) & per_seed["dataset"].astype(str).isin(size)]
        if not len(g):
            continue
        by_dataset = g.groupby(g["dataset"].astype(str))["success_%"]
        ours = by_dataset.mean()
        theirs = [float(t6.loc[size[d], column]) for d in ours.index]
        mine, ref = float(ours.mean()), float(np.mean(theirs))
        low, high = stats.share_ci([seeds.to_numpy() for _, seeds in by_dataset], ref)
        rows.append({"method": label, "datasets": ", ".join(ours.index), "ours": mine, "paper": ref,
                     "share": mine / ref if ref > 0 else np.nan, "share_low": low, "share_high": high})
    return pd.DataFrame(rows, columns=cols)


def _share_words(r: pd.Series) -> str:
    """A training row's share with its interval, in words: '51% [32%, 66%]'."""
    if np.isfinite(r.get("share_low", np.nan)):
        return f"{r['share']:.0%} [{r['share_low']:.0%}, {r['share_high']:.0%}]"
    return f"{r['share']:.0%}"


def _trained_state(r: pd.Series, minimum: float) -> str:
    """'low' when the share's interval lies below `minimum` (undertrained), 'unsure' when it straddles it, '' when
    it lies at or above it. Without an interval (one seed) the share itself decides, as 'low' or ''."""
    share, low, high = r["share"], r.get("share_low", np.nan), r.get("share_high", np.nan)
    if not np.isfinite(share):
        return ""
    if not (np.isfinite(low) and np.isfinite(high)):
        low = high = share
    return "low" if high < minimum else "unsure" if low < minimum else ""


def _training_words(methods: list[str], state: str, minimum: float) -> str:
    """The precondition's sentence for the methods found in `state` ('low' or 'unsure'); '' when there are none."""
    if not methods:
        return ""
    if state == "low":
        return "undertrained at this budget: " + "; ".join(methods)
    return f"whether it is trained is undecided (its share's interval straddles {minimum:.0%}): " + "; ".join(methods)


def keydoor_undertrained(tables: dict, rules: ClaimRules, state: str = "low") -> str:
    """Why the Key-to-Door claim is not testable ('' when it is): DT or %BC whose share of Table 6's success lies
    below the trained minimum, interval and all, in words. `state='unsure'`: the methods whose share's interval
    straddles the minimum instead (the claim then reads undecided)."""
    train = keydoor_training(tables)
    out = []
    for _, r in train.iterrows():
        if _trained_state(r, rules.keydoor_trained_min) != state:
            continue
        cost = paper_training_cost(KEYDOOR_TRAINED[r["method"]], "keydoor")
        out.append(f"{r['method']} {r['ours']:.1f}% vs the paper's {r['paper']:.1f}% ({_share_words(r)}) on "
                   f"{r['datasets']}" + (f"; to train it as the `paper` profile: {cost}" if cost else ""))
    return _training_words(out, state, rules.keydoor_trained_min)


# The methods each D4RL claim compares, and where the paper's score of each is (table, column; %BC by fraction).
D4RL_CLAIM_METHODS = {"d4rl_td": ("dt", "cql"), "d4rl_low_quality_bc": ("dt", "bc"), "d4rl_conditioning": ("dt",),
                      "d4rl_context": ("dt",), "d4rl_delayed": ("dt", "cql"), "d4rl_pct_bc": ("dt", "pct_bc")}
D4RL_PAPER_SCORES = {"dt": ("table2", "dt"), "cql": ("table2", "cql"), "bc": ("table2", "bc")}


def d4rl_training(tables: dict) -> pd.DataFrame:
    """Per D4RL method: its mean last score over the tasks it ran (dense rewards, default K) beside what it should
    reach there, and the share; %BC per fraction (Table 3's column for it).

    What a method should reach on a task (`reference`) is the paper's score for it, capped by what our data shows
    is reachable: the mean score of the data's best episodes (those 10%BC clones, `gym_datasets.score_top10`).
    Our generated datasets are weaker than D4RL's (walker2d-medium's best 10% average 53 normalised points where
    the paper's methods score 74-79 on D4RL's), so a method that cannot exceed its data is not undertrained for
    falling short of a score made on better data. Without the datasets table the cap is left out (`data_top10`
    NaN) and the reference is the paper's score."""
    df = _gym_dense(tables)
    cols = ["method", "pct", "tasks", "ours", "paper", "data_top10", "reference", "share", "share_low", "share_high"]
    if df is None or not len(df):
        return pd.DataFrame(columns=cols)
    data = _get(tables, "gym_datasets")
    top = (data.set_index(["env", "dataset"])["score_top10"] if data is not None and "score_top10" in data.columns
           else pd.Series(dtype=float))
    rows = []
    for (method, pct), g in df.groupby(["method", df["pct"].fillna(0.0)], sort=True):
        table, column = D4RL_PAPER_SCORES.get(method, ("table3", f"pct_bc{int(round(100 * pct))}"))
        ref = paper.table(table).set_index(["env", "dataset"])
        if column not in ref.columns:
            continue
        ours = g.groupby(["env", "dataset"])["last"].mean()
        keys = [k for k in ours.index if k in ref.index]
        if not keys:
            continue
        theirs = ref.loc[keys, column].astype(float).to_numpy()
        cap = np.array([float(top.get(k, np.nan)) for k in keys])
        reach = np.where(np.isfinite(cap), np.minimum(theirs, cap), theirs)
        mine, target = float(ours.loc[keys].mean()), float(reach.mean())
        by_task = g.set_index(["env", "dataset"])["last"]
        low, high = stats.share_ci([by_task.loc[[k]].to_numpy() for k in keys], target)
        rows.append({"method": method, "pct": pct, "tasks": len(keys), "ours": mine, "paper": float(theirs.mean()),
                     "data_top10": float(cap.mean()) if np.isfinite(cap).all() else np.nan, "reference": target,
                     "share": mine / target if target > 0 else np.nan, "share_low": low, "share_high": high})
    return pd.DataFrame(rows, columns=cols)


def _reference_words(r: pd.Series) -> str:
    """How a d4rl_training row's reference was made, in words: capped by our data, or the paper's score."""
    if np.isfinite(r["data_top10"]) and r["reference"] < r["paper"] - 1e-9:
        return f" (the paper's {r['paper']:.1f} capped by our data's best 10%, {r['data_top10']:.1f})"
    return " (the paper's score)"


def paper_training_cost(method: str, domain: str = "gym") -> str:
    """What training `method` at the `paper` profile's step count costs on the CPU `small` is sized for, in words
    ('' when unknown): those steps times `dtlib.plan`'s measured fp32 seconds per step on one thread (Key-to-Door:
    scaled by the profile's batch over the measured one, as `dtlib.plan` does)."""
    from dtlib import plan
    from dtlib.profiles import load_profile

    per_step = plan.cost(domain, method)
    params = load_profile("paper").notebook_params(domain)
    if domain == "gym":
        field = {"dt": "dt_steps", "bc": "bc_steps", "pct_bc": "bc_steps", "cql": "cql_steps"}.get(method)
        steps = int(params[field]) if field else None
        batch = ""
    elif domain == "keydoor":
        steps = params.get("steps", {}).get(method)
        size = int(params.get("dt_batch_size") or plan.KEYDOOR_MEASURED_BATCH) if method == "dt" else \
            plan.KEYDOOR_MEASURED_BATCH
        per_step = per_step * plan.keydoor_batch_scale(size) if per_step is not None else None
        batch = f" at batch {size}"
    else:
        steps = None
    if steps is None or per_step is None:
        return ""
    seconds = int(steps) * per_step
    size = f"~{seconds / 3600:.1f} CPU-hours" if seconds >= 3600 else f"~{max(1, round(seconds / 60))} CPU-minutes"
    return (f"the `paper` profile's {int(steps):,} steps{batch}, {size} per run on one core of the CPU `small` is "
            "sized for (dtlib.plan)")


def d4rl_undertrained(tables: dict, rules: ClaimRules, key: str, state: str = "low") -> str:
    """Why a D4RL claim is not testable ('' when it is): the compared methods whose share of what they should reach
    lies below the trained minimum, interval and all, in words. `state='unsure'`: those whose share's interval
    straddles the minimum instead (the claim then reads undecided)."""
    train = d4rl_training(tables)
    if not len(train):
        return ""
    out = []
    for method in D4RL_CLAIM_METHODS.get(key, ()):
        rows = train[train["method"] == method]
        if method == "pct_bc" and len(rows):
            rows = rows.loc[[rows["share"].idxmax()]]  # the claim compares DT with the best %BC
        for _, r in rows.iterrows():
            if _trained_state(r, rules.d4rl_trained_min) != state:
                continue
            name = f"{int(round(100 * r['pct']))}%BC" if method == "pct_bc" else method.upper()
            cost = paper_training_cost(method)
            out.append(f"{name} {r['ours']:.1f} vs {r['reference']:.1f} ({_share_words(r)}) on {r['tasks']} "
                       f"task(s){_reference_words(r)}" + (f"; to train it as the `paper` profile: {cost}" if cost else ""))
    return _training_words(out, state, rules.d4rl_trained_min)


def _undertrained(tables: dict, rules: ClaimRules, key: str, state: str) -> str:
    """The trained precondition of claim `key` in `state` ('low' or 'unsure'), in words ('' for claims without one)."""
    if key in D4RL_CLAIM_METHODS:
        return d4rl_undertrained(tables, rules, key, state)
    return keydoor_undertrained(tables, rules, state) if key == "keydoor" else ""


def rules_table(rules: ClaimRules) -> pd.DataFrame:
    """Every rule in words, one row per claim × domain (the report shows it beside the verdicts)."""
    rows = [{"claim": c.claim, "domain": c.domain, "rule": c.rule, "tables": c.tables}
            for c in rulebook(rules).values()]
    rows.append({"claim": "Atari preconditions", "domain": "Atari", "rule": atari_precondition_rule(rules),
                 "tables": "atari_runs, atari_datasets"})
    rows.append({"claim": "D4RL preconditions", "domain": "D4RL", "rule": d4rl_precondition_rule(rules),
                 "tables": "gym_runs"})
    rows.append({"claim": "Key-to-Door precondition", "domain": "Key-to-Door",
                 "rule": keydoor_precondition_rule(rules), "tables": "keydoor_per_seed"})
    rows.append({"claim": "all claims", "domain": "all", "tables": "",
                 "rule": f"intervals: 95% stratified bootstrap over seeds within tasks ({rules.bootstrap_reps} "
                         "replicates); tests combine with 'and': one not supported → not supported, else one "
                         "undecided → undecided"})
    return pd.DataFrame(rows, columns=["claim", "domain", "rule", "tables"])


def combine(verdicts: list[str]) -> str:
    """The verdict of tests joined by 'and' (NOT_RUN when there are none)."""
    if not verdicts:
        return NOT_RUN
    for v in (NOT_SUPPORTED, UNDECIDED, NOT_RUN):
        if v in verdicts:
            return v
    return SUPPORTED


# ----------------------------------------------------------------------------------------------- helpers
def _get(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame | None:
    df = tables.get(name)
    return df if df is not None and len(df) else None


def _diff(a: pd.DataFrame, b: pd.DataFrame, score: str, reps: int, task: str = "task",
          run: str = "seed") -> dict | None:
    """mean(a) − mean(b) over the tasks both have, with its stratified-bootstrap 95% interval."""
    tasks = sorted(set(a[task]) & set(b[task]))
    if not tasks:
        return None
    mats = []
    for df in (a, b):
        wide = df[df[task].isin(tasks)].pivot_table(index=run, columns=task, values=score, aggfunc="mean")
        mats.append(wide.reindex(columns=tasks).dropna().to_numpy())  # [runs, tasks]
    if min(m.shape[0] for m in mats) == 0:
        return None
    est, lo, hi = difference_ci(mats[0], mats[1], reps=reps)
    return {"estimate": est, "ci_low": lo, "ci_high": hi, "tasks": tasks, "n": min(m.shape[0] for m in mats),
            "runs": f"{mats[0].shape[0]} vs {mats[1].shape[0]} seed(s) × {len(tasks)} task(s)"}


def seeds_needed(r: dict, half_width: float) -> int | None:
    """Seeds per method and task that would shrink `r`'s interval to ±`half_width`, assuming its half-width
    falls as 1/√seeds (an interval of a difference of means over seeds); None when `r` has no seed count."""
    n, w = r.get("n"), (r["ci_high"] - r["ci_low"]) / 2
    if not n or not np.isfinite(w):
        return None
    return max(int(n), int(np.ceil(n * (w / half_width) ** 2)))


def _fmt(d: dict) -> str:
    return f"{d['estimate']:+.1f} [{d['ci_low']:+.1f}, {d['ci_high']:+.1f}]"


def _say(test: Criterion, r: dict) -> str:
    """One test's evidence: its measure and interval, and why it is undecided when it is."""
    out = f"{test.measure} = {_fmt(r)}"
    if test.judge(r) == UNDECIDED:
        out += (f" (±{(r['ci_high'] - r['ci_low']) / 2:.1f} across {test.threshold:+g}, wider than "
                f"±{test.undecided:g}: {UNDECIDED}")
        need = seeds_needed(r, test.undecided)
        if need is not None:
            out += f"; about {need} seeds per method and task instead of {r['n']} would narrow it to ±{test.undecided:g}"
        out += ")"
    return out


def _row(c: Claim, paper_numbers: str = "", measure: str = "", result: dict | None = None, verdict: str = NOT_RUN,
         evidence: str = "") -> dict:
    result = result or {}
    return {"claim": c.claim, "domain": c.domain, "paper_says": c.paper_says, "paper_numbers": paper_numbers,
            "measure": measure, "estimate": result.get("estimate", np.nan), "ci_low": result.get("ci_low", np.nan),
            "ci_high": result.get("ci_high", np.nan), "runs": result.get("runs", ""), "rule": c.rule,
            "verdict": verdict, "evidence": evidence, "tables": c.tables}


def _judged(c: Claim, paper_numbers: str, measure: str, pairs: list[tuple[Criterion, dict]], extra: str = "") -> dict:
    """A row from (test, result) pairs, every one in the evidence; the row carries the interval of the test that
    decided the verdict (the first one when all pass), `measure` naming the first test's."""
    verdict = combine([t.judge(r) for t, r in pairs])
    i = next((i for i, (t, r) in enumerate(pairs) if t.judge(r) == verdict), 0)
    if i:
        measure = f"{pairs[i][0].measure}, {pairs[i][0].unit}" if pairs[i][0].unit else pairs[i][0].measure
    evidence = "; ".join(_say(t, r) for t, r in pairs) + extra
    return {**_row(c, paper_numbers, measure, pairs[i][1], verdict, evidence), "_tests": pairs}


def _tasks(r: dict | None) -> list[tuple]:
    return [tuple(t.split("/")) for t in (r["tasks"] if r else [])]


def _gym_dense(tables: dict) -> pd.DataFrame | None:
    """gym_runs at dense rewards and the default K, one `task` per env/dataset, score = last evaluation."""
    runs = _get(tables, "gym_runs")
    if runs is None:
        return None
    df = runs[(runs["reward_mode"] == "dense") & (runs["context_len"] == 0)]
    return df.assign(task=df["env"] + "/" + df["dataset"])


def _paper_mean(df: pd.DataFrame, a: str, b: str | Callable, keys: list[str], tasks: list[tuple]) -> str:
    """The paper's mean of column a − column b on our tasks (all its rows when we ran none of them)."""
    idx = df.set_index(keys)
    ours = [t for t in tasks if t in idx.index]
    sub = idx.loc[ours] if ours else idx
    diff = sub[a] - (b(sub) if callable(b) else sub[b])
    where = f"on our {len(ours)} task(s)" if ours else f"over its {len(sub)} rows"
    return f"{diff.mean():+.1f} {where}"


def _best_pct(df: pd.DataFrame, score: str) -> pd.DataFrame:
    """Per task, the %BC runs of the fraction with the best mean (the strongest %BC DT is compared with)."""
    pct = df[df["method"] == "pct_bc"]
    if not len(pct):
        return pct
    means = pct.groupby(["task", "pct"])[score].mean().reset_index()
    best = means.loc[means.groupby("task")[score].idxmax(), ["task", "pct"]]
    return pct.merge(best, on=["task", "pct"])


def _paper_best_pct(t: pd.DataFrame) -> pd.Series:
    """The paper's best %BC per row of Table 3 or 4 (10, 25 or 40%)."""
    return t[["pct_bc10", "pct_bc25", "pct_bc40"]].max(axis=1)


def spearman_ci(sweep: pd.DataFrame, panel: str, reps: int, seed: int = 0) -> dict | None:
    """Mean over panels of Spearman ρ (target vs mean achieved return, targets within the data's best),
    with a 95% bootstrap interval resampling the rows (episodes or seeds) within each target."""
    rng = np.random.default_rng(seed)
    points, boots, used = [], [], []
    for name, g in sweep.groupby(panel):
        inside = g[g["target"] <= g["dataset_best"]]
        targets = sorted(inside["target"].unique())
        if len(targets) < 3:
            continue
        values = [inside.loc[inside["target"] == t, "return"].to_numpy(dtype=float) for t in targets]
        means = np.array([v.mean() for v in values])
        sims = np.stack([v[rng.integers(0, len(v), size=(reps, len(v)))].mean(axis=1) for v in values], 1)
        points.append(_rank_corr(np.arange(len(targets)), means[None, :])[0])  # [reps, targets] below
        boots.append(_rank_corr(np.arange(len(targets)), sims))
        used.append(f"{name} ({len(targets)} targets)")
    if not points:
        return None
    with warnings.catch_warnings():  # a constant achieved return has no rank correlation: NaN, said below
        warnings.simplefilter("ignore", RuntimeWarning)
        boot = np.nanmean(np.stack(boots), axis=0)
        return {"estimate": float(np.nanmean(points)), "ci_low": float(np.nanquantile(boot, 0.025)),
                "ci_high": float(np.nanquantile(boot, 0.975)), "runs": ", ".join(used)}


def _rank_corr(x: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Spearman ρ of x against each row of ys (average ranks for ties; NaN for a constant row)."""
    from scipy.stats import rankdata

    rx = rankdata(x)
    ry = rankdata(ys, axis=1)
    rx, ry = rx - rx.mean(), ry - ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx ** 2).sum() * (ry ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ry * rx).sum(axis=1) / np.where(denom > 0, denom, 1), np.nan)


# ------------------------------------------------------------------------------------------------ D4RL
def claim_d4rl_td(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    t2 = paper.table("table2")
    numbers = f"DT {t2['dt'].mean():.1f} vs CQL {t2['cql'].mean():.1f} (mean of 9 tasks); DT − CQL "
    df = _gym_dense(tables)
    if df is None:
        return _row(c, numbers + _paper_mean(t2, "dt", "cql", ["env", "dataset"], []))
    r = _diff(df[df["method"] == "dt"], df[df["method"] == "cql"], "last", rules.bootstrap_reps)
    numbers += _paper_mean(t2, "dt", "cql", ["env", "dataset"], _tasks(r))
    if r is None:
        return _row(c, numbers, evidence="no DT and CQL runs on a common task")
    return _judged(c, numbers, "DT − CQL, D4RL-normalised (last evaluation)", [(c.tests[0], r)],
                   f" over {', '.join(r['tasks'])}")


def claim_d4rl_low_quality_bc(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    mr = paper.table("table2").query("dataset == 'medium-replay'")
    df = _gym_dense(tables)
    df = df[df["dataset"] == "medium-replay"] if df is not None else None
    r = _diff(df[df["method"] == "dt"], df[df["method"] == "bc"], "last", rules.bootstrap_reps) \
        if df is not None and len(df) else None
    numbers = "DT − BC on medium-replay " + _paper_mean(mr, "dt", "bc", ["env", "dataset"], _tasks(r))
    if r is None:
        return _row(c, numbers)
    return _judged(c, numbers, "DT − BC on medium-replay, D4RL-normalised", [(c.tests[0], r)],
                   f" over {', '.join(r['tasks'])}")


def _conditioning(sweep: pd.DataFrame | None, panel: str, rules: ClaimRules, c: Claim) -> dict:
    numbers = "\"highly correlated\"; no numbers published (Figure 4)"
    measure = "Spearman ρ(target, mean achieved return)"
    if sweep is None:
        return _row(c, numbers)
    r = spearman_ci(sweep, panel, rules.bootstrap_reps)
    if r is None:
        return _row(c, numbers, measure, verdict=NOT_SUPPORTED,
                    evidence="fewer than 3 targets within the data's range: no correlation to test")
    if not np.isfinite(r["estimate"]):
        return _row(c, numbers, measure, verdict=NOT_SUPPORTED,
                    evidence=f"the achieved return is the same at every target over {r['runs']}: it does not "
                             "follow the target")
    return _row(c, numbers, measure, r, combine([t.judge(r) for t in c.tests]),
                f"ρ = {_fmt(r)} over {r['runs']}")


def claim_d4rl_conditioning(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    return _conditioning(_get(tables, "gym_figure4"), "env", rules, c)


def claim_d4rl_context(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    t5 = paper.table("table5")
    numbers = f"Atari, Table 5: DT K=30 − K=1 = {(t5['dt'] - t5['dt_k1']).mean():+.1f} (mean of 4 games)"
    runs = _get(tables, "gym_runs")
    if runs is None:
        return _row(c, numbers)
    df = runs[(runs["reward_mode"] == "dense") & (runs["method"] == "dt")]
    df = df.assign(task=df["env"] + "/" + df["dataset"])
    r = _diff(df[df["context_len"] == 0], df[df["context_len"] == 1], "last", rules.bootstrap_reps)
    if r is None:
        return _row(c, numbers)
    return _judged(c, numbers, "DT at K=20 − DT at K=1, D4RL-normalised", [(c.tests[0], r)],
                   f" over {', '.join(r['tasks'])}")


def claim_d4rl_delayed(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    d = paper.table("delayed")
    numbers = (f"Hopper: DT delayed − dense {(d['delayed_dt'] - d['dense_dt']).mean():+.1f}, CQL delayed − "
               f"dense {(d['delayed_cql'] - d['dense_cql']).mean():+.1f} (mean of 3 datasets)")
    runs = _get(tables, "gym_runs")
    if runs is None:
        return _row(c, numbers)
    df = runs[runs["context_len"] == 0]
    df = df.assign(task=df["env"] + "/" + df["dataset"])
    dt = df[df["method"] == "dt"]
    delayed = dt[dt["reward_mode"] == "delayed"]
    r = _diff(delayed, dt[dt["reward_mode"] == "dense"], "last", rules.bootstrap_reps)
    if r is None:
        return _row(c, numbers)
    vs = _diff(delayed, df[(df["method"] == "cql") & (df["reward_mode"] == "delayed")], "last", rules.bootstrap_reps)
    pairs = [(c.tests[0], r)] + ([(c.tests[1], vs)] if vs else [])
    extra = "" if vs else "; CQL not run with delayed rewards: judged on DT alone"
    return _judged(c, numbers, "DT delayed − DT dense, D4RL-normalised", pairs,
                   extra + f" over {', '.join(r['tasks'])}")


def claim_d4rl_pct_bc(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    t3 = paper.table("table3")
    df = _gym_dense(tables)
    r = _diff(df[df["method"] == "dt"], _best_pct(df, "last"), "last", rules.bootstrap_reps) if df is not None else None
    numbers = "DT − best %BC " + _paper_mean(t3, "dt", _paper_best_pct, ["env", "dataset"], _tasks(r))
    if r is None:
        return _row(c, numbers)
    return _judged(c, numbers, "DT − best %BC, D4RL-normalised", [(c.tests[0], r)], f" over {', '.join(r['tasks'])}")


# ----------------------------------------------------------------------------------------- Key-to-Door
def claim_keydoor(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    t6 = paper.table("table6")
    numbers = (f"DT − CQL {(t6['dt'] - t6['cql']).mean():+.1f}, DT − %BC {(t6['dt'] - t6['pct_bc']).mean():+.1f}, "
               f"DT − random {(t6['dt'] - t6['random']).mean():+.1f} points (mean of 1K and 10K)")
    per_seed, table = _get(tables, "keydoor_per_seed"), _get(tables, "keydoor_table6")
    if per_seed is None:
        return _row(c, numbers)
    df = per_seed.assign(task=per_seed["dataset"])
    dt = df[df["method"] == "DT"]
    r = _diff(dt, df[df["method"] == "CQL"], "success_%", rules.bootstrap_reps)
    if r is None:
        return _row(c, numbers, evidence="no DT and CQL runs on a common dataset")
    pct = _diff(dt, df[df["method"] == "%BC"], "success_%", rules.bootstrap_reps)
    pairs = [(c.tests[0], r)]
    if pct is not None:
        pairs.append((c.tests[1], pct))
    elif table is not None and (table["method"] == "Random").any():
        rnd = table[table["method"] == "Random"]
        rnd = _diff(dt, rnd.assign(task=rnd["dataset"], seed=0, **{"success_%": rnd["mean_%"]}), "success_%",
                    rules.bootstrap_reps)
        pairs += [(c.tests[2], rnd)] if rnd is not None else []
    if len(pairs) == 1:  # neither %BC nor the random policy to compare with: the rule cannot be applied
        return _row(c, numbers, "DT − CQL success rate (percentage points)", r, NOT_RUN,
                    _say(c.tests[0], r) + "; neither %BC nor the random policy's rate in the tables")
    return _judged(c, numbers, "DT − CQL success rate (percentage points)", pairs,
                   f" over datasets {', '.join(r['tasks'])}")


# ----------------------------------------------------------------------------------------------- Graph
def claim_graph(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    numbers = "Figure 6: DT's histogram matches the shortest paths'; no numbers published"
    summ = _get(tables, "graph_path_summary")
    dt = summ[(summ["kind"] == "DT") & (summ["seed"].astype(str) != "all")] if summ is not None else None
    if dt is None or not len(dt):
        return _row(c, numbers)
    measure = "DT steps / shortest steps, same starts"
    reached = dt["reached_%"].to_numpy(dtype=float)
    ratio = dt["ratio"].to_numpy(dtype=float)
    walks = summ[summ["kind"] == "random walk"]
    if not np.isfinite(ratio).all():  # a seed that never reached the goal has no ratio
        return _row(c, numbers, measure, verdict=NOT_SUPPORTED,
                    evidence=f"DT reached the goal from {reached.mean():.0f}% of starts; a seed never reached it")
    rr = dict(zip(("estimate", "ci_low", "ci_high"),
                  stratified_bootstrap_ci(reached[:, None], mean, reps=rules.bootstrap_reps)))
    est, lo, hi = stratified_bootstrap_ci(ratio[:, None], mean, reps=rules.bootstrap_reps)
    r = {"estimate": est, "ci_low": lo, "ci_high": hi, "runs": f"{len(ratio)} seed(s)"}
    rw = (f"; random walks reach it in {walks['reached_%'].iloc[0]:.0f}% of walks, "
          f"{walks['mean_steps_reached'].iloc[0]:.1f} steps when they do" if len(walks) else "")
    verdict = combine([c.tests[0].judge(rr), c.tests[1].judge(r)])
    return _row(c, numbers, measure, r, verdict,
                f"ratio = {est:.3f} [{lo:.3f}, {hi:.3f}]; DT reached the goal from {rr['estimate']:.0f}% of "
                f"starts{rw}")


# ----------------------------------------------------------------------------------------------- Atari
def atari_main(tables: dict) -> pd.DataFrame | None:
    """atari_runs at each game's paper target, `task` = game; `default_k` marks the study's K (BC's K)."""
    from dtlib.specs import get_env_spec

    runs = _get(tables, "atari_runs")
    if runs is None:
        return None
    df = runs[runs["target"] == runs["game"].map(lambda g: get_env_spec(g).paper_target)].copy()
    default = {g: (x[x["method"] == "bc"]["K"].max() if (x["method"] == "bc").any() else x["K"].max())
               for g, x in df.groupby("game")}
    return df.assign(task=df["game"], default_k=df["K"] == df["game"].map(default))


def _atari_beats(tables: dict, rules: ClaimRules, c: Claim, numbers: tuple, measure: str,
                 pick: Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]) -> dict:
    """An Atari "beats" claim: runs `pick`ed from atari_main as (DT, other), the gamer-normalised difference
    over games with its interval; `numbers` = (prefix, paper table, its column a, its column or rule b)."""
    prefix, table, col_a, col_b = numbers
    df = atari_main(tables)
    r = _diff(*pick(df), "score", rules.bootstrap_reps) if df is not None else None
    paper_numbers = prefix + _paper_mean(table, col_a, col_b, ["game"], r["tasks"] if r else [])
    if r is None:
        return _row(c, paper_numbers)
    return _judged(c, paper_numbers, measure, [(c.tests[0], r)], f" over {', '.join(r['tasks'])}")


def _dk(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["default_k"]]


def claim_atari_bc(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    return _atari_beats(tables, rules, c, ("DT − BC (gamer-normalised) ", paper.table("table1"), "dt", "bc"),
                        "DT − BC, gamer-normalised",
                        lambda df: (_dk(df)[_dk(df)["method"] == "dt"], _dk(df)[_dk(df)["method"] == "bc"]))


def claim_atari_context(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    dt = lambda df: df[df["method"] == "dt"]  # noqa: E731
    return _atari_beats(tables, rules, c, ("DT K=30 − K=1 ", paper.table("table5"), "dt", "dt_k1"),
                        "DT at the study's K − DT at K=1, gamer-normalised",
                        lambda df: (_dk(dt(df)), dt(df)[dt(df)["K"] == 1]))


def claim_atari_pct_bc(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    return _atari_beats(tables, rules, c, ("DT − best %BC ", paper.table("table4"), "dt", _paper_best_pct),
                        "DT − best %BC, gamer-normalised",
                        lambda df: (_dk(df)[_dk(df)["method"] == "dt"], _best_pct(_dk(df), "score")))


def claim_atari_conditioning(tables: dict, rules: ClaimRules, c: Claim) -> dict:
    return _conditioning(_get(tables, "atari_figure4"), "game", rules, c)


def atari_preconditions(tables: dict, rules: ClaimRules) -> pd.DataFrame:
    """Per game: how much of random-to-gamer the data's returns span and the best method's mean score, with
    whether each precondition holds (`atari_datasets` and `atari_runs`; a missing table leaves NaN)."""
    from dtlib.specs import get_env_spec

    ds, main = _get(tables, "atari_datasets"), atari_main(tables)
    games = sorted(set(ds["game"] if ds is not None else []) | set(main["game"] if main is not None else []))
    rows = []
    for game in games:
        spec = get_env_spec(game)
        span = np.nan
        if ds is not None and (ds["game"] == game).any():
            d = ds[ds["game"] == game].iloc[0]
            span = float(d["return_max"] - d["return_min"]) / (spec.ref_max - spec.ref_min)
        best, label = np.nan, ""
        if main is not None and (main["game"] == game).any():
            g = _dk(main[main["game"] == game])
            means = g.groupby(["method", "pct"])["score"].mean()
            if len(means):
                (m, p), best = means.idxmax(), float(means.max())
                label = f"{int(round(p * 100))}%BC" if m == "pct_bc" else m.upper()
        rows.append({"game": game, "data_span_%": 100 * span, "informative": bool(span >= rules.atari_span_min)
                     if np.isfinite(span) else np.nan, "best_method": label, "best_score": best,
                     "above_random_floor": bool(best > rules.atari_floor) if np.isfinite(best) else np.nan})
    return pd.DataFrame(rows, columns=["game", "data_span_%", "informative", "best_method", "best_score",
                                       "above_random_floor"])


def atari_encoder_note(tables: dict) -> str:
    """What an Atari verdict rests on when its runs did not learn their frame encoder ('' when they did, or when
    atari_runs does not say): every method embedded frames with a behaviour agent's fixed conv torso."""
    runs = _get(tables, "atari_runs")
    if runs is None or "encoder" not in runs or not (runs["encoder"] == "behaviour").any():
        return ""
    return ("every method embedded frames with the conv torso of the behaviour agent that played the data's best "
            "episodes, fixed, not a CNN learned from pixels as in the paper (a deviation: the verdict is about "
            "return conditioning on those features)")


def atari_floor(tables: dict, rules: ClaimRules) -> str:
    """Why Atari comparisons cannot test the paper ('' when they can): every game run is at the floor."""
    pre = atari_preconditions(tables, rules)
    pre = pre[pre["best_score"].notna()]
    if len(pre) and not pre["above_random_floor"].astype(bool).any():
        return (f"every method within {rules.atari_floor:g} {ATARI_UNIT} of random play in "
                f"{', '.join(pre['game'])} (atari_runs)")
    return ""


# ----------------------------------------------------------------------------------------------- claims
CLAIMS: dict[str, Callable[[dict, ClaimRules, Claim], dict]] = {
    "d4rl_td": claim_d4rl_td, "d4rl_low_quality_bc": claim_d4rl_low_quality_bc,
    "d4rl_conditioning": claim_d4rl_conditioning, "atari_conditioning": claim_atari_conditioning,
    "d4rl_context": claim_d4rl_context, "atari_context": claim_atari_context, "d4rl_delayed": claim_d4rl_delayed,
    "keydoor": claim_keydoor, "d4rl_pct_bc": claim_d4rl_pct_bc, "atari_pct_bc": claim_atari_pct_bc,
    "atari_bc": claim_atari_bc, "graph": claim_graph,
}


def claims(tables: dict[str, pd.DataFrame], rules: ClaimRules, domains: list[str] | None = None) -> pd.DataFrame:
    """The claims table: one row per claim × domain (all, or those in `domains`) with verdict, estimate,
    interval, rule and evidence.

    Atari rows read "not testable at this scale" when every game run is at the random-play floor: a
    difference between two random-level policies cannot support or refute the paper. D4RL rows read the same
    when a method they compare is far below its paper score (`d4rl_undertrained`): a comparison with an
    undertrained DT or baseline says something about the budget, not about the paper. The Key-to-Door row
    reads the same when DT or %BC succeeds far less often than in the paper (`keydoor_undertrained`).
    """
    book = rulebook(rules)
    keys = [key for key in CLAIMS if domains is None or book[key].domain in domains]
    rows = [CLAIMS[key](tables, rules, book[key]) for key in keys]
    floor, encoder = atari_floor(tables, rules), atari_encoder_note(tables)
    for key, row in zip(keys, rows):
        row.pop("_tests", None)
        if encoder and row["domain"] == "Atari" and row["verdict"] in (SUPPORTED, NOT_SUPPORTED, UNDECIDED):
            row["evidence"] = f"{row['evidence']}; {encoder}" if row["evidence"] else encoder
        why = floor if row["domain"] == "Atari" else _undertrained(tables, rules, key, "low")
        if why and row["verdict"] in (SUPPORTED, NOT_SUPPORTED, UNDECIDED):
            row["evidence"] = f"{row['evidence']}; {why}" if row["evidence"] else why
            row["verdict"] = NOT_TESTABLE
            continue
        unsure = _undertrained(tables, rules, key, "unsure")
        if unsure and row["verdict"] in (SUPPORTED, NOT_SUPPORTED, UNDECIDED):
            row["evidence"] = f"{row['evidence']}; {unsure}" if row["evidence"] else unsure
            row["verdict"] = UNDECIDED
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


POWER_COLUMNS = ["claim", "domain", "measure", "unit", "seeds", "estimate", "ci_low", "ci_high", "half_width",
                 "undecided_above", "test_verdict", "seeds_for_undecided_width"]


def power(tables: dict[str, pd.DataFrame], rules: ClaimRules, domains: list[str] | None = None) -> pd.DataFrame:
    """How far each seed-based test is from being decided: one row per test with an interval over seeds.

    `seeds_for_undecided_width` is the seeds per method and task at which the interval's half-width would reach
    the rule's undecided limit (±`undecided_points`, Key-to-Door ±`undecided_success`), assuming the half-width
    falls as 1/√seeds from what these runs measured; a test already decided needs no more (its current seeds).
    """
    book = rulebook(rules)
    rows = []
    for key, fn in CLAIMS.items():
        c = book[key]
        if domains is not None and c.domain not in domains:
            continue
        for test, r in fn(tables, rules, c).get("_tests", []):
            if r is None or "n" not in r or test.undecided is None:
                continue
            verdict = test.judge(r)
            rows.append({"claim": c.claim, "domain": c.domain, "measure": test.measure, "unit": test.unit,
                         "seeds": r["n"], "estimate": r["estimate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                         "half_width": (r["ci_high"] - r["ci_low"]) / 2, "undecided_above": test.undecided,
                         "test_verdict": verdict,
                         "seeds_for_undecided_width": seeds_needed(r, test.undecided) if verdict == UNDECIDED
                         else r["n"]})
    return pd.DataFrame(rows, columns=POWER_COLUMNS)


def brief(df: pd.DataFrame) -> pd.DataFrame:
    """A claims table for reading in a notebook: claim, measure, estimate [interval], verdict, rule."""
    ours = [f"{e:+.2f} [{lo:+.2f}, {hi:+.2f}]" if np.isfinite(e) else "—"
            for e, lo, hi in zip(df["estimate"].astype(float), df["ci_low"].astype(float), df["ci_high"].astype(float))]
    return pd.DataFrame({"claim": df["claim"], "domain": df["domain"], "measure": df["measure"], "ours": ours,
                         "verdict": df["verdict"], "evidence": df["evidence"], "rule": df["rule"]})
