package dev.entanglement.hibernate;

/**
 * What a forced resynchronization did at this node, once it was applied here. Immutable.
 *
 * @param peer the peer that sent its objects again
 * @param mode the mode asked for
 * @param received objects of the peer received between the synchronization's markers
 * @param repaired rows rewritten because they were missing here or differed from the peer's state
 *     at the serial this node held ({@link ResyncMode#VERIFY} only; 0 otherwise)
 * @param removed objects removed because the peer no longer has them (the sweep)
 */
public record ResyncReport(String peer, ResyncMode mode, long received, long repaired, long removed) {

  @Override
  public String toString() {
    return "%d %s received from peer '%s', %d repaired, %d removed".formatted(received,
        received == 1 ? "object" : "objects", peer, repaired, removed);
  }
}
