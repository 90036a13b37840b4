"""LLM-written reward code against a real local model: Auto MC-Reward-style and LaRe's encoder.

:func:`run_code_loops` starts :class:`~rewardkit.lm.serving.LocalServer` (``transformers
serve`` with SmolLM2-135M-Instruct, offline) and runs, with it as every role:

- **Auto MC-Reward-style** (:func:`~rewardkit.author.code_reward.design_reward_code`) on
  MiniGrid-DoorKey-5x5-v0 as shipped. The designer is told the observation as a dict of
  the agent's cell, direction, key, door and goal (the paper's "predefined observation
  inputs", privileged state as its lidar and inventory are). The sample transitions and the
  analyser's episodes are scripted successes (a breadth-first planner after a random
  prefix) and random-policy episodes; each accepted reward is measured by the AUC of its
  episode returns, successes against failures. A hand-written milestone reward, labelled
  as such and never passed off as the model's, runs through the same sandbox path as the
  scale's reference.
- **LaRe** (:func:`~rewardkit.author.latent_factors.write_encoder`) on CartPole-v1: the
  encoder is written from the task's description and self-verified on random-policy states.
  An accepted encoder's factors are measured on random-policy episodes by how well they
  predict the steps left before the pole falls (CartPole pays +1 a step, so there is no
  varying per-step reward to correlate with), beside the hand-written encoder of the
  delayed-credit suite and the raw observation. Then, in the full run, PPO under the
  delayed reward (40k frames, 3 seeds): ``lare`` with the generated encoder (in the
  sandbox, one run per rollout), ``lare`` with the hand-written one, and none.

Both prompts show a one-shot example for a *different* task (the paper's prompts show
their templates). Every attempt, its code and its checks go to ``out_dir/code_loops.json``;
the returned dict is the summary. Nothing falls back to hand-written code: a loop that
accepts nothing reports that.

Run: ``run_code_loops(quick=False, seed=0, out_dir=Path("runs/judge-code"))``
(``quick=True``: one round each, no PPO). Time is the model's: 8 replies (1,104 tokens) in
the full run, 5 (650) in the quick one; on this 2-core machine, shared with other jobs
(``load_average`` in the summary), the full run took 7.1 min and the quick one 4.7 min.
"""

from __future__ import annotations

import collections
import copy
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.author.code_reward import (
    CodeRewardConfig,
    CodeRewardResult,
    Episode,
    GeneratedReward,
    RewardTask,
    design_reward_code,
    episode_summary,
)
from rewardkit.author.latent_factors import (
    EncoderResult,
    EncoderTask,
    LatentFactorConfig,
    PrefetchEncoder,
    SandboxedEncoder,
    write_encoder,
)
from rewardkit_bench.delayed_credit import cartpole_factors

__all__ = ["CARTPOLE", "DOORKEY", "REFERENCE_DOORKEY_REWARD", "run_code_loops"]

