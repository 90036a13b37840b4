"""Model-authored rewards on a real local server: L2R-, CALM- and ONI-style loops, lab tasks.

:func:`run_param_loops` starts ``transformers serve`` with SmolLM2-135M-Instruct
(:class:`rewardkit.lm.serving.LocalServer`, offline) and runs three loops of
:mod:`rewardkit.author`, reporting what the model wrote and how it scored:

- **L2R-style parameter filling**, Gymnasium ``Pendulum-v1``: sampled fillings of a
  four-parameter template for "swing up and hold still using little torque",
  each scored by its Spearman correlation with the shipped reward over random
  rollouts and by the shipped return of a CEM model-predictive controller
  maximising it from the hanging position (the paper uses MuJoCo MPC);
  references: the env's own weights set by hand, random fillings, zero torque.
- **CALM-style shaping**, MiniGrid ``DoorKey-5x5``: the model's subgoals; its yes/no
  judgments (text, and P(yes) from ``/v1/systemone`` as an AUC) of three
  reference subgoals against the env's predicates on a class-balanced set
  (half the negatives take the subgoal's own action); a ``SubgoalBonus`` run.
- **ONI-style labels**, same task: a random agent steps while an ``AsyncLabeller`` labels
  new state captions in the background; the distilled classifier against the
  model's labels of held-out captions.

Captions come from :mod:`rewardkit_bench.tasks.doorkey_text`. Every number comes from the model's
own answers; unusable answers are counted with their reasons, never replaced.
The server runs with ``OMP_NUM_THREADS=1`` unless set: on a shared 2-core
machine torch's default threads made each call about 4x slower.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rewardkit.author import labels as oni
from rewardkit.author import parameters as l2r
from rewardkit.author import subgoals as calm
from rewardkit.judge import JudgeClient, JudgeSettings
from rewardkit.lm.serving import LocalServer
from rewardkit_bench.tasks.doorkey_text import DOORKEY, POLICY, doorkey_caption, doorkey_transitions

__all__ = ["PENDULUM", "auc", "mpc_return", "pendulum_reward", "run_param_loops", "spearman"]

INSTRUCTION = "Swing the pendulum up and hold it still at the top, using little torque."
DOORKEY_TASK = "Pick up the key, open the door with it, then reach the green goal square."
REFERENCE_SUBGOALS = ("pick up the key", "open the door", "reach the green goal square")
SUBGOAL_ACTION = (3, 5, 2)  # the action that achieves each reference subgoal


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each loop does (fields named for what they count)."""

    attempts: int
    mpc_episodes: int
    random_fillings: int
    per_class: int
    segment: int
    max_subgoals: int
    oni_seconds: tuple[float, float]  # text labels, P(yes) labels
    held_out: int


QUICK = Sizes(2, 1, 3, 1, 2, 3, (0.0, 6.0), 5)  # quick: no text-label ONI run
FULL = Sizes(8, 2, 8, 6, 10, 4, (20.0, 40.0), 24)


def _excerpt(text: str | None, limit: int = 240) -> str | None:
    text = None if text is None else " ".join(text.split())
    return text if text is None or len(text) <= limit else text[: limit - 3] + "..."


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v == v]
    return float(np.mean(finite)) if finite else None


def _number(value: float) -> float | None:
    return None if value != value else float(value)  # NaN is not JSON


# -- Language to Rewards on Pendulum-v1 ------------------------------------------------


def pendulum_reward(values: Mapping[str, float], batch: Mapping[str, Any]) -> np.ndarray:
    """-(w_angle·(θ−θ*)² + w_velocity·θ̇² + w_torque·u²) from Pendulum's obs (cos θ, sin θ, θ̇)."""
    obs = np.asarray(batch["obs"], dtype=np.float64).reshape(-1, 3)
    torque = np.asarray(batch["action"], dtype=np.float64).reshape(len(obs), -1)[:, 0]
    error = np.arctan2(obs[:, 1], obs[:, 0]) - values["target_angle"]
    error = (error + np.pi) % (2 * np.pi) - np.pi
    cost = values["w_angle"] * error**2 + values["w_velocity"] * obs[:, 2] ** 2
    result: np.ndarray = -(cost + values["w_torque"] * np.clip(torque, -2, 2) ** 2)
    return result


