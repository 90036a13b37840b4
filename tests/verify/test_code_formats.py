"""Each test format as the datasets ship it, each language, each failure message kind."""

import json

import numpy as np
import pytest

from rewardkit.core import Status
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.verify.code import CodeTests, extract_code
from rewardkit.verify.code_formats import (
    assert_job,
    humaneval_job,
    io_cases,
    same_output,
    same_value,
)
from rewardkit.verify.code_languages import LANGUAGES

FENCE = "`" * 3
SQUARE = "def square(x):\n    return x * x\n"
DOUBLE = "def square(x):\n    return x + x\n"


def fenced(source, tag="python"):
    return f"{FENCE}{tag}\n{source}\n{FENCE}"


# ---------------------------------------------------------------- HumanEval / EvalPlus

HUMANEVAL_TEST = (
    "METADATA = {}\n\n\ndef check(candidate):\n"
    "    assert candidate(2) == 4\n"
    "    for x in range(4):\n"
    "        assert abs(candidate(x + 0.5) - (x + 0.5) ** 2) < 1e-9\n"
)


def humaneval(completions, prompt="", program="fenced"):
    term = CodeTests(format="humaneval", program=program, wall_seconds=3.0, slots=2)
    n = len(completions)
    return term(
        {
            "completion": completions,
            "test": [HUMANEVAL_TEST] * n,
            "entry_point": ["square"] * n,
            "prompt": [prompt] * n,
        }
    )


def test_humaneval_check_runs_as_shipped():
    out = humaneval([fenced(SQUARE), fenced(DOUBLE)])
    np.testing.assert_array_equal(out.total, [1.0, 0.0])
    assert out.messages[0] is None
    assert (
        out.messages[1] == ("failed: assert candidate(2) == 4; last call: square(2) returned 4")
        or "assert abs(candidate(x + 0.5)" in out.messages[1]
    )


def test_humaneval_body_completions_are_prompt_plus_completion():
    prompt = 'def square(x):\n    """x squared."""\n'
    out = humaneval(["    return x * x\n", "    return None\n"], prompt, "prompt+completion")
    np.testing.assert_array_equal(out.total, [1.0, 0.0])
    assert "returned None" in out.messages[1]


def test_the_prompts_helpers_are_the_datasets_not_the_programs():
    # HumanEval/32: the test calls poly() from the prompt; a program redefining it must not win
    prompt = "def poly(x):\n    return x * x\n\ndef square(x):\n    pass\n"
    test = "def check(candidate):\n    assert poly(3) == candidate(3)\n"
    cheat = "def poly(x):\n    return 0\n\ndef square(x):\n    return 0\n"
    term = CodeTests(format="humaneval", wall_seconds=3.0, slots=2)
    batch = {
        "completion": [fenced(cheat), fenced(SQUARE)],
        "test": [test] * 2,
        "entry_point": ["square"] * 2,
        "prompt": [prompt] * 2,
    }
    np.testing.assert_array_equal(term(batch).total, [0.0, 1.0])


def test_a_body_completion_without_a_fence_is_named_in_a_warning():
    with pytest.warns(UserWarning, match="prompt\\+completion"):
        out = humaneval(["    return x * x\n"])
    assert out.status[0] == Status.NOT_APPLICABLE


def test_a_broken_test_is_that_samples_error_and_the_batch_goes_on():
    term = CodeTests(format="humaneval", wall_seconds=3.0, slots=2)
    batch = {
        "completion": [fenced(SQUARE)] * 3,
        "test": [HUMANEVAL_TEST, "def check(candidate) oops", "assert True"],
        "entry_point": ["square"] * 3,
    }
    out = term(batch)
    assert out.total[0] == 1.0
    assert list(out.status[1:]) == [Status.ERROR, Status.ERROR]
    assert "not valid Python" in out.messages[1] and "check(candidate)" in out.messages[2]


def test_humaneval_job_proxies_only_the_names_the_test_does_not_define():
    job = humaneval_job(
        "import math\ndef check(candidate):\n    assert helper(1) == math.pi\n", "f"
    )
    assert job.spec["names"] == ["f", "helper"]


# ---------------------------------------------------------------- MBPP asserts


def mbpp(completions, test_list, setup=None):
    term = CodeTests(format="mbpp", wall_seconds=3.0, slots=2)
    batch = {"completion": completions, "test_list": [test_list] * len(completions)}
    if setup is not None:
        batch["test_setup_code"] = [setup] * len(completions)
    return term(batch)


def test_mbpp_asserts_each_count_and_say_which_failed():
    tests = ["assert square(2) == 4", "assert square(3) == 9", "assert square(0) == 0"]
    out = mbpp([fenced(SQUARE), fenced(DOUBLE)], tests)
    np.testing.assert_allclose(out.total, [1.0, 2 / 3])  # 2+2 == 4 and 0+0 == 0
    assert (
        out.messages[1]
        == "test 2/3: failed: assert square(3) == 9: expected 9, got 6 from square(3)"
    )


