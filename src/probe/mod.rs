//! The real [`Evidence`]: what is installed, which legacy tables the kernel
//! lists, and the probes, answered by one of three sources:
//!
//! - `netlink.rs`: nf_tables, asked over netlink (nft's hints and counts,
//!   whether nf_tables exists, and the tables other programs keep there);
//! - `xtables.rs`: legacy x_tables, read with getsockopt (legacy's hints
//!   and counts), only for tables the kernel already lists;
//! - `process.rs`: the iptables commands themselves (version 1's probes);
//!   the fallback, and the oracle the kernel sources are tested against.
//!
//! The kernel sources answer in microseconds, create no process and format
//! no text. Where one cannot answer here (a seccomp filter or missing
//! capability refusing the socket, an older kernel that rejects a request,
//! a reply we cannot parse), that probe falls back to its process, and the
//! observation says so. An error that is itself the answer is evidence:
//! ENOENT for a missing table, EPROTONOSUPPORT for a kernel without
//! nf_tables. `IPTABLES_WRAPPER_PROBES` can force one source.

mod bytes;
pub mod netlink;
pub mod process;
#[cfg(test)]
mod uapi_layout;
pub mod xtables;

use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::detect::{
    Answer, Count, Evidence, Observation, Precision, Probe, Source, Table, Tables, HINT_CHAINS,
};
use crate::installed;
use crate::names::{Family, Mode};
use crate::root::Root;
use crate::settings::Sources;

use netlink::{Nft, Tally};

/// The iptables installation in one directory, on this kernel.
pub struct Host {
    /// Where `/` is: the running system's, since probes ask this kernel.
    pub root: Root,
    pub dir: PathBuf,
    pub timeout: Duration,
    pub sources: Sources,
    /// The chain names that count as hints, in order.
    pub hints: &'static [&'static str],
    started: Instant,
}

impl Host {
    pub fn new(dir: PathBuf, timeout: Duration, sources: Sources) -> Host {
        Host {
            root: Root::HOST,
            dir,
            timeout,
            sources,
            hints: HINT_CHAINS,
            started: Instant::now(),
        }
    }

    /// Counts `hints` as hint chains instead of the kubelet's alone.
    pub fn with_hints(self, hints: &'static [&'static str]) -> Host {
        Host { hints, ..self }
    }
}

impl Evidence for Host {
    fn installed(&self, mode: Mode) -> bool {
        installed::has(&self.root, &self.dir, mode)
    }

    fn legacy_tables(&self, family: Family) -> Tables {
        read_tables(&self.root.path(family.legacy_tables_file()))
    }

    fn command(&self, probe: &Probe) -> (String, Source) {
        match self.sources {
            Sources::Process => (process::command(probe), Source::Process),
            Sources::Auto | Sources::Kernel => {
                (kernel_command(probe, &[], Precision::Exact), Source::Kernel)
            }
        }
    }

