//! One traffic run: connect every client, let the senders post (open loop
//! at a total rate, or closed loop with a number of messages in flight),
//! record every (message, receiver) pair, then drain and report.

use crate::procfs::{CpuMeter, Usage};
use crate::target::{send_text, Frame, Payload, Socket, Target};
use futures::stream::FuturesUnordered;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant as TokioInstant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone)]
pub struct Plan {
    pub clients: usize,
    pub senders: usize,
    /// Open loop: messages per second, in total over all senders.
    pub rate: Option<f64>,
    /// Closed loop: messages each sender keeps in flight.
    pub in_flight: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub drain: Duration,
    pub size: usize,
    /// Closed loop completes on the server's ack (this chat) or on the
    /// sender seeing its own message come back (the seed has no acks).
    pub complete_on_echo: bool,
    pub max_messages: u64,
    pub connect_concurrency: usize,
    /// Clients arrive spread over this long, each reading from the moment
    /// it is in (as a page does); senders start once the last is in, so
    /// nobody misses a message for arriving late and a crowd's handshakes
    /// are not counted as what its messages cost.
    /// `None`: everyone connects first, as fast as allowed.
    pub join: Option<Duration>,
    /// Every client picks a name (not only the senders): it shows in the
    /// room's list of who is here.
    pub all_named: bool,
    /// Clients spread over rooms, named and placed before the run; each
    /// receives only its own room's senders.
    pub layout: Option<Arc<crate::rooms::Layout>>,
}

/// The run's timeline as clients receive it: none yet while a crowd is
/// still arriving.
type ClockRx = watch::Receiver<Option<Arc<Clock>>>;

/// The run's timeline, shared by every client.
struct Clock {
    base: Instant,
    /// Latency and deliveries count inside [window_start, window_end).
    window_start: u64,
    window_end: u64,
    /// Senders stop at the window's end; receivers listen on to `end`.
    end: TokioInstant,
    /// Senders start here (after every client has arrived).
    start_sending: u64,
}

impl Clock {
    fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }

    fn in_window(&self, us: u64) -> bool {
        (self.window_start..self.window_end).contains(&us)
    }
}

/// What one receiver saw of one sender's messages.
#[derive(Default)]
struct Seen {
    bits: Vec<u64>,
    distinct: u64,
    max_seq: Option<u32>,
}

impl Seen {
    /// Records `seq`; returns whether it was new.
    fn has(&self, seq: u32) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        self.bits.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    fn insert(&mut self, seq: u32) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        let fresh = self.bits[word] & (1 << bit) == 0;
        self.bits[word] |= 1 << bit;
        if fresh {
            self.distinct += 1;
        }
        fresh
    }
}

/// Latencies in microseconds, as one client saw them. Plain samples
/// rather than a histogram per client: a 3-significant-figure histogram
/// is 160 KiB of counters, and zeroing 10,000 clients' worth of them kept
/// the load generator busy (in `memset` and page faults) while the run it
/// measured was under way. They are merged into histograms at the end.
#[derive(Default)]
struct Samples(Vec<u32>);

impl Samples {
    /// At least 1 µs: the histograms start there.
    fn record(&mut self, micros: u64) {
        self.0
            .push(u32::try_from(micros.max(1)).unwrap_or(u32::MAX));
    }

    fn add_to(&self, h: &mut Histogram<u64>) {
        for &v in &self.0 {
            let _ = h.record(u64::from(v));
        }
    }
}

/// What one client reports at the end.
struct ClientReport {
    latency: Samples,
    /// With several nodes: from a sender on the receiver's node, and from
    /// one on another node.
    same_node: Samples,
    cross_node: Samples,
    /// A sender's own messages: send to ack.
    ack: Samples,
    deliveries_in_window: u64,
    seen: Vec<Seen>,
    duplicated: u64,
    reordered: u64,
    id_order_violations: u64,
    /// As a sender: messages written, and completed inside the window.
    sent: u64,
    completed_in_window: u64,
    rate_limited: u64,
    errors: u64,
    closed_early: bool,
    /// Bytes of every frame the server sent this client.
    bytes: u64,
    /// History pages sent in place of live messages it fell behind on.
    pages: u64,
    /// Which client it was.
    index: usize,
}

