-- Ownership transfer (MariaDB and MySQL; see V1).

-- The ownership epoch of each object (0 until its first hand-over), and the node it is being
-- handed to while the new owner has not yet taken it over.
ALTER TABLE entanglement_object ADD COLUMN epoch BIGINT DEFAULT 0 NOT NULL;
ALTER TABLE entanglement_object ADD COLUMN handover_to VARCHAR(64);
