//! Which mode each address family uses, and why. Pure: every fact comes in
//! through the [`Evidence`] trait, so the rules are unit-tested with fakes,
//! and the real probing (kernel queries, iptables processes, /proc, clocks)
//! lives in `probe/`. This module knows modes, families and kinds of
//! evidence; how a probe is asked, and the command line it stands for, is
//! the probe layer's business.
//!
//! The rules, for each family (IPv4, IPv6), first match wins:
//! 1. `IPTABLES_WRAPPER_MODE=legacy|nft` forces the mode for both.
//! 2. If only one mode is installed, it wins without probing.
//! 3. If the kernel says nf_tables does not exist, legacy (installed, or
//!    rule 2 would have applied) is the only back end that can work. That
//!    takes a kernel answer: a timeout or any other failure is no evidence.
//! 4. A kubelet hint chain in this family's nft mangle means nft; in its
//!    legacy mangle, legacy; in both, nft. Legacy's mangle is only read when
//!    the kernel already lists it: asking x_tables for a missing table
//!    creates it (and may load a module), and looking must not change the
//!    host.
//! 5. No hint in this family, one in the other: follow the other. The
//!    kubelet writes each family's hint through that family's binary, so a
//!    hint in one family only is still the kubelet's choice.
//! 6. No hint at all: the rule counts, both families summed; legacy needs
//!    strictly more, a tie goes to nft. A first call counts only until the
//!    order of the two is settled ([`Precision`]), so its counts may be
//!    bounds; `detect` counts every rule.
//! 7. No evidence: nft, the default of every current distribution.
//!
//! Could not look is not no evidence: when every probe of a family that ran
//! was refused or failed (no `CAP_NET_ADMIN`, as in a Dockerfile `RUN`
//! step) and rules 1 to 5 did not decide it, its mode (from counts that
//! miss it, or the default) comes with a `probes-refused` warning, and
//! [`Decision::may_commit`] tells a first call not to switch the names on
//! it, so that a call with the privileges decides later.
//!
//! With `hint_wait`, a call that finds no hint anywhere asks again every
//! 250 ms until one appears or the time is up, for agents that start before
//! the kubelet has written its hint.
//!
//! A decision is data: a mode and a [`Reason`] per family, and a list of
//! [`Warning`]s. `report.rs` renders them as text and JSON.

use std::fmt;
use std::time::Duration;

use crate::names::{Family, Mode};
use crate::settings::Setting;

/// Chains the kubelet creates in the mangle table of the mode it uses.
/// `KUBE-IPTABLES-HINT` is the documented hint (Kubernetes 1.24+);
/// `KUBE-KUBELET-CANARY` is older kubelets' canary chain, made in the same
/// mode. A list of data: every source looks for the names it is given,
/// these first, then the operator's (`IPTABLES_WRAPPER_HINT_CHAINS`, see
/// `settings.rs`), so a hint is always one of a known list.
pub const HINT_CHAINS: &[&str] = &["KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY"];

/// How often a hint wait asks again.
pub const HINT_POLL: Duration = Duration::from_millis(250);

/// Which part of a mode's ruleset a probe reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// The mangle table only, for the hint chains.
    Mangle,
    /// Every table iptables keeps for the family, to count rules.
    All,
}

impl Table {
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Mangle => "mangle",
            Table::All => "all",
        }
    }
}

/// One question about one mode's ruleset in one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Probe {
    pub mode: Mode,
    pub family: Family,
    pub table: Table,
}

impl Probe {
    pub fn hint(mode: Mode, family: Family) -> Probe {
        Probe {
            mode,
            family,
            table: Table::Mangle,
        }
    }

    pub fn count(mode: Mode, family: Family) -> Probe {
        Probe {
            mode,
            family,
            table: Table::All,
        }
    }
}

/// Where a fact came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Asked of the kernel directly (netlink, getsockopt).
    Kernel,
    /// Read from an iptables command's output.
    Process,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Kernel => "kernel",
            Source::Process => "process",
        }
    }
}