PENDULUM = l2r.RewardTemplate(
    "pendulum",
    "reward = -(w_angle * (angle - target_angle)^2 + w_velocity * velocity^2 "
    "+ w_torque * torque^2), the angle of the pendulum in radians (0 = straight up)",
    (
        l2r.Parameter("target_angle", -3.1416, 3.1416, "the angle to hold; 0 is up, 3.14 is down"),
        l2r.Parameter("w_angle", 0.0, 10.0, "how much being away from the target angle costs"),
        l2r.Parameter("w_velocity", 0.0, 10.0, "how much moving fast costs"),
        l2r.Parameter("w_torque", 0.0, 10.0, "how much using torque costs"),
    ),
    pendulum_reward,
)
#: the env's own cost (θ² + 0.1 θ̇² + 0.001 u²) in the template: set by hand, a reference
SHIPPED = {"target_angle": 0.0, "w_angle": 1.0, "w_velocity": 0.1, "w_torque": 0.001}


def _random_rollouts(episodes: int, seed: int) -> dict[str, np.ndarray]:
    env = gym.make("Pendulum-v1")
    rng = np.random.default_rng(seed)
    rows: dict[str, list[Any]] = {"obs": [], "action": [], "reward": []}
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            action = rng.uniform(-2.0, 2.0, size=1).astype(np.float32)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            for key, value in (("obs", obs), ("action", action), ("reward", float(reward))):
                rows[key].append(value)
            obs, done = next_obs, terminated or truncated
    env.close()
    return {key: np.array(value) for key, value in rows.items()}


def spearman(a: Any, b: Any) -> float:
    """Spearman's rank correlation (ties get their mean rank); NaN when a side is constant."""
    ranks = []
    for x in (np.asarray(a, float), np.asarray(b, float)):
        _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
        ranks.append((np.cumsum(counts) - (counts - 1) / 2.0)[inverse])
    if ranks[0].std() == 0 or ranks[1].std() == 0:
        return float("nan")
    return float(np.corrcoef(ranks[0], ranks[1])[0, 1])


def auc(scores: list[float | None], truth: list[bool]) -> float | None:
    """P(score of a positive > score of a negative), ties half; None without both classes."""
    pairs = [(s, t) for s, t in zip(scores, truth, strict=True) if s is not None]
    pos, neg = [s for s, t in pairs if t], [s for s, t in pairs if not t]
    if not pos or not neg:
        return None
    return float(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg]))


Reward = Callable[[dict[str, Any]], np.ndarray]


def _plan(reward: Reward, state: np.ndarray, mean: np.ndarray, rng: np.random.Generator) -> Any:
    """Cross-entropy method over Pendulum-v1's own dynamics (g=10, m=l=1, dt=0.05):
    3 rounds of 64 torque sequences, the 8 best refit the mean."""
    std = np.ones_like(mean)
    for _ in range(3):
        plans = np.clip(mean + std * rng.standard_normal((64, len(mean))), -2.0, 2.0)
        th, thdot, total = np.full(64, state[0]), np.full(64, state[1]), np.zeros(64)
        for t in range(len(mean)):
            obs = np.stack([np.cos(th), np.sin(th), thdot], axis=1)
            total += reward({"obs": obs, "action": plans[:, t : t + 1]})
            thdot = np.clip(thdot + (15.0 * np.sin(th) + 3.0 * plans[:, t]) * 0.05, -8.0, 8.0)
            th = th + thdot * 0.05
        elite = plans[np.argsort(total)[-8:]]
        mean, std = elite.mean(axis=0), elite.std(axis=0) + 0.05
    return mean


