-- Which application instance (member) serves the node on this database. Portable SQL: runs on
-- H2 and PostgreSQL. One row per node name: the member holding it, a fencing token raised at
-- every take-over, and its heartbeat in the database's own time (so members on hosts with
-- skewed clocks agree). A member whose heartbeat stops is taken over once it is stale.
CREATE TABLE entanglement_lease (
    node_name    VARCHAR(64)  NOT NULL PRIMARY KEY,
    member_id    VARCHAR(64)  NOT NULL,
    member_host  VARCHAR(255) NOT NULL,
    token        BIGINT       NOT NULL,
    renewals     BIGINT       NOT NULL,
    acquired_at  TIMESTAMP    NOT NULL,
    heartbeat_at TIMESTAMP    NOT NULL
);
