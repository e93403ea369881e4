-- The outbox triggers (issue 11), created while sync is on and dropped
-- when it is turned off (store::outbox::set_enabled): every change of a
-- pushed table queues (entity, key, op) in the transaction of the change,
-- whoever writes. Not while the pull applies Postgres' rows (applying = 1):
-- those are not pushed back. Retention deletes old rows locally only:
-- Postgres keeps the history, so the log tables have no delete triggers.

CREATE TRIGGER IF NOT EXISTS users_outbox_ins AFTER INSERT ON users WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('users', NEW.id, 'upsert'); END;
CREATE TRIGGER IF NOT EXISTS users_outbox_upd AFTER UPDATE ON users WHEN (SELECT applying FROM sync_state) = 0
BEGIN
    INSERT INTO outbox (entity, entity_key, op) SELECT 'users', OLD.id, 'delete' WHERE OLD.id <> NEW.id;
    INSERT INTO outbox (entity, entity_key, op) VALUES ('users', NEW.id, 'upsert');
END;
CREATE TRIGGER IF NOT EXISTS users_outbox_del AFTER DELETE ON users WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('users', OLD.id, 'delete'); END;

-- A chat's staff lives in chat_staff here and in the chat's id arrays
-- upstream: a staff change is a change of the chat.
CREATE TRIGGER IF NOT EXISTS chats_outbox_ins AFTER INSERT ON chats WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', NEW.id, 'upsert'); END;
CREATE TRIGGER IF NOT EXISTS chats_outbox_upd AFTER UPDATE ON chats WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', NEW.id, 'upsert'); END;
-- A group that became a supergroup: its rows move to the new id here
-- (store::chats::move_rows) and upstream: store::outbox::record_move
-- queues ('chats', 'old:new', 'move') before the rows move.
CREATE TRIGGER IF NOT EXISTS chats_outbox_del AFTER DELETE ON chats WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', OLD.id, 'delete'); END;
CREATE TRIGGER IF NOT EXISTS chat_staff_outbox_ins AFTER INSERT ON chat_staff WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', NEW.chat_id, 'upsert'); END;
CREATE TRIGGER IF NOT EXISTS chat_staff_outbox_del AFTER DELETE ON chat_staff WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', OLD.chat_id, 'upsert'); END;

CREATE TRIGGER IF NOT EXISTS messages_outbox_ins AFTER INSERT ON messages WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op)
      VALUES ('chat_messages', NEW.chat_id || ':' || NEW.message_id || ':' || NEW.edit_version, 'upsert'); END;
CREATE TRIGGER IF NOT EXISTS messages_outbox_upd AFTER UPDATE ON messages WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op)
      VALUES ('chat_messages', NEW.chat_id || ':' || NEW.message_id || ':' || NEW.edit_version, 'upsert'); END;

CREATE TRIGGER IF NOT EXISTS requests_outbox_ins AFTER INSERT ON client_requests WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('client_requests', NEW.id, 'upsert'); END;
CREATE TRIGGER IF NOT EXISTS requests_outbox_upd AFTER UPDATE ON client_requests WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('client_requests', NEW.id, 'upsert'); END;

CREATE TRIGGER IF NOT EXISTS alerts_outbox_ins AFTER INSERT ON sla_alerts WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('sla_alerts', NEW.id, 'upsert'); END;
CREATE TRIGGER IF NOT EXISTS alerts_outbox_upd AFTER UPDATE ON sla_alerts WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('sla_alerts', NEW.id, 'upsert'); END;

-- The alert's row upstream carries its delivery status: a delivery's
-- change is also a change of its alert.
CREATE TRIGGER IF NOT EXISTS deliveries_outbox_ins AFTER INSERT ON alert_deliveries WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('alert_deliveries', NEW.id, 'upsert'); END;
CREATE TRIGGER IF NOT EXISTS deliveries_outbox_upd AFTER UPDATE ON alert_deliveries WHEN (SELECT applying FROM sync_state) = 0
BEGIN
    INSERT INTO outbox (entity, entity_key, op) VALUES ('alert_deliveries', NEW.id, 'upsert');
    INSERT INTO outbox (entity, entity_key, op) VALUES ('sla_alerts', NEW.alert_id, 'upsert');
END;

-- A survey vote is a row of feedback_responses upstream, keyed
-- 'survey_id:user_id': a withdrawal deletes it there (the push finds its
-- campaign and chat through survey_chats, which outlives the vote).
CREATE TRIGGER IF NOT EXISTS survey_votes_outbox_ins AFTER INSERT ON survey_votes WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op)
      VALUES ('feedback_responses', NEW.survey_id || ':' || NEW.user_id, 'upsert'); END;
CREATE TRIGGER IF NOT EXISTS survey_votes_outbox_upd AFTER UPDATE ON survey_votes WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op)
      VALUES ('feedback_responses', NEW.survey_id || ':' || NEW.user_id, 'upsert'); END;
CREATE TRIGGER IF NOT EXISTS survey_votes_outbox_del AFTER DELETE ON survey_votes WHEN (SELECT applying FROM sync_state) = 0
BEGIN INSERT INTO outbox (entity, entity_key, op)
      VALUES ('feedback_responses', OLD.survey_id || ':' || OLD.user_id, 'delete'); END;
