package dev.entanglement.hibernate.policy;

import java.util.List;
import java.util.Set;
import java.util.function.BinaryOperator;
import java.util.function.Function;
import java.util.function.Predicate;

/** Combinators and ready-made policies. */
public final class Policies {
  private Policies() {}

  /** All the policies, combined deny-overrides at every control point (asking stops at a denial). */
  public static Policy all(Policy... policies) {
    return combined(List.of(policies), Decision::and, Decision::isDeny);
  }

  /** The first policy that does not abstain decides, at every control point. */
  public static Policy firstApplicable(Policy... policies) {
    return combined(List.of(policies), Decision::orElse, decision -> !decision.isAbstain());
  }

  /**
   * Asks the policies in order at each control point, folding their answers with
   * {@code combine} from abstain, and stops once {@code decided} holds.
   */
  private static Policy combined(List<Policy> list, BinaryOperator<Decision> combine, Predicate<Decision> decided) {
    return new Policy() {
      private Decision ask(Function<Policy, Decision> point) {
        Decision decision = Decision.abstain();
        for (Policy policy : list) {
          decision = combine.apply(decision, point.apply(policy));
          if (decided.test(decision)) {
            break;
          }
        }
        return decision;
      }

      @Override
      public Decision sendToPeer(Peer peer) {
        return ask(p -> p.sendToPeer(peer));
      }

      @Override
      public Decision send(Peer peer, ObjectRef object) {
        return ask(p -> p.send(peer, object));
      }

      @Override
      public Decision receiveFromPeer(Peer peer) {
        return ask(p -> p.receiveFromPeer(peer));
      }

      @Override
      public Decision receiveMessage(Peer peer, IncomingMessage message) {
        return ask(p -> p.receiveMessage(peer, message));
      }

      @Override
      public Decision receiveObject(Peer peer, IncomingObject object) {
        return ask(p -> p.receiveObject(peer, object));
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
      public Decision send(Peer peer, ObjectRef object) {
        return owners.contains(object.owner()) && !peers.contains(peer.name())
            ? Decision.deny("objects of %s are not shared with '%s'".formatted(owners, peer.name()))
            : Decision.abstain();
      }

      @Override
      public Decision receiveMessage(Peer peer, IncomingMessage message) {
        return owners.contains(message.owner()) && !peers.contains(peer.name())
            ? Decision.deny("'%s' may not send objects of %s".formatted(peer.name(), message.owner()))
            : Decision.abstain();
      }
    };
  }
}
