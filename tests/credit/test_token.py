"""The estimator table's typed contracts."""


def test_prefix_estimators_are_recognised_by_their_protocol():
    from rewardkit.credit.token import ESTIMATORS, PPPOEstimator, PrefixEstimator

    assert isinstance(PPPOEstimator(continuations=2), PrefixEstimator)
    assert not isinstance(ESTIMATORS["grpo"], PrefixEstimator)
