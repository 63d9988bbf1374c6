"""What determines a run's numbers besides its config: the code it runs, the committed artifacts its data
comes from, and the data itself. Each enters the run folder's hash (dtlib.results), so a change to any of
them makes a new run folder, and going back to the old code finds the old folder again.

  code       one digest per dtlib module the run imports (statically, transitively, from dtlib.experiment,
             plus the env module of its domain). A module's digest hashes its syntax tree without docstrings,
             so a comment or docstring edit changes nothing; any statement edit does. The tree's text
             (`ast.dump`) can differ between Python versions: a run made under another Python is redone.
  artifacts  sha256 of the committed behaviour files its dataset is generated from (`behaviour/<env>/`
             for MuJoCo, `behaviour/atari/<game>/` for Atari): weights (*.pt) and replay buffers (*.npz).
  data       sha256 of the dataset's arrays (observations, actions, rewards, flags, episode starts).

Bookkeeping modules (EXCLUDED: folder names, paths, this file) are left out: they never change a number.
"""
from __future__ import annotations

import ast
import hashlib
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from dtlib.paths import PACKAGE_DIR, project_root

ROOT_MODULE = "dtlib.experiment"  # every run is made by dtlib.experiment.run
EXCLUDED = ("dtlib.results", "dtlib.paths", "dtlib.identity")  # name and place folders; compute no result
ENV_PACKAGE = "dtlib.envs"  # env modules enter by domain only (a gym run does not depend on Key-to-Door)
DOMAIN_ENV_MODULES = {"gym": (), "atari": ("dtlib.envs.atari",), "keydoor": ("dtlib.envs",), "graph": ("dtlib.envs",)}
ARTIFACT_SUFFIXES = (".pt", ".npz")
DIGEST_LEN = 16  # hex digits kept per digest


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:DIGEST_LEN]


def module_file(module: str, package_dir: Path | None = None) -> Path | None:
    """The source file of a dtlib module name ('dtlib.data.episodes'), or None if it is not a dtlib module."""
    package_dir = Path(package_dir or PACKAGE_DIR)
    parts = module.split(".")
    if parts[0] != "dtlib":
        return None
    base = package_dir.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Remove every statement that is a bare string (docstrings); an emptied body gets a `pass`."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            kept = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                            and isinstance(s.value.value, str))]
            node.body = kept or [ast.Pass()]
    return tree


_FILE_CACHE: dict[tuple[str, str, int, int], tuple[str, tuple[str, ...]]] = {}


def _parse(path: Path, module: str) -> tuple[str, tuple[str, ...]]:
    """(digest of the docstring-free syntax tree, dtlib modules it imports) of one source file, cached by mtime."""
    stat = path.stat()
    key = (str(path), module, stat.st_mtime_ns, stat.st_size)
    if key not in _FILE_CACHE:
        tree = ast.parse(path.read_text(), filename=str(path))
        imports = set()
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imports.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import: resolve against this module's package
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                imports.add(base)
                imports.update(f"{base}.{alias.name}" for alias in node.names)  # `from dtlib import io`
        digest = _sha(ast.dump(_strip_docstrings(tree), include_attributes=False).encode())
        _FILE_CACHE[key] = digest, tuple(sorted(i for i in imports if i.split(".")[0] == "dtlib"))
    return _FILE_CACHE[key]


def file_digest(path: str | Path) -> str:
    """Digest of one Python file's syntax tree without docstrings: comment and docstring edits keep it."""
    return _parse(Path(path), "dtlib")[0]


