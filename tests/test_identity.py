"""Run identity: a run folder is keyed on the code and data that make its numbers, not on its config alone."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dtlib import identity
from dtlib.data.episodes import EpisodeDataset
from dtlib.evaluate import EvalConfig
from dtlib.experiment import RunConfig, run
from dtlib.paths import PACKAGE_DIR
from dtlib.results import RUN_LOG_ENV, RunDir, runs_from_other_code

CODE_EDIT = "\nEDITED = 1\n"  # a new statement at the end of a module
COMMENT_EDIT = "\n# a new comment\n"


def hopper_like(n_episodes=4, length=20, seed=0):
    rng = np.random.default_rng(seed)
    eps = [dict(observations=rng.standard_normal((length, 11)).astype(np.float32),
                actions=rng.uniform(-1, 1, (length, 3)).astype(np.float32),
                rewards=rng.uniform(0, 3, length).astype(np.float32),
                timeouts=np.arange(length) == length - 1) for _ in range(n_episodes)]
    return EpisodeDataset.from_episodes(eps, meta={"env": "hopper", "name": "synthetic"})


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the dtlib sources that identity digests instead of the real ones (the code that runs is unchanged)."""
    copy = tmp_path / "src" / "dtlib"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(identity, "PACKAGE_DIR", copy)
    return copy


def reword_docstring(path: Path) -> None:
    text = path.read_text()
    assert text.startswith('"""'), "the module starts with its docstring"
    path.write_text('"""Reworded. ' + text[3:])


def test_module_digest_ignores_comments_and_docstrings_but_not_code(package_copy):
    before = identity.run_modules("gym")
    assert {"dtlib.model", "dtlib.train", "dtlib.evaluate", "dtlib.experiment", "dtlib.data.windows"} <= set(before)
    assert not {"dtlib.results", "dtlib.pipeline", "dtlib.summary"} & set(before)  # bookkeeping and reports
    model = package_copy / "model.py"
    reword_docstring(model)
    model.write_text(model.read_text() + COMMENT_EDIT)
    assert identity.run_modules("gym") == before
    model.write_text(model.read_text() + CODE_EDIT)
    after = identity.run_modules("gym")
    assert [m for m in before if before[m] != after[m]] == ["dtlib.model"]
    assert identity.code_digest(after) != identity.code_digest(before)


def test_env_modules_enter_only_the_runs_of_their_domain(package_copy):
    gym, keydoor = identity.run_modules("gym"), identity.run_modules("keydoor")
    assert "dtlib.envs.keydoor" in keydoor and not any(m.startswith("dtlib.envs") for m in gym)
    assert "dtlib.envs.atari" in identity.run_modules("atari")
    keydoor_py = package_copy / "envs" / "keydoor.py"
    keydoor_py.write_text(keydoor_py.read_text() + CODE_EDIT)
    assert identity.run_modules("gym") == gym and identity.run_modules("keydoor") != keydoor


def run_once(root, data, **over):
    cfg = RunConfig("hopper", "synthetic", "dt")
    kw = dict(progress=False, steps=4, warmup_steps=1, log_every=2, checkpoint_every=2, **over)
    return run(cfg, data, root, EvalConfig(episodes=1, max_steps=5), **kw)


def test_a_code_edit_redoes_the_run_a_comment_edit_reuses_it_and_reverting_finds_it_again(tmp_path, package_copy):
    data = hopper_like()
    first = run_once(tmp_path / "runs", data)
    stamp = first.checkpoint_path.stat().st_mtime_ns
    model = package_copy / "model.py"
    original = model.read_text()
    reword_docstring(model)
    model.write_text(model.read_text() + COMMENT_EDIT)
    again = run_once(tmp_path / "runs", data)
    assert again.path == first.path and first.checkpoint_path.stat().st_mtime_ns == stamp  # reused
    model.write_text(model.read_text() + CODE_EDIT)
    changed = run_once(tmp_path / "runs", data)
    assert changed.path != first.path and changed.done  # a new folder, trained and evaluated
    assert changed.identity["modules"]["dtlib.model"] != first.identity["modules"]["dtlib.model"]
    assert first.done and json.loads(first.config_path.read_text())["identity"] == first.identity  # old kept
    model.write_text(original)
    back = run_once(tmp_path / "runs", data)
    assert back.path == first.path and first.checkpoint_path.stat().st_mtime_ns == stamp


