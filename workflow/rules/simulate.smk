# Simulation stage: finite networks over seeds (and an eta0 grid), one compiled JAX call per run.
# Runs on a GPU unchanged when JAX sees one; limit concurrent GPU jobs with --resources gpu=N.
# ------------------------------------------------------------------------------------------
rule simulate:
    output:
        f"{RESULTS}/{{fig}}/sim/{{panel}}/{{curve}}.parquet",
    log:
        f"{RESULTS}/logs/{{fig}}/sim/{{panel}}/{{curve}}.log",
    params:
        run=run_params,
        seed=config["seed"],
        dtype=config["dtype"],
    resources:
        gpu=1,
    conda:
        "../../environment.yml"
    message:
        "{wildcards.fig} ({wildcards.panel}) {wildcards.curve}: simulate"
    script:
        "../scripts/simulate.py"
