-- Host parties, PostgreSQL flavour; mirrors
-- migrations/sqlite/0011_host_parties.sql table for table.

-- Widen the role list of console accounts (the unnamed CHECK of 0005 got
-- PostgreSQL's default name).
ALTER TABLE console_accounts DROP CONSTRAINT console_accounts_role_check;
ALTER TABLE console_accounts ADD CONSTRAINT console_accounts_role_check
    CHECK (role IN ('enrolment_operator', 'migration_officer', 'police_officer',
                    'supervisor', 'auditor', 'admin', 'host_party'));

CREATE TABLE host_parties (
    account_id  bigint PRIMARY KEY REFERENCES console_accounts(id),
    full_name   text NOT NULL,
    document    text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE host_properties (
    account_id  bigint NOT NULL REFERENCES host_parties(account_id),
    address_id  text NOT NULL REFERENCES addresses(id),
    added_at    timestamptz NOT NULL,
    added_by    text NOT NULL,
    PRIMARY KEY (account_id, address_id)
);
CREATE INDEX host_properties_address ON host_properties (address_id);

CREATE TABLE children (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_person_id bigint NOT NULL REFERENCES persons(id),
    name             text NOT NULL,
    birth_date       date NOT NULL,
    citizenship      text NOT NULL,
    document         text NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (citizenship, document)
);
CREATE INDEX children_parent ON children (parent_person_id);

CREATE TABLE child_notices (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    child_id        bigint NOT NULL REFERENCES children(id),
    address_id      text NOT NULL REFERENCES addresses(id),
    arrival_date    date NOT NULL,
    host_account_id bigint NOT NULL REFERENCES console_accounts(id),
    submitted_at    timestamptz NOT NULL,
    superseded_at   timestamptz,
    superseded_by   bigint REFERENCES child_notices(id)
);
CREATE UNIQUE INDEX child_notices_one_current ON child_notices (child_id)
    WHERE superseded_at IS NULL;
CREATE INDEX child_notices_host ON child_notices (host_account_id, id);
