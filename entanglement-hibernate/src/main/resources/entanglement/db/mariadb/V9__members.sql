-- Several application instances (members) serving one node (MariaDB and MySQL; see V1).

-- Changes of this node's own objects committed by members that do not hold the node's links: the
-- member holding them gives each a serial and sends it. Written in the committing transaction;
-- the auto-increment orders two changes of one object as the database's row lock did.
CREATE TABLE entanglement_member_change (
    seq         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    entity_name VARCHAR(255) NOT NULL,
    object_id   VARCHAR(255) NOT NULL,
    member_id   VARCHAR(64)  NOT NULL,
    change_data LONGBLOB     NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The member change an object's row waits for (its seq), or NULL: a later write of the object by
-- any member clears it, so a stale member change never overwrites a newer state.
ALTER TABLE entanglement_object ADD COLUMN pending_change BIGINT;

-- Every member serving the node, with a heartbeat in the database's own time.
CREATE TABLE entanglement_member (
    member_id    VARCHAR(64)  NOT NULL PRIMARY KEY,
    node_name    VARCHAR(64)  NOT NULL,
    member_host  VARCHAR(255) NOT NULL,
    started_at   DATETIME(6)  NOT NULL,
    heartbeat_at DATETIME(6)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Update requests stored by a member that does not hold the links: its id (its futures wait for
-- the outcome), and whether the holder has yet to take them over.
ALTER TABLE entanglement_pending_request ADD COLUMN member_id VARCHAR(64);
ALTER TABLE entanglement_pending_request ADD COLUMN for_holder BOOLEAN DEFAULT FALSE NOT NULL;

-- The outcome of a follower's update request, written by the holder when it settles and kept
-- until the follower has read it. failure: NULL when applied, else the UpdateRequestException
-- subclass; reason: a refusal's RefusalReason.
CREATE TABLE entanglement_request_outcome (
    request_key VARCHAR(64)   NOT NULL PRIMARY KEY,
    member_id   VARCHAR(64)   NOT NULL,
    owner_node  VARCHAR(64)   NOT NULL,
    failure     VARCHAR(32),
    reason      VARCHAR(32),
    message     VARCHAR(4000),
    created_at  DATETIME(6)   NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
