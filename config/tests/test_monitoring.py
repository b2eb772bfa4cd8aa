"""The shipped alert rules and dashboard load in Prometheus' own checker and name only
metrics this product serves (a renamed metric would leave an alert silent forever)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
DEPLOY = BASE_DIR / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "chatbot.json"
DEFINED = re.compile(
    r"(?:Counter|Gauge|Histogram|Summary|GaugeMetricFamily)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\""
)
# PromQL words that look like metric names but are functions, keywords or labels.
PROMQL_WORDS = {
    "sum", "by", "rate", "increase", "deriv", "max", "min", "avg", "and", "or", "unless",
    "histogram_quantile", "clamp_min", "le", "on", "without", "ignoring", "count",
}  # fmt: skip


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: run_tests.sh installs Debian's prometheus package"
    return path


def _dashboard_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def _alert_exprs() -> list[tuple[str, str]]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [(r["alert"], r["expr"]) for g in rules["groups"] for r in g["rules"]]


def _served_metric_names() -> set[str]:
    """Every family this product defines in its code, plus django-prometheus' own."""
    from django_prometheus.middleware import Metrics
    from prometheus_client import REGISTRY

    Metrics.get_instance()  # django-prometheus registers its request metrics on first use
    names = set(REGISTRY._names_to_collectors)
    for path in BASE_DIR.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        names |= set(DEFINED.findall(path.read_text(encoding="utf-8")))
    names.add("up")  # Prometheus' own, per scrape target
    return names


def _metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_strings = re.sub(r'"[^"]*"', "", without_labels)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_strings)
    words = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", without_ranges))
    return {w for w in words if w not in PROMQL_WORDS and "_" in w}


def _base(name: str) -> list[str]:
    forms = [name]
    for suffix in ("_bucket", "_count", "_sum", "_total"):
        if name.endswith(suffix):
            forms.append(name[: -len(suffix)])
    return forms


def test_the_alert_rules_load_in_promtool(promtool):
    result = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    names = {a for a, _e in _alert_exprs()}
    for wanted in ("WebhookSlow", "BacklogGrowing", "NumberDisconnected", "SendErrorSpike",
                   "AssistantBreakerOpen", "ProcessSilent"):  # fmt: skip
        assert wanted in names


def test_the_prometheus_config_loads_with_its_rules(promtool, tmp_path):
    token = tmp_path / "metrics_token"
    token.write_text("t" * 40)
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/metrics_token", str(token))
    )
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_query_is_valid_promql(promtool, tmp_path):
    """promtool parses PromQL only inside rules: each panel query becomes a recording rule."""
    exprs = _dashboard_exprs()
    assert len(exprs) >= 10
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:q{i}", "expr": e} for i, (_t, e) in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_has_the_shape_grafana_imports():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert set(grid) == {"h", "w", "x", "y"} and grid["x"] + grid["w"] <= 24
        assert panel["type"] in {"row", "timeseries", "stat"}
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"
    titles = " ".join(p["title"] for p in dashboard["panels"])
    for topic in ("Webhook", "Fila", "Envios", "situação", "código de erro", "modelo",
                  "Disjuntor", "plano"):  # fmt: skip
        assert topic in titles


def test_alerts_and_dashboard_name_only_metrics_this_product_serves(db):
    served = _served_metric_names()
    unknown = {
        (where, name)
        for where, expr in _alert_exprs() + _dashboard_exprs()
        for name in _metric_names(expr)
        if not any(form in served for form in _base(name))
    }
    assert unknown == set()


def test_prometheus_scrapes_every_process_the_compose_file_runs():
    """A process added to compose without a scrape target would count in silence."""
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: {t for c in job["static_configs"] for t in c["targets"]}
        for job in prometheus["scrape_configs"]
    }
    services = compose["services"]
    long_running = {
        name
        for name, service in services.items()
        if service.get("image") == "chatbot:latest" and service.get("restart") != "no"
    }
    assert {"web", "processor", "sender", "worker", "beat"} <= long_running
    assert targets["chatbot"] == {"web:8000"}
    assert targets["chatbot-processes"] == {f"{name}:9100" for name in long_running - {"web"}}
    for name in long_running:
        environment = services[name]["environment"]
        assert environment["METRICS_PORT"] == "9100" and environment["PROMETHEUS_MULTIPROC_DIR"]
    assert services["prometheus"]["profiles"] == ["monitoring"]
    assert services["grafana"]["profiles"] == ["monitoring"]
    assert "./deploy/prometheus:/etc/chatbot:ro" in services["prometheus"]["volumes"]
    assert any("deploy/grafana/dashboards" in v for v in services["grafana"]["volumes"])
