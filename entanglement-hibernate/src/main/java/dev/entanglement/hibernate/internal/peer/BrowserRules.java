package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.RequestStatus;
import java.util.ArrayList;
import java.util.List;

/**
 * What a browser peer may send, decided as pure functions of the envelope and the name the
 * application gave the browser: browsers own nothing persistent and speak only for themselves.
 * <ul>
 *   <li>Hello: names the browser (or leaves the name empty); positions are kept (catch-up), the
 *       {@code highest} of each is dropped (a browser stores nothing durably, so it cannot show
 *       lost commits);
 *   <li>ChangeBatch: a change of an entity object is rejected (NOT_OWNER, naming the way: an
 *       UpdateRequest to the owner); an ephemeral object is accepted only under the browser's
 *       own name; the batch's positions are dropped (a browser cannot tell this node how far it
 *       holds any owner);
 *   <li>UpdateRequest, TransitionUpdate: the origin is the browser (filled in when empty); a
 *       request naming another origin is answered REFUSED, a transition ends the stream;
 *   <li>SyncMarker, OwnerRemoved, Routes: node business (sweeps, removals, routes), refused by
 *       ending the stream;
 *   <li>Ack, ResyncRequest, Heartbeat: as from any peer.
 * </ul>
 * The answers name no owner but the browser and what it named itself ({@link #anonymous}); what
 * the node sends a browser on its own is checked by {@link PeerView}.
 * Stateless.
 */
final class BrowserRules {
  private BrowserRules() {}

  /** What to do with an envelope from a browser. */
  sealed interface Verdict permits Pass, Answer, End {}

  /** Go on with this envelope (possibly with the origin filled in). */
  record Pass(Envelope envelope) implements Verdict {}

  /** Do not act on it; send this answer instead (the peer is granted one more message). */
  record Answer(Envelope answer) implements Verdict {}

  /** End the stream with PERMISSION_DENIED and this description. */
  record End(String description) implements Verdict {}

  /** The browser's Hello as the node handles it, or null when it names someone else. */
  static Hello hello(Hello hello, String browser) {
    if (!hello.getNodeName().isEmpty() && !hello.getNodeName().equals(browser)) {
      return null;
    }
    Hello.Builder normalized = hello.toBuilder().setNodeName(browser).clearOwners().clearPeerName();
    for (OwnerPosition position : hello.getOwnersList()) {
      normalized.addOwners(position.toBuilder().clearHighest());
    }
    return normalized.build();
  }

  /** Checks an envelope (not a Hello, not a ChangeBatch: see {@link #screen}) from a browser. */
  static Verdict inbound(Envelope envelope, String browser) {
    return switch (envelope.getBodyCase()) {
      case UPDATE_REQUEST -> {
        var request = envelope.getUpdateRequest();
        if (request.getOrigin().isEmpty()) {
          yield new Pass(Envelope.newBuilder().setUpdateRequest(request.toBuilder().setOrigin(browser)).build());
        }
        if (!request.getOrigin().equals(browser)) {
          yield new Answer(Envelope.newBuilder().setRequestOutcome(RequestOutcome.newBuilder()
              .setRequestId(request.getRequestId())
              .setStatus(RequestStatus.REFUSED)
              .setReason(RejectReason.POLICY)
              .setMessage(("browser '%s' may make requests only in its own name, not in the name of '%s' (leave "
                  + "origin empty)").formatted(browser, request.getOrigin()))).build());
        }
        yield new Pass(envelope);
      }
      case TRANSITION -> {
        var update = envelope.getTransition();
        if (update.getOrigin().isEmpty()) {
          yield new Pass(Envelope.newBuilder().setTransition(update.toBuilder().setOrigin(browser)).build());
        }
        yield update.getOrigin().equals(browser) ? new Pass(envelope) : new End(("browser '%s' sent a transition "
            + "in the name of '%s': a browser's transitions are its own").formatted(browser, update.getOrigin()));
      }
      case SYNC_MARKER, OWNER_REMOVED, ROUTES -> new End(("browser '%s' sent a %s: browsers own nothing persistent "
          + "and route nothing, so they send no full synchronizations, owner removals or routes")
          .formatted(browser, InboundDispatcher.kind(envelope)));
      default -> new Pass(envelope);
    };
  }

