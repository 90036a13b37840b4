"""rm-lab: the plan, the building half's pairs, and claims judged from the records."""

import numpy as np

from rewardkit_bench.rm_build import RMBuild
from rewardkit_bench.rm_build_loop import LoopSpec, shape_stats
from rewardkit_bench.rm_build_real import _heron_pairs, _shorter_pairs, _split
from rewardkit_bench.rm_build_report import summarize
from rewardkit_bench.rm_build_tree import TreeSpec
from rewardkit_bench.runner import SUITES, build_parser


def _args(*argv):
    suite = RMBuild()
    return suite, build_parser(suite).parse_args(list(argv))


def _record(unit):
    """The record a unit of the plan leaves (its key fields only)."""
    if isinstance(unit, LoopSpec):
        return {"kind": "train", "design": unit.design, "seed": unit.seed}
    if isinstance(unit, TreeSpec):
        return {"kind": "tree", "seed": unit.seed}
    if unit[0] in ("fit", "heron"):
        return {"kind": unit[0], "design": unit[1], "seed": unit[2]}
    return {"kind": unit[0], "seed": unit[1]}


def _every_unit(suite, args):
    """The plan's units over all its stages, each stage's units taken as done."""
    units, runs = [], []
    while stage := suite.plan(args, runs):
        units += stage
        runs += [_record(u) for u in stage]
    return units


def test_the_suite_is_registered_and_plans_every_unit_once_in_three_stages():
    assert SUITES["rm-lab"] == "rewardkit_bench.rm_build:main"
    suite, args = _args("--seeds", "2", "--designs", "outcome,prm_delta", "--steps", "7")
    first = suite.plan(args, [])
    assert first == [("features", None), ("warmstart", None)]  # nothing else needs neither
    runs = [_record(u) for u in first]
    second = suite.plan(args, runs)
    assert ("fit", "prm", 0) in second and ("fit", "prm", 1) in second
    assert ("build", 0) in second and ("build", 1) in second and ("before", None) in second
    assert not any(isinstance(u, LoopSpec) or u[0] == "exploit" for u in second)
    runs += [_record(u) for u in second]
    third = suite.plan(args, runs)
    assert ("exploit", 0) in third and ("exploit", 1) in third
    trains = {(u.design, u.seed, u.steps) for u in third if isinstance(u, LoopSpec)}
    assert trains == {(d, s, 7) for d in ("outcome", "prm_delta") for s in (0, 1)}
    done = [*runs, {"kind": "train", "design": "outcome", "seed": 1}]
    left = suite.plan(args, done)
    assert LoopSpec("outcome", 1, 7) not in left and len(left) == len(third) - 1
    runs += [_record(u) for u in third]
    assert suite.plan(args, runs) == []


def test_the_default_run_leaves_our_ablations_out_and_all_brings_them_back():
    suite, args = _args()
    assert "prm_clip_half" not in suite._settings(args)["designs"]
    suite, args = _args("--designs", "all")
    assert {"prm_clip_half", "prm_solution", "prm_delta_solution"} <= set(
        suite._settings(args)["designs"]
    )


def test_unknown_designs_are_refused():
    suite, args = _args("--designs", "outcome,prm_bogus")
    assert "prm_bogus" in (suite.check(args) or "")


def test_shape_stats_count_steps_and_repeats_by_hand():
    assert shape_stats(["1,3>3", "1,1,3>3", ">4", "2,2"]) == {"steps": 1.75, "repeat_rate": 0.5}


def _rows():
    # two questions; tokens and labels chosen so every HERON level is exercised
    spec = [("q1", 1, 10), ("q1", 0, 30), ("q1", 1, 20), ("q2", 0, 10), ("q2", 0, 11)]
    return [{"task": "t", "question": q, "label": y, "tokens": n, "status": "stated"}
            for q, y, n in spec]  # fmt: skip


def test_heron_pairs_decide_by_correctness_first_then_length():
    rows = _rows()
    pairs, levels = _heron_pairs(rows, np.ones(len(rows), dtype=bool))
    # margins: std(label) = 0.49, std(tokens) ≈ 7.4; q2's pair differs by 1 token: undecided
    assert sorted(pairs) == sorted([(0, 1), (2, 1), (0, 2)])
    assert levels == {"by correctness": 2, "by length": 1, "undecided (dropped)": 1}


def test_shorter_pairs_need_a_quarter_length_gap_and_can_require_equal_labels():
    rows = _rows()
    keep = np.ones(len(rows), dtype=bool)
    assert sorted(_shorter_pairs(rows, keep, same_label=False)) == [(0, 1), (0, 2), (2, 1)]
    assert _shorter_pairs(rows, keep, same_label=True) == [(0, 2)]


def test_a_split_keeps_each_question_on_one_side():
    rows = _rows() * 3
    side = _split(rows, seed=4)
    for question in ("q1", "q2"):
        assert len({side[i] for i, r in enumerate(rows) if r["question"] == question}) == 1


