"""Orchestrators read no clock, randomness or environment: checked statically."""

from pathlib import Path

import pytest

from tools.orchestrator_rules import check_tree, violations

ROOT = Path(__file__).resolve().parents[2]


def test_orchestrator_modules_are_deterministic() -> None:
    assert check_tree(ROOT / "orchestrators") == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import datetime\nx = datetime.datetime.now()",
        "from datetime import datetime\nx = datetime.utcnow()",
        "import time\nx = time.time()",
        "import random\nx = random.random()",
        "from random import choice",
        "import uuid\nx = uuid.uuid4()",
        "import os\nx = os.environ['A']",
        "import os\nx = os.getenv('A')",
        "from os import environ",
    ],
)
def test_each_forbidden_use_is_caught(snippet: str) -> None:
    assert violations(snippet), snippet


def test_context_time_is_allowed() -> None:
    assert violations("def f(context):\n    return context.current_utc_datetime") == []
