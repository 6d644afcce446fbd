package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.apply.InboundApplier.Hooks;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.proto.v1.SyncMarker;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.jboss.logging.Logger;

/**
 * Removes another owner's objects from this node: at the end of a full synchronization with a
 * sweep, those the owner no longer has (not received since the start); when an operator removed
 * the owner, all of them. Never this node's own objects.
 *
 * <p><b>This node's own objects.</b> Only this node decides their state, so a sweep or a removal
 * naming this node is refused as a whole (nothing deleted, no position set). A full
 * synchronization marker has no answer on the wire, so the refusal is <em>logged</em>: one WARN
 * line per peer naming the peer and the reason, then DEBUG for that peer's further such markers
 * (a peer repeating them cannot flood the log). Each row is also checked again inside its delete
 * transaction: it is deleted only if it still belongs to the owner named, is not this node's nor
 * being handed over to it, and (for a sweep) is not newer than the marker's serial; objects are
 * deleted children before parents, retried while progress is made.
 *
 * <h2>Concurrency</h2>
 * {@code refusedPeers} (the peers whose self-naming markers were already logged at WARN) is a
 * concurrent set, added to from any peer's apply thread; {@code afterListing} (a test seam) is
 * volatile. Sweeps and owner removals run under the {@link InboundApplier}'s lock, in the apply
 * ordering; the per-row check in the delete transaction keeps a newer state written by anything
 * that lock does not cover ({@code OwnerSweeperRaceTest}). The positions and the parking lot
 * have concurrency contracts of their own.
 */
final class OwnerSweeper {
  private static final Logger LOG = Logger.getLogger(OwnerSweeper.class);

  private final EntangledModel model;
  private final Bookkeeping bookkeeping;
  private final Transactions transactions;
  private final EntityWriter writer;
  private final Positions positions;
  private final ParkingLot parking;
  private final String nodeName;
  private final Set<String> refusedPeers = ConcurrentHashMap.newKeySet();
  /**
   * Runs between listing a sweep's stale objects and deleting them: a test seam, so a test can
   * write a newer state exactly there (as a writer the apply lock does not cover would).
   */
  volatile Runnable afterListing = () -> {};

  OwnerSweeper(EntangledModel model, Bookkeeping bookkeeping, Transactions transactions, EntityWriter writer,
      Positions positions, ParkingLot parking, String nodeName) {
    this.model = model;
    this.bookkeeping = bookkeeping;
    this.transactions = transactions;
    this.writer = writer;
    this.positions = positions;
    this.parking = parking;
    this.nodeName = nodeName;
  }

  /**
   * Ends a full synchronization of an owner: with a sweep, removes the owner's objects this node
   * holds that were not received (the owner no longer has them), then sets the owner's position.
   * Refused when the owner is this node. Never throws.
   *
   * @param repaired how many rows a verifying synchronization rewrote (for the log)
   * @param repairedExamples what was repaired, at most a few ({@code entity#id: what differed})
   * @return how many objects the sweep removed
   */
  int endFullSync(String peer, SyncMarker end, Set<String> received, long repaired, List<String> repairedExamples,
      Hooks hooks) {
    String owner = end.getOwner();
    if (owner.equals(nodeName)) {
      refuseSelf(peer, owner);
      return 0;
    }
    int removed = 0;
    try {
      if (end.getSweep()) {
        long through = end.getSerial();
        List<ObjectRow> stale = new ArrayList<>();
        for (ObjectRow row : transactions.read(c -> bookkeeping.liveObjects(c, owner))) {
          if (!received.contains(row.entity() + '#' + row.id()) && row.serial() <= through) {
            stale.add(row);
          }
        }
        afterListing.run();
        Deletion deletion = deleteAll(peer, owner, stale, now -> now.serial() <= through, true, hooks);
        removed = deletion.deleted();
        List<ObjectRow> left = deletion.left();
        if (!left.isEmpty()) {
          LOG.warnf("Full synchronization of '%s' from peer '%s': %d objects the owner no longer has "
              + "could not be removed here (still referenced?), e.g. %s#%s", owner, peer, left.size(),
              left.get(0).entity(), left.get(0).id());
        }
      }
      transactions.inTransaction((session, connection) -> positions.write(connection, Map.of(owner, end.getSerial())));
      positions.set(owner, end.getSerial());
      LOG.infof("Full synchronization of '%s' from peer '%s' complete through serial %d (%d objects "
          + "received, %d repaired, %d removed)", owner, peer, end.getSerial(), received.size(), repaired, removed);
      if (repaired > 0) {
        LOG.warnf("Full synchronization of '%s' from peer '%s' rewrote %d %s that were missing or differed from "
            + "the state this node's bookkeeping says it holds (changed behind the plugin's back?): %s%s", owner, peer,
            repaired, repaired == 1 ? "row" : "rows", String.join("; ", repairedExamples),
            repaired > repairedExamples.size() ? " and %d more".formatted(repaired - repairedExamples.size()) : "");
      }
    } catch (RuntimeException | SQLException e) {
      LOG.errorf(e, "Could not complete the full synchronization of '%s' from peer '%s'", owner, peer);
    }
    return removed;
  }

