//! Up: the outbox to Postgres, in order, exactly once.
//!
//! A batch is the oldest outbox entries; each row they name is read in
//! full from SQLite (its current state) and written with one upsert per
//! table ([`super::upsert`]), in the order rows reference each other. The
//! batch's last entry id goes into `buhbot.sync_positions` in the same
//! Postgres transaction, and only after that commit are the entries
//! removed locally: a crash in between re-pushes a batch the version guard
//! ignores, so nothing is lost or doubled.
//!
//! A batch Postgres refuses for a row's sake (a data or constraint error)
//! is retried row by row under savepoints: the rows that pass go in, the
//! refused ones count an attempt and, after [`MAX_ATTEMPTS`], are moved
//! to the dead letters with the error so that the rows behind them flow.
//! Any other error (connection, privileges, a missing table) is retried
//! whole: it is not the rows' fault.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio_postgres::types::Type;

use super::pg::{PgError, PgPool};
use super::replica as sync_replica;
use super::upsert;
use crate::store::outbox::{self, Entry, Op};
use crate::store::replica;
use crate::store::sync_rows::{
    self, AlertRow, ChatRow, DeliveryRow, MessageRow, RequestRow, UserRow, VotePlace, VoteRow,
};
use crate::store::{Store, StoreError};

/// Attempts before a refused row goes to the dead letters.
pub const MAX_ATTEMPTS: i64 = 3;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(
        "Postgres refused {rows} change(s) (attempt {attempt} of {MAX_ATTEMPTS}, then they go to \
         the dead letters): {error}"
    )]
    Refused {
        rows: usize,
        attempt: i64,
        error: String,
    },
}

/// What one push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Outbox entries confirmed (removed locally).
    pub entries: usize,
    /// Rows written per table (a row the guard found current is not
    /// counted).
    pub rows: Vec<(&'static str, u64)>,
    pub dead_letters: usize,
    /// The last entry id now in Postgres.
    pub upto: Option<i64>,
}

/// The tables an entry can name, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Entity {
    Users,
    Chats,
    Messages,
    Requests,
    Alerts,
    Deliveries,
    /// Survey votes (`feedback_responses`).
    Votes,
    /// The hot standby's copy of any store row (`buhbot.replica`).
    Replica,
}

impl Entity {
    fn parse(s: &str) -> Option<Entity> {
        Some(match s {
            "users" => Entity::Users,
            "chats" => Entity::Chats,
            "chat_messages" => Entity::Messages,
            "client_requests" => Entity::Requests,
            "sla_alerts" => Entity::Alerts,
            "alert_deliveries" => Entity::Deliveries,
            "feedback_responses" => Entity::Votes,
            replica::ENTITY => Entity::Replica,
            _ => return None,
        })
    }

    fn table(self) -> &'static str {
        match self {
            Entity::Users => "users",
            Entity::Chats => "chats",
            Entity::Messages => "chat_messages",
            Entity::Requests => "client_requests",
            Entity::Alerts => "sla_alerts",
            Entity::Deliveries => "alert_deliveries",
            Entity::Votes => "feedback_responses",
            Entity::Replica => "buhbot.replica",
        }
    }
}

/// One row to write: the entries of a batch that name the same row
/// collapse into one item, versioned by the last of them.
#[derive(Debug, Clone)]
struct Item {
    entity: Entity,
    key: String,
    op: Op,
    version: i64,
    entries: Vec<Entry>,
}

/// A batch read from SQLite, ready to write.
#[derive(Debug, Default)]
struct Plan {
    items: Vec<Item>,
    users: Vec<(UserRow, usize)>,
    user_deletes: Vec<(i64, usize)>,
    chats: Vec<(ChatRow, usize)>,
    chat_deletes: Vec<(i64, usize)>,
    moves: Vec<(i64, i64, usize)>,
    messages: Vec<(MessageRow, usize)>,
    requests: Vec<(RequestRow, usize)>,
    alerts: Vec<(AlertRow, usize)>,
    deliveries: Vec<(DeliveryRow, usize)>,
    votes: Vec<(VoteRow, usize)>,
    vote_deletes: Vec<(VotePlace, usize)>,
    replica: Vec<(sync_replica::Up, usize)>,
    replica_deletes: Vec<(sync_replica::Gone, usize)>,
    /// The store's schema version, recorded with replica rows.
    schema: i32,
    /// Entries no item can carry (an unknown entity, a bad key).
    unreadable: Vec<(Entry, String)>,
    upto: i64,
}

