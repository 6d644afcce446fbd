-- Every change of this node's objects of "send every change" types (@Entangled(coalesce = false)),
-- written in the same transaction as the object's bookkeeping row, so that a peer that was away
-- gets each committed state in order, not only the latest. A row is removed once every known peer
-- has acknowledged its serial (the rule of tombstone compaction). MariaDB and MySQL; see V1.
CREATE TABLE entanglement_change_log (
    owner_node  VARCHAR(64)  NOT NULL,
    serial      BIGINT       NOT NULL,
    entity_name VARCHAR(255) NOT NULL,
    object_id   VARCHAR(255) NOT NULL,
    change_data LONGBLOB     NOT NULL,
    PRIMARY KEY (owner_node, serial)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
