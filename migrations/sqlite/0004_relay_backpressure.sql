-- The relay counts the jobs it handed to the queue that are not done yet, to keep the queue's
-- backlog bounded; this index keeps that count small however long the outbox grows.
CREATE INDEX outbox_handed_over_idx ON outbox (relayed_at) WHERE done_at IS NULL;
