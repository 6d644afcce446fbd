package dev.entanglement.hibernate.internal.ownership;

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
 * <h2>Concurrency</h2>
 * {@code listeners} is a copy-on-write list (added and removed from any thread); {@link #settled}
 * is called on the forwarder's serial executor, so listeners are called one at a time, never on
 * an application's committing thread.
 */
public final class RequestEvents {
  private static final Logger LOG = Logger.getLogger(RequestEvents.class);

  private final String nodeName;
  private final List<RequestListener> listeners = new CopyOnWriteArrayList<>();
  private final LimitedLog warnings = new LimitedLog(LOG);

  RequestEvents(String nodeName) {
    this.nodeName = nodeName;
  }

  public void add(RequestListener listener) {
    listeners.add(listener);
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
    for (RequestListener listener : listeners) {
      try {
        listener.requestSettled(event);
      } catch (RuntimeException e) {
        LOG.errorf(e, "A request listener of node '%s' failed on %s", nodeName, event);
      }
    }
  }
}
