//! `optimizer-agent traffic`: the synthetic client that runs in its own container beside the
//! agent, so latency, error rate and cache metrics move as they do in production. It serves
//! what it sees on `GET /stats` and `GET /metrics` and logs a JSON summary every 10 s. firedrill
//! changes what the clients do through the control endpoint on the same port (see [`control`]).

pub mod control;
mod generated;
mod generator;
mod metrics;
mod mix;
mod outcome;
mod recorder;
mod stats_server;
mod window;

use std::ffi::OsString;
use std::future::{Future, IntoFuture};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;

use crate::paths::TRAFFIC_STATS_PORT;
use control::Control;
use generator::Generator;
use mix::RequestMix;
use recorder::Recorder;
pub use stats_server::StatsReport;
use stats_server::StatsState;

/// The fastest rate accepted; more would measure the client rather than the agent.
const MAX_RATE: f64 = 1000.0;

/// `optimizer-agent traffic` command line.
#[derive(Debug, Parser)]
#[command(
    name = "optimizer-agent traffic",
    about = "Synthetic client traffic against the Docker Optimizer Agent"
)]
struct TrafficArgs {
    /// Base URL of the agent, e.g. http://agent:8080
    #[arg(long, value_parser = parse_target)]
    target: String,
    /// Requests per second, sent on a fixed schedule
    #[arg(long, default_value_t = 2.0, value_parser = parse_rate)]
    rate: f64,
    /// Port of the statistics and control endpoint (GET /stats, GET /metrics, /control), bound on 0.0.0.0
    #[arg(long, default_value_t = TRAFFIC_STATS_PORT)]
    stats_port: u16,
    /// Seed of the request mix, for a reproducible sequence
    #[arg(long)]
    seed: Option<u64>,
}

/// Everything a traffic run needs; `main` fills it from the command line with production values.
#[derive(Debug, Clone)]
pub struct TrafficSettings {
    /// Base URL of the agent, without a trailing slash.
    pub target: String,
    pub requests_per_second: f64,
    pub seed: Option<u64>,
    /// The Dockerfiles to send: (name, content).
    pub corpus: Vec<(&'static str, &'static str)>,
    /// Span of the sliding window behind `/stats`.
    pub window: Duration,
    /// A request not fully answered within this counts as a timeout.
    pub request_timeout: Duration,
    /// More requests in flight than this are not sent and count as "overload" errors.
    pub max_in_flight: usize,
    /// Interval of the JSON summary line on stdout.
    pub summary_interval: Duration,
    /// Whether to hold the first request until the agent's `/health/ready` answers 200.
    pub wait_for_ready: bool,
}

