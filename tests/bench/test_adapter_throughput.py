"""adapter-throughput: the calls are made in OpenRLHF's pattern and the ratios are to serial."""

from rewardkit_bench.adapter_throughput import MODES, AdapterThroughput, measure


def test_coalesced_calls_score_every_sample_in_fewer_term_calls():
    run = measure("cheap", "concurrent_coalesced")
    assert run["timeouts"] == 0 and 1 <= run["term_calls"] < 64
    assert measure("cheap", "serial")["term_calls"] == 64


def test_ratios_are_medians_over_seeds_divided_by_the_serial_median():
    rates = {"serial": [10.0, 30.0, 20.0], "concurrent_coalesced": [100.0, 300.0, 200.0]}
    runs = [
        {"workload": "cheap", "mode": mode, "seed": seed, "per_second": rate}
        for mode, values in rates.items()
        for seed, rate in enumerate(values)
    ]
    table = AdapterThroughput().summarize({"runs": runs})["table"]["cheap"]
    assert table["per_second"] == {"serial": 20.0, "concurrent_coalesced": 200.0}
    assert table["ratio_to_serial"]["concurrent_coalesced"] == 10.0
    assert "coalesced_32_threads" in MODES


def test_the_cheap_spec_is_the_shipped_example():
    import tomllib
    from pathlib import Path

    from rewardkit.core.spec import read_spec_file
    from rewardkit_bench.adapter_throughput import CHEAP_SPEC

    example = Path(__file__).resolve().parents[2] / "examples" / "math_reward.toml"
    ours, shipped = tomllib.loads(CHEAP_SPEC), read_spec_file(example)
    assert ours["sum"] == shipped["sum"]
