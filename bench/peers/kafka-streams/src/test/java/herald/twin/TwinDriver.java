package herald.twin;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;

/** The twin's topology on a TopologyTestDriver, with JSON input helpers and a fake stock view. */
final class TwinDriver implements AutoCloseable {
  static final long T0 = 1_700_000_000_000L;
  static final long MINUTE = Config.MINUTE, HOUR = Config.HOUR, DAY = Config.DAY;
  static final long GRACE = 2 * MINUTE;

  final Config cfg = new Config();
  final Map<String, Long> stock = new HashMap<>();
  final TopologyTestDriver driver;
  private final TestInputTopic<byte[], byte[]> clickstream, carts, inventory;
  private final TestOutputTopic<byte[], byte[]> reminders, restock, dlq;
  private int nextId;

  TwinDriver() {
    this(c -> {});
  }

  /** With rule parameters changed from the defaults. */
  TwinDriver(java.util.function.Consumer<Config> tweak) {
    tweak.accept(cfg);
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, "twin-test");
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    driver = new TopologyTestDriver(TwinTopology.build(cfg, (sku, asOf) -> stock.get(sku)), p,
        Instant.ofEpochMilli(T0 + 400 * DAY));
    ByteArraySerializer s = new ByteArraySerializer();
    ByteArrayDeserializer d = new ByteArrayDeserializer();
    clickstream = driver.createInputTopic(cfg.clickstream, s, s);
    carts = driver.createInputTopic(cfg.carts, s, s);
    inventory = driver.createInputTopic(cfg.inventory, s, s);
    reminders = driver.createOutputTopic(cfg.reminders, d, d);
    restock = driver.createOutputTopic(cfg.restock, d, d);
    dlq = driver.createOutputTopic(cfg.dlq, d, d);
  }

  String id() {
    return "e" + ++nextId;
  }

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  void raw(String topic, String key, String json) {
    var t = topic.equals(cfg.carts) ? carts : topic.equals(cfg.inventory) ? inventory : clickstream;
    t.pipeInput(b(key), b(json));
  }

  private void cart(String type, long ts, String customer, String fields) {
    carts.pipeInput(b(customer), b("{\"type\":\"" + type + "\",\"event_id\":\"" + id() + "\",\"ts\":" + ts
        + ",\"customer_id\":\"" + customer + "\"" + fields + "}"));
  }

  void add(long ts, String customer, String cart, String sku, int qty, double price, boolean anonymous) {
    cart("cart_item_added", ts, customer, ",\"cart_id\":\"" + cart + "\",\"sku\":\"" + sku + "\",\"quantity\":" + qty
        + ",\"unit_price\":" + price + ",\"currency\":\"EUR\"" + (anonymous ? ",\"anonymous\":true" : ""));
  }

  void add(long ts, String sku, int qty, double price) {
    add(ts, "c1", "cart1", sku, qty, price, false);
  }

  void remove(long ts, String sku) {
    cart("cart_item_removed", ts, "c1", ",\"cart_id\":\"cart1\",\"sku\":\"" + sku + "\"");
  }

  void clear(long ts) {
    cart("cart_cleared", ts, "c1", ",\"cart_id\":\"cart1\"");
  }

  void order(long ts, String customer, String cart, String sku, int qty) {
    cart("order_placed", ts, customer, ",\"order_id\":\"o-" + ts + "\",\"cart_id\":\"" + cart + "\",\"lines\":[{\"sku\":\""
        + sku + "\",\"quantity\":" + qty + ",\"unit_price\":10}],\"total\":10,\"currency\":\"EUR\"");
  }

  void notifyMe(long ts, String customer, String sku) {
    clickstream.pipeInput(b(customer), b("{\"type\":\"notify_me\",\"event_id\":\"" + id() + "\",\"ts\":" + ts
        + ",\"customer_id\":\"" + customer + "\",\"sku\":\"" + sku + "\"}"));
  }

  void stockLevel(long ts, String sku, long available) {
    inventory.pipeInput(b(sku), b("{\"type\":\"stock_level\",\"event_id\":\"" + id() + "\",\"ts\":" + ts + ",\"sku\":\""
        + sku + "\",\"location\":\"wh-1\",\"available\":" + available + "}"));
  }

  /** Moves the customer side's stream time to `ts` (another customer's page view). */
  void clickTime(long ts) {
    clickstream.pipeInput(b("clock"), b("{\"type\":\"page_view\",\"event_id\":\"" + id() + "\",\"ts\":" + ts
        + ",\"customer_id\":\"clock\",\"session_id\":\"s\"}"));
  }

  /** Moves the SKU side's stream time to `ts` (a level of an unrelated SKU). */
  void skuTime(long ts) {
    stockLevel(ts, "clock-sku", 1000);
  }

  List<String> reminders() {
    return values(reminders);
  }

  List<String> restock() {
    return values(restock);
  }

  List<TestRecord<byte[], byte[]>> deadLetters() {
    return dlq.readRecordsToList();
  }

  private static List<String> values(TestOutputTopic<byte[], byte[]> t) {
    List<String> out = new ArrayList<>();
    for (byte[] v : t.readValuesToList()) out.add(new String(v, StandardCharsets.UTF_8));
    return out;
  }

  @Override
  public void close() {
    driver.close();
  }
}