/// A number of rules: exact, or bounds where a first call stopped counting
/// once more counting could not change its decision (see [`Precision`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    pub at_least: u64,
    /// `None`: no upper bound is known.
    pub at_most: Option<u64>,
}

impl Count {
    pub const ZERO: Count = Count::exact(0);

    pub const fn exact(n: u64) -> Count {
        Count {
            at_least: n,
            at_most: Some(n),
        }
    }

    /// At least `n`, with no upper bound known.
    pub const fn at_least(n: u64) -> Count {
        Count {
            at_least: n,
            at_most: None,
        }
    }

    pub fn is_exact(&self) -> bool {
        self.at_most == Some(self.at_least)
    }

    pub fn plus(self, other: Count) -> Count {
        Count {
            at_least: self.at_least + other.at_least,
            at_most: self.at_most.zip(other.at_most).map(|(a, b)| a + b),
        }
    }
}

/// `5`, `1 to 7`, or `5+` when only the lower bound is known.
impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at_most {
            Some(most) if most == self.at_least => write!(f, "{most}"),
            Some(most) => write!(f, "{} to {most}", self.at_least),
            None => write!(f, "{}+", self.at_least),
        }
    }
}

/// How exactly a probe must count rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// Every rule (`detect`, and a first call whose bounds did not settle).
    /// A hint probe also counts mangle's rules.
    Exact,
    /// Legacy: bounds read from the tables' sizes, without copying the
    /// rules out of the kernel, will do. A hint probe (a first call's) may
    /// answer only the hint and leave mangle's rules uncounted (`0+`). A
    /// source may always count exactly.
    Bounds,
    /// nft: counting may stop once at least this many rules were seen.
    Reach(u64),
}

/// What a probe found out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// It answered: the rules it counted, and the first hint chain declared.
    Found {
        rules: Count,
        hint: Option<&'static str>,
    },
    /// It failed: no evidence.
    Failed,
    /// It failed with the kernel's answer that nf_tables does not exist
    /// here (rule 3), in these words: `iptables: Failed to initialize nft:
    /// Protocol not supported`.
    NftUnusable(String),
    /// It did not finish in time and was stopped: no evidence.
    TimedOut,
    /// Deliberately not asked.
    NotRun,
}

/// One probe's result, as the probe layer reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub probe: Probe,
    pub answer: Answer,
    pub source: Source,
    /// How it was asked, as an operator would repeat it: `iptables-nft -t
    /// mangle -S`, or the kernel request.
    pub command: String,
    /// Why it failed or was not run, or which source it fell back from.
    pub detail: Option<String>,
    pub elapsed: Option<Duration>,
}

impl Observation {
    fn found(&self) -> Option<(Count, Option<&'static str>)> {
        match self.answer {
            Answer::Found { rules, hint } => Some((rules, hint)),
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

impl Tables {
    fn lists(&self, table: &str) -> bool {
        matches!(self, Tables::Listed(t) if t.iter().any(|n| n == table))
    }

    fn is_empty_list(&self) -> bool {
        matches!(self, Tables::Listed(t) if t.is_empty())
    }
}

/// The facts detection needs. The real implementation is `probe::Host`.
pub trait Evidence {
    /// Whether `xtables-<mode>-multi` is present and executable.
    fn installed(&self, mode: Mode) -> bool;
    /// The legacy tables that exist in this network namespace now.
    fn legacy_tables(&self, family: Family) -> Tables;
    /// How `probe` would be asked, for a probe that is not run.
    fn command(&self, probe: &Probe) -> (String, Source);
    /// Asks the probes (concurrently where they are processes, each with a
    /// deadline) and returns one observation per probe, in order. `tables`
    /// are the legacy tables listed for each family (by [`Family::index`]),
    /// as detection last read them: only those may be read. Count probes
    /// count as exactly as `precision` asks, or more exactly.
    fn run(&self, probes: &[Probe], tables: &[Tables; 2], precision: Precision)
        -> Vec<Observation>;
    /// nf_tables tables that are not iptables-nft's, as `family name`
    /// (`inet kube-proxy`); `None` where they cannot be listed.
    fn native_tables(&self) -> Option<Vec<String>> {
        None
    }
    /// A monotonic clock, for the hint wait.
    fn clock(&self) -> Duration;
    /// Sleeps, for the hint wait.
    fn pause(&self, d: Duration);
}

/// Why a family got its mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    Override(Mode),
    OnlyInstalled(Mode),
    /// The kernel's own words, as the probe reported them.
    NftUnusable(String),
    /// A hint chain in this family's `mode` mangle.
    Hint {
        chain: &'static str,
        mode: Mode,
        family: Family,
    },
    /// No hint in this family; this one is in the other family's mangle.
    OtherFamilyHint {
        chain: &'static str,
        mode: Mode,
        family: Family,
    },
    /// Both families summed. A first call may know only bounds: it stops
    /// counting once the order of the two is settled.
    RuleCount {
        legacy: Count,
        nft: Count,
    },
    Tie {
        rules: u64,
    },
    Default,
}

impl Reason {
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Override(_) => "override",
            Reason::OnlyInstalled(_) => "only-installed",
            Reason::NftUnusable(_) => "nft-unusable",
            Reason::Hint { .. } => "hint",
            Reason::OtherFamilyHint { .. } => "other-family-hint",
            Reason::RuleCount { .. } => "rule-count",
            Reason::Tie { .. } => "tie",
            Reason::Default => "default",
        }
    }
}

