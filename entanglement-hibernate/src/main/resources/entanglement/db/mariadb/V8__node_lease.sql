-- Which application instance (member) serves the node on this database (MariaDB and MySQL; see
-- V1). One row per node name: the member holding it, a fencing token raised at every take-over,
-- and its heartbeat in the database's own time, UTC_TIMESTAMP(6) (so members on hosts with skewed
-- clocks agree). A member whose heartbeat stops is taken over once it is stale.
CREATE TABLE entanglement_lease (
    node_name    VARCHAR(64)  NOT NULL PRIMARY KEY,
    member_id    VARCHAR(64)  NOT NULL,
    member_host  VARCHAR(255) NOT NULL,
    token        BIGINT       NOT NULL,
    renewals     BIGINT       NOT NULL,
    acquired_at  DATETIME(6)  NOT NULL,
    heartbeat_at DATETIME(6)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
