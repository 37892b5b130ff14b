"""Late fusion of two representations: each probe sees one block, the fused prediction uses both."""

from __future__ import annotations

import numpy as np

from nwb_neurpir.evaluation.probes import fit_predict, fit_predict_fused


def _two_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four classes; block A tells {a, b} from {c, d}, block B tells {a, c} from {b, d}, each with noise."""
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array(["a", "b", "c", "d"]), size=n)
    first = np.isin(y, ["c", "d"]).astype(float)[:, None] + 0.2 * rng.standard_normal((n, 3))
    second = np.isin(y, ["b", "d"]).astype(float)[:, None] + 0.2 * rng.standard_normal((n, 3))
    return y, first, second


def test_fused_probe_combines_what_each_block_knows() -> None:
    y_train, a_train, b_train = _two_halves(400, seed=0)
    y_test, a_test, b_test = _two_halves(200, seed=1)
    alone = [np.mean(fit_predict("logistic", x, y_train, t) == y_test) for x, t in ((a_train, a_test),
                                                                                    (b_train, b_test))]
    fused = fit_predict_fused("logistic", [a_train, b_train], y_train, [a_test, b_test])
    assert max(alone) < 0.6  # one block leaves two classes apart by chance
    assert np.mean(fused == y_test) > 0.95
    assert set(fused) <= {"a", "b", "c", "d"} and fused.dtype.kind == "U"


def test_fused_probe_of_one_block_is_that_probe() -> None:
    y_train, a_train, _ = _two_halves(300, seed=2)
    _, a_test, _ = _two_halves(100, seed=3)
    np.testing.assert_array_equal(fit_predict_fused("logistic", [a_train], y_train, [a_test]),
                                  fit_predict("logistic", a_train, y_train, a_test))
