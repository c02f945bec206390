//! Plugin directory configuration: a manifest per plugin (`NAME.toml`
//! beside `NAME.wasm`) and one file for the directory (`wasmvisor.toml`).
//!
//! ```toml
//! # NAME.toml: how one plugin runs. Every key is optional.
//! restart = "transient"            # permanent | transient | temporary
//! shutdown = "10s"                 # a timeout, "brutal-kill" or "infinity"
//! snapshot = { every-messages = 10 } # "every-message" or { interval = "5s" }
//! redelivery = 3                   # tries for a crashing message, then dead letters
//!
//! [supervisor]                     # the plugin's own supervisor (when not in a group)
//! max_restarts = 5
//! within = "30s"
//! backoff = { exponential = { initial = "100ms", max = "5s", multiplier = 2 } }
//! jitter = 0.1
//!
//! [limits]
//! memory_mib = 128
//! call_timeout = "2s"
//! run_timeout = "10m"              # a `wasi:cli` program's whole run (default: none)
//! mailbox_capacity = 256
//! max_value_kib = 64
//! max_state_mib = 16
//! fuel_per_call = 10_000_000       # needs `wasmvisor run --fuel`
//! stack_kib = 1024
//! max_table_elements = 50_000
//!
//! [health]
//! interval = "5s"
//! timeout = "500ms"
//! threshold = 3
//!
//! [upgrade]                        # a hot upgrade's probation: "0s" for none
//! probation = "30s"                # rolled back on a crash or failed check until then,
//! probation_messages = 500         # or until this many messages were answered
//!
//! [capabilities]                   # nothing is granted by default
//! env = { GREETING = "ahoy" }
//! connect = ["127.0.0.1:8080"]     # IP:port, no name lookups
//! http = ["api.example.com", "127.0.0.1:8080"]  # wasi:http; a bare host: ports 80 and 443
//! dirs = [{ host = "data", guest = "/data", read_only = true }]  # host: relative to DIR
//!
//! [config]                         # passed to the plugin's `init`
//! greeting = "ahoy"
//!
//! [program]                        # the command line and stdio (a `wasi:cli` program's)
//! args = ["--once", "report.txt"]  # after argv[0], which is the plugin's name
//! stdin = { file = "input.txt" }   # "empty" (default), { file = ... } or { text = "..." }
//! stdout = "log"                   # "log" (default), "keep", or { file = "out.log" }
//! stderr = { file = "job.err" }    # files are appended to; paths relative to DIR
//! keep_kib = 64                    # the bound of kept output, per stream
//!
//! [http]                           # a `wasi:http/proxy` component's listener
//! listen = "127.0.0.1:8080"        # loopback by default
//! route = "/api"                   # the prefix it is mounted under, taken off the path
//! max_body_kib = 16384
//! request_timeout = "30s"
//! health_path = "/healthz"         # when it exports no health check: GET must answer 2xx
//! ```
//!
//! ```toml
//! # wasmvisor.toml: supervisor groups of plugins that depend on each other.
//! [[group]]
//! name = "core"
//! strategy = "one-for-all"         # one-for-one | one-for-all | rest-for-one
//! plugins = ["store", "index"]     # start order
//! max_restarts = 3
//! within = "10s"
//! backoff = { fixed = "200ms" }    # "immediate", { fixed = ... } or { exponential = ... }
//! ```
//!
//! Unknown keys and bad values are errors that name the file, the line and
//! what was expected. Durations are written with a unit: `ms`, `s`, `m` or
//! `h`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::Error;
use crate::spec::{
    Backoff, Capabilities, ChildSpec, HealthSpec, HttpSpec, Limits, MAX_MAILBOX_CAPACITY,
    MAX_STACK_BYTES, MAX_STATE_BYTES, MAX_TABLE_ELEMENTS, MAX_VALUE_BYTES, MIN_STACK_BYTES, Output,
    Probation, RestartType, Shutdown, SnapshotPolicy, Stdin, Stdio, Strategy, SupervisorSpec,
};

/// The directory-wide configuration file's name.
pub(crate) const HOST_CONFIG_FILE: &str = "wasmvisor.toml";