impl Reason {
    /// Whether the mode rests on something seen or set (a hint, in either
    /// family, the kernel, the installation, the override), rather than on
    /// counts or the default, which a family whose probes could not look
    /// leaves open.
    pub fn is_evidence(&self) -> bool {
        !matches!(
            self,
            Reason::RuleCount { .. } | Reason::Tie { .. } | Reason::Default
        )
    }
}

/// `KUBE-IPTABLES-HINT in ip6tables-nft mangle`
fn hint_place(chain: &str, mode: Mode, family: Family) -> String {
    format!("{chain} in {}-{mode} mangle", family.prefix())
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Override(m) => write!(f, "{}={m}", crate::settings::MODE_VAR),
            Reason::OnlyInstalled(m) => write!(f, "only {m} installed"),
            Reason::NftUnusable(why) => write!(f, "nf_tables unusable in this kernel: {why}"),
            Reason::Hint {
                chain,
                mode,
                family,
            } => f.write_str(&hint_place(chain, *mode, *family)),
            Reason::OtherFamilyHint {
                chain,
                mode,
                family,
            } => write!(
                f,
                "no hint of its own; follows {}",
                hint_place(chain, *mode, *family)
            ),
            Reason::RuleCount { legacy, nft } if legacy.at_least > nft.at_least => {
                write!(f, "legacy {legacy} rules > nft {nft} rules")
            }
            Reason::RuleCount { legacy, nft } => {
                write!(f, "nft {nft} rules > legacy {legacy} rules")
            }
            Reason::Tie { rules } => write!(
                f,
                "legacy {rules} rules = nft {rules} rules, a tie goes to nft"
            ),
            Reason::Default => f.write_str("no evidence, default nft"),
        }
    }
}

/// Something the operator should know, whatever the mode chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// The back end that lost holds rules in `family`: nothing will read them.
    StrandedRules {
        family: Family,
        loser: Mode,
        rules: Count,
        winner_rules: Option<Count>,
    },
    /// `IPTABLES_WRAPPER_MODE` says `forced`, detection says otherwise.
    OverrideMismatch {
        family: Family,
        forced: Mode,
        detected: Mode,
        reason: Reason,
    },
    /// The families use different modes, but one alternatives group covers
    /// both, so IPv4's mode is used for both.
    SplitNotPossible { v4: Mode, v6: Mode, group: String },
    /// No hint appeared within the wait.
    HintWaitExpired { waited: Duration },
    /// Legacy was chosen while the kernel lists no x_tables table at all.
    LegacyMaybeMissing,
    /// Legacy won, but nf_tables holds tables of other programs.
    NativeNftables { tables: Vec<String> },
    /// Every probe of `family` that ran was refused or failed, and no hint
    /// (of the other family), override or installation decided it: its
    /// mode is a guess. `errors` are the distinct
    /// errors the probes reported, each after its command. A first call does not switch on this
    /// ([`Decision::may_commit`]).
    ProbesRefused { family: Family, errors: Vec<String> },
}