MINIGRID_ENV = "MiniGrid-DoorKey-5x5-v0"
#: the designer's one-shot example of the format: a DIFFERENT task (the paper's prompt shows
#: its own template); written for this benchmark
DOORKEY_EXAMPLE = """# Task: a robot must reach its charger.
# obs and next_obs: {'robot': [x, y], 'charger': [x, y]}
def reward(obs, action, next_obs):
    def distance(o):
        return abs(o["robot"][0] - o["charger"][0]) + abs(o["robot"][1] - o["charger"][1])
    value = 0.1 * (distance(obs) - distance(next_obs))  # dense: moved closer
    if next_obs["robot"] == next_obs["charger"]:
        value += 1.0  # sparse: arrived
    return value
"""
#: LaRe's one-shot example of the format: a DIFFERENT task, written for this benchmark
CARTPOLE_EXAMPLE = """# Task: drive a car up a hill to position 0.5. obs = [position, velocity]
def encode(obs, action):
    distance_to_goal = abs(0.5 - obs[0])
    speed = abs(obs[1])
    return [distance_to_goal, speed]
"""
DOORKEY = RewardTask(
    "MiniGrid-DoorKey-5x5-v0",
    "MiniGrid DoorKey on a 5x5 grid: the agent must pick up the key, open the locked door "
    "with it, then walk onto the goal square. x grows to the right, y downwards. obs and "
    "next_obs are dicts: 'agent' is the agent's cell [x, y]; 'direction' is 0 right, 1 down, "
    "2 left, 3 up; 'has_key' is True once the agent carries the key; 'door_open' is True "
    "once the door is open; 'key' is the key's cell [x, y], or None once picked up; 'door' "
    "and 'goal' are cells [x, y]. action is an int: 0 turn left, 1 turn right, 2 move "
    "forward, 3 pick up, 5 toggle (open the door).",
    example=DOORKEY_EXAMPLE,
)
#: the scale's reference: hand-written for this benchmark, NOT model output
REFERENCE_DOORKEY_REWARD = """def reward(obs, action, next_obs):
    value = -0.01
    if next_obs["has_key"] and not obs["has_key"]:
        value += 1.0
    if next_obs["door_open"] and not obs["door_open"]:
        value += 1.0
    if next_obs["agent"] == next_obs["goal"]:
        value += 1.0
    return value
"""
CARTPOLE = EncoderTask(
    "CartPole-v1",
    "CartPole-v1: a pole is hinged on a cart that moves left or right on a track. obs is a "
    "list of 4 floats: obs[0] the cart's position (the episode ends beyond -2.4 or 2.4), "
    "obs[1] the cart's velocity, obs[2] the pole's angle in radians (the episode ends beyond "
    "-0.21 or 0.21), obs[3] the pole's angular velocity. action is 0 (push the cart left) or "
    "1 (push it right). The goal is to keep the pole upright and the cart near the centre "
    "for as long as possible.",
    example=CARTPOLE_EXAMPLE,
)
_PLAN_ACTIONS = (0, 1, 2, 3, 5)
#: PPO frames per run in the full run (the delayed-credit suite's quick CartPole budget)
PPO_FRAMES = 40_000
PPO_SEEDS = 3


# -- MiniGrid DoorKey: states, a planner, episodes -----------------------------------------------


def doorkey_state(env: Any) -> dict[str, Any]:
    """The dict the designer is told about, read from the unwrapped MiniGrid env."""
    world = env.unwrapped
    cells: dict[str, Any] = {"key": None, "door": None, "goal": None}
    door_open = False
    for x in range(world.width):
        for y in range(world.height):
            thing = world.grid.get(x, y)
            if thing is not None and thing.type in cells:
                cells[thing.type] = [x, y]
                door_open = door_open or (thing.type == "door" and bool(thing.is_open))
    agent = [int(v) for v in world.agent_pos]
    return {"agent": agent, "direction": int(world.agent_dir),
            "has_key": world.carrying is not None, "door_open": door_open, **cells}  # fmt: skip


def _plan(world: Any) -> list[int]:
    """The shortest action sequence to the goal (breadth-first over copies of the env)."""

    def key(w: Any) -> tuple[Any, ...]:
        state = doorkey_state(w)
        return tuple(state["agent"]), state["direction"], state["has_key"], state["door_open"]

    frontier = collections.deque([(world, list[int]())])
    seen = {key(world)}
    while frontier:
        node, path = frontier.popleft()
        for action in _PLAN_ACTIONS:
            child = copy.deepcopy(node)
            _, reward, terminated, truncated, _ = child.step(action)
            if terminated and reward > 0:
                return [*path, action]
            if not (terminated or truncated) and key(child) not in seen:
                seen.add(key(child))
                frontier.append((child, [*path, action]))
    return []


def doorkey_episode(seed: int, scripted: bool, rng: np.random.Generator) -> Episode:
    """One episode: scripted (a random prefix, then the planner) or random throughout."""
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the MiniGrid envs)

    env = gym.make(MINIGRID_ENV)
    env.reset(seed=seed)
    transitions: list[dict[str, Any]] = []
    plan: list[int] = []
    prefix = int(rng.integers(0, 25)) if scripted else math.inf
    done, success = False, False
    while not done:
        if len(transitions) >= prefix and not plan:
            plan = _plan(env.unwrapped) or [int(rng.choice(_PLAN_ACTIONS))]
        action = plan.pop(0) if plan else int(rng.choice(_PLAN_ACTIONS))
        before = doorkey_state(env)
        _, reward, terminated, truncated, _ = env.step(action)
        transitions.append({"obs": before, "action": action, "next_obs": doorkey_state(env)})
        done, success = terminated or truncated, bool(terminated and float(reward) > 0)
    env.close()
    return Episode(tuple(transitions), success, "" if success else _note(transitions))


