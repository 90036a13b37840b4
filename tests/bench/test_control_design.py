"""control-design: the plan's stages and each claim judged from hand-made records."""

from rewardkit_bench.control_design import ControlDesign
from rewardkit_bench.control_design_report import (
    _report_barfi,
    _report_qd,
    _summarize_barfi,
    _summarize_qd,
)
from rewardkit_bench.runner import SUITES, build_parser


def _args(*argv):
    suite = ControlDesign()
    return suite, build_parser(suite).parse_args(list(argv))


def test_throughput_runs_alone_before_everything_else():
    assert SUITES["control-design"] == "rewardkit_bench.control_design:main"
    suite, args = _args("--seeds", "2")
    assert suite.plan(args, []) == [("throughput", None, None, False)]
    rest = suite.plan(args, [{"part": "throughput"}])
    assert ("barfi", None, 1, False) in rest and ("morec", "Pendulum-v1", 0, False) in rest
    assert len([u for u in rest if u[0] == "qd"]) == 2 * 5
    done = [{"part": "throughput"}, {"part": "qd", "design": "objective", "seed": 0}]
    assert ("qd", "objective", 0, False) not in suite.plan(args, done)


def test_unknown_parts_are_refused():
    suite, args = _args("--parts", "barfi,bogus")
    assert "bogus" in (suite.check(args) or "")


def _barfi_run(learned_success, fountain_weight):
    design = {"success": 0.1, "primary_return": 0.0, "fountain_steps": 0.0,
              "weights": {"progress": 1.0, "fountain": 1.0}}  # fmt: skip
    barfi = dict(design, success=learned_success, weights={"progress": 2.0,
                 "fountain": fountain_weight})  # fmt: skip
    return {"updates": 5, "tasks": {"grid": {"primary_only": design, "fixed_blend": design,
                                             "barfi": barfi}}}  # fmt: skip


def test_barfi_claim_needs_both_more_success_and_a_smaller_loitering_weight():
    met = _summarize_barfi([_barfi_run(0.9, -0.5), _barfi_run(0.7, 0.5), _barfi_run(0.8, 0.0)])
    assert met["tasks"]["grid"]["barfi"]["success"] == 0.8  # the median of three seeds
    assert _report_barfi(met)[1][0][-1] == "met"
    loiters = _summarize_barfi([_barfi_run(0.9, 3.0)])
    assert _report_barfi(loiters)[1][0][-1] == "missed"
    no_gain = _summarize_barfi([_barfi_run(0.1, -1.0)])
    assert _report_barfi(no_gain)[1][0][-1] == "missed"


def _qd(design, seed, solved, coverage=1.0):
    return {"design": design, "seed": seed, "coverage": coverage, "solved_at": solved,
            "best_reward": 1.0, "exploit_evaluations": 0, "evaluations": 100}  # fmt: skip


def test_qd_claims_count_unsolved_seeds_as_never():
    runs = [_qd("ns_handcrafted", s, v) for s, v in enumerate((40, 50, None))]
    runs += [_qd("serene_style", s, v) for s, v in enumerate((30, 35, 90))]
    runs += [_qd("taxons_style", s, v, 0.9) for s, v in enumerate((None, None, 20))]
    summary = _summarize_qd(runs)
    assert summary["ns_handcrafted"]["solved_at"] == 50  # median of 40, 50, never
    assert summary["taxons_style"]["solved_at"] is None  # two of three never
    verdicts = {claim[0].split(":")[0]: claim[-1] for claim in _report_qd(summary)[1]}
    assert verdicts == {"TAXONS": "missed", "SERENE": "met"}
    neither = _summarize_qd([_qd("ns_handcrafted", 0, None), _qd("taxons_style", 0, None)])
    assert _report_qd(neither)[1][0][-1] == "missed"  # not met vacuously


def _morec(env, seed, morec_error, mean_error=0.2):
    ways = {"member": 0.3, "member_draw": 0.35, "mean": mean_error, "morec": morec_error,
            "morec_argmax": 0.5}  # fmt: skip
    errors = {w: {"mean": e, "last": e} for w, e in ways.items()}
    behaviour = dict(errors, truncation={"share_truncated": 0.5, "share_real_rollouts_cut": 0.1})
    return {"env": env, "seed": seed, "reward_separation": {"auc_real_vs_model": 0.7},
            "rollout_error": {"behaviour": behaviour, "random": errors}}  # fmt: skip


