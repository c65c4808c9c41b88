//! Which mode the host uses, and why. Pure: every fact comes in through the
//! [`Evidence`] trait, so the rules below are unit-tested with fakes and the
//! real probing (processes, /proc, timeouts) lives in `probe.rs`.
//!
//! The rules, first match wins:
//! 1. `IPTABLES_WRAPPER_MODE=legacy|nft` forces the mode.
//! 2. If only one mode is installed, it wins without probing.
//! 3. A kubelet hint chain in nft's mangle table means nft.
//! 4. A kubelet hint chain in legacy's mangle table means legacy. Legacy's
//!    mangle is only read when the kernel already lists it: asking x_tables
//!    for a missing table creates it (and may load a module), and the probe
//!    must not change the host it is looking at.
//! 5. More legacy rules than nft rules (IPv4 plus IPv6) means legacy; a tie
//!    goes to nft.
//! 6. No evidence at all: nft, the default of every current distribution.

use std::fmt;
use std::time::Duration;

use crate::names::{Family, Mode};
use crate::scan::{Format, Scan};

/// What the operator asked for through `IPTABLES_WRAPPER_MODE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    Auto,
    Force(Mode),
}

impl Setting {
    pub const VAR: &'static str = "IPTABLES_WRAPPER_MODE";

    /// Parses the variable's value; unset or empty means auto.
    pub fn parse(value: Option<&str>) -> Result<Setting, String> {
        match value {
            None | Some("") | Some("auto") => Ok(Setting::Auto),
            Some(v) => Mode::parse(v).map(Setting::Force).ok_or_else(|| {
                format!(
                    "{}={v:?} is not a mode; use legacy, nft or auto (or leave it unset)",
                    Self::VAR
                )
            }),
        }
    }
}

/// One look at a mode's ruleset: a hint probe (one family's mangle table)
/// or a full dump (every table the family has).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Probe {
    pub mode: Mode,
    pub family: Family,
    /// `Some("mangle")` for a hint probe, `None` for a full dump.
    pub table: Option<&'static str>,
}

impl Probe {
    pub fn hint(mode: Mode, family: Family) -> Probe {
        Probe {
            mode,
            family,
            table: Some("mangle"),
        }
    }

    pub fn full(mode: Mode, family: Family) -> Probe {
        Probe {
            mode,
            family,
            table: None,
        }
    }

    /// nft's hint is read with `iptables -t mangle -S`, not
    /// `iptables-nft-save -t mangle`: nft-save fetches every rule of every
    /// table from the kernel before printing the one asked for (1.3 s with
    /// 100,000 filter rules), while the listing fetches mangle alone (a few
    /// ms whatever the ruleset's size; see BENCHMARKS.md). Both create
    /// nothing. Legacy's save of one table reads only that table.
    pub fn format(&self) -> Format {
        match (self.mode, self.table) {
            (Mode::Nft, Some(_)) => Format::List,
            _ => Format::Save,
        }
    }

    /// The command name the multi binary dispatches on, e.g. `ip6tables-save`.
    pub fn command(&self) -> String {
        match self.format() {
            Format::List => self.family.prefix().to_string(),
            Format::Save => format!("{}-save", self.family.prefix()),
        }
    }

    /// The arguments after the command name.
    pub fn args(&self) -> Vec<&'static str> {
        match (self.table, self.format()) {
            (Some(t), Format::List) => vec!["-t", t, "-S"],
            (Some(t), Format::Save) => vec!["-t", t],
            (None, _) => vec![],
        }
    }
}

impl fmt::Display for Probe {
    /// As an operator would type it: `ip6tables-legacy-save -t mangle`,
    /// `iptables-nft -t mangle -S`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let command = self.command();
        let (family, rest) = command.split_at(self.family.prefix().len());
        write!(f, "{family}-{}{rest}", self.mode)?;
        for a in self.args() {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// How one probe ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It ran to completion with exit status 0.
    Done { scan: Scan, elapsed: Duration },
    /// It could not start, or exited non-zero: no evidence.
    Failed(String),
    /// It did not finish in time and was killed: no evidence.
    TimedOut(Duration),
    /// Deliberately not run; the string says why.
    NotRun(String),
}

impl Outcome {
    fn scan(&self) -> Option<&Scan> {
        match self {
            Outcome::Done { scan, .. } => Some(scan),
            _ => None,
        }
    }
}

/// The legacy tables the kernel lists for one family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tables {
    Listed(Vec<String>),
    /// The list could not be read (no /proc, say). Legacy is then not probed
    /// at all, because any legacy probe might create what it looks for.
    Unknown(String),
}

