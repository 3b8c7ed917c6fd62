//! The tokio service around the engine: the control socket (mode 0600, line-delimited
//! JSON), the watch directory, periodic rescans for endpoints and the metrics endpoint.
//!
//! The engine runs on its own OS thread and takes one command at a time, so applies are
//! serialised; status requests are answered from the published status meanwhile. Every
//! thread is started from the thread that called [`run`] or [`run_until`], so all of them
//! work in that thread's network namespace.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use polc_ebpf::bundle::{Digest, MANIFEST_FILE};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;

use crate::engine::{AgentConfig, ApplyFailure, Engine, Shared, StartError};
use crate::fault::FaultPlan;
use crate::kernel::NodeKernel;
use crate::protocol::{ApplyReport, MAX_REQUEST_LENGTH, Request, Response, parse_request};

/// Why the agent stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("cannot listen on `{path}`: {source}")]
    Socket {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another agent is listening on `{0}`")]
    SocketInUse(PathBuf),
    #[error("the metrics address `{0}` is not a loopback address")]
    MetricsNotLoopback(SocketAddr),
    #[error("cannot serve metrics on `{address}`: {source}")]
    Metrics {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("{0}")]
    Fault(String),
}

/// A command for the engine thread.
enum Command {
    Apply { bundle: PathBuf, received: Instant, reply: oneshot::Sender<Result<ApplyReport, ApplyFailure>> },
    Rescan,
}

/// Runs the agent until SIGINT or SIGTERM.
pub fn run(config: AgentConfig) -> Result<(), AgentError> {
    run_until(config, async {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
    })
}

/// Runs the agent until `shutdown` completes. The datapath stays live afterwards.
/// `POLC_AGENT_FAULT` (a testing hook, see [`crate::fault`]) is read here when the
/// configuration has no fault plan.
pub fn run_until(mut config: AgentConfig, shutdown: impl Future<Output = ()>) -> Result<(), AgentError> {
    if config.fault.is_none() {
        config.fault = FaultPlan::from_environment().map_err(AgentError::Fault)?;
    }
    if let Some(address) = config.metrics
        && !address.ip().is_loopback()
    {
        return Err(AgentError::MetricsNotLoopback(address));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(AgentError::Runtime)?;
    // The socket first: a second agent must not touch the state of a running one.
    let listener = {
        let _context = runtime.enter();
        bind_socket(&config.socket)?
    };
    let shared = Arc::new(Shared::new(NodeKernel::new(&config.bpffs)));
    let (commands, engine_thread) = match spawn_engine(config.clone(), Arc::clone(&shared)) {
        Ok(engine) => engine,
        Err(error) => {
            drop(listener);
            let _ = std::fs::remove_file(&config.socket);
            return Err(error);
        }
    };
    let result = runtime.block_on(serve(config.clone(), listener, shared, commands, shutdown));
    // Dropping the last sender ends the engine thread after its current command.
    let _ = engine_thread.join();
    let _ = std::fs::remove_file(&config.socket);
    result
}

fn spawn_engine(config: AgentConfig, shared: Arc<Shared>) -> Result<(mpsc::Sender<Command>, std::thread::JoinHandle<()>), AgentError> {
    let (started_sender, started) = mpsc::channel::<Result<(), StartError>>();
    let (commands, receiver) = mpsc::channel::<Command>();
    let thread = std::thread::Builder::new()
        .name("polc-agent-engine".to_owned())
        .spawn(move || {
            let mut engine = match Engine::start(config, shared) {
                Ok(engine) => {
                    let _ = started_sender.send(Ok(()));
                    engine
                }
                Err(error) => {
                    let _ = started_sender.send(Err(error));
                    return;
                }
            };
            while let Ok(command) = receiver.recv() {
                match command {
                    Command::Apply { bundle, received, reply } => {
                        let _ = reply.send(engine.apply(&bundle, received));
                    }
                    Command::Rescan => engine.rescan(),
                }
            }
        })
        .map_err(AgentError::Runtime)?;
    match started.recv() {
        Ok(Ok(())) => Ok((commands, thread)),
        Ok(Err(error)) => {
            let _ = thread.join();
            Err(AgentError::Start(error))
        }
        Err(_) => Err(AgentError::Start(StartError::EngineStopped)),
    }
}

/// Binds the control socket with mode 0600: bound under a temporary name, restricted, then
/// renamed into place, so that it is never reachable with wider permissions.
fn bind_socket(path: &Path) -> Result<UnixListener, AgentError> {
    let socket_error = |source| AgentError::Socket { path: path.to_path_buf(), source };
    if let Ok(metadata) = std::fs::symlink_metadata(path) {
        if !metadata.file_type().is_socket() {
            return Err(socket_error(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "the path exists and is not a socket")));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(AgentError::SocketInUse(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(socket_error)?;
    }
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(socket_error)?;
    }
    let file_name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let listener = UnixListener::bind(&temporary).map_err(socket_error)?;
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600)).map_err(socket_error)?;
    std::fs::rename(&temporary, path).map_err(socket_error)?;
    Ok(listener)
}