    fn run(
        &self,
        probes: &[Probe],
        tables: &[Tables; 2],
        precision: Precision,
    ) -> Vec<Observation> {
        if self.sources == Sources::Process {
            return process::run(&self.dir, self.timeout, self.hints, probes);
        }
        let mut kernel = Kernel {
            timeout: self.timeout,
            hints: self.hints,
            nft: None,
        };
        let mut done: Vec<Option<Observation>> = Vec::with_capacity(probes.len());
        let mut fallback: Vec<(usize, Instant, String)> = Vec::new();
        for (i, p) in probes.iter().enumerate() {
            // One deadline per probe, whatever answers it: a fallback gets
            // only what the kernel source left of it.
            let started = Instant::now();
            let deadline = started + self.timeout;
            let listed = match &tables[p.family.index()] {
                Tables::Listed(t) => t.as_slice(),
                Tables::Unknown(_) => &[],
            };
            let (answer, detail) = match kernel.ask(p, listed, precision, deadline) {
                Ok(answered) => answered,
                // Out of time: nothing is left for a process, which would
                // ask the same kernel anyway.
                Err(u) if u.timed_out => (
                    Answer::TimedOut,
                    Some(format!(
                        "stopped at the {} s deadline: {}",
                        self.timeout.as_secs_f64(),
                        u.why
                    )),
                ),
                Err(u) if self.sources == Sources::Kernel => (Answer::Failed, Some(u.why)),
                Err(u) => {
                    done.push(None);
                    fallback.push((i, deadline, u.why));
                    continue;
                }
            };
            done.push(Some(Observation {
                probe: *p,
                answer,
                source: Source::Kernel,
                command: kernel_command(p, listed, precision),
                detail,
                elapsed: Some(started.elapsed()),
            }));
        }
        // The probes the kernel could not answer run as processes, at once,
        // each until its own deadline.
        let asked: Vec<(Probe, Instant)> =
            fallback.iter().map(|(i, d, _)| (probes[*i], *d)).collect();
        let ran = process::run_until(&self.dir, self.timeout, self.hints, &asked);
        for ((i, _, why), mut o) in fallback.into_iter().zip(ran) {
            let note = format!("kernel source unavailable ({why}); ran the command");
            o.detail = Some(match o.detail {
                Some(d) => format!("{note}: {d}"),
                None => note,
            });
            done[i] = Some(o);
        }
        done.into_iter()
            .map(|o| o.expect("every probe answered"))
            .collect()
    }

    fn native_tables(&self) -> Option<Vec<String>> {
        if self.sources == Sources::Process {
            return None;
        }
        let deadline = Instant::now() + self.timeout;
        let tables = Nft::open(self.timeout)
            .and_then(|mut n| {
                n.set_deadline(deadline);
                n.tables()
            })
            .ok()?;
        Some(
            tables
                .into_iter()
                .filter(|(family, name)| !iptables_nft_table(*family, name))
                .map(|(family, name)| format!("{} {name}", netlink::family_name(family)))
                .collect(),
        )
    }

    fn clock(&self) -> Duration {
        self.started.elapsed()
    }

    fn pause(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// The tables iptables-nft keeps rules in, per family.
const IPTABLES_NFT_TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];

/// Whether an nf_tables table is one of the xtables-nft tools' own: the
/// iptables tables of `ip` and `ip6`, and those ebtables-nft and
/// arptables-nft make (`bridge filter/nat/broute`, `arp filter`). Every
/// other table was made by a native nftables program.
fn iptables_nft_table(family: u8, name: &str) -> bool {
    match family {
        netlink::NFPROTO_IPV4 | netlink::NFPROTO_IPV6 => IPTABLES_NFT_TABLES.contains(&name),
        netlink::NFPROTO_BRIDGE => ["filter", "nat", "broute"].contains(&name),
        netlink::NFPROTO_ARP => name == "filter",
        _ => false,
    }
}

fn nfproto(f: Family) -> u8 {
    match f {
        Family::V4 => netlink::NFPROTO_IPV4,
        Family::V6 => netlink::NFPROTO_IPV6,
    }
}

fn xt_family(f: Family) -> xtables::Family {
    match f {
        Family::V4 => xtables::Family::V4,
        Family::V6 => xtables::Family::V6,
    }
}

/// How a kernel probe asks, for the report: the request and what it names.
/// `listed` is the family's legacy tables, which a legacy count reads.
fn kernel_command(p: &Probe, listed: &[String], precision: Precision) -> String {
    let fam = netlink::family_name(nfproto(p.family));
    let opt = match (p.family, p.table, precision) {
        (Family::V4, Table::All, Precision::Bounds) => "IPT_SO_GET_INFO",
        (Family::V6, Table::All, Precision::Bounds) => "IP6T_SO_GET_INFO",
        (Family::V4, ..) => "IPT_SO_GET_ENTRIES",
        (Family::V6, ..) => "IP6T_SO_GET_ENTRIES",
    };
    match (p.mode, p.table) {
        (Mode::Nft, Table::Mangle) if precision != Precision::Exact => {
            format!("netlink NFT_MSG_GETCHAIN {fam} mangle")
        }
        (Mode::Nft, Table::Mangle) => {
            format!("netlink NFT_MSG_GETCHAIN, NFT_MSG_GETRULE {fam} mangle")
        }
        (Mode::Nft, Table::All) => format!(
            "netlink NFT_MSG_GETRULE {fam} {}",
            IPTABLES_NFT_TABLES.join(",")
        ),
        (Mode::Legacy, Table::Mangle) => format!("getsockopt {opt} mangle"),
        (Mode::Legacy, Table::All) if listed.is_empty() => {
            format!("getsockopt {opt} (each listed table)")
        }
        (Mode::Legacy, Table::All) => format!("getsockopt {opt} {}", listed.join(",")),
    }
}

/// The kernel sources of one batch of probes; the netlink socket is opened
/// once, by the first nft probe.
struct Kernel {
    timeout: Duration,
    hints: &'static [&'static str],
    nft: Option<Result<Nft, Unanswered>>,
}

