package herald.twin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.Test;

/** The global availability table answers as of an event time, summed over locations. */
class AvailabilityTest {
  @Test
  void levelsAsOfAnEventTimeSummedOverLocations() {
    Config cfg = new Config();
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, "twin-availability-test");
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    long t0 = TwinDriver.T0;
    try (TopologyTestDriver d = new TopologyTestDriver(Availability.topology(cfg), p)) {
      var in = d.createInputTopic(cfg.inventory, new ByteArraySerializer(), new ByteArraySerializer());
      String[][] levels = {{"w1", "0", "5"}, {"w2", "1000", "2"}, {"w1", "2000", "0"}};
      int n = 0;
      for (String[] l : levels)
        in.pipeInput(b("A"), b("{\"type\":\"stock_level\",\"event_id\":\"s" + ++n + "\",\"ts\":" + (t0 + Long.parseLong(l[1]))
            + ",\"sku\":\"A\",\"location\":\"" + l[0] + "\",\"available\":" + l[2] + "}"));
      KeyValueStore<Bytes, byte[]> store = d.getKeyValueStore(Availability.STORE);
      CartRule.StockView view = Availability.view(store);
      assertNull(view.available("A", t0 - 1));
      assertEquals(5L, view.available("A", t0 + 999));
      assertEquals(7L, view.available("A", t0 + 1000));
      assertEquals(2L, view.available("A", t0 + 5000));
      assertNull(view.available("B", t0));
    }
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
