"""The monitoring pack (extensions/monitoring/): promtool checks the alert rules and runs their unit tests, and the
rules and the Grafana dashboard name only metrics a real bgplb-speaker exports (scraped from one started on
loopback)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "extensions" / "monitoring"
RULES = PACK / "prometheus" / "bgplb-alerts.yml"
RULES_TEST = Path(__file__).parent / "bgplb-alerts.test.yml"
DASHBOARD = PACK / "grafana" / "bgplb-dashboard.json"
# Prometheus' own per-target series (not the speaker's): the rules may use them, the dashboard does not.
PROMETHEUS_SYNTHETIC = {"up"}

pytestmark = pytest.mark.needs(tools=("promtool",))


def promtool(*args: str | Path, cwd: Path = ROOT) -> str:
    proc = subprocess.run(["promtool", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"promtool {' '.join(map(str, args))}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


# --- PromQL: the metric names of an expression -----------------------------------------------------------------------
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "inf", "nan"}  # fmt: skip
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (or a Grafana `label_values(metric, label)` variable query)."""
    expr = re.sub(r"label_values\(\s*([a-zA-Z_:][\w:]*)[^,)]*,\s*\w+\s*\)", r"\1", expr)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges, subqueries
    expr = GROUPING.sub("", expr)
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", expr):
        if m.group(2) is None and m.group(1).lower() not in KEYWORDS:
            names.add(m.group(1))
    return names


def test_metric_names_parser() -> None:
    assert metric_names('max by (job, instance) (bgplb_session_up{job="a"}) == 0 and on (job) up') == {
        "bgplb_session_up", "up"}  # fmt: skip
    assert metric_names("rate(process_cpu_seconds_total{x=~\"$instance\"}[$__rate_interval]) > 1e3") == {
        "process_cpu_seconds_total"}  # fmt: skip
    assert metric_names('label_values(bgplb_session_up{job="$job"}, instance)') == {"bgplb_session_up"}
    assert metric_names("count(x == 1) or vector(0)") == {"x"}


# --- the speaker's real metric names -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """/metrics of a bgplb-speaker started on loopback (no peers; one pool of 256 addresses, one service in it),
    MetalLB's names on."""
    tmp = tmp_path_factory.mktemp("speaker")
    (tmp / "etc").mkdir()
    config = {"node": {"name": "n1", "router_id": "127.0.0.1", "asn": 64512},
              "pools": [{"name": "public", "addresses": ["198.51.100.0/24"]}],
              "services": [{"name": "web", "address": "198.51.100.10"}]}  # fmt: skip
    (tmp / "etc" / "speaker.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(tmp / "speaker.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "bgplb.daemon", "--config-dir", tmp / "etc", "--state-dir", tmp / "state",
         "--socket", tmp / "api.sock", "--no-listen", "--metrics", f"127.0.0.1:{port}", "--metrics-metallb-names"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline, text = time.monotonic() + 30, None
        while text is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                    text = resp.read().decode()
            except OSError:
                assert proc.poll() is None, (tmp / "speaker.log").read_text()
                assert time.monotonic() < deadline, "the speaker's /metrics did not answer in 30 s"
                time.sleep(0.2)
        yield text
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def exported(scrape: str) -> set[str]:
    """The sample names the speaker serves (a counter's `_total` / `_created` included)."""
    names = set()
    for family in text_string_to_metric_families(scrape):
        names.add(family.name)
        suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                    "summary": ("_sum", "_count", "_created")}.get(family.type, ())  # fmt: skip
        names.update(family.name + s for s in suffixes)
    return names


def test_pool_usage_and_drain_state_are_exported(scrape: str) -> None:
    families = text_string_to_metric_families(scrape)
    samples = {(s.name, s.labels.get("pool")): s.value for f in families for s in f.samples}
    assert samples[("bgplb_pool_addresses_in_use", "public")] == 1, samples
    assert samples[("bgplb_pool_addresses_total", "public")] == 256, samples
    assert samples[("bgplb_drain_state", None)] == 0 and samples[("bgplb_drain_since_timestamp_seconds", None)] == 0
    # the same under MetalLB's names (--metrics-metallb-names), for MetalLB's dashboards
    assert samples[("metallb_allocator_addresses_in_use_total", "public")] == 1, samples
    assert samples[("metallb_allocator_addresses_total", "public")] == 256, samples


def test_the_speakers_metrics_are_seen(exported: set[str]) -> None:
    """The scrape has the metrics speaker/docs/metrics.md documents (the checks below would pass on an empty one)."""
    documented = set(re.findall(r"^\| `(bgplb_\w+)` \|", (ROOT / "speaker/docs/metrics.md").read_text(), re.M))
    assert documented and documented <= exported, sorted(documented - exported)


# --- alert rules ---------------------------------------------------------------------------------------------------
def alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


def test_promtool_check_rules() -> None:
    out = promtool("check", "rules", RULES)
    assert f"SUCCESS: {len(alert_rules())} rules found" in out, out


def test_promtool_test_rules() -> None:
    out = promtool("test", "rules", RULES_TEST.name, cwd=RULES_TEST.parent)
    assert "SUCCESS" in out, out


def test_every_alert_has_firing_and_quiet_cases() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(RULES_TEST.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert names - firing == set(), f"no case where these fire: {sorted(names - firing)}"
    assert names - quiet == set(), f"no case where these stay quiet: {sorted(names - quiet)}"


def test_rules_use_only_exported_metrics(exported: set[str]) -> None:
    for rule in alert_rules():
        unknown = metric_names(rule["expr"]) - exported - PROMETHEUS_SYNTHETIC
        assert not unknown, f"{rule['alert']}: not exported by the speaker: {sorted(unknown)}"
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


# --- Grafana dashboard -------------------------------------------------------------------------------------------
def dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    queries = []

    def walk(panels: list[dict]) -> None:
        for panel in panels:
            queries.extend((panel["title"], t["expr"]) for t in panel.get("targets", []))
            walk(panel.get("panels", []))

    walk(dash["panels"])
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]
            queries.append((f"variable {var['name']}", q["query"] if isinstance(q, dict) else q))
    return queries


def test_dashboard_queries_use_only_exported_metrics(exported: set[str]) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 15
    used: set[str] = set()
    for title, expr in queries:
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        assert not names - exported, f"{title}: not exported by the speaker: {sorted(names - exported)}"
        used |= names
    # every metric the speaker documents has a panel
    documented = set(re.findall(r"^\| `(bgplb_\w+)` \|", (ROOT / "speaker/docs/metrics.md").read_text(), re.M))
    assert documented <= used, f"no panel for {sorted(documented - used)}"


def test_dashboard_is_importable() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and "__inputs" not in dash
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"] == panel["datasource"] and target["refId"], panel["title"]