def test_morec_claim_judges_the_papers_softmax_filter_against_unfiltered_draws():
    from rewardkit_bench.control_design_report import _report_morec, _summarize_morec

    runs = [_morec("Pendulum-v1", s, e) for s, e in enumerate((0.1, 0.15, 0.3))]
    runs += [_morec("CartPole-v1", 0, 0.4)]
    summary = _summarize_morec(runs)
    assert summary["Pendulum-v1"]["behaviour"]["morec"] == 0.15
    assert summary["Pendulum-v1"]["planning"] == {}  # quick runs plan nothing
    verdicts = [claim[-1] for claim in _report_morec(summary)[1]]
    # against the unfiltered draws (0.35): CartPole's 0.4 misses, Pendulum's median 0.15 meets
    assert verdicts == ["missed", "met"]


def _meta(design, seed, reward, arms):
    return {"design": design, "seed": seed, "updates": 600, "reward": reward,
            "arms_tried": arms, "best_arm_late": 0.5}  # fmt: skip


def test_meta_claims_need_exploration_with_structure_and_memory_only():
    from rewardkit_bench.control_design_report import _report_meta, _summarize_meta

    runs = [_meta("full", s, r, 2.0) for s, r in enumerate((0.6, 0.7, 0.65))]
    runs += [_meta("no_structure", 0, 0.5, 1.0), _meta("no_memory", 0, 0.5, 1.0),
             _meta("no_long_credit", 0, 0.66, 1.0), _meta("thompson", 0, 0.68, 2.5)]  # fmt: skip
    summary = _summarize_meta(runs)
    assert summary["full"]["reward"] == 0.65  # the median of three seeds
    verdicts = [claim[-1] for claim in _report_meta(summary)[1]]
    # emergent exploration met; gamma = 0 lost it here; Thompson sampling ahead
    assert verdicts == ["met", "missed", "missed"]
    # a blind policy cycling arms on a schedule still earns 0.5: not exploration, met
    blind_but_busy = [_meta("no_memory", 0, 0.5, 2.0), _meta("no_structure", 0, 0.5, 1.0)]
    assert _report_meta(_summarize_meta([*runs[:3], *blind_but_busy]))[1][0][-1] == "met"
    still_earns = [_meta("no_memory", 0, 0.6, 1.0), _meta("no_structure", 0, 0.5, 1.0)]
    assert _report_meta(_summarize_meta([*runs[:3], *still_earns]))[1][0][-1] == "missed"


def test_meta_part_plans_one_unit_per_design_and_seed():
    suite, args = _args("--seeds", "2", "--parts", "meta")
    plan = suite.plan(args, [])
    assert ("meta", "thompson", 1, False) in plan and len(plan) == 2 * 5


def _carl(name, seed, landed):
    return {"design": name, "seed": seed, "frames": 1000, "minibatch_size": 256,
            "return": 100.0 * landed, "landed": landed}  # fmt: skip


def test_carl_claim_compares_the_two_rewards_at_the_larger_minibatch():
    from rewardkit_bench.control_design_report import _report_carl, _summarize_carl

    runs = [_carl("summed/1", s, v) for s, v in enumerate((0.1, 0.0, 0.3))]
    runs += [_carl("carl/1", s, v) for s, v in enumerate((0.2, 0.5, 0.4))]
    summary = _summarize_carl(runs)
    assert summary["carl/1"]["landed"] == 0.4 and summary["summed/1"]["landed"] == 0.1
    assert _report_carl(summary)[1][0][-1] == "met"
    tie = _summarize_carl([_carl("summed/1", 0, 0.5), _carl("carl/1", 0, 0.5)])
    assert _report_carl(tie)[1][0][-1] == "missed"


def test_carl_part_plans_four_runs_a_seed():
    suite, args = _args("--seeds", "2", "--parts", "carl")
    plan = suite.plan(args, [])
    assert ("carl", "carl/1", 1, False) in plan and len(plan) == 2 * 4