/// The extension of a plugin's manifest, beside its `.wasm`.
pub(crate) const MANIFEST_EXTENSION: &str = "toml";

/// A plugin's manifest, `NAME.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    restart: Option<RestartType>,
    shutdown: Option<ShutdownSetting>,
    snapshot: Option<SnapshotSetting>,
    redelivery: Option<u32>,
    supervisor: Option<RestartPolicy>,
    limits: Option<LimitsSetting>,
    health: Option<HealthSetting>,
    upgrade: Option<UpgradeSetting>,
    capabilities: Option<CapabilitiesSetting>,
    #[serde(default)]
    config: BTreeMap<String, String>,
    program: Option<ProgramSetting>,
    http: Option<HttpSetting>,
}

/// `[http]`: how a `wasi:http/proxy` component is served.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSetting {
    listen: Option<std::net::SocketAddr>,
    route: Option<String>,
    max_body_kib: Option<Ranged<1, { 1 << 22 }>>,
    request_timeout: Option<DurationSetting>,
    health_path: Option<String>,
}

impl HttpSetting {
    fn applied(&self) -> HttpSpec {
        let mut spec = HttpSpec::default();
        if let Some(listen) = self.listen {
            spec = spec.listen(listen);
        }
        if let Some(route) = &self.route {
            spec = spec.route(route.clone());
        }
        if let Some(Ranged(kib)) = self.max_body_kib {
            spec = spec.max_body_bytes(kib << 10);
        }
        if let Some(timeout) = self.request_timeout {
            spec = spec.request_timeout(timeout.0);
        }
        if let Some(path) = &self.health_path {
            spec = spec.health_path(path.clone());
        }
        spec
    }
}

/// `[program]`: the command line and standard streams.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgramSetting {
    #[serde(default)]
    args: Vec<String>,
    stdin: Option<StdinSetting>,
    stdout: Option<OutputSetting>,
    stderr: Option<OutputSetting>,
    keep_kib: Option<Ranged<1, { (Stdio::MAX_KEPT_BYTES >> 10) as u64 }>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum StdinSetting {
    Empty,
    File(std::path::PathBuf),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum OutputSetting {
    Log,
    Keep,
    File(std::path::PathBuf),
}

impl ProgramSetting {
    fn applied(&self, plugin_dir: &Path) -> Stdio {
        let keep = Output::Keep {
            max_bytes: self
                .keep_kib
                .map_or(Output::DEFAULT_KEPT_BYTES, |Ranged(kib)| {
                    (kib as usize) << 10
                }),
        };
        let output = |setting: &Option<OutputSetting>| match setting {
            None | Some(OutputSetting::Log) => Output::Log,
            Some(OutputSetting::Keep) => keep.clone(),
            Some(OutputSetting::File(path)) => Output::File(plugin_dir.join(path)),
        };
        Stdio::new()
            .args(self.args.iter().cloned())
            .stdin(match &self.stdin {
                None | Some(StdinSetting::Empty) => Stdin::Empty,
                Some(StdinSetting::File(path)) => Stdin::File(plugin_dir.join(path)),
                Some(StdinSetting::Text(text)) => Stdin::Bytes(text.as_bytes().into()),
            })
            .stdout(output(&self.stdout))
            .stderr(output(&self.stderr))
    }
}

/// `[capabilities]`: what the plugin may reach (nothing by default).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapabilitiesSetting {
    #[serde(default)]
    dirs: Vec<DirSetting>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    connect: Vec<std::net::SocketAddr>,
    #[serde(default)]
    http: Vec<HttpGrantSetting>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirSetting {
    /// Relative paths are relative to the plugin directory.
    host: std::path::PathBuf,
    guest: String,
    #[serde(default = "read_only_by_default")]
    read_only: bool,
}

fn read_only_by_default() -> bool {
    true
}

/// `wasmvisor.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostConfig {
    #[serde(default, rename = "group")]
    pub(crate) groups: Vec<GroupConfig>,
}

