package herald.twin;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/** Command line, configuration and lifecycle: runs until SIGTERM, then closes cleanly. */
public final class Main {
  private Main() {}

  private static void usage(String why) {
    System.err.println("twin: " + why + "\nusage: run --bootstrap HOST:PORT --guarantee exactly_once_v2|at_least_once"
        + " --application-id ID --state-dir DIR [--threads N] [--commit-interval-ms MS]"
        + " [--clickstream T] [--carts T] [--inventory T] [--sku-signals T] [--reminders T] [--restock T]"
        + " [--dlq T] [--detector-signals]");
    System.exit(2);
  }

  public static void main(String[] args) throws Exception {
    Config cfg = new Config();
    String bootstrap = null, guarantee = null, appId = null, stateDir = null;
    int threads = 2;
    long commitMs = 100;  // Herald's task.commit_interval_ms
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--detector-signals")) {
        cfg.detectorSignals = true;
        continue;
      }
      if (i + 1 >= args.length) usage("missing value for " + a);
      String v = args[++i];
      switch (a) {
        case "--bootstrap" -> bootstrap = v;
        case "--guarantee" -> guarantee = v;
        case "--application-id" -> appId = v;
        case "--state-dir" -> stateDir = v;
        case "--threads" -> threads = Integer.parseInt(v);
        case "--commit-interval-ms" -> commitMs = Long.parseLong(v);
        case "--clickstream" -> cfg.clickstream = v;
        case "--carts" -> cfg.carts = v;
        case "--inventory" -> cfg.inventory = v;
        case "--sku-signals" -> cfg.skuSignals = v;
        case "--reminders" -> cfg.reminders = v;
        case "--restock" -> cfg.restock = v;
        case "--dlq" -> cfg.dlq = v;
        default -> usage("unknown option " + a);
      }
    }
    if (bootstrap == null || guarantee == null || appId == null || stateDir == null)
      usage("--bootstrap, --guarantee, --application-id and --state-dir are required");
    if (!guarantee.equals(StreamsConfig.EXACTLY_ONCE_V2) && !guarantee.equals(StreamsConfig.AT_LEAST_ONCE))
      usage("--guarantee must be exactly_once_v2 or at_least_once");

    long t0 = System.nanoTime();
    prepareTopics(bootstrap, cfg);

    Properties common = new Properties();
    common.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    common.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
    common.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
    common.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
    common.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    // The availability table first, read to the end of shop.inventory before the rules start
    // (Herald's availability bootstrap).
    Properties ap = (Properties) common.clone();
    ap.put(StreamsConfig.APPLICATION_ID_CONFIG, appId + "-availability");
    ap.put(StreamsConfig.STATE_DIR_CONFIG, Path.of(stateDir, "availability").toString());
    KafkaStreams availability = new KafkaStreams(Availability.topology(cfg), ap);
    startAndWait(availability, "availability");
    ReadOnlyKeyValueStore<Bytes, byte[]> table = availability.store(
        StoreQueryParameters.fromNameAndType(Availability.STORE, QueryableStoreTypes.<Bytes, byte[]>keyValueStore()));

    Properties p = (Properties) common.clone();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.STATE_DIR_CONFIG, Path.of(stateDir, "rules").toString());
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitMs);
    KafkaStreams rules = new KafkaStreams(TwinTopology.build(cfg, Availability.view(table)), p);

    // SIGTERM / SIGINT end the wait below; closing then happens on this thread, so the process
    // exits 0 (a JVM ended by a shutdown hook would exit 143).
    CountDownLatch stop = new CountDownLatch(1);
    for (String sig : List.of("TERM", "INT")) sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> stop.countDown());
    AtomicBoolean failed = new AtomicBoolean();
    rules.setUncaughtExceptionHandler(e -> {
      System.err.println("twin: stream thread failed: " + e);
      failed.set(true);
      stop.countDown();
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    System.err.printf("twin: starting %s (%s, %d threads, commit.interval.ms=%d); signals via %s%n", appId, guarantee,
        threads, commitMs, cfg.skuSignals.isEmpty() ? appId + "-sku-signals-repartition" : cfg.skuSignals);
    startAndWait(rules, "rules");
    System.err.printf("twin: running after %.1f s%n", (System.nanoTime() - t0) / 1e9);
    stop.await();
    System.err.println("twin: stopping");
    boolean clean = rules.close(Duration.ofSeconds(60)) & availability.close(Duration.ofSeconds(30));
    System.err.printf("twin: stopped%s; %d dead letters, %d unreadable signals skipped%n",
        clean ? "" : " (close timed out)", Dlq.DEAD_LETTERS.sum(), Dlq.SKIPPED_SIGNALS.sum());
    System.exit(clean && !failed.get() ? 0 : 1);
  }

  /** Checks the input topics exist and sizes the repartition topic like shop.inventory. */
  private static void prepareTopics(String bootstrap, Config cfg) throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      Map<String, TopicDescription> d = admin.describeTopics(List.of(cfg.clickstream, cfg.carts, cfg.inventory))
          .allTopicNames().get(60, TimeUnit.SECONDS);
      cfg.signalPartitions = d.get(cfg.inventory).partitions().size();
      if (!cfg.skuSignals.isEmpty() && !admin.listTopics().names().get().contains(cfg.skuSignals))
        admin.createTopics(List.of(new NewTopic(cfg.skuSignals, Optional.of(cfg.signalPartitions), Optional.empty())))
            .all().get(60, TimeUnit.SECONDS);
    }
  }

  private static void startAndWait(KafkaStreams s, String what) throws InterruptedException {
    CountDownLatch running = new CountDownLatch(1);
    s.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) running.countDown();
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.PENDING_SHUTDOWN) running.countDown();
    });
    s.start();
    running.await();
    if (s.state() != KafkaStreams.State.RUNNING && s.state() != KafkaStreams.State.REBALANCING) {
      System.err.println("twin: " + what + " failed to start (" + s.state() + ")");
      System.exit(1);
    }
  }
}
