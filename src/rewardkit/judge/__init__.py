"""Model-graded rewards over any OpenAI-compatible endpoint.

A judge is a term: it composes (a verifier first, the judge only where the
verifier abstains: :func:`rewardkit.core.fallback.fallback`), serves through
``rewardkit serve``, runs on Ray and plugs into every adapter. The client
under every judge bounds concurrency, enforces a per-sample deadline,
retries with jittered backoff, respects requests- and tokens-per-minute
buckets, caches answers on disk, and counts usage. A failure, a timeout, a
refusal or an answer it cannot read is a status with its reason: never a
score. Needs the ``judge`` extra (``openai``, ``aiolimiter``, ``diskcache``).

Example:
    >>> import rewardkit.judge as judge
    >>> settings = judge.JudgeSettings(model="smollm2", base_url="http://127.0.0.1:8000/v1")
    >>> reward = judge.ReferenceJudge(settings, probability="text")
    >>> reward.columns
    ('prompt', 'completion', 'answer')
"""

from rewardkit.judge.base import Call, JudgeTerm
from rewardkit.judge.client import ChatRequest, JudgeClient, JudgeFailure, Reply, Usage
from rewardkit.judge.comparative import GroupJudge, PairwiseJudge, win_rate_from_orders
from rewardkit.judge.parse import UnparseableAnswerError
from rewardkit.judge.pointwise import (
    Criterion,
    LabelJudge,
    ReferenceJudge,
    RubricJudge,
    ScoreJudge,
    YesNoJudge,
    yes_probability,
)
from rewardkit.judge.settings import JudgeSettings
from rewardkit.judge.templates import PromptTemplate
from rewardkit.judge.two_turn import (
    BranchRethinkStyleJudge,
    TwoTurnJudgment,
    parse_branches,
    parse_two_turn_verdict,
)

__all__ = [
    "BranchRethinkStyleJudge",
    "Call",
    "ChatRequest",
    "Criterion",
    "GroupJudge",
    "JudgeClient",
    "JudgeFailure",
    "JudgeSettings",
    "JudgeTerm",
    "LabelJudge",
    "PairwiseJudge",
    "PromptTemplate",
    "ReferenceJudge",
    "Reply",
    "RubricJudge",
    "ScoreJudge",
    "TwoTurnJudgment",
    "UnparseableAnswerError",
    "Usage",
    "YesNoJudge",
    "parse_branches",
    "parse_two_turn_verdict",
    "win_rate_from_orders",
    "yes_probability",
]
