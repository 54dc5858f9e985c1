# Bordelon & Pehlevan 2025 (config key bordelon25): design -> simulate / theory (one job per
# distinct computation, keyed by what it computes) -> summaries and plot (read tables only).
include: "bordelon25_common.smk"


# ------------------------------------------------------------------------------------------
rule bordelon25_design:
    output:
        f"{B25_RES}/{{b25fig}}/design.csv",
    log:
        f"{RESULTS}/logs/bordelon25/{{b25fig}}/design.log",
    params:
        runs=lambda w: [r.params() for r in B25_PLAN.runs[w.b25fig]],
        seed=config["seed"],
        dtype=config["dtype"],
    localrule: True
    message:
        "bordelon25 {wildcards.b25fig}: experimental design"
    run:
        b25.write_design(params.runs, output[0], seed=params.seed, dtype=params.dtype)


# Finite networks over seeds (and an eta0 grid), one compiled JAX call per job. Inside
# Snakemake's process (a `run:` block; one job per core, and a process of its own per job on a
# cluster): JAX loads once per build instead of once per job, and jobs of equal shapes share
# the compiled program. Runs on a GPU unchanged when JAX sees one; limit concurrent GPU jobs
# with --resources gpu=N.
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
        job=lambda w: B25_PLAN.sim[w.key],
        cache=f"{RESULTS}/.jax_cache",
    resources:
        gpu=1,
    message:
        "bordelon25 simulate {wildcards.key}"
    run:
        b25_jobs.write_simulation(params.job, output[0], log[0], cache=params.cache)


# The infinite-width DMFT (numpy float64 on the CPU; never loads JAX). Most solves take well
# under a second, less than a new Python process takes to start: they run inside Snakemake's
# own process (a `run:` block), and in a job of their own on a cluster.
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
        job=lambda w: B25_PLAN.theory[w.key],
    message:
        "bordelon25 DMFT {wildcards.key}"
    run:
        b25_jobs.write_theory(params.job, output[0], log[0])


# Long solves (about L T^3 > jobs.LONG_THEORY, e.g. Figure 10's L = 3) in processes of their
# own, so that they run in parallel; started first (priority) so that they do not end a build.
# ------------------------------------------------------------------------------------------
rule bordelon25_theory_long:
    input:
        sources("core/data.py", "bordelon25/setting.py", "bordelon25/conventions.py",
                "bordelon25/jobs.py", "bordelon25/theory"),
    output:
        f"{B25_RES}/theory/long_{{key}}.parquet",
    log:
        f"{RESULTS}/logs/bordelon25/theory/long_{{key}}.log",
    benchmark:
        f"{BENCH}/bordelon25/theory/long_{{key}}.tsv"
    params:
        job=lambda w: B25_PLAN.theory[f"long_{w.key}"],
    priority: 10
    conda:
        "../../environment.yml"
    message:
        "bordelon25 DMFT (long) {wildcards.key}"
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
        src=sources("bordelon25/summaries.py", "bordelon25/theory/powerlaw.py",
                    "core/tables.py"),
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
    message:
        "bordelon25 {wildcards.b25fig}: {wildcards.summary}"
    run:
        b25_summaries.write_figure_summary(
            wildcards.summary, params.figure, input, output[0], log[0]
        )


# ------------------------------------------------------------------------------------------
rule bordelon25_plot:
    input:
        design=f"{B25_RES}/{{b25fig}}/design.csv",
        sim=b25_tables("sim"),
        theory=b25_tables("theory"),
        src=sources("bordelon25/plotting.py", "bordelon25/summaries.py", "core/plot.py"),
    output:
        # update(): a failing plot leaves the previous figure in place (written atomically)
        pdf=update(f"{B25_FIG}/{{b25fig}}.pdf"),
        png=report(
            update(f"{B25_FIG}/{{b25fig}}.png"),
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