def _train(design, seed, steps, repeats, accuracy):
    after = {"accuracy": accuracy, "steps": steps, "repeat_rate": repeats, "length": 8.0}
    return {"kind": "train", "design": design, "seed": seed, "after": after, "gold_peak": 0.5,
            "gold_last20": 0.4, "curve": []}  # fmt: skip


def test_claims_are_judged_from_the_records():
    runs = []
    for seed in range(3):
        runs += [
            _train("outcome", seed, 2.0, 0.0, 0.30),
            _train("prm", seed, 3.5, 0.40 + 0.01 * seed, 0.25),
            _train("prm_clip", seed, 2.0, 0.01, 0.31),
        ]
    exploit = {"none": {"0": 1.0, "4": 2.5}, "clip": {"0": -0.2, "4": -0.2},
               "delta": {"0": 0.9, "4": 0.9}, "clip_delta": {"0": 0.0, "4": 0.0}}  # fmt: skip
    runs.append({"kind": "exploit", "seed": 0, "returns": exploit})
    claims = summarize({"runs": runs})["claims"]
    assert claims["a raw PRM reward is hacked (Gao et al.)"]["met"] is True
    assert "0.410" in claims["a raw PRM reward is hacked (Gao et al.)"]["measured"]
    assert claims["prm_clip keeps the PRM honest"]["met"] is True
    assert claims["planted step repeats"]["met"] is True
    for run in runs:  # a policy that stops writing steps is not a PRM kept honest
        if run.get("design") == "prm_clip":
            run["after"]["steps"] = 0.1
    assert summarize({"runs": runs})["claims"]["prm_clip keeps the PRM honest"]["met"] is False
    exploit["clip"]["4"] = 0.1  # a refinement that lets repeats pay fails the claim
    assert summarize({"runs": runs})["claims"]["planted step repeats"]["met"] is False


def test_the_cooper_claim_needs_a_win_over_the_frozen_rm_beyond_noise():
    runs = []
    for seed in range(3):
        for design, accuracy in (("outcome", 0.30), ("rm_frozen", 0.10), ("cooper", 0.31)):
            run = _train(design, seed, 2.0, 0.0, accuracy)
            if design != "outcome":
                run |= {"rm_held_out_before": 0.8, "rm_on_policy_after": 0.6, "rm_updates": 300}
            runs.append(run)
    claims = summarize({"runs": runs})["claims"]
    assert claims["Cooper-style online RM update"]["met"] is True
    for run in runs:
        if run["design"] == "cooper":
            run["after"]["accuracy"] = 0.12  # within noise of the frozen RM's 0.10
    assert summarize({"runs": runs})["claims"]["Cooper-style online RM update"]["met"] is False


def test_tree_against_chain_is_one_unit_a_seed_and_its_claim_counts_noise():

    suite, args = _args("--seeds", "2", "--designs", "tree_vs_chain", "--steps", "5")
    assert [u for u in _every_unit(suite, args) if isinstance(u, TreeSpec)] == [
        TreeSpec(0, 5),
        TreeSpec(1, 5),
    ]
    assert not [u for u in suite.plan(args, []) if isinstance(u, LoopSpec)]

    def tree(seed, win, disagreements):
        side = {"rm_held_out": 0.7, "accuracy": 0.2}
        return {"kind": "tree", "seed": seed, "pairs": 100, "shared_prefix_chars": 2.0,
                "win_rate": win, "disagreements": disagreements,
                "tree": side, "chain": side}  # fmt: skip

    claim = summarize({"runs": [tree(s, 0.65, 100) for s in range(3)]})["claims"]
    assert claim["tree-structured pairs (topology)"]["met"] is True  # 0.65 > 0.5 + 0.1
    claim = summarize({"runs": [tree(s, 0.58, 100) for s in range(3)]})["claims"]
    assert claim["tree-structured pairs (topology)"]["met"] is False


def test_heron_is_one_ppo_unit_per_design_and_seed_and_brain_a_loop_design():
    from rewardkit_bench.rm_build_heron import HERON_DESIGNS

    suite, args = _args("--seeds", "2", "--designs", "heron_lunar,brain", "--steps", "5")
    units = _every_unit(suite, args)
    heron = [u for u in units if isinstance(u, tuple) and u[0] == "heron"]
    assert sorted(heron) == sorted(("heron", d, s) for d in HERON_DESIGNS for s in (0, 1))
    assert {(u.design, u.seed) for u in units if isinstance(u, LoopSpec)} == {
        ("brain", 0), ("brain", 1)}  # fmt: skip
    done = [{"kind": "heron", "design": d, "seed": s} for _, d, s in heron]
    assert not [u for u in suite.plan(args, done) if isinstance(u, tuple) and u[0] == "heron"]