#[derive(Debug, serde::Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    fn of_micros(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1000.0;
        Self {
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub clients: usize,
    pub connected: usize,
    /// Seconds from the start until the last client was in; the senders
    /// start then and the window opens `warmup` later.
    pub arrived_secs: f64,
    pub connect_failures: usize,
    pub connect_ms: Percentiles,
    pub senders: usize,
    pub window_secs: f64,
    pub sent: u64,
    /// Messages the server accepted (acked, or echoed for the seed) per
    /// second inside the window.
    pub accepted_per_sec: f64,
    pub deliveries_in_window: u64,
    pub deliveries_per_sec: f64,
    /// Send to receipt, every (message, receiver) pair sent in the window.
    pub latency_ms: Percentiles,
    /// Send to the sender's ack (this chat; empty for the seed).
    pub ack_ms: Percentiles,
    /// With several nodes (`--url` repeated): nodes, and latency split by
    /// whether sender and receiver were on the same one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_node_latency_ms: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_node_latency_ms: Option<Percentiles>,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub id_order_violations: u64,
    pub rate_limited: u64,
    pub errors: u64,
    pub clients_closed_early: u64,
    /// History pages the server sent in place of live messages a client
    /// fell behind on (their messages count as received when the page
    /// came); each is one client's gap.
    pub pages: u64,
    /// Bytes the server sent each client over the whole run (arrival,
    /// who is here, messages): mean and most.
    pub received_bytes_mean: f64,
    pub received_bytes_max: u64,
    pub usage: Usage,
}

fn histogram() -> Histogram<u64> {
    // Microseconds up to 10 minutes, 3 significant figures.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant bounds are valid")
}

pub async fn run(
    targets: Vec<Arc<Target>>,
    plan: Plan,
    server_pids: &[u32],
) -> Result<Report, String> {
    let base = Instant::now();
    let nodes = targets.len().max(1);
    let senders_wanted = plan.senders.min(plan.clients);
    let per_sender_period = plan
        .rate
        .map(|r| Duration::from_secs_f64(senders_wanted as f64 / r.max(0.001)));
    let budget = plan.max_messages / senders_wanted.max(1) as u64;
    let pids = server_pids.to_vec();
    let spawn_client = {
        let targets = targets.clone();
        let plan = plan.clone();
        move |index: usize, socket: Socket, clock: ClockRx| {
            let role = (index < senders_wanted).then_some(index as u32);
            let target = targets[index % nodes].clone();
            let node = Node {
                mine: index % nodes,
                count: nodes,
            };
            let plan = plan.clone();
            tokio::spawn(async move {
                let mut report = client(
                    target,
                    node,
                    socket,
                    role,
                    senders_wanted,
                    per_sender_period,
                    budget,
                    clock,
                    plan,
                )
                .await;
                report.index = index;
                report
            })
        }
    };
    let start_meter = |clock: &Clock| {
        let pids = pids.clone();
        let at = TokioInstant::from_std(base + Duration::from_micros(clock.window_start));
        tokio::spawn(async move {
            sleep_until(at).await;
            CpuMeter::start(&pids)
        })
    };
    let (tasks, clock, connected, failures, connect_ms) = match plan.join {
        None => {
            let (sockets, connect_ms, failures) = connect_all(&targets, &plan, base).await;
            let clock = clock_from(base, base.elapsed(), &plan);
            let (_, rx) = watch::channel(Some(clock.clone()));
            let connected = sockets.len();
            let tasks: Vec<_> = sockets
                .into_iter()
                .map(|(index, socket)| spawn_client(index, socket, rx.clone()))
                .collect();
            (tasks, clock, connected, failures, connect_ms)
        }
        Some(join) => {
            // Everyone reads from the moment they are in; the timeline
            // starts once the last is.
            let (tx, rx) = watch::channel(None);
            let (tasks, connect_ms, failures) =
                arrive(&targets, &plan, base, join, &rx, &spawn_client).await;
            let clock = clock_from(base, base.elapsed(), &plan);
            let _ = tx.send(Some(clock.clone()));
            let connected = tasks.len();
            (tasks, clock, connected, failures, connect_ms)
        }
    };
    let meter = start_meter(&clock);
    if connected == 0 {
        return Err("no client could connect".into());
    }
    // Senders are the clients below this index (see `role`), whether or
    // not each of them got in.
    let senders = senders_wanted;
    // Usage is measured over the window only.
    let meter = meter.await.map_err(|e| e.to_string())?;
    sleep_until(TokioInstant::from_std(
        base + Duration::from_micros(clock.window_end),
    ))
    .await;
    let usage = meter.stop();
    let mut reports = Vec::new();
    for t in tasks {
        reports.push(t.await.map_err(|e| e.to_string())?);
    }
    // Clients that arrive over time finish connecting in any order; the
    // senders' counts are read by index.
    reports.sort_by_key(|r| r.index);
    let mut report = summarise(
        &plan, connected, failures, connect_ms, senders, nodes, reports, usage,
    );
    report.arrived_secs = Duration::from_micros(clock.start_sending).as_secs_f64();
    Ok(report)
}

