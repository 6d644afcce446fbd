-- Adoption of existing data (docs/adoption.md). Portable SQL: H2 and PostgreSQL (MariaDB: its own V15).
-- (Numbered 15 to leave 13 and 14 to concurrent work; Flyway allows the gap.)

-- A digest of the replicated state this node last announced of each of its own objects (the
-- first 8 bytes of a SHA-256 over its encoded attributes), written with the bookkeeping row by
-- capture, update requests decided here and adoption; NULL where the writer did not compute one
-- (a change stamped for another member, a received state). Adoption compares it with the row's current state to find objects changed
-- behind the plugin's back (bulk HQL or SQL) and announces those again.
ALTER TABLE entanglement_object ADD COLUMN state_digest BIGINT;

-- One row per entity type an adoption ran for: where it is, written in the transaction of each
-- chunk, so that a node killed during an adoption resumes after the last committed chunk.
-- state: RUNNING (reading the table; after_id: the last id done, in id order), SWEEPING (reading
-- this node's bookkeeping for rows deleted behind the plugin's back; after_id: the last object
-- id done), DONE. removed: objects announced as deleted by the sweep.
CREATE TABLE entanglement_adoption (
    entity_name VARCHAR(255)  NOT NULL PRIMARY KEY,
    state       VARCHAR(16)   NOT NULL,
    after_id    VARCHAR(255),
    scanned     BIGINT        NOT NULL,
    announced   BIGINT        NOT NULL,
    skipped     BIGINT        NOT NULL,
    removed     BIGINT        NOT NULL,
    started_ms  BIGINT        NOT NULL,
    updated_ms  BIGINT        NOT NULL
);
