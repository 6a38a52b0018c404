-- job_gen numbers the queue jobs of a delivery: a delivery retried by hand
-- while it waits for its next attempt gets a new job at once, and the job it
-- had (snoozed until later, or stuck on a node that died) finds a newer
-- generation when it runs and ends without sending. Every job carries the
-- generation it was made for.
ALTER TABLE deliveries ADD COLUMN job_gen integer NOT NULL DEFAULT 0;
