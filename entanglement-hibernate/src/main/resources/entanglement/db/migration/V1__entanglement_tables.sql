-- Entanglement's own bookkeeping. Portable SQL: runs on H2 and PostgreSQL.

-- This database's node identity. One row.
CREATE TABLE entanglement_node (
    node_name   VARCHAR(64) NOT NULL PRIMARY KEY,
    created_at  TIMESTAMP   NOT NULL
);

-- The latest known state of every replicated object: who owns it, the owner's serial of that
-- state, and whether it is deleted (a tombstone). Written in the same transaction as the object.
CREATE TABLE entanglement_object (
    entity_name VARCHAR(255) NOT NULL,
    object_id   VARCHAR(255) NOT NULL,
    owner_node  VARCHAR(64)  NOT NULL,
    serial      BIGINT       NOT NULL,
    deleted     BOOLEAN      NOT NULL,
    PRIMARY KEY (entity_name, object_id)
);

-- Catch-up reads "what of owner X changed after serial N".
CREATE INDEX entanglement_object_owner_serial ON entanglement_object (owner_node, serial);

-- What each peer has durably acknowledged, per owner.
CREATE TABLE entanglement_peer_position (
    peer_name    VARCHAR(64) NOT NULL,
    owner_node   VARCHAR(64) NOT NULL,
    acked_serial BIGINT      NOT NULL,
    PRIMARY KEY (peer_name, owner_node)
);
