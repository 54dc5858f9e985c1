# Terjek 2025, MLPs at the EOC (config key terjek25), a LABELLED RECONSTRUCTION from the abstract
# (docs/terjek25.md): one training job per parameterization (F1) or schedule (F2), then one
# summary-and-plot job per figure that only reads tables.
from dlndyn.terjek25 import pipeline as t25

T25 = config["terjek25"]
t25.check_config(T25)
T25_RES = f"{RESULTS}/terjek25"
T25_FIG = f"{FIGDIR}/terjek25"
T25_SRC = sources("core/train.py", "core/tables.py", "terjek25/eoc.py", "terjek25/recon.py",
                  "terjek25/data.py", "terjek25/model.py", "terjek25/training.py",
                  "terjek25/pipeline.py")


wildcard_constraints:
    t25par="standard|mup|nup",
    t25sched="constant|geometric",


# The part of the config each figure's jobs depend on (a change reruns them).
T25_BLOCK = {
    fig: {k: T25[k] for k in ("model", "data", "nup")} | {"figures": {fig: T25["figures"][fig]}}
    for fig in T25["figures"]
}


T25_FILES = {
    "f1": [f"{T25_FIG}/f1.pdf", f"{T25_FIG}/f1.png", f"{T25_FIG}/f1_optimal_lr.csv"],
    "f2": [f"{T25_FIG}/f2.pdf", f"{T25_FIG}/f2.png", f"{T25_FIG}/f2_catapult.csv"],
}


# F1: loss after a fixed number of steps against eta for every depth, and the preactivation
# profile at the deepest depth, for one parameterization (one compiled sweep per depth).
# ------------------------------------------------------------------------------------------
rule terjek25_f1_train:
    input:
        T25_SRC,
    output:
        sweep=f"{T25_RES}/f1/sweep_{{t25par}}.parquet",
        profile=f"{T25_RES}/f1/profile_{{t25par}}.parquet",
    log:
        f"{RESULTS}/logs/terjek25/f1/train_{{t25par}}.log",
    benchmark:
        f"{BENCH}/terjek25/f1/train_{{t25par}}.tsv"
    params:
        block=T25_BLOCK["f1"],
        seed=config["seed"],
        dtype=config["dtype"],
        cache=f"{RESULTS}/.jax_cache",
    resources:
        gpu=1,
    conda:
        "../../environment.yml"
    message:
        "terjek25 F1 (reconstruction): depth sweep, {wildcards.t25par}"
    script:
        "../scripts/terjek25/f1_train.py"


# F2: one instrumented run per learning-rate schedule (loss, sharpness, per-layer cosine).
# ------------------------------------------------------------------------------------------
rule terjek25_f2_train:
    input:
        T25_SRC,
    output:
        steps=f"{T25_RES}/f2/steps_{{t25sched}}.parquet",
        layers=f"{T25_RES}/f2/layers_{{t25sched}}.parquet",
    log:
        f"{RESULTS}/logs/terjek25/f2/train_{{t25sched}}.log",
    benchmark:
        f"{BENCH}/terjek25/f2/train_{{t25sched}}.tsv"
    params:
        block=T25_BLOCK["f2"],
        seed=config["seed"],
        dtype=config["dtype"],
        cache=f"{RESULTS}/.jax_cache",
    resources:
        gpu=1,
    conda:
        "../../environment.yml"
    message:
        "terjek25 F2 (reconstruction): {wildcards.t25sched} schedule"
    script:
        "../scripts/terjek25/f2_train.py"


# Numbers and figures only read tables: restyling reruns nothing upstream.
# ------------------------------------------------------------------------------------------
rule terjek25_f1_plot:
    input:
        code=sources("core/plot.py", "terjek25/plotting.py"),
        sweep=expand(f"{T25_RES}/f1/sweep_{{p}}.parquet",
                     p=T25["figures"]["f1"]["parameterizations"]),
        profile=expand(f"{T25_RES}/f1/profile_{{p}}.parquet",
                       p=T25["figures"]["f1"]["parameterizations"]),
    output:
        pdf=f"{T25_FIG}/f1.pdf",
        png=report(f"{T25_FIG}/f1.png", caption="../report/terjek25/f1.rst",
                   category="terjek25 figures"),
        numbers=report(f"{T25_FIG}/f1_optimal_lr.csv", caption="../report/terjek25/f1.rst",
                       category="terjek25 tables"),
    log:
        f"{RESULTS}/logs/terjek25/f1/plot.log",
    params:
        block=T25_BLOCK["f1"],
    localrule: True
    conda:
        "../../environment.yml"
    message:
        "terjek25 F1 (reconstruction): optimal eta per depth and figure"
    script:
        "../scripts/terjek25/f1_plot.py"


rule terjek25_f2_plot:
    input:
        code=sources("core/plot.py", "terjek25/plotting.py"),
        steps=expand(f"{T25_RES}/f2/steps_{{s}}.parquet",
                     s=T25["figures"]["f2"]["schedules"]),
        layers=expand(f"{T25_RES}/f2/layers_{{s}}.parquet",
                      s=T25["figures"]["f2"]["schedules"]),
    output:
        pdf=f"{T25_FIG}/f2.pdf",
        png=report(f"{T25_FIG}/f2.png", caption="../report/terjek25/f2.rst",
                   category="terjek25 figures"),
        numbers=report(f"{T25_FIG}/f2_catapult.csv", caption="../report/terjek25/f2.rst",
                       category="terjek25 tables"),
    log:
        f"{RESULTS}/logs/terjek25/f2/plot.log",
    localrule: True
    conda:
        "../../environment.yml"
    message:
        "terjek25 F2 (reconstruction): catapult numbers and figure"
    script:
        "../scripts/terjek25/f2_plot.py"


TARGETS["terjek25"] = {fig: T25_FILES[fig] for fig in T25["figures"]}