/// Collapses entries into items: one per (entity, key), at its first
/// place in the batch, with the last op and the last id as its version.
/// Moves stay one item each.
fn collapse(entries: Vec<Entry>) -> (Vec<Item>, Vec<(Entry, String)>) {
    let mut items: Vec<Item> = Vec::new();
    let mut index: HashMap<(Entity, String), usize> = HashMap::new();
    let mut bad = Vec::new();
    for e in entries {
        let Some(entity) = Entity::parse(&e.entity) else {
            let why = format!("unknown table {:?}", e.entity);
            bad.push((e, why));
            continue;
        };
        if e.op == Op::Move {
            items.push(Item {
                entity,
                key: e.key.clone(),
                op: e.op,
                version: e.id,
                entries: vec![e],
            });
            continue;
        }
        match index.get(&(entity, e.key.clone())) {
            Some(&i) => {
                let item = &mut items[i];
                item.op = e.op;
                item.version = e.id;
                item.entries.push(e);
            }
            None => {
                index.insert((entity, e.key.clone()), items.len());
                items.push(Item {
                    entity,
                    key: e.key.clone(),
                    op: e.op,
                    version: e.id,
                    entries: vec![e],
                });
            }
        }
    }
    (items, bad)
}

fn parse_int(key: &str) -> Option<i64> {
    key.parse().ok()
}

fn parse_triple(key: &str) -> Option<(i64, i64, i64)> {
    let mut it = key.split(':').map(str::parse::<i64>);
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b)), Some(Ok(c)), None) => Some((a, b, c)),
        _ => None,
    }
}

/// A replica entry's key, `table:[pk…]`, as Postgres keys the row.
fn split_replica_key(key: &str) -> Option<sync_replica::Gone> {
    let (table, pk, _) = replica::parse_key(key)?;
    Some(sync_replica::Gone {
        table: table.to_string(),
        pk: pk.to_string(),
    })
}

