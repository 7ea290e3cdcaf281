package herald.twin;

import java.util.List;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * The twin's topology. The DSL only wires sources and the repartition topic; the work is in two
 * Processor API processors, whose outputs go to named sinks added to the built topology:
 *
 * <pre>
 * shop.clickstream, shop.carts -> customer --(signals by SKU)--> sku-signals repartition --+
 *                                          +--> reminders-sink, customer-dlq-sink          |
 * shop.inventory ------------------------------------------------------> sku-merge -> sku -+--> restock-sink, sku-dlq-sink
 * </pre>
 */
final class TwinTopology {
  private TwinTopology() {}

  static Topology build(Config cfg, CartRule.StockView stock) {
    Serde<byte[]> bytes = Serdes.ByteArray();
    Serializer<byte[]> ser = bytes.serializer();
    EventTimeExtractor eventTime = new EventTimeExtractor(cfg);
    StreamsBuilder b = new StreamsBuilder();
    for (String name : List.of(CustomerProcessor.CARTS, CustomerProcessor.TIMERS, SkuProcessor.SKUS, SkuProcessor.TIMERS,
        SkuProcessor.BUYERS, SkuProcessor.BUYERS_BY_TIME))
      b.addStateStore(store(name));

    boolean internal = cfg.skuSignals.isEmpty();
    String signalsChild = internal ? "sku-signals-repartition-filter" : "sku-signals-sink";
    CustomerProcessor.Children children =
        new CustomerProcessor.Children(signalsChild, "reminders-sink", "customer-dlq-sink");
    KStream<byte[], byte[]> signals = b
        .stream(List.of(cfg.clickstream, cfg.carts),
            Consumed.with(bytes, bytes).withTimestampExtractor(eventTime).withName("customer-source"))
        .process(() -> new CustomerProcessor(cfg, children, stock), Named.as("customer"),
            CustomerProcessor.CARTS, CustomerProcessor.TIMERS);
    KStream<byte[], byte[]> bySku;
    if (internal) {
      Repartitioned<byte[], byte[]> r = Repartitioned.<byte[], byte[]>as("sku-signals").withKeySerde(bytes).withValueSerde(bytes);
      if (cfg.signalPartitions > 0) r = r.withNumberOfPartitions(cfg.signalPartitions);
      bySku = signals.repartition(r);
    } else {
      signals.to(cfg.skuSignals, Produced.with(bytes, bytes).withName("sku-signals-sink"));
      bySku = b.stream(cfg.skuSignals, Consumed.with(bytes, bytes).withName("sku-signals-source"));
    }
    b.stream(cfg.inventory, Consumed.with(bytes, bytes).withTimestampExtractor(eventTime).withName("inventory-source"))
        .merge(bySku, Named.as("sku-merge"))
        .process(() -> new SkuProcessor(cfg, "restock-sink", "sku-dlq-sink"), Named.as("sku"),
            SkuProcessor.SKUS, SkuProcessor.TIMERS, SkuProcessor.BUYERS, SkuProcessor.BUYERS_BY_TIME);

    Topology t = b.build();
    t.addSink("reminders-sink", cfg.reminders, ser, ser, "customer");
    t.addSink("customer-dlq-sink", cfg.dlq, ser, ser, "customer");
    t.addSink("restock-sink", cfg.restock, ser, ser, "sku");
    t.addSink("sku-dlq-sink", cfg.dlq, ser, ser, "sku");
    return t;
  }

  /** RocksDB, cached, changelogged: Kafka Streams' defaults for a persistent store. */
  private static StoreBuilder<KeyValueStore<Bytes, byte[]>> store(String name) {
    return Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name), Serdes.Bytes(), Serdes.ByteArray())
        .withCachingEnabled();
  }
}