impl Warning {
    pub fn kind(&self) -> &'static str {
        match self {
            Warning::StrandedRules { .. } => "stranded-rules",
            Warning::OverrideMismatch { .. } => "override-mismatch",
            Warning::SplitNotPossible { .. } => "split-not-possible",
            Warning::HintWaitExpired { .. } => "hint-wait-expired",
            Warning::LegacyMaybeMissing => "legacy-maybe-missing",
            Warning::NativeNftables { .. } => "native-nftables",
            Warning::ProbesRefused { .. } => "probes-refused",
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::StrandedRules {
                family,
                loser,
                rules,
                winner_rules,
            } => {
                write!(
                    f,
                    "{family}: {} holds {rules} rules that will be ignored, since {family} uses {}",
                    loser,
                    loser.other()
                )?;
                if let Some(w) = winner_rules {
                    write!(f, " ({w} rules)")?;
                }
                write!(
                    f,
                    "; if they matter, move them to {}, else remove them with {}-{loser}-save/restore",
                    loser.other(),
                    family.prefix()
                )
            }
            Warning::OverrideMismatch {
                family,
                forced,
                detected,
                reason,
            } => write!(
                f,
                "{}={forced}, but detection would choose {detected} for {family} ({reason})",
                crate::settings::MODE_VAR
            ),
            Warning::SplitNotPossible { v4, v6, group } => write!(
                f,
                "IPv4 uses {v4} and IPv6 uses {v6}, but one alternatives group ({group}) covers both families here; both use {v4}, IPv4's mode"
            ),
            Warning::HintWaitExpired { waited } => write!(
                f,
                "no kubelet hint chain appeared within {:.1} s ({}); decided without one",
                waited.as_secs_f64(),
                crate::settings::HINT_WAIT_VAR
            ),
            Warning::LegacyMaybeMissing => f.write_str(
                "legacy chosen, but the kernel lists no x_tables table at all (/proc/net/ip_tables_names, ip6_tables_names); Linux 6.17 and later can be built without legacy x_tables (CONFIG_NETFILTER_XTABLES_LEGACY), and then every legacy call fails",
            ),
            Warning::NativeNftables { tables } => write!(
                f,
                "legacy chosen, but nf_tables holds tables of other programs ({}), so this host also uses nf_tables",
                tables.join(", ")
            ),
            Warning::ProbesRefused { family, errors } => {
                let denied = |e: &&String| {
                    e.contains("Operation not permitted") || e.contains("Permission denied")
                };
                let shown = errors.iter().find(denied).or(errors.first());
                write!(f, "every probe of {family} was refused or failed")?;
                if let Some(e) = shown {
                    let more = match errors.len() {
                        1 => String::new(),
                        2 => ", and 1 other error in detect --json".to_string(),
                        n => format!(", and {} other errors in detect --json", n - 1),
                    };
                    write!(f, " ({e}{more})")?;
                }
                f.write_str(", so nothing is known of its rules or hint; ")?;
                if errors.iter().any(|e| denied(&e)) {
                    f.write_str("the wrapper lacks CAP_NET_ADMIN and CAP_NET_RAW (a Dockerfile RUN step, or a container without them); ")?;
                }
                f.write_str("a first call runs it without switching the names, so that a call that can look at the host decides")
            }
        }
    }
}

/// One family's mode and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub mode: Mode,
    pub reason: Reason,
}

/// The outcome of detection.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Indexed by [`Family::index`].
    pub families: [Choice; 2],
    pub warnings: Vec<Warning>,
    pub probes: Vec<Observation>,
    /// nf_tables tables that are not iptables-nft's, when they were listed.
    pub native_tables: Option<Vec<String>>,
}