/// One `[[group]]`: plugins under one supervisor with a strategy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupConfig {
    pub(crate) name: String,
    #[serde(default)]
    strategy: StrategySetting,
    pub(crate) plugins: Vec<String>,
    max_restarts: Option<u32>,
    within: Option<DurationSetting>,
    backoff: Option<BackoffSetting>,
    jitter: Option<f64>,
}

/// The restart policy of a supervisor, as configured.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestartPolicy {
    max_restarts: Option<u32>,
    within: Option<DurationSetting>,
    backoff: Option<BackoffSetting>,
    jitter: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSetting {
    /// Up to 4 GiB, all a 32-bit WebAssembly memory can address.
    memory_mib: Option<Ranged<1, 4096>>,
    call_timeout: Option<DurationSetting>,
    run_timeout: Option<DurationSetting>,
    mailbox_capacity: Option<Ranged<1, { MAX_MAILBOX_CAPACITY as u64 }>>,
    max_value_kib: Option<Ranged<1, { MAX_VALUE_BYTES >> 10 }>>,
    max_state_mib: Option<Ranged<1, { MAX_STATE_BYTES >> 20 }>>,
    fuel_per_call: Option<Ranged<1, { u64::MAX }>>,
    stack_kib:
        Option<Ranged<{ (MIN_STACK_BYTES >> 10) as u64 }, { (MAX_STACK_BYTES >> 10) as u64 }>>,
    max_table_elements: Option<Ranged<1, MAX_TABLE_ELEMENTS>>,
}

impl LimitsSetting {
    /// The limits these settings give, over the defaults.
    fn applied(&self) -> Limits {
        let mut applied = Limits::default();
        // Each in range (see `Ranged`): the products cannot overflow.
        if let Some(Ranged(mib)) = self.memory_mib {
            applied = applied.memory_bytes(mib << 20);
        }
        if let Some(timeout) = self.call_timeout {
            applied = applied.call_timeout(timeout.0);
        }
        if let Some(timeout) = self.run_timeout {
            applied = applied.run_timeout(timeout.0);
        }
        if let Some(Ranged(capacity)) = self.mailbox_capacity {
            applied = applied.mailbox_capacity(capacity as usize);
        }
        if let Some(Ranged(kib)) = self.max_value_kib {
            applied = applied.max_value_bytes(kib << 10);
        }
        if let Some(Ranged(mib)) = self.max_state_mib {
            applied = applied.max_state_bytes(mib << 20);
        }
        if let Some(Ranged(fuel)) = self.fuel_per_call {
            applied = applied.fuel_per_call(fuel);
        }
        if let Some(Ranged(kib)) = self.stack_kib {
            applied = applied.wasm_stack_bytes((kib << 10) as usize);
        }
        if let Some(Ranged(elements)) = self.max_table_elements {
            applied = applied.max_table_elements(elements);
        }
        applied
    }
}

/// A whole number the manifest allows only between `MIN` and `MAX`: one
/// outside is refused as it is read, so that the error names its line and
/// the allowed range (not the host's units, nor a panic deeper down).
#[derive(Debug, Clone, Copy)]
struct Ranged<const MIN: u64, const MAX: u64>(u64);

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Ranged<MIN, MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = i128::deserialize(deserializer)?;
        u64::try_from(value)
            .ok()
            .filter(|value| (MIN..=MAX).contains(value))
            .map(Ranged)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("{value} is out of range: allowed {MIN} to {MAX}"))
            })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthSetting {
    interval: Option<DurationSetting>,
    timeout: Option<DurationSetting>,
    threshold: Option<Ranged<1, { u32::MAX as u64 }>>,
    initial_delay: Option<DurationSetting>,
}

/// `[upgrade]`: how long a hot upgrade stays on probation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpgradeSetting {
    probation: Option<DurationSetting>,
    probation_messages: Option<Ranged<1, { u32::MAX as u64 }>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum SnapshotSetting {
    EveryMessage,
    EveryMessages(u32),
    Interval(DurationSetting),
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum StrategySetting {
    #[default]
    OneForOne,
    OneForAll,
    RestForOne,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum BackoffSetting {
    Immediate,
    Fixed(DurationSetting),
    Exponential {
        initial: DurationSetting,
        max: DurationSetting,
        multiplier: u32,
    },
}

/// A duration written with a unit: `"250ms"`, `"5s"`, `"2m"`, `"1h"`.
#[derive(Debug, Clone, Copy)]
struct DurationSetting(Duration);

impl<'de> Deserialize<'de> for DurationSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(DurationSetting)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a duration; write a number with a unit, like \"500ms\", \"5s\", \"2m\" or \"1h\""
                ))
            })
    }
}