  /**
   * A browser's batch split into what may be applied (its own ephemeral objects, without
   * positions) and the rejections of the rest, by index in the batch.
   */
  static Screened screen(ChangeBatch batch, String browser) {
    ChangeBatch.Builder allowed = ChangeBatch.newBuilder().setRequestId(batch.getRequestId());
    List<Integer> allowedIndexes = new ArrayList<>();
    List<Outcome> refused = new ArrayList<>();
    for (int i = 0; i < batch.getChangesCount(); i++) {
      Change change = batch.getChanges(i);
      String problem = problem(change, browser);
      if (problem == null) {
        allowed.addChanges(change);
        allowedIndexes.add(i);
      } else {
        refused.add(Outcome.newBuilder().setIndex(i).setStatus(OutcomeStatus.REJECTED)
            .setReason(RejectReason.NOT_OWNER).setMessage(problem).build());
      }
    }
    return new Screened(allowed.build(), List.copyOf(allowedIndexes), List.copyOf(refused), batch.getChangesCount());
  }

  private static String problem(Change change, String browser) {
    if (!change.getEphemeral()) {
      return ("browser '%s' sent a change of %s as its owner '%s', but browsers own nothing persistent: a change of "
          + "an entity object is an UpdateRequest to its owner").formatted(browser, change.getEntity(), change.getOwner());
    }
    if (!change.getOwner().equals(browser)) {
      return "browser '%s' sent an ephemeral %s of owner '%s': a browser owns only its own ephemeral objects"
          .formatted(browser, change.getEntity(), change.getOwner());
    }
    return null;
  }

  /**
   * The node's answer to a browser's own ephemeral objects, naming no other owner: an id another
   * peer owns already is refused (NOT_OWNER) without saying whose it is (the owner may be one the
   * browser is never shown).
   */
  static Ack anonymous(Ack applied, ChangeBatch batch, String browser) {
    Ack.Builder answer = applied.toBuilder();
    for (int i = 0; i < answer.getOutcomesCount(); i++) {
      Outcome outcome = answer.getOutcomes(i);
      if (outcome.getStatus() == OutcomeStatus.REJECTED && outcome.getReason() == RejectReason.NOT_OWNER
          && outcome.getIndex() < batch.getChangesCount()) {
        Change change = batch.getChanges(outcome.getIndex());
        answer.setOutcomes(i, outcome.toBuilder().setMessage(("ephemeral %s '%s' is owned by another peer; browser '%s' "
            + "owns only the ephemeral objects it put first").formatted(change.getEntity(), change.getId().getText(), browser)));
      }
    }
    return answer.build();
  }

  /** A screened batch; {@link #answer} merges the node's answer to the allowed part with the rejections. */
  record Screened(ChangeBatch allowed, List<Integer> allowedIndexes, List<Outcome> refused, int size) {
    /** The answer to the whole batch: {@code applied} answers {@link #allowed} (null when it was empty). */
    Ack answer(long requestId, Ack applied) {
      Outcome[] outcomes = new Outcome[size];
      for (Outcome outcome : refused) {
        outcomes[outcome.getIndex()] = outcome;
      }
      if (applied != null) {
        for (Outcome outcome : applied.getOutcomesList()) {
          int index = allowedIndexes.get(outcome.getIndex());
          outcomes[index] = outcome.toBuilder().setIndex(index).build();
        }
      }
      Ack.Builder ack = Ack.newBuilder().setRequestId(requestId);
      for (int i = 0; i < size; i++) {
        ack.addOutcomes(outcomes[i] != null ? outcomes[i] : Outcome.newBuilder().setIndex(i)
            .setStatus(OutcomeStatus.REJECTED).setReason(RejectReason.INTERNAL).setMessage("no outcome").build());
      }
      return ack.build();
    }
  }
}
