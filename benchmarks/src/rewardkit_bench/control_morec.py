"""MOREC's dynamics reward on Gymnasium control tasks: multi-step model error, truncation, and
planning on the model with and without the filter.

Luo et al. (ICLR 2024), "Reward-Consistent Dynamics Models are Strongly Generalizable for
Offline Reinforcement Learning", filter the transitions of a learned dynamics ensemble by a
learned *dynamics reward* and cut rollouts where it is low
(:mod:`rewardkit.models.dynamics_reward`). This module measures that on CartPole-v1 and
Pendulum-v1 as Gymnasium ships them:

1. an offline dataset from a mixed behaviour policy (per episode, a share ε ~ U(0.2, 1) of
   uniform random actions, the rest from a simple hand-written controller);
2. an ensemble of 5 MLP dynamics models fit by plain MSE on Δs (bootstrapped, MOPO-style),
   each with its hold-out residual std (for MOPO-style Gaussian draws), and the dynamics
   reward fit on the same transitions;
3. on held-out start states (from held-out behaviour episodes) and action sequences (the
   episodes' own actions, and uniform random ones), the multi-step error of open-loop model
   rollouts against the real environment, reset to the same state through
   ``env.unwrapped.state``: (a) a random member's mean each step, (a') a random member's
   Gaussian draw (MOPO's sampling), (b) the ensemble mean, (c) MOREC: softmax (τ = 0.1) over
   every member's 2 Gaussian draws by dynamics reward, (c') the argmax over the members'
   means; and the share of MOREC rollouts that the threshold (0.6) truncates, with the error
   of truncated and kept rollouts;
4. (full runs) random-shooting MPC on the model (known reward and termination functions, as
   in MOPO), with the ensemble mean, a random member, or the MOREC filter (argmax over the
   members' means, a plan's return cut where r_D < 0.6), each evaluated in the real env.

Errors are the RMS over state dimensions of (model − real) / (the dataset's state std), a
step's error counting only while the real episode runs. The data are this project's own
(collected here from the shipped environments), not an outside dataset such as D4RL.

Against the paper: MOREC plugs the filter into MOPO / MOBILE, whose Gaussian ensembles learn
their variance and whose SAC policy learns on H = 100 model rollouts (D4RL, NeoRL); here the
ensemble is MSE-fit (draws use each member's hold-out residual std) and the policy check is
MPC by random shooting (2 real episodes per planner), a cheaper stand-in for offline RL.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import numpy as np

from rewardkit.models.dynamics_reward import (
    DynamicsReward,
    DynamicsRewardTraining,
    select_candidates,
    truncation_mask,
)

__all__ = ["rollout_errors", "run_morec"]

ENVS = ("CartPole-v1", "Pendulum-v1")
THRESHOLD, TEMPERATURE, MEMBERS, DRAWS = 0.6, 0.1, 5, 2


# --------------------------------------------------------------------------- environments
class _Task:
    """What differs between the two envs: action coding, controller, state setting, reward."""

    def __init__(self, env_id: str) -> None:
        import gymnasium as gym

        if env_id not in ENVS:
            raise ValueError(f"env_id must be one of {ENVS}, got {env_id!r}")
        self.env_id, self.env = env_id, gym.make(env_id)
        self.discrete = env_id == "CartPole-v1"
        self.obs_dim = int(self.env.observation_space.shape[0])
        self.action_dim = 2 if self.discrete else 1

    def encode(self, actions: np.ndarray) -> np.ndarray:
        """Actions as model inputs: one-hot (CartPole) or the force itself, shape (N, A)."""
        if self.discrete:
            return np.eye(2)[np.asarray(actions, dtype=np.int64)]
        return np.asarray(actions, dtype=np.float64).reshape(-1, 1)

    def random_action(self, rng: np.random.Generator) -> Any:
        return int(rng.integers(2)) if self.discrete else float(rng.uniform(-2.0, 2.0))

    def controller(self, obs: np.ndarray) -> Any:
        if self.discrete:  # push the cart under the falling pole
            return int(obs[2] + 0.5 * obs[3] > 0.0)
        cos, sin, speed = obs
        theta = math.atan2(sin, cos)
        if cos > 0.85:  # near upright: PD
            return float(np.clip(-10.0 * theta - 2.0 * speed, -2.0, 2.0))
        return 2.0 if speed >= 0 else -2.0  # swing: push along the motion

    def set_state(self, obs: np.ndarray) -> None:
        raw = self.env.unwrapped
        if self.discrete:
            raw.state = np.array(obs, dtype=np.float64)
            raw.steps_beyond_terminated = None
        else:
            raw.state = np.array([math.atan2(obs[1], obs[0]), obs[2]], dtype=np.float64)

    def real_step(self, action: Any) -> tuple[np.ndarray, float, bool]:
        obs, reward, terminated, _, _ = self.env.unwrapped.step(
            action if self.discrete else np.array([action], dtype=np.float32)
        )
        return np.asarray(obs, dtype=np.float64), float(reward), bool(terminated)

    def model_reward(self, obs: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The known reward of each row and whether it ends the episode (MOPO's termination
        functions); Pendulum's reward is shifted by +16.2736 (its minimum is −16.2736) so
        that a truncated plan loses reward."""
        if self.discrete:
            done = (np.abs(obs[:, 0]) > 2.4) | (np.abs(obs[:, 2]) > 12 * 2 * math.pi / 360)
            return np.ones(len(obs)), done
        theta = np.arctan2(obs[:, 1], obs[:, 0])
        cost = theta**2 + 0.1 * obs[:, 2] ** 2 + 0.001 * np.asarray(actions).reshape(-1) ** 2
        return 16.2736 - cost, np.zeros(len(obs), dtype=bool)