/// An outbound HTTP grant, `"host"` or `"host:port"`, checked as it is read
/// so that a bad one is reported with its line.
#[derive(Debug, Clone)]
struct HttpGrantSetting(String);

impl<'de> Deserialize<'de> for HttpGrantSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::spec::check_http_grant(&text).map_err(serde::de::Error::custom)?;
        Ok(HttpGrantSetting(text))
    }
}

/// `"brutal-kill"`, `"infinity"`, or a timeout such as `"5s"`.
#[derive(Debug, Clone, Copy)]
struct ShutdownSetting(Shutdown);

impl<'de> Deserialize<'de> for ShutdownSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let shutdown = match text.as_str() {
            "brutal-kill" => Shutdown::BrutalKill,
            "infinity" => Shutdown::Infinity,
            other => Shutdown::Timeout(parse_duration(other).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a shutdown; write a timeout like \"5s\", or \"brutal-kill\" or \"infinity\""
                ))
            })?),
        };
        Ok(ShutdownSetting(shutdown))
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(number)),
        "s" => Some(Duration::from_secs(number)),
        "m" => Some(Duration::from_secs(number.checked_mul(60)?)),
        "h" => Some(Duration::from_secs(number.checked_mul(3600)?)),
        _ => None,
    }
}

impl From<BackoffSetting> for Backoff {
    fn from(setting: BackoffSetting) -> Self {
        match setting {
            BackoffSetting::Immediate => Backoff::Immediate,
            BackoffSetting::Fixed(delay) => Backoff::Fixed(delay.0),
            BackoffSetting::Exponential {
                initial,
                max,
                multiplier,
            } => Backoff::Exponential {
                initial: initial.0,
                max: max.0,
                multiplier,
            },
        }
    }
}

fn apply_policy(
    mut spec: SupervisorSpec,
    max_restarts: Option<u32>,
    within: Option<DurationSetting>,
    backoff: Option<BackoffSetting>,
    jitter: Option<f64>,
) -> SupervisorSpec {
    let default = SupervisorSpec::new("");
    if max_restarts.is_some() || within.is_some() {
        spec = spec.intensity(
            max_restarts.unwrap_or(default.max_restarts),
            within.map_or(default.within, |w| w.0),
        );
    }
    if let Some(backoff) = backoff {
        spec = spec.backoff(backoff.into());
    }
    if let Some(jitter) = jitter {
        spec = spec.jitter(jitter);
    }
    spec
}

/// The largest manifest the host reads: settings fit in a few KiB, so a
/// larger file is a mistake (or an attack), refused before it is read.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Reads and parses a TOML file; a missing file is `None`.
fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, Error> {
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.len() > MAX_MANIFEST_BYTES
    {
        return Err(Error::Load {
            path: path.to_path_buf(),
            reason: format!(
                "is {} KiB; a manifest may be at most {} KiB",
                metadata.len() >> 10,
                MAX_MANIFEST_BYTES >> 10
            ),
        });
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(Error::Load {
                path: path.to_path_buf(),
                reason: format!("cannot read the file: {error}"),
            });
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|error| Error::Load {
            path: path.to_path_buf(),
            reason: error.to_string().trim_end().to_owned(),
        })
}

impl Manifest {
    /// Reads `NAME.toml` beside `wasm`, if there is one; the defaults if not.
    pub(crate) fn for_plugin(wasm: &Path) -> Result<Manifest, Error> {
        Ok(Manifest::read_for(wasm)?.unwrap_or_default())
    }

    /// Reads `NAME.toml` beside `wasm`; `None` when there is none.
    pub(crate) fn read_for(wasm: &Path) -> Result<Option<Manifest>, Error> {
        read_toml(&Manifest::path_for(wasm))
    }

