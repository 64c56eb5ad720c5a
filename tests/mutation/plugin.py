"""A pytest plugin for mutation runs only (`-p tests.mutation.plugin`, set in pyproject's [tool.mutmut]).

Hypothesis draws the same examples for every mutant and keeps no example database: a mutant's verdict must not
depend on which run found a failing example first.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("mutation", derandomize=True, database=None, print_blob=False)
settings.load_profile("mutation")
