//! The hot standby's replica (`buhbot.replica`): what an active daemon
//! pushes is enough to rebuild its store elsewhere, table by table and row
//! by row; a replica from a newer schema is refused, not half-read.

use std::collections::BTreeMap;

use buhbot::store::{Store, replica};
use buhbot::sync::pg::Connector;

use super::cluster::{Cluster, Options};
use super::replay_sync::{migrated, pg_section, replay_lands_in_postgres};

/// Every row of each replicated table (of `replica::tables`), as JSON
/// text, in key order.
fn contents(store: &Store) -> BTreeMap<String, Vec<String>> {
    let c = store.conn().unwrap();
    let mut out = BTreeMap::new();
    for t in replica::tables(&c).unwrap() {
        let object: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("'{c}', \"{c}\""))
            .collect();
        let order: Vec<String> = t.key.iter().map(|k| format!("\"{k}\"")).collect();
        let filter = if t.name == "transport_state" {
            " WHERE source LIKE 'sync.%'"
        } else {
            ""
        };
        let rows: Vec<String> = c
            .prepare(&format!(
                "SELECT json_object({}) FROM \"{}\"{filter} ORDER BY {}",
                object.join(", "),
                t.name,
                order.join(", ")
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.insert(t.name, rows);
    }
    out
}

/// Rebuilds `store` from the replica at `port`, as a daemon taking over.
async fn rebuild(port: u16, store: &Store) -> Result<(), String> {
    let connector = Connector::new(&super::settings(port)).unwrap();
    let (to, from) = tokio::sync::mpsc::channel(16);
    let reader = tokio::spawn(async move { buhbot::sync::replica::read(&connector, to).await });
    let s = store.clone();
    let out = tokio::task::spawn_blocking(move || buhbot::daemon::standby::rebuild(&s, from))
        .await
        .unwrap()
        .map_err(|e| e.to_string());
    reader.await.unwrap();
    out
}

#[test]
fn every_table_is_replicated_or_named_the_hosts_own_and_holds_no_blob() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let c = store.conn().unwrap();
    let all: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let replicated: Vec<String> = replica::tables(&c)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    for t in &all {
        assert!(
            replicated.contains(t) ^ replica::HOST_LOCAL.contains(&t.as_str()),
            "{t}: replicated or the host's own, not both or neither"
        );
    }
    // The state a takeover needs is among them.
    for t in [
        "client_requests",
        "timers",
        "outbound_messages",
        "alert_deliveries",
        "tg_update_state",
        "tg_channel_state",
        "messages",
    ] {
        assert!(replicated.contains(&t.to_string()), "{t}");
    }
    // JSON cannot carry a BLOB: no replicated column may be one.
    for t in &replicated {
        let blobs: i64 = c
            .query_row(
                "SELECT count(*) FROM pragma_table_info(?1) WHERE upper(type) = 'BLOB'",
                [t],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(blobs, 0, "{t} has a BLOB column");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_rebuilt_from_the_replica_equals_the_store_that_pushed_it() {
    let cluster = Cluster::start(Options::default());
    migrated(&cluster).await;
    let section = format!("{}standby = true\n", pg_section(cluster.port));
    let a = replay_lands_in_postgres(&cluster, &section).await;
    let pushed = Store::open(&a.db).unwrap();
    let expected = contents(&pushed);
    // (A replay sends nothing to Telegram: the outbound queue and the
    // update state, and timers still running, are shown over the wire:
    // tests/it/wire/standby.rs.)
    for t in [
        "client_requests",
        "messages",
        "sla_alerts",
        "alert_deliveries",
    ] {
        assert!(!expected[t].is_empty(), "the replay left no {t}");
    }

    // A host whose store has rows of its own (an older state): they go.
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    {
        let c = b.conn().unwrap();
        c.execute_batch(
            "INSERT INTO chats (id, title, created_at, updated_at) VALUES (-42, 'стоялый', 0, 0);
             INSERT INTO transport_state (source, position, updated_at) VALUES ('replay', 'x', 0);
             INSERT INTO outbox (entity, entity_key, op) VALUES ('chats', '-42', 'upsert');",
        )
        .unwrap();
    }
    rebuild(cluster.port, &b).await.unwrap();
    let got = contents(&b);
    for (t, rows) in &expected {
        assert_eq!(
            rows.len(),
            got[t].len(),
            "{t}: {} rows pushed, {} rebuilt",
            rows.len(),
            got[t].len()
        );
        assert_eq!(rows, &got[t], "{t}");
    }
    let c = b.conn().unwrap();
    let one = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(one("SELECT count(*) FROM outbox"), 0, "the old queue goes");
    assert_eq!(one("SELECT replica FROM sync_state"), 1);
    assert_eq!(one("SELECT applying FROM sync_state"), 0);
    // The host's own position stays (not the replica's business).
    assert_eq!(
        one("SELECT count(*) FROM transport_state WHERE source = 'replay'"),
        1
    );
    // The rebuilt store is the same daemon to Postgres.
    let id = |s: &Store| -> String {
        s.conn()
            .unwrap()
            .query_row(
                "SELECT position FROM transport_state WHERE source = 'sync.daemon_id'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(id(&pushed), id(&b));
    // Rebuilt again (a second takeover): the same.
    rebuild(cluster.port, &b).await.unwrap();
    assert_eq!(contents(&b), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_from_a_newer_schema_is_refused_and_the_store_left_alone() {
    let cluster = Cluster::start(Options::default());
    migrated(&cluster).await;
    cluster
        .admin()
        .await
        .execute(
            "INSERT INTO buhbot.replica (tbl, pk, row, store_schema, daemon_version)
             VALUES ('chats', '[-7]', '{\"id\": -7, \"title\": \"из будущего\"}', 999, 1)",
            &[],
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    b.conn()
        .unwrap()
        .execute(
            "INSERT INTO chats (id, title, created_at, updated_at) VALUES (-8, 'свой', 0, 0)",
            [],
        )
        .unwrap();
    let err = rebuild(cluster.port, &b).await.unwrap_err();
    assert!(err.contains("store schema 999"), "{err}");
    assert!(err.contains("upgrade buhbot"), "{err}");
    let titles: Vec<String> = b
        .conn()
        .unwrap()
        .prepare("SELECT title FROM chats")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(titles, ["свой"]);
}