    /// Where the manifest of the plugin file `wasm` is.
    pub(crate) fn path_for(wasm: &Path) -> std::path::PathBuf {
        wasm.with_extension(MANIFEST_EXTENSION)
    }

    /// Applies the manifest to a child spec; relative directory grants are
    /// resolved against `plugin_dir`.
    pub(crate) fn child(&self, mut child: ChildSpec, plugin_dir: &Path) -> ChildSpec {
        if let Some(granted) = &self.capabilities {
            let mut capabilities = Capabilities::new();
            for dir in &granted.dirs {
                capabilities =
                    capabilities.dir(plugin_dir.join(&dir.host), dir.guest.clone(), dir.read_only);
            }
            for (key, value) in &granted.env {
                capabilities = capabilities.env(key, value);
            }
            for addr in &granted.connect {
                capabilities = capabilities.connect(*addr);
            }
            for grant in &granted.http {
                capabilities = capabilities.http(grant.0.clone());
            }
            child = child.capabilities(capabilities);
        }
        if let Some(restart) = self.restart {
            child = child.restart(restart);
        }
        if let Some(shutdown) = self.shutdown {
            child = child.shutdown(shutdown.0);
        }
        if let Some(attempts) = self.redelivery {
            child = child.redelivery(attempts);
        }
        if let Some(snapshot) = self.snapshot {
            child = child.snapshot_policy(match snapshot {
                SnapshotSetting::EveryMessage => SnapshotPolicy::EveryMessage,
                SnapshotSetting::EveryMessages(n) => SnapshotPolicy::EveryMessages(n),
                SnapshotSetting::Interval(interval) => SnapshotPolicy::Interval(interval.0),
            });
        }
        if let Some(limits) = &self.limits {
            child = child.limits(limits.applied());
        }
        if let Some(health) = &self.health {
            let mut applied = HealthSpec::default();
            if let Some(interval) = health.interval {
                applied = applied.interval(interval.0);
            }
            if let Some(timeout) = health.timeout {
                applied = applied.timeout(timeout.0);
            }
            if let Some(Ranged(threshold)) = health.threshold {
                applied = applied.threshold(threshold as u32);
            }
            if let Some(delay) = health.initial_delay {
                applied = applied.initial_delay(delay.0);
            }
            child = child.health(applied);
        }
        if let Some(upgrade) = &self.upgrade {
            let mut applied = Probation::default();
            if let Some(window) = upgrade.probation {
                applied = applied.window(window.0);
            }
            if let Some(Ranged(messages)) = upgrade.probation_messages {
                applied = applied.messages(messages as u32);
            }
            child = child.probation(applied);
        }
        for (key, value) in &self.config {
            child = child.config(key, value);
        }
        if let Some(program) = &self.program {
            child = child.stdio(program.applied(plugin_dir));
        }
        if let Some(http) = &self.http {
            child = child.http(http.applied());
        }
        child
    }

    /// The plugin's own supervisor, named after it, with the manifest's
    /// restart policy.
    pub(crate) fn own_supervisor(&self, name: &str) -> SupervisorSpec {
        let policy = self.supervisor.as_ref();
        apply_policy(
            SupervisorSpec::new(name),
            policy.and_then(|p| p.max_restarts),
            policy.and_then(|p| p.within),
            policy.and_then(|p| p.backoff),
            policy.and_then(|p| p.jitter),
        )
    }
}

impl HostConfig {
    /// Reads `DIR/wasmvisor.toml`, if there is one, and checks that no
    /// plugin is in two groups and no group name repeats.
    pub(crate) fn for_dir(dir: &Path) -> Result<HostConfig, Error> {
        let path = dir.join(HOST_CONFIG_FILE);
        let config: HostConfig = read_toml(&path)?.unwrap_or_default();
        config.checked(&path)
    }

