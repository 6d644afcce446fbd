-- Owners removed by an operator (here or at another node): their changes are refused, and the
-- removal is passed on to every peer that connects, so nodes that were offline learn of it too.
CREATE TABLE entanglement_removed_owner (
    owner_node VARCHAR(64) NOT NULL PRIMARY KEY,
    removed_by VARCHAR(64) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
