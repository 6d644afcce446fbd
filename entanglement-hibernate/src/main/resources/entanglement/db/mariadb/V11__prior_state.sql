-- The state an object had before a change, kept so that a peer that was away while the change
-- made the object denied to it (a send policy that reads the object's state) is sent a withdrawal
-- on catch-up, and only if it was allowed the state before (docs/design/withdrawal.md). Written in
-- the same transaction as the object's bookkeeping row. withdrawn: the row records a withdrawal
-- this node applied. Removed once every known peer has acknowledged its serial. MariaDB and MySQL;
-- see V1.
CREATE TABLE entanglement_prior_state (
    owner_node  VARCHAR(64)  NOT NULL,
    serial      BIGINT       NOT NULL,
    entity_name VARCHAR(255) NOT NULL,
    object_id   VARCHAR(255) NOT NULL,
    state_data  LONGBLOB     NOT NULL,
    withdrawn   BOOLEAN      NOT NULL,
    PRIMARY KEY (owner_node, serial)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX entanglement_prior_state_object ON entanglement_prior_state (entity_name, object_id, owner_node, serial);