    /// The configuration read from `path`, once checked: no plugin in two
    /// groups, no group name twice, every group's policy valid.
    pub(crate) fn checked(self, path: &Path) -> Result<HostConfig, Error> {
        let config = self;
        let invalid = |reason: String| Error::Load {
            path: path.to_path_buf(),
            reason,
        };
        let mut groups = HashSet::new();
        let mut plugins = HashSet::new();
        for group in &config.groups {
            if let Err(error) = group.supervisor().validate() {
                return Err(invalid(match error {
                    Error::InvalidSpec { what, reason } => format!("group `{what}`: {reason}"),
                    other => other.to_string(),
                }));
            }
            if !groups.insert(group.name.as_str()) {
                return Err(invalid(format!("group `{}` is defined twice", group.name)));
            }
            for plugin in &group.plugins {
                if !plugins.insert(plugin.as_str()) {
                    return Err(invalid(format!(
                        "plugin `{plugin}` is in more than one group; a plugin has one supervisor"
                    )));
                }
            }
        }
        Ok(config)
    }
}

impl HostConfig {
    /// The group that lists plugin `name`, if any.
    pub(crate) fn group_of(&self, name: &str) -> Option<&GroupConfig> {
        self.groups
            .iter()
            .find(|group| group.plugins.iter().any(|p| p == name))
    }
}

impl GroupConfig {
    /// The group's supervisor, without children.
    pub(crate) fn supervisor(&self) -> SupervisorSpec {
        let strategy = match self.strategy {
            StrategySetting::OneForOne => Strategy::OneForOne,
            StrategySetting::OneForAll => Strategy::OneForAll,
            StrategySetting::RestForOne => Strategy::RestForOne,
        };
        apply_policy(
            SupervisorSpec::new(self.name.clone()).strategy(strategy),
            self.max_restarts,
            self.within,
            self.backoff,
            self.jitter,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("five s"), None);
        assert_eq!(parse_duration("5 weeks"), None);
    }

    #[test]
    fn a_full_manifest_parses() {
        let manifest: Manifest = toml::from_str(
            r#"
            restart = "transient"
            shutdown = "brutal-kill"
            snapshot = { every-messages = 10 }
            [supervisor]
            max_restarts = 5
            within = "30s"
            backoff = { exponential = { initial = "100ms", max = "5s", multiplier = 2 } }
            [limits]
            memory_mib = 128
            [health]
            threshold = 2
            [config]
            greeting = "ahoy"
            "#,
        )
        .unwrap();
        assert_eq!(manifest.restart, Some(RestartType::Transient));
        assert!(matches!(
            manifest.snapshot,
            Some(SnapshotSetting::EveryMessages(10))
        ));
        let spec = manifest.own_supervisor("p");
        assert_eq!(spec.max_restarts, 5);
        assert_eq!(spec.within, Duration::from_secs(30));
        assert!(matches!(
            spec.backoff,
            Backoff::Exponential { multiplier: 2, .. }
        ));
    }

    /// Every whole-number key, at every extreme: the manifest refuses the
    /// value as it is read, naming the line and the range, or takes it, and
    /// then the host can honour it (the spec checks pass; no panic later,
    /// as a mailbox of `usize::MAX` once made).
    #[test]
    fn every_number_in_a_manifest_is_refused_with_its_line_or_honoured() {
        let keys = [
            ("limits", "memory_mib"),
            ("limits", "mailbox_capacity"),
            ("limits", "max_value_kib"),
            ("limits", "max_state_mib"),
            ("limits", "fuel_per_call"),
            ("limits", "stack_kib"),
            ("limits", "max_table_elements"),
            ("health", "threshold"),
            ("upgrade", "probation_messages"),
            ("program", "keep_kib"),
        ];
        let extremes = [
            "0".to_owned(),
            "1".to_owned(),
            "-1".to_owned(),
            "63".to_owned(),
            "4097".to_owned(),
            "99999999".to_owned(),
            "4000000000".to_owned(),
            u32::MAX.to_string(),
            i64::MAX.to_string(),
            u64::MAX.to_string(),
            "1.5".to_owned(),
        ];
        for (table, key) in keys {
            for value in &extremes {
                let text = format!("restart = \"permanent\"\n[{table}]\n{key} = {value}\n");
                match toml::from_str::<Manifest>(&text) {
                    Err(error) => {
                        let error = error.to_string();
                        assert!(error.contains("line 3"), "{key} = {value}: {error}");
                    }
                    Ok(manifest) => {
                        if let Some(limits) = &manifest.limits {
                            let limits = limits.applied();
                            assert_eq!(limits.validate(), Ok(()), "{key} = {value}");
                            if key == "mailbox_capacity" {
                                // What once panicked, a semaphore that large.
                                drop(tokio::sync::mpsc::channel::<()>(limits.mailbox_capacity));
                            }
                        }
                        if let Some(program) = &manifest.program {
                            let stdio = program.applied(Path::new("."));
                            assert_eq!(stdio.validate(), Ok(()), "{key} = {value}");
                        }
                        if let Some(Ranged(threshold)) = manifest.health.and_then(|h| h.threshold) {
                            let health = HealthSpec::default().threshold(threshold as u32);
                            assert_eq!(health.validate(), Ok(()), "{key} = {value}");
                        }
                    }
                }
            }
        }
        let refused =
            toml::from_str::<Manifest>("[limits]\nmailbox_capacity = 9223372036854775807\n")
                .unwrap_err()
                .to_string();
        assert!(
            refused.contains("line 2") && refused.contains("allowed 1 to 1048576"),
            "{refused}"
        );
    }

