package herald.twin;

import java.util.ArrayList;
import java.util.List;

/** One decoded input event; one instance is reused per processor (Herald's flat `event`). */
final class Event {
  enum Type {
    page_view(Topic.CLICKSTREAM),
    product_view(Topic.CLICKSTREAM),
    wishlist_add(Topic.CLICKSTREAM),
    notify_me(Topic.CLICKSTREAM),
    cart_item_added(Topic.CARTS),
    cart_item_removed(Topic.CARTS),
    cart_cleared(Topic.CARTS),
    checkout_started(Topic.CARTS),
    order_placed(Topic.CARTS),
    stock_level(Topic.INVENTORY);

    final Topic topic;

    Type(Topic topic) {
      this.topic = topic;
    }
  }

  enum Topic {
    CLICKSTREAM("clickstream"),
    CARTS("carts"),
    INVENTORY("inventory");

    final String label;

    Topic(String label) {
      this.label = label;
    }
  }

  /** An order or cart line; `currency` is set only where it differs from its message's. */
  static final class Line {
    String sku;
    long quantity;
    double unitPrice;
    String currency = "";

    Line(String sku, long quantity, double unitPrice, String currency) {
      this.sku = sku;
      this.quantity = quantity;
      this.unitPrice = unitPrice;
      this.currency = currency;
    }
  }

  Type type;
  String eventId;
  long ts;
  String customerId;
  String sessionId;
  String sku;
  double price;
  String currency;
  String cartId;
  long quantity;
  double unitPrice;
  boolean anonymous;
  String orderId;
  final List<Line> lines = new ArrayList<>();
  double total;
  String location;
  long available;
  Long lowStockThreshold;

  void clear() {
    type = null;
    eventId = customerId = sessionId = sku = currency = cartId = orderId = location = "";
    ts = quantity = available = 0;
    price = unitPrice = total = 0;
    anonymous = false;
    lines.clear();
    lowStockThreshold = null;
  }
}
