package dev.entanglement.benchmarks.support;

/** Tear-down shared by the scenarios. */
public final class Nodes {
  private Nodes() {}

  /**
   * Closes every node first (a sink must stop before its source's database goes), then frees
   * their databases. Null entries are skipped, so a scenario can call this from {@code finally}
   * whatever it managed to start.
   */
  public static void closeAndDispose(Node... nodes) {
    RuntimeException failure = null;
    for (Node node : nodes) {
      if (node != null) {
        try {
          node.close();
        } catch (RuntimeException e) {
          failure = e;
        }
      }
    }
    for (Node node : nodes) {
      if (node != null) {
        try {
          node.db().dispose();
        } catch (RuntimeException e) {
          failure = e;
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
