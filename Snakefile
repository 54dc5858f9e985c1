# dlndyn: the figures of three papers on the training dynamics of deep networks, as cached
# rules, finite-network simulation beside theory.
#
#   snakemake --cores 2                       every figure of every paper (default config)
#   snakemake --cores 2 bordelon25            one paper (also yaras23, terjek25)
#   snakemake --cores 2 bordelon25_fig1       one figure (short names fig1 ... and table1
#                                             for the main paper)
#   snakemake -n                              what would run, and why
#
# Targets come first, then options: --configfile takes several files.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/bordelon25.smk"
include: "workflow/rules/yaras23.smk"
include: "workflow/rules/terjek25.smk"
include: "workflow/rules/targets.smk"


rule all:
    default_target: True
    localrule: True
    input:
        [f for figures in TARGETS.values() for files in figures.values() for f in files],
