package herald.twin;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.processor.TimestampExtractor;

/**
 * Event time from the record's JSON `ts` (Herald's notion of time), read with a streaming
 * parser that stops at the field. A record without a usable `ts` (bad input, dead-lettered by
 * its processor) gets its partition's time (0 before any), so it never moves stream time.
 */
final class EventTimeExtractor implements TimestampExtractor {
  private final Config cfg;

  EventTimeExtractor(Config cfg) {
    this.cfg = cfg;
  }

  @Override
  public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
    long ts = record.value() instanceof byte[] v ? Decoder.timestampOf(v) : -1;
    if (ts >= cfg.minEventTimeMs && ts <= System.currentTimeMillis() + cfg.maxFutureMs) return ts;
    return Math.max(partitionTime, 0);  // not the record's own timestamp: that is wall-clock time
  }
}
