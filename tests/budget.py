"""How many examples a property test runs under the loaded hypothesis profile (see tests/conftest.py)."""
from __future__ import annotations

from hypothesis import settings

DEFAULT_EXAMPLES = 100  # the `default` profile's max_examples: the unit the counts below are written in


def examples(n: int) -> int:
    """`n` examples under the default profile, scaled to the loaded one (deep: 10 n, mutation: n / 10)."""
    return max(1, round(n * settings().max_examples / DEFAULT_EXAMPLES))
