-- Entanglement's own bookkeeping, for MariaDB and MySQL: the same versions as
-- entanglement/db/migration (H2 and PostgreSQL), in these databases' types. Every table uses a
-- binary collation: names and ids compare as Java compares them (the default collations would
-- make 'A' and 'a' one object). Timestamps are DATETIME(6) written in UTC (UTC_TIMESTAMP(6)).

-- This database's node identity. One row.
CREATE TABLE entanglement_node (
    node_name   VARCHAR(64) NOT NULL PRIMARY KEY,
    created_at  DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The latest known state of every replicated object: who owns it, the owner's serial of that
-- state, and whether it is deleted (a tombstone). Written in the same transaction as the object.
CREATE TABLE entanglement_object (
    entity_name VARCHAR(255) NOT NULL,
    object_id   VARCHAR(255) NOT NULL,
    owner_node  VARCHAR(64)  NOT NULL,
    serial      BIGINT       NOT NULL,
    deleted     BOOLEAN      NOT NULL,
    PRIMARY KEY (entity_name, object_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Catch-up reads "what of owner X changed after serial N".
CREATE INDEX entanglement_object_owner_serial ON entanglement_object (owner_node, serial);

-- What each peer has durably acknowledged, per owner.
CREATE TABLE entanglement_peer_position (
    peer_name    VARCHAR(64) NOT NULL,
    owner_node   VARCHAR(64) NOT NULL,
    acked_serial BIGINT      NOT NULL,
    PRIMARY KEY (peer_name, owner_node)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
