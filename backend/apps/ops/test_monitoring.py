"""The Prometheus alert rules and the Grafana dashboard in ``ops/``: valid for Prometheus'
own tool, unit-tested alerts, and every metric they name is one ``/metrics`` exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "ops" / "prometheus" / "alerts.yml"
RULES_TEST = ROOT / "ops" / "prometheus" / "alerts.test.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "storefront.json"
METRIC = re.compile(r"\b(storefront_[a-z_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")
TOKEN = "scrape-token-0123456789"


def _run(promtool: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _dashboard_panels() -> list[dict[str, Any]]:
    return [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]


def _dashboard_exprs() -> list[str]:
    return [target["expr"] for panel in _dashboard_panels() for target in panel["targets"]]


def _alert_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def test_promtool_checks_the_alert_rules(promtool: str) -> None:
    out = _run(promtool, "check", "rules", RULES.name, cwd=RULES.parent)
    assert "SUCCESS: 10 rules found" in out


def test_the_alert_rules_fire_on_their_unit_test_series(promtool: str) -> None:
    out = _run(promtool, "test", "rules", RULES_TEST.name, cwd=RULES.parent)
    assert "SUCCESS" in out


def test_every_alert_has_a_severity_a_summary_and_a_runbook_entry() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"page", "warning"}, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]
            assert f"`{rule['alert']}`" in operations, f"{rule['alert']} not in operations.md"


def test_every_dashboard_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    """promtool has no expression checker, so the queries are checked as recording rules."""
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": expr}
                    for i, expr in enumerate(_dashboard_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    _run(promtool, "check", "rules", path.name, cwd=tmp_path)


def test_the_dashboard_is_importable_and_laid_out_without_overlaps() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "storefront-api"
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    cells: set[tuple[int, int]] = set()
    titles = []
    for panel in dashboard["panels"]:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        for x in range(box["x"], box["x"] + box["w"]):
            for y in range(box["y"], box["y"] + box["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
        titles.append(panel["title"])
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            assert panel["targets"], panel["title"]
    assert len(titles) == len(set(titles))
    # What the issue asks the dashboard to show.
    shown = " ".join(titles).lower()
    for topic in ("request rate", "latency", "errors", "checkouts", "payments", "capture",
                  "queue depth", "message age", "task failures", "stuck payments",
                  "webhooks", "stock drifts"):  # fmt: skip
        assert topic in shown, topic


@pytest.mark.django_db
def test_every_metric_the_alerts_and_dashboard_use_is_exported(
    api_client: APIClient, settings: Any, memory_broker: Any
) -> None:
    settings.METRICS_TOKEN = TOKEN
    response = api_client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    exported = {family.name for family in text_string_to_metric_families(response.text)}

    def base(name: str) -> str:
        for suffix in SUFFIXES:
            if name.endswith(suffix) and name.removesuffix(suffix) in exported:
                return name.removesuffix(suffix)
        return name

    used = {base(m) for expr in _alert_exprs() + _dashboard_exprs() for m in METRIC.findall(expr)}
    assert used  # the pattern found the names
    assert used <= exported, sorted(used - exported)
