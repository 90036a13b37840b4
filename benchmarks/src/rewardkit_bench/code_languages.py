"""rewardkit's own stdin/stdout tasks (not outside data) in every language whose toolchain
is here, for ``rewardkit bench code``: pass rate, compile and run seconds."""

from __future__ import annotations

import time
from typing import Any

from rewardkit.core.errors import ConfigurationError
from rewardkit.verify.code import CodeTests
from rewardkit.verify.code_formats import io_job
from rewardkit.verify.code_judge import judge_many
from rewardkit.verify.sandbox import SandboxUnavailableError

__all__ = ["TASKS", "languages"]

#: rewardkit's own stdin/stdout tasks (not outside data): (name, cases, program per language)
TASKS: dict[str, tuple[list[dict[str, str]], dict[str, str]]] = {
    "sum_two": (
        [
            {"input": "2 3\n", "output": "5"},
            {"input": "-7 10\n", "output": "3"},
            {"input": "1000000000 1000000000\n", "output": "2000000000"},
        ],
        {
            "python": "a, b = map(int, input().split())\nprint(a + b)\n",
            "c": '#include <stdio.h>\nint main(){long long a,b;scanf("%lld %lld",&a,&b);'
            'printf("%lld\\n",a+b);return 0;}\n',
            "cpp": "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;"
            'std::cout<<a+b<<"\\n";}\n',
            "javascript": "const [a,b]=require('fs').readFileSync(0,'utf8').trim().split(/\\s+/)"
            ".map(BigInt);console.log((a+b).toString());\n",
            "java": "import java.util.*;\npublic class Main{public static void main(String[] x){"
            "Scanner s=new Scanner(System.in);System.out.println(s.nextLong()+s.nextLong());}}\n",
        },
    ),
    "mean": (
        [{"input": "3\n1 2 4\n", "output": "2.333333333"}, {"input": "2\n5 5\n", "output": "5.0"}],
        {
            "python": (
                "n = int(input())\nxs = list(map(int, input().split()))\nprint(sum(xs) / n)\n"
            ),
            "c": '#include <stdio.h>\nint main(){int n;scanf("%d",&n);double s=0;'
            "for(int i=0;i<n;i++)"
            '{int x;scanf("%d",&x);s+=x;}printf("%.9f\\n",s/n);return 0;}\n',
            "cpp": '#include <cstdio>\nint main(){int n;scanf("%d",&n);double s=0;'
            "for(int i=0;i<n;i++)"
            '{int x;scanf("%d",&x);s+=x;}printf("%.9f\\n",s/n);}\n',
            "javascript": "const t=require('fs').readFileSync(0,'utf8')"
            ".trim().split(/\\s+/).map(Number);"
            "const n=t[0];let s=0;for(let i=1;i<=n;i++)s+=t[i];console.log((s/n).toFixed(9));\n",
            "java": "import java.util.*;\npublic class Main{public static void main(String[] x){"
            "Scanner s=new Scanner(System.in);int n=s.nextInt();double t=0;"
            'for(int i=0;i<n;i++)t+=s.nextInt();System.out.printf("%.9f%n",t/n);}}\n',
        },
    ),
}


def languages(language: str) -> dict[str, Any]:
    try:
        term = CodeTests(format="io", language=language, wall_seconds=10.0, slots=1)
    except (ConfigurationError, SandboxUnavailableError) as exc:
        return {"language": language, "skipped": str(exc)}
    rows = {}
    for task, (cases, programs) in TASKS.items():
        job = io_job(cases, programs[language], term.language, term.limits.memory_mb)
        start = time.monotonic()
        verdict = judge_many(term._sandbox, [(programs[language], job)], term.limits)[0]
        rows[task] = {
            "pass_rate": verdict.pass_rate,
            "message": verdict.message,
            "seconds": time.monotonic() - start,
            "compile_seconds": verdict.compile_seconds,
            "cases": len(cases),
        }
    return {"language": language, "tasks": rows}