def test_other_data_or_behaviour_files_make_another_run(tmp_path, monkeypatch):
    data = hopper_like()
    base = run_once(tmp_path / "runs", data)
    other = hopper_like(seed=1)
    other.meta = dict(data.meta)  # same metadata, other numbers: only the data digest tells them apart
    assert run_once(tmp_path / "runs", other).path != base.path
    home = tmp_path / "home"  # a project whose behaviour/hopper/medium.pt we can change
    (home / "behaviour" / "hopper").mkdir(parents=True)
    (home / "behaviour" / "hopper" / "medium.pt").write_bytes(b"weights v1")
    (home / "behaviour" / "hopper" / "medium.json").write_text("{}")  # notes do not count
    monkeypatch.setenv("DTLIB_HOME", str(home))
    v1 = run_once(tmp_path / "runs", data)
    assert v1.identity["artifacts"] == {"behaviour/hopper/medium.pt": identity._sha(b"weights v1")}
    (home / "behaviour" / "hopper" / "medium.json").write_text('{"note": "edited"}')
    assert run_once(tmp_path / "runs", data).path == v1.path
    (home / "behaviour" / "hopper" / "medium.pt").write_bytes(b"weights v2")
    assert run_once(tmp_path / "runs", data).path != v1.path


def test_run_log_lists_runs_made_by_other_code(tmp_path, monkeypatch, package_copy):
    log = tmp_path / "runs.jsonl"
    monkeypatch.setenv(RUN_LOG_ENV, str(log))
    data = hopper_like()
    made = run_once(tmp_path / "runs", data)
    assert [json.loads(line)["path"] for line in log.read_text().splitlines()] == [str(made.path)]
    assert runs_from_other_code(log) == []
    (package_copy / "train.py").write_text((package_copy / "train.py").read_text() + CODE_EDIT)
    assert runs_from_other_code(log) == [(made.path.name, ["dtlib.train changed"])]
    old = tmp_path / "runs" / "hopper-synthetic-dt-dense-s0-0123abcd"  # a folder from before identities
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"RunConfig": {"env": "hopper"}}))
    log.write_text(json.dumps({"path": str(old)}) + "\n")
    assert RunDir.open(old).identity == {}
    assert runs_from_other_code(log) == [(old.name, ["made before runs recorded their code"])]


def test_clips_pick_the_folder_made_by_todays_code_over_a_newer_one_made_by_other_code(tmp_path):
    import os

    from dtlib import render

    today = identity.run_identity("hopper", "gym", hopper_like())
    edited = {**today, "modules": {**today["modules"], "dtlib.model": "0" * 16}}
    name = "hopper-synthetic-dt-dense-s0"
    for i, (suffix, ident) in enumerate((("aaaa1111", today), ("bbbb2222", edited))):  # the edited one is newer
        folder = tmp_path / f"{name}-{suffix}"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"RunConfig": {"env": "hopper"}, "identity": ident}))
        (folder / "checkpoint.pt").write_bytes(b"")
        (folder / "summary.json").write_text("{}")
        os.utime(folder / "summary.json", (1_000_000 + i, 1_000_000 + i))
    assert render.find_run(tmp_path, name).name == f"{name}-aaaa1111"
    (tmp_path / f"{name}-aaaa1111" / "summary.json").unlink()  # only other code's folder is finished
    assert render.find_run(tmp_path, name).name == f"{name}-bbbb2222"