/// Why the kernel could not answer a probe here.
#[derive(Clone, Debug)]
struct Unanswered {
    why: String,
    /// The probe's deadline passed: no fallback, the probe timed out.
    timed_out: bool,
}

impl Unanswered {
    /// `what` failed with `e`.
    fn of(what: &str, e: &io::Error) -> Unanswered {
        Unanswered {
            why: format!("{what}: {e}"),
            timed_out: e.kind() == ErrorKind::TimedOut,
        }
    }
}

/// `Ok` is an answer (with a detail); `Err` says why the kernel could not
/// answer here: the probe then falls back to its process, unless it ran
/// out of time.
type KernelAnswer = Result<(Answer, Option<String>), Unanswered>;

impl Kernel {
    fn ask(
        &mut self,
        p: &Probe,
        listed: &[String],
        precision: Precision,
        deadline: Instant,
    ) -> KernelAnswer {
        match p.mode {
            Mode::Nft => self.ask_nft(p, precision, deadline),
            Mode::Legacy => ask_legacy(p, listed, precision, self.hints),
        }
    }

    fn ask_nft(&mut self, p: &Probe, precision: Precision, deadline: Instant) -> KernelAnswer {
        let timeout = self.timeout;
        let nft = self.nft.get_or_insert_with(|| open_nft(timeout, deadline));
        let nft = match nft {
            Ok(n) => n,
            Err(u) if u.why.starts_with(NO_NF_TABLES) => {
                let said = u.why.trim_start_matches(NO_NF_TABLES).to_string();
                return Ok((Answer::NftUnusable(said), Some(u.why.clone())));
            }
            Err(u) => {
                let u = u.clone();
                if u.timed_out {
                    // The next probe, with its own deadline, tries again.
                    self.nft = None;
                }
                return Err(u);
            }
        };
        nft.set_deadline(deadline);
        let family = nfproto(p.family);
        let request = |what: &str, e: io::Error| Unanswered::of(what, &e);
        match p.table {
            // Each hint chain is looked up by name: the kernel's chain dump
            // would list every chain of the family, which grows with the
            // ruleset. Only `detect` also counts mangle's rules; a missing
            // table has none.
            Table::Mangle => {
                let mut hint = None;
                for chain in self.hints {
                    let found = nft
                        .chain_exists(family, "mangle", chain)
                        .map_err(|e| request("NFT_MSG_GETCHAIN", e))?;
                    if found {
                        hint = Some(*chain);
                        break;
                    }
                }
                let rules = if precision == Precision::Exact {
                    let n = nft
                        .count_small_table(family, "mangle")
                        .map_err(|e| request("NFT_MSG_GETRULE", e))?;
                    Count::exact(n)
                } else {
                    Count::at_least(0)
                };
                Ok((Answer::Found { rules, hint }, None))
            }
            Table::All => {
                let reach = match precision {
                    Precision::Reach(n) => Some(n),
                    Precision::Exact | Precision::Bounds => None,
                };
                let tally = Tally::sum(IPTABLES_NFT_TABLES, reach, |t, left| {
                    nft.count_rules(family, t, left)
                })
                .map_err(|e| request("NFT_MSG_GETRULE", e))?;
                let n = tally.rules;
                let (rules, detail) = if tally.complete {
                    (Count::exact(n), None)
                } else {
                    // The rest, other tables included, stays uncounted.
                    let why = format!("stopped counting at {n} rules, enough to decide");
                    (Count::at_least(n), Some(why))
                };
                Ok((Answer::Found { rules, hint: None }, detail))
            }
        }
    }
}