async fn serve(
    config: AgentConfig,
    listener: UnixListener,
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let mut tasks = tokio::task::JoinSet::new();

    if let Some(address) = config.metrics {
        let tcp = tokio::net::TcpListener::bind(address).await.map_err(|source| AgentError::Metrics { address, source })?;
        let metrics_shared = Arc::clone(&shared);
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let shared = Arc::clone(&metrics_shared);
                async move { ([(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], shared.metrics.encode()) }
            }),
        );
        tasks.spawn(async move {
            let _ = axum::serve(tcp, app).await;
        });
    }

    let rescan_commands = commands.clone();
    let rescan_interval = config.rescan_interval;
    tasks.spawn(async move {
        let mut ticker = tokio::time::interval(rescan_interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if rescan_commands.send(Command::Rescan).is_err() {
                break;
            }
        }
    });

    if let Some(directory) = config.watch.clone() {
        let watch_commands = commands.clone();
        let interval = config.watch_interval;
        tasks.spawn(async move { watch(directory, interval, watch_commands).await });
    }

    let accept_commands = commands.clone();
    let accept_shared = Arc::clone(&shared);
    tasks.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let commands = accept_commands.clone();
            let shared = Arc::clone(&accept_shared);
            tokio::spawn(async move { handle_connection(stream, commands, shared).await });
        }
    });

    shutdown.await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(commands);
    Ok(())
}

async fn apply(commands: &mpsc::Sender<Command>, bundle: PathBuf, received: Instant) -> Response {
    let (reply, answer) = oneshot::channel();
    if commands.send(Command::Apply { bundle, received, reply }).is_err() {
        return Response::failure("agent", "the agent is stopping");
    }
    match answer.await {
        Ok(Ok(report)) => Response::applied(report),
        Ok(Err(failure)) => Response::failure(failure.kind, failure.message),
        Err(_) => Response::failure("agent", "the agent stopped before the apply finished"),
    }
}

async fn handle_connection(stream: UnixStream, commands: mpsc::Sender<Command>, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        let read = (&mut reader).take(MAX_REQUEST_LENGTH as u64 + 1).read_line(&mut line).await;
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let received = Instant::now();
        if line.len() > MAX_REQUEST_LENGTH {
            let response = Response::failure("request", format!("the request is longer than {MAX_REQUEST_LENGTH} bytes"));
            let _ = write.write_all(response.to_line().as_bytes()).await;
            break;
        }
        let response = match parse_request(&line) {
            Err(message) => Response::failure("request", message),
            Ok(Request::Status) => Response::status(shared.status().clone()),
            Ok(Request::Apply { bundle }) if !bundle.is_absolute() => {
                Response::failure("request", format!("the bundle path `{}` is not absolute", bundle.display()))
            }
            Ok(Request::Apply { bundle }) => apply(&commands, bundle, received).await,
        };
        if write.write_all(response.to_line().as_bytes()).await.is_err() {
            break;
        }
    }
}

/// The bundles in `directory`: subdirectories with a manifest, not hidden (writers build a
/// bundle under a hidden name and rename it into place), by name.
fn bundles_in(directory: &Path) -> Vec<(String, PathBuf, Digest)> {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf, Digest)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                return None;
            }
            let manifest = std::fs::read(entry.path().join(MANIFEST_FILE)).ok()?;
            Some((name, entry.path(), Digest::of(&manifest)))
        })
        .collect();
    found.sort_by(|left, right| left.0.cmp(&right.0));
    found
}

async fn watch(directory: PathBuf, interval: std::time::Duration, commands: mpsc::Sender<Command>) {
    let mut seen: BTreeMap<String, Digest> = BTreeMap::new();
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        for (name, path, digest) in bundles_in(&directory) {
            if seen.get(&name) == Some(&digest) {
                continue;
            }
            seen.insert(name, digest);
            let bundle = std::path::absolute(&path).unwrap_or(path);
            // The outcome is recorded in the status (last error) by the engine.
            let _ = apply(&commands, bundle, Instant::now()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_bundles_are_visible_directories_with_a_manifest_in_name_order() {
        let directory = tempfile::tempdir().unwrap();
        for name in ["b-second", "a-first", ".hidden", "no-manifest"] {
            std::fs::create_dir(directory.path().join(name)).unwrap();
        }
        for name in ["b-second", "a-first", ".hidden"] {
            std::fs::write(directory.path().join(name).join(MANIFEST_FILE), name).unwrap();
        }
        std::fs::write(directory.path().join("file"), "x").unwrap();
        let found: Vec<String> = bundles_in(directory.path()).into_iter().map(|(name, _, _)| name).collect();
        assert_eq!(found, vec!["a-first".to_owned(), "b-second".to_owned()]);
    }

    #[test]
    fn the_control_socket_is_private_and_a_live_one_is_not_taken_over() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("agent.sock");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let listener = bind_socket(&path).unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            assert!(matches!(bind_socket(&path), Err(AgentError::SocketInUse(_))));
            drop(listener);
            // A stale socket file (nobody listening) is replaced.
            let again = bind_socket(&path);
            assert!(again.is_ok());
        });
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "not a socket").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            assert!(matches!(bind_socket(&path), Err(AgentError::Socket { .. })));
        });
    }
}
