-- Peer retirement and relay compaction (MariaDB and MySQL; see V1).

-- When each peer that acknowledged anything was last connected (wall-clock milliseconds since
-- the epoch): a peer away longer than entanglement.peer.forget_after is retired (its rows here
-- and in entanglement_peer_position are removed) so that tombstone compaction goes on.
CREATE TABLE entanglement_peer (
    peer_name    VARCHAR(64) NOT NULL PRIMARY KEY,
    last_seen_ms BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- How far the tombstones of other owners' objects held here (a relay's) have been removed; a
-- peer whose position of that owner is older gets a full synchronization of it with a sweep.
-- This node's own compaction stays in entanglement_node.compacted_through.
CREATE TABLE entanglement_compaction (
    owner_node        VARCHAR(64) NOT NULL PRIMARY KEY,
    compacted_through BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
