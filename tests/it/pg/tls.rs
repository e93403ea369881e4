//! TLS: a server whose certificate comes from a private test CA is
//! accepted with that CA file and refused with another, with an error
//! that names the CA file.

use buhbot::config::SslMode;
use buhbot::sync::pg::{Connector, Login, PgError};

use super::cluster::{Cluster, Options, TestCa};
use super::{settings, write};
use crate::buhbot;

#[tokio::test]
async fn the_server_is_trusted_only_with_its_ca_file() {
    let ca = TestCa::generate("buhbot test CA");
    let other = TestCa::generate("some other CA");
    let cluster = Cluster::start(Options {
        tls: Some(&ca),
        ..Options::default()
    });
    let dir = cluster.dir();
    let good_ca = write(dir, "ca.pem", &ca.ca_pem);
    let bad_ca = write(dir, "other-ca.pem", &other.ca_pem);

    for mode in [SslMode::VerifyFull, SslMode::Require] {
        let mut s = settings(cluster.port);
        s.sslmode = mode;
        s.ca_file = Some(good_ca.clone());
        let connector = Connector::new(&s).unwrap();
        let client = connector.connect(&Login::daemon(&s)).await.unwrap();
        let row = client
            .query_typed(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert!(
            row[0].get::<_, bool>(0),
            "{mode:?}: the session is encrypted"
        );

        s.ca_file = Some(bad_ca.clone());
        let connector = Connector::new(&s).unwrap();
        let err = connector.connect(&Login::daemon(&s)).await.unwrap_err();
        assert!(
            matches!(err, PgError::Untrusted { .. }),
            "{mode:?}: {err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&bad_ca.display().to_string()) && msg.contains("not trusted"),
            "{msg}"
        );
        // The pool reports the same.
        let pool = connector.pool().unwrap();
        let err = pool.get().await.unwrap_err();
        assert!(matches!(err, PgError::Untrusted { .. }), "pool: {err:?}");
    }

    // What an operator sees from the command line.
    let config = write(
        dir,
        "buhbot.toml",
        &format!(
            "[store]\npath = \"{}\"\n[postgres]\nhost = \"127.0.0.1\"\nport = {}\nca_file = \"{}\"\n",
            dir.join("buhbot.db").display(),
            cluster.port,
            bad_ca.display()
        ),
    );
    let out = buhbot()
        .arg("--config")
        .arg(&config)
        .args(["migrate", "--postgres"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not trusted")
            && stderr.contains(&bad_ca.display().to_string())
            && stderr.contains(&format!("127.0.0.1:{}", cluster.port)),
        "{stderr}"
    );
}
