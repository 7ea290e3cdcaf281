package herald.twin;

/**
 * Topic names and rule parameters, defaulting to Herald's (actors/config.hpp,
 * rules/abandoned_cart.hpp, rules/inventory.hpp).
 */
final class Config {
  static final long MINUTE = 60_000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;

  String clickstream = "shop.clickstream";
  String carts = "shop.carts";
  String inventory = "shop.inventory";
  /** Empty: Kafka Streams' internal repartition topic `<application-id>-sku-signals-repartition`. */
  String skuSignals = "";
  String reminders = "herald.cart-reminders";
  String restock = "herald.restock-alerts";
  String dlq = "herald.dlq";
  /** Partitions of the repartition topic; 0 = Kafka Streams' choice (the upstream topics'). */
  int signalPartitions = 0;
  /** Also re-key product views and cart adds by SKU, as Herald does for its anomaly detectors. */
  boolean detectorSignals = false;

  // task.* of Herald
  long timerGraceMs = 2 * MINUTE;
  long maxFutureMs = DAY;
  long minEventTimeMs = 946_684_800_000L;
  long cartRetentionForWallClockMs = 7 * DAY;

  // rules.abandoned_cart
  long[] stepDelayMs = {HOUR, DAY};
  String[] stepCoupon = {"", "COMEBACK10"};
  long retentionMs = 7 * DAY;
  int maxCarts = 4;
  long rememberMs = 365 * DAY;

  // rules.inventory
  long defaultLowStockThreshold = 5;
  double notifyRatio = 2.0;
  long responseWindowMs = DAY;
  long renotifyIntervalMs = 3 * DAY;
  long subscriptionMaxAgeMs = 30 * DAY;
  int velocityWindowDays = 7;
  int maxRememberedBuyers = 10_000;

  /** availability_history_ms: how far behind its watermark the availability view keeps levels. */
  long availabilityHistoryMs = 6 * HOUR;
}
