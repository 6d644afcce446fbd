-- Signed state: a relay keeps, with its copy of another owner's object, the change exactly as the
-- owner signed it, so that a peer it catches up later gets the owner's signature with the state.
-- NULL for this node's own objects and without signing. MariaDB and MySQL; see V1.
ALTER TABLE entanglement_object ADD COLUMN signed_change LONGBLOB;

-- The certificates of other owners this node accepted (checked against its trust and issued to the
-- owner's name), so that after a restart it can still pass them on with the signed changes it
-- keeps for catch-up, before those owners are heard of again. Checked again when loaded.
CREATE TABLE entanglement_certificate (
    owner_node  VARCHAR(64) NOT NULL PRIMARY KEY,
    chain       LONGBLOB    NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
