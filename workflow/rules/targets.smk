# Target rules generated from TARGETS: one per figure (<paper>_<fig>), one per paper (<paper>),
# (`all`: in the Snakefile, where a default target must be). Included after the papers' rules.


for _paper, _figures in TARGETS.items():
    for _fig, _files in _figures.items():

        rule:
            name:
                f"{_paper}_{_fig}"
            localrule: True
            input:
                _files,

    rule:
        name:
            _paper
        localrule: True
        input:
            [f for _files in _figures.values() for f in _files],
