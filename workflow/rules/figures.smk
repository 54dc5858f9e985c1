# Figure stage: plots and agreement tables only read the tidy tables (restyling reruns nothing).
# ------------------------------------------------------------------------------------------
rule agreement:
    input:
        sim=figure_tables("sim"),
        theory=figure_tables("theory"),
    output:
        report(
            f"{FIGDIR}/{{fig}}_agreement.csv",
            caption="../report/table.rst",
            category="Agreement",
            labels={"figure": "{fig}"},
        ),
    log:
        f"{RESULTS}/logs/{{fig}}/agreement.log",
    params:
        kinds=lambda wildcards: {
            panel: pcfg.get("kind", "dynamics")
            for panel, pcfg in config["figures"][wildcards.fig]["panels"].items()
        },
    conda:
        "../../environment.yml"
    message:
        "{wildcards.fig}: theory vs simulation agreement"
    script:
        "../scripts/agreement.py"


# ------------------------------------------------------------------------------------------
rule optimal_lr:
    input:
        sim=figure_tables("sim"),
    output:
        report(
            f"{FIGDIR}/{{fig}}_optimal_lr.csv",
            caption="../report/table.rst",
            category="Optimal learning rates",
            labels={"figure": "{fig}"},
        ),
    log:
        f"{RESULTS}/logs/{{fig}}/optimal_lr.log",
    params:
        runs=lambda wildcards: [r.params() for r in pipeline.figure_runs(config, wildcards.fig)],
    conda:
        "../../environment.yml"
    message:
        "{wildcards.fig}: optimal learning rate per curve"
    script:
        "../scripts/optimal_lr.py"


# ------------------------------------------------------------------------------------------
rule exponents:
    input:
        theory=figure_tables("theory"),
    output:
        report(
            f"{FIGDIR}/{{fig}}_exponents.csv",
            caption="../report/table.rst",
            category="Exponents",
            labels={"figure": "{fig}"},
        ),
    log:
        f"{RESULTS}/logs/{{fig}}/exponents.log",
    params:
        runs=lambda wildcards: [r.params() for r in pipeline.figure_runs(config, wildcards.fig)],
    conda:
        "../../environment.yml"
    message:
        "{wildcards.fig}: late-time exponents of the theory"
    script:
        "../scripts/exponents.py"


# ------------------------------------------------------------------------------------------
rule plot:
    input:
        design=f"{RESULTS}/{{fig}}/design.csv",
        sim=figure_tables("sim"),
        theory=figure_tables("theory"),
    output:
        pdf=f"{FIGDIR}/{{fig}}.pdf",
        png=report(
            f"{FIGDIR}/{{fig}}.png",
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{fig}"},
        ),
    log:
        f"{RESULTS}/logs/{{fig}}/plot.log",
    params:
        figure=lambda wildcards: config["figures"][wildcards.fig],
    conda:
        "../../environment.yml"
    message:
        "{wildcards.fig}: plot"
    script:
        "../scripts/plot.py"


# ------------------------------------------------------------------------------------------
# Table 1, measured on this machine (timings: not part of `all`; build with `snakemake table1`).
rule table1:
    output:
        csv=report(
            f"{FIGDIR}/table1.csv",
            caption="../report/table1.rst",
            category="Table 1",
        ),
        pdf=f"{FIGDIR}/table1.pdf",
        png=report(
            f"{FIGDIR}/table1.png",
            caption="../report/table1.rst",
            category="Table 1",
        ),
    log:
        f"{RESULTS}/logs/table1.log",
    params:
        table1=config["table1"],
    resources:
        gpu=1,
    conda:
        "../../environment.yml"
    message:
        "Table 1: wall time of theory vs simulation"
    script:
        "../scripts/table1.py"


# One target per figure ---------------------------------------------------------------------
rule fig1:
    input:
        figure_files("fig1"),


rule fig2:
    input:
        figure_files("fig2"),


rule fig3:
    input:
        figure_files("fig3"),


rule fig4:
    input:
        figure_files("fig4"),


rule fig5:
    input:
        figure_files("fig5"),


rule fig6:
    input:
        figure_files("fig6"),


rule fig7:
    input:
        figure_files("fig7"),


rule fig10:
    input:
        figure_files("fig10"),
