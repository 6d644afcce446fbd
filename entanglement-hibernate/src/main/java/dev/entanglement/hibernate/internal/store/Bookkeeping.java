package dev.entanglement.hibernate.internal.store;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.proto.v1.Change;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hibernate.dialect.Dialect;

/**
 * Reads and writes the plugin's bookkeeping rows (per-object owner, serial and tombstone; owner
 * positions; parked changes; peers' acknowledged positions; node identity) on a connection the
 * caller owns, inside the caller's transaction. Stateless and thread-safe: the SQL differs only
 * by database.
 */
public final class Bookkeeping {

  /**
   * One object's bookkeeping row.
   *
   * @param epoch the ownership epoch (0 until the object's first hand-over)
   * @param handoverTo the node the owner is handing the object to, or null
   */
  public record ObjectRow(String entity, String id, String owner, long serial, boolean deleted, long epoch,
      String handoverTo) {
    public ObjectRow(String entity, String id, String owner, long serial, boolean deleted) {
      this(entity, id, owner, serial, deleted, 0, null);
    }

    /** The node that decides the object's next state: the hand-over's target while one is pending. */
    public String effectiveOwner() {
      return handoverTo != null ? handoverTo : owner;
    }
  }

  /** A received change that could not be applied, kept for retrying. */
  public record ParkedRow(String entity, String id, String owner, long serial, String reason,
      String message, byte[] change, int attempts) {}

  private final Vendor vendor;
  private final ChangeLog changeLog = new ChangeLog();
  private final PriorStates priorStates;
  private final String upsertObject;
  private final String upsertObjectWithEpoch;
  private final String upsertOwnerPosition;
  private final String upsertPeerPosition;
  private final String upsertParked;
  private final String upsertPeerSeen;
  private final String upsertCompaction;

  private Bookkeeping(Vendor vendor) {
    this.vendor = vendor;
    this.priorStates = new PriorStates(vendor);
    // every write of a row clears the member change it waited for: that change is older
    this.upsertObject = upsert("entanglement_object", List.of("entity_name", "object_id"),
        List.of("owner_node", "serial", "deleted", "pending_change", "state_digest"));
    this.upsertObjectWithEpoch = upsert("entanglement_object", List.of("entity_name", "object_id"),
        List.of("owner_node", "serial", "deleted", "pending_change", "state_digest", "epoch", "handover_to"));
    this.upsertOwnerPosition = upsert("entanglement_owner_position", List.of("owner_node"), List.of("serial"));
    this.upsertPeerPosition = upsert("entanglement_peer_position", List.of("peer_name", "owner_node"),
        List.of("acked_serial"));
    this.upsertParked = upsert("entanglement_parked", List.of("entity_name", "object_id"),
        List.of("owner_node", "serial", "reason", "message", "change_data", "attempts"));
    this.upsertPeerSeen = upsert("entanglement_peer", List.of("peer_name"), List.of("last_seen_ms"));
    this.upsertCompaction = upsert("entanglement_compaction", List.of("owner_node"), List.of("compacted_through"));
  }

  /**
   * @throws EntanglementConfigurationException for a database the plugin does not support
   */
  public static Bookkeeping forDialect(Dialect dialect) {
    return new Bookkeeping(Vendor.of(dialect));
  }

  /** Whether the database is PostgreSQL (else H2, MariaDB or MySQL). */
  public boolean postgres() {
    return vendor == Vendor.POSTGRESQL;
  }

  /** The kind of database, where the SQL differs. */
  public Vendor vendor() {
    return vendor;
  }

  /** The sequence of changes of "send every change" types. */
  public ChangeLog changeLog() {
    return changeLog;
  }

  /** The states objects had before a change, for withdrawals on catch-up. */
  public PriorStates priorStates() {
    return priorStates;
  }

  private String upsert(String table, List<String> keys, List<String> values) {
    return vendor.upsert(table, keys, values);
  }

  // ---- objects ----------------------------------------------------------------------------

  /**
   * Writes the rows of this node's own changes with one batched statement, leaving each row's
   * epoch and hand-over as they are (the capture path: the owner's epoch does not change there).
   */
  public void write(Connection connection, List<ObjectRow> rows) throws SQLException {
    writeRows(connection, rows, null, false);
  }

