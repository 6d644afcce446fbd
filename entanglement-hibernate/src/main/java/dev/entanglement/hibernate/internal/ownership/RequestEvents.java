package dev.entanglement.hibernate.internal.ownership;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.ArrayDeque;
import java.util.ArrayList;
import dev.entanglement.hibernate.RequestEvent;
import dev.entanglement.hibernate.RequestListener;
import dev.entanglement.hibernate.internal.core.LimitedLog;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jboss.logging.Logger;

/**
 * The failure channel of this node's update requests: hands every final outcome to the request
 * listeners, and logs one WARN line per object whose request failed (refused, expired, outcome
 * unknown), at most once per object a minute so that a storm stays bounded.
 *
 * <p>Outcomes that arrive while no listener is registered (typically requests reloaded at boot
 * that settle before the application had a chance to call {@code addRequestListener}) are kept,
 * at most {@value #MAX_UNHEARD} (the oldest dropped, counted in one WARN), and handed to the first
 * listener added, so registering right after boot never misses one.
 *
 * <h2>Concurrency</h2>
 * {@code listeners} is a copy-on-write list (added and removed from any thread); {@link #settled}
 * is called on the forwarder's serial executor, so listeners are called one at a time, never on
 * an application's committing thread. {@code unheard} and {@code dropped} are guarded by
 * {@code lock}, which also orders a replay before events that settle after it.
 */
public final class RequestEvents {
  private static final Logger LOG = Logger.getLogger(RequestEvents.class);

  private final String nodeName;
  private final List<RequestListener> listeners = new CopyOnWriteArrayList<>();
  private final LimitedLog warnings = new LimitedLog(LOG);
  /** Most outcomes kept for the first listener. */
  static final int MAX_UNHEARD = 10_000;
  private final Object lock = new Object();
  @GuardedBy("lock")
  private final ArrayDeque<RequestEvent> unheard = new ArrayDeque<>();
  @GuardedBy("lock")
  private long dropped;

  RequestEvents(String nodeName) {
    this.nodeName = nodeName;
  }

  public void add(RequestListener listener) {
    List<RequestEvent> replay;
    synchronized (lock) {
      listeners.add(listener);
      replay = new ArrayList<>(unheard);
      unheard.clear();
      if (dropped > 0) {
        LOG.warnf("Node '%s' dropped the outcomes of %d update requests that settled before any request listener "
            + "was added (it keeps the last %d)", nodeName, dropped, MAX_UNHEARD);
        dropped = 0;
      }
      for (RequestEvent event : replay) {
        call(listener, event);
      }
    }
  }

  public void remove(RequestListener listener) {
    listeners.remove(listener);
  }

  /** A request settled: logged if it failed, then every listener hears it. */
  void settled(String object, RequestEvent event) {
    if (event.outcome() != RequestEvent.Outcome.APPLIED) {
      String what = event.outcome() == RequestEvent.Outcome.REFUSED ? "was refused"
          : event.outcome() == RequestEvent.Outcome.FAILED ? "failed" : "has an unknown outcome";
      warnings.warn(object, "Node '%s': the %s request for %s to owner '%s' %s: %s".formatted(nodeName,
          event.kind().name().toLowerCase(java.util.Locale.ROOT), object, event.owner(), what,
          event.failure() == null ? "" : event.failure().getMessage()));
    }
    synchronized (lock) {
      if (listeners.isEmpty()) {
        if (unheard.size() == MAX_UNHEARD) {
          unheard.removeFirst();
          dropped++;
        }
        unheard.addLast(event);
        return;
      }
    }
    for (RequestListener listener : listeners) {
      call(listener, event);
    }
  }

  private void call(RequestListener listener, RequestEvent event) {
    try {
      listener.requestSettled(event);
    } catch (RuntimeException e) {
      LOG.errorf(e, "A request listener of node '%s' failed on %s", nodeName, event);
    }
  }
}
