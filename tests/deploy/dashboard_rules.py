"""Print the Grafana dashboard's queries as a Prometheus rule file, for promtool.

``promtool check rules`` then parses every panel expression with Prometheus's own
PromQL parser. Grafana's variables are replaced by plain values first. The output is
JSON, which promtool reads as YAML.

    python3 -m tests.deploy.dashboard_rules > /tmp/dashboard_rules.yml
    promtool check rules /tmp/dashboard_rules.yml
"""

from __future__ import annotations

import json
import sys

from tests.deploy.parsing import DEPLOY, dashboard_exprs, load_json

__all__ = ["GRAFANA_VARIABLES", "as_rule_file", "main"]

GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "$job": "aureond",
    "$instance": ".*",
}


def as_rule_file(exprs: list[tuple[str, str]]) -> dict[str, object]:
    rules = []
    for index, (_title, expr) in enumerate(exprs):
        plain = expr
        for variable, value in GRAFANA_VARIABLES.items():
            plain = plain.replace(variable, value)
        rules.append({"record": f"dashboard:panel_{index}", "expr": plain})
    return {"groups": [{"name": "aureond.dashboard", "rules": rules}]}


def main() -> int:
    dashboard = load_json(DEPLOY / "grafana" / "aureond.json")
    json.dump(as_rule_file(dashboard_exprs(dashboard)), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
