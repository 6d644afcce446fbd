package dev.entanglement.benchmarks.support;

import dev.entanglement.benchmarks.model.WebItem;
import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.web.Admission;
import dev.entanglement.hibernate.web.BrowserIdentity;
import dev.entanglement.hibernate.web.UpgradeRequest;

/**
 * Who sees what in the browsers scenario: client {@code c} (peer name {@code c<index>}) sees object
 * {@code k} when {@code k < SHARED} (a set every client sees) or {@code k % GROUPS == c % GROUPS}
 * (its group's objects). With 1,000 clients a group has 20 clients, so a change of a group
 * object goes to 20 clients and a change of a shared one to all 1,000. The same rule decides the
 * node's policy ({@link SubsetPolicy}) and the bare Netty server's fan-out it is compared with.
 */
public final class Subsets {
  /** Objects 0 .. SHARED-1 go to every client. */
  public static final int SHARED = 10;
  public static final int GROUPS = 50;

  private Subsets() {}

  public static boolean visible(long object, int client) {
    return object < SHARED || object % GROUPS == client % GROUPS;
  }

  /** How many of clients 0 .. clients-1 see {@code object}. */
  public static int receivers(long object, int clients) {
    if (object < SHARED) {
      return clients;
    }
    int group = (int) (object % GROUPS);
    return group < clients ? (clients - 1 - group) / GROUPS + 1 : 0;
  }

  /** The client index of a peer name {@code c<index>}, or -1. */
  public static int clientIndex(String peerName) {
    if (peerName == null || peerName.length() < 2 || peerName.charAt(0) != 'c') {
      return -1;
    }
    try {
      return Integer.parseInt(peerName, 1, peerName.length(), 10);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Admits the token {@code c<index>} (query parameter {@code token}, as the JS client sends it) as the peer of that name. */
  public static final class TokenIdentity implements BrowserIdentity {
    @Override
    public Admission identify(UpgradeRequest request) {
      String token = request.parameter("token").orElse("");
      return clientIndex(token) >= 0 ? Admission.peer(token)
          : Admission.unauthorized("token '" + token + "' is not c<index>");
    }
  }

  /** Sends a browser the WebItems {@link #visible} to it; nodes are not its business (none connect). */
  public static final class SubsetPolicy implements Policy {
    private static final Decision NOT_ITS_SUBSET = Decision.deny("not in this client's subset");

    @Override
    public Decision send(Peer peer, ObjectRef object) {
      if (!peer.browser() || object.entityType() != WebItem.class) {
        return Decision.abstain();
      }
      int client = clientIndex(peer.name());
      return client >= 0 && visible((Long) object.id(), client) ? Decision.allow() : NOT_ITS_SUBSET;
    }
  }
}
