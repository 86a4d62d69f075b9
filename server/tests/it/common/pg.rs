//! The throwaway PostgreSQL cluster `scripts/test.sh` starts
//! (`CHAT_TEST_PG` names it), for the shared-mode tests.

/// The cluster's admin URL, or `None` (outside CI) to skip: under CI its
/// absence is a failure.
pub fn cluster() -> Option<String> {
    match std::env::var("CHAT_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CHAT_TEST_PG is not set: scripts/test.sh starts a PostgreSQL for these tests"
            );
            eprintln!("skipped: no CHAT_TEST_PG (run through scripts/test.sh)");
            None
        }
    }
}

pub async fn sql(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the test connects to PostgreSQL");
    tokio::spawn(conn);
    client
}

/// A new, empty database on the cluster; its URL.
pub async fn fresh_database(admin: &str) -> String {
    let name = format!("chat_{}", uuid::Uuid::new_v4().simple());
    sql(admin)
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("database created");
    admin.replacen("/postgres?", &format!("/{name}?"), 1)
}
