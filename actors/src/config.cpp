#include "herald/actors/config.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <spdlog/spdlog.h>

namespace herald::actors {
namespace {

// While a config is checked, errors are collected here (all of them are reported at once);
// elsewhere (carrier files loaded on their own) the first one throws.
thread_local std::vector<std::string>* collected = nullptr;
// And the warnings: environment variables that name no configuration key.
thread_local std::vector<std::string>* collected_warnings = nullptr;
// Keys set by environment variables, with the variable's name (for the error messages).
thread_local const std::map<std::string, std::string>* env_keys = nullptr;

constexpr std::string_view unknown_key = "unknown key";

void warn(std::string msg) {
  if (collected_warnings != nullptr) collected_warnings->push_back(std::move(msg));
}

void fail(const std::string& key, const std::string& why) {
  std::string var;
  if (env_keys != nullptr)
    for (const auto& [path, name] : *env_keys)
      if (key == path || key.starts_with(path + ".") || key.starts_with(path + "[")) var = name;
  // A HERALD_* variable that names no key may belong to something else (a wrapper's
  // HERALD_BIN): a warning. A typo in the file stays an error.
  if (why == unknown_key && !var.empty()) {
    warn("environment variable " + var + ": no configuration key '" + key + "' (ignored)");
    return;
  }
  std::string msg = "config key '" + key + "': " + why;
  if (!var.empty()) msg += " (set by " + var + ")";
  if (collected == nullptr) throw config_error(msg);
  collected->push_back(std::move(msg));
}

/// Collects the errors of everything run in its scope.
class collecting {
 public:
  explicit collecting(std::vector<std::string>& out) : previous_(collected) { collected = &out; }
  ~collecting() { collected = previous_; }
  collecting(const collecting&) = delete;
  collecting& operator=(const collecting&) = delete;

 private:
  std::vector<std::string>* previous_;
};

/// Rejects keys of `node` that are not in `known`, so a typo is an error, not a silent default.
void check_keys(const YAML::Node& node, const std::string& path, std::set<std::string> known) {
  if (!node) return;
  if (!node.IsMap()) {
    fail(path, "must be a mapping");
    return;
  }
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    if (known.count(key) == 0)
      fail(path.empty() ? key : path + "." + key, std::string(unknown_key));
  }
}

template <class T>
void read(const YAML::Node& node, const std::string& key, const std::string& path, T& out) {
  const YAML::Node v = node[key];
  if (!v) return;
  try {
    out = v.as<T>();
  } catch (const YAML::Exception&) {
    fail(path + key, "has the wrong type");
  }
}

/// One scalar key of a section and where it goes.
using field_ptr = std::variant<int*, std::int64_t*, std::size_t*, double*, bool*>;
using section_fields = std::vector<std::pair<const char*, field_ptr>>;

/// Reads the mapping `node` at `path` whose keys are exactly `fields` (each optional).
void read_section(const YAML::Node& node, const std::string& path, const section_fields& fields) {
  if (!node) return;
  std::set<std::string> known;
  for (const auto& f : fields) known.insert(f.first);
  check_keys(node, path, known);
  for (const auto& [name, ptr] : fields)
    std::visit([&](auto* out) { read(node, name, path + ".", *out); }, ptr);
}

}  // namespace

namespace {

/// A normalised shipment status named at `key`; config_error naming the key otherwise.
rules::shipment_status status_at(const YAML::Node& node, const std::string& key) {
  const auto text = node.as<std::string>();
  const auto status = rules::parse_shipment_status(text);
  if (!status) {
    fail(key, "'" + text + "' is not a normalised shipment status");
    return rules::shipment_status::in_transit;  // reported; the config is rejected
  }
  return *status;
}

}  // namespace