fn parse_pair(key: &str) -> Option<(i64, i64)> {
    let (a, b) = key.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Reads the full rows of a batch, in one read transaction (a consistent
/// snapshot of every table).
fn read_plan(conn: &mut rusqlite::Connection, limit: i64) -> Result<Plan, StoreError> {
    let tx = conn.transaction()?;
    let entries = outbox::batch(&tx, limit)?;
    let Some(upto) = entries.last().map(|e| e.id) else {
        return Ok(Plan::default());
    };
    let (items, mut unreadable) = collapse(entries);
    let mut plan = Plan {
        upto,
        ..Plan::default()
    };
    // Keys per table, with the item each belongs to.
    let mut ids: HashMap<Entity, Vec<(i64, usize)>> = HashMap::new();
    let mut message_keys: Vec<((i64, i64, i64), usize)> = Vec::new();
    // Votes by (survey, user): upserts and withdrawals.
    let mut vote_keys: Vec<((i64, i64), usize)> = Vec::new();
    let mut withdrawn: Vec<((i64, i64), usize)> = Vec::new();
    let mut replica_keys: Vec<(String, usize)> = Vec::new();
    let mut keep = Vec::with_capacity(items.len());
    for item in items {
        let i = keep.len();
        let ok = match (item.entity, item.op) {
            (Entity::Chats, Op::Move) => parse_pair(&item.key)
                .map(|(old, new)| plan.moves.push((old, new, i)))
                .is_some(),
            (Entity::Users, Op::Delete) => parse_int(&item.key)
                .map(|id| plan.user_deletes.push((id, i)))
                .is_some(),
            (Entity::Chats, Op::Delete) => parse_int(&item.key)
                .map(|id| plan.chat_deletes.push((id, i)))
                .is_some(),
            (Entity::Votes, Op::Upsert) => parse_pair(&item.key)
                .map(|k| vote_keys.push((k, i)))
                .is_some(),
            (Entity::Votes, Op::Delete) => parse_pair(&item.key)
                .map(|k| withdrawn.push((k, i)))
                .is_some(),
            (Entity::Replica, Op::Upsert) => {
                replica_keys.push((item.key.clone(), i));
                true
            }
            (Entity::Replica, Op::Delete) => split_replica_key(&item.key)
                .map(|g| plan.replica_deletes.push((g, i)))
                .is_some(),
            (Entity::Messages, Op::Upsert) => parse_triple(&item.key)
                .map(|k| message_keys.push((k, i)))
                .is_some(),
            (_, Op::Upsert) => parse_int(&item.key)
                .map(|id| ids.entry(item.entity).or_default().push((id, i)))
                .is_some(),
            // The log tables have no delete triggers: nothing else is queued.
            _ => false,
        };
        if ok {
            keep.push(item);
        } else {
            let why = format!("cannot {} {} {:?}", item.op, item.entity.table(), item.key);
            for e in item.entries {
                unreadable.push((e, why.clone()));
            }
        }
    }
    // A row gone since it was queued (retention, or a later delete in
    // the queue) has nothing to push.
    fn attach<R>(
        rows: Vec<R>,
        keys: &[(i64, usize)],
        key_of: impl Fn(&R) -> i64,
        into: &mut Vec<(R, usize)>,
    ) {
        let at: HashMap<i64, usize> = keys.iter().copied().collect();
        for r in rows {
            if let Some(&i) = at.get(&key_of(&r)) {
                into.push((r, i));
            }
        }
    }
    let keys_of = |e: Entity| ids.get(&e).cloned().unwrap_or_default();
    let only = |k: &[(i64, usize)]| k.iter().map(|(id, _)| *id).collect::<Vec<_>>();
    let k = keys_of(Entity::Users);
    attach(
        sync_rows::users(&tx, &only(&k))?,
        &k,
        |r| r.id,
        &mut plan.users,
    );
    let k = keys_of(Entity::Chats);
    attach(
        sync_rows::chats(&tx, &only(&k))?,
        &k,
        |r| r.id,
        &mut plan.chats,
    );
    let k = keys_of(Entity::Requests);
    attach(
        sync_rows::requests(&tx, &only(&k))?,
        &k,
        |r| r.id,
        &mut plan.requests,
    );
    let k = keys_of(Entity::Alerts);
    attach(
        sync_rows::alerts(&tx, &only(&k))?,
        &k,
        |r| r.id,
        &mut plan.alerts,
    );
    let k = keys_of(Entity::Deliveries);
    attach(
        sync_rows::deliveries(&tx, &only(&k))?,
        &k,
        |r| r.id,
        &mut plan.deliveries,
    );
    let at: HashMap<(i64, i64, i64), usize> = message_keys.iter().copied().collect();
    let keys: Vec<_> = message_keys.iter().map(|(k, _)| *k).collect();
    for m in sync_rows::messages(&tx, &keys)? {
        if let Some(&i) = at.get(&(m.chat_id, m.message_id, m.edit_version)) {
            plan.messages.push((m, i));
        }
    }
    let at: HashMap<(i64, i64), usize> = vote_keys.iter().copied().collect();
    let keys: Vec<_> = vote_keys.iter().map(|(k, _)| *k).collect();
    for v in sync_rows::votes(&tx, &keys)? {
        if let Some(&i) = at.get(&(v.survey_id, v.user_id)) {
            plan.votes.push((v, i));
        }
    }
    let at: HashMap<(i64, i64), usize> = withdrawn.iter().copied().collect();
    let keys: Vec<_> = withdrawn.iter().map(|(k, _)| *k).collect();
    for p in sync_rows::vote_places(&tx, &keys)? {
        if let Some(&i) = at.get(&(p.survey_id, p.user_id)) {
            plan.vote_deletes.push((p, i));
        }
    }
    if !replica_keys.is_empty() || !plan.replica_deletes.is_empty() {
        plan.schema = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    }
    let keys: Vec<&str> = replica_keys.iter().map(|(k, _)| k.as_str()).collect();
    for (found, (_, i)) in replica::rows(&tx, &keys)?.into_iter().zip(&replica_keys) {
        match found {
            replica::Lookup::Row { table, pk, row } => {
                plan.replica.push((sync_replica::Up { table, pk, row }, *i))
            }
            replica::Lookup::Gone => {}
            replica::Lookup::Bad(why) => {
                for e in &keep[*i].entries {
                    unreadable.push((e.clone(), why.clone()));
                }
            }
        }
    }
    // Rows in item order, so that a row follows the rows it references.
    plan.messages.sort_by_key(|(_, i)| *i);
    plan.requests.sort_by_key(|(_, i)| *i);
    plan.alerts.sort_by_key(|(_, i)| *i);
    plan.deliveries.sort_by_key(|(_, i)| *i);
    plan.items = keep;
    plan.unreadable = unreadable;
    tx.finish()?;
    Ok(plan)
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.upto == 0
    }

    /// The part of the plan that writes item `i` only.
    fn only(&self, i: usize) -> Plan {
        fn pick<R: Clone>(v: &[(R, usize)], i: usize) -> Vec<(R, usize)> {
            v.iter().filter(|(_, j)| *j == i).cloned().collect()
        }
        Plan {
            // The items stay with the whole plan (see `apply`): no copy per row.
            items: Vec::new(),
            users: pick(&self.users, i),
            user_deletes: pick(&self.user_deletes, i),
            chats: pick(&self.chats, i),
            chat_deletes: pick(&self.chat_deletes, i),
            moves: self.moves.iter().filter(|m| m.2 == i).copied().collect(),
            messages: pick(&self.messages, i),
            requests: pick(&self.requests, i),
            alerts: pick(&self.alerts, i),
            deliveries: pick(&self.deliveries, i),
            votes: pick(&self.votes, i),
            vote_deletes: pick(&self.vote_deletes, i),
            replica: pick(&self.replica, i),
            replica_deletes: pick(&self.replica_deletes, i),
            schema: self.schema,
            unreadable: Vec::new(),
            upto: self.upto,
        }
    }

    /// The versions of `v`'s rows: their items' last entry ids.
    fn versions<R>(items: &[Item], v: &[(R, usize)]) -> Vec<i64> {
        v.iter().map(|(_, i)| items[*i].version).collect()
    }

    /// Writes the plan in the caller's transaction; returns rows per table.
    async fn apply(
        &self,
        items: &[Item],
        tx: &tokio_postgres::Transaction<'_>,
        default_threshold: i64,
    ) -> Result<Vec<(&'static str, u64)>, tokio_postgres::Error> {
        fn rows<R: Clone>(v: &[(R, usize)]) -> Vec<R> {
            v.iter().map(|(r, _)| r.clone()).collect()
        }
        let mut out = Vec::new();
        if !self.users.is_empty() {
            out.push(("users", upsert::users(tx, &rows(&self.users)).await?));
        }
        if !self.user_deletes.is_empty() {
            let ids: Vec<i64> = self.user_deletes.iter().map(|(id, _)| *id).collect();
            out.push(("users", upsert::delete_users(tx, &ids).await?));
        }
        if !self.chats.is_empty() {
            let n = upsert::chats(
                tx,
                &rows(&self.chats),
                &Plan::versions(items, &self.chats),
                default_threshold,
            )
            .await?;
            out.push(("chats", n));
        }
        // Chats the rows below reference, known to Postgres or not.
        let referenced: BTreeSet<i64> = (self.messages.iter().map(|(m, _)| m.chat_id))
            .chain(self.requests.iter().map(|(r, _)| r.chat_id))
            .chain(self.votes.iter().map(|(v, _)| v.chat_id))
            .chain(self.moves.iter().map(|m| m.1))
            .collect();
        if !referenced.is_empty() {
            let ids: Vec<i64> = referenced.into_iter().collect();
            upsert::ensure_chats(tx, &ids, default_threshold).await?;
        }
        for &(old, new, _) in &self.moves {
            out.push(("chats", upsert::move_chat(tx, old, new).await?));
        }
        if !self.chat_deletes.is_empty() {
            let ids: Vec<i64> = self.chat_deletes.iter().map(|(id, _)| *id).collect();
            out.push(("chats", upsert::delete_chats(tx, &ids).await?));
        }
        if !self.messages.is_empty() {
            let n = upsert::messages(
                tx,
                &rows(&self.messages),
                &Plan::versions(items, &self.messages),
            )
            .await?;
            out.push(("chat_messages", n));
        }
        if !self.requests.is_empty() {
            let n = upsert::requests(
                tx,
                &rows(&self.requests),
                &Plan::versions(items, &self.requests),
            )
            .await?;
            out.push(("client_requests", n));
        }
        if !self.alerts.is_empty() {
            let n = upsert::alerts(
                tx,
                &rows(&self.alerts),
                &Plan::versions(items, &self.alerts),
            )
            .await?;
            out.push(("sla_alerts", n));
        }
        if !self.deliveries.is_empty() {
            let n = upsert::deliveries(
                tx,
                &rows(&self.deliveries),
                &Plan::versions(items, &self.deliveries),
            )
            .await?;
            out.push(("alert_deliveries", n));
        }
        if !self.votes.is_empty() {
            let n =
                upsert::votes(tx, &rows(&self.votes), &Plan::versions(items, &self.votes)).await?;
            out.push(("feedback_responses", n));
        }
        if !self.vote_deletes.is_empty() {
            let n = upsert::delete_votes(
                tx,
                &rows(&self.vote_deletes),
                &Plan::versions(items, &self.vote_deletes),
            )
            .await?;
            out.push(("feedback_responses", n));
        }
        if !self.replica.is_empty() {
            let n = sync_replica::upsert(
                tx,
                &rows(&self.replica),
                &Plan::versions(items, &self.replica),
                self.schema,
            )
            .await?;
            out.push(("buhbot.replica", n));
        }
        if !self.replica_deletes.is_empty() {
            let n = sync_replica::delete(tx, &rows(&self.replica_deletes)).await?;
            out.push(("buhbot.replica", n));
        }
        Ok(out)
    }
}

/// A row's fault (retry it alone, then set it aside) rather than the
/// server's or the schema's: data exceptions and integrity violations.
fn row_refused(e: &tokio_postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| matches!(&c.code()[..2], "22" | "23"))
}