def test_mbpp_setup_code_runs_in_the_judge_first():
    tests = ["assert math.isclose(square(r), area / math.pi)"]
    out = mbpp([fenced(SQUARE)], tests, setup="import math\nr = 2.0\narea = math.pi * 4")
    assert out.total[0] == 1.0


def test_assert_job_splits_one_source_into_tests_and_setup():
    job = assert_job("x = 3\nassert f(x) == 9\ny = 4\nassert f(y) == 16\n")
    assert job.spec["setup"] == ["x = 3"]
    assert [u["source"] for u in job.spec["units"]] == [
        "assert f(x) == 9",
        "y = 4\nassert f(y) == 16",
    ]


def test_an_exception_in_the_program_is_named():
    program = "def square(x):\n    raise ValueError('no squares today')\n"
    out = mbpp([fenced(program)], ["assert square(2) == 4"])
    assert out.total[0] == 0.0
    assert out.messages[0] == (
        "raised ValueError: no squares today at assert square(2) == 4; "
        "last call: square(2) raised ValueError: no squares today"
    )


def test_a_program_that_does_not_load_says_so():
    out = mbpp([fenced("def square(x) return x")], ["assert square(2) == 4"])
    assert out.total[0] == 0.0 and out.status[0] == Status.OK
    assert "the program failed to load: SyntaxError" in out.messages[0]


def test_a_timeout_fails_the_test_and_says_so():
    program = "def square(x):\n    while True:\n        pass\n"
    term = CodeTests(format="mbpp", wall_seconds=1.0, slots=2)
    out = term({"completion": [fenced(program)], "test_list": [["assert square(2) == 4"]]})
    assert out.total[0] == 0.0 and "time limit exceeded in square(2)" in out.messages[0]


def test_a_test_that_expects_an_exception_sees_the_programs():
    program = "def square(x):\n    if x < 0:\n        raise ValueError\n    return x * x\n"
    test = "try:\n    square(-1)\n    assert False\nexcept ValueError:\n    pass"
    out = mbpp([fenced(program), fenced(SQUARE)], [test])
    np.testing.assert_array_equal(out.total, [1.0, 0.0])


# ---------------------------------------------------------------- call cases


def test_call_cases_are_judged_outside_with_a_tolerance():
    cases = [
        {"args": [1.5], "expected": 2.25},
        {"args": [3], "expected": 9},
        {"args": [], "kwargs": {"x": 2}, "expected": 4},
    ]
    term = CodeTests(format="call", function="square", wall_seconds=3.0, slots=2)
    almost = "def square(x):\n    return x * x + 1e-9\n"
    out = term(
        {"completion": [fenced(SQUARE), fenced(almost), fenced(DOUBLE)], "tests": [cases] * 3}
    )
    np.testing.assert_allclose(out.total, [1.0, 1.0, 1 / 3])
    assert out.messages[2] == "test 1/3: square(1.5): expected 2.25, got 3.0"


def test_call_cases_read_the_entry_point_column():
    term = CodeTests(wall_seconds=3.0, slots=2)  # auto: cases with "expected" are calls
    out = term(
        {
            "completion": [fenced(SQUARE)],
            "tests": [[{"args": [4], "expected": 16}]],
            "entry_point": ["square"],
        }
    )
    assert out.total[0] == 1.0


def test_same_value_keeps_kinds_apart():
    assert same_value([1, 2.0000000001], (1, 2)) and same_value({"a": [1]}, {"a": [1]})
    assert not same_value(True, 1) and not same_value("1", 1) and not same_value([1], [1, 2])
    assert same_value(float("nan"), float("nan")) and not same_value(1.0, 1.01)


# ---------------------------------------------------------------- stdin/stdout, each language

ECHO_SUM = {
    "python": "print(sum(map(int, input().split())))",
    "c": '#include <stdio.h>\nint main(){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);}',
    "cpp": "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}",
    "javascript": "const [a,b]=require('fs').readFileSync(0,'utf8')"
    ".trim().split(/\\s+/).map(Number);console.log(a+b);",
    "java": "import java.util.*;\npublic class Main{public static void main(String[] x){"
    "Scanner s=new Scanner(System.in);System.out.println(s.nextLong()+s.nextLong());}}",
}
CASES = [{"input": "2 3\n", "output": "5\n"}, {"input": "10 -4\n", "output": "6"}]


@pytest.mark.parametrize("language", sorted(ECHO_SUM))
def test_each_language_compiles_once_and_runs_every_case(language):
    term = CodeTests(format="io", language=language, wall_seconds=5.0, slots=2)
    wrong = ECHO_SUM[language].replace("a+b", "a*b").replace("sum(", "max(").replace("()+s", "()*s")
    out = term(
        {
            "completion": [fenced(ECHO_SUM[language], language), fenced(wrong, language)],
            "tests": [CASES] * 2,
        }
    )
    np.testing.assert_array_equal(out.total, [1.0, 0.0])
    assert "expected '5\\n', got" in out.messages[1]


