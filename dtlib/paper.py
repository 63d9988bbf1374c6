"""The paper's published numbers and other public reproductions, as tidy tables, each with its source.

Sources and caveats: docs/paper-reference.md §2 (the paper's tables come from public transcriptions, as the PDF
could not be read here; the peers' numbers from their READMEs). Where
transcriptions disagree, the value used is the arXiv-v2 one and the alternative is noted in `note`.
Scores are normalised (D4RL: 100 = expert; Atari: gamer-normalised) unless the column says otherwise.
"""
from __future__ import annotations

import math

import pandas as pd

NAN = math.nan

# Table 2 — D4RL, mean ± "variance" (std) over 3 seeds; baselines copied by the paper from other papers.
_TABLE2 = """
dataset,env,dt,dt_std,cql,bear,brac_v,awr,bc
medium-expert,halfcheetah,86.8,1.3,62.4,53.4,41.9,52.7,59.9
medium-expert,hopper,107.6,1.8,111.0,96.3,0.8,27.1,79.6
medium-expert,walker2d,108.1,0.2,98.7,40.1,81.6,53.8,36.6
medium,halfcheetah,42.6,0.1,44.4,41.7,46.3,37.4,43.1
medium,hopper,67.6,1.0,58.0,52.1,31.1,35.9,63.9
medium,walker2d,74.0,1.4,79.2,59.1,81.1,17.4,77.3
medium-replay,halfcheetah,36.6,0.8,46.2,38.6,47.7,40.3,4.3
medium-replay,hopper,82.7,7.0,48.6,33.7,0.6,28.4,27.6
medium-replay,walker2d,66.6,3.0,26.7,19.2,0.9,15.5,36.9
"""

# Table 3 — DT vs %BC on D4RL (single transcription; its averages do not add up, see docs/paper-reference.md §2.3).
_TABLE3 = """
dataset,env,dt,pct_bc10,pct_bc25,pct_bc40,bc
medium,halfcheetah,42.6,42.9,43.0,43.1,43.1
medium,hopper,67.6,65.9,65.2,65.3,63.9
medium,walker2d,74.0,78.8,80.9,78.8,77.3
medium-replay,halfcheetah,36.6,40.8,40.9,41.1,4.3
medium-replay,hopper,82.7,70.6,58.6,31.0,27.6
medium-replay,walker2d,66.6,70.4,70.9,67.2,36.9
"""

# Delayed-reward table (§5.6): only Hopper rows were seen; BC/%BC columns only for medium-expert.
_DELAYED = """
dataset,env,delayed_dt,delayed_dt_std,delayed_cql,bc,pct_bc,dense_dt,dense_cql
medium-expert,hopper,107.3,3.5,9.0,59.9,102.6,107.6,111.0
medium,hopper,60.7,4.5,5.2,,,67.6,58.0
medium-replay,hopper,78.5,3.7,2.0,,,82.7,48.6
"""

# Table 1 (gamer-normalised) and Table 12 (raw), 1% DQN-replay, 3 seeds. Alternative transcription:
# Qbert DT 15.1 ± 11.4, Seaquest 2.4 ± 0.7.
_TABLE1 = """
game,dt,dt_std,cql,qr_dqn,rem,bc,bc_std,dt_raw,dt_raw_std,bc_raw,bc_raw_std,cql_raw
breakout,267.5,97.5,211.1,17.1,8.9,138.9,61.7,76.9,27.3,40.9,17.3,61.1
qbert,15.4,11.4,104.2,0.0,0.0,17.3,14.7,2215.8,1523.7,2464.1,1948.2,14012.0
pong,106.1,8.1,111.9,18.0,0.5,85.2,20.0,17.1,2.9,9.7,7.2,19.3
seaquest,2.5,0.4,1.7,0.4,0.7,2.1,0.3,1129.3,189.0,968.6,133.8,779.4
"""

