// Helper for scripts/kafka: the steps that need Kafka's own Java code. scripts/kafka compiles it
// once with javac into <lib>/kafka-admin.jar (next to the cached broker jars) and runs it on the
// broker's classpath:
//   format CONFIG...                   formats each node's storage (kafka.tools.StorageTool) with
//                                      one new cluster id, which it prints; scripts/kafka keeps the
//                                      result as a template, so this runs once per Kafka version
//   setup BOOTSTRAP NODES PARTITIONS TIMEOUT_S
//                                      waits until NODES brokers serve and the controller quorum has
//                                      a leader, then creates Herald's topics (RF = NODES) and waits
//                                      until every partition has a leader and a full ISR
// setup retries until TIMEOUT_S (+5 s) have passed; scripts/kafka watches the nodes and owns the
// real deadline, the helper's own is a safety net should its parent be killed.
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;

class KafkaAdmin {
  // Herald's topics: name -> cleanup.policy. herald.lane-stats is compacted with one partition.
  static final String[] DELETE_TOPICS = {
    "shop.clickstream", "shop.carts", "shop.inventory", "herald.sku-signals", "shop.shipments",
    "herald.tracking-notifications", "herald.anomalies", "herald.cart-reminders",
    "herald.restock-alerts", "herald.dlq",
  };
  static final String COMPACT_TOPIC = "herald.lane-stats";

  public static void main(String[] args) throws Exception {
    if (args.length >= 2 && args[0].equals("format")) {
      System.exit(format(args));
    } else if (args.length == 5 && args[0].equals("setup")) {
      deadlineNanos = T0 + (Long.parseLong(args[4]) + 5) * 1_000_000_000L;
      setup(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]));
      System.exit(0);
    }
    System.err.println("usage: KafkaAdmin format CONFIG... | setup BOOTSTRAP NODES PARTITIONS TIMEOUT_S");
    System.exit(2);
  }

  static final long T0 = System.nanoTime();
  static Long deadlineNanos = null;  // set by setup

  static void pause(long ms) throws InterruptedException {
    if (deadlineNanos != null && System.nanoTime() - deadlineNanos > 0) {
      log("giving up: the cluster is not ready in time");
      System.exit(3);
    }
    Thread.sleep(ms);
  }

  static void log(String what) {
    System.err.printf("[%s] kafka-admin: %s (%d ms after start)%n", java.time.LocalTime.now(), what,
        (System.nanoTime() - T0) / 1_000_000);
  }

  static int format(String[] args) {
    String clusterId = Uuid.randomUuid().toString();  // never starts with '-'
    PrintStream log = System.err;
    for (int i = 1; i < args.length; i++) {
      int rc;
      try {
        rc = kafka.tools.StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", args[i]}, log);
      } catch (Throwable e) {
        e.printStackTrace(log);
        rc = 1;
      }
      if (rc != 0) {
        log.println("kafka-admin: formatting " + args[i] + " failed (" + rc + ")");
        return 1;
      }
    }
    System.out.println(clusterId);
    return 0;
  }

  static void setup(String bootstrap, int nodes, int partitions) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, "herald-kafka-setup");
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "6000");
    p.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "50");
    p.put(AdminClientConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "250");
    p.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "20");
    p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "100");
    try (Admin admin = Admin.create(p)) {
      waitForCluster(admin, nodes);
      log("cluster ready");
      createTopics(admin, nodes, partitions);
      log("topics ready");
    }
  }

  static void waitForCluster(Admin admin, int nodes) throws InterruptedException {
    String last = "";
    while (true) {
      try {
        int brokers = admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).size();
        QuorumInfo q = admin.describeMetadataQuorum().quorumInfo().get(5, TimeUnit.SECONDS);
        String now = brokers + " of " + nodes + " brokers, quorum leader " + q.leaderId()
            + ", " + q.voters().size() + " voters";
        if (!now.equals(last)) log(now);
        last = now;
        if (brokers >= nodes && q.leaderId() >= 0 && q.voters().size() == nodes) return;
      } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
        // not up yet
      }
      pause(100);
    }
  }

  static void createTopics(Admin admin, int nodes, int partitions) throws Exception {
    short rf = (short) nodes;
    List<NewTopic> topics = new ArrayList<>();
    for (String t : DELETE_TOPICS) {
      topics.add(new NewTopic(t, partitions, rf).configs(Map.of("cleanup.policy", "delete")));
    }
    topics.add(new NewTopic(COMPACT_TOPIC, 1, rf).configs(Map.of("cleanup.policy", "compact")));
    Map<String, Integer> expected = new HashMap<>();
    for (NewTopic t : topics) expected.put(t.name(), t.numPartitions());

    List<NewTopic> todo = topics;
    while (!todo.isEmpty()) {
      List<NewTopic> retry = new ArrayList<>();
      var result = admin.createTopics(todo);
      for (NewTopic t : todo) {
        try {
          result.values().get(t.name()).get();
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) {
            System.err.println("kafka-admin: creating " + t.name() + ": " + e.getCause());
            retry.add(t);
          }
        }
      }
      todo = retry;
      if (!todo.isEmpty()) pause(200);
    }
    log("topics created");

    // Creation is acknowledged by the controller; wait until the brokers serve every partition.
    Set<String> names = new TreeSet<>(expected.keySet());
    while (true) {
      try {
        Map<String, TopicDescription> d =
            admin.describeTopics(names).allTopicNames().get(5, TimeUnit.SECONDS);
        boolean ready = true;
        for (String n : names) {
          List<TopicPartitionInfo> ps = d.get(n).partitions();
          if (ps.size() != expected.get(n)) ready = false;
          for (TopicPartitionInfo pi : ps) {
            if (pi.leader() == null || pi.leader().isEmpty() || pi.isr().size() != rf) ready = false;
          }
        }
        if (ready) return;
      } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
        // metadata not propagated yet
      }
      pause(100);
    }
  }
}
