-- content_mode is how an endpoint receives events (the CloudEvents HTTP
-- content modes): structured (the whole event as JSON) or binary (data as
-- the body, attributes as ce- headers).
ALTER TABLE endpoints ADD COLUMN content_mode text NOT NULL DEFAULT 'structured'
    CHECK (content_mode IN ('structured', 'binary'));
