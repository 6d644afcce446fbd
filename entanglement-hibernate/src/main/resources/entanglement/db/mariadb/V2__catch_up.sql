-- Catch-up bookkeeping (MariaDB and MySQL; see V1).

-- How far this node holds each owner's objects (complete through serial), written in the same
-- transaction as the applied batch; sent in the Hello so the owner sends only what is newer.
CREATE TABLE entanglement_owner_position (
    owner_node  VARCHAR(64) NOT NULL PRIMARY KEY,
    serial      BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Changes received but not applied (constraint, missing reference...): kept with the reason
-- and retried, so that a rejected object is never skipped silently.
CREATE TABLE entanglement_parked (
    entity_name VARCHAR(255)  NOT NULL,
    object_id   VARCHAR(255)  NOT NULL,
    owner_node  VARCHAR(64)   NOT NULL,
    serial      BIGINT        NOT NULL,
    reason      VARCHAR(32)   NOT NULL,
    message     VARCHAR(1000) NOT NULL,
    change_data LONGBLOB      NOT NULL,
    attempts    INTEGER       NOT NULL,
    PRIMARY KEY (entity_name, object_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Tombstones of this node's objects up to this serial have been removed (every known peer had
-- them); a peer whose position is older gets a full synchronization with a sweep instead.
ALTER TABLE entanglement_node ADD COLUMN compacted_through BIGINT DEFAULT 0 NOT NULL;
