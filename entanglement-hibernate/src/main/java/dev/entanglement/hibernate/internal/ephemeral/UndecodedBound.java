package dev.entanglement.hibernate.internal.ephemeral;

import java.util.HashMap;
import java.util.Map;

/**
 * Bounds the ephemeral objects a node holds undecoded (of types it has not registered, kept so
 * that it relays them and decodes them once the type is registered): counts them per owner and in
 * all, and words the refusal of one more.
 *
 * <p><b>Policy:</b> at most {@code perOwner} per owner and {@code total} in all (defaults 10,000
 * and 100,000). A <em>new</em> undecoded object beyond either is refused in band ({@code POLICY},
 * naming the bound and the remedy: register the type at this node) and so is not relayed from
 * here; newer states of objects already held, and removals, are always taken. The bound per owner
 * keeps one chatty owner from using up the room of the others; the total bounds the memory.
 *
 * <h2>Concurrency</h2>
 * Not thread-safe: {@code byOwner} and {@code held} are confined to the holder of the lock of the
 * {@link EphemeralStore} whose {@link EphemeralTable} owns this bound.
 *
 * @param perOwner how many undecoded objects of one owner are held at most
 * @param total how many undecoded objects are held at most
 */
final class UndecodedBound {
  static final int DEFAULT_PER_OWNER = 10_000;
  static final int DEFAULT_TOTAL = 100_000;

  private final String node;
  private final int perOwner;
  private final int total;
  private final Map<String, Integer> byOwner = new HashMap<>();
  private int held;

  UndecodedBound(String node, int perOwner, int total) {
    if (perOwner < 0 || total < 0) {
      throw new IllegalArgumentException("undecoded bounds must not be negative, got %d per owner and %d in all"
          .formatted(perOwner, total));
    }
    this.node = node;
    this.perOwner = perOwner;
    this.total = total;
  }

  /** Why one more undecoded object of {@code owner} is refused, or null if there is room. */
  String refusal(String owner, String type) {
    if (held(owner) >= perOwner) {
      return ("node '%s' holds %d ephemeral objects of owner '%s' whose types it has not registered, the most it "
          + "keeps per owner; %s is refused (register the type at '%s' to hold more)")
          .formatted(node, held(owner), owner, type, node);
    }
    if (held >= total) {
      return ("node '%s' holds %d ephemeral objects whose types it has not registered, the most it keeps; "
          + "%s of '%s' is refused (register the type at '%s' to hold more)").formatted(node, held, type, owner, node);
    }
    return null;
  }

  /** One more (+1) or one fewer (-1) undecoded object of {@code owner} is held. */
  void count(String owner, int delta) {
    held += delta;
    byOwner.merge(owner, delta, (a, b) -> a + b == 0 ? null : a + b);
  }

  int held(String owner) {
    return byOwner.getOrDefault(owner, 0);
  }

  int held() {
    return held;
  }
}
