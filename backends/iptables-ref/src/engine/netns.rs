//! PRIVILEGED: named network namespaces (`ip netns`), running code and tools inside one, and
//! cleaning up.
//!
//! A thread joins a namespace with `setns(CLONE_NEWNET)`; sockets it creates belong to that
//! namespace for their whole life, whichever thread uses them later, and processes it spawns
//! start in it. So [`Namespace::enter`] runs a closure on a short-lived scoped thread, and
//! everything else (polling sockets, waiting) happens on the caller's thread.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use super::EngineError;

/// Every namespace this crate creates is named `polcipt-<pid>-<n>-<role>`.
const NAME_PREFIX: &str = "polcipt-";
const NETNS_DIR: &str = "/run/netns";

static NEXT_GROUP: AtomicU32 = AtomicU32::new(1);

/// Finds a tool in `PATH`, then in the system binary directories (root's `PATH` usually has
/// them, a test runner's may not).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().map(PathBuf::from))
        .map(|directory| directory.join(name))
        .find(|candidate| candidate.is_file())
}

/// Runs `tool` with `arguments` and `input` on stdin; an error carries its stderr.
pub fn run_tool(tool: &str, arguments: &[&str], input: &str) -> Result<(), EngineError> {
    let program = find_tool(tool).ok_or_else(|| EngineError::new(format!("`{tool}` is not installed (apt-get install -y iptables ipset iproute2)")))?;
    let mut child = Command::new(&program)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| EngineError::new(format!("cannot run `{tool}`: {error}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(|error| EngineError::new(format!("cannot write to `{tool}`: {error}")))?;
    }
    let output = child.wait_with_output().map_err(|error| EngineError::new(format!("`{tool}` did not finish: {error}")))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(EngineError::new(format!("`{tool} {}` failed ({}): {}", arguments.join(" "), output.status, stderr.trim())))
    }
}

/// One named network namespace. It is not deleted on drop: [`NamespaceGroup`] deletes its
/// namespaces together.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    handle: File,
}

impl Namespace {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `work` on a thread inside this namespace and returns its result.
    pub fn enter<T: Send>(&self, work: impl FnOnce() -> Result<T, EngineError> + Send) -> Result<T, EngineError> {
        std::thread::scope(|scope| {
            let joined = scope
                .spawn(|| {
                    move_into_link_name_space(std::os::fd::AsFd::as_fd(&self.handle), Some(LinkNameSpaceType::Network))
                        .map_err(|error| EngineError::new(format!("cannot enter network namespace `{}`: {error}", self.name)))?;
                    work()
                })
                .join();
            joined.unwrap_or_else(|_| Err(EngineError::new(format!("a thread in network namespace `{}` panicked", self.name))))
        })
    }

    /// Runs a tool inside this namespace with `input` on stdin.
    pub fn run_tool(&self, tool: &str, arguments: &[&str], input: &str) -> Result<(), EngineError> {
        self.enter(|| run_tool(tool, arguments, input))
    }
}

/// Namespaces created together and deleted together (on drop).
#[derive(Debug)]
pub struct NamespaceGroup {
    prefix: String,
    namespaces: Vec<Namespace>,
}

impl NamespaceGroup {
    /// Creates one namespace per role, named `polcipt-<pid>-<n>-<role>`. Namespaces left behind
    /// by processes that no longer exist are deleted first.
    pub fn create(roles: &[String]) -> Result<NamespaceGroup, EngineError> {
        sweep_stale();
        let prefix = format!("{NAME_PREFIX}{}-{}-", std::process::id(), NEXT_GROUP.fetch_add(1, Ordering::Relaxed));
        let names: Vec<String> = roles.iter().map(|role| format!("{prefix}{role}")).collect();
        let mut group = NamespaceGroup { prefix, namespaces: Vec::new() };
        let batch: String = names.iter().map(|name| format!("netns add {name}\n")).collect();
        run_tool("ip", &["-batch", "-"], &batch)?;
        for name in names {
            let handle =
                File::open(Path::new(NETNS_DIR).join(&name)).map_err(|error| EngineError::new(format!("cannot open network namespace `{name}`: {error}")))?;
            group.namespaces.push(Namespace { name, handle });
        }
        Ok(group)
    }

    pub fn get(&self, index: usize) -> &Namespace {
        &self.namespaces[index]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Namespace> {
        self.namespaces.iter()
    }
}

impl Drop for NamespaceGroup {
    fn drop(&mut self) {
        let names: Vec<String> = self.namespaces.drain(..).map(|namespace| namespace.name).collect();
        delete_namespaces(&names);
        // Anything of this group that creation left half made.
        let leftovers: Vec<String> = list_namespaces().into_iter().filter(|name| name.starts_with(&self.prefix)).collect();
        delete_namespaces(&leftovers);
    }
}

fn list_namespaces() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else { return Vec::new() };
    let mut names: Vec<String> = entries.filter_map(|entry| entry.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    names
}

fn delete_namespaces(names: &[String]) {
    if names.is_empty() {
        return;
    }
    let batch: String = names.iter().map(|name| format!("netns del {name}\n")).collect();
    // `-force` keeps going past a namespace that is already gone.
    let _ = run_tool("ip", &["-force", "-batch", "-"], &batch);
}

/// Deletes namespaces of this crate whose creating process is gone (a crashed test run).
fn sweep_stale() {
    let stale: Vec<String> = list_namespaces()
        .into_iter()
        .filter(|name| {
            let Some(rest) = name.strip_prefix(NAME_PREFIX) else { return false };
            let Some(pid) = rest.split('-').next().and_then(|pid| pid.parse::<u32>().ok()) else { return false };
            !Path::new("/proc").join(pid.to_string()).exists()
        })
        .collect();
    delete_namespaces(&stale);
}

/// Whether the process runs as root (the engine needs CAP_NET_ADMIN and CAP_SYS_ADMIN).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