void add_carrier_mappings(const std::string& yaml_text, const std::string& source,
                          rules::carrier_mappings& out) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw config_error("carrier mapping '" + source + "': " + e.what());
  }
  check_keys(root, source, {"carriers", "codes"});
  if (!root["carriers"] || !root["carriers"].IsSequence() || root["carriers"].size() == 0) {
    fail(source + ".carriers", "must be a non-empty list of carrier names");
    return;
  }
  if (!root["codes"] || !root["codes"].IsMap()) {
    fail(source + ".codes", "must be a mapping");
    return;
  }
  for (const auto& name : root["carriers"]) {
    for (const auto& kv : root["codes"]) {
      const auto code = kv.first.as<std::string>();
      out.add(name.as<std::string>(), code, status_at(kv.second, source + ".codes." + code));
    }
  }
}

rules::shipment_config default_shipment_config() {
  static const std::pair<const char*, const char*> shipped[] = {
#include "carrier_defaults.inc"
  };
  rules::shipment_config c;
  for (const auto& [name, text] : shipped) add_carrier_mappings(text, name, c.carriers);
  return c;
}

const std::string& input_topic(const topics_config& topics, schemas::topic_kind kind) {
  switch (kind) {
    case schemas::topic_kind::clickstream:
      return topics.clickstream;
    case schemas::topic_kind::carts:
      return topics.carts;
    case schemas::topic_kind::inventory:
      return topics.inventory;
    case schemas::topic_kind::shipments:
      break;
  }
  return topics.shipments;
}

