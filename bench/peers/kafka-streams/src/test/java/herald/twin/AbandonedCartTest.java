package herald.twin;

import static herald.twin.TwinDriver.DAY;
import static herald.twin.TwinDriver.GRACE;
import static herald.twin.TwinDriver.HOUR;
import static herald.twin.TwinDriver.MINUTE;
import static herald.twin.TwinDriver.T0;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The key cases of Herald's tests/actors/abandoned_cart_test.cpp, through the whole topology. */
class AbandonedCartTest {
  @Test
  void firstReminderAfterOneHourOfInactivity() {
    try (TwinDriver d = new TwinDriver()) {
      d.add(T0, "sku-1", 2, 10.5);
      d.clickTime(T0 + HOUR + GRACE - 1);
      assertTrue(d.reminders().isEmpty(), "not before the due time plus the grace");
      d.clickTime(T0 + HOUR + GRACE);
      String id = Ids.makeId("abandoned_cart", "c1", "cart1/e1/1");
      assertEquals(List.of("{\"type\":\"cart_reminder\",\"notification_id\":\"" + id + "\",\"ts\":" + (T0 + HOUR)
          + ",\"customer_id\":\"c1\",\"cart_id\":\"cart1\",\"reminder_number\":1,"
          + "\"lines\":[{\"sku\":\"sku-1\",\"quantity\":2,\"unit_price\":10.5}],\"cart_value\":21,\"currency\":\"EUR\"}"),
          d.reminders());
    }
  }

  @Test
  void secondReminderAfterADayCarriesCouponAndThereAreAtMostTwo() {
    try (TwinDriver d = new TwinDriver()) {
      d.add(T0, "sku-1", 1, 10);
      d.clickTime(T0 + DAY + GRACE - 1);
      assertEquals(1, d.reminders().size());
      d.clickTime(T0 + DAY + GRACE);
      List<String> second = d.reminders();
      assertEquals(1, second.size());
      assertTrue(second.get(0).contains("\"reminder_number\":2"));
      assertTrue(second.get(0).contains("\"ts\":" + (T0 + DAY)));
      assertTrue(second.get(0).endsWith(",\"coupon\":\"COMEBACK10\"}"));
      d.clickTime(T0 + 30 * DAY);
      assertTrue(d.reminders().isEmpty(), "at most two per cart");
    }
  }

  @Test
  void noReminderAfterOrderClearOrEmpty() {
    try (TwinDriver d = new TwinDriver()) {
      d.add(T0, "c1", "cart1", "sku-1", 1, 10, false);
      d.order(T0 + 30 * MINUTE, "c1", "cart1", "sku-1", 1);
      d.add(T0, "c2", "cart2", "sku-1", 1, 10, false);
      d.clickTime(T0 + 10 * DAY);
      assertEquals(2, d.reminders().size(), "c2's two reminders only");
    }
    try (TwinDriver d = new TwinDriver()) {
      d.add(T0, "sku-1", 1, 10);
      d.clear(T0 + 10 * MINUTE);
      d.clickTime(T0 + 10 * DAY);
      assertTrue(d.reminders().isEmpty());
    }
    try (TwinDriver d = new TwinDriver()) {
      d.add(T0, "sku-1", 1, 10);
      d.add(T0 + MINUTE, "sku-2", 1, 10);
      d.remove(T0 + 2 * MINUTE, "sku-1");
      d.remove(T0 + 3 * MINUTE, "sku-2");
      d.clickTime(T0 + 10 * DAY);
      assertTrue(d.reminders().isEmpty());
    }
  }

  @Test
  void anOrderReadWithinTheGraceAfterTheDueTimeStillSuppresses() {
    try (TwinDriver d = new TwinDriver()) {
      d.add(T0, "sku-1", 1, 10);
      d.clickTime(T0 + HOUR + MINUTE);
      d.order(T0 + HOUR - MINUTE, "c1", "cart1", "sku-1", 1);  // placed before the due time, read late
      d.clickTime(T0 + 10 * DAY);
      assertTrue(d.reminders().isEmpty());
    }
  }

  @Test
  void reminderDueBeforeTheOrderIsSentButNotTheNextOne() {
    try (TwinDriver d = new TwinDriver()) {
      d.add(T0, "sku-1", 1, 10);
      d.order(T0 + 2 * HOUR, "c1", "cart1", "sku-1", 1);
      d.clickTime(T0 + 10 * DAY);
      List<String> sent = d.reminders();
      assertEquals(1, sent.size());
      assertTrue(sent.get(0).contains("\"reminder_number\":1"));
    }
  }

