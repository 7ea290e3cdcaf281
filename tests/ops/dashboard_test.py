#!/usr/bin/env python3
"""The Grafana dashboard against a real Prometheus server scraping a running `herald demo`.

1. Starts `herald demo` (metrics on a free loopback port) and a Prometheus server (Debian's
   /usr/bin/prometheus) on loopback scraping it every second.
2. Lints a live scrape with `promtool check metrics`, and checks the exposition itself: every
   metric is herald_*, counters end in _total, no label carries an unbounded value.
3. Evaluates every query of helm/herald/dashboards/herald.json through Prometheus' HTTP API:
   each must succeed and return data.

Usage: dashboard_test.py HERALD_BINARY [REPO_ROOT]
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

herald = sys.argv[1]
root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..")
dashboard_path = os.path.join(root, "helm", "herald", "dashboards", "herald.json")
alerts_path = os.path.abspath(os.path.join(root, "helm", "herald", "alerts", "herald-alerts.yaml"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def wait(what, predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"FAIL: {what} within {seconds} s")


failures = []


def check(ok, message):
    print(("ok   " if ok else "FAIL ") + message)
    if not ok:
        failures.append(message)


work = tempfile.mkdtemp(prefix="herald-dashboard-")
procs = []
try:
    metrics_port, prom_port = free_port(), free_port()
    demo = subprocess.Popen(
        [herald, "demo", "--rate", "2000", "--duration", "90", "--metrics",
         f"127.0.0.1:{metrics_port}"],
        stdout=open(os.path.join(work, "demo.log"), "w"), stderr=subprocess.STDOUT)
    procs.append(demo)
    wait("herald ready", lambda: get(f"http://127.0.0.1:{metrics_port}/readyz")[0] == 200, 60)
    check(get(f"http://127.0.0.1:{metrics_port}/healthz") == (200, "ok\n"), "/healthz answers ok")

    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ['{alerts_path}']
scrape_configs:
  - job_name: herald
    static_configs:
      - targets: ['127.0.0.1:{metrics_port}']
""")
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/tsdb",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=open(os.path.join(work, "prometheus.log"), "w"), stderr=subprocess.STDOUT)
    procs.append(prom)
    api = f"http://127.0.0.1:{prom_port}/api/v1"

    def query(expr):
        url = f"{api}/query?" + urllib.parse.urlencode({"query": expr})
        return json.loads(get(url)[1])

    wait("prometheus up", lambda: get(f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200, 30)
    wait("first scrape", lambda: query('up{job="herald"} == 1')["data"]["result"], 30)

    # The exposition: promtool's lint, then Herald's own conventions.
    scrape = get(f"http://127.0.0.1:{metrics_port}/metrics")[1]
    lint = subprocess.run(["promtool", "check", "metrics"], input=scrape, text=True,
                          capture_output=True)
    check(lint.returncode == 0, "promtool check metrics: " + (lint.stdout + lint.stderr).strip())
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", scrape, re.M))
    check(all(n.startswith("herald_") for n in types), f"{len(types)} metrics, all herald_*")
    for name, kind in types.items():
        if kind == "counter":
            check(name.endswith("_total"), f"counter {name} ends in _total")
        if kind == "histogram":
            check(name.endswith("_seconds"), f"histogram {name} in base units (seconds)")
    bounded = {"topic", "result", "direction", "reason", "rule", "reminder_number", "type", "kind", "store", "family",
               "le", "quantile"}
    labels = set(re.findall(r"[{,](\w+)=\"", scrape))
    check(labels <= bounded, f"labels {sorted(labels)} are all bounded sets")

    # Let a few rate windows fill.
    time.sleep(25)
    dashboard = json.load(open(dashboard_path))
    exprs = []

    def collect(panels):
        for p in panels:
            collect(p.get("panels", []))
            for t in p.get("targets", []):
                if t.get("expr"):
                    exprs.append((p.get("title", "?"), t["expr"]))

    # The alerting rules loaded and evaluate without error on live data.
    groups = json.loads(get(f"{api}/rules")[1])["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    check(len(rules) >= 9, f"{len(rules)} alerting rules loaded from {alerts_path}")
    for r in rules:
        check(r.get("health") == "ok", f"alert {r['name']} evaluates ({r.get('lastError', '')})")

    collect(dashboard.get("panels", []))
    check(len(exprs) >= 10, f"{len(exprs)} dashboard queries")
    for title, expr in exprs:
        # Grafana's variables: every instance, the 1 m window.
        q = (expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
             .replace("${instance:regex}", ".*").replace("$instance", ".*")
             .replace("${instance}", ".*").replace("$job", ".*"))
        r = query(q)
        ok = r.get("status") == "success" and len(r["data"]["result"]) > 0
        check(ok, f"[{title}] {q}" + ("" if ok else f" -> {json.dumps(r)[:300]}"))
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    if failures:
        for name in ("demo.log", "prometheus.log"):
            path = os.path.join(work, name)
            if os.path.exists(path):
                print(f"---- {name} (tail)")
                print("".join(open(path).readlines()[-20:]))
    shutil.rmtree(work, ignore_errors=True)

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("all dashboard queries return data")
