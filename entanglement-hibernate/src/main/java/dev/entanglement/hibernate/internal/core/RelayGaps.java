package dev.entanglement.hibernate.internal.core;

import java.util.HashMap;
import java.util.Map;

/**
 * The changes one stream brought of owners this node was connected to directly, which it
 * therefore ignored (answered ALREADY_CURRENT: the owner's own stream is the one source of its
 * states here). The relay counts them delivered, so its later positions of such an owner claim
 * states this node never took; if the direct stream had lost them and dropped, taking those
 * positions would skip the changes for good. So a position of the owner from this stream is
 * held below the changes ignored on it, until this node's own position of the owner (from the
 * owner's stream) passes all of them. On a new stream the relay's catch-up starts from the
 * held position and sends the change again.
 *
 * <h2>Concurrency</h2>
 * One per stream, used only by the batches of that stream, which are applied one at a time (the
 * applier is node-wide synchronized); not thread-safe.
 */
public final class RelayGaps {
  /** The serials of an owner's changes ignored on this stream, lowest and highest. */
  private static final class Ignored {
    long lowest;
    long highest;

    Ignored(long serial) {
      lowest = serial;
      highest = serial;
    }
  }

  private final Map<String, Ignored> ignored = new HashMap<>();

  /** A change of the owner with this serial was ignored. */
  public void ignored(String owner, long serial) {
    Ignored range = ignored.get(owner);
    if (range == null) {
      ignored.put(owner, new Ignored(serial));
    } else {
      range.lowest = Math.min(range.lowest, serial);
      range.highest = Math.max(range.highest, serial);
    }
  }

  /**
   * The serial up to which a position of the owner from this stream may be taken, given
   * {@code held}, this node's position of the owner: the received one once {@code held} passed
   * every change ignored on this stream; before that, never beyond the lowest of them, nor
   * beyond {@code held} once it passed only some.
   */
  public long cap(String owner, long received, long held) {
    Ignored range = ignored.get(owner);
    if (range == null) {
      return received;
    }
    if (held >= range.highest) {
      ignored.remove(owner); // the owner's own stream brought them (or newer states) since
      return received;
    }
    return Math.min(received, Math.max(held, range.lowest - 1));
  }

  /** Whether no owner's positions are held back. */
  public boolean isEmpty() {
    return ignored.isEmpty();
  }
}