def mpc_return(reward: Reward | None, seed: int) -> float:
    """The shipped return of one Pendulum-v1 episode driven by CEM-MPC on ``reward``
    (horizon 20) from hanging down (θ = π ± 0.1, the swing-up case of the shipped
    uniform reset); ``reward=None`` applies zero torque."""
    env = gym.make("Pendulum-v1")
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    env.unwrapped.state = np.array([np.pi + rng.uniform(-0.1, 0.1), 0.0])  # type: ignore[attr-defined]
    mean, total, done = np.zeros(20), 0.0, False
    while not done:
        if reward is not None:
            state = np.array(env.unwrapped.state, dtype=np.float64)  # type: ignore[attr-defined]
            mean = _plan(reward, state, mean, rng)
        _, r, terminated, truncated, _ = env.step(np.array([mean[0]], dtype=np.float32))
        total, done = total + float(r), terminated or truncated
        mean = np.append(mean[1:], 0.0)
    env.close()
    return total


def _score(values: Mapping[str, float], data: dict[str, Any], episodes: int, seed: int) -> Any:
    filled = PENDULUM.fill(values)
    returns = [mpc_return(filled.reward, seed + 1000 + k) for k in range(episodes)]
    return {
        "values": {k: round(v, 4) for k, v in filled.values.items()},
        "spearman_vs_shipped": _number(spearman(filled.reward(data), data["reward"])),
        "mpc_shipped_return": float(np.mean(returns)),
    }


def run_language_to_rewards(client: JudgeClient, size: Sizes, seed: int) -> dict[str, Any]:
    """L2R on Pendulum-v1 (module doc); ``client`` must sample (temperature > 0)."""
    episodes, started = size.mpc_episodes, time.perf_counter()
    answers = l2r.fill_template(
        client, PENDULUM, INSTRUCTION, attempts=size.attempts, max_tokens=64
    )
    llm_s = time.perf_counter() - started
    data = _random_rollouts(4, seed)
    rows: list[dict[str, Any]] = []
    for k, answer in enumerate(answers):
        if isinstance(answer, l2r.FilledTemplate):
            row = {"attempt": k, "ok": True, **_score(answer.values, data, episodes, seed)}
        else:
            row = {"attempt": k, "ok": False, "status": answer.status.name, "reason": answer.reason}
        rows.append({**row, "answer": _excerpt(answer.text)})
    rng = np.random.default_rng(seed)
    draws = [
        {p.name: rng.uniform(p.low, p.high) for p in PENDULUM.parameters}
        for _ in range(size.random_fillings)
    ]
    randoms_scored = [_score(d, data, episodes, seed) for d in draws]
    ok = [r for r in rows if r["ok"]]
    zero = [mpc_return(None, seed + 1000 + k) for k in range(episodes)]
    return {
        "task": "Pendulum-v1 as shipped; instruction: " + INSTRUCTION,
        "prompt": PENDULUM.prompt(INSTRUCTION).messages[-1]["content"],
        "attempts": rows,
        "parsed": f"{len(ok)}/{len(rows)}",
        "llm_seconds": llm_s,
        "model_mean_spearman (constant rewards have none)": _mean(
            [r["spearman_vs_shipped"] for r in ok if r["spearman_vs_shipped"] is not None]
        ),
        "model_mean_mpc_return": _mean([r["mpc_shipped_return"] for r in ok]),
        "reference_env_weights_set_by_hand": _score(SHIPPED, data, episodes, seed),
        "baseline_random_fillings": randoms_scored,
        "baseline_random_mean_spearman": _mean([r["spearman_vs_shipped"] for r in randoms_scored]),
        "baseline_random_mean_mpc_return": _mean([r["mpc_shipped_return"] for r in randoms_scored]),
        "baseline_zero_torque_return": float(np.mean(zero)),
        "correlation_data": f"{len(data['reward'])} steps of uniform random torque, 4 episodes",
    }


# -- CALM ----------------------------------------------------------------------------------


