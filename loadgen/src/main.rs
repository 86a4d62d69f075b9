//! Load generator for the chat: real clients over the real protocol (or
//! the Flask seed's Socket.IO), loopback only, bounded in time and count.
//! Prints one JSON report on stdout.
//!
//!     loadgen run --url https://127.0.0.1:8443 --clients 100 --senders 10 --in-flight 1
//!     loadgen run --url … --clients 1000 --senders 10 --rate 100
//!     loadgen idle --url … --clients 10000 --server-pid 1234

mod procfs;
mod rooms;
mod run;
mod target;
mod tls;

use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use target::{Protocol, Target};

/// Hard bounds, so a typo cannot run away with the machine.
const MAX_CLIENTS: usize = 50_000;
const MAX_SECS: u64 = 600;

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Load generator for the chat (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Traffic: senders post, every client receives; latency, throughput,
    /// loss, duplicates and order are measured.
    Run(RunArgs),
    /// Connects clients and holds them idle: memory per connection.
    Idle(IdleArgs),
}

#[derive(Args)]
struct Common {
    /// Server base URL, e.g. https://127.0.0.1:8443 (loopback only).
    /// Repeat it for several nodes of one chat: client i connects to the
    /// (i mod n)th, and latency is reported same-node and cross-node too.
    #[arg(long, required = true)]
    url: Vec<String>,
    /// Which server speaks at that URL.
    #[arg(long, value_enum, default_value = "chat")]
    protocol: Protocol,
    /// Server process ids to read CPU, memory and threads from.
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Connections opened at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Runtime worker threads of the load generator itself.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Open loop: messages per second in total.
    #[arg(long, conflicts_with = "in_flight")]
    rate: Option<f64>,
    /// Closed loop: messages each sender keeps in flight.
    #[arg(long, default_value_t = 1)]
    in_flight: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Seconds of traffic before the measured window.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Seconds to wait for deliveries after sending stops.
    #[arg(long, default_value_t = 3)]
    drain: u64,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Closed loop completes when the sender sees its own message (the
    /// seed has no acks); otherwise on the ack.
    #[arg(long)]
    complete_on_echo: bool,
    #[arg(long, default_value_t = 2_000_000)]
    max_messages: u64,
    /// Clients arrive spread over this many seconds, each reading from
    /// the moment it is in; senders start once all have arrived.
    #[arg(long)]
    join_secs: Option<f64>,
    /// Every client picks a name (it shows in who is here), not only the
    /// senders.
    #[arg(long)]
    all_named: bool,
    /// Clients spread over this many rooms (client i in room i mod n),
    /// all named, each showing its own; senders post into theirs.
    #[arg(long, default_value_t = 0)]
    rooms: usize,
    /// The rooms are private, their clients their members.
    #[arg(long, requires = "rooms")]
    private: bool,
    /// This many direct conversations between pairs of clients, started
    /// before the run.
    #[arg(long, default_value_t = 0, requires = "rooms")]
    directs: usize,
}

#[derive(Args)]
struct IdleArgs {
    #[command(flatten)]
    common: Common,
    /// Seconds to hold the connections open.
    #[arg(long, default_value_t = 6)]
    hold: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let common = match &cli.mode {
        Mode::Run(a) => &a.common,
        Mode::Idle(a) => &a.common,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(common.threads.max(1))
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli.mode)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(mode: Mode) -> Result<String, String> {
    let secs = |s: u64| Duration::from_secs(s.min(MAX_SECS));
    match mode {
        Mode::Run(a) => {
            let c = a.common;
            let targets = c
                .url
                .iter()
                .map(|u| Target::new(u, c.protocol).map(Arc::new))
                .collect::<Result<Vec<_>, _>>()?;
            let plan = run::Plan {
                clients: c.clients.min(MAX_CLIENTS),
                senders: a.senders,
                rate: a.rate,
                in_flight: a.in_flight.max(1),
                warmup: secs(a.warmup),
                duration: secs(a.duration.max(1)),
                drain: secs(a.drain),
                size: a.size,
                complete_on_echo: a.complete_on_echo || c.protocol == Protocol::Seed,
                max_messages: a.max_messages,
                connect_concurrency: c.connect_concurrency,
                join: a.join_secs.map(|s| Duration::from_secs_f64(s.max(0.0))),
                all_named: a.all_named,
                layout: None,
            };
            let mut plan = plan;
            if a.rooms > 0 {
                let target = targets.first().ok_or("no --url")?;
                let shape = rooms::Shape {
                    clients: plan.clients,
                    rooms: a.rooms,
                    private: a.private,
                    directs: a.directs,
                    concurrency: plan.connect_concurrency,
                };
                plan.layout = Some(Arc::new(rooms::prepare(target, shape).await?));
            }
            let report = run::run(targets, plan, &c.server_pids).await?;
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())
        }
        Mode::Idle(a) => {
            let c = a.common;
            let url = c.url.first().ok_or("no --url")?;
            let target = Arc::new(Target::new(url, c.protocol)?);
            let report = run::idle(
                target,
                c.clients.min(MAX_CLIENTS),
                secs(a.hold.max(2)),
                c.connect_concurrency,
                &c.server_pids,
            )
            .await?;
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())
        }
    }
}