/// The facts detection needs. The real implementation is `probe::Host`.
pub trait Evidence {
    /// Whether `xtables-<mode>-multi` is present and executable.
    fn installed(&self, mode: Mode) -> bool;
    /// The legacy tables that already exist in this network namespace.
    fn legacy_tables(&self, family: Family) -> Tables;
    /// Runs the probes (concurrently, each with a timeout) and returns one
    /// outcome per probe, in order.
    fn run(&self, probes: &[Probe]) -> Vec<Outcome>;
}

/// The chosen mode and the reason, in words, with every probe's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub mode: Mode,
    pub reason: String,
    pub probes: Vec<(Probe, Outcome)>,
}

/// Why detection could not choose.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    NothingInstalled,
    ForcedButMissing(Mode),
}

pub fn decide(setting: Setting, ev: &dyn Evidence) -> Result<Decision, Refusal> {
    let installed: Vec<Mode> = Mode::ALL.into_iter().filter(|m| ev.installed(*m)).collect();
    if let Setting::Force(mode) = setting {
        if !installed.contains(&mode) {
            return Err(Refusal::ForcedButMissing(mode));
        }
        return Ok(Decision {
            mode,
            reason: format!("{}={mode}", Setting::VAR),
            probes: vec![],
        });
    }
    match installed[..] {
        [] => return Err(Refusal::NothingInstalled),
        [only] => {
            return Ok(Decision {
                mode: only,
                reason: format!("only {only} installed"),
                probes: vec![],
            })
        }
        _ => {}
    }

    let mut record: Vec<(Probe, Outcome)> = Vec::new();
    let tables: Vec<(Family, Tables)> = Family::ALL
        .into_iter()
        .map(|f| (f, ev.legacy_tables(f)))
        .collect();

    // Rules 3 and 4. All hint probes run at once; nft's are listed first so
    // that, if both modes carry a hint, nft wins as rule 3 says.
    let mut hint_probes = Vec::new();
    for family in Family::ALL {
        hint_probes.push(Probe::hint(Mode::Nft, family));
    }
    for (family, t) in &tables {
        let probe = Probe::hint(Mode::Legacy, *family);
        match t {
            Tables::Listed(names) if names.iter().any(|n| n == "mangle") => hint_probes.push(probe),
            Tables::Listed(_) => record.push((
                probe,
                Outcome::NotRun(format!(
                    "mangle not listed in {}",
                    family.legacy_tables_file()
                )),
            )),
            Tables::Unknown(why) => record.push((probe, Outcome::NotRun(why.clone()))),
        }
    }
    let outcomes = ev.run(&hint_probes);
    let hints: Vec<(Probe, Outcome)> = hint_probes.into_iter().zip(outcomes).collect();
    let found = hints
        .iter()
        .find_map(|(p, o)| o.scan().and_then(|s| s.hint).map(|chain| (*p, chain)));
    record.splice(0..0, hints);
    if let Some((probe, chain)) = found {
        return Ok(Decision {
            mode: probe.mode,
            reason: format!("{chain} in {}-{} mangle", probe.family.prefix(), probe.mode),
            probes: record,
        });
    }

    // Rule 5. A family whose legacy table list is empty has no legacy rules,
    // so its full dump is not worth a process.
    let mut count_probes = Vec::new();
    for (family, t) in &tables {
        let probe = Probe::full(Mode::Legacy, *family);
        match t {
            Tables::Listed(names) if !names.is_empty() => count_probes.push(probe),
            Tables::Listed(_) => record.push((
                probe,
                Outcome::NotRun(format!(
                    "no tables listed in {}",
                    family.legacy_tables_file()
                )),
            )),
            Tables::Unknown(why) => record.push((probe, Outcome::NotRun(why.clone()))),
        }
    }
    for family in Family::ALL {
        count_probes.push(Probe::full(Mode::Nft, family));
    }
    let outcomes = ev.run(&count_probes);
    let counted: Vec<(Probe, Outcome)> = count_probes.into_iter().zip(outcomes).collect();
    let total = |mode: Mode| -> u64 {
        counted
            .iter()
            .filter(|(p, _)| p.mode == mode)
            .filter_map(|(_, o)| o.scan())
            .map(|s| s.rules)
            .sum()
    };
    let (legacy, nft) = (total(Mode::Legacy), total(Mode::Nft));
    record.extend(counted);

    let (mode, reason) = if legacy > nft {
        (
            Mode::Legacy,
            format!("legacy {legacy} rules > nft {nft} rules"),
        )
    } else if nft > legacy {
        (
            Mode::Nft,
            format!("nft {nft} rules > legacy {legacy} rules"),
        )
    } else if nft > 0 {
        (
            Mode::Nft,
            format!("legacy {legacy} rules = nft {nft} rules, a tie goes to nft"),
        )
    } else {
        (Mode::Nft, "no evidence, default nft".to_string())
    };
    Ok(Decision {
        mode,
        reason,
        probes: record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A host made of canned answers. It remembers which probes were asked
    /// for, so tests can check that legacy tables were never touched.
    #[derive(Default)]
    struct Fake {
        installed: Vec<Mode>,
        tables: HashMap<Family, Tables>,
        answers: HashMap<Probe, Outcome>,
        asked: RefCell<Vec<Probe>>,
    }

    impl Fake {
        fn both() -> Fake {
            let mut f = Fake {
                installed: vec![Mode::Legacy, Mode::Nft],
                ..Fake::default()
            };
            for fam in Family::ALL {
                f.tables.insert(fam, Tables::Listed(vec![]));
            }
            f
        }
        fn tables(mut self, family: Family, names: &[&str]) -> Self {
            self.tables.insert(
                family,
                Tables::Listed(names.iter().map(|s| s.to_string()).collect()),
            );
            self
        }
        fn answer(mut self, probe: Probe, rules: u64, hint: Option<&'static str>) -> Self {
            let outcome = Outcome::Done {
                scan: Scan { rules, hint },
                elapsed: Duration::ZERO,
            };
            self.answers.insert(probe, outcome);
            self
        }
        fn outcome(mut self, probe: Probe, outcome: Outcome) -> Self {
            self.answers.insert(probe, outcome);
            self
        }
        fn asked(&self) -> Vec<Probe> {
            self.asked.borrow().clone()
        }
    }

    impl Evidence for Fake {
        fn installed(&self, mode: Mode) -> bool {
            self.installed.contains(&mode)
        }
        fn legacy_tables(&self, family: Family) -> Tables {
            self.tables[&family].clone()
        }
        fn run(&self, probes: &[Probe]) -> Vec<Outcome> {
            self.asked.borrow_mut().extend_from_slice(probes);
            probes
                .iter()
                .map(|p| {
                    self.answers.get(p).cloned().unwrap_or(Outcome::Done {
                        scan: Scan::default(),
                        elapsed: Duration::ZERO,
                    })
                })
                .collect()
        }
    }

    use Family::{V4, V6};
    use Mode::{Legacy, Nft};
    const HINT: Option<&str> = Some("KUBE-IPTABLES-HINT");
    const CANARY: Option<&str> = Some("KUBE-KUBELET-CANARY");

    fn auto(f: &Fake) -> Decision {
        decide(Setting::Auto, f).unwrap()
    }

    #[test]
    fn setting_parses_and_rejects_junk() {
        assert_eq!(Setting::parse(None), Ok(Setting::Auto));
        assert_eq!(Setting::parse(Some("")), Ok(Setting::Auto));
        assert_eq!(Setting::parse(Some("auto")), Ok(Setting::Auto));
        assert_eq!(Setting::parse(Some("legacy")), Ok(Setting::Force(Legacy)));
        assert_eq!(Setting::parse(Some("nft")), Ok(Setting::Force(Nft)));
        let err = Setting::parse(Some("nf_tables")).unwrap_err();
        assert!(
            err.contains("IPTABLES_WRAPPER_MODE") && err.contains("legacy, nft or auto"),
            "{err}"
        );
    }

    #[test]
    fn override_wins_without_probing() {
        let f = Fake::both().answer(Probe::hint(Nft, V4), 0, HINT);
        let d = decide(Setting::Force(Legacy), &f).unwrap();
        assert_eq!(
            (d.mode, d.reason.as_str()),
            (Legacy, "IPTABLES_WRAPPER_MODE=legacy")
        );
        assert!(f.asked().is_empty());
    }

    #[test]
    fn override_of_a_missing_mode_is_refused() {
        let f = Fake {
            installed: vec![Nft],
            ..Fake::both()
        };
        assert_eq!(
            decide(Setting::Force(Legacy), &f),
            Err(Refusal::ForcedButMissing(Legacy))
        );
    }

    #[test]
    fn a_single_installed_mode_wins_without_probing() {
        for m in Mode::ALL {
            let f = Fake {
                installed: vec![m],
                ..Fake::both()
            };
            let d = auto(&f);
            assert_eq!((d.mode, d.reason), (m, format!("only {m} installed")));
            assert!(f.asked().is_empty());
        }
        let none = Fake {
            installed: vec![],
            ..Fake::both()
        };
        assert_eq!(decide(Setting::Auto, &none), Err(Refusal::NothingInstalled));
    }

    #[test]
    fn nft_hint_wins() {
        let f = Fake::both()
            .tables(V4, &["filter", "mangle"])
            .answer(Probe::full(Legacy, V4), 500, None)
            .answer(Probe::hint(Nft, V4), 0, HINT);
        let d = auto(&f);
        assert_eq!(
            (d.mode, d.reason.as_str()),
            (Nft, "KUBE-IPTABLES-HINT in iptables-nft mangle")
        );
        assert!(
            !f.asked().iter().any(|p| p.table.is_none()),
            "no full dumps after a hint"
        );
    }

    #[test]
    fn legacy_hint_wins_over_nft_rules() {
        let f = Fake::both()
            .tables(V4, &["mangle"])
            .answer(Probe::hint(Legacy, V4), 0, HINT)
            .answer(Probe::full(Nft, V4), 900, None);
        let d = auto(&f);
        assert_eq!(
            (d.mode, d.reason.as_str()),
            (Legacy, "KUBE-IPTABLES-HINT in iptables-legacy mangle")
        );
    }

    #[test]
    fn hint_only_in_ipv6_and_canary_count() {
        let f = Fake::both().tables(V6, &["filter", "mangle"]).answer(
            Probe::hint(Legacy, V6),
            0,
            CANARY,
        );
        let d = auto(&f);
        assert_eq!(
            (d.mode, d.reason.as_str()),
            (Legacy, "KUBE-KUBELET-CANARY in ip6tables-legacy mangle")
        );
    }

    #[test]
    fn nft_hint_beats_legacy_hint() {
        let f = Fake::both()
            .tables(V4, &["mangle"])
            .answer(Probe::hint(Legacy, V4), 0, HINT)
            .answer(Probe::hint(Nft, V6), 0, HINT);
        assert_eq!(auto(&f).mode, Nft);
    }

    #[test]
    fn legacy_mangle_is_never_read_unless_listed() {
        let f =
            Fake::both()
                .tables(V4, &["filter", "nat"])
                .answer(Probe::hint(Legacy, V4), 0, HINT);
        let d = auto(&f);
        assert_ne!(d.reason, "KUBE-IPTABLES-HINT in iptables-legacy mangle");
        let asked = f.asked();
        assert!(!asked.contains(&Probe::hint(Legacy, V4)));
        assert!(!asked.contains(&Probe::hint(Legacy, V6)));
        // A family with no legacy tables at all gets no full dump either.
        assert!(asked.contains(&Probe::full(Legacy, V4)));
        assert!(!asked.contains(&Probe::full(Legacy, V6)));
        assert!(d.probes.iter().any(|(p, o)| *p == Probe::hint(Legacy, V4)
            && *o == Outcome::NotRun("mangle not listed in /proc/net/ip_tables_names".into())));
    }

    #[test]
    fn unknown_legacy_tables_mean_no_legacy_probes() {
        let mut f = Fake::both().answer(Probe::full(Nft, V4), 2, None);
        for fam in Family::ALL {
            f.tables
                .insert(fam, Tables::Unknown("/proc is not mounted".into()));
        }
        let d = auto(&f);
        assert!(f.asked().iter().all(|p| p.mode == Nft));
        assert_eq!(d.reason, "nft 2 rules > legacy 0 rules");
    }

    #[test]
    fn counting_decides_each_way_and_sums_both_families() {
        let f = Fake::both()
            .tables(V4, &["filter"])
            .tables(V6, &["filter"])
            .answer(Probe::full(Legacy, V4), 1500, None)
            .answer(Probe::full(Legacy, V6), 20, None)
            .answer(Probe::full(Nft, V4), 3, None);
        let d = auto(&f);
        assert_eq!(
            (d.mode, d.reason.as_str()),
            (Legacy, "legacy 1520 rules > nft 3 rules")
        );

        let f = Fake::both()
            .tables(V4, &["filter"])
            .answer(Probe::full(Legacy, V4), 3, None)
            .answer(Probe::full(Nft, V6), 4, None);
        assert_eq!(auto(&f).reason, "nft 4 rules > legacy 3 rules");
    }

    #[test]
    fn a_tie_goes_to_nft() {
        let f = Fake::both()
            .tables(V4, &["filter"])
            .answer(Probe::full(Legacy, V4), 7, None)
            .answer(Probe::full(Nft, V4), 7, None);
        let d = auto(&f);
        assert_eq!(
            (d.mode, d.reason.as_str()),
            (Nft, "legacy 7 rules = nft 7 rules, a tie goes to nft")
        );
    }

    #[test]
    fn no_evidence_defaults_to_nft() {
        let d = auto(&Fake::both());
        assert_eq!(
            (d.mode, d.reason.as_str()),
            (Nft, "no evidence, default nft")
        );
    }

    #[test]
    fn failed_and_timed_out_probes_are_no_evidence() {
        let f = Fake::both()
            .tables(V4, &["filter", "mangle"])
            .outcome(
                Probe::hint(Nft, V4),
                Outcome::TimedOut(Duration::from_secs(5)),
            )
            .outcome(
                Probe::hint(Nft, V6),
                Outcome::Failed("exit status 1".into()),
            )
            .outcome(
                Probe::full(Nft, V4),
                Outcome::TimedOut(Duration::from_secs(5)),
            )
            .answer(Probe::full(Legacy, V4), 1, None);
        let d = auto(&f);
        assert_eq!(
            (d.mode, d.reason.as_str()),
            (Legacy, "legacy 1 rules > nft 0 rules")
        );
        assert_eq!(d.probes.len(), 8, "every probe is reported: {:?}", d.probes);
    }

    #[test]
    fn probes_print_as_commands() {
        assert_eq!(
            Probe::hint(Legacy, V6).to_string(),
            "ip6tables-legacy-save -t mangle"
        );
        assert_eq!(Probe::full(Nft, V4).to_string(), "iptables-nft-save");
        assert_eq!(
            Probe::hint(Nft, V6).to_string(),
            "ip6tables-nft -t mangle -S"
        );
        assert_eq!(Probe::full(Nft, V6).command(), "ip6tables-save");
        assert_eq!(Probe::hint(Nft, V4).command(), "iptables");
        assert_eq!(Probe::hint(Nft, V4).args(), ["-t", "mangle", "-S"]);
        assert_eq!(Probe::hint(Legacy, V4).args(), ["-t", "mangle"]);
    }
}
