-- Durable update requests and their idempotent retry (MariaDB and MySQL; see V1).

-- This node's update requests not settled yet, written in the transaction that made them (an
-- application's JPA transaction, or the one of update()/delete()/create()) and deleted when
-- the request settles (applied, refused, or its lifetime passed). Reloaded and sent again at
-- boot. request_data is the encoded UpdateRequest (without its per-hop request_id).
CREATE TABLE entanglement_pending_request (
    request_key  VARCHAR(64)   NOT NULL PRIMARY KEY,
    entity_name  VARCHAR(255)  NOT NULL,
    object_id    VARCHAR(255)  NOT NULL,
    owner_node   VARCHAR(64)   NOT NULL,
    kind         VARCHAR(16)   NOT NULL,
    request_data LONGBLOB      NOT NULL,
    created_ms   BIGINT        NOT NULL,
    expires_ms   BIGINT        NOT NULL,
    attempts     INTEGER       NOT NULL,
    sent         BOOLEAN       NOT NULL,
    last_error   VARCHAR(1000)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- At the owner: requests it applied, by origin and key, written in the transaction of the
-- decision, so that a request sent again (its answer was lost) is answered with the earlier
-- result instead of being applied twice. Rows older than twice the request lifetime are
-- removed by housekeeping.
CREATE TABLE entanglement_applied_request (
    origin_node VARCHAR(64) NOT NULL,
    request_key VARCHAR(64) NOT NULL,
    serial      BIGINT      NOT NULL,
    applied_ms  BIGINT      NOT NULL,
    PRIMARY KEY (origin_node, request_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX entanglement_applied_request_age ON entanglement_applied_request (applied_ms);