  @Test
  void anonymousCartIsNeverReminded() {
    try (TwinDriver d = new TwinDriver()) {
      d.add(T0, "c1", "cart1", "sku-1", 1, 10, true);
      d.clickTime(T0 + 10 * DAY);
      assertTrue(d.reminders().isEmpty());
    }
  }

  @Test
  void activityRearmsTheTimerAndNeverResetsTheCount() {
    try (TwinDriver d = new TwinDriver()) {
      d.add(T0, "sku-1", 1, 10);
      d.add(T0 + 50 * MINUTE, "sku-2", 1, 10);
      d.clickTime(T0 + HOUR + GRACE);
      assertTrue(d.reminders().isEmpty(), "re-armed by the second add");
      d.clickTime(T0 + 50 * MINUTE + HOUR + GRACE);
      assertEquals(1, d.reminders().size());
      d.add(T0 + 3 * HOUR, "sku-3", 1, 10);  // back after reminder 1: re-armed at step 2
      d.clickTime(T0 + 3 * HOUR + DAY + GRACE);
      List<String> sent = d.reminders();
      assertEquals(1, sent.size());
      assertTrue(sent.get(0).contains("\"reminder_number\":2"));
      String id = Ids.makeId("abandoned_cart", "c1", "cart1/e" + 5 + "/2");
      assertTrue(sent.get(0).contains(id), "triggered by the last add: " + sent.get(0));
    }
  }

  @Test
  void outOfStockLinesAreLeftOutAndAllOutOfStockSendsNothing() {
    try (TwinDriver d = new TwinDriver()) {
      d.stock.put("sku-1", 0L);
      d.stock.put("sku-2", 3L);
      d.add(T0, "sku-1", 1, 10);
      d.add(T0, "sku-2", 2, 5);
      d.clickTime(T0 + HOUR + GRACE);
      List<String> sent = d.reminders();
      assertEquals(1, sent.size());
      assertTrue(sent.get(0).contains("\"lines\":[{\"sku\":\"sku-2\",\"quantity\":2,\"unit_price\":5}],\"cart_value\":10,"));
    }
    try (TwinDriver d = new TwinDriver()) {
      d.stock.put("sku-1", 0L);
      d.add(T0, "sku-1", 1, 10);
      d.clickTime(T0 + 10 * DAY);
      assertTrue(d.reminders().isEmpty());
    }
  }

  @Test
  void badRecordsGoToTheDlqByteForByteAndProcessingGoesOn() {
    try (TwinDriver d = new TwinDriver()) {
      d.raw("shop.carts", "c9", "{\"type\":\"cart_item_added\",\"event_id\":\"bad-1\",\"ts\":1");
      d.raw("shop.carts", "c9", "{\"type\":\"cart_cleared\",\"event_id\":\"bad-2\",\"ts\":" + T0 + ",\"customer_id\":\"c9\"}");
      d.raw("shop.carts", "cX", "{\"type\":\"cart_cleared\",\"event_id\":\"bad-3\",\"ts\":" + T0
          + ",\"customer_id\":\"c9\",\"cart_id\":\"k\"}");
      d.raw("shop.carts", "c9", "{\"type\":\"cart_teleported\",\"event_id\":\"bad-4\",\"ts\":" + T0 + ",\"customer_id\":\"c9\"}");
      d.raw("shop.inventory", "s", "{\"type\":\"stock_level\",\"event_id\":\"bad-5\",\"ts\":" + T0
          + ",\"sku\":\"s\",\"location\":\"w\",\"available\":-1}");
      d.add(T0, "sku-1", 1, 10);
      d.clickTime(T0 + HOUR + GRACE);
      assertEquals(1, d.reminders().size());
      var dead = d.deadLetters();
      assertEquals(5, dead.size());
      assertEquals("{\"type\":\"cart_item_added\",\"event_id\":\"bad-1\",\"ts\":1", new String(dead.get(0).value(), StandardCharsets.UTF_8));
      assertEquals("missing field 'cart_id'", header(dead.get(1), "herald.error"));
      assertEquals("key 'cX' does not match customer_id 'c9'", header(dead.get(2), "herald.error"));
      assertEquals("unknown event type 'cart_teleported' for topic carts", header(dead.get(3), "herald.error"));
      assertEquals("field 'available' must be an integer >= 0", header(dead.get(4), "herald.error"));
      assertEquals("shop.carts", header(dead.get(1), "herald.source.topic"));
      assertEquals("1", header(dead.get(1), "herald.source.offset"));
    }
  }

  @Test
  void idsMatchHeraldsReference() {
    assertEquals("365deeb363e0543f6aa0b553ba86af20", Ids.makeId("cart_reminder", "cart-1", "evt-9/1"));
  }

  private static String header(org.apache.kafka.streams.test.TestRecord<byte[], byte[]> r, String name) {
    return new String(r.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
  }
}