namespace {

void check(const app_config& c);

/// Reads `root` (the file with the environment applied) over the defaults in `c`.
void parse(const YAML::Node& root, app_config& c) {
  check_keys(
      root, "",
      {"kafka", "topics", "state", "processing", "task", "metrics", "rules", "worker_threads",
       "log", "availability_bootstrap_timeout_ms", "availability_history_ms"});
  read(root, "worker_threads", "", c.worker_threads);
  read(root, "availability_bootstrap_timeout_ms", "", c.availability_bootstrap_timeout_ms);
  read(root, "availability_history_ms", "", c.availability_history_ms);
  const auto log = root["log"];
  check_keys(log, "log", {"level", "format"});
  if (log) {
    read(log, "level", "log.", c.log.level);
    read(log, "format", "log.", c.log.format);
  }

  const auto kafka = root["kafka"];
  check_keys(kafka, "kafka",
             {"group_id", "session_timeout_ms", "max_poll_records", "max_in_flight",
              "resume_in_flight", "properties"});
  if (kafka) {
    read(kafka, "group_id", "kafka.", c.kafka.group_id);
    read(kafka, "session_timeout_ms", "kafka.", c.kafka.session_timeout_ms);
    read(kafka, "max_poll_records", "kafka.", c.kafka.max_poll_records);
    read(kafka, "max_in_flight", "kafka.", c.kafka.max_in_flight);
    read(kafka, "resume_in_flight", "kafka.", c.kafka.resume_in_flight);
    if (const auto props = kafka["properties"]; props && !props.IsMap()) {
      fail("kafka.properties", "must be a mapping");
    } else if (props) {
      for (const auto& kv : props) {
        const auto name = kv.first.as<std::string>();
        if (!kv.second.IsScalar())
          fail("kafka.properties." + name, "must be a string");
        else
          c.kafka.properties[name] = kv.second.as<std::string>();
      }
    }
  }
  const auto topics = root["topics"];
  check_keys(
      topics, "topics",
      {"clickstream", "carts", "inventory", "sku_signals", "cart_reminders", "restock_alerts",
       "shipments", "lane_stats", "tracking_notifications", "anomalies", "dlq"});
  if (topics) {
    read(topics, "inventory", "topics.", c.topics.inventory);
    read(topics, "sku_signals", "topics.", c.topics.sku_signals);
    read(topics, "restock_alerts", "topics.", c.topics.restock_alerts);
    read(topics, "shipments", "topics.", c.topics.shipments);
    read(topics, "lane_stats", "topics.", c.topics.lane_stats);
    read(topics, "tracking_notifications", "topics.", c.topics.tracking_notifications);
    read(topics, "anomalies", "topics.", c.topics.anomalies);
    read(topics, "clickstream", "topics.", c.topics.clickstream);
    read(topics, "carts", "topics.", c.topics.carts);
    read(topics, "cart_reminders", "topics.", c.topics.cart_reminders);
    read(topics, "dlq", "topics.", c.topics.dlq);
  }
  const auto st = root["state"];
  check_keys(st, "state", {"dir", "sync", "cache_entries", "changelog"});
  if (st) {
    read(st, "dir", "state.", c.state.dir);
    read(st, "sync", "state.", c.state.sync);
    read(st, "cache_entries", "state.", c.state.cache_entries);
    read(st, "changelog", "state.", c.state.changelog);
  }
  const auto processing = root["processing"];
  check_keys(processing, "processing", {"guarantee", "transactional_id"});
  if (processing) {
    read(processing, "guarantee", "processing.", c.processing.guarantee);
    read(processing, "transactional_id", "processing.", c.processing.transactional_id);
  }
  const auto task = root["task"];
  check_keys(
      task, "task",
      {"commit_interval_ms", "tick_interval_ms", "max_record_bytes", "allowed_lateness_ms",
       "idle_timeout_ms", "max_future_ms", "min_event_time_ms", "max_wait_ms", "timer_grace_ms",
       "dedup_window_ms", "dedup_max_ids", "dlq_max_bytes", "max_uncommitted_records"});
  if (task) {
    read(task, "commit_interval_ms", "task.", c.task.commit_interval_ms);
    read(task, "tick_interval_ms", "task.", c.task.tick_interval_ms);
    read(task, "max_record_bytes", "task.", c.task.max_record_bytes);
    read(task, "allowed_lateness_ms", "task.", c.task.watermark.allowed_lateness_ms);
    read(task, "idle_timeout_ms", "task.", c.task.watermark.idle_timeout_ms);
    read(task, "max_future_ms", "task.", c.task.max_future_ms);
    read(task, "min_event_time_ms", "task.", c.task.min_event_time_ms);
    read(task, "max_wait_ms", "task.", c.task.max_wait_ms);
    read(task, "timer_grace_ms", "task.", c.task.timer_grace_ms);
    read(task, "dedup_window_ms", "task.", c.task.dedup_window_ms);
    read(task, "dedup_max_ids", "task.", c.task.dedup_max_ids);
    read(task, "dlq_max_bytes", "task.", c.task.dlq_max_bytes);
    read(task, "max_uncommitted_records", "task.", c.task.max_uncommitted_records);
  }
  const auto m = root["metrics"];
  check_keys(m, "metrics", {"listen"});
  if (m) read(m, "listen", "metrics.", c.metrics.listen);

  const auto rules = root["rules"];
  check_keys(rules, "rules", {"abandoned_cart", "inventory", "shipments", "anomalies"});
  if (rules && rules["anomalies"]) {
    const auto an = rules["anomalies"];
    auto& a = c.anomalies;
    check_keys(an, "rules.anomalies",
               {"bot", "demand", "demand_units", "traffic", "price", "cart_quantity"});
    read_section(an["demand_units"], "rules.anomalies.demand_units",
                 {{"cart_adds", &a.demand_units.cart_adds}, {"orders", &a.demand_units.orders}});
    read_section(an["bot"], "rules.anomalies.bot",
                 {{"window_ms", &a.bot.window_ms},
                  {"absolute_limit", &a.bot.absolute_limit},
                  {"baseline_factor", &a.bot.baseline_factor},
                  {"min_count", &a.bot.min_count},
                  {"min_population", &a.bot.min_population},
                  {"min_interval_ms", &a.bot.min_interval_ms},
                  {"flagged_for_ms", &a.bot.flagged_for_ms}});
    for (auto [name, d] : {std::pair{"demand", &a.demand}, std::pair{"traffic", &a.traffic}})
      read_section(an[name], std::string("rules.anomalies.") + name,
                   {{"bucket_ms", &d->bucket_ms},
                    {"alpha", &d->alpha},
                    {"z_threshold", &d->z_threshold},
                    {"min_volume", &d->min_volume},
                    {"min_ratio", &d->min_ratio},
                    {"min_history", &d->min_history},
                    {"sd_floor", &d->sd_floor},
                    {"min_interval_ms", &d->min_interval_ms},
                    {"max_gap_buckets", &d->max_gap_buckets}});
    read_section(an["price"], "rules.anomalies.price",
                 {{"samples", &a.price.samples},
                  {"min_samples", &a.price.min_samples},
                  {"factor", &a.price.factor},
                  {"min_interval_ms", &a.price.min_interval_ms}});
    read_section(an["cart_quantity"], "rules.anomalies.cart_quantity",
                 {{"absolute_limit", &a.cart_quantity.absolute_limit},
                  {"factor", &a.cart_quantity.factor},
                  {"samples", &a.cart_quantity.samples},
                  {"min_samples", &a.cart_quantity.min_samples},
                  {"min_interval_ms", &a.cart_quantity.min_interval_ms}});
  }
  if (rules && rules["shipments"]) {
    const auto sh = rules["shipments"];
    const std::string p = "rules.shipments.";
    check_keys(sh, "rules.shipments",
               {"hold_unknown_ms", "default_transit_ms", "stuck_default_ms", "min_lane_samples",
                "stuck_factor", "anomaly_min_interval_ms", "notify_on", "carrier_files",
                "max_held_scans", "retention_ms", "open_retention_ms", "lane_max_samples",
                "late_after_ms", "fulfilment_stall_ms", "lane_recheck_ms", "lane_drift_ms"});
    read(sh, "hold_unknown_ms", p, c.shipments.hold_unknown_ms);
    read(sh, "default_transit_ms", p, c.shipments.default_transit_ms);
    read(sh, "stuck_default_ms", p, c.shipments.stuck_default_ms);
    read(sh, "min_lane_samples", p, c.shipments.min_lane_samples);
    read(sh, "stuck_factor", p, c.shipments.stuck_factor);
    read(sh, "anomaly_min_interval_ms", p, c.shipments.anomaly_min_interval_ms);
    read(sh, "max_held_scans", p, c.shipments.max_held_scans);
    read(sh, "retention_ms", p, c.shipments.retention_ms);
    read(sh, "open_retention_ms", p, c.shipments.open_retention_ms);
    read(sh, "fulfilment_stall_ms", p, c.shipments.fulfilment_stall_ms);
    read(sh, "lane_max_samples", p, c.shipments.lane_max_samples);
    read(sh, "late_after_ms", p, c.shipments.late_after_ms);
    read(sh, "lane_recheck_ms", p, c.shipments.lane_recheck_ms);
    read(sh, "lane_drift_ms", p, c.shipments.lane_drift_ms);
    if (const auto notify = sh["notify_on"]) {
      if (!notify.IsSequence()) fail(p + "notify_on", "must be a list of statuses");
      c.shipments.notify_on.clear();
      for (std::size_t i = 0; notify.IsSequence() && i < notify.size(); ++i)
        c.shipments.notify_on.insert(
            status_at(notify[i], p + "notify_on[" + std::to_string(i) + "]"));
    }
    if (const auto files = sh["carrier_files"]) {
      if (!files.IsSequence()) fail(p + "carrier_files", "must be a list of paths");
      for (std::size_t i = 0; files.IsSequence() && i < files.size(); ++i) {
        const auto path = files[i].as<std::string>();
        std::ifstream in(path);
        if (!in) {
          fail(p + "carrier_files", "cannot read '" + path + "'");
          continue;
        }
        std::stringstream text;
        text << in.rdbuf();
        add_carrier_mappings(text.str(), path, c.shipments.carriers);
      }
    }
  }
  if (rules && rules["inventory"]) {
    const auto inv = rules["inventory"];
    const std::string p = "rules.inventory.";
    check_keys(inv, "rules.inventory",
               {"default_low_stock_threshold", "notify_ratio", "response_window_ms",
                "renotify_interval_ms", "subscription_max_age_ms", "velocity_window_days",
                "max_remembered_buyers"});
    read(inv, "default_low_stock_threshold", p, c.inventory.default_low_stock_threshold);
    read(inv, "notify_ratio", p, c.inventory.notify_ratio);
    read(inv, "response_window_ms", p, c.inventory.response_window_ms);
    read(inv, "renotify_interval_ms", p, c.inventory.renotify_interval_ms);
    read(inv, "subscription_max_age_ms", p, c.inventory.subscription_max_age_ms);
    read(inv, "velocity_window_days", p, c.inventory.velocity_window_days);
    read(inv, "max_remembered_buyers", p, c.inventory.max_remembered_buyers);
  }
  if (rules && rules["abandoned_cart"]) {
    const auto ac = rules["abandoned_cart"];
    check_keys(ac, "rules.abandoned_cart", {"steps", "retention_ms", "max_carts", "remember_ms"});
    read(ac, "retention_ms", "rules.abandoned_cart.", c.abandoned_cart.retention_ms);
    read(ac, "max_carts", "rules.abandoned_cart.", c.abandoned_cart.max_carts);
    read(ac, "remember_ms", "rules.abandoned_cart.", c.abandoned_cart.remember_ms);
    if (const auto steps = ac["steps"]) {
      if (!steps.IsSequence()) fail("rules.abandoned_cart.steps", "must be a list");
      c.abandoned_cart.steps.clear();
      for (std::size_t i = 0; steps.IsSequence() && i < steps.size(); ++i) {
        const std::string p = "rules.abandoned_cart.steps[" + std::to_string(i) + "]";
        check_keys(steps[i], p, {"delay_ms", "coupon"});
        rules::reminder_step step;
        read(steps[i], "delay_ms", p + ".", step.delay_ms);
        read(steps[i], "coupon", p + ".", step.coupon);
        c.abandoned_cart.steps.push_back(step);
      }
    }
  }
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += (out.empty() ? "" : "\n") + e;
  return out;
}

/// The environment variable that sets kafka property `name` ("sasl.password" ->
/// HERALD_KAFKA__PROPERTIES__SASL_PASSWORD).
std::string property_env_name(std::string_view name) {
  std::string out = "HERALD_KAFKA__PROPERTIES__";
  for (char ch : name) out += ch == '.' ? '_' : static_cast<char>(std::toupper(ch));
  return out;
}

/// Sets `value` at `parts[i..]` below `node`, creating mappings on the way.
void set_path(YAML::Node node, const std::vector<std::string>& parts, std::size_t i,
              const YAML::Node& value) {
  if (i + 1 == parts.size()) {
    node[parts[i]] = value;
    return;
  }
  YAML::Node child = node[parts[i]];
  if (!child || !child.IsMap()) {
    node[parts[i]] = YAML::Node(YAML::NodeType::Map);
    child.reset(node[parts[i]]);
  }
  set_path(child, parts, i + 1, value);
}

/// Applies the HERALD_* variables of `env` to `root`; records which key each one set.
void apply_env(YAML::Node& root, const environment& env, std::map<std::string, std::string>& set) {
  constexpr std::string_view prefix = "HERALD_";
  for (const auto& [name, value] : env) {
    if (!std::string_view(name).starts_with(prefix)) continue;
    std::vector<std::string> parts;
    const std::string rest = name.substr(prefix.size());
    for (std::size_t from = 0;;) {
      const auto at = rest.find("__", from);
      std::string part = rest.substr(from, at == std::string::npos ? std::string::npos : at - from);
      for (auto& ch : part) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      parts.push_back(std::move(part));
      if (at == std::string::npos) break;
      from = at + 2;
    }
    bool malformed = false;
    for (const auto& part : parts) malformed = malformed || part.empty();
    if (malformed) {
      warn("environment variable " + name +
           ": not a configuration key (HERALD_SECTION__KEY, '__' between path components; "
           "ignored)");
      continue;
    }
    if (parts.size() >= 3 && parts[0] == "kafka" && parts[1] == "properties") {
      // librdkafka property names use dots: '_' stands for '.'. The value is taken verbatim
      // (a password is not YAML).
      std::string property;
      for (std::size_t i = 2; i < parts.size(); ++i) property += (i > 2 ? "." : "") + parts[i];
      std::replace(property.begin(), property.end(), '_', '.');
      set_path(root, {"kafka", "properties", property}, 0, YAML::Node(value));
      set["kafka.properties." + property] = name;
      continue;
    }
    YAML::Node parsed;
    try {
      parsed = value.empty() ? YAML::Node(std::string()) : YAML::Load(value);
    } catch (const YAML::Exception& e) {
      if (collected != nullptr)
        collected->push_back("environment variable " + name + ": not valid YAML: " + e.what());
      continue;
    }
    std::string path;
    for (const auto& part : parts) path += (path.empty() ? "" : ".") + part;
    set_path(root, parts, 0, parsed);
    set[path] = name;
  }
}

}  // namespace

