//! Prometheus metrics, served as text on a separate listener that is off
//! by default (`--metrics-addr`), so they are never exposed with the chat.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

pub struct Metrics {
    pub open_connections: Gauge,
    pub messages_committed: Counter,
    pub commit_batch_size: Histogram,
    pub commit_seconds: Histogram,
    pub failed_commits: Counter,
    /// From a broadcast's publication to its write on one socket.
    pub broadcast_lag_seconds: Histogram,
    pub clients_too_slow: Counter,
    pub clients_write_timeout: Counter,
    pub rate_limited: Counter,
    pub push_sent: Counter,
    pub push_failed: Counter,
    pub push_gone: Counter,
    pub push_dropped: Counter,
    pub previews_made: Counter,
    pub previews_failed: Counter,
    pub previews_refused: Counter,
    pub previews_skipped: Counter,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Self {
            open_connections: Gauge::default(),
            messages_committed: Counter::default(),
            commit_batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            commit_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            failed_commits: Counter::default(),
            broadcast_lag_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            clients_too_slow: Counter::default(),
            clients_write_timeout: Counter::default(),
            rate_limited: Counter::default(),
            push_sent: Counter::default(),
            push_failed: Counter::default(),
            push_gone: Counter::default(),
            push_dropped: Counter::default(),
            previews_made: Counter::default(),
            previews_failed: Counter::default(),
            previews_refused: Counter::default(),
            previews_skipped: Counter::default(),
            registry: Registry::with_prefix("chat"),
        };
        let mut registry = Registry::with_prefix("chat");
        registry.register(
            "open_connections",
            "Open WebSockets",
            m.open_connections.clone(),
        );
        registry.register(
            "messages_committed",
            "Messages stored (resends excluded)",
            m.messages_committed.clone(),
        );
        registry.register(
            "commit_batch_size",
            "Writes per group commit",
            m.commit_batch_size.clone(),
        );
        registry.register(
            "commit_seconds",
            "Time to run and commit one batch (fsync included)",
            m.commit_seconds.clone(),
        );
        registry.register(
            "failed_commits",
            "Batches whose commit failed",
            m.failed_commits.clone(),
        );
        registry.register(
            "broadcast_lag_seconds",
            "From publication to the write on a socket",
            m.broadcast_lag_seconds.clone(),
        );
        registry.register(
            "clients_too_slow",
            "Sockets closed for falling too far behind",
            m.clients_too_slow.clone(),
        );
        registry.register(
            "clients_write_timeout",
            "Sockets closed because writes stayed blocked",
            m.clients_write_timeout.clone(),
        );
        registry.register(
            "rate_limited",
            "Messages refused by the rate limit",
            m.rate_limited.clone(),
        );
        registry.register(
            "push_sent",
            "Notifications a push service accepted",
            m.push_sent.clone(),
        );
        registry.register(
            "push_failed",
            "Notifications given up on (refused, or still failing after retries)",
            m.push_failed.clone(),
        );
        registry.register(
            "push_gone",
            "Push subscriptions deleted because their service said they ended",
            m.push_gone.clone(),
        );
        registry.register(
            "push_dropped",
            "Notifications dropped because too many were waiting",
            m.push_dropped.clone(),
        );
        registry.register(
            "previews_made",
            "Link preview cards added to messages",
            m.previews_made.clone(),
        );
        registry.register(
            "previews_failed",
            "Link previews not made: the site failed, was slow, or had no page",
            m.previews_failed.clone(),
        );
        registry.register(
            "previews_refused",
            "Link previews refused by the outbound guard (private addresses)",
            m.previews_refused.clone(),
        );
        registry.register(
            "previews_skipped",
            "Links not previewed: previews are off, or too many were waiting",
            m.previews_skipped.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    pub fn observe_commit(&self, writes: usize, took: Duration, ok: bool) {
        self.commit_batch_size.observe(writes as f64);
        self.commit_seconds.observe(took.as_secs_f64());
        if !ok {
            self.failed_commits.inc();
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Serves `/metrics` on its own listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: std::sync::Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_names_every_metric() {
        let m = Metrics::default();
        m.messages_committed.inc();
        m.observe_commit(3, Duration::from_millis(2), true);
        let text = m.render();
        for name in [
            "chat_open_connections",
            "chat_messages_committed_total 1",
            "chat_commit_batch_size_count 1",
            "chat_commit_seconds_bucket",
            "chat_broadcast_lag_seconds",
            "chat_clients_too_slow_total",
            "chat_rate_limited_total",
            "chat_push_sent_total",
            "chat_push_dropped_total",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
