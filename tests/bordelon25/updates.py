"""A check shared by the step-by-step engine tests: new weights against a reference update."""

import numpy as np


def assert_update_matches(old, reference, others, *, n_mid: int) -> None:
    """Every leaf of ``others`` (dense params) equals ``reference``'s to 1e-11 of how far the
    reference moved from ``old``; every matrix moves (the hidden stack only when there is one)."""
    for leaf in ("W0", "Ws", "w"):
        moved = np.max(np.abs(np.asarray(reference[leaf]) - np.asarray(old[leaf])), initial=0.0)
        if leaf != "Ws" or n_mid:
            assert moved > 1e-4, f"{leaf} did not move"
        for got in others:
            np.testing.assert_allclose(got[leaf], reference[leaf], rtol=0,
                                       atol=1e-11 * max(moved, 1e-300) + 1e-13, err_msg=leaf)