def _collect(task: _Task, episodes: int, rng: np.random.Generator, max_steps: int) -> list[dict]:
    """Episodes of the mixed behaviour policy: obs (T+1, d) and actions (T,)."""
    runs = []
    for _ in range(episodes):
        obs, _ = task.env.reset(seed=int(rng.integers(2**31)))
        epsilon = rng.uniform(0.2, 1.0)
        states, actions = [np.asarray(obs, dtype=np.float64)], []
        for _ in range(max_steps):
            act = task.random_action(rng) if rng.random() < epsilon else task.controller(states[-1])
            nxt, _, terminated = task.real_step(act)
            states.append(nxt)
            actions.append(act)
            if terminated:
                break
        runs.append({"obs": np.array(states), "actions": np.array(actions)})
    return runs


def _transitions(task: _Task, runs: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.concatenate([r["obs"][:-1] for r in runs])
    s2 = np.concatenate([r["obs"][1:] for r in runs])
    return s, task.encode(np.concatenate([r["actions"] for r in runs])), s2


# ------------------------------------------------------------------------------ ensemble
class _Ensemble:
    """E MLPs (two hidden layers, SiLU) on standardized (s, a) → standardized Δs, fit
    together by MSE on bootstrap resamples."""

    def __init__(self, s: np.ndarray, a: np.ndarray, s2: np.ndarray, seed: int) -> None:
        import torch

        torch.manual_seed(seed)
        x, d = np.concatenate([s, a], 1), s2 - s
        self.x_mean, self.x_std = x.mean(0), x.std(0) + 1e-6
        self.d_mean, self.d_std = d.mean(0), d.std(0) + 1e-6
        sizes = [x.shape[1], 128, 128, d.shape[1]]
        self.layers = []
        for i, o in itertools.pairwise(sizes):
            w = (torch.randn(MEMBERS, i, o) / math.sqrt(i)).requires_grad_(True)
            self.layers.append((w, torch.zeros(MEMBERS, 1, o, requires_grad=True)))
        self.sigma = np.zeros((MEMBERS, 1, d.shape[1]))

    def _forward(self, x: Any) -> Any:
        import torch

        h = x
        for index, (w, b) in enumerate(self.layers):
            h = torch.baddbmm(b, h, w)
            if index < len(self.layers) - 1:
                h = torch.nn.functional.silu(h)
        return h

    def fit(self, s: np.ndarray, a: np.ndarray, s2: np.ndarray, steps: int, seed: int) -> dict:
        import torch

        rng = np.random.default_rng(seed)
        x = torch.as_tensor((np.concatenate([s, a], 1) - self.x_mean) / self.x_std).float()
        y = torch.as_tensor((s2 - s - self.d_mean) / self.d_std).float()
        order = rng.permutation(len(x))
        hold, train = order[: len(x) // 10], order[len(x) // 10 :]
        boot = train[rng.integers(0, len(train), (MEMBERS, len(train)))]
        params = [p for layer in self.layers for p in layer]
        optimizer = torch.optim.Adam(params, lr=1e-3)
        for _ in range(steps):
            rows = torch.as_tensor(boot[np.arange(MEMBERS)[:, None],
                                        rng.integers(0, len(train), (MEMBERS, 256))])  # fmt: skip
            loss = ((self._forward(x[rows]) - y[rows]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            residual = self._forward(x[hold].expand(MEMBERS, -1, -1)) - y[hold]
        self.sigma = residual.std(dim=1, keepdim=True).double().numpy()
        return {"holdout_mse": float((residual**2).mean()), "final_train_mse": float(loss.detach())}

    def means(self, s: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Every member's predicted next state, shape (E, N, d)."""
        import torch

        x = torch.as_tensor((np.concatenate([s, a], 1) - self.x_mean) / self.x_std).float()
        with torch.no_grad():
            out = self._forward(x.expand(MEMBERS, -1, -1)).double().numpy()
        return s[None] + out * self.d_std + self.d_mean

    def draws(self, means: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` Gaussian draws per member around its mean (hold-out residual std),
        shape (E * count, N, d)."""
        noise = rng.standard_normal((count, *means.shape)) * self.sigma[None] * self.d_std
        return (means[None] + noise).reshape(-1, *means.shape[1:])


# ------------------------------------------------------------------------------ rollouts
def _model_step(
    method: str, ensemble: _Ensemble, reward: DynamicsReward, s: np.ndarray, a: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """One model step for N states by ``method``; the chosen transitions' r_D for MOREC."""
    means = ensemble.means(s, a)
    rows = np.arange(len(s))
    if method == "mean":
        return means.mean(0), None
    if method == "member":
        return means[rng.integers(0, MEMBERS, len(s)), rows], None
    if method == "member_draw":
        return ensemble.draws(means, rng, 1)[rng.integers(0, MEMBERS, len(s)), rows], None
    candidates = ensemble.draws(means, rng, DRAWS) if method == "morec" else means
    scores = reward.score_candidates(s, a, candidates)
    pick = select_candidates(scores, TEMPERATURE if method == "morec" else 0.0, rng)
    return candidates[pick, rows], scores[pick, rows]


def rollout_errors(real: np.ndarray, model: np.ndarray, alive: np.ndarray, std: np.ndarray) -> dict:
    """Mean and last-step normalized RMS error of model rollouts against real ones.

    Args:
        real: (N, H, d) real states after each action.
        model: (N, H, d) the model's.
        alive: (N, H) whether the real episode was still running at that step.
        std: (d,) the dataset's state std.

    Example:
        >>> real = np.zeros((1, 2, 1)); model = np.array([[[1.0], [3.0]]])
        >>> rollout_errors(real, model, np.array([[True, False]]), np.ones(1))
        {'mean': 1.0, 'last': 1.0}
    """
    error = np.sqrt((((model - real) / std) ** 2).mean(-1))
    last = alive.sum(1) - 1
    keep = last >= 0
    final = error[np.arange(len(error)), np.maximum(last, 0)][keep]
    return {"mean": float(error[alive].mean()), "last": float(final.mean())}


def _real_rollouts(task: _Task, starts: np.ndarray, actions: np.ndarray) -> tuple[Any, Any]:
    """The real env's states after each action from each start (reset through its state)."""
    n, horizon = actions.shape[:2]
    real = np.zeros((n, horizon, task.obs_dim))
    alive = np.zeros((n, horizon), dtype=bool)
    task.env.reset(seed=0)
    for i in range(n):
        task.set_state(starts[i])
        for t in range(horizon):
            obs, _, terminated = task.real_step(actions[i, t])
            real[i, t], alive[i, t] = obs, True
            if terminated:
                break
    return real, alive


def _rollout_study(task, ensemble, reward, runs, horizon, std, rng) -> dict:
    """Model rollouts from held-out starts against the real env, for each method."""
    starts, behaviour = [], []
    for run in runs:
        if len(run["actions"]) > horizon:
            t0 = int(rng.integers(0, len(run["actions"]) - horizon))
            starts.append(run["obs"][t0])
            behaviour.append(run["actions"][t0 : t0 + horizon])
    starts_arr, sequences = np.array(starts), {"behaviour": np.array(behaviour)}
    shape = (len(starts), horizon)
    sequences["random"] = (rng.integers(0, 2, shape) if task.discrete
                           else rng.uniform(-2.0, 2.0, shape))  # fmt: skip
    out: dict[str, Any] = {"rollouts": len(starts), "horizon": horizon}
    for kind, acts in sequences.items():
        real, alive = _real_rollouts(task, starts_arr, acts)
        part: dict[str, Any] = {}
        for method in ("member", "member_draw", "mean", "morec", "morec_argmax"):
            s, states, picked = starts_arr.copy(), [], []
            for t in range(horizon):
                s, r = _model_step(method, ensemble, reward, s, task.encode(acts[:, t]), rng)
                states.append(s)
                picked.append(r)
            model = np.stack(states, 1)
            part[method] = rollout_errors(real, model, alive, std)
            if method == "morec":
                part["truncation"] = _truncation(np.stack(picked, 1), real, model, alive, std)
        before = np.concatenate([starts_arr[:, None], real[:, :-1]], 1).reshape(-1, task.obs_dim)
        real_r = reward.score(before, task.encode(acts.reshape(-1)), real.reshape(before.shape))
        real_cut = (real_r.reshape(alive.shape) < THRESHOLD) & alive
        part["truncation"]["share_real_rollouts_cut"] = float(real_cut.any(1).mean())
        out[kind] = part
    return out


def _truncation(picked, real, model, alive, std) -> dict:
    """Share of MOREC rollouts cut by the threshold, and the error of cut and kept ones."""
    cut = np.stack([truncation_mask(picked[:, t], THRESHOLD) for t in range(picked.shape[1])], 1)
    cut &= alive
    truncated = cut.any(1)
    result = {"share_truncated": float(truncated.mean()),
              "mean_cut_step": float(cut.argmax(1)[truncated].mean() + 1) if truncated.any()
              else None}  # fmt: skip
    for name, rows in (("truncated", truncated), ("kept", ~truncated)):
        result[f"error_{name}"] = (
            rollout_errors(real[rows], model[rows], alive[rows], std)["mean"]
            if rows.any()
            else None
        )
    return result


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting half."""
    diff = positive[:, None] - negative[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


# ------------------------------------------------------------------------------ planning
def _plan(task, ensemble, reward, obs, method, rng, samples, horizon) -> Any:
    """Random shooting: the first action of the best of ``samples`` random sequences."""
    shape = (samples, horizon)
    acts = rng.integers(0, 2, shape) if task.discrete else rng.uniform(-2.0, 2.0, shape)
    s = np.repeat(obs[None], samples, 0)
    total, running = np.zeros(samples), np.ones(samples, dtype=bool)
    for t in range(horizon):
        encoded = task.encode(acts[:, t])
        s, picked = _model_step(method, ensemble, reward, s, encoded, rng)
        gain, done = task.model_reward(s, acts[:, t])
        total += gain * running
        if picked is not None:
            done = done | truncation_mask(picked, THRESHOLD)
        running &= ~done
    return acts[int(total.argmax()), 0]


def _planning(task, ensemble, reward, episodes, samples, horizon, seed) -> dict:
    """Real-env returns of MPC with each model variant, and of the behaviour's two parts."""
    out: dict[str, Any] = {}
    for method in ("mean", "member", "morec_argmax", "controller", "random"):
        rng, returns, clock = np.random.default_rng(seed), [], time.monotonic()
        for episode in range(episodes):
            obs, _ = task.env.reset(seed=10_000 + seed * 100 + episode)
            total = 0.0
            for _ in range(task.env.spec.max_episode_steps):
                if method == "controller":
                    act = task.controller(np.asarray(obs, float))
                elif method == "random":
                    act = task.random_action(rng)
                else:
                    act = _plan(task, ensemble, reward, np.asarray(obs, float), method, rng,
                                samples, horizon)  # fmt: skip
                obs, gain, terminated = task.real_step(act)
                total += gain
                if terminated:
                    break
            returns.append(total)
        out[method] = {"returns": returns, "mean_return": float(np.mean(returns)),
                       "seconds": time.monotonic() - clock}  # fmt: skip
    return out


# ----------------------------------------------------------------------------------- run
def run_morec(env_id: str, seed: int, quick: bool = False) -> dict[str, Any]:
    """One (env, seed) run of the study above; JSON-able figures and seconds."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    task, clock = _Task(env_id), time.monotonic()
    episodes = (15 if quick else 60) if task.discrete else (12 if quick else 50)
    runs = _collect(task, episodes, rng, 500 if task.discrete else 200)
    held = _collect(task, 40 if quick else 100, rng, 500 if task.discrete else 200)
    s, a, s2 = _transitions(task, runs)
    seconds: dict[str, float] = {"collect": time.monotonic() - clock}

    clock = time.monotonic()
    ensemble = _Ensemble(s, a, s2, seed)
    ensemble_fit = ensemble.fit(s, a, s2, 600 if quick else 3000, seed)
    seconds["ensemble"] = time.monotonic() - clock
    clock = time.monotonic()
    training = DynamicsRewardTraining(
        rounds=400 if quick else 2000, warmup_rounds=50 if quick else 100,
        snapshot_every=18 if quick else 95, max_snapshots=20, hidden=64 if quick else 128,
        discriminator_lr=3e-3 if quick else 1e-3, seed=seed,
    )  # fmt: skip
    reward = DynamicsReward(task.obs_dim, task.action_dim, training)
    reward_fit = reward.fit(s, a, s2)
    seconds["dynamics_reward"] = time.monotonic() - clock

    clock = time.monotonic()
    hs, ha, hs2 = _transitions(task, held)
    take = rng.permutation(len(hs))[:1000]
    hs, ha, hs2 = hs[take], ha[take], hs2[take]
    real_r = reward.score(hs, ha, hs2)
    means, rows = ensemble.means(hs, ha), np.arange(len(hs))
    member = means[rng.integers(0, MEMBERS, len(hs)), rows]
    std = s.std(0) + 1e-6
    step_error = np.sqrt((((means - hs2[None]) / std) ** 2).mean(-1))  # (E, N)
    picked = reward.score_candidates(hs, ha, means).argmax(0)
    one_step = {  # which member's prediction the filter keeps, against the alternatives
        "random_member": float(step_error.mean()),
        "filter_argmax": float(step_error[picked, rows].mean()),
        "best_member_oracle": float(step_error.min(0).mean()),
        "ensemble_mean": float(np.sqrt((((means.mean(0) - hs2) / std) ** 2).mean(-1)).mean()),
    }
    separation = {
        "auc_real_vs_model": _auc(real_r, reward.score(hs, ha, member)),
        "auc_real_vs_noise_0.1std": _auc(real_r, reward.score(
            hs, ha, hs2 + 0.1 * std * rng.standard_normal(hs2.shape))),
        "share_real_truncated": float(truncation_mask(real_r, THRESHOLD).mean()),
        "share_model_truncated": float(truncation_mask(
            reward.score(hs, ha, member), THRESHOLD).mean()),
        "one_step_error": one_step,
    }  # fmt: skip
    horizon = 30 if task.discrete else 50
    study = _rollout_study(task, ensemble, reward, held, horizon, std, rng)
    seconds["rollouts"] = time.monotonic() - clock

    result: dict[str, Any] = {
        "env_id": env_id, "seed": seed, "quick": quick, "transitions": len(s),
        "ensemble": ensemble_fit, "dynamics_reward": reward_fit,
        "reward_separation": separation, "rollout_error": study,
    }  # fmt: skip
    if not quick:
        clock = time.monotonic()
        samples, plan_horizon = (64, 15) if task.discrete else (64, 20)
        result["planning"] = _planning(task, ensemble, reward, 2, samples, plan_horizon, seed)
        result["planning"]["settings"] = {"samples": samples, "horizon": plan_horizon,
                                          "episodes": 2}  # fmt: skip
        seconds["planning"] = time.monotonic() - clock
    seconds["total"] = sum(seconds.values())
    result["seconds"] = seconds
    return result
