package dev.entanglement.sample.entangled;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Changes made while the nodes cannot reach each other (a cut link, a node that is down) are
 * reported as split-brain once they meet again and overwrite nothing; a further change made while
 * they are connected propagates and resolves it.
 */
class EntangledSplitBrainTest {
  private static final String APP = "/etc/app.conf";
  private static final String OTHER = "/etc/other.conf";

  @TempDir Path temp;
  private EntangledPair pair;

  @AfterEach
  void stop() {
    if (pair != null) {
      pair.close();
    }
  }

  /** Aligned nodes, then the link is cut and {@code a}'s file changes; then the link heals. */
  private void changeOnAWhileTheLinkIsCut() {
    pair = new EntangledPair(temp, APP, OTHER);
    for (String node : new String[] {"a", "b"}) {
      pair.write(node, APP, "mode = primary\n");
      pair.write(node, OTHER, "x = 1\n");
    }
    pair.startThroughProxy();
    pair.awaitStatusOnBoth(APP, "aligned");
    pair.awaitStatusOnBoth(OTHER, "aligned");

    pair.proxy().cut();
    pair.awaitDisconnected();
    pair.write("a", APP, "mode = changed while apart\n");
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> {
      JsonNode local = pair.fileState("a", APP).get("local");
      assertThat(local.get("generation").asLong()).isEqualTo(2);
      assertThat(local.get("changedApart").asBoolean()).isTrue();
    });

    pair.proxy().heal();
    pair.awaitConnected();
    // b has received a's version: reconnecting alone must not have written it
    await().atMost(EntangledPair.WAIT).untilAsserted(() ->
        assertThat(pair.fileState("b", APP).get("remote").get("generation").asLong()).isEqualTo(2));
  }

  @Test
  void aChangeWhileTheLinkIsCut_isSplitBrainAfterReconnecting_andNothingIsOverwritten() {
    changeOnAWhileTheLinkIsCut();

    pair.awaitStatusOnBoth(APP, "split-brain");
    assertThat(pair.fileState("b", APP).get("detail").asText())
        .contains("node 'a' changed the file (generation 2) while the nodes could not reach each other");
    await().during(Duration.ofSeconds(1)).atMost(EntangledPair.WAIT).untilAsserted(() -> {
      assertThat(pair.read("b", APP)).isEqualTo("mode = primary\n");
      assertThat(pair.read("a", APP)).isEqualTo("mode = changed while apart\n");
    });
    pair.awaitStatusOnBoth(APP, "split-brain");
    pair.awaitStatusOnBoth(OTHER, "aligned"); // the file that did not change is not affected
  }

  @Test
  void afterTheLinkHeals_aFurtherChange_propagatesAndResolvesTheSplitBrain() {
    changeOnAWhileTheLinkIsCut();
    pair.awaitStatusOnBoth(APP, "split-brain");

    pair.write("a", APP, "mode = decided\n");

    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.read("b", APP)).isEqualTo("mode = decided\n"));
    pair.awaitStatusOnBoth(APP, "aligned");
    assertThat(pair.fileState("a", APP).get("local").get("changedApart").asBoolean()).isFalse();

    // resolved for good: the next change, on the other node this time, propagates too
    pair.write("b", APP, "mode = decided by b\n");
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.read("a", APP)).isEqualTo("mode = decided by b\n"));
    pair.awaitStatusOnBoth(APP, "aligned");
  }

  @Test
  void aFurtherChangeOnTheNodeThatDidNotChange_alsoResolvesIt_inItsFavour() {
    changeOnAWhileTheLinkIsCut();
    pair.awaitStatusOnBoth(APP, "split-brain");

    pair.write("b", APP, "mode = b decides\n");

    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.read("a", APP)).isEqualTo("mode = b decides\n"));
    pair.awaitStatusOnBoth(APP, "aligned");
  }

  @Test
  void aChangeWhileANodeIsDown_isSplitBrainWhenItComesBack_andNothingIsOverwritten() {
    pair = new EntangledPair(temp, APP);
    pair.write("a", APP, "mode = primary\n");
    pair.write("b", APP, "mode = primary\n");
    pair.start();
    pair.awaitStatusOnBoth(APP, "aligned");
    String addressOfA = pair.addressForB();

    pair.stop("b");
    pair.write("b", APP, "mode = edited while b was down\n");
    pair.startB(addressOfA);
    pair.awaitConnected();

    pair.awaitStatusOnBoth(APP, "split-brain");
    JsonNode onB = pair.fileState("b", APP).get("local");
    assertThat(onB.get("generation").asLong()).isEqualTo(2);
    assertThat(onB.get("changedApart").asBoolean()).isTrue();
    await().during(Duration.ofSeconds(1)).atMost(EntangledPair.WAIT).untilAsserted(() -> {
      assertThat(pair.read("a", APP)).isEqualTo("mode = primary\n");
      assertThat(pair.read("b", APP)).isEqualTo("mode = edited while b was down\n");
    });
  }
}
