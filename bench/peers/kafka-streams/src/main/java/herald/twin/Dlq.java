package herald.twin;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * Bad input goes to the DLQ byte for byte, with Herald's headers; counted per process. Outputs
 * carry the wall-clock time as their Kafka timestamp (as Herald's producer does), not event time:
 * replayed old event times would fall to the output topics' time-based retention at once.
 */
final class Dlq {
  static final LongAdder DEAD_LETTERS = new LongAdder();
  static final LongAdder SKIPPED_SIGNALS = new LongAdder();

  private Dlq() {}

  static void send(ProcessorContext<byte[], byte[]> ctx, String child, Record<byte[], byte[]> rec, String reason) {
    DEAD_LETTERS.increment();
    RecordHeaders h = new RecordHeaders();
    RecordMetadata m = ctx.recordMetadata().orElse(null);
    h.add("herald.error", reason.getBytes(StandardCharsets.UTF_8));
    if (m != null) {
      h.add("herald.source.topic", m.topic().getBytes(StandardCharsets.UTF_8));
      h.add("herald.source.partition", Integer.toString(m.partition()).getBytes(StandardCharsets.UTF_8));
      h.add("herald.source.offset", Long.toString(m.offset()).getBytes(StandardCharsets.UTF_8));
    }
    ctx.forward(new Record<>(rec.key(), rec.value(), ctx.currentSystemTimeMs(), h), child);
  }
}