def _balanced(rows: list[dict[str, Any]], k: int, per_class: int, rng: Any) -> list[Any]:
    """``per_class`` distinct positives of subgoal ``k`` and as many negatives, half of them
    taking the subgoal's own action."""

    def pick(pool: list[dict[str, Any]], n: int, label: bool) -> list[tuple[str, bool]]:
        unique = list({r["caption"]: r for r in pool}.values())
        picks = rng.choice(len(unique), size=min(n, len(unique)), replace=False)
        return [(unique[int(i)]["caption"], label) for i in picks]

    negatives = [r for r in rows if not r["truth"][k]]
    hard = [r for r in negatives if r["action"] == SUBGOAL_ACTION[k]]
    easy = [r for r in negatives if r["action"] != SUBGOAL_ACTION[k]]
    positives = pick([r for r in rows if r["truth"][k]], per_class, True)
    return positives + pick(hard, per_class // 2, False) + pick(easy, (per_class + 1) // 2, False)


def _agreement(said: list[bool | None], truth: list[bool]) -> dict[str, Any]:
    """Accuracy, F1 and yes-rate of the judged pairs, beside the constant answers'."""
    pairs = [(s, t) for s, t in zip(said, truth, strict=True) if s is not None]
    tp, n, positives = sum(s and t for s, t in pairs), len(pairs), sum(t for _, t in pairs)
    fp, fn = sum(s and not t for s, t in pairs), sum(t and not s for s, t in pairs)
    return {
        "judged": f"{n}/{len(said)}",
        "accuracy": sum(s == t for s, t in pairs) / n if n else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "yes_rate": sum(bool(s) for s, _ in pairs) / n if n else None,
        "always_no_accuracy": (n - positives) / n if n else None,
        "always_yes_f1": 2 * positives / (n + positives) if n else None,
    }


def _proposal(proposal: calm.Subgoals | l2r.AuthoringFailure) -> dict[str, Any]:
    if isinstance(proposal, l2r.AuthoringFailure):
        return {"ok": False, "reason": proposal.reason, "answer": _excerpt(proposal.text)}
    mentioned = " ".join(proposal.items).lower()
    keywords = {w: w in mentioned for w in ("key", "door", "goal")}
    return {
        "ok": True,
        "subgoals": list(proposal.items),
        "answer": _excerpt(proposal.text),
        "mentions (keyword match)": keywords,
    }


def _bonus_run(client: JudgeClient, proposal: Any, rows: list[Any], length: int) -> Any:
    """The SubgoalBonus with the model's subgoals over ``length`` transitions that end
    just after a key pickup."""
    if isinstance(proposal, calm.Subgoals):
        goals, source = list(proposal.items), "the model's proposal"
    else:
        goals, source = list(REFERENCE_SUBGOALS), "fallback: the reference subgoals, by hand"
    start = max(next(i for i, r in enumerate(rows) if r["truth"][0]) - length + 2, 0)
    window = rows[start : start + length]
    bonus = calm.SubgoalBonus(client, DOORKEY_TASK, goals)
    out = bonus({key: [r[key] for r in window] for key in ("caption", "terminated", "truncated")})
    return {
        "subgoals_used": goals,
        "subgoals_source": source,
        "true_events_per_row (key, door, goal)": [[int(t) for t in r["truth"]] for r in window],
        "bonus_per_row": [None if v != v else float(v) for v in out.total],
        "statuses": out.status_counts(),
        **bonus.update({}),
    }


def _judge_reference(client: JudgeClient, rows: list[Any], per_class: int, seed: int) -> Any:
    """Text yes/no and P(yes) judgments of each reference subgoal on a balanced set."""
    rng, per_goal = np.random.default_rng(seed), {}
    pooled: dict[str, list[Any]] = {"said": [], "p": [], "truth": []}
    for k, goal in enumerate(REFERENCE_SUBGOALS):
        chosen = _balanced(rows, k, per_class, rng)
        captions, truth = [c for c, _ in chosen], [t for _, t in chosen]
        text = [j[0] for j in calm.judge_achievements(client, DOORKEY_TASK, [goal], captions)]
        graded = calm.judge_achievements(client, DOORKEY_TASK, [goal], captions, systemone=True)
        p = [j[0].probability for j in graded]
        said = [j.achieved for j in text]
        per_goal[goal] = {
            "positives": sum(truth),
            "negatives": len(truth) - sum(truth),
            **_agreement(said, truth),
            "p_yes_auc": auc(p, truth),
            "answers": [_excerpt(j.text or j.reason, 60) for j in text[:2]],
        }
        for key, values in (("said", said), ("p", p), ("truth", truth)):
            pooled[key] += values
    pooled_auc = auc(pooled["p"], pooled["truth"])
    return per_goal, {**_agreement(pooled["said"], pooled["truth"]), "p_yes_auc": pooled_auc}


def run_calm(client: JudgeClient, size: Sizes, seed: int) -> dict[str, Any]:
    """CALM on DoorKey-5x5 (module doc)."""
    started = time.perf_counter()
    proposal = calm.propose_subgoals(client, DOORKEY_TASK, max_subgoals=size.max_subgoals)
    rows = doorkey_transitions(10_000, seed)
    per_goal, pooled = _judge_reference(client, rows, size.per_class, seed)
    return {
        "task": f"{DOORKEY} as shipped, random agent; captions written from the grid",
        "proposal": _proposal(proposal),
        "judgments_vs_env_predicates": per_goal,
        "pooled": pooled,
        "p_yes_auc_by_chance": 0.5,
        "bonus_run": _bonus_run(client, proposal, rows, size.segment),
        "seconds": time.perf_counter() - started,
    }


# -- ONI -------------------------------------------------------------------------------------


def _oni_loop(reward: oni.LabelReward | None, seconds: float, seed: int) -> dict[str, Any]:
    """The random agent for ``seconds``; every 32 steps the term scores the captions and
    ``update`` hands them to the labeller (timed: what the agent waits for)."""
    env = gym.make(DOORKEY)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    captions: list[str] = []
    seen: set[str] = set()
    steps, in_term, start = 0, 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(int(rng.choice(len(POLICY), p=POLICY)))
        captions.append(doorkey_caption(env))
        steps += 1
        if terminated or truncated:
            env.reset(seed=int(rng.integers(2**31)))
        if len(captions) == 32:
            seen.update(captions)
            if reward is not None:
                t0 = time.perf_counter()
                reward({"caption": captions})
                reward.update({"caption": captions})
                in_term += time.perf_counter() - t0
            captions = []
    env.close()
    rate = steps / (time.perf_counter() - start)
    return {"steps": steps, "steps_per_s": rate, "seconds_in_term": in_term, "seen": seen}


def _held_out(reward: oni.LabelReward, seen: set[str], count: int, seed: int) -> dict[str, Any]:
    """The distilled model against the model's own labels of captions it never labelled."""
    labeller, labels = reward.labeller, reward.labeller.labels
    fresh = sorted(seen - set(labels) - set(labeller.failures))
    picks = np.random.default_rng(seed).choice(len(fresh), min(count, len(fresh)), replace=False)
    test = [fresh[int(i)] for i in picks]
    said = dict(zip(test, labeller.ask(test), strict=True))  # asked now, for evaluation
    judged = [c for c in test if said[c] is not None]
    llm = np.array([said[c] for c in judged], dtype=float)
    distilled, constant = reward.model.probability(judged), float(np.mean(list(labels.values())))
    out = {"captions": len(test), "llm_answered": len(judged), "llm_mean": _mean(list(llm))}
    if labeller.systemone:  # soft labels: rank agreement and error, against a constant model
        out["spearman_distilled_vs_llm"] = _number(spearman(distilled, llm)) if judged else None
        out["mae_distilled"] = _mean(list(np.abs(distilled - llm)))
        out["mae_constant_mean_label"] = _mean(list(np.abs(constant - llm)))
    else:
        out["agreement_distilled"] = _mean(list((distilled > 0.5) == (llm > 0.5)))
        out["agreement_majority_label"] = _mean(
            list(np.full(len(llm), constant >= 0.5) == (llm > 0.5))
        )
    truth = np.array([c.startswith("You hold the key") or "door is open" in c for c in judged])
    out["llm_auc_vs_progress (holds key or door open)"] = auc(list(llm), list(truth))
    return out


def run_oni(client: JudgeClient, seconds: float, held_out: int, seed: int, systemone: bool) -> Any:
    """ONI on DoorKey-5x5 (module doc); labels from the text (1/0) or P(yes)."""
    baseline = _oni_loop(None, 2.0, seed)
    labeller = oni.AsyncLabeller(client, DOORKEY_TASK, max_pending=8, systemone=systemone)
    reward = oni.LabelReward(labeller, refit_every=8)
    loop = _oni_loop(reward, seconds, seed)
    arrived, pending = labeller.stats.arrived, labeller.pending
    labeller.drain(timeout_s=min(seconds, 10.0))
    reward.refit()
    return {
        "labels": "P(yes) from /v1/systemone" if systemone else "text yes/no as 1/0",
        "agent_steps": loop["steps"],
        "steps_per_s": [round(loop["steps_per_s"]), round(baseline["steps_per_s"])],
        "steps_per_s is": "[with the labelling term, without it]",
        "seconds_in_term (scoring, offering, refitting)": loop["seconds_in_term"],
        "labeller_wait_s (offer + collect)": labeller.stats.wait_s,
        "fit_s (refitting the distilled model)": reward.fit_s,
        "labels_arrived_during_loop": arrived,
        "pending_at_loop_end": pending,
        "labeller": labeller.stats.as_dict(),
        "mean_label": _mean(list(labeller.labels.values())),
        "distinct_captions_seen": len(loop["seen"]),
        "answers": [_excerpt(a, 60) for a in list(labeller.answers.values())[:3]],
        "failures": [_excerpt(r, 120) for r in list(labeller.failures.values())[:2]],
        "held_out": _held_out(reward, loop["seen"], held_out, seed + 1),
    }


# -- the three together ----------------------------------------------------------------------


def _start(server: LocalServer) -> LocalServer:
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        return server.start()
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)