/// The timeline when sending may start `ready` after `base`.
fn clock_from(base: Instant, ready: Duration, plan: &Plan) -> Arc<Clock> {
    let start_us = ready.as_micros() as u64;
    let window_start = start_us + plan.warmup.as_micros() as u64;
    let window_end = window_start + plan.duration.as_micros() as u64;
    Arc::new(Clock {
        base,
        window_start,
        window_end,
        end: TokioInstant::from_std(base + Duration::from_micros(window_end) + plan.drain),
        start_sending: start_us,
    })
}

/// Clients arriving evenly over `join`, each started as soon as it is in.
async fn arrive(
    targets: &[Arc<Target>],
    plan: &Plan,
    base: Instant,
    join: Duration,
    clock: &ClockRx,
    spawn_client: &impl Fn(usize, Socket, ClockRx) -> tokio::task::JoinHandle<ClientReport>,
) -> (
    Vec<tokio::task::JoinHandle<ClientReport>>,
    Histogram<u64>,
    usize,
) {
    let mut times = histogram();
    let mut failures = 0;
    let mut tasks = Vec::with_capacity(plan.clients);
    let step = join.div_f64(plan.clients.max(1) as f64);
    let attempts = futures::stream::iter(0..plan.clients)
        .map(|i| {
            let target = targets[i % targets.len().max(1)].clone();
            let named = plan.all_named || i < plan.senders;
            async move {
                sleep_until(TokioInstant::from_std(base + step.mul_f64(i as f64))).await;
                let (device, name, room) = who(plan, i, named);
                let t = base.elapsed();
                let result = target.connect(&device, name.as_deref(), room).await;
                (i, result, base.elapsed() - t)
            }
        })
        .buffer_unordered(plan.connect_concurrency.max(1));
    futures::pin_mut!(attempts);
    while let Some((i, result, took)) = attempts.next().await {
        match result {
            Ok(socket) => {
                let _ = times.record(took.as_micros() as u64);
                tasks.push(spawn_client(i, socket, clock.clone()));
            }
            Err(e) => {
                failures += 1;
                if failures <= 3 {
                    eprintln!("client {i}: {e}");
                }
            }
        }
    }
    (tasks, times, failures)
}

/// Client `i`'s device, the name it picks as it connects, and its room.
fn who(plan: &Plan, i: usize, named: bool) -> (String, Option<String>, Option<i64>) {
    match &plan.layout {
        // Named when the rooms were laid out.
        Some(layout) => (
            layout.devices.get(i).cloned().unwrap_or_default(),
            None,
            layout.room(i),
        ),
        None => (
            uuid::Uuid::new_v4().to_string(),
            named.then(|| format!("lg{i}")),
            None,
        ),
    }
}

/// Which node a client is on, of how many: client i is on node i mod n
/// (senders too, so a sender's node follows from its index).
#[derive(Clone, Copy)]
struct Node {
    mine: usize,
    count: usize,
}

async fn connect_all(
    targets: &[Arc<Target>],
    plan: &Plan,
    base: Instant,
) -> (Vec<(usize, Socket)>, Histogram<u64>, usize) {
    let mut times = histogram();
    let mut failures = 0;
    let mut sockets = Vec::with_capacity(plan.clients);
    let attempts = futures::stream::iter(0..plan.clients)
        .map(|i| {
            let target = targets[i % targets.len().max(1)].clone();
            let named = plan.all_named || i < plan.senders;
            async move {
                let (device, name, room) = who(plan, i, named);
                let t = base.elapsed();
                let result = target.connect(&device, name.as_deref(), room).await;
                (i, result, base.elapsed() - t)
            }
        })
        .buffer_unordered(plan.connect_concurrency.max(1));
    futures::pin_mut!(attempts);
    while let Some((i, result, took)) = attempts.next().await {
        match result {
            Ok(socket) => {
                let _ = times.record(took.as_micros() as u64);
                sockets.push((i, socket));
            }
            Err(e) => {
                failures += 1;
                if failures <= 3 {
                    eprintln!("client {i}: {e}");
                }
            }
        }
    }
    // Senders first, in index order, so the payload's sender is stable.
    sockets.sort_by_key(|(i, _)| *i);
    (sockets, times, failures)
}