bool is_secret_property(std::string_view name) {
  return name.find("password") != std::string_view::npos ||
         name.find("secret") != std::string_view::npos || name == "ssl.key.pem" ||
         name == "sasl.oauthbearer.config";
}

environment process_environment() {
  environment out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    if (!kv.starts_with("HERALD_")) continue;
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return out;
}

config_check check_config(const std::string& path, const environment& env) {
  config_check out;
  collecting scope(out.errors);
  collected_warnings = &out.warnings;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    out.errors.push_back("cannot read config '" + path + "': " + e.what());
    return out;
  }
  if (!root || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  // Secrets come only from the environment: a file is copied, printed, committed.
  if (root.IsMap() && root["kafka"] && root["kafka"].IsMap() && root["kafka"]["properties"] &&
      root["kafka"]["properties"].IsMap())
    for (const auto& kv : root["kafka"]["properties"]) {
      const auto name = kv.first.as<std::string>();
      if (is_secret_property(name))
        fail("kafka.properties." + name,
             "is a secret: set it only in the environment, as " + property_env_name(name));
    }
  std::map<std::string, std::string> from_env;
  if (root.IsMap()) apply_env(root, env, from_env);
  env_keys = &from_env;
  try {
    parse(root, out.config);
    check(out.config);
  } catch (const config_error& e) {  // a carrier file that is not YAML
    out.errors.emplace_back(e.what());
  } catch (const YAML::Exception& e) {
    out.errors.push_back("cannot read config '" + path + "': " + e.what());
  }
  env_keys = nullptr;
  collected_warnings = nullptr;
  return out;
}