/// Pushes the outbox of one store to one Postgres.
pub struct Pusher {
    pool: PgPool,
    store: Store,
    daemon_id: String,
    batch: i64,
    default_threshold: i64,
    /// (accountants, managers) of the configuration's `[[chats]]`.
    configured_staff: BTreeMap<i64, (Vec<i64>, Vec<i64>)>,
}

impl Pusher {
    pub fn new(pool: PgPool, store: Store, daemon_id: String, default_threshold: i64) -> Pusher {
        Pusher {
            pool,
            store,
            daemon_id,
            batch: 1000,
            default_threshold,
            configured_staff: BTreeMap::new(),
        }
    }

    /// [`Pusher::with_configured_staff`] from `config`'s `[[chats]]`.
    pub fn with_staff_of(self, config: &crate::config::Config) -> Pusher {
        let ids = |s: &BTreeSet<i64>| s.iter().copied().collect();
        let staff = config
            .chats
            .iter()
            .map(|(&id, c)| (id, (ids(&c.accountants), ids(&c.managers))))
            .collect();
        self.with_configured_staff(staff)
    }

    /// The staff the configuration gives chats: a chat without staff rows
    /// of its own runs with them, so Postgres shows them (and a person who
    /// adds one there adds to them rather than replacing them).
    pub fn with_configured_staff(mut self, staff: BTreeMap<i64, (Vec<i64>, Vec<i64>)>) -> Pusher {
        self.configured_staff = staff;
        self
    }

