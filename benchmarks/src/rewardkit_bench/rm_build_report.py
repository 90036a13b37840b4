"""The rm-lab report: medians over seeds, paper claims against what was measured."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

from rewardkit_bench.rm_build_report_units import (
    brain_claim,
    heron_claim,
    heron_lines,
    heron_summary,
    judge_claim,
    judge_lines,
    polar_claim,
    polar_lines,
    polar_summary,
)
from rewardkit_bench.rm_build_report_units import fmt as _fmt
from rewardkit_bench.rm_build_report_units import maybe as _maybe
from rewardkit_bench.rm_build_report_units import median as _median
from rewardkit_bench.runner import (
    RunFolder,
    beyond_noise,
    markdown_table,
    median_curve,
    pyplot,
    save_figure,
)

__all__ = ["plot", "render", "summarize"]

TESTS = ("all", "controlled", "shorter among equally right")
#: every chain_sum reference solution has two running sums
REFERENCE_STEPS = 2
#: the loop table's order
ORDER = ("outcome", "prm", "prm_solution", "prm_clip", "prm_clip_half", "prm_delta",
         "prm_delta_solution", "prm_clip_delta", "oprl", "rm_frozen", "cooper",
         "rm_frozen_kl", "brain")  # fmt: skip
BASELINE = "BT linear (baseline)"
#: the methods not in this bench yet, and why (said in the report)
NOT_MEASURED: dict[str, str] = {}


def _runs(results: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in results["runs"] if r["kind"] == kind]


def _building(builds: list[dict[str, Any]]) -> dict[str, Any]:
    if not builds:
        return {}
    builds = sorted(builds, key=lambda b: b["seed"])  # split 0 first, however they finished
    names = list(builds[0]["accuracy"]["all"])
    table = {
        name: {test: _median([b["accuracy"][test][name] for b in builds]) for test in TESTS}
        for name in names
    }
    kinds = list(builds[0]["vpl"]["types"])
    scorers = [k for k in builds[0]["vpl"]["types"][kinds[0]] if k != "test_pairs"]
    vpl = {
        kind: {s: _median([b["vpl"]["types"][kind][s] for b in builds]) for s in scorers}
        for kind in kinds
    }
    return {
        "table": table,
        "vpl": vpl,
        "test_pairs": builds[0]["test_pairs"],
        "train_pairs": _median([b["train_pairs"] for b in builds]),
        "heron_pairs": builds[0]["heron_pairs"],
        "seeds": len(builds),
    }


def _loop(results: dict[str, Any]) -> dict[str, Any]:
    trains = _runs(results, "train")
    designs: dict[str, Any] = {}
    found = dict.fromkeys(r["design"] for r in trains)
    for design in [d for d in ORDER if d in found] + [d for d in found if d not in ORDER]:
        mine = [r for r in trains if r["design"] == design]

        def m(pick: Callable[[dict[str, Any]], float], mine: list[dict[str, Any]] = mine) -> float:
            return _median([pick(r) for r in mine])

        designs[design] = {
            "accuracy": m(lambda r: r["after"]["accuracy"]),
            "accuracy_range": [
                min(r["after"]["accuracy"] for r in mine),
                max(r["after"]["accuracy"] for r in mine),
            ],
            "steps": m(lambda r: r["after"]["steps"]),
            "repeat_rate": m(lambda r: r["after"]["repeat_rate"]),
            # recorded since the reviewer's note (NaN for runs from before)
            "extra_steps": m(lambda r: r["after"].get("extra_steps", float("nan"))),
            "padded_repeat_rate": m(lambda r: r["after"].get("padded_repeat_rate", float("nan"))),
            "kl": m(lambda r: r["after"].get("kl_to_warm_start", float("nan"))),
            "length": m(lambda r: r["after"]["length"]),
            "gold_peak": m(lambda r: r["gold_peak"]),
            "gold_last20": m(lambda r: r["gold_last20"]),
            "seeds": len(mine),
            "eta": _median([r["eta"] for r in mine if r.get("eta") is not None]),
        }
        if "rm_on_policy_after" in mine[0]:
            designs[design] |= {
                "rm_held_out_before": m(lambda r: r["rm_held_out_before"]),
                "rm_on_policy_after": m(lambda r: r["rm_on_policy_after"]),
                "rm_updates": m(lambda r: r["rm_updates"]),
            }
    exploits = _runs(results, "exploit")
    exploit = {}
    if exploits:
        for refinement in exploits[0]["returns"]:
            exploit[refinement] = {
                r: _median([e["returns"][refinement][r] for e in exploits])
                for r in exploits[0]["returns"][refinement]
            }
    before = _runs(results, "before")
    trees = _runs(results, "tree")
    tree = {}
    if trees:
        tree = {
            "seeds": len(trees),
            "pairs": _median([t["pairs"] for t in trees]),
            "shared_prefix_chars": _median([t["shared_prefix_chars"] for t in trees]),
            "win_rate": _median([t["win_rate"] for t in trees if t["win_rate"] == t["win_rate"]]),
            "win_rates": [t["win_rate"] for t in trees],
            "disagreements": _median([t["disagreements"] for t in trees]),
            **{
                f"{kind}_{key}": _median([t[kind][key] for t in trees])
                for kind in ("tree", "chain")
                for key in ("rm_held_out", "accuracy")
            },
        }
    return {"designs": designs, "exploit": exploit, "before": before[0] if before else None,
            "tree": tree, "heron": heron_summary(_runs(results, "heron"))}  # fmt: skip


def _claims(building: dict[str, Any], loop: dict[str, Any]) -> dict[str, dict[str, Any]]:
    claims: dict[str, dict[str, Any]] = {}
    table = building.get("table", {})
    if table:
        pairs = building["test_pairs"]
        controlled = pairs["controlled"]
        c = {name: row["controlled"] for name, row in table.items()}
        heads = {d: c[f"MLP depth {d}, SiLU (BaseReward-style)"] for d in (2, 3)}
        heads[1] = c["MLP depth 1 (BaseReward-style)"]
        claims["BaseReward-style head depth"] = {
            "paper": "a 2-layer SiLU head is the best reward head (multimodal RM benchmarks; "
            "judged here: above depth 1 and 3 beyond noise)",
            "measured": "style-controlled paired accuracy, depth 1/2/3: "
            + ", ".join(f"{heads[d]:.3f}" for d in (1, 2, 3))
            + f" (linear BT {c[BASELINE]:.3f})",
            "met": all(beyond_noise(heads[2], heads[d], controlled) for d in (1, 3)),
        }
        single = c["MLP depth 2, SiLU (BaseReward-style)"]
        ensemble = c["ensemble of 5, depth 2 (BaseReward-style)"]
        claims["BaseReward-style ensemble"] = {
            "paper": "averaging reward models' scores improves on a single one",
            "measured": f"{ensemble:.3f} for 5 averaged vs {single:.3f} for one",
            "met": beyond_noise(ensemble, single, controlled),
        }
        ctrl = c["Ctrl-U-style weighting, depth 2"]
        claims["Ctrl-U-style weighting"] = {
            "paper": "uncertainty-weighted reward loss makes a generator's reward feedback robust "
            "(no claim about preference RMs: the adaptation is ours)",
            "measured": f"{ctrl:.3f} vs {single:.3f} for the same head unweighted",
            "met": None,
        }
        heron = table["HERON labels (correct > shorter), linear"]
        base = table[BASELINE]
        claims["HERON"] = {
            "paper": "an RM trained on hierarchical factor comparisons follows the ranked "
            "factors (with less reward engineering)",
            "measured": f"right over wrong {heron['all']:.3f} vs {base['all']:.3f} for BT on "
            f"correctness pairs; shorter among equally right {heron[TESTS[2]]:.3f} vs "
            f"{base[TESTS[2]]:.3f}",
            "met": not beyond_noise(base["all"], heron["all"], pairs["all"])
            and beyond_noise(heron[TESTS[2]], base[TESTS[2]], pairs[TESTS[2]]),
        }
    vpl = building.get("vpl", {})
    if vpl:
        mean = {s: statistics.fmean(vpl[kind][s] for kind in vpl) for s in next(iter(vpl.values()))}
        ours, pooled = mean["VPL (z from 8 of the user's pairs)"], mean["BT pooled over users"]
        claims["VPL (planted users)"] = {
            "paper": "a latent-conditioned RM recovers users' diverging preferences where one BT "
            "model averages them",
            "measured": f"mean over the two types {ours:.3f} vs pooled BT {pooled:.3f} "
            f"(per-type BT ceiling {mean['BT on this type' + chr(39) + 's pairs (ceiling)']:.3f})",
            "met": ours > pooled + 0.05,
        }
    designs = loop.get("designs", {})
    if "prm" in designs and "outcome" in designs:
        plain, outcome = designs["prm"], designs["outcome"]
        claims["a raw PRM reward is hacked (Gao et al.)"] = {
            "paper": "dense PRM step rewards as they are make the policy write more, repeated "
            f"steps (judged here: repeats beyond noise of outcome-only's, or more than the "
            f"reference's {REFERENCE_STEPS} steps; 4 % of the held-out references repeat a "
            "running sum legitimately)",
            "measured": f"steps {plain['steps']:.2f} vs {outcome['steps']:.2f} outcome-only; "
            f"repeat rate {plain['repeat_rate']:.3f} vs {outcome['repeat_rate']:.3f}; steps "
            f"beyond the reference's {_maybe(plain['extra_steps'])} vs "
            f"{_maybe(outcome['extra_steps'])}, repeats the reference does not have "
            f"{_maybe(plain['padded_repeat_rate'])} vs {_maybe(outcome['padded_repeat_rate'])}",
            "met": beyond_noise(plain["repeat_rate"], outcome["repeat_rate"], 300)
            or plain["steps"] > REFERENCE_STEPS + 0.2,
        }
        for name in ("prm_clip", "prm_delta", "prm_clip_delta", "prm_clip_half",
                     "prm_delta_solution"):  # fmt: skip
            if name in designs:
                d = designs[name]
                claims[f"{name} keeps the PRM honest"] = {
                    "paper": "Clip/Delta stop the hacking and train at least as well as the "
                    "outcome reward alone (judged here: no more repeats, accuracy within 0.02, "
                    "and the steps kept: at least half of outcome-only's)",
                    "measured": f"repeat rate {d['repeat_rate']:.3f}, accuracy "
                    f"{d['accuracy']:.3f}, steps {d['steps']:.2f} vs outcome-only "
                    f"{outcome['repeat_rate']:.3f}, {outcome['accuracy']:.3f}, "
                    f"{outcome['steps']:.2f}",
                    "met": not beyond_noise(d["repeat_rate"], outcome["repeat_rate"], 300)
                    and d["accuracy"] >= outcome["accuracy"] - 0.02
                    and d["steps"] >= 0.5 * outcome["steps"],
                }
    if "oprl" in designs and "outcome" in designs:
        oprl, outcome = designs["oprl"], designs["outcome"]
        claims["OPRL-style implicit PRM"] = {
            "paper": "implicit step rewards from an online trajectory-DPO PRM beat outcome-only "
            "RL (WebShop, VisualSokoban, SOTOPIA)",
            "measured": f"gold accuracy {oprl['accuracy']:.3f} vs {outcome['accuracy']:.3f} "
            f"outcome-only; steps {oprl['steps']:.2f} vs {outcome['steps']:.2f}",
            "met": beyond_noise(oprl["accuracy"], outcome["accuracy"], 300),
        }
    if "cooper" in designs and "rm_frozen" in designs:
        cooper, frozen = designs["cooper"], designs["rm_frozen"]
        outcome = designs.get("outcome", {"accuracy": float("nan")})
        claims["Cooper-style online RM update"] = {
            "paper": "a static RM is hacked during RL; updating it every step on verifier-chosen "
            "positives and rewritten negatives prevents it and beats the rule-based reward",
            "measured": f"gold accuracy {cooper['accuracy']:.3f} vs {frozen['accuracy']:.3f} with "
            f"the RM frozen and {outcome['accuracy']:.3f} with the verifier alone; the RM ranks "
            f"the trained policy's pairs {cooper['rm_on_policy_after']:.3f} (frozen: "
            f"{frozen['rm_on_policy_after']:.3f})",
            "met": beyond_noise(cooper["accuracy"], frozen["accuracy"], 300)
            and cooper["accuracy"] >= outcome["accuracy"] - 0.02,
        }
    tree = loop.get("tree", {})
    if tree:
        noise = 2 * (0.25 / max(tree["disagreements"], 1)) ** 0.5
        claims["tree-structured pairs (topology)"] = {
            "paper": "RLHF on preferences over a tree of shared prefixes wins 65 % against "
            "the chain baseline",
            "measured": f"win rate {tree['win_rate']:.3f} (seeds "
            + ", ".join("no disagreement" if w != w else f"{w:.3f}" for w in tree["win_rates"])
            + f") on a median {tree['disagreements']:.0f} disagreements; RM "
            f"{tree['tree_rm_held_out']:.3f} vs {tree['chain_rm_held_out']:.3f}",
            "met": tree["win_rate"] > 0.5 + noise,
        }
    exploit = loop.get("exploit", {})
    if exploit:
        grows = exploit["none"]["4"] > exploit["none"]["0"]
        bounded = all(exploit[r]["4"] <= exploit[r]["0"] + 1e-9 for r in exploit if r != "none")
        claims["planted step repeats"] = {
            "paper": "Clip and Delta bound the return a repeated step can earn",
            "measured": "process return at 0 → 4 repeats: "
            + ", ".join(f"{r} {v['0']:.2f} → {v['4']:.2f}" for r, v in exploit.items()),
            "met": grows and bounded,
        }
    return claims


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    building = _building(_runs(results, "build"))
    loop = _loop(results)
    judges = _runs(results, "judge")
    judge = judges[0] if judges else None
    polar = polar_summary(_runs(results, "polar"))
    claims = (_claims(building, loop) | brain_claim(loop["designs"], loop["before"])
              | heron_claim(loop["heron"]) | polar_claim(polar) | judge_claim(judge))  # fmt: skip
    return {"building": building, "loop": loop, "judge": judge, "polar": polar, "claims": claims}


def plot(folder: RunFolder, results: dict[str, Any]) -> list[str]:
    plt = pyplot()
    trains = _runs(results, "train")
    if plt is None or not trains:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for design in dict.fromkeys(r["design"] for r in trains):
        mine = [r for r in trains if r["design"] == design]
        steps, series = median_curve(mine, "step", "accuracy")
        axes[0].plot(steps, series, label=design)
        steps, series = median_curve(mine, "step", "completion_length")
        axes[1].plot(steps, series, label=design)
    axes[0].set_title("chain_sum: gold accuracy of the training batch (median)")
    axes[1].set_title("completion length in tokens (median)")
    for axis in axes:
        axis.legend(fontsize=8)
    return [save_figure(plt, fig, folder, "loop.png")]


def render(results: dict[str, Any], plots: list[str]) -> str:
    lines = ["# rm-lab", "", f"Regenerate: `{results['command']}`", ""]
    building = results["building"]
    if building:
        lines += [
            "## Building a reward model on a real backbone", "",
            f"SmolLM2-135M-Instruct's frozen last-layer features of its own answers (the "
            f"corpus's labelled rows); {building['seeds']} splits of the questions, half "
            f"train (median {building['train_pairs']:.0f} right/wrong pairs), half test "
            f"({building['test_pairs']['all']} pairs, {building['test_pairs']['controlled']} "
            "style-controlled, "
            f"{building['test_pairs']['shorter among equally right']} shorter-vs-longer pairs "
            "of equally right answers). Paired accuracy, median over splits.", "",
        ]  # fmt: skip
        rows = [[name, *[_fmt(row[t]) for t in TESTS]] for name, row in building["table"].items()]
        lines += [markdown_table(["method", "right > wrong", "style controlled",
                                  "shorter among equally right"], rows), ""]  # fmt: skip
        levels = building["heron_pairs"]
        lines += [
            f"HERON's pairs (split 0): {levels['by correctness']} decided by correctness, "
            f"{levels['by length']} by length, {levels['undecided (dropped)']} dropped.", "",
            "**VPL on planted users** (labels we generated from the corpus: half the users "
            "prefer the right answer, half the shorter one): held-out accuracy on each type's "
            "own preference.", "",
        ]  # fmt: skip
        vpl = building["vpl"]
        scorers = list(next(iter(vpl.values())))
        rows = [[s, *[_fmt(vpl[kind][s]) for kind in vpl]] for s in scorers]
        lines += [markdown_table(["scorer", *[f"type '{k}'" for k in vpl]], rows), ""]
    loop = results["loop"]
    if loop["designs"]:
        lines += [
            "## In the loop: GRPO with a learned PRM (char-level lab, chain_sum)", "",
            f"{results['steps']} GRPO steps of 8 prompts x 8 completions per run, medians over "
            "seeds; held-out greedy figures on 300 problems. Data we generated (the lab). "
            "Every reference solution has 2 steps and 4 % of them repeat a running sum "
            "legitimately (a third operand of 0): *extra steps* counts steps beyond the "
            "reference's and *padded repeats* repeats where the reference has none; *KL to "
            "warm start* is the held-out KL of the trained policy from the warm start (— where "
            "a run did not record a figure).", "",
        ]  # fmt: skip
        header = ["design", "Clip's η", "accuracy", "(range)", "steps", "repeat rate", "length",
                  "batch gold peak", "last 20", "extra steps", "padded repeats",
                  "KL to warm start"]  # fmt: skip
        rows = []
        before = loop["before"]
        if before:
            start = [_fmt(before["accuracy"]), "", f"{before['steps']:.2f}",
                     _fmt(before["repeat_rate"]), f"{before['length']:.1f}"]  # fmt: skip
            padding = [_maybe(before.get("extra_steps")), _maybe(before.get("padded_repeat_rate"))]
            rows.append(["(warm start)", "", *start, "", "", *padding, ""])
        for design, d in loop["designs"].items():
            span = f"{d['accuracy_range'][0]:.3f}-{d['accuracy_range'][1]:.3f}"
            eta = _fmt(d["eta"]) if "clip" in design else ""
            rows.append([design, eta, _fmt(d["accuracy"]), span, f"{d['steps']:.2f}",
                         _fmt(d["repeat_rate"]), f"{d['length']:.1f}", _fmt(d["gold_peak"]),
                         _fmt(d["gold_last20"]), _maybe(d["extra_steps"]),
                         _maybe(d["padded_repeat_rate"]), _maybe(d["kl"])])  # fmt: skip
        lines += [markdown_table(header, rows), ""]
        learned = {k: d for k, d in loop["designs"].items() if "rm_on_policy_after" in d}
        if learned:
            lines += [
                "The reference-aware RM (Cooper's designs): its paired accuracy on held-out "
                "pairs of the warm start's samples before RL, and on pairs of the trained "
                "policy's own samples after it.", "",
            ]  # fmt: skip
            rows = [[k, _fmt(d["rm_held_out_before"]), _fmt(d["rm_on_policy_after"]),
                     f"{d['rm_updates']:.0f}"] for k, d in learned.items()]  # fmt: skip
            lines += [markdown_table(["design", "RM before", "RM after, on the policy's pairs",
                                      "RM updates"], rows), ""]  # fmt: skip
        if "loop.png" in plots:
            lines += ["![loop](loop.png)", ""]
    if loop["exploit"]:
        lines += [
            "**Planted step repeats**: mean process return of 100 reference solutions with "
            "the first step repeated r times, under the seeds' PRMs (median; Clip at the "
            "PRM's median step score).",
            "",
        ]
        repeats = list(next(iter(loop["exploit"].values())))
        rows = [[r, *[f"{v[k]:.3f}" for k in repeats]] for r, v in loop["exploit"].items()]
        lines += [markdown_table(["refinement", *[f"r={k}" for k in repeats]], rows), ""]
    tree = loop.get("tree")
    if tree:
        lines += [
            "## Tree-structured against chain pairs (char-level lab, chain_sum)", "",
            f"{tree['seeds']} seeds, {tree['pairs']:.0f} gold-labelled pairs each side (median; "
            f"the tree's siblings share a median {tree['shared_prefix_chars']:.1f}-character "
            "prefix), a tiny BT RM on each, GRPO against each RM; win rate: among 300 held-out "
            "problems where the two policies differ in correctness, the tree policy's share.", "",
        ]  # fmt: skip
        rows = [[kind, _fmt(tree[f"{kind}_rm_held_out"]), _fmt(tree[f"{kind}_accuracy"])]
                for kind in ("tree", "chain")]  # fmt: skip
        lines += [markdown_table(["pairs", "RM held-out pair accuracy", "policy accuracy"],
                                 rows), "", f"Win rate of tree over chain: "
                  f"{tree['win_rate']:.3f} (median of seeds).", ""]  # fmt: skip
    lines += heron_lines(loop.get("heron", {})) + polar_lines(results.get("polar", {}))
    lines += judge_lines(results.get("judge"))
    lines += ["## Paper claims / we measured", ""]
    for name, c in results["claims"].items():
        verdict = {True: "met", False: "NOT MET", None: "no claim to test"}[c["met"]]
        lines.append(f"- **{name}**: paper: {c['paper']}; measured: {c['measured']} ({verdict})")
    if NOT_MEASURED:
        lines += ["", "Not measured here:", ""]
        lines += [f"- **{name}**: {why}" for name, why in NOT_MEASURED.items()]
    lines += ["", "## Settings", "", "```json",
              json.dumps({k: results[k] for k in ("steps", "seeds", "designs", "quick")}),
              "```", ""]  # fmt: skip
    return "\n".join(lines)
