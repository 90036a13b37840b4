"""Registration points up: entry points, not names of upper packages, fill the registry."""

import importlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rewardkit.core import RewardKitWarning
from rewardkit.core.registry import ENTRY_POINT_GROUP, REGISTRY, Registry, registered_names
from rewardkit.shaping import POTENTIALS, PotentialShaping, make_potential, register_potential


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """An installed third-party distribution with a module and a factory entry point."""
    package = tmp_path / "rk_plugin_demo"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from rewardkit.core import RewardTerm, batch_size, register

            @register("plugin_module_term")
            class ModuleTerm(RewardTerm):
                def __init__(self, name="plugin_module_term"):
                    super().__init__(name)
                def _compute(self, batch):
                    return [1.0] * batch_size(batch)

            class FactoryTerm(ModuleTerm):
                def __init__(self, value=2.0, name="plugin_factory_term"):
                    super().__init__(name)
                    self.value = value
                def _compute(self, batch):
                    return [self.value] * batch_size(batch)
            """
        )
    )
    dist = tmp_path / "rk_plugin_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rk-plugin-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        "rk_plugin_demo = rk_plugin_demo\n"
        "plugin_factory_term = rk_plugin_demo:FactoryTerm\n"
        "plugin_broken = rk_plugin_demo_missing:Nothing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield
    sys.modules.pop("rk_plugin_demo", None)
    REGISTRY._entries.pop("plugin_module_term", None)  # keep the global registry as it was


def test_third_party_terms_arrive_through_the_entry_point_group(plugin):
    registry = Registry(ENTRY_POINT_GROUP)
    with pytest.warns(RewardKitWarning, match="plugin_broken"):
        names = registry.names()
    assert "plugin_factory_term" in names
    assert registry.create("plugin_factory_term", value=3.0)({"x": [0, 0]}).total.tolist() == [
        3.0,
        3.0,
    ]
    # the module entry point registered into the global registry on import
    assert "plugin_module_term" in REGISTRY._entries


def _fresh_interpreter(code, path=None):
    """Run ``code`` in a new Python (a fresh global registry); returns its stdout and stderr."""
    env = {**os.environ, "PYTHONPATH": str(path)} if path else None
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout, done.stderr


def test_rewardkits_own_terms_come_from_its_entry_points():
    # a new interpreter that imports nothing but the registry
    out, _ = _fresh_interpreter(
        "from rewardkit.core.registry import registered_names; print(registered_names())"
    )
    names = set(eval(out))  # a printed list of names
    # one term of each package that registers built-ins
    assert {"env_reward", "math_correct", "code_tests", "potential_shaping", "rnd_bonus"} <= names


def test_a_plugin_reusing_a_builtin_name_loses_with_a_warning(tmp_path):
    package = tmp_path / "rk_clash_demo"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from rewardkit.core import register\n"
        "@register('exact_match')\n"
        "def mine(name='exact_match'):\n"
        "    return None\n"
        "def factory(name='env_reward'):\n"
        "    return None\n"
    )
    dist = tmp_path / "rk_clash_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rk-clash-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\naaa_first = rk_clash_demo\nenv_reward = rk_clash_demo:factory\n"
    )
    out, err = _fresh_interpreter(
        "from rewardkit.core.registry import REGISTRY; names = REGISTRY.names(); "
        "print(len(names), REGISTRY.entry('exact_match').factory.__module__, "
        "REGISTRY.entry('env_reward').factory.__module__, 'math_correct' in names)",
        path=tmp_path,
    )
    count, exact_match_from, env_reward_from, has_math = out.split()
    assert exact_match_from == "rewardkit.verify.text" and has_math == "True"
    assert env_reward_from == "rewardkit.core.builtin"
    assert int(count) == len(registered_names())
    assert "aaa_first" in err and "already registered" in err


def test_a_registry_without_a_group_loads_nothing():
    assert Registry().names() == []


def test_register_potential_names_a_factory_and_refuses_a_clash():
    def tilt(scale=1.0):
        return lambda obs: scale * np.asarray(obs, dtype=float).sum(axis=1)

    register_potential("test_tilt", tilt)
    try:
        assert make_potential("test_tilt", {"scale": 2.0})(np.ones((1, 3))).tolist() == [6.0]
        register_potential("test_tilt", tilt)  # the same factory again is fine
        with pytest.raises(Exception, match="already registered"):
            register_potential("test_tilt", lambda: None)
    finally:
        POTENTIALS.pop("test_tilt")


def test_minigrid_potential_is_found_by_entry_point_and_pickles_by_reference():
    import pickle

    term = PotentialShaping("minigrid_view_progress", gamma=1.0)
    clone = pickle.loads(pickle.dumps(term))
    views = np.zeros((2, 7, 7, 3))
    views[1, 3, 6] = (5, 4, 0)  # carrying a key
    batch = {"obs": views[:1], "next_obs": views[1:], "terminated": [False]}
    assert clone(batch).total.tolist() == term(batch).total.tolist() == [pytest.approx(0.1)]


def test_a_named_potential_with_a_local_factory_still_pickles():
    import pickle

    register_potential("test_local", lambda scale=1.0: lambda obs: scale * np.ones(len(obs)))
    try:
        term = PotentialShaping("test_local", {"scale": 2.0}, gamma=1.0)
        clone = pickle.loads(pickle.dumps(term))
        batch = {"obs": np.zeros((2, 1)), "next_obs": np.zeros((2, 1)), "terminated": [0, 1]}
        np.testing.assert_array_equal(clone(batch).total, term(batch).total)
    finally:
        POTENTIALS.pop("test_local")


FIRST_LOOKUP_RACE = """
import sys, threading
from rewardkit.core.registry import REGISTRY
barrier = threading.Barrier(16)
missing = []
def first_lookup():
    barrier.wait()
    for name in ("math_correct", "think_answer_format", "code_tests", "env_reward"):
        try:
            REGISTRY.entry(name)
        except Exception as exc:
            missing.append(f"{name}: {type(exc).__name__}")
threads = [threading.Thread(target=first_lookup) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print(len(missing), sorted(set(missing)))
sys.exit(1 if missing else 0)
"""


@pytest.mark.parametrize("attempt", range(3))
def test_first_lookups_from_16_threads_all_see_every_builtin(attempt):
    """OpenRLHF calls a fresh process's first rewards from a thread pool: before the
    fix 15 of 16 threads saw only the core terms (SpecError: no term 'math_correct')."""
    done = subprocess.run(
        [sys.executable, "-c", FIRST_LOOKUP_RACE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


def test_a_lookup_during_the_load_sees_what_is_registered_so_far():
    """A module imported by the load that looks a name up (same thread) does not deadlock."""
    registry = Registry("rewardkit.no_such_group")
    seen = []
    registry._load_entry_points = lambda: seen.append(registry.names())  # re-enters
    registry.names()
    assert seen == [[]]