    /// Rows per batch (tests use small ones).
    pub fn with_batch(mut self, batch: i64) -> Pusher {
        self.batch = batch.max(1);
        self
    }

    pub fn daemon_id(&self) -> &str {
        &self.daemon_id
    }

    fn query_error(&self, what: &str, e: tokio_postgres::Error) -> PgError {
        self.pool.connector().query_error(what, e)
    }

    /// Where Postgres stands for this daemon (0 before the first push).
    pub async fn position(&self) -> Result<i64, PushError> {
        let client = self.pool.get().await?;
        let rows = client
            .query_typed(
                "SELECT pushed_seq FROM buhbot.sync_positions WHERE daemon_id = $1",
                &[(&self.daemon_id, Type::TEXT)],
            )
            .await
            .map_err(|e| self.query_error("reading the sync position", e))?;
        Ok(rows.first().map_or(0, |r| r.get(0)))
    }

    /// Squares the local queue with Postgres before the first push: the
    /// entries it already has (a crash after its commit) are removed; a
    /// store behind it (restored from an older backup) continues its ids
    /// above Postgres' position, or the version guard would take new
    /// changes for old ones.
    pub async fn reconcile(&self) -> Result<(), PushError> {
        let pos = self.position().await?;
        let raised = self
            .store
            .run(move |c| outbox::square_with_position(c, pos))
            .await?;
        if raised {
            tracing::warn!(
                position = pos,
                "the local store is behind Postgres (restored from a backup, or rebuilt from the standby \
                 replica): new changes are \
                 numbered after Postgres' position"
            );
        }
        Ok(())
    }