/// Both families' mode, or that they differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overall {
    Same(Mode),
    Split,
}

impl Decision {
    fn both(reason: Reason, mode: Mode) -> Decision {
        let c = Choice { mode, reason };
        Decision {
            families: [c.clone(), c],
            warnings: vec![],
            probes: vec![],
            native_tables: None,
        }
    }

    pub fn family(&self, f: Family) -> &Choice {
        &self.families[f.index()]
    }

    pub fn mode(&self, f: Family) -> Mode {
        self.family(f).mode
    }

    pub fn overall(&self) -> Overall {
        match (self.mode(Family::V4), self.mode(Family::V6)) {
            (a, b) if a == b => Overall::Same(a),
            _ => Overall::Split,
        }
    }

    /// Whether a first call (or `switch`) may repoint the names to this
    /// decision. Not when the probes of a family could not look at the host
    /// at all and nothing else decided it (a `probes-refused` warning): the
    /// mode is then a guess, and committing it would outlive the missing
    /// privileges. An override, or a hint in the other family, commits.
    pub fn may_commit(&self) -> bool {
        !self
            .warnings
            .iter()
            .any(|w| matches!(w, Warning::ProbesRefused { .. }))
    }

    /// Where the names cannot be split (one alternatives `group` covers
    /// both families), IPv4's mode is used for both, with a warning. IPv6
    /// keeps its reason, which says what the host itself does.
    pub fn unsplit(&mut self, group: &str) {
        let (v4, v6) = (self.mode(Family::V4), self.mode(Family::V6));
        if v4 != v6 {
            self.families[Family::V6.index()].mode = v4;
            // IPv6's losing back end is now the other one.
            self.warnings.retain(|w| {
                !matches!(
                    w,
                    Warning::StrandedRules {
                        family: Family::V6,
                        ..
                    }
                )
            });
            self.warnings.extend(stranded(&self.probes, Family::V6, v4));
            self.warnings.push(Warning::SplitNotPossible {
                v4,
                v6,
                group: group.to_string(),
            });
        }
    }
}

/// Why detection could not choose.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Neither multi binary is installed.
    NothingInstalled,
    /// The forced mode is not installed.
    ForcedButMissing(Mode),
}

/// What is being asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub setting: Setting,
    pub hint_wait: Duration,
    /// `detect`: gather every piece of evidence, including rule counts after
    /// a hint and the evidence an override skips, to show every warning. A
    /// first call asks only what its decision needs.
    pub thorough: bool,
}

pub fn decide(req: &Request, ev: &dyn Evidence) -> Result<Decision, Refusal> {
    let installed: Vec<Mode> = Mode::ALL.into_iter().filter(|m| ev.installed(*m)).collect();
    let tables = Family::ALL.map(|f| ev.legacy_tables(f));
    let mut facts = Facts::new(tables);
    let mut decision = match req.setting {
        Setting::Force(mode) => {
            if !installed.contains(&mode) {
                return Err(Refusal::ForcedButMissing(mode));
            }
            let mut d = Decision::both(Reason::Override(mode), mode);
            if req.thorough && installed.len() == 2 {
                let detected = auto(req, ev, &mut facts);
                for f in Family::ALL {
                    let c = detected.family(f);
                    if c.mode != mode {
                        d.warnings.push(Warning::OverrideMismatch {
                            family: f,
                            forced: mode,
                            detected: c.mode,
                            reason: c.reason.clone(),
                        });
                    }
                }
            }
            d
        }
        Setting::Auto => match installed[..] {
            [] => return Err(Refusal::NothingInstalled),
            [only] => Decision::both(Reason::OnlyInstalled(only), only),
            _ => auto(req, ev, &mut facts),
        },
    };
    if req.thorough {
        facts.native = ev.native_tables();
    }
    facts.warn(&mut decision);
    decision.probes = facts.observed;
    decision.native_tables = facts.native;
    Ok(decision)
}

/// What the probes have shown so far.
struct Facts {
    tables: [Tables; 2],
    observed: Vec<Observation>,
    waited: Option<Duration>,
    native: Option<Vec<String>>,
}

