//! Small things every layer uses: the clock and the boxed error. It
//! imports nothing of the server, so anything may import it.

/// An error from anywhere, for start-up and the command-line tools.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Milliseconds since the Unix epoch: the time stored with every record.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