  /**
   * Deletes every object of a removed owner and forgets the owner. Returns how many objects were
   * deleted. Refused (0) when the owner is this node. Never throws.
   */
  int removeOwner(String owner, Hooks hooks) {
    if (owner.equals(nodeName)) {
      LOG.warnf("Refused to remove owner '%s', which is this node: only this node decides the state of "
          + "this node's own objects", owner);
      return 0;
    }
    try {
      List<ObjectRow> live = transactions.read(c -> bookkeeping.liveObjects(c, owner));
      Deletion deletion = deleteAll(null, owner, live, now -> true, false, hooks);
      List<ObjectRow> left = deletion.left();
      if (!left.isEmpty()) {
        LOG.warnf("Removing owner '%s': %d of its objects could not be deleted here (still referenced?), e.g. %s#%s",
            owner, left.size(), left.get(0).entity(), left.get(0).id());
      }
      transactions.inTransaction((session, connection) -> bookkeeping.forgetOwner(connection, owner));
      positions.forget(owner);
      parking.clear();
      transactions.read(connection -> {
        positions.load(connection);
        parking.load(connection);
        return null;
      });
      return deletion.deleted();
    } catch (RuntimeException | SQLException e) {
      LOG.errorf(e, "Could not remove the objects of owner '%s'", owner);
      return 0;
    }
  }

  private void refuseSelf(String peer, String owner) {
    if (refusedPeers.add(String.valueOf(peer))) {
      LOG.warnf("Peer '%s' ended a full synchronization of owner '%s', which is this node: refused "
          + "(nothing swept, no position set); only this node decides the state of this node's own objects "
          + "(further such markers from this peer are logged at DEBUG)", peer, owner);
    } else {
      LOG.debugf("Refused again a full synchronization of this node ('%s') from peer '%s'", owner, peer);
    }
  }

  /**
   * Deletes the rows' objects, one transaction each, children before parents: what a reference
   * still holds is retried while progress is made. A row whose current state is no longer the
   * owner's to remove is skipped (neither deleted nor left).
   *
   * @param tombstone whether to record a tombstone (a sweep: the object keeps its serial, so the
   *     same state sent again restores it), else the rows are forgotten by the caller
   */
  private Deletion deleteAll(String peer, String owner, List<ObjectRow> rows, Predicate<ObjectRow> stillStale,
      boolean tombstone, Hooks hooks) {
    List<ObjectRow> pending = rows;
    int deleted = 0;
    boolean progress = true;
    while (!pending.isEmpty() && progress) {
      progress = false;
      List<ObjectRow> left = new ArrayList<>();
      for (ObjectRow row : pending) {
        boolean[] deletedHere = {false};
        EntangledType type = model.byName(row.entity());
        try {
          transactions.inTransaction((session, connection) -> {
            ObjectRow now = bookkeeping.read(connection, row.entity(), row.id());
            if (!removable(now, owner) || !stillStale.test(now)) {
              return; // changed since it was listed: no longer the owner's to remove
            }
            if (type != null) {
              writer.delete(session, type, type.idCodec().parseText(row.id()));
            }
            if (tombstone) {
              bookkeeping.write(connection, List.of(new ObjectRow(row.entity(), row.id(), owner, now.serial(), true)));
            }
            deletedHere[0] = true;
          });
          deleted += deletedHere[0] ? 1 : 0;
          progress = true;
          if (deletedHere[0] && type != null) {
            hooks.swept(peer, type, type.idCodec().parseText(row.id()), owner);
          }
        } catch (RuntimeException | SQLException e) {
          left.add(row);
        }
      }
      pending = left;
    }
    return new Deletion(deleted, pending);
  }

  /** How many objects a deletion removed, and the rows it could not remove (still referenced?). */
  private record Deletion(int deleted, List<ObjectRow> left) {}

  /** Whether the row's object is, right now, a live object of that owner and not this node's. */
  private boolean removable(ObjectRow now, String owner) {
    return now != null && !now.deleted() && now.owner().equals(owner) && !now.owner().equals(nodeName)
        && !nodeName.equals(now.handoverTo());
  }
}
