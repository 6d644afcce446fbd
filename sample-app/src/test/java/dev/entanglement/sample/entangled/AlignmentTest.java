package dev.entanglement.sample.entangled;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.sample.entangled.Alignment.Action;
import dev.entanglement.sample.entangled.Alignment.Status;
import dev.entanglement.sample.entangled.Alignment.Verdict;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The split-brain rules on pairs of versions, from either node's side. */
class AlignmentTest {
  private static VersionRow version(String node, String md5, long generation, long basedOn, boolean apart) {
    return new VersionRow(node, "/etc/app.conf", md5 != null, md5, md5 == null ? 0 : 1, null, generation, basedOn,
        apart, FileVersion.Cause.CHANGED, null);
  }

  private static VersionRow a(String md5, long generation, long basedOn) {
    return version("a", md5, generation, basedOn, false);
  }

  private static VersionRow b(String md5, long generation, long basedOn) {
    return version("b", md5, generation, basedOn, false);
  }

  @Test
  void noPeerVersionYet_isMisaligned_andNothingIsDone() {
    Verdict verdict = Alignment.judge(a("1", 1, 0), null);
    assertThat(verdict.status()).isEqualTo(Status.MISALIGNED);
    assertThat(verdict.action()).isEqualTo(Action.NONE);
  }

  @Test
  void sameContent_isAligned_whateverTheGenerations() {
    assertThat(Alignment.judge(a("1", 1, 0), b("1", 1, 0)).status()).isEqualTo(Status.ALIGNED);
    assertThat(Alignment.judge(a("1", 5, 0), b("1", 1, 3)).status()).isEqualTo(Status.ALIGNED);
    assertThat(Alignment.judge(a(null, 1, 0), b(null, 1, 0)).status()).isEqualTo(Status.ALIGNED);
  }

  @Test
  void differentAtStart_isSplitBrain() {
    assertSplitBrainBothWays(a("1", 1, 0), b("2", 1, 0));
    assertSplitBrainBothWays(a("1", 1, 0), b(null, 1, 0)); // missing on one node at start
  }

  @Test
  void aChangeMadeKnowingThePeersVersion_whileConnected_isAdoptedByThePeer() {
    VersionRow changedOnA = a("2", 2, 1);
    VersionRow onB = b("1", 1, 1);
    assertThat(Alignment.judge(onB, changedOnA)).extracting(Verdict::status, Verdict::action)
        .containsExactly(Status.MISALIGNED, Action.ADOPT_PEER);
    assertThat(Alignment.judge(changedOnA, onB)).extracting(Verdict::status, Verdict::action)
        .containsExactly(Status.MISALIGNED, Action.NONE);
    // once written, b's version is based on a's generation 2: aligned
    assertThat(Alignment.judge(b("2", 1, 2), changedOnA).status()).isEqualTo(Status.ALIGNED);
  }

  @Test
  void aChangeMadeWhileApart_isSplitBrain_evenThoughItIsNewer() {
    VersionRow changedApart = version("a", "2", 2, 1, true);
    assertSplitBrainBothWays(changedApart, b("1", 1, 1));
    assertThat(Alignment.judge(b("1", 1, 1), changedApart).detail())
        .contains("node 'a' changed the file (generation 2) while the nodes could not reach each other");
  }

  @Test
  void changesOnBothNodes_withoutSeeingEachOther_areSplitBrain() {
    assertSplitBrainBothWays(a("2", 2, 1), b("3", 2, 1));
  }

  @Test
  void aFurtherChangeKnowingThePeersVersion_resolvesASplitBrain() {
    // a changed apart (2); the nodes met; a changes again knowing b's 1: b adopts
    VersionRow resolved = a("4", 3, 1);
    assertThat(Alignment.judge(b("1", 1, 1), resolved).action()).isEqualTo(Action.ADOPT_PEER);
    // or b changes knowing a's apart version 2: a adopts
    VersionRow byB = b("5", 2, 2);
    assertThat(Alignment.judge(version("a", "2", 2, 1, true), byB).action()).isEqualTo(Action.ADOPT_PEER);
  }

  @Test
  void aDeletion_afterBothSawEachOther_isMisaligned_andNothingIsDeletedOrWritten() {
    Verdict verdict = Alignment.judge(a("1", 1, 1), b(null, 1, 1));
    assertThat(verdict.status()).isEqualTo(Status.MISALIGNED);
    assertThat(verdict.action()).isEqualTo(Action.NONE);
    assertThat(verdict.detail()).contains("deleted on node 'b'");
    assertThat(Alignment.judge(b(null, 1, 1), a("1", 1, 1)).action()).isEqualTo(Action.NONE);
  }

  @Test
  void bothNodesAlwaysReachTheSameStatus() {
    List<VersionRow> as = List.of(a("1", 1, 0), a("1", 1, 1), a("2", 2, 1), version("a", "2", 2, 1, true),
        a(null, 1, 1), a("3", 3, 2));
    List<VersionRow> bs = List.of(b("1", 1, 0), b("1", 1, 1), b("2", 2, 1), version("b", "4", 2, 2, true),
        b(null, 1, 1), b("5", 2, 3));
    for (VersionRow onA : as) {
      for (VersionRow onB : bs) {
        assertThat(Alignment.judge(onA, onB).status()).as("%s vs %s", onA, onB)
            .isEqualTo(Alignment.judge(onB, onA).status());
      }
    }
  }

  private static void assertSplitBrainBothWays(VersionRow one, VersionRow other) {
    for (Verdict verdict : List.of(Alignment.judge(one, other), Alignment.judge(other, one))) {
      assertThat(verdict.status()).isEqualTo(Status.SPLIT_BRAIN);
      assertThat(verdict.action()).isEqualTo(Action.NONE);
    }
  }
}