def run_param_loops(quick: bool, seed: int, out_dir: Path) -> dict[str, Any]:
    """Start SmolLM2-135M-Instruct behind ``transformers serve`` and run the three loops.

    Returns a JSON-able dict: per loop, what the model produced (excerpts), how
    often it could be used, and the reward or agreement numbers. The server's
    log goes to ``out_dir / "transformers-serve.log"``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    size, started = QUICK if quick else FULL, time.perf_counter()
    server = LocalServer(log_path=out_dir / "transformers-serve.log")
    with _start(server):
        boot_s = time.perf_counter() - started
        greedy = JudgeSettings(
            server.model, server.base_url, max_concurrency=2, retries=0, seed=seed
        )
        # the served model's generation config does not sample: temperature alone is ignored
        sample = {"generation_config": json.dumps({"do_sample": True})}
        sampled = JudgeClient(dataclasses.replace(greedy, temperature=0.7, extra_body=sample))
        client = JudgeClient(greedy)
        try:
            loops = {
                "language_to_rewards": run_language_to_rewards(sampled, size, seed),
                "calm": run_calm(client, size, seed),
            }
            for mode, seconds in zip(("text", "p_yes"), size.oni_seconds, strict=True):
                if seconds > 0:
                    labels = run_oni(client, seconds, size.held_out, seed, mode == "p_yes")
                    loops[f"oni_{mode}_labels"] = labels
        finally:
            sampled.close()
            client.close()
    usage = {"sampled": sampled.usage.as_dict(), "greedy": client.usage.as_dict()}
    call = f"run_param_loops(quick={quick}, seed={seed}, out_dir=...)"
    model = "SmolLM2-135M-Instruct (transformers serve, CPU, OMP_NUM_THREADS=1)"
    elapsed = time.perf_counter() - started
    return {
        "model": model,
        "call": call,
        "server_start_s": boot_s,
        "seconds": elapsed,
        "usage": usage,
        **loops,
    }