app_config load_config(const std::string& path, const environment& env) {
  auto result = check_config(path, env);
  if (!result.errors.empty()) throw config_error(joined(result.errors));
  for (const auto& w : result.warnings) spdlog::warn("config: {}", w);
  return std::move(result.config);
}

app_config load_config(const std::string& path) {
  return load_config(path, process_environment());
}

void validate(const app_config& c) {
  std::vector<std::string> errors;
  {
    collecting scope(errors);
    check(c);
  }
  if (!errors.empty()) throw config_error(joined(errors));
}

std::vector<std::pair<std::string, std::string>> redacted_properties(const app_config& c) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : c.kafka.properties)
    out.emplace_back(name, is_secret_property(name) ? "***" : value);
  return out;
}

namespace {

void check(const app_config& c) {
  if (c.kafka.properties.find("bootstrap.servers") == c.kafka.properties.end())
    fail("kafka.properties.bootstrap.servers", "is required");
  if (c.kafka.group_id.empty()) fail("kafka.group_id", "must not be empty");
  if (c.kafka.session_timeout_ms <= 3000) fail("kafka.session_timeout_ms", "must be > 3000");
  if (c.kafka.max_poll_records == 0) fail("kafka.max_poll_records", "must be > 0");
  if (c.kafka.max_in_flight <= 0) fail("kafka.max_in_flight", "must be > 0");
  if (c.kafka.resume_in_flight < 0 || c.kafka.resume_in_flight > c.kafka.max_in_flight)
    fail("kafka.resume_in_flight", "must be between 0 and kafka.max_in_flight");
  for (const auto* t : {&c.topics.clickstream, &c.topics.carts, &c.topics.inventory,
                        &c.topics.sku_signals, &c.topics.shipments, &c.topics.lane_stats,
                        &c.topics.cart_reminders, &c.topics.restock_alerts,
                        &c.topics.tracking_notifications, &c.topics.anomalies, &c.topics.dlq})
    if (t->empty()) fail("topics", "topic names must not be empty");
  if (c.state.dir.empty()) fail("state.dir", "must not be empty");
  if (c.state.cache_entries == 0) fail("state.cache_entries", "must be > 0");
  if (c.processing.guarantee != "exactly_once_v2" && c.processing.guarantee != "at_least_once")
    fail("processing.guarantee", "must be exactly_once_v2 or at_least_once");
  else if (c.processing.exactly_once() && !c.state.changelog)
    fail("processing.guarantee",
         "exactly_once_v2 needs state.changelog: true (a rewound task restores its committed "
         "state from the changelogs)");
  if (c.task.commit_interval_ms <= 0) fail("task.commit_interval_ms", "must be > 0");
  if (c.task.tick_interval_ms <= 0) fail("task.tick_interval_ms", "must be > 0");
  if (c.task.max_record_bytes < 64) fail("task.max_record_bytes", "must be >= 64");
  if (c.task.watermark.allowed_lateness_ms < 0) fail("task.allowed_lateness_ms", "must be >= 0");
  if (c.task.watermark.idle_timeout_ms < 0) fail("task.idle_timeout_ms", "must be >= 0");
  if (c.task.max_future_ms <= 0) fail("task.max_future_ms", "must be > 0");
  if (c.task.max_wait_ms < 0) fail("task.max_wait_ms", "must be >= 0");
  if (c.task.timer_grace_ms < 0) fail("task.timer_grace_ms", "must be >= 0");
  if (c.task.dedup_window_ms < 0) fail("task.dedup_window_ms", "must be >= 0 (0 = off)");
  if (c.task.dlq_max_bytes < 4096) fail("task.dlq_max_bytes", "must be >= 4096");
  if (c.task.dedup_window_ms > 0 && c.task.dedup_max_ids == 0)
    fail("task.dedup_max_ids", "must be > 0 (set task.dedup_window_ms to 0 for no deduplication)");
  if (c.worker_threads == 0) fail("worker_threads", "must be > 0");
  if (c.abandoned_cart.steps.empty()) fail("rules.abandoned_cart.steps", "must not be empty");
  std::int64_t prev = 0;
  for (std::size_t i = 0; i < c.abandoned_cart.steps.size(); ++i) {
    const auto d = c.abandoned_cart.steps[i].delay_ms;
    if (d <= prev)
      fail("rules.abandoned_cart.steps[" + std::to_string(i) + "].delay_ms",
           "must be > 0 and greater than the previous step's");
    prev = d;
  }
  if (c.inventory.default_low_stock_threshold < 0)
    fail("rules.inventory.default_low_stock_threshold", "must be >= 0");
  if (!(c.inventory.notify_ratio > 0)) fail("rules.inventory.notify_ratio", "must be > 0");
  if (c.inventory.response_window_ms <= 0)
    fail("rules.inventory.response_window_ms", "must be > 0");
  if (c.inventory.renotify_interval_ms < 0)
    fail("rules.inventory.renotify_interval_ms", "must be >= 0");
  if (c.inventory.subscription_max_age_ms <= 0)
    fail("rules.inventory.subscription_max_age_ms", "must be > 0");
  if (c.inventory.velocity_window_days <= 0)
    fail("rules.inventory.velocity_window_days", "must be > 0");
  if (c.shipments.hold_unknown_ms <= 0) fail("rules.shipments.hold_unknown_ms", "must be > 0");
  if (c.shipments.default_transit_ms <= 0)
    fail("rules.shipments.default_transit_ms", "must be > 0");
  if (c.shipments.stuck_default_ms <= 0) fail("rules.shipments.stuck_default_ms", "must be > 0");
  if (!(c.shipments.stuck_factor > 0)) fail("rules.shipments.stuck_factor", "must be > 0");
  if (c.shipments.retention_ms <= 0) fail("rules.shipments.retention_ms", "must be > 0");
  if (c.shipments.open_retention_ms < c.shipments.retention_ms)
    fail("rules.shipments.open_retention_ms", "must be at least rules.shipments.retention_ms");
  if (c.shipments.late_after_ms < 0) fail("rules.shipments.late_after_ms", "must be >= 0");
  if (c.shipments.fulfilment_stall_ms < 0)
    fail("rules.shipments.fulfilment_stall_ms", "must be >= 0 (0 = never)");
  if (c.shipments.lane_max_samples == 0) fail("rules.shipments.lane_max_samples", "must be > 0");
  if (c.shipments.lane_recheck_ms < 0)
    fail("rules.shipments.lane_recheck_ms", "must be >= 0 (0 = only when the threshold is due)");
  if (c.shipments.lane_drift_ms < 0)
    fail("rules.shipments.lane_drift_ms", "must be >= 0 (0 = no alignment)");
  if (c.availability_bootstrap_timeout_ms < 0)
    fail("availability_bootstrap_timeout_ms", "must be >= 0");
  if (c.availability_history_ms < 0) fail("availability_history_ms", "must be >= 0");
  if (c.abandoned_cart.retention_ms < prev)
    fail("rules.abandoned_cart.retention_ms", "must be at least the last step's delay");
  if (c.abandoned_cart.max_carts == 0) fail("rules.abandoned_cart.max_carts", "must be > 0");
  if (c.abandoned_cart.remember_ms < 0) fail("rules.abandoned_cart.remember_ms", "must be >= 0");

  const auto& a = c.anomalies;
  const std::string an = "rules.anomalies.";
  if (a.bot.window_ms <= 0) fail(an + "bot.window_ms", "must be > 0");
  if (a.bot.absolute_limit <= 0 || a.bot.absolute_limit > 4'000)
    fail(an + "bot.absolute_limit", "must be in 1..4000 (it sizes a ring per customer)");
  if (!(a.bot.baseline_factor > 0)) fail(an + "bot.baseline_factor", "must be > 0");
  for (auto [name, d] : {std::pair{"demand.", &a.demand}, std::pair{"traffic.", &a.traffic}}) {
    const std::string p = an + name;
    if (d->bucket_ms <= 0) fail(p + "bucket_ms", "must be > 0");
    if (!(d->alpha > 0 && d->alpha <= 1)) fail(p + "alpha", "must be in (0, 1]");
    if (!(d->z_threshold > 0)) fail(p + "z_threshold", "must be > 0");
    if (!(d->sd_floor > 0)) fail(p + "sd_floor", "must be > 0");
    if (!(d->min_ratio >= 1)) fail(p + "min_ratio", "must be >= 1");
    if (d->max_gap_buckets < 0) fail(p + "max_gap_buckets", "must be >= 0");
  }
  // The two trailing-median detectors: a ring of samples per SKU and a factor over the median.
  for (const auto& [name, samples, min_samples, factor] :
       {std::tuple{"price.", a.price.samples, a.price.min_samples, a.price.factor},
        std::tuple{"cart_quantity.", a.cart_quantity.samples, a.cart_quantity.min_samples,
                   a.cart_quantity.factor}}) {
    const std::string p = an + name;
    if (samples == 0 || samples > 1'000) fail(p + "samples", "must be in 1..1000 (a ring per SKU)");
    if (min_samples == 0 || min_samples > samples) fail(p + "min_samples", "must be in 1..samples");
    if (!(factor > 1)) fail(p + "factor", "must be > 1");
  }
  if (a.cart_quantity.absolute_limit <= 0) fail(an + "cart_quantity.absolute_limit", "must be > 0");
  static const std::set<std::string> levels = {"trace", "debug",    "info", "warn",
                                               "error", "critical", "off"};
  if (levels.count(c.log.level) == 0)
    fail("log.level", "'" + c.log.level +
                          "' is not one of trace, debug, info, warn, error, "
                          "critical, off");
  if (c.log.format != "text" && c.log.format != "json")
    fail("log.format", "'" + c.log.format + "' is not text or json");
}

}  // namespace

}  // namespace herald::actors
