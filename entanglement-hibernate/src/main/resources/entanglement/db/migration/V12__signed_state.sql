-- Signed state: a relay keeps, with its copy of another owner's object, the change exactly as the
-- owner signed it, so that a peer it catches up later gets the owner's signature with the state
-- (the relay cannot sign for the owner, and its own row may not rebuild the signed bytes exactly:
-- a column's precision or scale). NULL for this node's own objects and without signing.
-- Portable SQL: H2 and PostgreSQL. (Numbered 12 to leave 11 to concurrent work.)
ALTER TABLE entanglement_object ADD COLUMN signed_change BYTEA;

-- The certificates of other owners this node accepted (checked against its trust and issued to the
-- owner's name), so that after a restart it can still pass them on with the signed changes it
-- keeps for catch-up, before those owners are heard of again. Checked again when loaded.
CREATE TABLE entanglement_certificate (
    owner_node  VARCHAR(64) NOT NULL PRIMARY KEY,
    chain       BYTEA       NOT NULL
);