    /// Pushes the oldest batch; `Pushed::entries == 0` when there was
    /// nothing to push.
    pub async fn push_once(&self, now: i64) -> Result<Pushed, PushError> {
        let limit = self.batch;
        let mut plan = self.store.run(move |c| read_plan(c, limit)).await?;
        if plan.is_empty() {
            return Ok(Pushed::default());
        }
        for (row, _) in &mut plan.chats {
            if row.accountants.is_empty()
                && row.managers.is_empty()
                && let Some((a, m)) = self.configured_staff.get(&row.id)
            {
                row.accountants = a.clone();
                row.managers = m.clone();
            }
        }
        let refused_batch = {
            let mut client = self.pool.get().await?;
            let tx = client
                .transaction()
                .await
                .map_err(|e| self.query_error("starting the push transaction", e))?;
            self.set_origin(&tx).await?;
            match plan.apply(&plan.items, &tx, self.default_threshold).await {
                Ok(rows) => return self.finish(tx, plan, rows, Vec::new(), now).await,
                // The failed statement rolled the whole batch back.
                Err(e) if row_refused(&e) => {
                    tx.rollback()
                        .await
                        .map_err(|e| self.query_error("rolling back the push", e))?;
                    super::pg::describe(&e)
                }
                Err(e) => return Err(self.query_error("pushing changes", e).into()),
            }
        };
        // Row by row on a fresh connection (this one went back to the
        // pool: a pool of one must do).
        tracing::debug!(error = %refused_batch, "sync: batch refused; retrying row by row");
        self.push_rows(plan, now).await
    }

    async fn set_origin(&self, tx: &tokio_postgres::Transaction<'_>) -> Result<(), PushError> {
        // The writer of every row in this transaction (updated_by), so
        // that the pull does not take the daemon's own writes for edits.
        let origin = format!("daemon:{}", self.daemon_id);
        tx.query_typed(
            "SELECT set_config('buhbot.origin', $1, true)",
            &[(&origin, Type::TEXT)],
        )
        .await
        .map_err(|e| self.query_error("setting the writer", e))?;
        Ok(())
    }

