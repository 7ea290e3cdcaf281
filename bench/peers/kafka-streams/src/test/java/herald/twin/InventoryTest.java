package herald.twin;

import static herald.twin.TwinDriver.DAY;
import static herald.twin.TwinDriver.HOUR;
import static herald.twin.TwinDriver.MINUTE;
import static herald.twin.TwinDriver.T0;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The key cases of Herald's tests/actors/inventory_test.cpp, through the whole topology. */
class InventoryTest {
  private static List<String> ofType(List<String> msgs, String type) {
    List<String> out = new ArrayList<>();
    for (String m : msgs) if (m.startsWith("{\"type\":\"" + type + "\"")) out.add(m);
    return out;
  }

  @Test
  void backInStockToWaitingCustomersOncePerRestockOldestFirst() {
    try (TwinDriver d = new TwinDriver()) {
      d.stockLevel(T0, "A", 0);
      for (int i = 0; i < 10; i++) d.notifyMe(T0 + (i + 1) * MINUTE, "w" + i, "A");
      d.stockLevel(T0 + HOUR, "A", 3);  // ratio 2: six of ten, oldest first
      List<String> sent = ofType(d.restock(), "back_in_stock");
      assertEquals(6, sent.size());
      String restock = "e12";  // the stock event that started the restock
      for (int i = 0; i < 6; i++) {
        String id = Ids.makeId("back_in_stock", "w" + i, "A/" + restock);
        assertEquals("{\"type\":\"back_in_stock\",\"notification_id\":\"" + id + "\",\"ts\":" + (T0 + HOUR)
            + ",\"customer_id\":\"w" + i + "\",\"sku\":\"A\",\"available\":3}", sent.get(i));
      }
      d.stockLevel(T0 + HOUR + 1, "A", 5);  // more stock: up to ten at once, the rest now
      assertEquals(4, ofType(d.restock(), "back_in_stock").size());
      // Flapping 0 -> n within the renotify interval notifies nobody twice.
      d.stockLevel(T0 + 2 * HOUR, "A", 0);
      d.stockLevel(T0 + 3 * HOUR, "A", 5);
      d.skuTime(T0 + 2 * DAY);
      assertTrue(ofType(d.restock(), "back_in_stock").isEmpty());
    }
  }

  @Test
  void notificationsThatEndLetTheNextWaitersIn() {
    try (TwinDriver d = new TwinDriver()) {
      d.stockLevel(T0, "A", 0);
      for (int i = 0; i < 4; i++) d.notifyMe(T0 + (i + 1) * MINUTE, "w" + i, "A");
      d.stockLevel(T0 + HOUR, "A", 1);  // two outstanding
      assertEquals(2, ofType(d.restock(), "back_in_stock").size());
      d.skuTime(T0 + HOUR + DAY - 1);
      assertTrue(ofType(d.restock(), "back_in_stock").isEmpty());
      d.skuTime(T0 + HOUR + DAY);  // their response window ended: the top-up timer
      List<String> next = ofType(d.restock(), "back_in_stock");
      assertEquals(2, next.size());
      assertTrue(next.get(0).contains("\"customer_id\":\"w2\""));
    }
  }

  @Test
  void aBuyerLeavesTheWaitlist() {
    try (TwinDriver d = new TwinDriver()) {
      d.stockLevel(T0, "A", 0);
      d.notifyMe(T0 + MINUTE, "w0", "A");
      d.notifyMe(T0 + 2 * MINUTE, "w1", "A");
      d.order(T0 + 3 * MINUTE, "w0", "cart-w0", "A", 1);
      d.stockLevel(T0 + HOUR, "A", 10);
      List<String> sent = ofType(d.restock(), "back_in_stock");
      assertEquals(1, sent.size());
      assertTrue(sent.get(0).contains("\"customer_id\":\"w1\""));
    }
  }

