#pragma once
// How every family's processor writes an anomaly flag.

#include <string>

#include "herald/actors/task.hpp"

namespace herald::actors::detail {

/// Encodes `flag` (into `buffer`), emits it to the anomalies topic keyed by its entity, through
/// the outbox, and counts it by kind.
inline void emit_anomaly(task& host, const schemas::anomaly_flag& flag, std::string& buffer) {
  buffer.clear();
  schemas::encode(flag, buffer);
  host.emit(host.env().config->topics.anomalies, flag.entity_id, buffer);
  host.env().probe->add_anomaly(flag.kind);
}

}  // namespace herald::actors::detail