#[allow(clippy::too_many_arguments)]
async fn client(
    target: Arc<Target>,
    node: Node,
    socket: Socket,
    sender: Option<u32>,
    senders: usize,
    period: Option<Duration>,
    budget: u64,
    mut clock: ClockRx,
    plan: Plan,
) -> ClientReport {
    let (mut sink, mut stream) = socket.split();
    let mut report = ClientReport {
        index: 0,
        latency: Samples::default(),
        same_node: Samples::default(),
        cross_node: Samples::default(),
        ack: Samples::default(),
        deliveries_in_window: 0,
        seen: (0..senders).map(|_| Seen::default()).collect(),
        duplicated: 0,
        reordered: 0,
        id_order_violations: 0,
        sent: 0,
        completed_in_window: 0,
        rate_limited: 0,
        errors: 0,
        closed_early: false,
        bytes: 0,
        pages: 0,
    };
    let Some(clock) = timeline(
        &target,
        node,
        &mut clock,
        &mut sink,
        &mut stream,
        &mut report,
    )
    .await
    else {
        report.closed_early = true;
        return report;
    };
    let stop_sending = clock.window_end;
    let mut last_id = None;
    let mut seq = 0u32;
    let send_one = |seq: &mut u32| -> Option<String> {
        let me = sender?;
        let now = clock.now_us();
        if now >= stop_sending || u64::from(*seq) >= budget {
            return None;
        }
        let payload = Payload {
            sender: me,
            seq: *seq,
            sent_us: now,
        };
        *seq += 1;
        let room = plan.layout.as_ref().and_then(|l| l.room(me as usize));
        Some(target.message_frame(payload.text(plan.size), room))
    };
    // Open loop: a schedule per sender, staggered so senders interleave;
    // when clients arrive over time, from once they all have.
    let first = TokioInstant::from_std(clock.base + Duration::from_micros(clock.start_sending))
        .max(TokioInstant::now());
    let mut next_send = period.map(|p| {
        let offset = p.mul_f64(f64::from(sender.unwrap_or(0)) / senders.max(1) as f64);
        first + offset
    });
    if sender.is_some() && period.is_none() {
        for _ in 0..plan.in_flight {
            if let Some(frame) = send_one(&mut seq) {
                let _ = sink.feed(Message::text(frame)).await;
            }
        }
        let _ = sink.flush().await;
    }
    let far = clock.end + Duration::from_secs(3600);
    loop {
        let tick = match (sender, next_send) {
            (Some(_), Some(at)) => at,
            _ => far,
        };
        tokio::select! {
            frame = stream.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => { report.bytes += text.len() as u64; text }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => { report.closed_early = true; break; }
                };
                let now = clock.now_us();
                let mut completed = false;
                match target.classify(text.as_str()) {
                    Frame::Delivery { payload, id } => {
                        if let Some(id) = id {
                            if last_id.is_some_and(|last| id <= last) {
                                report.id_order_violations += 1;
                            }
                            last_id = Some(id);
                        }
                        record(&mut report, &clock, node, payload, now, false);
                        completed = plan.complete_on_echo && Some(payload.sender) == sender;
                        if completed && clock.in_window(now) {
                            report.completed_in_window += 1;
                        }
                    }
                    Frame::Ack(payload) => {
                        if clock.in_window(now) {
                            report.completed_in_window += 1;
                        }
                        if clock.in_window(payload.sent_us) {
                            report.ack.record(now.saturating_sub(payload.sent_us));
                        }
                        completed = !plan.complete_on_echo && Some(payload.sender) == sender;
                    }
                    Frame::Page(payloads) => {
                        // Shown as a page, not delivered one by one: new
                        // ones count as received then, repeats are not
                        // duplicates.
                        report.pages += 1;
                        for payload in payloads {
                            if report.seen.get(payload.sender as usize).is_some_and(|s| !s.has(payload.seq)) {
                                record(&mut report, &clock, node, payload, now, true);
                            }
                        }
                    }
                    Frame::RateLimited => report.rate_limited += 1,
                    Frame::Error => report.errors += 1,
                    Frame::Ping => { let _ = sink.send(Message::text("3")).await; }
                    Frame::Other => {}
                }
                if completed && period.is_none() {
                    if let Some(frame) = send_one(&mut seq) {
                        if sink.send(Message::text(frame)).await.is_err() { report.closed_early = true; break; }
                    }
                }
            }
            _ = sleep_until(tick) => {
                if let (Some(at), Some(p)) = (next_send, period) {
                    next_send = Some(at + p);
                    match send_one(&mut seq) {
                        Some(frame) => {
                            if sink.send(Message::text(frame)).await.is_err() { report.closed_early = true; break; }
                        }
                        None => next_send = None,
                    }
                }
            }
            _ = sleep_until(clock.end) => break,
        }
    }
    report.sent = u64::from(seq);
    let _ = sink.close().await;
    report
}

