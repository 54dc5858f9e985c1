# Config validation, paths and the input functions shared by the rules.
import os
import sys

# The workflow imports dlndyn from this checkout (its scripts do so via scripts/_src.py).
sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from dlndyn import pipeline

pipeline.check_config(
    config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
)

RESULTS = config["results"]
FIGDIR = config["figures_dir"]


wildcard_constraints:
    fig="fig[0-9]+",
    panel="[a-z]",
    curve="[^/]+",


def run_params(wildcards):
    """The run behind a (fig, panel, curve) path, as plain params (a change reruns the job)."""
    return pipeline.find_run(config, wildcards.fig, wildcards.panel, wildcards.curve).params()


def figure_tables(source):
    """Input function: every run table of one source ('sim' or 'theory') of a figure."""

    def inputs(wildcards):
        return [
            f"{RESULTS}/{wildcards.fig}/{source}/{run.panel}/{run.curve}.parquet"
            for run in pipeline.figure_runs(config, wildcards.fig)
            if source == "theory" or run.simulated
        ]

    return inputs


def figure_files(fig):
    """A figure's outputs: pdf, png, agreement table, and the optimal eta0 (eta0 sweeps) and
    exponent (exponent panels) tables."""
    files = [f"{FIGDIR}/{fig}.pdf", f"{FIGDIR}/{fig}.png", f"{FIGDIR}/{fig}_agreement.csv"]
    kinds = {run.kind for run in pipeline.figure_runs(config, fig)}
    if "lr_sweep" in kinds:
        files.append(f"{FIGDIR}/{fig}_optimal_lr.csv")
    if "exponent" in kinds:
        files.append(f"{FIGDIR}/{fig}_exponents.csv")
    return files


def all_figure_files():
    return [path for fig in config["figures"] for path in figure_files(fig)]