/// What the answer to a kernel without nf_tables starts with.
const NO_NF_TABLES: &str = "no nf_tables in this kernel: ";

/// Opens the netlink socket and asks for the ruleset generation: a kernel
/// without nf_tables refuses the socket itself (EPROTONOSUPPORT), which is
/// the answer; any other refusal means the kernel cannot be asked here.
fn open_nft(timeout: Duration, deadline: Instant) -> Result<Nft, Unanswered> {
    let mut nft = Nft::open(timeout).map_err(|e| {
        let what = "socket(AF_NETLINK, NETLINK_NETFILTER)";
        match e.raw_os_error() {
            // The kernel's own words, without std's "(os error 93)".
            Some(nix::libc::EPROTONOSUPPORT) => Unanswered {
                why: format!(
                    "{NO_NF_TABLES}{what}: {}",
                    nix::errno::Errno::EPROTONOSUPPORT.desc()
                ),
                timed_out: false,
            },
            _ => Unanswered::of(what, &e),
        }
    })?;
    nft.set_deadline(deadline);
    nft.generation()
        .map_err(|e| Unanswered::of("NFT_MSG_GETGEN", &e))?;
    Ok(nft)
}

/// Reads legacy tables with getsockopt: mangle for a hint, every listed
/// table for a count, with [`Precision::Bounds`] from GET_INFO's sizes
/// where they say enough. Only tables the kernel lists are ever named:
/// asking x_tables for any other creates it. A listed table that has
/// vanished since (ENOENT) holds nothing.
fn ask_legacy(
    p: &Probe,
    listed: &[String],
    precision: Precision,
    hints: &'static [&'static str],
) -> KernelAnswer {
    let tables: Vec<&str> = match p.table {
        Table::Mangle => vec!["mangle"],
        Table::All => listed.iter().map(String::as_str).collect(),
    };
    let bounded = p.table == Table::All && precision == Precision::Bounds;
    let family = xt_family(p.family);
    let mut rules = Count::ZERO;
    let mut hint = None;
    for t in tables {
        if !listed.iter().any(|l| l == t) {
            continue;
        }
        let read = if bounded {
            xtables::count_bounds(family, t).map(|(at_least, at_most)| Count {
                at_least,
                at_most: Some(at_most),
            })
        } else {
            xtables::read_table(family, t).map(|s| {
                if p.table == Table::Mangle {
                    hint = s.hint(hints);
                }
                Count::exact(s.rules)
            })
        };
        match read {
            Ok(n) => rules = rules.plus(n),
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOENT) => {}
            Err(e) => return Err(Unanswered::of(&format!("getsockopt on {t}"), &e)),
        }
    }
    Ok((Answer::Found { rules, hint }, None))
}

/// Reads `/proc/net/ip{,6}_tables_names`. A missing file under a mounted
/// /proc means the x_tables module for that family is not loaded, so no
/// legacy tables exist; without /proc we cannot know.
pub fn read_tables(path: &Path) -> Tables {
    match fs::read_to_string(path) {
        Ok(s) => Tables::Listed(
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
        ),
        Err(e) if e.kind() == ErrorKind::NotFound && Path::new("/proc/self").exists() => {
            Tables::Listed(vec![])
        }
        Err(e) => Tables::Unknown(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists() {
        let dir = std::env::temp_dir().join(format!("ipw-tables-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("names");
        fs::write(&f, "mangle\nfilter\n").unwrap();
        assert_eq!(
            read_tables(&f),
            Tables::Listed(vec!["mangle".into(), "filter".into()])
        );
        fs::write(&f, "").unwrap();
        assert_eq!(read_tables(&f), Tables::Listed(vec![]));
        assert_eq!(read_tables(&dir.join("missing")), Tables::Listed(vec![]));
        fs::remove_dir_all(&dir).unwrap();
    }
}