impl Facts {
    fn new(tables: [Tables; 2]) -> Facts {
        Facts {
            tables,
            observed: vec![],
            waited: None,
            native: None,
        }
    }

    /// Asks `probes`; a probe asked again replaces its earlier result.
    fn ask(&mut self, ev: &dyn Evidence, probes: &[Probe], precision: Precision) {
        if probes.is_empty() {
            return;
        }
        for o in ev.run(probes, &self.tables, precision) {
            self.record(o);
        }
    }

    fn record(&mut self, o: Observation) {
        self.observed.retain(|old| old.probe != o.probe);
        self.observed.push(o);
    }

    fn skip(&mut self, ev: &dyn Evidence, probe: Probe, why: String) {
        let (command, source) = ev.command(&probe);
        self.record(Observation {
            probe,
            answer: Answer::NotRun,
            source,
            command,
            detail: Some(why),
            elapsed: None,
        });
    }

    fn get(&self, probe: Probe) -> Option<&Observation> {
        self.observed.iter().find(|o| o.probe == probe)
    }

    /// The hint chain a probe found, if it ran and found one.
    fn hint(&self, mode: Mode, family: Family) -> Option<&'static str> {
        self.get(Probe::hint(mode, family))
            .and_then(Observation::found)
            .and_then(|(_, h)| h)
    }

    /// The family's own hint: nft's first, so nft wins when both have one.
    fn own_hint(&self, family: Family) -> Option<(&'static str, Mode)> {
        [Mode::Nft, Mode::Legacy]
            .into_iter()
            .find_map(|m| self.hint(m, family).map(|c| (c, m)))
    }

    /// The rules `mode` holds in both families; a count that was not
    /// asked or failed adds nothing, as no evidence.
    fn total(&self, mode: Mode) -> Count {
        Family::ALL
            .iter()
            .filter_map(|f| counted(&self.observed, mode, *f))
            .fold(Count::ZERO, Count::plus)
    }

    /// The first nft probe failure that is the kernel saying nf_tables does
    /// not exist, with its words.
    fn nft_unusable(&self) -> Option<String> {
        self.observed.iter().find_map(|o| match &o.answer {
            Answer::NftUnusable(said) => Some(said.clone()),
            _ => None,
        })
    }

    /// The hint probes: nft's for both families; legacy's only where the
    /// kernel already lists mangle. `thorough` also counts mangle's rules,
    /// which only `detect` shows.
    fn hint_round(&mut self, ev: &dyn Evidence, thorough: bool) {
        let mut probes = vec![
            Probe::hint(Mode::Nft, Family::V4),
            Probe::hint(Mode::Nft, Family::V6),
        ];
        for f in Family::ALL {
            let probe = Probe::hint(Mode::Legacy, f);
            match &self.tables[f.index()] {
                t if t.lists("mangle") => probes.push(probe),
                Tables::Listed(_) => self.skip(
                    ev,
                    probe,
                    format!("mangle not listed in {}", f.legacy_tables_file()),
                ),
                Tables::Unknown(why) => self.skip(ev, probe, why.clone()),
            }
        }
        let precision = if thorough {
            Precision::Exact
        } else {
            Precision::Bounds
        };
        self.ask(ev, &probes, precision);
    }

    /// The counts, unless already asked. A family whose legacy table list
    /// is empty has no legacy rules, so it is not asked.
    ///
    /// `exact` counts every rule, legacy and nft at once. Otherwise (a first
    /// call deciding by counts) only as much is counted as the decision
    /// needs, cheapest first: legacy's bounds from the tables' sizes, then
    /// nft until it holds more than legacy can, then legacy exactly only if
    /// the bounds left the order open. Whoever wins, the counts show the
    /// order, and a lower bound above zero still proves stranded rules.
    fn count_round(&mut self, ev: &dyn Evidence, exact: bool) {
        if self.get(Probe::count(Mode::Nft, Family::V4)).is_some() {
            return;
        }
        let legacy = self.legacy_count_probes(ev);
        let nft = Family::ALL.map(|f| Probe::count(Mode::Nft, f));
        if exact {
            self.ask(ev, &[legacy, nft.to_vec()].concat(), Precision::Exact);
            return;
        }
        self.ask(ev, &legacy, Precision::Bounds);
        let reach = match self.total(Mode::Legacy).at_most {
            Some(most) => Precision::Reach(most + 1),
            None => Precision::Exact,
        };
        self.ask(ev, &nft, reach);
        if compare(self.total(Mode::Legacy), self.total(Mode::Nft)).is_none() {
            let inexact = |p: &Probe| {
                self.get(*p)
                    .and_then(Observation::found)
                    .is_some_and(|(n, _)| !n.is_exact())
            };
            let again: Vec<Probe> = legacy.iter().chain(&nft).copied().filter(inexact).collect();
            self.ask(ev, &again, Precision::Exact);
        }
    }

    /// The legacy count probes worth asking; the others are recorded as
    /// not run, with why.
    fn legacy_count_probes(&mut self, ev: &dyn Evidence) -> Vec<Probe> {
        let mut probes = vec![];
        for f in Family::ALL {
            let probe = Probe::count(Mode::Legacy, f);
            match &self.tables[f.index()] {
                Tables::Listed(t) if !t.is_empty() => probes.push(probe),
                Tables::Listed(_) => self.skip(
                    ev,
                    probe,
                    format!("no tables listed in {}", f.legacy_tables_file()),
                ),
                Tables::Unknown(why) => self.skip(ev, probe, why.clone()),
            }
        }
        probes
    }

    fn any_hint(&self) -> bool {
        Family::ALL.iter().any(|f| self.own_hint(*f).is_some())
    }

    /// Asks for the hints again every [`HINT_POLL`] until one appears or
    /// `wait` has passed. The legacy table lists are read again each time:
    /// a kubelet starting in legacy mode creates mangle as it writes its hint.
    fn wait_for_hint(&mut self, ev: &dyn Evidence, wait: Duration, thorough: bool) {
        let start = ev.clock();
        loop {
            let spent = ev.clock().saturating_sub(start);
            if spent >= wait {
                self.waited = Some(wait);
                return;
            }
            ev.pause(HINT_POLL.min(wait - spent));
            self.tables = Family::ALL.map(|f| ev.legacy_tables(f));
            self.hint_round(ev, thorough);
            if self.any_hint() {
                return;
            }
        }
    }

    fn warn(&self, d: &mut Decision) {
        if let Some(waited) = self.waited {
            d.warnings.push(Warning::HintWaitExpired { waited });
        }
        for f in Family::ALL {
            d.warnings.extend(stranded(&self.observed, f, d.mode(f)));
        }
        let legacy_chosen = Family::ALL.iter().any(|f| d.mode(*f) == Mode::Legacy);
        if legacy_chosen && self.tables.iter().all(Tables::is_empty_list) {
            d.warnings.push(Warning::LegacyMaybeMissing);
        }
        if let Some(native) = self.native.as_ref().filter(|n| !n.is_empty()) {
            if legacy_chosen {
                d.warnings.push(Warning::NativeNftables {
                    tables: native.clone(),
                });
            }
        }
        for f in Family::ALL {
            if !d.family(f).reason.is_evidence() {
                d.warnings.extend(refused(&self.observed, f));
            }
        }
    }
}