    /// The row-by-row retry of a refused batch.
    async fn push_rows(&self, plan: Plan, now: i64) -> Result<Pushed, PushError> {
        let mut client = self.pool.get().await?;
        let mut tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error("starting the push transaction", e))?;
        self.set_origin(&tx).await?;
        let mut rows: HashMap<&'static str, u64> = HashMap::new();
        let mut refused: Vec<(usize, String)> = Vec::new();
        for i in 0..plan.items.len() {
            let one = plan.only(i);
            let sp = tx
                .savepoint("row")
                .await
                .map_err(|e| self.query_error("a savepoint", e))?;
            match one.apply(&plan.items, &sp, self.default_threshold).await {
                Ok(n) => {
                    sp.commit()
                        .await
                        .map_err(|e| self.query_error("releasing a savepoint", e))?;
                    for (t, k) in n {
                        *rows.entry(t).or_default() += k;
                    }
                }
                Err(e) if row_refused(&e) => {
                    sp.rollback()
                        .await
                        .map_err(|e| self.query_error("rolling back a savepoint", e))?;
                    refused.push((i, super::pg::describe(&e)));
                }
                Err(e) => return Err(self.query_error("pushing changes", e).into()),
            }
        }
        let mut rows: Vec<_> = rows.into_iter().collect();
        rows.sort();
        self.finish(tx, plan, rows, refused, now).await
    }

    /// Commits a push (rows and position), then confirms it locally; or,
    /// while refused rows have attempts left, rolls it back and counts one.
    async fn finish(
        &self,
        tx: deadpool_postgres::Transaction<'_>,
        plan: Plan,
        rows: Vec<(&'static str, u64)>,
        refused: Vec<(usize, String)>,
        now: i64,
    ) -> Result<Pushed, PushError> {
        let attempt = refused
            .iter()
            .flat_map(|(i, _)| plan.items[*i].entries.iter().map(|e| e.attempts))
            .max()
            .map_or(0, |a| a + 1);
        if !refused.is_empty() && attempt < MAX_ATTEMPTS {
            tx.rollback()
                .await
                .map_err(|e| self.query_error("rolling back the push", e))?;
            let ids: Vec<i64> = refused
                .iter()
                .flat_map(|(i, _)| plan.items[*i].entries.iter().map(|e| e.id))
                .collect();
            let error = refused[0].1.clone();
            let err = error.clone();
            self.store
                .run(move |c| outbox::record_failure(c, &ids, &err))
                .await?;
            return Err(PushError::Refused {
                rows: refused.len(),
                attempt,
                error,
            });
        }
        tx.query_typed(
            "INSERT INTO buhbot.sync_positions (daemon_id, pushed_seq, updated_at)
             VALUES ($1, $2, now())
             ON CONFLICT (daemon_id) DO UPDATE
                 SET pushed_seq = greatest(buhbot.sync_positions.pushed_seq, excluded.pushed_seq),
                     updated_at = now()",
            &[(&self.daemon_id, Type::TEXT), (&plan.upto, Type::INT8)],
        )
        .await
        .map_err(|e| self.query_error("storing the sync position", e))?;
        tx.commit()
            .await
            .map_err(|e| self.query_error("committing the push", e))?;
        // Postgres has the batch; the dead letters and the confirmation
        // go together here (a crash before this re-pushes: harmless).
        let mut dead: Vec<(Entry, String)> = plan.unreadable;
        for (i, error) in refused {
            let item = &plan.items[i];
            if let Some(first) = item.entries.first() {
                let mut e = first.clone();
                e.attempts = attempt;
                e.op = item.op;
                e.id = item.version;
                dead.push((e, error));
            }
        }
        let upto = plan.upto;
        let n_dead = dead.len();
        for (e, error) in &dead {
            tracing::error!(
                table = %e.entity,
                key = %e.key,
                error = %error,
                "Postgres refused a change for good: kept in the dead letters \
                 (buhbot sync dead-letters)"
            );
        }
        let entries = self
            .store
            .run(move |c| {
                let tx = crate::store::write_tx(c)?;
                for (e, error) in &dead {
                    outbox::dead_letter(&tx, e, error, now)?;
                }
                let n = outbox::confirm(&tx, upto, now)?;
                tx.commit()?;
                Ok(n)
            })
            .await?;
        Ok(Pushed {
            entries: entries + n_dead,
            rows,
            dead_letters: n_dead,
            upto: Some(upto),
        })
    }
}