  @Test
  void lowStockOncePerCrossingWithHysteresisAndOutOfStockOnceAtZero() {
    try (TwinDriver d = new TwinDriver()) {
      long t = T0;
      d.stockLevel(t += MINUTE, "A", 10);
      d.stockLevel(t += MINUTE, "A", 4);  // low
      d.stockLevel(t += MINUTE, "A", 3);  // still low: nothing
      d.stockLevel(t += MINUTE, "A", 5);  // at the threshold: re-armed, not low
      d.stockLevel(t += MINUTE, "A", 2);  // low again
      d.stockLevel(t += MINUTE, "A", 0);  // out of stock only
      d.stockLevel(t += MINUTE, "A", 0);  // nothing
      d.stockLevel(t += MINUTE, "A", 1);  // above zero: re-arms out of stock; still low, no alert
      d.stockLevel(t += MINUTE, "A", 0);  // out of stock again
      List<String> alerts = d.restock();
      List<String> kinds = new ArrayList<>();
      for (String a : alerts) kinds.add(a.substring(9, a.indexOf('"', 9)));
      assertEquals(List.of("low_stock", "low_stock", "out_of_stock", "out_of_stock"), kinds);
      assertEquals("{\"type\":\"low_stock\",\"notification_id\":\"" + Ids.makeId("low_stock", "A", "e2") + "\",\"ts\":"
          + (T0 + 2 * MINUTE) + ",\"sku\":\"A\",\"available\":4,\"threshold\":5}", alerts.get(0));
    }
  }

  @Test
  void alertsCarryVelocityAndDaysOfCover() {
    try (TwinDriver d = new TwinDriver()) {
      d.stockLevel(T0, "A", 20);
      d.order(T0 + HOUR, "c1", "k1", "A", 7);
      d.stockLevel(T0 + 2 * HOUR, "A", 3);
      List<String> alerts = d.restock();
      assertEquals(1, alerts.size());
      assertTrue(alerts.get(0).endsWith("\"available\":3,\"threshold\":5,\"units_sold_per_day\":1,\"days_of_cover\":3}"),
          alerts.get(0));
    }
  }

  private static List<String> customers(List<String> msgs) {
    List<String> out = new ArrayList<>();
    for (String m : msgs) {
      int at = m.indexOf("\"customer_id\":\"") + 15;
      out.add(m.substring(at, m.indexOf('"', at)));
    }
    return out;
  }

  @Test
  void pastTheCapTheOldestPurchaseIsForgottenFirst() {
    try (TwinDriver d = new TwinDriver(c -> c.maxRememberedBuyers = 2)) {
      d.stockLevel(T0, "A", 0);
      d.order(T0 + MINUTE, "b1", "k1", "A", 1);
      d.order(T0 + 2 * MINUTE, "b2", "k2", "A", 1);
      d.order(T0 + 3 * MINUTE, "b3", "k3", "A", 1);      // b1 forgotten: the oldest
      d.order(T0 + 4 * MINUTE, "b2", "k2-bis", "A", 1);  // b2's latest purchase moves on
      d.order(T0 + 5 * MINUTE, "b4", "k4", "A", 1);      // b3 forgotten now, not b2
      // Requests made before the purchases: ignored for remembered buyers only.
      for (String b : List.of("b1", "b2", "b3", "b4")) d.notifyMe(T0 + MINUTE / 2, b, "A");
      d.stockLevel(T0 + HOUR, "A", 10);
      assertEquals(List.of("b1", "b3"), customers(ofType(d.restock(), "back_in_stock")));
    }
  }

  @Test
  void equalPurchaseTimesAreForgottenInCustomerOrder() {
    try (TwinDriver d = new TwinDriver(c -> c.maxRememberedBuyers = 1)) {
      d.stockLevel(T0, "A", 0);
      d.order(T0 + MINUTE, "b2", "k2", "A", 1);
      d.order(T0 + MINUTE, "b1", "k1", "A", 1);  // same time: b1 sorts first and goes
      for (String b : List.of("b1", "b2")) d.notifyMe(T0 + MINUTE / 2, b, "A");
      d.stockLevel(T0 + HOUR, "A", 10);
      assertEquals(List.of("b1"), customers(ofType(d.restock(), "back_in_stock")));
    }
  }

  @Test
  void buyersOlderThanTheWaitlistAgeBeforeTheNewestAreForgotten() {
    try (TwinDriver d = new TwinDriver()) {
      long age = d.cfg.subscriptionMaxAgeMs;
      d.order(T0 + MINUTE, "b1", "k1", "A", 1);
      d.order(T0 + 2 * MINUTE, "b2", "k2", "A", 1);
      d.order(T0 + MINUTE + age, "b3", "k3", "A", 1);  // b1 is exactly the age behind: forgotten
      // Requests made before the purchases, arriving late: b2 is still a remembered buyer.
      d.notifyMe(T0 + MINUTE / 2, "b1", "A");
      d.notifyMe(T0 + MINUTE / 2, "b2", "A");
      d.stockLevel(T0 + MINUTE * 2 / 3, "A", 10);  // the first level, in stock: someone waits
      assertEquals(List.of("b1"), customers(ofType(d.restock(), "back_in_stock")));
    }
  }
}
