"""Overoptimization measures: best-of-n against a brute-force loop, Gao fits by hand."""

import itertools
import math

import numpy as np
import pytest

from rewardkit.audit.overoptimization import best_of_n_mean, fit_gao, kl_best_of_n, peak_and_drop


def test_kl_best_of_n_matches_the_closed_form():
    assert kl_best_of_n(1) == 0.0
    assert kl_best_of_n(2) == pytest.approx(math.log(2) - 0.5)
    assert kl_best_of_n(64) == pytest.approx(math.log(64) - 63 / 64)
    with pytest.raises(ValueError, match="at least 1"):
        kl_best_of_n(0)


def _brute_force(selector, values, n):
    """Mean over every size-n subset of the value at the subset's highest selector."""
    out = []
    for s_row, v_row in zip(selector, values, strict=True):
        picks = []
        for subset in itertools.combinations(range(len(s_row)), n):
            best = max(subset, key=lambda i: s_row[i])
            picks.append(v_row[best])
        out.append(np.mean(picks))
    return np.array(out)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_best_of_n_mean_equals_enumerating_every_subset(n):
    rng = np.random.default_rng(n)
    selector = rng.normal(size=(4, 7))
    values = rng.integers(0, 2, size=(4, 7)).astype(float)
    np.testing.assert_allclose(
        best_of_n_mean(selector, values, n), _brute_force(selector, values, n)
    )


def test_best_of_n_mean_ranks_nan_selectors_lowest_and_checks_shapes():
    # the NaN-scored sample is never the best of a pair unless paired with nothing better
    result = best_of_n_mean([[np.nan, 0.0, 1.0]], [[5.0, 1.0, 2.0]], 3)
    assert result.tolist() == [2.0]
    assert best_of_n_mean([[np.nan, 0.0]], [[5.0, 1.0]], 2).tolist() == [1.0]
    with pytest.raises(ValueError, match="n must be in"):
        best_of_n_mean([[0.0, 1.0]], [[0.0, 1.0]], 3)
    with pytest.raises(ValueError, match=r"\(P, N\)"):
        best_of_n_mean([0.0, 1.0], [0.0, 1.0], 1)


def test_fit_gao_recovers_both_forms_and_their_peaks():
    d = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
    bon = fit_gao(d, d * (0.4 - 0.1 * d), "bon")
    assert (bon.alpha, bon.beta) == (pytest.approx(0.4), pytest.approx(0.1))
    assert bon.r2 == pytest.approx(1.0)
    assert bon.peak() == pytest.approx(2.0)  # α / 2β
    rl = fit_gao(d, d * (0.3 - 0.2 * np.log(np.where(d > 0, d, 1.0))), "rl")
    assert (rl.alpha, rl.beta) == (pytest.approx(0.3), pytest.approx(0.2))
    grid = np.linspace(0.01, 5, 5000)
    assert rl.peak() == pytest.approx(grid[np.argmax(rl.predict(grid))], abs=1e-3)
    assert rl.to_dict()["d_peak"] == pytest.approx(math.exp(0.3 / 0.2 - 1))


def test_fit_gao_reports_a_worse_r2_for_noise_and_rejects_too_few_points():
    d = np.linspace(0.2, 3.0, 20)
    noisy = d * (0.4 - 0.1 * d) + np.random.default_rng(0).normal(0, 0.05, size=d.size)
    assert 0.0 < fit_gao(d, noisy, "bon").r2 < 1.0
    assert fit_gao(d, d * (0.4 - 0.1 * d), "bon").points == 20
    with pytest.raises(ValueError, match="at least 2"):
        fit_gao([1.0, np.nan], [0.1, 0.2], "bon")
    with pytest.raises(ValueError, match="form"):
        fit_gao([1.0, 2.0], [0.1, 0.2], "linear")  # type: ignore[arg-type]


def test_peak_and_drop_finds_the_first_step_ten_percent_below_the_peak():
    assert peak_and_drop([0, 10, 20, 30, 40], [0.1, 0.5, 0.46, 0.44, 0.6]) == (0.6, 40.0, None)
    assert peak_and_drop([0, 10, 20, 30], [0.1, 0.5, 0.46, 0.44]) == (0.5, 10.0, 30.0)


def test_a_nan_value_that_cannot_be_picked_does_not_spoil_the_prompt():
    # the NaN sample ranks lowest, so it is never the best of 2: (1 + 2 + 2) / 3
    result = best_of_n_mean([[np.nan, 0.0, 1.0]], [[np.nan, 1.0, 2.0]], 2)
    assert result.tolist() == [pytest.approx(5 / 3)]


def test_ties_go_to_the_later_sample():
    assert best_of_n_mean([[1.0, 1.0]], [[0.0, 1.0]], 2).tolist() == [1.0]


def test_peaks_are_nan_or_inf_where_the_fit_has_none():
    from rewardkit.audit.overoptimization import GaoFit

    assert math.isnan(GaoFit("bon", -0.5, 1.0, 1.0, 5).peak())  # falls from the start
    assert math.isnan(GaoFit("rl", 0.2, -0.1, 1.0, 5).peak())  # never turns down
    assert GaoFit("rl", 0.2, 1e-4, 1.0, 5).peak() == math.inf  # beyond any distance


def test_a_fall_needs_a_positive_peak_and_a_strict_drop():
    assert peak_and_drop([0, 1, 2], [-0.5, -0.2, -0.21]) == (-0.2, 1.0, None)
    assert peak_and_drop([0, 1, 2], [0.0, 0.0, 0.0]) == (0.0, 0.0, None)
    assert peak_and_drop([0, 1], [0.5, 0.45]) == (0.5, 0.0, None)  # exactly 10 %: not below
    with pytest.raises(ValueError, match="NaN"):
        peak_and_drop([0, 1], [np.nan, np.nan])