def _note(transitions: Sequence[dict[str, Any]]) -> str:
    last = transitions[-1]["next_obs"]
    got = "picked up the key" if last["has_key"] else "never picked up the key"
    door = "opened the door" if last["door_open"] else "never opened the door"
    return f"{got}, {door}, and did not reach the goal in {len(transitions)} steps"


def doorkey_episodes(scripted: int, random: int, seed: int) -> list[Episode]:
    """``scripted`` planned episodes and ``random`` random-policy ones, MiniGrid seeds from
    ``seed``."""
    rng = np.random.default_rng(seed)
    kinds = [True] * scripted + [False] * random
    return [doorkey_episode(seed + i, kind, rng) for i, kind in enumerate(kinds)]


def _spread(episodes: Sequence[Episode], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` sample transitions: every scripted step (the milestones) topped up at random."""
    rng = np.random.default_rng(seed)
    scripted = [t for e in episodes if e.success for t in e.transitions]
    others = [t for e in episodes if not e.success for t in e.transitions]
    chosen = scripted[:count]
    extra = rng.choice(len(others), size=min(len(others), count - len(chosen)), replace=False)
    return [*chosen, *(others[i] for i in sorted(extra))]


# -- CartPole: states and how much the factors know --------------------------------------------


def cartpole_rollouts(episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random-policy CartPole steps: observations, actions, and steps left in the episode."""
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    obs_all, act_all, left_all = [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        steps: list[tuple[np.ndarray, int]] = []
        done = False
        while not done:
            action = int(rng.integers(2))
            steps.append((obs, action))
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        obs_all += [s[0] for s in steps]
        act_all += [s[1] for s in steps]
        left_all += list(range(len(steps), 0, -1))
    env.close()
    return np.asarray(obs_all), np.asarray(act_all), np.asarray(left_all, dtype=np.float64)


def factor_signal(factors: np.ndarray, steps_left: np.ndarray) -> dict[str, Any]:
    """Per-factor Pearson r with the steps left, and the R² of a least-squares fit on all."""
    steps_left = np.minimum(steps_left, 20.0)  # "how close to falling", near the end
    design = np.column_stack([factors, np.ones(len(factors))])
    fit, *_ = np.linalg.lstsq(design, steps_left, rcond=None)
    residual = steps_left - design @ fit
    r2 = 1.0 - float(residual.var() / steps_left.var())
    corr = [float(np.corrcoef(f, steps_left)[0, 1]) if f.std() > 0 else math.nan for f in factors.T]
    best = max((abs(c) for c in corr if math.isfinite(c)), default=math.nan)
    return {
        "factors": int(factors.shape[1]),
        "r2": round(r2, 4),
        "max_abs_r": round(best, 4),
        "r": [round(c, 4) for c in corr],
    }


# -- PPO under the delayed reward --------------------------------------------------------------


def lare_ppo(
    design: str, frames: int, seed: int, encoder: SandboxedEncoder | None
) -> dict[str, Any]:
    """PPO on delayed CartPole: ``delayed`` (no redistribution), ``lare-hand-written`` or
    ``lare-generated`` (``encoder``, evaluated in the sandbox once per rollout)."""
    import gymnasium as gym
    import torch

    from rewardkit.adapters.gymnasium import DelayedReward
    from rewardkit.credit.delayed import OnlineRedistribution
    from rewardkit.train.ppo import PPOConfig, PPOTrainer

    torch.set_num_threads(1)
    term: Any = None
    if design == "lare-hand-written":
        term = OnlineRedistribution(
            "lare", 4, 2, encoder=cartpole_factors, encoder_dim=4, seed=seed
        )
    elif design == "lare-generated" and encoder is not None:
        encoder.runs = encoder.misses = 0
        inner = OnlineRedistribution(
            "lare", 4, 2, encoder=encoder, encoder_dim=encoder.dim, seed=seed
        )
        term = PrefetchEncoder(inner, encoder)
    start = time.monotonic()
    config = PPOConfig(env_id="CartPole-v1", total_frames=frames, seed=seed)
    log = PPOTrainer(
        config, reward=term, env_fn=lambda: DelayedReward(gym.make("CartPole-v1"))
    ).train()
    seconds = time.monotonic() - start
    used = encoder if design == "lare-generated" else None
    returns = [float(r["episode_return"]) for r in log if r.get("episodes", 0) > 0]
    failed = [float(v) for r in log for k, v in r.items() if k.endswith("not_ok_frac")]
    return {
        "design": design,
        "seed": seed,
        "frames": frames,
        "seconds": round(seconds, 1),
        "final_return": round(float(np.mean(returns[-3:])), 1) if returns else math.nan,
        "failed_batches": sum(v > 0 for v in failed),
        "sandbox_runs": used.runs if used is not None else 0,
        "per_row_misses": used.misses if used is not None else 0,
    }


# -- the two loops, measured -------------------------------------------------------------------


def _excerpts(attempts: Sequence[Any], count: int = 3, chars: int = 500) -> list[dict[str, Any]]:
    """The first ``count`` attempts with code: their status, message and code (truncated)."""
    with_code = [a for a in attempts if a.code][:count]
    return [
        {"status": a.status, "message": a.message[:200], "code": a.code[:chars]} for a in with_code
    ]


def _statuses(attempts: Sequence[Any]) -> dict[str, int]:
    return dict(collections.Counter(a.status for a in attempts))


def run_auto_mc_reward(
    client: Any, quick: bool, seed: int
) -> tuple[dict[str, Any], CodeRewardResult]:
    """Auto MC-Reward-style loop on DoorKey-5x5 with ``client``; the summary and the full result."""
    start = time.monotonic()
    episodes = doorkey_episodes(scripted=3 if quick else 4, random=4 if quick else 8, seed=seed)
    samples = _spread(episodes, 48, seed)
    config = CodeRewardConfig(rounds=1 if quick else 2, revisions=1, seed=seed)
    result = design_reward_code(client, DOORKEY, samples, episodes=episodes, config=config)
    reference = GeneratedReward(REFERENCE_DOORKEY_REWARD, DOORKEY, config.limits(), "reference")
    rows = [t for e in episodes for t in e.transitions]
    scored = reference({k: [t[k] for t in rows] for k in DOORKEY.arguments})
    accepted = result.accepted
    summary = {
        "task": DOORKEY.name,
        "episodes": {
            "successes": sum(e.success for e in episodes),
            "failures": sum(not e.success for e in episodes),
            "transitions": len(rows),
            "samples": len(samples),
        },
        "config": asdict(config),
        "counts": result.counts(),
        "statuses": _statuses(result.attempts),
        "excerpts": _excerpts(result.attempts),
        "accepted": None
        if accepted is None
        else {
            "round": accepted.round,
            "code": accepted.code,
            "stats": dict(accepted.stats),
            "critic_reply": (accepted.critic_reply or "")[:300],
        },
        "analyses": [a[:400] for a in result.analyses],
        "reference": {
            "label": "hand-written milestone reward (NOT model output)",
            **episode_summary(scored.total, episodes),
        },
        "seconds": round(time.monotonic() - start, 1),
    }
    return summary, result


def run_lare(
    client: Any, quick: bool, seed: int
) -> tuple[dict[str, Any], EncoderResult, SandboxedEncoder | None]:
    """LaRe's encoder writing on CartPole with ``client``: the summary, result and encoder."""
    start = time.monotonic()
    obs, actions, _ = cartpole_rollouts(12, seed)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(obs), size=min(len(obs), 128), replace=False))
    config = LatentFactorConfig(
        candidates=2 if quick else 3, rounds=1 if quick else 2, temperature=0.4, seed=seed
    )
    result = write_encoder(client, CARTPOLE, obs[pick], actions[pick], config=config)
    encoder = result.encoder() if result.accepted is not None else None
    test_obs, test_actions, left = cartpole_rollouts(30, seed + 1000)
    signal = {
        "hand-written (delayed-credit, NOT model output)": factor_signal(
            np.array([cartpole_factors(o, a) for o, a in zip(test_obs, test_actions, strict=True)]),
            left,
        ),
        "raw observation (identity encoder)": factor_signal(test_obs, left),
    }
    if encoder is not None:
        run = encoder.encode(test_obs, test_actions)
        signal["generated"] = (
            factor_signal(run.values, left)
            if run.values is not None
            else {"failed": f"{run.status}: {run.message}"}
        )
    accepted = result.accepted
    summary = {
        "task": CARTPOLE.name,
        "samples": len(pick),
        "config": asdict(config),
        "test_steps": len(left),
        "counts": result.counts(),
        "statuses": _statuses(result.attempts),
        "excerpts": _excerpts(result.attempts),
        "accepted": None
        if accepted is None
        else {
            "source": accepted.source,
            "round": accepted.round,
            "code": accepted.code,
            "factors": accepted.factors,
            "stats": dict(accepted.stats),
        },
        "factor_signal": signal,
        "seconds": round(time.monotonic() - start, 1),
    }
    return summary, result, encoder


def _settings(server: Any, quick: bool) -> Any:
    from rewardkit.judge import JudgeSettings

    # transformers serve samples only with do_sample on (the model's generation config has
    # it off); temperature-0 requests still decode greedily
    sampling = {"generation_config": json.dumps({"do_sample": True})}
    return JudgeSettings(
        model=server.model,
        base_url=server.base_url,
        temperature=0.0,
        max_tokens=192,
        deadline_s=240.0,
        retries=0,
        max_concurrency=1,
        extra_body=sampling,
    )


def run_code_loops(quick: bool, seed: int, out_dir: Path) -> dict[str, Any]:
    """Both loops against a real SmolLM2 server, then (full run) PPO; see the module docs.

    Writes every attempt to ``out_dir/code_loops.json`` and returns the summary.
    """
    from rewardkit.judge import JudgeClient
    from rewardkit.lm.serving import LocalServer

    start = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with LocalServer() as server:
        settings = _settings(server, quick)
        client = JudgeClient(settings)
        try:
            code_summary, code_result = run_auto_mc_reward(client, quick, seed)
            lare_summary, lare_result, encoder = run_lare(client, quick, seed)
        finally:
            client.close()
        served = {
            "model": server.model,
            "max_tokens": settings.max_tokens,
            "decoding": "greedy (designer, critic, analyser, synthesis); LaRe's candidates "
            "sampled at temperature 0.4 with a seed each",
            "prompts": "each loop's prompt shows a one-shot example for a DIFFERENT task "
            "(a robot reaching a charger; MountainCar factors): DOORKEY_EXAMPLE, "
            "CARTPOLE_EXAMPLE",
            "usage": client.usage.as_dict(),
        }
    lare_summary["ppo"] = _ppo_block(quick, seed, encoder)
    summary = {
        "quick": quick,
        "seed": seed,
        "server": served,
        "auto_mc_reward": code_summary,
        "lare": lare_summary,
        "seconds": round(time.monotonic() - start, 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],  # others' jobs slow it
    }
    full = {
        "summary": summary,
        "auto_mc_reward": code_result.to_dict(),
        "lare": lare_result.to_dict(),
    }
    (out_dir / "code_loops.json").write_text(json.dumps(full, indent=1, default=str))
    return summary


def _ppo_block(quick: bool, seed: int, encoder: SandboxedEncoder | None) -> dict[str, Any]:
    """Short PPO runs after the server is down (never two torch jobs at once)."""
    if quick:
        return {"skipped": "quick run"}
    designs = ["delayed", "lare-hand-written"] + (["lare-generated"] if encoder else [])
    seeds = [seed + k for k in range(PPO_SEEDS)]
    runs = [lare_ppo(name, PPO_FRAMES, s, encoder) for s in seeds for name in designs]
    medians = {
        name: float(np.median([r["final_return"] for r in runs if r["design"] == name]))
        for name in designs
    }
    note = "" if encoder is not None else "no encoder was accepted: no lare-generated run"
    return {"frames": PPO_FRAMES, "seeds": seeds, "median_final_return": medians,
            "runs": runs, "note": note}  # fmt: skip
