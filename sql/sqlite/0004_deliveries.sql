-- One delivery pipeline (issue 10): alert_deliveries gets typed checks on
-- its channel and status, and the link to the Telegram outbound row.
--
-- status: pending → sent (log, e-mail: the channel accepted it), or
-- pending → queued → sent (Telegram: queued = handed to the outbound queue,
-- sent = Telegram confirmed, with its message id), retrying after a
-- transient failure, failed after a permanent one (failure_reason says
-- why, e.g. USER_IS_BLOCKED, smtp_550), given_up once the deadline passed.
-- Before this migration 'failed' meant "will retry": it becomes 'retrying'.
CREATE TABLE alert_deliveries_v4 (
    id                   INTEGER PRIMARY KEY,
    alert_id             INTEGER NOT NULL REFERENCES sla_alerts (id) ON DELETE CASCADE,
    sink                 TEXT NOT NULL CHECK (sink IN ('telegram', 'email', 'log')),
    recipient            TEXT NOT NULL,
    status               TEXT NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'queued', 'sent', 'retrying', 'failed', 'given_up')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      INTEGER NOT NULL,
    last_error           TEXT,
    failure_reason       TEXT,
    outbound_id          INTEGER,               -- outbound_messages.id of a queued Telegram alert
    telegram_message_id  INTEGER,
    sent_at              INTEGER,
    created_at           INTEGER NOT NULL,
    UNIQUE (alert_id, sink, recipient)
);
INSERT INTO alert_deliveries_v4
    (id, alert_id, sink, recipient, status, attempts, next_attempt_at, last_error, sent_at, created_at)
SELECT id, alert_id, sink, recipient,
       CASE status WHEN 'failed' THEN 'retrying' ELSE status END,
       attempts, next_attempt_at, last_error, sent_at, created_at
FROM alert_deliveries;
DROP TABLE alert_deliveries;
ALTER TABLE alert_deliveries_v4 RENAME TO alert_deliveries;
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'retrying');
CREATE INDEX alert_deliveries_outbound ON alert_deliveries (outbound_id)
    WHERE outbound_id IS NOT NULL;

-- Telegram deliveries that were counted 'sent' when merely queued: link
-- them to their outbound row and give them that row's state.
UPDATE alert_deliveries SET outbound_id = (
    SELECT o.id FROM outbound_messages o WHERE o.dedupe_key = 'alert:' || alert_deliveries.id)
WHERE sink = 'telegram';
UPDATE alert_deliveries SET
    status = (SELECT CASE o.status WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'failed'
                                   WHEN 'given_up' THEN 'given_up' ELSE 'queued' END
              FROM outbound_messages o WHERE o.id = alert_deliveries.outbound_id),
    telegram_message_id = (SELECT o.telegram_message_id FROM outbound_messages o
                           WHERE o.id = alert_deliveries.outbound_id)
WHERE outbound_id IS NOT NULL AND status = 'sent';

-- A permanently failed outbound row is no longer retried: the due index
-- covers only rows that will be attempted.
DROP INDEX outbound_messages_due;
CREATE INDEX outbound_messages_due ON outbound_messages (next_attempt_at)
    WHERE status = 'pending';
