# Bordelon & Pehlevan 2025: the paper's config, its distinct jobs and the input functions of
# its rules (workflow/rules/bordelon25.smk).
from dlndyn.bordelon25 import jobs as b25_jobs
from dlndyn.bordelon25 import pipeline as b25
from dlndyn.bordelon25 import summaries as b25_summaries

B25 = config["bordelon25"]
B25_PLAN = b25.plan(B25, seed=config["seed"], dtype=config["dtype"])
B25_RES = f"{RESULTS}/bordelon25"
B25_FIG = f"{FIGDIR}/bordelon25"


wildcard_constraints:
    b25fig="fig[0-9]+",
    key="(?!long_)[^/]+",
    summary="|".join(b25.SUMMARIES),


def b25_tables(source):
    """Input function: the job tables ('sim' or 'theory') a figure reads, each once."""
    keys = B25_PLAN.sim_keys if source == "sim" else B25_PLAN.theory_keys
    return lambda w: [f"{B25_RES}/{source}/{k}.parquet" for k in keys[w.b25fig]]


def b25_figure_files(fig):
    files = [f"{B25_FIG}/{fig}.pdf", f"{B25_FIG}/{fig}.png"]
    return files + [f"{B25_FIG}/{fig}_{name}.csv" for name in b25.figure_summaries(B25, fig)]