def test_lunar_lander_factors_read_the_outcome_distance_speed_and_fuel():
    from rewardkit_bench.rm_build_heron import lunar_lander_heron_factors

    obs = np.zeros((3, 8))
    obs[-1, :4] = [0.6, 0.8, 0.3, 0.4]
    crashed = lunar_lander_heron_factors(obs, np.array([2, 2, 3]), np.array([1.0, -2.0, -100.5]))
    assert crashed == [-1.0, 1.0, 0.5, 0.63]
    timed_out = lunar_lander_heron_factors(obs, np.array([0, 0, 0]), np.array([0.0, 1.0, -3.0]))
    assert timed_out[0] == 0.0 and timed_out[3] == 0.0


def test_the_heron_and_brain_claims_are_judged_from_the_records():
    runs = [{"kind": "heron", "design": d, "seed": s, "final": f + s, "fps": 1.0,
             "decided": 0.8, "updates": 10}
            for s in range(3) for d, f in (("summed reward", 20.0), ("HERON-style", -100.0),
                                           ("BT on the return", 10.0))]  # fmt: skip
    runs.append({"kind": "before", "accuracy": 0.20, "steps": 1.4, "repeat_rate": 0.0,
                 "length": 8.0})  # fmt: skip
    for seed in range(3):
        for design, accuracy in (("rm_frozen", 0.05), ("rm_frozen_kl", 0.10), ("brain", 0.21)):
            runs.append(_train(design, seed, 2.0, 0.0, accuracy)
                        | {"rm_held_out_before": 0.8, "rm_on_policy_after": 0.6,
                           "rm_updates": 0})  # fmt: skip
    for run in runs:
        if run.get("design") == "brain":
            run["after"]["kl_to_warm_start"] = 0.1 * (run["seed"] + 1)
    summary = summarize({"runs": runs})
    assert summary["loop"]["designs"]["brain"]["kl"] == 0.2  # median of 0.1, 0.2, 0.3
    assert np.isnan(summary["loop"]["designs"]["rm_frozen"]["kl"])  # not recorded: NaN
    assert summary["loop"]["heron"]["HERON-style"]["final"] == -99.0
    assert summary["claims"]["HERON on LunarLander"]["met"] is False
    brain = "BRAIn-style distillation of the RM posterior"
    assert summary["claims"][brain]["met"] is True
    for run in runs:
        if run["kind"] == "heron" and run["design"] == "HERON-style":
            run["final"] += 119.0  # median 20.0: the summed reward's worst seed
        if run.get("design") == "rm_frozen_kl":
            run["after"]["accuracy"] = 0.18  # within noise of BRAIn's 0.21
    summary = summarize({"runs": runs})
    assert summary["claims"]["HERON on LunarLander"]["met"] is True
    assert summary["claims"][brain]["met"] is False


def test_the_judge_claim_counts_pairs_not_judgments_and_figures_read_both_orders():
    from rewardkit_bench.rm_build_judge import figures
    from rewardkit_bench.rm_build_report_units import judge_claim

    shown = [("q", "r", "w", "A"), ("q2", "r", "w", "A"), ("q", "w", "r", "B"),
             ("q2", "w", "r", "B")]  # fmt: skip
    always_a = [{"winner": "A", "dimensions": [], "failure": None, "usage": {}}] * 4
    found = figures(always_a, shown)
    assert found["accuracy"] == 0.5 and found["position_consistency"] == 0.0
    assert found["pair_accuracy"] == 0.0 and found["share_a"] == 1.0
    one = {"judgments": 120, "accuracy": 0.30, "failure_rate": 0.1}
    two = {"judgments": 120, "accuracy": 0.44, "failure_rate": 0.1}
    record = {"pairs": 60, "judges": {"one-turn": one, "two-turn": two}}
    # 0.14 apart: beyond two standard errors on 120 judgments, not on 60 pairs
    assert judge_claim(record)["BR-RM-style two-turn judge"]["met"] is False
    record["pairs"] = 120
    assert judge_claim(record)["BR-RM-style two-turn judge"]["met"] is True


def test_the_polar_zoo_split_keeps_each_question_on_one_side():
    from rewardkit_bench.real_rm import _problem
    from rewardkit_bench.rm_build_polar import _zoo_triples

    zoo = [{"task": "chain_sum", "index": q, "question": f"{q} + 1 =", "policy": p,
            "sample": k} for q in range(10) for p in ("hot", "cold") for k in range(2)]  # fmt: skip
    pretrain, held_out, policies = _zoo_triples(zoo, seed=0)
    questions = ["\n".join(_problem(row)) for row in zoo]
    seen = {questions[i] for i in pretrain.ravel()}
    assert seen and not seen & {questions[i] for i in held_out.ravel()}
    assert list(policies) == [zoo[i]["policy"] for i in held_out[:, 0]]


def test_the_long_tree_units_lead_their_stage():
    suite, args = _args("--seeds", "2", "--designs", "outcome,prm,tree_vs_chain", "--steps", "7")
    runs = [_record(u) for u in suite.plan(args, [])]
    second = suite.plan(args, runs)
    trees = [i for i, u in enumerate(second) if isinstance(u, TreeSpec)]
    assert trees == [0, 1]  # both seeds' tree units before the fits and the builds
