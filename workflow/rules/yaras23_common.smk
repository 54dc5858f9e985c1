# Yaras et al. 2023: the paper's config, sources and the input functions of its rules
# (workflow/rules/yaras23.smk).
from dlndyn.yaras23 import figures as y23_figures

Y23 = config["yaras23"]
Y23_RES = f"{RESULTS}/yaras23"
Y23_FIG = f"{FIGDIR}/yaras23"
Y23_SOURCES = sources("core/train.py", "core/data.py", "yaras23/api.py", "yaras23/train.py",
                      "yaras23/data.py", "yaras23/measure.py", "yaras23/checks.py",
                      "yaras23/figures.py")


wildcard_constraints:
    y23fig="|".join(Y23["figures"]) or "f0",


def y23_tables(w):
    return [f"{Y23_RES}/{w.y23fig}/{name}.parquet" for name in y23_figures.tables(w.y23fig)]


def y23_figure_files(fig):
    return [f"{Y23_FIG}/{fig}.pdf", f"{Y23_FIG}/{fig}.png", f"{Y23_FIG}/{fig}_checks.csv"]
