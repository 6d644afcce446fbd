-- The link between members (application instances) of one node: the member holding the lease
-- serves it at this address, and only callers that present this secret (read from this row, so
-- only members of the node) may use it. Written by the holder once its member server listens;
-- NULL while it starts, and on nodes of an older version. MariaDB and MySQL; see V1.
ALTER TABLE entanglement_lease ADD COLUMN link_address VARCHAR(255);
ALTER TABLE entanglement_lease ADD COLUMN link_secret VARCHAR(64);

-- The highest serial the member holding the links may offer peers before it is in the database
-- (the stamping of other members' changes sends them while its commit is flushed): written, and
-- flushed, before any such serial goes out, so a holder that starts after a crash begins above
-- every serial a peer may have seen.
ALTER TABLE entanglement_node ADD COLUMN serials_offered BIGINT DEFAULT 0 NOT NULL;
