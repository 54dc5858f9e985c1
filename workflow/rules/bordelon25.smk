# Bordelon & Pehlevan 2025 (config key bordelon25): design -> simulate / theory (one job per
# distinct computation, keyed by what it computes) -> summaries and plot (read tables only).
from dlndyn.bordelon25 import pipeline as b25

B25 = config["bordelon25"]
b25.check_config(B25)
B25_RES = f"{RESULTS}/bordelon25"
B25_FIG = f"{FIGDIR}/bordelon25"
B25_SIM, B25_THEORY = b25.all_jobs(B25, seed=config["seed"], dtype=config["dtype"])


wildcard_constraints:
    b25fig="fig[0-9]+",
    summary="|".join(b25.SUMMARIES),


def b25_runs(wildcards):
    return b25.figure_runs(B25, wildcards.b25fig)


def b25_tables(source):
    """Input function: the job tables ('sim' or 'theory') a figure reads, each once."""

    def inputs(wildcards):
        keys = {
            r.sim_key(seed=config["seed"], dtype=config["dtype"])
            if source == "sim"
            else r.theory_key()
            for r in b25_runs(wildcards)
            if source == "theory" or r.simulated
        }
        return sorted(f"{B25_RES}/{source}/{k}.parquet" for k in keys)

    return inputs


def b25_figure_files(fig):
    files = [f"{B25_FIG}/{fig}.pdf", f"{B25_FIG}/{fig}.png"]
    return files + [f"{B25_FIG}/{fig}_{name}.csv" for name in b25.figure_summaries(B25, fig)]


# ------------------------------------------------------------------------------------------
rule bordelon25_design:
    output:
        f"{B25_RES}/{{b25fig}}/design.csv",
    log:
        f"{RESULTS}/logs/bordelon25/{{b25fig}}/design.log",
    params:
        runs=lambda w: [r.params() for r in b25_runs(w)],
        seed=config["seed"],
        dtype=config["dtype"],
    localrule: True
    conda:
        "../../environment.yml"
    message:
        "bordelon25 {wildcards.b25fig}: experimental design"
    script:
        "../scripts/bordelon25/design.py"


# Finite networks over seeds (and an eta0 grid), one compiled JAX call per job. Runs on a GPU
# unchanged when JAX sees one; limit concurrent GPU jobs with --resources gpu=N.
# ------------------------------------------------------------------------------------------
rule bordelon25_simulate:
    input:
        sources("core/train.py", "core/data.py", "bordelon25/setting.py",
                "bordelon25/conventions.py", "bordelon25/jobs.py", "bordelon25/sim"),
    output:
        f"{B25_RES}/sim/{{key}}.parquet",
    log:
        f"{RESULTS}/logs/bordelon25/sim/{{key}}.log",
    benchmark:
        f"{BENCH}/bordelon25/sim/{{key}}.tsv"
    params:
        job=lambda w: B25_SIM[w.key],
        cache=f"{RESULTS}/.jax_cache",
    resources:
        gpu=1,
    conda:
        "../../environment.yml"
    message:
        "bordelon25 simulate {wildcards.key}"
    script:
        "../scripts/bordelon25/simulate.py"


# The infinite-width DMFT (numpy float64 on the CPU; never loads JAX).
# ------------------------------------------------------------------------------------------
rule bordelon25_theory:
    input:
        sources("core/data.py", "bordelon25/setting.py", "bordelon25/conventions.py",
                "bordelon25/jobs.py", "bordelon25/theory"),
    output:
        f"{B25_RES}/theory/{{key}}.parquet",
    log:
        f"{RESULTS}/logs/bordelon25/theory/{{key}}.log",
    benchmark:
        f"{BENCH}/bordelon25/theory/{{key}}.tsv"
    params:
        job=lambda w: B25_THEORY[w.key],
    conda:
        "../../environment.yml"
    message:
        "bordelon25 DMFT {wildcards.key}"
    script:
        "../scripts/bordelon25/theory.py"


# Summaries (agreement, optimal eta0, exponents) and plots only read tables: restyling a figure
# reruns nothing upstream.
# ------------------------------------------------------------------------------------------
rule bordelon25_summary:
    input:
        design=f"{B25_RES}/{{b25fig}}/design.csv",
        sim=b25_tables("sim"),
        theory=b25_tables("theory"),
    output:
        report(
            f"{B25_FIG}/{{b25fig}}_{{summary}}.csv",
            caption="../report/bordelon25/table.rst",
            category="bordelon25 tables",
            labels={"figure": "{b25fig}", "table": "{summary}"},
        ),
    log:
        f"{RESULTS}/logs/bordelon25/{{b25fig}}/{{summary}}.log",
    params:
        figure=lambda w: B25["figures"][w.b25fig],
    localrule: True
    conda:
        "../../environment.yml"
    message:
        "bordelon25 {wildcards.b25fig}: {wildcards.summary}"
    script:
        "../scripts/bordelon25/summary.py"


# ------------------------------------------------------------------------------------------
rule bordelon25_plot:
    input:
        design=f"{B25_RES}/{{b25fig}}/design.csv",
        sim=b25_tables("sim"),
        theory=b25_tables("theory"),
    output:
        pdf=f"{B25_FIG}/{{b25fig}}.pdf",
        png=report(
            f"{B25_FIG}/{{b25fig}}.png",
            caption="../report/bordelon25/figure.rst",
            category="bordelon25 figures",
            labels={"figure": "{b25fig}"},
        ),
    log:
        f"{RESULTS}/logs/bordelon25/{{b25fig}}/plot.log",
    params:
        figure=lambda w: B25["figures"][w.b25fig],
    localrule: True
    conda:
        "../../environment.yml"
    message:
        "bordelon25 {wildcards.b25fig}: plot"
    script:
        "../scripts/bordelon25/plot.py"


# Table 1, measured on this machine (timings: not part of `all`; build with `snakemake table1`).
# ------------------------------------------------------------------------------------------
rule bordelon25_table1:
    output:
        csv=report(
            f"{B25_FIG}/table1.csv",
            caption="../report/bordelon25/table1.rst",
            category="bordelon25 tables",
        ),
        pdf=f"{B25_FIG}/table1.pdf",
        png=report(
            f"{B25_FIG}/table1.png",
            caption="../report/bordelon25/table1.rst",
            category="bordelon25 tables",
        ),
    log:
        f"{RESULTS}/logs/bordelon25/table1.log",
    params:
        table1=B25.get("table1"),
    resources:
        gpu=1,
    conda:
        "../../environment.yml"
    message:
        "bordelon25 Table 1: wall time of theory vs simulation"
    script:
        "../scripts/bordelon25/table1.py"


TARGETS["bordelon25"] = {fig: b25_figure_files(fig) for fig in B25["figures"]}


# The main paper's short names: fig1 ... fig10 and table1.
for _fig in B25["figures"]:

    rule:
        name:
            _fig
        localrule: True
        input:
            b25_figure_files(_fig),


rule table1:
    localrule: True
    input:
        rules.bordelon25_table1.output,
