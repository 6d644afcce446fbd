-- Adoption of existing data (docs/adoption.md). MariaDB and MySQL; see V1 and the portable
-- migration V15 (entanglement/db/migration) for what each column means.
ALTER TABLE entanglement_object ADD COLUMN state_digest BIGINT;

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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
