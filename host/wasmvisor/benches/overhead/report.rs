//! The table: its rows, printed as they are measured, and the part of
//! `docs/benchmarks.md` it is written into.

use std::time::Duration;

use crate::harness::cores;
use crate::{CONCURRENT_ACTORS, DIR_PLUGINS};

/// The table's rows; each is printed as soon as it is measured.
#[derive(Default)]
pub(crate) struct Rows(pub(crate) Vec<Row>);

impl Rows {
    pub(crate) fn push(&mut self, row: Row) {
        println!(
            "{}: {} (floor {}, {})",
            row.what, row.wasmvisor, row.floor, row.ratio
        );
        self.0.push(row);
    }
}

/// One line of the table.
pub(crate) struct Row {
    pub(crate) what: String,
    pub(crate) wasmvisor: String,
    pub(crate) floor: String,
    pub(crate) ratio: String,
}

impl Row {
    /// A row of two durations (lower is better).
    pub(crate) fn times(what: impl Into<String>, ours: Duration, floor: Duration) -> Row {
        Row {
            what: what.into(),
            wasmvisor: human_duration(ours),
            floor: human_duration(floor),
            ratio: format!("{:.2}x", ours.as_secs_f64() / floor.as_secs_f64()),
        }
    }

    /// A row of two rates (higher is better).
    pub(crate) fn rates(what: impl Into<String>, ours: f64, floor: f64) -> Row {
        Row {
            what: what.into(),
            wasmvisor: human_rate(ours),
            floor: human_rate(floor),
            ratio: format!("{:.2}x", ours / floor),
        }
    }
}

/// The markers around the measured part of docs/benchmarks.md; the rest of
/// the page (what the figures mean, what each tuning bought) is written by
/// hand and kept.
pub(crate) const BEGIN: &str = "<!-- measured by `just bench`: begin -->\n";
pub(crate) const END: &str = "<!-- measured by `just bench`: end -->\n";

/// `page` with the part between the markers replaced by `measured` (the
/// whole page, if it has no markers).
pub(crate) fn with_measurements(page: &str, measured: &str) -> String {
    with_section(page, BEGIN, END, measured)
        .unwrap_or_else(|| format!("# Benchmarks\n\n{BEGIN}{measured}{END}"))
}

/// The markers around the README's performance figures: rows of the table
/// above, copied as they are (a test checks that each is one of the page's).
pub(crate) const README_BEGIN: &str =
    "<!-- rows of docs/benchmarks.md, copied there by `just bench`: begin -->\n";
pub(crate) const README_END: &str =
    "<!-- rows of docs/benchmarks.md, copied there by `just bench`: end -->\n";

/// The rows the README quotes, by how their `what` begins: one per target.
const README_ROWS: [&str; 5] = [
    "round trip, read-only message",
    "throughput, 1 actor on 2 cores (floor: raw calls to 1 instance",
    "throughput, 100 actors",
    "restart p50, instance pool less the crashing call",
    "resident memory per idle actor (10000 actors",
];

/// The README's figures: the table's header and the [`README_ROWS`] of
/// `table` (the rendered page section), line for line.
pub(crate) fn readme_rows(table: &str) -> String {
    let lines: Vec<&str> = table.lines().collect();
    let header = lines
        .iter()
        .position(|line| line.starts_with("| what |"))
        .map_or(&[][..], |at| &lines[at..at + 2]);
    let rows = README_ROWS.iter().filter_map(|start| {
        lines
            .iter()
            .find(|line| line.starts_with(&format!("| {start}")))
    });
    header
        .iter()
        .chain(rows)
        .map(|line| format!("{line}\n"))
        .collect()
}

/// `page` with the part between `begin` and `end` replaced by `content`;
/// `None` if the page lacks the markers.
pub(crate) fn with_section(page: &str, begin: &str, end: &str, content: &str) -> Option<String> {
    match (page.find(begin), page.find(end)) {
        (Some(at), Some(until)) if at < until => {
            Some(format!("{}{begin}{content}{}", &page[..at], &page[until..]))
        }
        _ => None,
    }
}

pub(crate) fn render(rows: &[Row], group_commit_gain: f64, cache_gain: f64) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let kib: u64 = info
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(format!("{:.0} GiB", kib as f64 / f64::from(1 << 20)))
        })
        .unwrap_or_else(|| "unknown memory".into());
    let mut table = format!(
        "Measured by `just bench` (`host/wasmvisor/benches/overhead/`, release build) on {cpu}, {} cores, \
         {memory}. Each floor is measured in the same run: raw wasmtime on an engine with the \
         host's settings (a typed call, an `InstancePre` instantiation of the same component), \
         and raw redb commits of one row each with `Durability::Immediate`. A ratio is \
         wasmvisor over the floor: below 1 is better for times, above 1 for rates.\n\n\
         | what | wasmvisor | floor | ratio |\n|---|---|---|---|\n",
        cores()
    );
    for r in rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.what, r.wasmvisor, r.floor, r.ratio
        ));
    }
    table.push_str(&format!(
        "\nGroup commit: {CONCURRENT_ACTORS} actors commit {group_commit_gain:.1}x as many \
         durable updates per second as 1 actor.\n\n\
         Compile cache: a host restarting on {DIR_PLUGINS} plugins starts them {cache_gain:.1}x \
         as fast with the cache a previous run left as with an empty one.\n"
    ));
    table
}

pub(crate) fn human_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        format!("{micros:.2} µs")
    } else {
        format!("{:.1} ms", micros / 1_000.0)
    }
}

pub(crate) fn human_rate(per_second: f64) -> String {
    format!("{per_second:.0}/s")
}

/// A size in KiB below a MiB and in MiB above.
pub(crate) fn human_size(bytes: usize) -> String {
    if bytes < 1 << 20 {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    }
}