/// Waits for the run's timeline, reading (and answering pings) as a page
/// does meanwhile; `None` if the socket closes first.
async fn timeline(
    target: &Target,
    node: Node,
    clock: &mut ClockRx,
    sink: &mut SplitSink<Socket, Message>,
    stream: &mut SplitStream<Socket>,
    report: &mut ClientReport,
) -> Option<Arc<Clock>> {
    loop {
        if let Some(c) = clock.borrow_and_update().clone() {
            return Some(c);
        }
        tokio::select! {
            biased;
            changed = clock.changed() => changed.ok()?,
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    report.bytes += text.len() as u64;
                    match target.classify(text.as_str()) {
                        Frame::Ping => sink.send(Message::text("3")).await.ok()?,
                        // Nothing is sent before the timeline: a message
                        // means it was set while this frame was read.
                        Frame::Delivery { payload, .. } => {
                            let c = clock.borrow_and_update().clone()?;
                            record(report, &c, node, payload, c.now_us(), false);
                            return Some(c);
                        }
                        _ => {}
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            },
        }
    }
}

/// One received message; from a page of history (`paged`), it is shown in
/// order whatever came before it.
fn record(
    report: &mut ClientReport,
    clock: &Clock,
    node: Node,
    payload: Payload,
    now: u64,
    paged: bool,
) {
    let Some(seen) = report.seen.get_mut(payload.sender as usize) else {
        return;
    };
    let late = !paged && seen.max_seq.is_some_and(|max| payload.seq < max);
    if !seen.insert(payload.seq) {
        report.duplicated += 1;
        return;
    }
    if late {
        report.reordered += 1;
    }
    seen.max_seq = Some(seen.max_seq.map_or(payload.seq, |m| m.max(payload.seq)));
    if clock.in_window(now) {
        report.deliveries_in_window += 1;
    }
    if clock.in_window(payload.sent_us) {
        let took = now.saturating_sub(payload.sent_us);
        report.latency.record(took);
        if node.count > 1 {
            let split = if payload.sender as usize % node.count == node.mine {
                &mut report.same_node
            } else {
                &mut report.cross_node
            };
            split.record(took);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn summarise(
    plan: &Plan,
    connected: usize,
    connect_failures: usize,
    connect_ms: Histogram<u64>,
    senders: usize,
    nodes: usize,
    reports: Vec<ClientReport>,
    usage: Usage,
) -> Report {
    let window = plan.duration.as_secs_f64();
    let mut sent_by = vec![0; senders];
    for r in reports.iter().filter(|r| r.index < senders) {
        sent_by[r.index] = r.sent;
    }
    let mut latency = histogram();
    let (mut same, mut cross, mut ack) = (histogram(), histogram(), histogram());
    let mut lost = 0;
    for r in &reports {
        r.latency.add_to(&mut latency);
        r.same_node.add_to(&mut same);
        r.cross_node.add_to(&mut cross);
        r.ack.add_to(&mut ack);
        if r.closed_early {
            continue;
        }
        // Across rooms, a client hears its own room's senders alone.
        let room = |i: usize| plan.layout.as_ref().and_then(|l| l.room_of.get(i).copied());
        for (s, seen) in r.seen.iter().enumerate() {
            if room(s) != room(r.index) {
                continue;
            }
            let missing = sent_by
                .get(s)
                .copied()
                .unwrap_or(0)
                .saturating_sub(seen.distinct);
            if missing > 0 && std::env::var_os("LOADGEN_LOST_DETAIL").is_some() {
                let sent = sent_by.get(s).copied().unwrap_or(0) as u32;
                let gaps: Vec<u32> = (0..sent).filter(|q| !seen.has(*q)).take(20).collect();
                eprintln!("client {} missed from sender {s}: {gaps:?}", r.index);
            }
            lost += missing;
        }
    }
    let sum = |f: fn(&ClientReport) -> u64| reports.iter().map(f).sum::<u64>();
    let accepted = if plan.complete_on_echo {
        // The seed has no acks: a message counts once it came back to its sender.
        reports
            .iter()
            .filter(|r| r.index < senders)
            .map(|r| r.completed_in_window)
            .sum::<u64>()
    } else {
        sum(|r| r.completed_in_window)
    };
    let deliveries = sum(|r| r.deliveries_in_window);
    Report {
        clients: plan.clients,
        connected,
        arrived_secs: 0.0,
        connect_failures,
        connect_ms: Percentiles::of_micros(&connect_ms),
        senders,
        window_secs: window,
        sent: sent_by.iter().sum(),
        accepted_per_sec: accepted as f64 / window,
        deliveries_in_window: deliveries,
        deliveries_per_sec: deliveries as f64 / window,
        latency_ms: Percentiles::of_micros(&latency),
        ack_ms: Percentiles::of_micros(&ack),
        nodes: (nodes > 1).then_some(nodes),
        same_node_latency_ms: (nodes > 1).then(|| Percentiles::of_micros(&same)),
        cross_node_latency_ms: (nodes > 1).then(|| Percentiles::of_micros(&cross)),
        lost,
        duplicated: sum(|r| r.duplicated),
        reordered: sum(|r| r.reordered),
        id_order_violations: sum(|r| r.id_order_violations),
        rate_limited: sum(|r| r.rate_limited),
        errors: sum(|r| r.errors),
        clients_closed_early: reports.iter().filter(|r| r.closed_early).count() as u64,
        pages: sum(|r| r.pages),
        received_bytes_mean: reports.iter().map(|r| r.bytes as f64).sum::<f64>()
            / reports.len().max(1) as f64,
        received_bytes_max: reports.iter().map(|r| r.bytes).max().unwrap_or(0),
        usage,
    }
}

/// Connects `clients` and leaves them idle, for memory per connection.
pub async fn idle(
    target: Arc<Target>,
    clients: usize,
    hold: Duration,
    concurrency: usize,
    server_pids: &[u32],
) -> Result<IdleReport, String> {
    let before = crate::procfs::read(server_pids);
    let plan = Plan {
        clients,
        senders: 0,
        rate: None,
        in_flight: 0,
        warmup: Duration::ZERO,
        duration: Duration::ZERO,
        drain: Duration::ZERO,
        size: 0,
        complete_on_echo: false,
        max_messages: 0,
        connect_concurrency: concurrency,
        join: None,
        all_named: false,
        layout: None,
    };
    let (sockets, connect_ms, failures) =
        connect_all(std::slice::from_ref(&target), &plan, Instant::now()).await;
    // Keep every socket read (pings answered) while holding.
    let connected = sockets.len();
    let holders: FuturesUnordered<_> = sockets
        .into_iter()
        .map(|(_, mut socket)| async move {
            let until = TokioInstant::now() + hold;
            loop {
                tokio::select! {
                    frame = socket.next() => match frame {
                        Some(Ok(Message::Text(t))) if t.as_str() == "2" => { let _ = send_text(&mut socket, "3".into()).await; }
                        Some(Ok(_)) => {}
                        _ => return socket,
                    },
                    _ = sleep_until(until) => return socket,
                }
            }
        })
        .collect();
    let settle = tokio::spawn(async move { holders.collect::<Vec<_>>().await });
    tokio::time::sleep(hold / 2).await;
    let after = crate::procfs::read(server_pids);
    let sockets = settle.await.map_err(|e| e.to_string())?;
    drop(sockets);
    Ok(IdleReport {
        clients,
        connected,
        connect_failures: failures,
        connect_ms: Percentiles::of_micros(&connect_ms),
        rss_before_kb: before.rss_kb,
        rss_after_kb: after.rss_kb,
        rss_per_connection_kb: (after.rss_kb.saturating_sub(before.rss_kb)) as f64
            / connected.max(1) as f64,
        server_threads: after.threads,
    })
}

#[derive(Debug, serde::Serialize)]
pub struct IdleReport {
    pub clients: usize,
    pub connected: usize,
    pub connect_failures: usize,
    pub connect_ms: Percentiles,
    pub rss_before_kb: u64,
    pub rss_after_kb: u64,
    pub rss_per_connection_kb: f64,
    pub server_threads: u64,
}