/// The probes-refused warning for `family`, if probes of it ran and none
/// looked. Looking is any answer from the host: rules or a hint counted
/// (an empty or missing table included: ENOENT is an answer), or the
/// kernel saying nf_tables does not exist. A probe refused or failed (its
/// process fallback included) or timed out could not look; one not run
/// was never asked.
fn refused(observed: &[Observation], family: Family) -> Option<Warning> {
    let ran: Vec<&Observation> = observed
        .iter()
        .filter(|o| o.probe.family == family && o.answer != Answer::NotRun)
        .collect();
    let looked =
        |o: &&Observation| matches!(o.answer, Answer::Found { .. } | Answer::NftUnusable(_));
    if ran.is_empty() || ran.iter().any(looked) {
        return None;
    }
    let mut errors: Vec<String> = vec![];
    for o in ran {
        let why = match (&o.answer, &o.detail) {
            (_, Some(d)) => d.as_str(),
            (Answer::TimedOut, None) => "timed out",
            _ => "failed",
        };
        let e = format!("{}: {why}", o.command);
        if !errors.contains(&e) {
            errors.push(e);
        }
    }
    Some(Warning::ProbesRefused { family, errors })
}

/// The rules a count probe found, if it was asked and answered.
fn counted(observed: &[Observation], mode: Mode, family: Family) -> Option<Count> {
    observed
        .iter()
        .find(|o| o.probe == Probe::count(mode, family))
        .and_then(Observation::found)
        .map(|(n, _)| n)
}