# Table 4 (%BC on Atari) and Table 5 (context length on Atari), gamer-normalised.
_TABLE4 = """
game,dt,dt_std,pct_bc10,pct_bc10_std,pct_bc25,pct_bc25_std,pct_bc40,pct_bc40_std,bc,bc_std
breakout,267.5,97.5,28.5,8.2,73.5,6.4,108.2,67.5,138.9,61.7
qbert,15.4,11.4,6.6,1.7,16.0,13.8,11.8,5.8,17.3,14.7
pong,106.1,8.1,2.5,0.2,13.3,2.7,72.7,13.3,85.2,20.0
seaquest,2.5,0.4,1.1,0.2,1.1,0.2,1.6,0.4,2.1,0.3
"""
_TABLE5 = """
game,dt,dt_std,dt_k1,dt_k1_std
breakout,267.5,97.5,73.9,10.0
qbert,15.1,11.4,13.6,11.3
pong,106.1,8.1,2.5,0.2
seaquest,2.5,0.4,0.6,0.1
"""

# Table 6 — Key-to-Door success rate (%).
_TABLE6 = """
trajectories,dt,cql,bc,pct_bc,random
1000,71.8,13.1,1.4,69.9,3.1
10000,94.6,13.3,1.6,95.1,3.1
"""

# Other reproductions of DT on D4RL -v2 (docs/paper-reference.md §2.9): CORL (4 seeds, last / best of
# training), d3rlpy (10 seeds, final / best), JAX-CORL (5 seeds).
_PEERS_D4RL = """
dataset,env,corl_last,corl_last_std,corl_best,corl_best_std,d3rlpy_final,d3rlpy_final_std,d3rlpy_best,d3rlpy_best_std,jaxcorl,jaxcorl_std
medium,halfcheetah,42.20,0.26,42.73,0.10,42.6,0.3,43.5,0.2,42.63,0.53
medium,hopper,65.10,1.61,69.42,3.64,60.4,2.3,77.4,4.3,60.85,6.78
medium,walker2d,67.63,2.54,74.70,0.56,67.4,10.9,80.6,0.9,71.04,5.64
medium-replay,halfcheetah,38.91,0.50,40.31,0.28,38.4,1.4,41.1,0.3,,
medium-replay,hopper,81.77,6.87,88.74,3.02,79.6,6.9,94.8,2.6,,
medium-replay,walker2d,59.86,2.73,68.22,1.20,56.8,13.2,78.8,2.1,,
medium-expert,halfcheetah,91.55,0.95,93.40,0.21,56.5,9.2,88.2,5.5,70.63,14.70
medium-expert,hopper,110.44,0.33,111.18,0.21,108.9,2.4,112.7,0.3,109.07,4.56
medium-expert,walker2d,107.11,0.96,108.71,0.34,108.4,0.5,109.7,0.3,99.81,17.73
"""

SOURCES = {
    "table1": "Chen et al. 2021, Table 1 / Table 12 (arXiv v2 transcriptions; docs/paper-reference.md §2.1)",
    "table2": "Chen et al. 2021, Table 2 (docs/paper-reference.md §2.2); CQL/BEAR/BRAC-v/AWR/BC copied by the paper",
    "table3": "Chen et al. 2021, Table 3 (single transcription, docs/paper-reference.md §2.3)",
    "table4": "Chen et al. 2021, Table 4 (docs/paper-reference.md §2.4)",
    "table5": "Chen et al. 2021, Table 5 (docs/paper-reference.md §2.5)",
    "table6": "Chen et al. 2021, Table 6 (docs/paper-reference.md §2.6)",
    "delayed": "Chen et al. 2021, §5.6 delayed-return table, Hopper rows only (docs/paper-reference.md §2.7)",
    "peers_d4rl": "CORL README, d3rlpy-benchmarks d4rl_table.csv, JAX-CORL README (docs/paper-reference.md §2.9)",
}


def _read(text: str) -> pd.DataFrame:
    import io

    return pd.read_csv(io.StringIO(text.strip()))


def table(name: str) -> pd.DataFrame:
    """One of the paper's tables (or the peers'), as a DataFrame; `SOURCES[name]` says where it is from."""
    tables = {"table1": _TABLE1, "table2": _TABLE2, "table3": _TABLE3, "table4": _TABLE4, "table5": _TABLE5,
              "table6": _TABLE6, "delayed": _DELAYED, "peers_d4rl": _PEERS_D4RL}
    if name not in tables:
        raise KeyError(f"unknown table {name!r}; choose one of {sorted(tables)}")
    return _read(tables[name])
