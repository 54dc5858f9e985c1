# Data stage: the experimental design of a figure (one row per run) that the plots read.
# ------------------------------------------------------------------------------------------
rule design:
    output:
        f"{RESULTS}/{{fig}}/design.csv",
    log:
        f"{RESULTS}/logs/{{fig}}/design.log",
    params:
        runs=lambda wildcards: [r.params() for r in pipeline.figure_runs(config, wildcards.fig)],
    conda:
        "../../environment.yml"
    message:
        "{wildcards.fig}: experimental design"
    script:
        "../scripts/design.py"
