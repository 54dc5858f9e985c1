"""The house rules of the package, checked on its import graph (what import-linter would check):

* papers never import each other;
* in bordelon25, the simulation never imports the theory and the theory never imports JAX;
* no JAX in the config, design, table, plot, data and theory paths, nor in `import dlndyn`;
* no import cycles between modules (imports at module level);
* importing the library changes no global state (matplotlib backend, JAX x64).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PAPERS = ("bordelon25", "yaras23", "terjek25")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool):
    """Absolute names a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}  # `from . import x` submodules
    return found


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def graph(top_level_only: bool):
    return {m: {i for i in imports(p, top_level_only) if i in MODULES} | {
        i.split(".")[0] for i in imports(p, top_level_only) if i.split(".")[0] == "jax"}
        for m, p in MODULES.items()}


def reachable(start: str, edges: dict) -> set:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        for n in edges.get(m, ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def test_papers_never_import_each_other():
    edges = graph(top_level_only=False)
    for m, deps in edges.items():
        mine = [p for p in PAPERS if m.startswith(f"dlndyn.{p}")]
        for dep in deps:
            other = [p for p in PAPERS if dep.startswith(f"dlndyn.{p}")]
            assert not (other and mine and other != mine), f"{m} imports {dep}"
        if m.startswith("dlndyn.core"):
            assert not any(d.startswith(f"dlndyn.{p}") for d in deps for p in PAPERS), m


def test_simulation_and_theory_are_independent():
    edges = graph(top_level_only=False)
    for m, deps in edges.items():
        if m.startswith("dlndyn.bordelon25.sim"):
            assert not any(d.startswith("dlndyn.bordelon25.theory") for d in deps), m
        if m.startswith("dlndyn.bordelon25.theory"):
            assert not any(d.startswith("dlndyn.bordelon25.sim") or d == "jax"
                           for d in deps), m


NO_JAX = ["dlndyn", "dlndyn.core.config", "dlndyn.core.design", "dlndyn.core.tables",
          "dlndyn.core.plot", "dlndyn.core.data", "dlndyn.bordelon25",
          "dlndyn.bordelon25.setting", "dlndyn.bordelon25.conventions",
          "dlndyn.bordelon25.pipeline", "dlndyn.bordelon25.jobs", "dlndyn.bordelon25.summaries",
          "dlndyn.bordelon25.plotting", "dlndyn.bordelon25.theory.solve",
          *[f"dlndyn.{p}" for p in PAPERS[1:] if f"dlndyn.{p}" in MODULES]]


@pytest.mark.parametrize("module", NO_JAX)
def test_light_paths_never_load_jax(module):
    assert "jax" not in reachable(module, graph(top_level_only=True))


def test_no_import_cycles():
    edges = graph(top_level_only=True)
    for m in MODULES:
        # a package importing its own submodules is not a cycle; a submodule importing back is
        assert m not in reachable(m, edges), f"{m} is in an import cycle"


def test_importing_changes_no_global_state():
    light = ", ".join(m for m in NO_JAX)
    code = (
        "import sys, matplotlib; before = matplotlib.get_backend();"
        f"import {light};"
        "assert 'jax' not in sys.modules, 'jax imported';"
        "assert matplotlib.get_backend() == before, 'backend switched';"
        "from dlndyn import Setting, simulate, theory;"
        "import jax; assert not jax.config.jax_enable_x64, 'x64 switched on'"
    )
    env = {"PYTHONPATH": str(SRC), "MPLBACKEND": "svg", "PATH": ""}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_environment_yml_declares_the_packages_of_pyproject():
    import tomllib

    import yaml

    root = SRC.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((root / "environment.yml").read_text())

    def name(requirement: str) -> str:
        for sep in "<>=!~[ ":
            requirement = requirement.split(sep)[0]
        # conda-forge's lean builds of the same packages
        return {"matplotlib-base": "matplotlib", "snakemake-minimal": "snakemake"}.get(
            requirement.strip().lower(), requirement.strip().lower())

    declared = {name(r) for r in project["dependencies"]} | {
        name(r) for r in project["optional-dependencies"]["test"]}
    conda = {name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python"}
    conda |= {name(p) for d in env["dependencies"] if isinstance(d, dict) for p in d.get("pip", [])}
    assert declared == conda
