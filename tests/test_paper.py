import numpy as np
import pytest

from dtlib import paper
from dtlib.specs import ENVS


def test_table2_averages_reproduce_the_papers_dt_and_cql_means():
    t2 = paper.table("table2")
    assert len(t2) == 9
    assert t2["dt"].mean() == pytest.approx(74.7, abs=0.05)  # "Average (without Reacher)"
    assert t2["cql"].mean() == pytest.approx(63.9, abs=0.05)


def test_table12_raw_scores_map_onto_table1_with_the_specs_references():
    t1 = paper.table("table1").set_index("game")
    for game, row in t1.iterrows():
        norm = ENVS[game].normalize(np.array([row["dt_raw"], row["bc_raw"], row["cql_raw"]]))
        np.testing.assert_allclose(norm, [row["dt"], row["bc"], row["cql"]], atol=0.35)


def test_every_table_has_a_source():
    for name in ("table1", "table2", "table3", "table4", "table5", "table6", "delayed", "peers_d4rl"):
        assert len(paper.table(name)) > 0 and name in paper.SOURCES
    with pytest.raises(KeyError, match="unknown table"):
        paper.table("table99")
