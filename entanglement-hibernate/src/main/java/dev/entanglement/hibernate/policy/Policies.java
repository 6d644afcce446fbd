package dev.entanglement.hibernate.policy;

import java.util.List;
import java.util.Set;

/** Combinators and ready-made policies. */
public final class Policies {
  private Policies() {}

  /** All the policies, combined deny-overrides at every control point. */
  public static Policy all(Policy... policies) {
    List<Policy> list = List.of(policies);
    return new Policy() {
      @Override
      public Decision sendToPeer(PeerRef peer) {
        Decision d = Decision.abstain();
        for (Policy p : list) {
          d = d.and(p.sendToPeer(peer));
        }
        return d;
      }

      @Override
      public Decision send(PeerRef peer, ObjectRef object) {
        Decision d = Decision.abstain();
        for (Policy p : list) {
          d = d.and(p.send(peer, object));
        }
        return d;
      }

      @Override
      public Decision receiveFromPeer(PeerRef peer) {
        Decision d = Decision.abstain();
        for (Policy p : list) {
          d = d.and(p.receiveFromPeer(peer));
        }
        return d;
      }

      @Override
      public Decision receiveMessage(PeerRef peer, IncomingMessage message) {
        Decision d = Decision.abstain();
        for (Policy p : list) {
          d = d.and(p.receiveMessage(peer, message));
        }
        return d;
      }

      @Override
      public Decision receiveObject(PeerRef peer, IncomingObject object) {
        Decision d = Decision.abstain();
        for (Policy p : list) {
          d = d.and(p.receiveObject(peer, object));
        }
        return d;
      }
    };
  }

  /** The first policy that does not abstain decides, at every control point. */
  public static Policy firstApplicable(Policy... policies) {
    List<Policy> list = List.of(policies);
    return new Policy() {
      @Override
      public Decision sendToPeer(PeerRef peer) {
        for (Policy p : list) {
          Decision d = p.sendToPeer(peer);
          if (!d.isAbstain()) {
            return d;
          }
        }
        return Decision.abstain();
      }

      @Override
      public Decision send(PeerRef peer, ObjectRef object) {
        for (Policy p : list) {
          Decision d = p.send(peer, object);
          if (!d.isAbstain()) {
            return d;
          }
        }
        return Decision.abstain();
      }

      @Override
      public Decision receiveFromPeer(PeerRef peer) {
        for (Policy p : list) {
          Decision d = p.receiveFromPeer(peer);
          if (!d.isAbstain()) {
            return d;
          }
        }
        return Decision.abstain();
      }

      @Override
      public Decision receiveMessage(PeerRef peer, IncomingMessage message) {
        for (Policy p : list) {
          Decision d = p.receiveMessage(peer, message);
          if (!d.isAbstain()) {
            return d;
          }
        }
        return Decision.abstain();
      }

      @Override
      public Decision receiveObject(PeerRef peer, IncomingObject object) {
        for (Policy p : list) {
          Decision d = p.receiveObject(peer, object);
          if (!d.isAbstain()) {
            return d;
          }
        }
        return Decision.abstain();
      }
    };
  }

  /**
   * Objects owned by the given nodes go only to the given peers, and those peers' changes and
   * requests are accepted only for objects of those owners or of the node itself. For example
   * {@code ownersVisibleTo(Set.of("red"), Set.of("red", "staff"))} keeps red's objects between red
   * and staff.
   */
  public static Policy ownersVisibleTo(Set<String> owners, Set<String> peers) {
    return new Policy() {
      @Override
      public Decision send(PeerRef peer, ObjectRef object) {
        return owners.contains(object.owner()) && !peers.contains(peer.name())
            ? Decision.deny("objects of %s are not shared with '%s'".formatted(owners, peer.name()))
            : Decision.abstain();
      }

      @Override
      public Decision receiveMessage(PeerRef peer, IncomingMessage message) {
        return owners.contains(message.owner()) && !peers.contains(peer.name())
            ? Decision.deny("'%s' may not send objects of %s".formatted(peer.name(), message.owner()))
            : Decision.abstain();
      }
    };
  }
}
