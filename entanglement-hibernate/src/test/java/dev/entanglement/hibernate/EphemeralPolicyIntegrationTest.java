package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingObject;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.ExercisePolicy;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Policies decide on ephemeral objects as on entities: per peer, per type and per object, on
 * sending and on receiving, at relays that do not know the record type too.
 */
class EphemeralPolicyIntegrationTest {
  /** Who is online. */
  public record Presence(String user, String status) {}

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private <T extends AutoCloseable> T track(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  private static EphemeralObjects<Presence> presence(TestNode node) {
    return node.entanglement().ephemeral(Presence.class);
  }

  @Test
  void aGatewayThatDoesNotKnowTheRecord_stillKeepsTheTeamsApart() {
    String address = "eph-range-" + UUID.randomUUID();
    TestNode range = track(exercise("range").listenInProcess(address).start());
    TestNode staff = track(exercise("staff").peers("inprocess:" + address).start());
    TestNode red = track(exercise("red").peers("inprocess:" + address).start());
    TestNode blue = track(exercise("blue").peers("inprocess:" + address).start());
    for (String name : List.of("staff", "red", "blue")) {
      range.awaitConnected(name);
    }
    presence(staff);
    presence(blue);
    // range never registers Presence: it relays the objects undecoded, under its policies
    presence(red).put("scout", new Presence("scout", "moving"));
    await().atMost(Duration.ofSeconds(10)).until(() -> presence(staff).get("scout").isPresent());
    red.awaitCaughtUp("range");
    range.awaitCaughtUp("blue");
    assertThat(presence(blue).get("scout")).isEmpty();
    assertThat(range.entanglement().policyDenials()).anySatisfy(d -> {
      assertThat(d.peer()).isEqualTo("blue");
      assertThat(d.direction()).isEqualTo(PolicyDenial.Direction.SEND);
      assertThat(d.lastReason()).isEqualTo("objects of team 'red' are not shared with team 'blue'");
    });
  }

  private static TestNode.Builder exercise(String name) {
    return TestNode.builder(name, Database.H2, Item.class).set(EntanglementSettings.POLICY, ExercisePolicy.class.getName());
  }

  @Test
  void policiesSeeTheRecord_whenSendingAndWhenReceiving_andAChangedPolicyGrantsWhatItNowAllows() {
    String address = "eph-policy-" + UUID.randomUUID();
    TestNode a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(address).start());
    TestNode b = track(TestNode.builder("b", Database.H2, Item.class).peers("inprocess:" + address).start());
    b.awaitConnected("a");
    AtomicBoolean hideInvisible = new AtomicBoolean(true);
    a.entanglement().addPolicy(new Policy() {
      @Override
      public Decision send(Peer peer, ObjectRef object) {
        return Decision.denyIf(hideInvisible.get() && object.entity() instanceof Presence p
            && p.status().equals("invisible"), "invisible presences stay here");
      }
    });
    b.entanglement().addPolicy(new Policy() {
      @Override
      public Decision receiveObject(Peer peer, IncomingObject object) {
        return Decision.denyIf(object.incoming() instanceof Presence p && p.status().equals("rude"),
            "no rude presences here");
      }
    });
    presence(b);
    presence(a).put("vis", new Presence("vis", "online"));
    presence(a).put("ghost", new Presence("ghost", "invisible"));
    presence(a).put("troll", new Presence("troll", "rude"));
    a.awaitCaughtUp("b");
    assertThat(presence(b).all().keySet()).containsExactly("vis");
    assertThat(a.entanglement().policyDenials()).extracting(PolicyDenial::peer, PolicyDenial::direction,
        PolicyDenial::lastReason).contains(tuple("b", PolicyDenial.Direction.SEND, "invisible presences stay here"));
    assertThat(b.entanglement().policyDenials()).extracting(PolicyDenial::peer, PolicyDenial::direction,
        PolicyDenial::lastReason).contains(tuple("a", PolicyDenial.Direction.RECEIVE, "no rude presences here"));

    hideInvisible.set(false);
    a.entanglement().policyChanged();
    await().atMost(Duration.ofSeconds(10)).until(() -> presence(b).get("ghost").isPresent());
    assertThat(presence(b).get("troll")).isEmpty();
  }
}