    #[test]
    fn a_program_section_gives_the_command_line_and_the_streams() {
        let manifest = toml::from_str::<Manifest>(
            r#"
            [program]
            args = ["--once", "x y"]
            stdin = { text = "hello" }
            stdout = "keep"
            stderr = { file = "logs/job.err" }
            keep_kib = 2
            "#,
        )
        .unwrap();
        let stdio = manifest.program.unwrap().applied(Path::new("/plugins"));
        let expected = Stdio::new()
            .args(["--once", "x y"])
            .stdin(Stdin::Bytes(b"hello".to_vec().into()))
            .stdout(Output::Keep { max_bytes: 2048 })
            .stderr(Output::File("/plugins/logs/job.err".into()));
        assert_eq!(stdio, expected);
        let bad = toml::from_str::<Manifest>(
            "[program]
stdout = \"screen\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("line 2") && bad.contains("`log`, `keep`"),
            "{bad}"
        );
        let defaults = toml::from_str::<Manifest>(
            "[program]
stdin = { file = \"in\" }\n",
        )
        .unwrap()
        .program
        .unwrap()
        .applied(Path::new("d"));
        assert_eq!(defaults, Stdio::new().stdin(Stdin::File("d/in".into())));
    }

    #[test]
    fn an_http_section_gives_the_listener_route_and_limits() {
        let manifest = toml::from_str::<Manifest>(
            "[http]\nlisten = \"127.0.0.1:9000\"\nroute = \"/api\"\nmax_body_kib = 4\n\
             request_timeout = \"2s\"\nhealth_path = \"/healthz\"\n",
        )
        .unwrap();
        let expected = HttpSpec::default()
            .listen("127.0.0.1:9000".parse().unwrap())
            .route("/api")
            .max_body_bytes(4096)
            .request_timeout(Duration::from_secs(2))
            .health_path("/healthz");
        assert_eq!(manifest.http.unwrap().applied(), expected);
        let bad = toml::from_str::<Manifest>("[http]\nlisten = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(bad.contains("line 2"), "{bad}");
        let relative = HttpSpec::default().route("api").validate().unwrap_err();
        assert!(relative.contains("must start with `/`"), "{relative}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_line_and_the_fix() {
        let unknown = toml::from_str::<Manifest>("restart = \"permanent\"\nrestrat = 1\n")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("line 2"), "{unknown}");
        assert!(unknown.contains("unknown field `restrat`"), "{unknown}");
        assert!(
            unknown.contains("`restart`"),
            "lists the known keys: {unknown}"
        );
        let bad = toml::from_str::<Manifest>("shutdown = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("line 1") && bad.contains("brutal-kill"),
            "{bad}"
        );
        let grant = toml::from_str::<Manifest>("[capabilities]\nhttp = [\"https://x/y\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            grant.contains("line 2") && grant.contains("host:port"),
            "{grant}"
        );
    }
}