@pytest.mark.parametrize("language", ["c", "cpp", "java"])
def test_a_compile_error_is_its_own_message(language):
    term = CodeTests(format="io", language=language, wall_seconds=5.0, slots=2)
    out = term({"completion": [fenced("this is not a program", language)], "tests": [CASES]})
    assert out.total[0] == 0.0 and out.status[0] == Status.OK
    assert out.messages[0].startswith("compile error:")


def test_a_runtime_error_names_the_case_and_the_error():
    term = CodeTests(format="io", wall_seconds=3.0, slots=2)
    out = term({"completion": [fenced("raise KeyError('boom')")], "tests": [CASES]})
    assert out.messages[0] == "test 1/2: (case 1) runtime_error: KeyError: 'boom'"


def test_io_cases_read_codecontests_apps_and_livecodebench_shapes():
    rows = [{"input": "1\n", "output": "2\n"}]
    assert io_cases({"input": ["1\n"], "output": ["2\n"]}) == rows  # CodeContests
    assert io_cases(json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]})) == rows  # APPS
    assert io_cases(json.dumps([{"input": "1\n", "output": "2\n", "testtype": "stdin"}])) == rows
    with pytest.raises(BatchError, match="2 outputs"):
        io_cases({"input": ["1"], "output": ["2", "3"]})


def test_outputs_compare_token_wise_with_a_float_tolerance():
    assert same_output("1.0000001 2\n", "1 2", tolerance=1e-6)
    assert not same_output("1.1 2", "1 2", tolerance=1e-6)
    assert same_output("a  b\n\n", "a b") and not same_output("a b c", "a b")


def test_an_unknown_language_or_a_python_only_format_is_refused():
    with pytest.raises(ConfigurationError, match="unknown language"):
        CodeTests(language="cobol")
    with pytest.raises(ConfigurationError, match="'io' tests"):
        CodeTests(format="humaneval", language="cpp")
    assert set(LANGUAGES) == {"python", "c", "cpp", "javascript", "java"}


def test_fences_are_read_per_language():
    text = f"{fenced('print(1)')}\n{fenced('int main(){}', 'cpp')}"
    assert extract_code(text, "cpp") == "int main(){}\n"
    assert extract_code(text, "python") == "print(1)\n"


# ---------------------------------------------------------------- the caller's interpreter

NUMPY_PROGRAM = (
    "import numpy as np\n\n"
    "def mean_of(xs):\n    return np.mean(np.asarray(xs))\n\n"
    "def evens(n):\n    return np.arange(0, n, 2)\n"
)


@pytest.mark.parametrize("warm", [True, False])
def test_a_task_that_imports_numpy_runs_under_the_callers_interpreter(warm):
    test = "def check(candidate):\n    assert abs(candidate([1, 2, 4]) - 7 / 3) < 1e-9\n"
    term = CodeTests(format="humaneval", wall_seconds=5.0, warm=warm)
    out = term(
        {
            "completion": [fenced(NUMPY_PROGRAM)],
            "test": [test],
            "entry_point": ["mean_of"],
            "prompt": [""],
        }
    )
    assert out.total[0] == 1.0, out.messages


def test_numpy_arrays_cross_to_the_judge_as_arrays():
    tests = [
        "assert isinstance(evens(5), np.ndarray) and evens(5).dtype.kind == 'i'",
        "assert (evens(5) == np.array([0, 2, 4])).all()",
        "assert evens(5).tolist() == [0, 2, 5]",
    ]
    out = mbpp([fenced(NUMPY_PROGRAM)], tests, setup="import numpy as np")
    np.testing.assert_allclose(out.total, [2 / 3])
    assert out.messages[0].startswith("test 3/3: failed: assert evens(5).tolist() == [0, 2, 5]")


def test_a_returned_array_matches_a_call_cases_list():
    term = CodeTests(format="call", function="evens", wall_seconds=5.0)
    out = term(
        {
            "completion": [fenced(NUMPY_PROGRAM)] * 2,
            "tests": [[{"args": [5], "expected": [0, 2, 4]}], [{"args": [5], "expected": [0, 2]}]],
        }
    )
    np.testing.assert_array_equal(out.total, [1.0, 0.0])


def test_the_array_codec_keeps_dtype_and_shape_and_refuses_structured_dtypes():
    from rewardkit.verify._code_harness import CodecError, decode, encode

    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    back = decode(json.loads(json.dumps(encode(value))))
    assert back.dtype == np.float32 and back.shape == (2, 3)
    np.testing.assert_array_equal(back, value)
    empty = decode(encode(np.zeros((0, 4), dtype=bool)))
    assert empty.shape == (0, 4) and empty.dtype == bool
    with pytest.raises(CodecError):
        decode({"ndarray": ["V8", [1], [b"x"]]})
    with pytest.raises(CodecError):
        decode({"ndarray": ["int64", [-1], []]})
