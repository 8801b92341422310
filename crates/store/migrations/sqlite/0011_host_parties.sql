-- Host parties (amina_domain::host): landlords and employers providing
-- housing, their properties, and the arrival notices they file for minor
-- children of enrolled people. Conventions as in 0001_spine.sql.

-- A host party signs in as a console account with role 'host_party'. The
-- role list in console_accounts' CHECK constraint is widened in place with
-- the procedure SQLite documents for relaxing a CHECK constraint without
-- rebuilding the table ("Making Other Kinds Of Table Schema Changes",
-- https://www.sqlite.org/lang_altertable.html): the table's stored SQL is
-- edited and the schema reloaded (RESET). A rebuild would have to copy
-- every column and the sessions that reference the accounts; this touches
-- only the list of roles. No row can violate the wider constraint.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''auditor'', ''admin'')', '''auditor'', ''admin'', ''host_party'')')
 WHERE type = 'table' AND name = 'console_accounts';
PRAGMA writable_schema = RESET;

-- Who a host-party account is: the full name and identity document number
-- an officer checked. One account per document.
CREATE TABLE host_parties (
    account_id  INTEGER PRIMARY KEY REFERENCES console_accounts(id),
    full_name   TEXT NOT NULL,
    document    TEXT NOT NULL UNIQUE,      -- amina_domain::host::IdentityDocument
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- The addresses a host party hosts, set and edited by a migration officer
-- (every change is in the audit trail with the lists before and after).
CREATE TABLE host_properties (
    account_id  INTEGER NOT NULL REFERENCES host_parties(account_id),
    address_id  TEXT NOT NULL REFERENCES addresses(id),
    added_at    INTEGER NOT NULL,
    added_by    TEXT NOT NULL,
    PRIMARY KEY (account_id, address_id)
);
CREATE INDEX host_properties_address ON host_properties (address_id);

-- Minor children of enrolled people, filed by host parties. A child is
-- linked to one parent and is never tracked: no device, no fixes, no
-- deadline. Identified by citizenship and identity document.
CREATE TABLE children (
    id               INTEGER PRIMARY KEY,
    parent_person_id INTEGER NOT NULL REFERENCES persons(id),
    name             TEXT NOT NULL,
    birth_date       TEXT NOT NULL,        -- YYYY-MM-DD
    citizenship      TEXT NOT NULL,        -- ISO 3166-1 alpha-3
    document         TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (citizenship, document)
);
CREATE INDEX children_parent ON children (parent_person_id);

-- A child's arrival notices; at most one in force per child (a new one
-- supersedes it, as place-of-stay notices do).
CREATE TABLE child_notices (
    id              INTEGER PRIMARY KEY,
    child_id        INTEGER NOT NULL REFERENCES children(id),
    address_id      TEXT NOT NULL REFERENCES addresses(id),
    arrival_date    TEXT NOT NULL,         -- YYYY-MM-DD
    host_account_id INTEGER NOT NULL REFERENCES console_accounts(id),
    submitted_at    INTEGER NOT NULL,
    superseded_at   INTEGER,
    superseded_by   INTEGER REFERENCES child_notices(id)
);
CREATE UNIQUE INDEX child_notices_one_current ON child_notices (child_id)
    WHERE superseded_at IS NULL;
CREATE INDEX child_notices_host ON child_notices (host_account_id, id);
