# Theory stage: the infinite-width DMFT of each run (float64 T x T matrix algebra, CPU).
# ------------------------------------------------------------------------------------------
rule theory:
    output:
        f"{RESULTS}/{{fig}}/theory/{{panel}}/{{curve}}.parquet",
    log:
        f"{RESULTS}/logs/{{fig}}/theory/{{panel}}/{{curve}}.log",
    params:
        run=run_params,
    conda:
        "../../environment.yml"
    message:
        "{wildcards.fig} ({wildcards.panel}) {wildcards.curve}: DMFT theory"
    script:
        "../scripts/theory.py"