impl TrafficSettings {
    /// The settings of the sandbox's traffic container.
    pub fn production(
        target: String,
        requests_per_second: f64,
        seed: Option<u64>,
    ) -> TrafficSettings {
        TrafficSettings {
            target,
            requests_per_second,
            seed,
            corpus: crate::assets::corpus(),
            window: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            max_in_flight: 64,
            summary_interval: Duration::from_secs(10),
            wait_for_ready: true,
        }
    }
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let args = match TrafficArgs::try_parse_from(
        std::iter::once(OsString::from("optimizer-agent traffic")).chain(args),
    ) {
        Ok(args) => args,
        Err(error) => {
            // Prints help or the usage error; clap's exit code is 0 or 2 accordingly.
            let _ = error.print();
            return ExitCode::from(error.exit_code() as u8);
        }
    };
    init_json_logging();
    // One thread is plenty for a few requests per second and keeps the container's RSS small.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let settings = TrafficSettings::production(args.target, args.rate, args.seed);
    runtime.block_on(async {
        let listener = match TcpListener::bind(("0.0.0.0", args.stats_port)).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, port = args.stats_port, "cannot bind the statistics port");
                return ExitCode::FAILURE;
            }
        };
        match run(settings, listener, termination_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "statistics server failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// Sends traffic and serves statistics on `stats_listener` until `shutdown` completes.
pub async fn run(
    settings: TrafficSettings,
    stats_listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let recorder = Arc::new(Recorder::new(settings.window));
    let control = Control::new(settings.requests_per_second);
    let stats = StatsState {
        recorder: Arc::clone(&recorder),
        target: settings.target.clone(),
        control: Arc::clone(&control),
    };
    let client = client()?;
    let generator = Generator {
        client: client.clone(),
        target: settings.target.clone(),
        control: Arc::clone(&control),
        request_timeout: settings.request_timeout,
        max_in_flight: settings.max_in_flight,
        wait_for_ready: settings.wait_for_ready,
        mix: RequestMix::new(&settings.corpus, settings.seed),
        recorder: Arc::clone(&recorder),
    };
    let poison_client = control::run_poison_client(
        Arc::clone(&control),
        client.clone(),
        settings.target.clone(),
        Arc::clone(&recorder),
    );
    // Generated inputs differ between runs too (a restarted client must not repeat itself),
    // unless a seed asks for a reproducible sequence.
    let instance = settings.seed.unwrap_or_else(rand::random);
    let unique_inputs = control::run_unique_inputs(
        instance,
        Arc::clone(&control),
        client.clone(),
        settings.target.clone(),
        recorder,
    );
    tracing::info!(
        target_url = %settings.target,
        rate = settings.requests_per_second,
        stats_addr = %stats_listener.local_addr()?,
        corpus = settings.corpus.len(),
        "traffic started"
    );
    if settings.corpus.is_empty() {
        tracing::warn!("the Dockerfile corpus is empty: sending health checks only");
    }
    let routes = stats_server::router(stats.clone()).merge(control::router(control));
    let server = axum::serve(stats_listener, routes);
    tokio::select! {
        result = server.into_future() => result?,
        () = generator.run() => {}
        () = poison_client => {}
        () = unique_inputs => {}
        () = log_summaries(&stats, settings.summary_interval) => {}
        () = shutdown => tracing::info!("traffic stopped"),
    }
    Ok(())
}

/// The HTTP client of every request the traffic sends.
///
/// A new connection per request, as a client behind a DNS-based service does: each request
/// resolves the target again, so with several agents behind one name (Docker's DNS answers with
/// every container of a network alias, the replicas of `firedrill sandbox scale`) the requests
/// spread over them, a stopped one drops out at once, and when one refuses the connection (an
/// agent draining on SIGTERM closes its listener) the connector tries the next address instead
/// of failing the request. Pooled connections would stay pinned to one agent.
fn client() -> std::io::Result<reqwest::Client> {
    client_builder().build().map_err(std::io::Error::other)
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent("firedrill-traffic")
        .pool_max_idle_per_host(0)
}

/// Logs the window's numbers every `interval`, for `docker logs` of the traffic container.
async fn log_summaries(stats: &StatsState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await; // the first tick is immediate and the window still empty
    loop {
        ticker.tick().await;
        let report = stats.report(None);
        tracing::info!(
            window_seconds = report.window_seconds,
            requests = report.requests,
            errors = report.errors,
            error_rate = report.error_rate,
            p50_ms = report.p50_ms,
            p95_ms = report.p95_ms,
            p99_ms = report.p99_ms,
            timeouts = report.timeouts,
            in_flight = report.in_flight,
            last_error = report.last_error,
            "traffic summary"
        );
    }
}

/// Completes on SIGTERM (`docker stop`) or SIGINT.
async fn termination_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot watch SIGTERM; stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn init_json_logging() {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_target(false)
        .with_writer(std::io::stdout)
        .init();
}

fn parse_target(value: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(value).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the target must be an http:// or https:// URL".to_string());
    }
    Ok(value.trim_end_matches('/').to_string())
}

fn parse_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= MAX_RATE => Ok(rate),
        _ => Err(format!(
            "must be a number of requests per second above 0 and at most {MAX_RATE}"
        )),
    }
}

#[cfg(test)]
mod tests;