  /**
   * As {@link #write(Connection, List)}, with each row's {@link StateDigest} (an element may be
   * null: not computed), which adoption compares to find rows changed behind the plugin's back.
   */
  public void write(Connection connection, List<ObjectRow> rows, List<Long> digests) throws SQLException {
    writeRows(connection, rows, digests, false);
  }

  /** Writes the rows with one batched statement, epoch and hand-over included (received states). */
  public void writeWithEpoch(Connection connection, List<ObjectRow> rows) throws SQLException {
    writeRows(connection, rows, null, true);
  }

  private void writeRows(Connection connection, List<ObjectRow> rows, List<Long> digests, boolean withEpoch)
      throws SQLException {
    if (rows.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement(withEpoch ? upsertObjectWithEpoch : upsertObject)) {
      int index = 0;
      for (ObjectRow row : rows) {
        statement.setString(1, row.entity());
        statement.setString(2, row.id());
        statement.setString(3, row.owner());
        statement.setLong(4, row.serial());
        statement.setBoolean(5, row.deleted());
        statement.setNull(6, java.sql.Types.BIGINT);
        Long digest = digests == null ? null : digests.get(index);
        if (digest == null) {
          statement.setNull(7, java.sql.Types.BIGINT);
        } else {
          statement.setLong(7, digest);
        }
        index++;
        if (withEpoch) {
          statement.setLong(8, row.epoch());
          statement.setString(9, row.handoverTo());
        }
        if (rows.size() == 1) {
          statement.executeUpdate();
          return;
        }
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  /**
   * Signed state: stores each change, as its owner signed it, with the object's row (written just
   * before in the same transaction), for catch-up from this relay.
   */
  public void writeSignedChanges(Connection connection, List<Change> changes, List<String> ids) throws SQLException {
    if (changes.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement(
        "UPDATE entanglement_object SET signed_change = ? WHERE entity_name = ? AND object_id = ?")) {
      for (int i = 0; i < changes.size(); i++) {
        statement.setBytes(1, changes.get(i).toByteArray());
        statement.setString(2, changes.get(i).getEntity());
        statement.setString(3, ids.get(i));
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  /**
   * The stored signed changes of these objects of an entity type, by id (those with none are
   * absent), for catch-up from this relay.
   */
  public Map<String, byte[]> signedChanges(Connection connection, String entity, Collection<String> ids)
      throws SQLException {
    Map<String, byte[]> found = new HashMap<>();
    List<String> all = new ArrayList<>(ids);
    for (int from = 0; from < all.size(); from += 500) {
      List<String> chunk = all.subList(from, Math.min(all.size(), from + 500));
      try (PreparedStatement statement = connection.prepareStatement(
          "SELECT object_id, signed_change FROM entanglement_object WHERE entity_name = ? AND signed_change IS NOT NULL "
              + "AND object_id IN (" + String.join(", ", Collections.nCopies(chunk.size(), "?")) + ")")) {
        statement.setString(1, entity);
        for (int i = 0; i < chunk.size(); i++) {
          statement.setString(i + 2, chunk.get(i));
        }
        try (ResultSet rs = statement.executeQuery()) {
          while (rs.next()) {
            found.put(rs.getString(1), rs.getBytes(2));
          }
        }
      }
    }
    return found;
  }

  /** Signed state: stores an accepted certificate of an owner (the OwnerCertificate's bytes), replacing one kept before. */
  public void writeCertificate(Connection connection, String owner, byte[] chain) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(upsert("entanglement_certificate",
        List.of("owner_node"), List.of("chain")))) {
      statement.setString(1, owner);
      statement.setBytes(2, chain);
      statement.executeUpdate();
    }
  }

  /** Signed state: the stored certificates of owners, as OwnerCertificate bytes. */
  public List<byte[]> certificates(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("SELECT chain FROM entanglement_certificate");
        ResultSet rs = statement.executeQuery()) {
      List<byte[]> found = new ArrayList<>();
      while (rs.next()) {
        found.add(rs.getBytes(1));
      }
      return found;
    }
  }

  /** A stored signed hand-over of an object to this node. */
  public record SignedHandover(String key, Change change) {}

  /** The signed hand-overs to {@code node} stored with the rows (signed state; see HandoverChains). */
  public List<SignedHandover> handoversTo(Connection connection, String node) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT entity_name, object_id, signed_change FROM entanglement_object WHERE signed_change IS NOT NULL "
            + "AND (owner_node = ? OR handover_to = ?)")) {
      statement.setString(1, node);
      statement.setString(2, node);
      List<SignedHandover> found = new ArrayList<>();
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          try {
            Change change = Change.parseFrom(rs.getBytes(3));
            if (change.getHandoverTo().equals(node)) {
              found.add(new SignedHandover(rs.getString(1) + '#' + rs.getString(2), change));
            }
          } catch (com.google.protobuf.InvalidProtocolBufferException unreadable) {
            // not a hand-over this node can prove: its states of the object go without a chain
          }
        }
      }
      return found;
    }
  }

  /** The object's row, or null when this node has never had it. */
  public ObjectRow read(Connection connection, String entity, String id) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT owner_node, serial, deleted, epoch, handover_to FROM entanglement_object "
            + "WHERE entity_name = ? AND object_id = ?")) {
      statement.setString(1, entity);
      statement.setString(2, id);
      try (ResultSet rs = statement.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        return new ObjectRow(entity, id, rs.getString(1), rs.getLong(2), rs.getBoolean(3), rs.getLong(4),
            rs.getString(5));
      }
    }
  }

  /** Most ids one {@link #readAll} statement asks for; larger sets take several. */
  private static final int READ_CHUNK = 256;

  /**
   * The rows of many objects of one entity type in as few statements as possible (a received
   * batch's, instead of one read per change): by object id; ids this node never had are absent.
   */
  public Map<String, ObjectRow> readAll(Connection connection, String entity, Collection<String> ids)
      throws SQLException {
    Map<String, ObjectRow> found = new HashMap<>();
    List<String> all = new ArrayList<>(new LinkedHashSet<>(ids));
    for (int from = 0; from < all.size(); from += READ_CHUNK) {
      List<String> chunk = all.subList(from, Math.min(all.size(), from + READ_CHUNK));
      try (PreparedStatement statement = connection.prepareStatement(readAllQuery(chunk.size()))) {
        int parameter = 1;
        for (int k = 0; k < chunk.size(); k++) {
          if (vendor == Vendor.H2 || k == 0) {
            statement.setString(parameter++, entity);
          }
          statement.setString(parameter++, chunk.get(k));
        }
        try (ResultSet rs = statement.executeQuery()) {
          while (rs.next()) {
            String id = rs.getString(1);
            found.put(id, new ObjectRow(entity, id, rs.getString(2), rs.getLong(3), rs.getBoolean(4), rs.getLong(5),
                rs.getString(6)));
          }
        }
      }
    }
    return found;
  }

  /**
   * The statement of {@link #readAll} for {@code count} ids: a lookup of each key. H2 looks the
   * key up only for a list of whole keys (with the id alone in the list it scans the entity's
   * rows); PostgreSQL and MariaDB for either form.
   */
  String readAllQuery(int count) {
    String where = vendor == Vendor.H2
        ? "(entity_name, object_id) IN (" + String.join(", ", Collections.nCopies(count, "(?, ?)")) + ")"
        : "entity_name = ? AND object_id IN (" + String.join(", ", Collections.nCopies(count, "?")) + ")";
    return "SELECT object_id, owner_node, serial, deleted, epoch, handover_to FROM entanglement_object WHERE " + where;
  }

  /** The owner's objects (tombstones included) with a serial above {@code after}, in serial order. */
  public List<ObjectRow> changedSince(Connection connection, String owner, long after, int limit)
      throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT entity_name, object_id, serial, deleted, epoch, handover_to FROM entanglement_object "
            + "WHERE owner_node = ? AND serial > ? ORDER BY serial LIMIT ?")) {
      statement.setString(1, owner);
      statement.setLong(2, after);
      statement.setInt(3, limit);
      List<ObjectRow> rows = new ArrayList<>();
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          rows.add(new ObjectRow(rs.getString(1), rs.getString(2), owner, rs.getLong(3), rs.getBoolean(4),
              rs.getLong(5), rs.getString(6)));
        }
      }
      return rows;
    }
  }

  /**
   * The existing objects whose ownership is not simply "this node's, epoch 0": owned by other
   * nodes, being handed over, or once handed over.
   */
  public List<ObjectRow> ownershipRows(Connection connection, String node) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT entity_name, object_id, owner_node, serial, epoch, handover_to FROM entanglement_object "
            + "WHERE deleted = FALSE AND (owner_node <> ? OR epoch > 0 OR handover_to IS NOT NULL)")) {
      statement.setString(1, node);
      List<ObjectRow> rows = new ArrayList<>();
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          rows.add(new ObjectRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4), false,
              rs.getLong(5), rs.getString(6)));
        }
      }
      return rows;
    }
  }

  /** Every row of an entity type (a scoped resync sends them all). */
  public List<ObjectRow> rowsOfEntity(Connection connection, String entity) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT object_id, owner_node, serial, deleted, epoch, handover_to FROM entanglement_object WHERE entity_name = ?")) {
      statement.setString(1, entity);
      List<ObjectRow> rows = new ArrayList<>();
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          rows.add(new ObjectRow(entity, rs.getString(1), rs.getString(2), rs.getLong(3), rs.getBoolean(4),
              rs.getLong(5), rs.getString(6)));
        }
      }
      return rows;
    }
  }

  /** Per owner: [live objects, tombstones] held here. */
  public Map<String, long[]> ownerCounts(Connection connection) throws SQLException {
    Map<String, long[]> counts = new java.util.TreeMap<>();
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT owner_node, deleted, COUNT(*) FROM entanglement_object GROUP BY owner_node, deleted");
        ResultSet rs = statement.executeQuery()) {
      while (rs.next()) {
        counts.computeIfAbsent(rs.getString(1), o -> new long[2])[rs.getBoolean(2) ? 1 : 0] = rs.getLong(3);
      }
    }
    return counts;
  }

  /**
   * A page of rows in (entity, id) order after {@code afterEntity}/{@code afterId} (null: from the
   * start), optionally of one entity and one owner, tombstones included.
   */
  public List<ObjectRow> page(Connection connection, String entity, String owner, String afterEntity, String afterId,
      int limit) throws SQLException {
    StringBuilder sql = new StringBuilder("SELECT entity_name, object_id FROM entanglement_object WHERE 1 = 1");
    List<String> parameters = new ArrayList<>();
    if (entity != null) {
      sql.append(" AND entity_name = ?");
      parameters.add(entity);
    }
    if (owner != null) {
      sql.append(" AND owner_node = ?");
      parameters.add(owner);
    }
    if (afterEntity != null) {
      sql.append(" AND (entity_name > ? OR (entity_name = ? AND object_id > ?))");
      parameters.addAll(List.of(afterEntity, afterEntity, afterId));
    }
    sql.append(" ORDER BY entity_name, object_id LIMIT ").append(limit);
    List<String[]> keys = new ArrayList<>();
    try (PreparedStatement statement = connection.prepareStatement(sql.toString())) {
      for (int i = 0; i < parameters.size(); i++) {
        statement.setString(i + 1, parameters.get(i));
      }
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          keys.add(new String[] {rs.getString(1), rs.getString(2)});
        }
      }
    }
    List<ObjectRow> rows = new ArrayList<>(keys.size());
    for (String[] key : keys) {
      ObjectRow row = read(connection, key[0], key[1]);
      if (row != null) {
        rows.add(row);
      }
    }
    return rows;
  }

  /** How many of an owner's rows have a serial above {@code after}. */
  public long countChangedSince(Connection connection, String owner, long after) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT COUNT(*) FROM entanglement_object WHERE owner_node = ? AND serial > ?")) {
      statement.setString(1, owner);
      statement.setLong(2, after);
      try (ResultSet rs = statement.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  /** The owner's objects that exist here (not deleted). */
  public List<ObjectRow> liveObjects(Connection connection, String owner) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT entity_name, object_id, serial FROM entanglement_object WHERE owner_node = ? AND deleted = FALSE")) {
      statement.setString(1, owner);
      List<ObjectRow> rows = new ArrayList<>();
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          rows.add(new ObjectRow(rs.getString(1), rs.getString(2), owner, rs.getLong(3), false));
        }
      }
      return rows;
    }
  }

  /** Per owner, the highest serial of its objects stored here (tombstones included). */
  public Map<String, Long> highestSerials(Connection connection) throws SQLException {
    return namesToLongs(connection, "SELECT owner_node, MAX(serial) FROM entanglement_object GROUP BY owner_node");
  }

  /**
   * Moves every serial of an owner's objects (tombstones included) and of its logged changes up
   * by {@code offset}, keeping their order. Returns how many object rows moved.
   */
  public int shiftSerials(Connection connection, String owner, long offset) throws SQLException {
    changeLog.shift(connection, owner, offset);
    priorStates.shift(connection, owner, offset);
    try (PreparedStatement statement = connection.prepareStatement(
        "UPDATE entanglement_object SET serial = serial + ? WHERE owner_node = ?")) {
      statement.setLong(1, offset);
      statement.setString(2, owner);
      return statement.executeUpdate();
    }
  }

  /** Forgets everything about an owner: its objects' rows, logged changes and this node's position of it. */
  public void forgetOwner(Connection connection, String owner) throws SQLException {
    changeLog.forgetOwner(connection, owner);
    priorStates.forgetOwner(connection, owner);
    for (String sql : List.of("DELETE FROM entanglement_object WHERE owner_node = ?",
        "DELETE FROM entanglement_owner_position WHERE owner_node = ?",
        "DELETE FROM entanglement_parked WHERE owner_node = ?",
        "DELETE FROM entanglement_compaction WHERE owner_node = ?")) {
      try (PreparedStatement statement = connection.prepareStatement(sql)) {
        statement.setString(1, owner);
        statement.executeUpdate();
      }
    }
  }

  /**
   * Removes this node's tombstones up to a serial and records that they are gone. Returns how
   * many were removed.
   */
  public int compactTombstones(Connection connection, String node, long through) throws SQLException {
    int removed;
    try (PreparedStatement statement = connection.prepareStatement(
        "DELETE FROM entanglement_object WHERE owner_node = ? AND deleted = TRUE AND serial <= ?")) {
      statement.setString(1, node);
      statement.setLong(2, through);
      removed = statement.executeUpdate();
    }
    try (PreparedStatement statement = connection.prepareStatement(
        "UPDATE entanglement_node SET compacted_through = ? WHERE node_name = ? AND compacted_through < ?")) {
      statement.setLong(1, through);
      statement.setString(2, node);
      statement.setLong(3, through);
      statement.executeUpdate();
    }
    return removed;
  }

  /**
   * Removes another owner's tombstones held here (a relay's) up to a serial and records that they
   * are gone. Returns how many were removed.
   */
  public int compactRelayedTombstones(Connection connection, String owner, long through) throws SQLException {
    int removed;
    try (PreparedStatement statement = connection.prepareStatement(
        "DELETE FROM entanglement_object WHERE owner_node = ? AND deleted = TRUE AND serial <= ?")) {
      statement.setString(1, owner);
      statement.setLong(2, through);
      removed = statement.executeUpdate();
    }
    try (PreparedStatement statement = connection.prepareStatement(upsertCompaction)) {
      statement.setString(1, owner);
      statement.setLong(2, through);
      statement.executeUpdate();
    }
    return removed;
  }

  /** Per other owner, how far its tombstones held here have been removed. */
  public static Map<String, Long> relayedCompactions(Connection connection) throws SQLException {
    return namesToLongs(connection, "SELECT owner_node, compacted_through FROM entanglement_compaction");
  }

  // ---- positions --------------------------------------------------------------------------

  /** How far this node holds each owner's objects. */
  /**
   * Every owner whose objects this node holds: rows and tombstones, and changes parked here
   * (applied or passed on once they can be). Read once at start; a scan of the owner index.
   */
  public Set<String> heldOwners(Connection connection) throws SQLException {
    Set<String> owners = new HashSet<>();
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT DISTINCT owner_node FROM entanglement_object UNION SELECT DISTINCT owner_node FROM entanglement_parked");
        ResultSet rs = statement.executeQuery()) {
      while (rs.next()) {
        owners.add(rs.getString(1));
      }
    }
    return owners;
  }

  public Map<String, Long> ownerPositions(Connection connection) throws SQLException {
    return namesToLongs(connection, "SELECT owner_node, serial FROM entanglement_owner_position");
  }

  public void writeOwnerPositions(Connection connection, Map<String, Long> positions) throws SQLException {
    if (positions.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement(upsertOwnerPosition)) {
      for (Map.Entry<String, Long> position : positions.entrySet()) {
        statement.setString(1, position.getKey());
        statement.setLong(2, position.getValue());
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  public void writePeerPosition(Connection connection, String peer, String owner, long serial) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(upsertPeerPosition)) {
      statement.setString(1, peer);
      statement.setString(2, owner);
      statement.setLong(3, serial);
      statement.executeUpdate();
    }
  }

  /** Per peer, per owner: what the peer has acknowledged (every owner, relayed ones included). */
  public static Map<String, Map<String, Long>> allPeerPositions(Connection connection) throws SQLException {
    Map<String, Map<String, Long>> positions = new HashMap<>();
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT peer_name, owner_node, acked_serial FROM entanglement_peer_position");
        ResultSet rs = statement.executeQuery()) {
      while (rs.next()) {
        positions.computeIfAbsent(rs.getString(1), p -> new HashMap<>()).put(rs.getString(2), rs.getLong(3));
      }
    }
    return positions;
  }

  /** Per peer, when it was last connected (epoch milliseconds). */
  public static Map<String, Long> peersLastSeen(Connection connection) throws SQLException {
    return namesToLongs(connection, "SELECT peer_name, last_seen_ms FROM entanglement_peer");
  }

  public void writePeerSeen(Connection connection, String peer, long millis) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(upsertPeerSeen)) {
      statement.setString(1, peer);
      statement.setLong(2, millis);
      statement.executeUpdate();
    }
  }

  /** Forgets a retired peer: its positions and when it was last seen. */
  public void forgetPeer(Connection connection, String peer) throws SQLException {
    for (String sql : List.of("DELETE FROM entanglement_peer_position WHERE peer_name = ?",
        "DELETE FROM entanglement_peer WHERE peer_name = ?")) {
      try (PreparedStatement statement = connection.prepareStatement(sql)) {
        statement.setString(1, peer);
        statement.executeUpdate();
      }
    }
  }

  // ---- parked changes ---------------------------------------------------------------------

  public void park(Connection connection, List<ParkedRow> rows) throws SQLException {
    if (rows.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement(upsertParked)) {
      for (ParkedRow row : rows) {
        statement.setString(1, row.entity());
        statement.setString(2, row.id());
        statement.setString(3, row.owner());
        statement.setLong(4, row.serial());
        statement.setString(5, row.reason());
        String message = row.message();
        statement.setString(6, message.length() > 1000 ? message.substring(0, 997) + "..." : message);
        statement.setBytes(7, row.change());
        statement.setInt(8, row.attempts());
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  /** Removes the parked change of an object, if any (a newer state was applied). */
  public void unpark(Connection connection, String entity, String id) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "DELETE FROM entanglement_parked WHERE entity_name = ? AND object_id = ?")) {
      statement.setString(1, entity);
      statement.setString(2, id);
      statement.executeUpdate();
    }
  }

  public List<ParkedRow> parked(Connection connection, int limit) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT entity_name, object_id, owner_node, serial, reason, message, change_data, attempts "
            + "FROM entanglement_parked ORDER BY serial LIMIT ?")) {
      statement.setInt(1, limit);
      List<ParkedRow> rows = new ArrayList<>();
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          rows.add(new ParkedRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4),
              rs.getString(5), rs.getString(6), rs.getBytes(7), rs.getInt(8)));
        }
      }
      return rows;
    }
  }

  /** The stored change parked for an object, or null when none is. */
  public byte[] parkedChange(Connection connection, String entity, String id) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT change_data FROM entanglement_parked WHERE entity_name = ? AND object_id = ?")) {
      statement.setString(1, entity);
      statement.setString(2, id);
      try (ResultSet rs = statement.executeQuery()) {
        return rs.next() ? rs.getBytes(1) : null;
      }
    }
  }

  /**
   * An owner's changes parked raw because their entity type is unknown here (reason
   * {@code UNKNOWN_ENTITY}) with a serial above {@code after}, in serial order: a relay serves
   * them on catch-up although it cannot decode them.
   */
  public List<ParkedRow> parkedRawSince(Connection connection, String owner, long after, int limit)
      throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT entity_name, object_id, owner_node, serial, reason, message, change_data, attempts "
            + "FROM entanglement_parked WHERE owner_node = ? AND reason = 'UNKNOWN_ENTITY' AND serial > ? "
            + "ORDER BY serial LIMIT ?")) {
      statement.setString(1, owner);
      statement.setLong(2, after);
      statement.setInt(3, limit);
      List<ParkedRow> rows = new ArrayList<>();
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          rows.add(new ParkedRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4),
              rs.getString(5), rs.getString(6), rs.getBytes(7), rs.getInt(8)));
        }
      }
      return rows;
    }
  }

  public long countParked(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("SELECT COUNT(*) FROM entanglement_parked");
        ResultSet rs = statement.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  // ---- node -------------------------------------------------------------------------------

  /**
   * Records this database's node name on first start, and refuses a database that belongs to a
   * node of another name (its objects' ownership would be wrong).
   */
  public static void claimNode(Connection connection, String nodeName) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement("SELECT node_name FROM entanglement_node");
        ResultSet rs = select.executeQuery()) {
      if (rs.next()) {
        String existing = rs.getString(1);
        if (!existing.equals(nodeName)) {
          throw new EntanglementConfigurationException(("Setting entanglement.node.name is '%s', "
              + "but this database belongs to node '%s' (table entanglement_node): a database "
              + "keeps one node identity. Use '%s', or a fresh database").formatted(
                  nodeName, existing, existing));
        }
        return;
      }
    }
    try (PreparedStatement insert = connection.prepareStatement(
        "INSERT INTO entanglement_node (node_name, created_at) VALUES (?, ?)")) {
      insert.setString(1, nodeName);
      insert.setTimestamp(2, Timestamp.from(Instant.now()));
      insert.executeUpdate();
    }
  }

  /** Serials of this node's tombstones up to this one have been compacted away. */
  public static long compactedThrough(Connection connection, String nodeName) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT compacted_through FROM entanglement_node WHERE node_name = ?")) {
      statement.setString(1, nodeName);
      try (ResultSet rs = statement.executeQuery()) {
        return rs.next() ? rs.getLong(1) : 0L;
      }
    }
  }

  /**
   * The highest serial this node may have given out: committed to its own objects (compacted ones
   * included) or reserved by the member stamper to offer before their commit. A start's clock
   * begins above it, so no serial is given twice.
   */
  public static long lastSerial(Connection connection, String nodeName) throws SQLException {
    return Math.max(lastCommittedSerial(connection, nodeName), serialsOffered(connection, nodeName));
  }

  /**
   * The highest serial of this node's own objects its database holds (compacted ones included),
   * without the stamper's reservation: what a peer may hold of this node at the start. A peer
   * holding more saw commits this database lost, also when they fall below the reservation.
   */
  public static long lastCommittedSerial(Connection connection, String nodeName) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT MAX(serial) FROM entanglement_object WHERE owner_node = ?")) {
      statement.setString(1, nodeName);
      try (ResultSet rs = statement.executeQuery()) {
        long max = rs.next() ? rs.getLong(1) : 0L;
        return Math.max(max, compactedThrough(connection, nodeName));
      }
    }
  }

  /** The highest serial a holder may have offered peers before it was committed (see {@link #offerSerialsUpTo}). */
  public static long serialsOffered(Connection connection, String nodeName) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT serials_offered FROM entanglement_node WHERE node_name = ?")) {
      statement.setString(1, nodeName);
      try (ResultSet rs = statement.executeQuery()) {
        return rs.next() ? rs.getLong(1) : 0L;
      }
    }
  }

  /**
   * Records, durably (the caller's autocommit statement), that serials up to {@code serial} may
   * be offered to peers before they are committed: a later start begins above them.
   */
  public static void offerSerialsUpTo(Connection connection, String nodeName, long serial) throws SQLException {
    try (PreparedStatement update = connection.prepareStatement(
        "UPDATE entanglement_node SET serials_offered = ? WHERE node_name = ? AND serials_offered < ?")) {
      update.setLong(1, serial);
      update.setString(2, nodeName);
      update.setLong(3, serial);
      update.executeUpdate();
    }
  }

  /** A two-column query (a name, a long) as a map. */
  private static Map<String, Long> namesToLongs(Connection connection, String sql) throws SQLException {
    Map<String, Long> result = new HashMap<>();
    try (PreparedStatement statement = connection.prepareStatement(sql); ResultSet rs = statement.executeQuery()) {
      while (rs.next()) {
        result.put(rs.getString(1), rs.getLong(2));
      }
    }
    return result;
  }
}
