# Yaras et al. 2023, the law of parsimony (config key yaras23): one compute job per figure
# (JAX, float64; its tables under {results}/yaras23/<fig>/) -> one plot job per figure (reads
# the tables only: the figure, and its checks table next to it).
#
#   snakemake --cores 2 yaras23          all twelve figures
#   snakemake --cores 2 yaras23_f5       one figure
include: "yaras23_common.smk"


# One compute rule per kind of figure (each kind writes its own set of tables): the svd ribbons
# (f1-f4), progressive separation (f5-f8), compression (f9, f10), depth/width (f11) and
# compressed vs narrow (f12).
# ------------------------------------------------------------------------------------------
for _kind, _names in y23_figures.TABLES.items():
    _figs = [f for f in Y23["figures"] if y23_figures.KINDS.get(f) == _kind]
    if not _figs:
        continue

    rule:
        name:
            f"yaras23_compute_{_kind}"
        input:
            Y23_SOURCES,
        output:
            [f"{Y23_RES}/{{y23fig}}/{name}.parquet" for name in _names],
        wildcard_constraints:
            y23fig="|".join(_figs),
        log:
            f"{RESULTS}/logs/yaras23/{{y23fig}}/compute.log",
        benchmark:
            f"{BENCH}/yaras23/{{y23fig}}/compute.tsv"
        params:
            cfg=lambda w: Y23["figures"][w.y23fig],
            seed=config["seed"],
            cache=f"{RESULTS}/.jax_cache",
        resources:
            gpu=1,
        conda:
            "../../environment.yml"
        message:
            "yaras23 {wildcards.y23fig}: compute (float64)"
        script:
            "../scripts/yaras23/compute.py"


# ------------------------------------------------------------------------------------------
rule yaras23_plot:
    input:
        tables=y23_tables,
    output:
        pdf=f"{Y23_FIG}/{{y23fig}}.pdf",
        png=report(
            f"{Y23_FIG}/{{y23fig}}.png",
            caption="../report/yaras23/figure.rst",
            category="yaras23 figures",
            labels={"figure": "{y23fig}"},
        ),
        checks=report(
            f"{Y23_FIG}/{{y23fig}}_checks.csv",
            caption="../report/yaras23/checks.rst",
            category="yaras23 checks",
            labels={"figure": "{y23fig}"},
        ),
    log:
        f"{RESULTS}/logs/yaras23/{{y23fig}}/plot.log",
    benchmark:
        f"{BENCH}/yaras23/{{y23fig}}/plot.tsv"
    params:
        cfg=lambda w: Y23["figures"][w.y23fig],
    localrule: True
    conda:
        "../../environment.yml"
    message:
        "yaras23 {wildcards.y23fig}: plot and checks"
    script:
        "../scripts/yaras23/plot.py"


TARGETS["yaras23"] = {fig: y23_figure_files(fig) for fig in Y23["figures"]}
