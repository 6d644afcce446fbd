package dev.entanglement.sample.web;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingMessage;
import dev.entanglement.hibernate.policy.IncomingObject;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import java.util.Set;

/**
 * The exercise's sharing rules for nodes and browsers alike: a peer's team is its name up to the
 * first '.' ({@code red.alice.tab1} is in team red). Red and blue never see or change each
 * other's objects; staff and hq see everything. Cards with a title starting "locked" may not be
 * changed by requests (a refusal with a reason the client shows). Stateless.
 */
public final class WebDemoRules implements Policy {
  private static final Set<String> TEAMS = Set.of("red", "blue");

  /** The team of a node or browser name. */
  static String team(String name) {
    int dot = name.indexOf('.');
    return dot < 0 ? name : name.substring(0, dot);
  }

  private static boolean otherTeam(String peer, String owner) {
    String team = team(peer);
    String owning = team(owner);
    return TEAMS.contains(team) && TEAMS.contains(owning) && !team.equals(owning);
  }

  @Override
  public Decision send(Peer peer, ObjectRef object) {
    return Decision.denyIf(otherTeam(peer.name(), object.owner()),
        "objects of team '%s' are not shared with team '%s'".formatted(team(object.owner()), team(peer.name())));
  }

  @Override
  public Decision receiveMessage(Peer peer, IncomingMessage message) {
    String from = message.isRequest() ? message.origin() : peer.name();
    return Decision.denyIf(otherTeam(from, message.owner()),
        "team '%s' may not change objects of team '%s'".formatted(team(from), team(message.owner())));
  }

  @Override
  public Decision receiveObject(Peer peer, IncomingObject object) {
    return Decision.denyIf(object.message().isRequest() && object.stored() instanceof Card card
        && card.getTitle() != null && card.getTitle().startsWith("locked"),
        "card '%s' is locked: only its owner changes it".formatted(
            object.stored() instanceof Card card ? card.getTitle() : ""));
  }
}
