# dlndyn: the figures of Bordelon & Pehlevan (2025), "Deep Linear Network Training Dynamics from
# Random Initialization", as cached rules: finite-network simulation beside DMFT theory.
#
#   snakemake --cores 2                 every figure (default config)
#   snakemake --cores 2 fig1            one figure (also: snakemake figures/fig1.pdf)
#   snakemake -n                        what would run, and why
#
# Layout: {results}/{fig}/design.csv (data) -> {results}/{fig}/{sim,theory}/{panel}/{curve}.parquet
# (simulate, theory) -> {figures_dir}/{fig}.{pdf,png} and {fig}_agreement.csv (figures).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        all_figure_files(),
