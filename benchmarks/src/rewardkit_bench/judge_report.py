"""The summary, claims, report and figures of ``rewardkit bench judge``, from its results.json."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from rewardkit_bench.reporting import markdown_table, pyplot, save_figure
from rewardkit_bench.run_folder import RunFolder

__all__ = ["plot", "render", "summarize"]

CORPUS = "the SmolLM2 arithmetic corpus (SmolLM2-135M-Instruct's own answers, reasoning-gym labels)"


def _median(values: Sequence[float | None]) -> float:
    kept = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return statistics.median(kept) if kept else float("nan")


def _runs(results: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [run for run in results["runs"] if run["kind"] == kind]


def _speed(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over seeds of every speed figure, per server mode."""
    found: dict[str, Any] = {}
    for mode in dict.fromkeys(run["mode"] for run in runs):
        seeds = [run for run in runs if run["mode"] == mode]

        def med(*path: str, seeds: list[dict[str, Any]] = seeds) -> float:
            values = []
            for run in seeds:
                value: Any = run
                for step in path:
                    value = value.get(step) if isinstance(value, dict) else None
                values.append(value)
            return _median(values)

        stats = ("per_s", "p50_ms", "p99_ms")
        arms: dict[str, Any] = {"sequential": {k: med("sequential", k) for k in stats}}
        arms["sequential"]["ratio"] = 1.0
        for c in sorted(seeds[0]["judge"], key=int):
            arms[f"judge x{c}"] = {k: med("judge", c, k) for k in (*stats, "ratio")}
            arms[f"judge x{c}"]["not_ok"] = sum(
                n for r in seeds for s, n in r["judge"][c]["statuses"].items() if s != "ok"
            )
            reasons: dict[str, int] = {}
            for r in seeds:
                for reason, n in r["judge"][c].get("reasons", {}).items():
                    reasons[reason] = reasons.get(reason, 0) + n
            arms[f"judge x{c}"]["reasons"] = dict(
                sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
            )
        cached = [run["cache"] for run in seeds if "cache" in run]
        found[mode] = {"seeds": len(seeds), "batch": seeds[0]["batch"], "arms": arms,
                       "cache_speedup": _median([c["speedup"] for c in cached]),
                       "same_verdicts": _median([r.get("same_verdicts") for r in seeds]),
                       "cache_identical": all(c["identical"] for c in cached),
                       "cache_hits_full": all(c["cache_hits"] == seeds[0]["batch"] for c in cached),
                       "has_cache": bool(cached)}  # fmt: skip
    return found


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Medians over seeds and the claims, met or missed."""
    speed = _speed(_runs(results, "speed"))
    faults = _runs(results, "faults")
    lost = sum(run["during"]["lost"] + run["after"]["lost"] for run in faults)
    by_failure = sum(run["during"]["scored_by_failure"] + run["after"]["scored_by_failure"]
                     for run in faults)  # fmt: skip
    claims: dict[str, dict[str, Any]] = {}
    if faults:
        claims["server killed mid-batch: 0 samples scored by a failure, 0 lost"] = {
            "met": lost == 0 and by_failure == 0 and all(r["in_flight_at_kill"] for r in faults),
            "detail": "; ".join(
                f"seed {r['seed']}: {r['during']['scored']} scored, {r['during']['failed']} "
                f"failed with a reason ({_statuses(r['during_statuses'])}), "
                f"{r['during']['scored_by_failure']} scored by a failure, "
                f"{r['during']['lost']} lost of {r['batch']}" for r in faults)}  # fmt: skip
        claims["after the restart the same batch is scored"] = {
            "met": all(r["passed"] for r in faults),
            "detail": "; ".join(f"seed {r['seed']}: {r['after']['scored']} of {r['batch']} "
                                f"scored ({r['after_unreadable']} unreadable answers)"
                                for r in faults)}  # fmt: skip
    default = speed.get("default")
    if default and default["has_cache"]:
        claims["a cache hit gives the same scores as the call"] = {
            "met": default["cache_identical"] and default["cache_hits_full"],
            "detail": f"median speed-up {default['cache_speedup']:.0f}x over the cold batch",
        }
    return {"speed": speed, "claims": claims, "lost": lost, "scored_by_failure": by_failure}


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def _pct(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _speed_section(results: dict[str, Any]) -> list[str]:
    lines = ["## Throughput and latency", ""]
    for mode, figures in results["speed"].items():
        server = "`transformers serve`" + (" --continuous-batching" if mode == "continuous" else "")
        lines += [f"Data: {figures['batch']} labelled rows of {CORPUS} per seed (a new draw "
                  f"per seed), median over {figures['seeds']} seed(s); ReferenceJudge "
                  f"(probability=\"text\", max_tokens {results['settings']['max_tokens']}) on "
                  f"{server} with SmolLM2-135M-Instruct, this machine "
                  f"({results['machine']['cpus']} CPUs). Ratio: judgments/s over the plain "
                  "sequential `openai.OpenAI` loop's, same prompts and parameters, same run.",
                  ""]  # fmt: skip
        rows = [[arm, _num(f["per_s"]), f"{_num(f['ratio'])}x", _num(f["p50_ms"], 0),
                 _num(f["p99_ms"], 0), str(f.get("not_ok", 0))]
                for arm, f in figures["arms"].items()]  # fmt: skip
        header = ["arm", "judgments/s", "vs sequential", "p50 ms", "p99 ms", "not scored"]
        lines += [f"**{server}**", "", markdown_table(header, rows), ""]
        reasons: dict[str, int] = {}
        for arm in figures["arms"].values():
            for reason, count in arm.get("reasons", {}).items():
                reasons[reason] = reasons.get(reason, 0) + count
        lines += [f"- not scored `{reason}`: {count}" for reason, count in reasons.items()]
        lines += [f"- rows given the same verdict by every judge arm (temperature 0): "
                  f"{_pct(figures.get('same_verdicts'))} (median over seeds)", ""]  # fmt: skip
        if figures["has_cache"]:
            lines += [f"Cache: the same batch again with `cache_dir` set: "
                      f"{_num(figures['cache_speedup'], 0)}x faster than the cold batch "
                      f"(median), scores identical: {figures['cache_identical']}.", ""]  # fmt: skip
    return lines


def _fault_section(results: dict[str, Any]) -> list[str]:
    faults = _runs(results, "faults")
    if not faults:
        return []
    lines = ["## Faults: the server killed under a batch in flight", "",
             f"Data: labelled rows of {CORPUS}, a new draw per seed; ReferenceJudge (text), 4 "
             "calls at a time, 2 retries, 120 s deadline; SIGKILL after the first answers, then "
             "restarted on the same port.", ""]  # fmt: skip
    header = ["seed", "batch", "killed at s", "restart s", "scored", "failed (reason given)",
              "statuses", "scored by a failure", "lost", "after restart: scored"]  # fmt: skip
    rows = [[r["seed"], r["batch"], _num(r["killed_at_s"], 1), _num(r["restart_s"], 1),
             r["during"]["scored"], r["during"]["failed"], _statuses(r["during_statuses"]),
             r["during"]["scored_by_failure"], r["during"]["lost"],
             f"{r['after']['scored']} of {r['batch']}"] for r in faults]  # fmt: skip
    lines += [markdown_table(header, rows), ""]
    reasons: dict[str, int] = {}
    for run in faults:
        for reason, count in run["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    lines += [f"- `{reason}`: {count}" for reason, count in reasons.items()] + [""]
    return lines


def _agreement_row(name: str, report: dict[str, Any]) -> list[str]:
    return [name, f"{report['both']} of {report['rows']}", _pct(report["accuracy"]),
            _num(report["kappa"]), _pct(report["false_positive_rate"]),
            _pct(report["false_negative_rate"]), _num(report.get("auc")),
            str(report["judge_failures"]), str(report.get("reached_judge", "all"))]  # fmt: skip


def _quality_section(results: dict[str, Any]) -> list[str]:
    runs = _runs(results, "agreement")
    if not runs:
        return []
    run = runs[0]
    lines = ["## Agreement with the labels", "",
             f"Data: {run['rows']} labelled rows of {CORPUS} (seed 0; {run['right']} right), "
             "temperature 0, run once. A pass is a score >= 0.5 (P(yes) for systemone). "
             f"Always answering the majority label scores {_pct(run['majority_accuracy'])}. "
             f"The corpus-rule row adds {run['behind_corpus_rule']['unclear_rows']} rows the "
             "rule cannot read (no label): only those reach the judge, so its agreement on the "
             "labelled rows is the rule's own (1.0 by construction).", ""]  # fmt: skip
    header = ["reward", "rows scored & labelled", "accuracy", "kappa", "false pos. rate",
              "false neg. rate", "AUC", "not scored", "rows sent to the judge"]  # fmt: skip
    rows = [
        _agreement_row("ReferenceJudge, text", run["text"]),
        _agreement_row("ReferenceJudge, systemone P(yes)", run["systemone"]),
        _agreement_row("MathVerifier alone (abstains on no answer)", run["math_verifier"]),
        _agreement_row("MathVerifier, then ReferenceJudge", run["behind_math_verifier"]),
        _agreement_row("corpus rule, then ReferenceJudge", run["behind_corpus_rule"]),
    ]
    rows[2][-1] = "none"
    lines += [markdown_table(header, rows), ""]
    for name in ("text", "systemone", "behind_math_verifier", "behind_corpus_rule"):
        lines += [f"- {name}, not scored `{reason}`: {count}"
                  for reason, count in run[name].get("reasons", {}).items()]  # fmt: skip
    lines.append("")
    share = run["behind_corpus_rule"]["judge_pass_share"]
    lines += [f"The judge passed {_pct(share)} of the unclear rows the rule sent it; median "
              f"systemone P(yes) {_num(run['systemone']['median_p_yes'], 3)}.", ""]  # fmt: skip
    return lines


def _probe_section(results: dict[str, Any]) -> list[str]:
    runs = _runs(results, "probes")
    if not runs:
        return []
    run = runs[0]
    reports = run["reports"]
    judges = list(reports)
    probes = list(next(iter(reports.values()))["fpr"])
    lines = ["## Master keys and exploits (false-positive rate per probe)", "",
             f"Data: {run['questions']} question(s) of {CORPUS} with their gold answers, each "
             "probe a completion that does not answer (One Token to Fool LLM-as-a-Judge); "
             "temperature 0, run once. Not-scored samples (failures) are left out of the rate "
             "and shown after the slash. \"final answer only\" judges the number the "
             "completion states (the mitigation): before = ReferenceJudge, after = final "
             "answer only. A judge that passes nothing has no false positives: read these "
             "with the false-negative rates above.", ""]  # fmt: skip

    def cell(report: dict[str, Any], name: str) -> str:
        rate = report["fpr"].get(name)
        failed = report.get("failures", {}).get(name, 0)
        return _pct(rate) + (f" / {failed}" if failed else "")

    rows = [[name, *(cell(reports[j], name) for j in judges)] for name in probes]
    rows.append(["**worst probe**", *(_pct(reports[j]["max_fpr"]) for j in judges)])
    lines += [markdown_table(["probe", *judges], rows), ""]
    return lines


def _position_section(results: dict[str, Any]) -> list[str]:
    runs = _runs(results, "position")
    if not runs:
        return []
    run = runs[0]
    prompts = run["prompts"]
    lines = ["## Position bias", "",
             f"Data: {run['pairs']} (right, wrong) pairs of completions of one question from "
             f"{CORPUS}, each judged in both orders by a pairwise judge (temperature 0), run "
             "once; the library's pairwise prompt, and the same cut to a one-letter answer. "
             "A pair with an unreadable verdict in either order is left out (failed).",
             ""]  # fmt: skip
    figures: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("pairs judged in both orders", lambda r: f"{r['judged']} of {r['pairs']}"),
        ("failed pairs (left out)", lambda r: str(r["failures"])),
        ("verdicts picking the first position (A)", lambda r: _pct(r["first_position"])),
        ("verdicts that are ties", lambda r: _pct(r["ties"])),
        ("pairs the position decided (same letter both orders)",
         lambda r: _pct(r["position_decided"])),
        ("accuracy, one order (no swap)", lambda r: _pct(r["accuracy_one_order"])),
        ("accuracy, swap-averaged (win_rate_from_orders > 0.5)",
         lambda r: _pct(r["accuracy_swapped"])),
        ("right answer's mean swap-averaged win rate", lambda r: _pct(r["mean_win_rate"])),
    ]  # fmt: skip
    rows = [[name, *(show(prompts[p]) for p in prompts)] for name, show in figures]
    lines += [markdown_table(["figure", *prompts], rows), ""]
    for name, report in prompts.items():
        lines += [f"- {name}, failure `{reason}`: {count}"
                  for reason, count in report.get("reasons", {}).items()]  # fmt: skip
    return [*lines, ""]


def _authoring_section(results: dict[str, Any], renderer: Any) -> list[str]:
    """The hook: the records of :mod:`rewardkit_bench.judge_authoring`, where it ran."""
    runs = _runs(results, "authoring")
    if not runs:
        return []
    lines = ["## LLM-written rewards", ""]
    if renderer is not None:
        return [*lines, renderer(runs[0]), ""]
    shown = {k: v for k, v in runs[0].items() if k != "kind"}
    return [*lines, "```json", json.dumps(shown, indent=2, default=str), "```", ""]


def render(results: dict[str, Any], authoring_renderer: Any = None) -> str:
    """The markdown report of ``results``."""
    lines = ["# judge", "",
             f"Regenerate: `{results['command']}` ({results.get('seconds', 0) / 60:.1f} min). "
             "The judge model is SmolLM2-135M-Instruct behind `transformers serve` on this "
             f"machine ({results['machine']['cpus']} CPUs), started and stopped by the suite; "
             "the judge and the server share the CPUs.", ""]  # fmt: skip
    lines += ["## Claims", ""]
    lines += [f"- {name}: {'**met**' if c['met'] else '**missed**'} ({c['detail']})"
              for name, c in results["claims"].items()] + [""]  # fmt: skip
    lines += _speed_section(results) + _fault_section(results) + _quality_section(results)
    lines += _probe_section(results) + _position_section(results)
    lines += _authoring_section(results, authoring_renderer)
    return "\n".join(lines).rstrip() + "\n"


def plot(folder: RunFolder, results: dict[str, Any]) -> list[str]:
    """judge-speed.png: judgments/s per arm; judge-probes.png: the worst probe per judge."""
    plt = pyplot()
    if plt is None or not results.get("speed"):
        return []
    names = []
    fig, ax = plt.subplots(figsize=(7, 3.5))
    modes = list(results["speed"])
    width = 0.8 / len(modes)
    labels = list(dict.fromkeys(a for m in modes for a in results["speed"][m]["arms"]))
    for k, mode in enumerate(modes):
        arms = results["speed"][mode]["arms"]
        shown = [i for i, name in enumerate(labels) if name in arms]
        ax.bar([i + k * width for i in shown], [arms[labels[i]]["per_s"] for i in shown],
               width, label=f"transformers serve ({mode})")  # fmt: skip
    ax.set_xticks([i + width * (len(modes) - 1) / 2 for i in range(len(labels))], labels)
    ax.set_ylabel("judgments / s")
    ax.set_title("ReferenceJudge vs a sequential openai loop\n(SmolLM2 corpus rows, SmolLM2 judge, "
                 "median over seeds)", fontsize=9)  # fmt: skip
    ax.legend(fontsize=8)
    names.append(save_figure(plt, fig, folder, "judge-speed.png"))
    probes = _runs(results, "probes")
    if probes:
        reports = probes[0]["reports"]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.barh(list(reports), [r["max_fpr"] for r in reports.values()])
        ax.set_xlabel("worst probe's false-positive rate")
        ax.set_xlim(0, 1)
        ax.set_title(f"Master keys and exploits ({probes[0]['questions']} SmolLM2-corpus "
                     "questions, SmolLM2 judge)", fontsize=9)  # fmt: skip
        names.append(save_figure(plt, fig, folder, "judge-probes.png"))
    return names
