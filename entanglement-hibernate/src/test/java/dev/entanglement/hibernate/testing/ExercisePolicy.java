package dev.entanglement.hibernate.testing;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingMessage;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import java.util.Set;

/**
 * The exercise's rules, deployed on every node by class name: the red and blue teams both share
 * with exercise staff (and the range in between), never with each other, and a team may ask for
 * changes of its own objects only.
 */
public final class ExercisePolicy implements Policy {
  private static final Set<String> TEAMS = Set.of("red", "blue");

  @Override
  public Decision send(Peer peer, ObjectRef object) {
    return Decision.denyIf(TEAMS.contains(peer.name()) && TEAMS.contains(object.owner())
        && !peer.name().equals(object.owner()),
        "objects of team '%s' are not shared with team '%s'".formatted(object.owner(), peer.name()));
  }

  @Override
  public Decision receiveMessage(Peer peer, IncomingMessage message) {
    if (message.isRequest() && TEAMS.contains(message.origin()) && TEAMS.contains(message.owner())
        && !message.origin().equals(message.owner())) {
      return Decision.deny("team '%s' may not change objects of team '%s'".formatted(message.origin(), message.owner()));
    }
    if (!message.isRequest() && TEAMS.contains(peer.name()) && TEAMS.contains(message.owner())
        && !peer.name().equals(message.owner())) {
      return Decision.deny("team '%s' may not send objects of team '%s'".formatted(peer.name(), message.owner()));
    }
    return Decision.abstain();
  }
}
