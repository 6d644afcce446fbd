package dev.entanglement.sample.exercise;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingMessage;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import java.util.Set;

/**
 * The exercise's sharing rules, configured on every node by class name
 * ({@code entanglement.policy} in persistence.xml): the red and blue teams each share with the
 * exercise staff and the range, never with each other; a team may ask for changes of its own
 * objects only.
 */
public final class ExerciseRules implements Policy {
  private static final Set<String> TEAMS = Set.of("red", "blue");

  @Override
  public Decision send(Peer peer, ObjectRef object) {
    return Decision.denyIf(isOtherTeam(peer.name(), object.owner()),
        "objects of team '%s' are not shared with team '%s'".formatted(object.owner(), peer.name()));
  }

  @Override
  public Decision receiveMessage(Peer peer, IncomingMessage message) {
    if (message.isRequest()) {
      return Decision.denyIf(isOtherTeam(message.origin(), message.owner()),
          "team '%s' may not change objects of team '%s'".formatted(message.origin(), message.owner()));
    }
    return Decision.denyIf(isOtherTeam(peer.name(), message.owner()),
        "team '%s' may not send objects of team '%s'".formatted(peer.name(), message.owner()));
  }

  private static boolean isOtherTeam(String node, String owner) {
    return TEAMS.contains(node) && TEAMS.contains(owner) && !node.equals(owner);
  }
}
