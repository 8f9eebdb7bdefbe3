"""Stress scenarios against the real components, and their report.

``aureond stress`` (``aureond.commands.stress``) runs them; :mod:`.runner` holds the
scenario table, :mod:`.report` the bars and the table/JSON forms, :mod:`.scale` the
sizes (tiny for tests, small for CI, full by hand). The loopback peers
(:mod:`.fakepeer`), the node stack (:mod:`.nodestack`), the synthetic chains
(:mod:`.chaingen`, :mod:`.commit`) and the HTTP load process (:mod:`.loadgen`) are
the instruments the scenarios share.
"""

from __future__ import annotations

from aureond.stress.report import Check, Outcome, ScenarioReport, render_table, reports_to_json
from aureond.stress.runner import SCENARIOS, run_scenarios
from aureond.stress.scale import SCALES, Sizes

__all__ = ["SCALES", "SCENARIOS", "Check", "Outcome", "ScenarioReport", "Sizes",
           "render_table", "reports_to_json", "run_scenarios"]
