-- web_session_ends: console and portal sessions signed out before they
-- expired. Sessions themselves are signed cookies, stored nowhere; a
-- sign-out is remembered until the session would have ended anyway, so a
-- copied cookie stops working on every node at once.
CREATE TABLE web_session_ends (
    session_id uuid PRIMARY KEY,
    ends_at    timestamptz NOT NULL
);
CREATE INDEX web_session_ends_ends_at ON web_session_ends (ends_at);

-- An endpoint's deliveries that have not succeeded, newest first: what
-- the delivery list filtered to pending or failed reads (the console's
-- "failed" view). Most deliveries succeed, so without it such a page
-- walks the endpoint's whole history to find a few.
CREATE INDEX deliveries_unsettled_idx ON deliveries (endpoint_id, created_at DESC, id DESC)
    WHERE status <> 'succeeded';

-- A tenant's partner portal branding: shown to its partners, empty for
-- Herald's own look.
ALTER TABLE tenants
    ADD COLUMN brand_name     text NOT NULL DEFAULT '',
    ADD COLUMN brand_logo_url text NOT NULL DEFAULT '',
    ADD COLUMN brand_color    text NOT NULL DEFAULT '';