def _with_parents(module: str) -> list[str]:
    """'dtlib.data.episodes' -> ['dtlib', 'dtlib.data', 'dtlib.data.episodes']: importing it runs each."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def module_closure(roots: tuple[str, ...], skip: tuple[str, ...] = (), package_dir: Path | None = None
                   ) -> dict[str, str]:
    """{module: digest} of `roots` and every dtlib module they import, directly or not (imports inside
    functions included), leaving out EXCLUDED and, below the roots, modules under a `skip` prefix."""
    found: dict[str, str] = {}
    todo = [m for root in roots for m in _with_parents(root)]
    while todo:
        module = todo.pop()
        if module in found or module in EXCLUDED:
            continue
        path = module_file(module, package_dir)
        if path is None:  # a name imported from a module (`from dtlib.x import f`), not a module itself
            continue
        digest, imports = _parse(path, module)
        found[module] = digest
        for imported in imports:
            if not any(imported == s or imported.startswith(s + ".") for s in skip):
                todo.extend(_with_parents(imported))
    return dict(sorted(found.items()))


def run_modules(domain: str, package_dir: Path | None = None) -> dict[str, str]:
    """{module: digest} of the code a run of `domain` executes: dtlib.experiment's closure + the domain's env."""
    modules = module_closure((ROOT_MODULE,), skip=(ENV_PACKAGE,), package_dir=package_dir)
    env_roots = DOMAIN_ENV_MODULES.get(domain, (ENV_PACKAGE,))  # an unknown domain: all envs (safe side)
    if env_roots:
        modules.update(module_closure(env_roots, package_dir=package_dir))
    return dict(sorted(modules.items()))


def code_digest(modules: dict[str, str]) -> str:
    """One digest of a {module: digest} map."""
    return _sha(repr(sorted(modules.items())).encode())


def artifact_dir(env: str, domain: str) -> Path | None:
    """The committed behaviour folder a dataset of `env` is generated from, or None for envs generated by code."""
    root = project_root() / "behaviour"
    return {"gym": root / env, "atari": root / "atari" / env}.get(domain)


_ARTIFACT_CACHE: dict[tuple[str, int, int], str] = {}


def artifact_digests(env: str, domain: str) -> dict[str, str]:
    """{path relative to the project: sha256} of the committed behaviour weights and buffers of `env`."""
    folder = artifact_dir(env, domain)
    if folder is None or not folder.is_dir():
        return {}
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix in ARTIFACT_SUFFIXES and p.is_file()):
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in _ARTIFACT_CACHE:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            _ARTIFACT_CACHE[key] = h.hexdigest()[:DIGEST_LEN]
        out[path.relative_to(project_root()).as_posix()] = _ARTIFACT_CACHE[key]
    return out


DATA_FIELDS = ("observations", "actions", "rewards", "terminals", "timeouts", "starts")
_DATA_CACHE: dict[int, tuple[weakref.ref, str]] = {}


def data_digest(data: Any) -> str:
    """sha256 of an EpisodeDataset's arrays (dtype, shape and bytes of each) and frame stacking; cached per object."""
    hit = _DATA_CACHE.get(id(data))
    if hit is not None and hit[0]() is data:
        return hit[1]
    h = hashlib.sha256()
    for name in DATA_FIELDS:
        arr = np.ascontiguousarray(getattr(data, name))
        h.update(f"{name}:{arr.dtype.str}:{arr.shape};".encode())
        h.update(memoryview(arr).cast("B"))
    h.update(f"frame_stack:{data.frame_stack}".encode())
    digest = h.hexdigest()[:DIGEST_LEN]
    _DATA_CACHE[id(data)] = (weakref.ref(data), digest)
    return digest


def run_identity(env: str, domain: str, data: Any) -> dict[str, Any]:
    """What a run's result depends on beyond its config; stored in config.json under `identity`."""
    modules = run_modules(domain)
    return {"code": code_digest(modules), "modules": modules, "artifacts": artifact_digests(env, domain),
            "data": data_digest(data)}


def current_identity(identity: dict[str, Any], env: str, domain: str) -> dict[str, Any]:
    """The code and artifact parts of `identity` as today's checkout has them (the data part kept: it is not
    at hand without loading the dataset)."""
    modules = run_modules(domain)
    return {**identity, "code": code_digest(modules), "modules": modules,
            "artifacts": artifact_digests(env, domain)}


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable list of what differs between two identities: modules, artifacts (empty when equal)."""
    if not recorded:
        return ["made before runs recorded their code"]
    out = []
    old_m, new_m = recorded.get("modules", {}), current.get("modules", {})
    for module in sorted(set(old_m) | set(new_m)):
        if old_m.get(module) != new_m.get(module):
            what = "added" if module not in old_m else "removed" if module not in new_m else "changed"
            out.append(f"{module} {what}")
    old_a, new_a = recorded.get("artifacts", {}), current.get("artifacts", {})
    for path in sorted(set(old_a) | set(new_a)):
        if old_a.get(path) != new_a.get(path):
            out.append(f"{path} {'added' if path not in old_a else 'removed' if path not in new_a else 'changed'}")
    if not out and recorded.get("code") != current.get("code"):
        out.append("code digest differs")
    return out
