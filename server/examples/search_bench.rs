//! Search speed over a large history: fills a fresh database with N
//! messages (default 1,000,000) of made-up words, then times searches
//! through the real store. A benchmark, not a test.
//!
//!     cargo run --release -p server --example search_bench [-- N]

use app::protocol::RoomId;
use server::metrics::Metrics;
use server::realtime::hub::Hub;
use server::store::sqlite::SqliteStore;
use server::store::Store;
use std::sync::Arc;
use std::time::Instant;

/// A tiny deterministic generator, so every run indexes the same text.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(
        dir.path(),
        Arc::new(Hub::new()),
        Arc::new(Metrics::default()),
    )?;
    drop(store);
    // Filled directly, in large transactions: the point is the search.
    let started = Instant::now();
    {
        let mut db = rusqlite::Connection::open(dir.path().join("chat.db"))?;
        db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")?;
        db.execute(
            "INSERT INTO users (device_id, name, color, created_at) VALUES ('00000000-0000-4000-8000-000000000000', 'Bench', 'rgb(200,100,100)', 0)",
            [],
        )?;
        // A vocabulary with a long tail: a few words are everywhere, most are rare.
        let mut rng = Lcg(42);
        let syllables = [
            "ka", "lo", "mi", "ne", "ru", "ta", "vo", "zé", "fa", "pi", "so", "du",
        ];
        let vocab: Vec<String> = (0..20_000)
            .map(|i| {
                let len = 2 + (i % 3);
                (0..len)
                    .map(|_| syllables[(rng.next() % 12) as usize])
                    .collect()
            })
            .collect();
        let extras = ["🎉", "🎈", "café", "crème brûlée", "meeting", "tomorrow"];
        let mut done = 0;
        while done < n {
            let tx = db.transaction()?;
            {
                let mut stmt = tx.prepare(
                    "INSERT INTO messages (user_id, client_id, user_name, color, body, ts, room_id, created_seq, seq)
                     VALUES (1, ?1, 'Bench', 'rgb(200,100,100)', ?2, ?3, 1, ?4, ?4)",
                )?;
                for i in done..(done + 50_000).min(n) {
                    let words = 5 + rng.next() % 12;
                    let mut text = String::new();
                    for _ in 0..words {
                        // Zipf-like: small indexes far more often.
                        let r = rng.next() % 1_000_000;
                        let idx = ((r * r) / 1_000_000 * (vocab.len() as u64)) / 1_000_000;
                        text.push_str(&vocab[idx as usize]);
                        text.push(' ');
                    }
                    if rng.next().is_multiple_of(50) {
                        text.push_str(extras[(rng.next() % 6) as usize]);
                    }
                    stmt.execute(rusqlite::params![
                        format!("c{i}"),
                        text,
                        i as i64,
                        (i + 1) as i64
                    ])?;
                }
            }
            tx.commit()?;
            done = (done + 50_000).min(n);
        }
        db.execute("UPDATE rooms SET last_seq = ?1 WHERE id = 1", [n as i64])?;
        db.execute_batch(
            "PRAGMA optimize; INSERT INTO messages_fts (messages_fts) VALUES ('optimize');",
        )?;
    }
    println!(
        "filled {n} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let store = SqliteStore::open(
        dir.path(),
        Arc::new(Hub::new()),
        Arc::new(Metrics::default()),
    )?;
    let size = std::fs::metadata(dir.path().join("chat.db"))?.len();
    println!("database: {:.0} MB", size as f64 / 1e6);
    println!("| query | results (page of 20) | p50 ms | max ms |");
    println!("|---|---|---|---|");
    let common = store.page_before(RoomId::DEFAULT, None, 1).await?;
    let common_word = common[0].msg.split(' ').next().unwrap_or("ka").to_owned();
    let queries = [
        common_word.clone(),
        "kaloka".to_owned(),
        "café".to_owned(),
        "cafe".to_owned(),
        "🎉".to_owned(),
        format!("\"{common_word} {common_word}\""),
        "mi".to_owned(),
        "zzzz".to_owned(),
    ];
    for q in queries {
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..21 {
            let t = Instant::now();
            count = store.search(q.clone(), None, 20).await?.len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!("| `{q}` | {count} | {:.2} | {:.2} |", times[10], times[20]);
    }
    // Deep pages: the 50th page of a common word.
    let mut before = None;
    let t = Instant::now();
    for _ in 0..50 {
        let page = store.search(common_word.clone(), before, 20).await?;
        before = page.last().map(|(m, _)| m.id);
    }
    println!(
        "50 pages of `{common_word}`: {:.2} ms per page",
        t.elapsed().as_secs_f64() * 1000.0 / 50.0
    );
    Ok(())
}
