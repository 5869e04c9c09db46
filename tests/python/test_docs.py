"""The documentation checked against the running program, so the two cannot drift apart:

- docs/configuration.md against `wsgate --help` (every flag, its environment variable and
  default; no flag the binary lacks);
- docs/operations.md against a live gateway's /metrics (every metric family with its type,
  labels and label values, and no metric the gateway does not export);
- deploy/grafana/wsgate-dashboard.json against the same /metrics (metric names, label
  matchers, grouping labels);
- docs/protocol.md against src/server/close_codes.hpp and clients/js/wsgate-client.js, and
  that client against the live gateway when node is installed.

Needs WSGATE_BINARY (as test_gateway.py) and redis-server."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jwt
import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))
# The redis-server fixture and helpers of the end-to-end tests.
from test_gateway import free_port, redis_port, wait_for  # noqa: E402,F401

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
OPERATIONS = ROOT / "docs" / "operations.md"
PROTOCOL = ROOT / "docs" / "protocol.md"
DASHBOARD = ROOT / "deploy" / "grafana" / "wsgate-dashboard.json"
JS_CLIENT = ROOT / "clients" / "js" / "wsgate-client.js"
SECRET = "docs-test-secret-0123456789abcdef0123"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# --- wsgate --help ----------------------------------------------------------------------

# CLI11's layout: "  --flag TYPE[ ...][=DEFAULT] (Env:NAME)", the description after it or
# on the next line; "-h,--help" and "--version" have neither type nor environment variable.
HELP_OPTION = re.compile(
    r"^\s+(?:-\w,)?(?P<flag>--[a-z0-9][a-z0-9-]*)"
    r"(?:\s+[A-Z]+(?=[\s=]|$)(?:\s\.\.\.)?(?:=(?P<default>\S+))?)?"
    r"(?:\s+\(Env:(?P<env>[A-Z0-9_]+)\))?")


@pytest.fixture(scope="module")
def help_options():
    out = subprocess.run([os.environ["WSGATE_BINARY"], "--help"], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    options = {}
    for line in out.splitlines():
        m = HELP_OPTION.match(line)
        if m:
            options[m["flag"]] = (m["env"], m["default"])
    assert "--listen" in options and "--redis-url" in options, out
    return options


def doc_flag_rows(path):
    """{flag: (env cell, default cell)} of the table rows `| `--flag` | env | default | ...`."""
    rows = {}
    for line in path.read_text().splitlines():
        if not line.startswith("| `--"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|", 3)]
        flag = cells[0].strip("`")
        assert flag not in rows, f"{flag} has two rows in {path.name}"
        rows[flag] = (cells[1], cells[2])
    return rows


def test_configuration_documents_every_flag_with_its_env_and_default(help_options):
    rows = doc_flag_rows(CONFIGURATION)
    problems = []
    for flag, (env, default) in sorted(help_options.items()):
        if env is None:
            continue  # --help, --version
        if env != "WSGATE_" + flag[2:].upper().replace("-", "_"):
            problems.append(f"{flag}: env {env} breaks the WSGATE_<NAME> rule")
        if flag not in rows:
            problems.append(f"{flag} ({env}, default {default!r}) has no row")
            continue
        env_cell, default_cell = rows[flag]
        if env_cell != f"`{env}`":
            problems.append(f"{flag}: environment {env_cell!r}, binary says {env}")
        if default is not None and default_cell != f"`{default}`":
            problems.append(f"{flag}: default {default_cell!r}, binary says `{default}`")
        if default is None and "`" in default_cell:
            problems.append(f"{flag}: default {default_cell!r}, binary shows none (use words)")
    assert not problems, "\n".join(problems)


def test_docs_name_no_flag_the_binary_lacks(help_options):
    rows = doc_flag_rows(CONFIGURATION)
    unknown = sorted(set(rows) - set(help_options))
    assert not unknown, f"rows for flags wsgate does not have: {unknown}"
    for path in (CONFIGURATION, OPERATIONS):
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", path.read_text()))
        unknown = sorted(named - set(help_options))
        assert not unknown, f"{path.name} names flags wsgate does not have: {unknown}"


# --- a live gateway's /metrics ----------------------------------------------------------

@pytest.fixture(scope="module")
def gateway(redis_port, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("docs-gateway") / "wsgate.log"
    log = open(log_path, "wb")
    # A fast Redis probe, so that the per-shard probe round-trip gauges have samples.
    proc = subprocess.Popen([os.environ["WSGATE_BINARY"], "--listen", "127.0.0.1:0",
                             "--redis-url", f"redis://127.0.0.1:{redis_port}",
                             "--jwt-secret", SECRET, "--threads", "2",
                             "--redis-ping-interval", "100ms"], stderr=log)
    port = None

    def reported():
        nonlocal port
        m = re.search(r"\blistening\b.*\bport=(\d+)", log_path.read_text())
        port = int(m.group(1)) if m else None
        return port is not None or proc.poll() is not None

    try:
        wait_for(reported, what="the gateway to report its port")
        assert port is not None, log_path.read_text()
        wait_for(lambda: 'wsgate_redis_probe_rtt_seconds{shard="1"}' in scrape(port),
                 what="probe round trips of both shards in /metrics")
        yield port
    finally:
        proc.terminate()
        rc = proc.wait(10)
        log.close()
    assert rc == 0


def scrape(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return ""


SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def families(gateway):
    """{family: {"type": t, "labels": {label: set(values)}}} from the live /metrics."""
    text = scrape(gateway)
    fams = {}
    for line in text.splitlines():
        m = re.match(r"^# TYPE (\S+) (\S+)$", line)
        if m:
            fams[m[1]] = {"type": m[2], "labels": {}}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m or line.startswith("#"):
            continue
        name = m["name"]
        if name not in fams:
            base = next((name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
            assert base in fams and fams[base]["type"] == "histogram", f"sample {name} of no family"
            name = base
        for label, value in LABEL.findall(m["labels"] or ""):
            if label != "le":
                fams[name]["labels"].setdefault(label, set()).add(value)
    assert "wsgate_connections" in fams, text
    return fams


def metric_family(name, fams):
    """The family a metric name in a query refers to, or None."""
    if name in fams:
        return name
    for s in HISTOGRAM_SUFFIXES:
        if name.endswith(s) and fams.get(name[: -len(s)], {}).get("type") == "histogram":
            return name[: -len(s)]
    return None


def check_selectors(text, fams, where):
    """Every `wsgate_x{label="v"}` or `{label=~"a|b"}` matcher names an exported label and
    values the gateway exports; `$variables` and negative matchers are not checked."""
    problems = []
    for name, body in re.findall(r"\b(wsgate_[a-z0-9_]+)\{([^}]*)\}", text):
        fam = metric_family(name, fams)
        if fam is None:
            continue  # reported by the name checks
        labels = fams[fam]["labels"]
        for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', body):
            if label in ("job", "instance") or "$" in value:
                continue
            if label not in labels:
                problems.append(f"{where}: {name} has no label {label}")
                continue
            values = value.split("|") if op in ("=~", "!~") else [value]
            for v in values:
                if v not in labels[label]:
                    problems.append(f"{where}: {name}{{{label}}} never has the value {v!r}")
    return problems


OPS_ROW = re.compile(r"^\| `(wsgate_[a-z0-9_]+)` \| (\w+) \|([^|]*)\| (.*) \|$")


def test_operations_documents_every_metric_with_type_labels_and_values(families):
    rows = {}
    for line in OPERATIONS.read_text().splitlines():
        m = OPS_ROW.match(line)
        if m:
            assert m[1] not in rows, f"{m[1]} has two rows"
            rows[m[1]] = (m[2], {l.strip(" `") for l in m[3].split(",") if l.strip()}, m[4])
    problems = []
    for name, fam in sorted(families.items()):
        if not name.startswith("wsgate_"):
            continue
        if name not in rows:
            problems.append(f"{name} ({fam['type']}) has no row in the metrics table")
            continue
        doc_type, doc_labels, meaning = rows[name]
        if doc_type != fam["type"]:
            problems.append(f"{name}: documented as {doc_type}, exported as {fam['type']}")
        if doc_labels != set(fam["labels"]):
            problems.append(f"{name}: labels {sorted(doc_labels)} documented, "
                            f"{sorted(fam['labels'])} exported")
        for label, values in fam["labels"].items():
            if label == "shard":
                continue
            missing = sorted(v for v in values if f"`{v}`" not in meaning)
            if missing:
                problems.append(f"{name}: {label} values {missing} not described")
    stale = sorted(set(rows) - set(families))
    if stale:
        problems.append(f"rows for metrics the gateway does not export: {stale}")
    assert not problems, "\n".join(problems)


def test_operations_names_no_metric_the_gateway_lacks(families):
    text = OPERATIONS.read_text()
    unknown = sorted({n for n in re.findall(r"\bwsgate_[a-z0-9_]+", text)
                      if metric_family(n, families) is None})
    assert not unknown, f"operations.md names metrics /metrics does not have: {unknown}"
    problems = check_selectors(text, families, "operations.md")
    assert not problems, "\n".join(problems)


# --- the Grafana dashboard --------------------------------------------------------------

def dashboard_strings(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from dashboard_strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from dashboard_strings(v)
    elif isinstance(node, str):
        yield node


def dashboard_exprs(dash):
    exprs = []
    for panel in dash["panels"]:
        for p in [panel] + panel.get("panels", []):
            exprs += [(p["title"], t["expr"]) for t in p.get("targets", [])]
    return exprs


def test_dashboard_uses_only_exported_metrics_and_labels(families):
    dash = json.loads(DASHBOARD.read_text())
    names = {n for s in dashboard_strings(dash) for n in re.findall(r"\bwsgate_[a-z0-9_]+", s)}
    unknown = sorted(n for n in names if metric_family(n, families) is None)
    assert not unknown, f"the dashboard queries metrics /metrics does not have: {unknown}"

    exprs = dashboard_exprs(dash)
    assert len(exprs) >= 15
    problems = []
    for title, expr in exprs:
        problems += check_selectors(expr, families, f"panel {title!r}")
        # Grouping labels must exist on a metric the expression reads (or come from the
        # scrape: job, instance; or be the histogram's le).
        own = {l for n in re.findall(r"\bwsgate_[a-z0-9_]+", expr)
               if (f := metric_family(n, families)) for l in families[f]["labels"]}
        for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            for label in (l.strip() for l in group.split(",")):
                if label not in own | {"job", "instance", "le"}:
                    problems.append(f"panel {title!r}: groups by {label}, which {expr} lacks")
    assert not problems, "\n".join(problems)


def test_dashboard_is_a_grafana_10_dashboard_on_a_prometheus_input():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["schemaVersion"] >= 36
    assert [i["name"] for i in dash["__inputs"]] == ["DS_PROMETHEUS"]
    assert any(v["name"] == "DS_PROMETHEUS" and v["type"] == "datasource"
               for v in dash["templating"]["list"])
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
            assert p["targets"], p["title"]


# --- protocol.md ------------------------------------------------------------------------

def test_protocol_lists_every_close_code_and_reason():
    header = (ROOT / "src" / "server" / "close_codes.hpp").read_text()
    codes = re.findall(r"uint16_t \w+ = (\d+);", header)
    reasons = re.findall(r'string_view reason_\w+ = "([^"]+)";', header)
    assert len(codes) >= 7 and len(reasons) >= 6
    doc = PROTOCOL.read_text()
    table = doc.split("## Close codes", 1)[1].split("\n## ", 1)[0]
    for code in codes:
        assert re.search(rf"^\| [^|]*\b{code}\b", table, re.M), f"close code {code} has no row"
    for reason in reasons:
        assert f"`{reason}`" in table, f"close reason {reason!r} is not in the table"


def test_protocol_shows_the_javascript_client_file_in_full():
    doc = PROTOCOL.read_text()
    blocks = re.findall(r"^```js\n(.*?)^```$", doc, re.S | re.M)
    assert JS_CLIENT.read_text() in blocks, \
        "docs/protocol.md must show clients/js/wsgate-client.js unchanged in a ```js block"


# --- the JavaScript client against the live gateway --------------------------------------

NODE_SCRIPT = r"""
const WsgateClient = require(process.argv[2]);
const [url, clientId, badToken, goodToken] = process.argv.slice(3);
const say = (o) => console.log(JSON.stringify(o));
const client = new WsgateClient({
  url, clientId, token: badToken, WebSocket: globalThis.WebSocket,
  onOpen: () => say({ event: "open" }),
  onMessage: (data) => {
    say({ event: "message", data });
    if (data === "done") { client.stop(); setTimeout(() => process.exit(0), 100); }
  },
  onClose: (e) => say({ event: "close", code: e.code, reason: e.reason, retryInMs: e.retryInMs }),
  onTokenRejected: (reason) => { say({ event: "rejected", reason }); client.setToken(goodToken); },
});
client.start();
setTimeout(() => { say({ event: "timeout" }); process.exit(3); }, 15000);
"""


def node_command():
    node = shutil.which("node")
    if node is None:
        return None
    probe = subprocess.run([node, "-e", "process.stdout.write(typeof WebSocket)"],
                           capture_output=True, text=True, timeout=10)
    # Node 22+ has a global WebSocket; Node 20 and 21 behind a flag.
    return [node] if probe.stdout == "function" else [node, "--experimental-websocket"]


def test_javascript_client_against_the_gateway(gateway, redis_port, tmp_path):
    command = node_command()
    if command is None:
        pytest.skip("node is not installed")
    user = "js user/1 é"  # percent-encoded by the client, decoded by the gateway
    bad = jwt.encode({"sub": "someone else", "exp": int(time.time()) + 600}, SECRET, "HS256")
    good = jwt.encode({"sub": user, "exp": int(time.time()) + 600}, SECRET, "HS256")
    script = tmp_path / "client.js"
    script.write_text(NODE_SCRIPT)
    proc = subprocess.Popen(command + [str(script), str(JS_CLIENT), f"ws://127.0.0.1:{gateway}",
                                       user, bad, good],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    try:
        def next_event():
            line = proc.stdout.readline()
            assert line, f"node ended early: {events} {proc.stderr.read()}"
            events.append(json.loads(line))
            return events[-1]

        # The wrong user's token: the upgrade completes, then 1008, no retry until setToken.
        assert next_event() == {"event": "open"}
        assert next_event() == {"event": "close", "code": 1008, "reason": "client_id mismatch",
                                "retryInMs": None}
        assert next_event() == {"event": "rejected", "reason": "client_id mismatch"}
        # The new token reconnects; once open, the subscription is in place.
        assert next_event() == {"event": "open"}
        r = redis.Redis(port=redis_port)
        assert r.publish("ws:" + user, '{"n":"é"}') >= 1
        assert next_event() == {"event": "message", "data": '{"n":"é"}'}
        r.publish("ws:" + user, "done")
        assert next_event() == {"event": "message", "data": "done"}
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


# --- links between the documents ----------------------------------------------------------

def heading_anchors(path):
    """GitHub's anchors for the headings of a Markdown file."""
    anchors = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_links_in_the_docs_resolve():
    problems = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            file_part, _, anchor = target.partition("#")
            path = (doc.parent / file_part).resolve() if file_part else doc
            if not path.exists():
                problems.append(f"{doc.name}: {target}: no such file")
            elif anchor and path.suffix == ".md" and anchor not in heading_anchors(path):
                problems.append(f"{doc.name}: {target}: no such heading")
    assert not problems, "\n".join(problems)