/// The stranded-rules warning for `family` using `winner`, if the losing
/// back end was counted and holds rules.
fn stranded(observed: &[Observation], family: Family, winner: Mode) -> Option<Warning> {
    let loser = winner.other();
    let rules = counted(observed, loser, family).filter(|n| n.at_least > 0)?;
    Some(Warning::StrandedRules {
        family,
        loser,
        rules,
        winner_rules: counted(observed, winner, family),
    })
}

/// Rules 3 to 7, both modes installed.
fn auto(req: &Request, ev: &dyn Evidence, facts: &mut Facts) -> Decision {
    facts.hint_round(ev, req.thorough);
    if let Some(why) = facts.nft_unusable() {
        if req.thorough {
            facts.count_round(ev, true);
        }
        return Decision::both(Reason::NftUnusable(why), Mode::Legacy);
    }
    if !facts.any_hint() && !req.hint_wait.is_zero() {
        facts.wait_for_hint(ev, req.hint_wait, req.thorough);
    }
    let hinted = Family::ALL.map(|f| facts.own_hint(f));
    let choice = |f: Family| -> Option<Choice> {
        if let Some((chain, mode)) = hinted[f.index()] {
            return Some(Choice {
                mode,
                reason: Reason::Hint {
                    chain,
                    mode,
                    family: f,
                },
            });
        }
        let other = f.other();
        hinted[other.index()].map(|(chain, mode)| Choice {
            mode,
            reason: Reason::OtherFamilyHint {
                chain,
                mode,
                family: other,
            },
        })
    };
    if let (Some(v4), Some(v6)) = (choice(Family::V4), choice(Family::V6)) {
        if req.thorough {
            facts.count_round(ev, true);
        }
        return Decision {
            families: [v4, v6],
            warnings: vec![],
            probes: vec![],
            native_tables: None,
        };
    }

    facts.count_round(ev, req.thorough);
    let (legacy, nft) = (facts.total(Mode::Legacy), facts.total(Mode::Nft));
    // count_round counts exactly where the bounds leave the order open, so
    // this falls back only for a source that answered less exactly than
    // asked; the lower bounds then decide.
    let (mode, reason) = compare(legacy, nft).unwrap_or_else(|| {
        let lower = |c: Count| Count::exact(c.at_least);
        compare(lower(legacy), lower(nft)).expect("exact counts are always ordered")
    });
    Decision::both(reason, mode)
}

/// Rules 6 and 7: the mode the counts choose, if their bounds settle it
/// (exact counts always do). Legacy needs strictly more; a tie goes to nft.
fn compare(legacy: Count, nft: Count) -> Option<(Mode, Reason)> {
    let count = Reason::RuleCount { legacy, nft };
    let above = |a: Count, b: Count| b.at_most.is_some_and(|most| a.at_least > most);
    if above(legacy, nft) {
        Some((Mode::Legacy, count))
    } else if above(nft, legacy) {
        Some((Mode::Nft, count))
    } else if legacy.is_exact() && nft.is_exact() {
        // Neither is above the other: equal.
        Some(match nft.at_least {
            0 => (Mode::Nft, Reason::Default),
            rules => (Mode::Nft, Reason::Tie { rules }),
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
