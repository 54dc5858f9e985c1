# Shared by every paper: this checkout's library on the path (of this process and of every job),
# config validation, output directories, and the registry of figure targets.
import os
import sys

SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
# Jobs run `script:`s in new Python processes: they import dlndyn from this checkout too,
# installed or not (e.g. in a --sdm conda environment).
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])))
# JAX (simulations in this process and in scripts) allocates GPU memory as needed, so jobs can
# share a device.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

from threadpoolctl import threadpool_limits

from dlndyn.core import config as core_config

# Small solves run inside this process (`run:` rules, one per core): one BLAS thread each, as
# T x T matrix algebra is slower, not faster, with threads competing for the cores.
threadpool_limits(1)

# The shared keys and each paper's block, against workflow/schemas/*.schema.yaml.
core_config.validate_workflow_config(config, os.path.join(workflow.basedir, "workflow", "schemas"))

RESULTS = config["results"]
FIGDIR = config["figures_dir"]
BENCH = f"{RESULTS}/benchmarks"

# paper -> {figure: [output files]}; each paper's rules file fills its entry, and
# workflow/rules/targets.smk turns it into the target rules <paper>_<fig>, <paper> and all.
TARGETS = {}


def sources(*parts):
    """Library source files as job inputs: editing the code a job runs reruns the job."""
    import glob

    files = []
    for part in parts:
        path = os.path.join(SRC, "dlndyn", part)
        files += sorted(glob.glob(os.path.join(path, "*.py"))) if os.path.isdir(path) else [path]
    return files
