//! The decision rules against a fake host made of canned answers.

use super::*;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// A host made of canned answers. It remembers which probes were asked, so
/// tests can check that legacy tables were never touched, and it has a
/// clock that only pauses move, so the hint wait runs instantly.
#[derive(Default)]
struct Fake {
    installed: Vec<Mode>,
    tables: HashMap<Family, Tables>,
    answers: HashMap<Probe, Answer>,
    /// Answers that replace `answers` once the clock reaches the time.
    later: Vec<(Duration, Probe, Answer)>,
    native: Option<Vec<String>>,
    /// Each probe asked, in order, with the precision asked for.
    asked: RefCell<Vec<(Probe, Precision)>>,
    now: Cell<Duration>,
}

impl Fake {
    fn both() -> Fake {
        let mut f = Fake {
            installed: vec![Legacy, Nft],
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
        let rules = Count::exact(rules);
        self.answers.insert(probe, Answer::Found { rules, hint });
        self
    }
    fn outcome(mut self, probe: Probe, answer: Answer) -> Self {
        self.answers.insert(probe, answer);
        self
    }
    fn asked(&self) -> Vec<Probe> {
        self.asked.borrow().iter().map(|(p, _)| *p).collect()
    }
    /// The probes of `table` asked, with their precision.
    fn asked_of(&self, table: Table) -> Vec<(Probe, Precision)> {
        let asked = self.asked.borrow();
        asked
            .iter()
            .filter(|(p, _)| p.table == table)
            .copied()
            .collect()
    }
    fn counts(&self) -> Vec<(Probe, Precision)> {
        self.asked_of(Table::All)
    }
    fn current(&self, p: &Probe) -> Answer {
        let now = self.now.get();
        self.later
            .iter()
            .rev()
            .find(|(t, q, _)| *t <= now && q == p)
            .map(|(_, _, a)| a.clone())
            .or_else(|| self.answers.get(p).cloned())
            .unwrap_or(Answer::Found {
                rules: Count::ZERO,
                hint: None,
            })
    }
    /// The answer as a source asked for `precision` gives it: legacy
    /// bounds as GET_INFO gives them for rules in one user chain (at least
    /// one, at most the rules plus its head and tail), nft stopping at the
    /// count asked for.
    fn answer_with(&self, p: &Probe, precision: Precision) -> Answer {
        let answer = self.current(p);
        let Answer::Found { rules, hint } = answer else {
            return answer;
        };
        let n = rules.at_least;
        let rules = match (p.table, p.mode, precision) {
            (Table::All, Legacy, Precision::Bounds) if n > 0 => Count {
                at_least: 1,
                at_most: Some(n + 2),
            },
            (Table::All, Nft, Precision::Reach(r)) if n > r => Count::at_least(r),
            _ => rules,
        };
        Answer::Found { rules, hint }
    }
}

impl Evidence for Fake {
    fn installed(&self, mode: Mode) -> bool {
        self.installed.contains(&mode)
    }
    fn legacy_tables(&self, family: Family) -> Tables {
        self.tables[&family].clone()
    }
    fn command(&self, p: &Probe) -> (String, Source) {
        (format!("{p:?}"), Source::Process)
    }
    fn run(
        &self,
        probes: &[Probe],
        _tables: &[Tables; 2],
        precision: Precision,
    ) -> Vec<Observation> {
        self.asked
            .borrow_mut()
            .extend(probes.iter().map(|p| (*p, precision)));
        probes
            .iter()
            .map(|p| Observation {
                probe: *p,
                answer: self.answer_with(p, precision),
                source: Source::Process,
                command: format!("{p:?}"),
                detail: match self.current(p) {
                    Answer::Failed | Answer::NftUnusable(_) => Some("said no".into()),
                    _ => None,
                },
                elapsed: Some(Duration::ZERO),
            })
            .collect()
    }
    fn native_tables(&self) -> Option<Vec<String>> {
        self.native.clone()
    }
    fn clock(&self) -> Duration {
        self.now.get()
    }
    fn pause(&self, d: Duration) {
        self.now.set(self.now.get() + d);
    }
}

use Family::{V4, V6};
use Mode::{Legacy, Nft};
const HINT: Option<&str> = Some("KUBE-IPTABLES-HINT");
const CANARY: Option<&str> = Some("KUBE-KUBELET-CANARY");

fn req(setting: Setting) -> Request {
    Request {
        setting,
        hint_wait: Duration::ZERO,
        thorough: false,
    }
}

fn auto(f: &Fake) -> Decision {
    decide(&req(Setting::Auto), f).unwrap()
}

fn thorough(f: &Fake, setting: Setting) -> Decision {
    decide(
        &Request {
            thorough: true,
            ..req(setting)
        },
        f,
    )
    .unwrap()
}

/// Both families' (mode, reason).
fn modes(d: &Decision) -> [(Mode, Reason); 2] {
    d.families.clone().map(|c| (c.mode, c.reason))
}

fn both(mode: Mode, reason: Reason) -> [(Mode, Reason); 2] {
    [(mode, reason.clone()), (mode, reason)]
}

fn kinds(d: &Decision) -> Vec<&'static str> {
    d.warnings.iter().map(Warning::kind).collect()
}

#[test]
fn override_wins_without_probing() {
    let f = Fake::both().answer(Probe::hint(Nft, V4), 0, HINT);
    let d = decide(&req(Setting::Force(Legacy)), &f).unwrap();
    assert_eq!(modes(&d), both(Legacy, Reason::Override(Legacy)));
    assert!(f.asked().is_empty());
    assert!(d.probes.is_empty());
    // Legacy forced where the kernel lists no legacy table at all.
    assert_eq!(kinds(&d), ["legacy-maybe-missing"]);
    assert_eq!(
        Reason::Override(Legacy).to_string(),
        "IPTABLES_WRAPPER_MODE=legacy"
    );
}

#[test]
fn detect_says_when_the_override_contradicts_the_host() {
    let f = Fake::both()
        .tables(V4, &["mangle"])
        .answer(Probe::hint(Legacy, V4), 0, HINT);
    let d = thorough(&f, Setting::Force(Nft));
    assert_eq!(modes(&d), both(Nft, Reason::Override(Nft)));
    let hint = Reason::Hint {
        chain: "KUBE-IPTABLES-HINT",
        mode: Legacy,
        family: V4,
    };
    assert_eq!(
        d.warnings[0],
        Warning::OverrideMismatch {
            family: V4,
            forced: Nft,
            detected: Legacy,
            reason: hint
        }
    );
    assert_eq!(kinds(&d), ["override-mismatch", "override-mismatch"]);
    assert!(d.warnings[0]
        .to_string()
        .starts_with("IPTABLES_WRAPPER_MODE=nft, but detection would choose legacy for IPv4 (KUBE-IPTABLES-HINT in iptables-legacy mangle)"));
    // An override that agrees: no warning.
    let d = thorough(&f, Setting::Force(Legacy));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[test]
fn override_of_a_missing_mode_is_refused() {
    let f = Fake {
        installed: vec![Nft],
        ..Fake::both()
    };
    assert_eq!(
        decide(&req(Setting::Force(Legacy)), &f),
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
        assert_eq!(modes(&d), both(m, Reason::OnlyInstalled(m)));
        assert_eq!(
            d.family(V4).reason.to_string(),
            format!("only {m} installed")
        );
        assert!(f.asked().is_empty());
    }
    let none = Fake {
        installed: vec![],
        ..Fake::both()
    };
    assert_eq!(
        decide(&req(Setting::Auto), &none),
        Err(Refusal::NothingInstalled)
    );
}

#[test]
fn a_kernel_without_nf_tables_means_legacy() {
    let unusable = Answer::NftUnusable("said no".into());
    let f = Fake::both()
        .tables(V4, &["filter"])
        .outcome(Probe::hint(Nft, V4), unusable.clone())
        .outcome(Probe::hint(Nft, V6), unusable);
    let d = auto(&f);
    assert_eq!(
        modes(&d),
        both(Legacy, Reason::NftUnusable("said no".into()))
    );
    assert_eq!(d.family(V6).reason.kind(), "nft-unusable");
    assert!(
        !f.asked().iter().any(|p| p.table == Table::All),
        "no counting needed"
    );
    // Any other failure, or a timeout, is no evidence: the default stands.
    let f = Fake::both()
        .outcome(Probe::hint(Nft, V4), Answer::Failed)
        .outcome(Probe::hint(Nft, V6), Answer::TimedOut)
        .outcome(Probe::count(Nft, V4), Answer::TimedOut);
    assert_eq!(modes(&auto(&f)), both(Nft, Reason::Default));
}

#[test]
fn each_family_follows_its_own_hint() {
    let f = Fake::both()
        .tables(V4, &["mangle"])
        .answer(Probe::hint(Legacy, V4), 0, HINT)
        .answer(Probe::hint(Nft, V6), 0, CANARY)
        .answer(Probe::count(Nft, V4), 900, None);
    let d = auto(&f);
    assert_eq!(d.overall(), Overall::Split);
    assert_eq!(
        modes(&d),
        [
            (
                Legacy,
                Reason::Hint {
                    chain: "KUBE-IPTABLES-HINT",
                    mode: Legacy,
                    family: V4
                }
            ),
            (
                Nft,
                Reason::Hint {
                    chain: "KUBE-KUBELET-CANARY",
                    mode: Nft,
                    family: V6
                }
            )
        ]
    );
    assert!(
        !f.asked().iter().any(|p| p.table == Table::All),
        "a first call counts nothing after a hint"
    );
}

#[test]
fn a_family_without_a_hint_follows_the_other() {
    let f = Fake::both()
        .tables(V6, &["filter", "mangle"])
        .answer(Probe::hint(Legacy, V6), 0, HINT)
        .answer(Probe::count(Nft, V4), 50, None);
    let d = auto(&f);
    assert_eq!(d.overall(), Overall::Same(Legacy));
    let r4 = &d.family(V4).reason;
    assert_eq!(r4.kind(), "other-family-hint");
    assert_eq!(
        r4.to_string(),
        "no hint of its own; follows KUBE-IPTABLES-HINT in ip6tables-legacy mangle"
    );
    assert_eq!(
        d.family(V6).reason.to_string(),
        "KUBE-IPTABLES-HINT in ip6tables-legacy mangle"
    );
}

#[test]
fn nft_hint_beats_legacy_hint_in_a_family() {
    let f = Fake::both()
        .tables(V4, &["mangle"])
        .answer(Probe::hint(Legacy, V4), 0, HINT)
        .answer(Probe::hint(Nft, V4), 0, HINT);
    let d = auto(&f);
    assert_eq!(d.overall(), Overall::Same(Nft));
    assert_eq!(d.family(V4).reason.kind(), "hint");
    assert_eq!(d.family(V6).reason.kind(), "other-family-hint");
}

#[test]
fn legacy_mangle_is_never_read_unless_listed() {
    let f = Fake::both()
        .tables(V4, &["filter", "nat"])
        .answer(Probe::hint(Legacy, V4), 0, HINT);
    let d = auto(&f);
    assert_eq!(modes(&d), both(Nft, Reason::Default));
    let asked = f.asked();
    assert!(!asked.contains(&Probe::hint(Legacy, V4)));
    assert!(!asked.contains(&Probe::hint(Legacy, V6)));
    // A family with no legacy tables at all gets no full count either.
    assert!(asked.contains(&Probe::count(Legacy, V4)));
    assert!(!asked.contains(&Probe::count(Legacy, V6)));
    let skipped = d
        .probes
        .iter()
        .find(|o| o.probe == Probe::hint(Legacy, V4))
        .unwrap();
    assert_eq!(skipped.answer, Answer::NotRun);
    assert_eq!(
        skipped.detail.as_deref(),
        Some("mangle not listed in /proc/net/ip_tables_names")
    );
}

#[test]
fn unknown_legacy_tables_mean_no_legacy_probes() {
    let mut f = Fake::both().answer(Probe::count(Nft, V4), 2, None);
    for fam in Family::ALL {
        f.tables
            .insert(fam, Tables::Unknown("/proc is not mounted".into()));
    }
    let d = auto(&f);
    assert!(f.asked().iter().all(|p| p.mode == Nft));
    assert_eq!(
        modes(&d),
        both(
            Nft,
            Reason::RuleCount {
                legacy: Count::ZERO,
                nft: Count::at_least(1)
            }
        )
    );
    assert!(
        d.warnings.is_empty(),
        "no legacy-maybe-missing without /proc"
    );
}

#[test]
fn counting_decides_each_way_and_sums_both_families() {
    let f = Fake::both()
        .tables(V4, &["filter"])
        .tables(V6, &["filter"])
        .answer(Probe::count(Legacy, V4), 1500, None)
        .answer(Probe::count(Legacy, V6), 20, None)
        .answer(Probe::count(Nft, V4), 3, None);
    let d = auto(&f);
    let r = Reason::RuleCount {
        legacy: Count::exact(1520),
        nft: Count::exact(3),
    };
    assert_eq!(r.to_string(), "legacy 1520 rules > nft 3 rules");
    assert_eq!(modes(&d), both(Legacy, r));
    // The 3 nft rules of IPv4 are stranded, and the first call says so.
    assert_eq!(
        d.warnings,
        [Warning::StrandedRules {
            family: V4,
            loser: Nft,
            rules: Count::exact(3),
            winner_rules: Some(Count::exact(1500))
        }]
    );

    let f = Fake::both()
        .tables(V4, &["filter"])
        .answer(Probe::count(Legacy, V4), 3, None)
        .answer(Probe::count(Nft, V6), 4, None);
    let d = auto(&f);
    assert_eq!(
        d.family(V4).reason.to_string(),
        "nft 4 rules > legacy 3 rules"
    );
    assert_eq!(kinds(&d), ["stranded-rules"]);
}

/// What a first call says when legacy's bounds (the fake's: 1 to n + 2)
/// already beat an empty nft.
fn legacy_by_bounds(n: u64) -> Reason {
    Reason::RuleCount {
        legacy: Count {
            at_least: 1,
            at_most: Some(n + 2),
        },
        nft: Count::ZERO,
    }
}

#[test]
fn a_first_call_asks_mangle_only_for_its_hint() {
    // A first call needs the hint, not mangle's rule count; `detect` shows
    // both, so it asks for the count too.
    let f = Fake::both()
        .tables(V4, &["mangle"])
        .answer(Probe::hint(Nft, V4), 3, HINT);
    let hints = |p: Precision| {
        [
            (Probe::hint(Nft, V4), p),
            (Probe::hint(Nft, V6), p),
            (Probe::hint(Legacy, V4), p),
        ]
    };
    let d = auto(&f);
    assert_eq!(d.family(V4).reason.kind(), "hint");
    assert_eq!(f.asked_of(Table::Mangle), hints(Precision::Bounds));

    f.asked.borrow_mut().clear();
    thorough(&f, Setting::Auto);
    assert_eq!(f.asked_of(Table::Mangle), hints(Precision::Exact));
}

#[test]
fn a_first_call_counts_only_what_decides() {
    use Precision::{Bounds, Exact, Reach};
    // A big legacy ruleset and no nft rules: legacy's bounds decide, and
    // the legacy rules are never read one by one.
    let f = Fake::both()
        .tables(V4, &["filter"])
        .answer(Probe::count(Legacy, V4), 100_000, None);
    let d = auto(&f);
    assert_eq!(modes(&d), both(Legacy, legacy_by_bounds(100_000)));
    assert_eq!(
        d.family(V4).reason.to_string(),
        "legacy 1 to 100002 rules > nft 0 rules"
    );
    assert_eq!(
        f.counts(),
        [
            (Probe::count(Legacy, V4), Bounds),
            (Probe::count(Nft, V4), Reach(100_003)),
            (Probe::count(Nft, V6), Reach(100_003)),
        ]
    );
    // detect counts everything, and agrees.
    let d = thorough(&f, Setting::Auto);
    assert_eq!(
        d.family(V4).reason.to_string(),
        "legacy 100000 rules > nft 0 rules"
    );

    // A big nft ruleset and no legacy table: nft counts to one rule.
    let f = Fake::both().answer(Probe::count(Nft, V4), 100_000, None);
    let d = auto(&f);
    let r = Reason::RuleCount {
        legacy: Count::ZERO,
        nft: Count::at_least(1),
    };
    assert_eq!(r.to_string(), "nft 1+ rules > legacy 0 rules");
    assert_eq!(modes(&d), both(Nft, r));
    assert_eq!(f.counts()[0], (Probe::count(Nft, V4), Reach(1)));

    // Some legacy rules under a big nft ruleset: nft counts past legacy's
    // upper bound, and the stranded legacy rules are still reported.
    let f = Fake::both()
        .tables(V4, &["filter"])
        .answer(Probe::count(Legacy, V4), 5, None)
        .answer(Probe::count(Nft, V4), 100_000, None);
    let d = auto(&f);
    let legacy = Count {
        at_least: 1,
        at_most: Some(7),
    };
    assert_eq!(
        modes(&d),
        both(
            Nft,
            Reason::RuleCount {
                legacy,
                nft: Count::at_least(8)
            }
        )
    );
    assert_eq!(
        d.warnings,
        [Warning::StrandedRules {
            family: V4,
            loser: Legacy,
            rules: legacy,
            winner_rules: Some(Count::at_least(8)),
        }]
    );
    assert!(d.warnings[0].to_string().starts_with(
        "IPv4: legacy holds 1 to 7 rules that will be ignored, since IPv4 uses nft (8+ rules)"
    ));

    // Bounds that leave the order open: legacy is then counted exactly.
    let f = Fake::both()
        .tables(V4, &["filter"])
        .answer(Probe::count(Legacy, V4), 3, None)
        .answer(Probe::count(Nft, V4), 2, None);
    let d = auto(&f);
    assert_eq!(
        d.family(V4).reason.to_string(),
        "legacy 3 rules > nft 2 rules"
    );
    assert_eq!(
        f.counts(),
        [
            (Probe::count(Legacy, V4), Bounds),
            (Probe::count(Nft, V4), Reach(6)),
            (Probe::count(Nft, V6), Reach(6)),
            (Probe::count(Legacy, V4), Exact),
        ]
    );
}

#[test]
fn bounds_decide_only_when_they_settle_the_order() {
    let between = |lo, hi| Count {
        at_least: lo,
        at_most: Some(hi),
    };
    let e = Count::exact;
    let decided = |l, n| compare(l, n).map(|(m, _)| m);
    assert_eq!(decided(between(1, 9), e(0)), Some(Legacy));
    assert_eq!(decided(between(1, 9), Count::at_least(10)), Some(Nft));
    assert_eq!(decided(between(1, 9), e(9)), None);
    assert_eq!(decided(between(1, 9), e(1)), None);
    assert_eq!(decided(e(3), Count::at_least(3)), None);
    assert_eq!(decided(e(3), Count::at_least(4)), Some(Nft));
    assert_eq!(decided(e(4), e(3)), Some(Legacy));
    assert_eq!(
        compare(e(3), e(3)).map(|(_, r)| r),
        Some(Reason::Tie { rules: 3 })
    );
    assert_eq!(compare(e(0), e(0)).map(|(_, r)| r), Some(Reason::Default));
    assert_eq!(e(5).plus(between(1, 2)), between(6, 7));
    assert_eq!(e(5).plus(Count::at_least(1)), Count::at_least(6));
}

#[test]
fn a_tie_goes_to_nft_and_nothing_is_the_default() {
    let f = Fake::both()
        .tables(V4, &["filter"])
        .answer(Probe::count(Legacy, V4), 7, None)
        .answer(Probe::count(Nft, V4), 7, None);
    let d = auto(&f);
    assert_eq!(modes(&d), both(Nft, Reason::Tie { rules: 7 }));
    assert_eq!(
        d.family(V4).reason.to_string(),
        "legacy 7 rules = nft 7 rules, a tie goes to nft"
    );
    let d = auto(&Fake::both());
    assert_eq!(modes(&d), both(Nft, Reason::Default));
    assert_eq!(Reason::Default.to_string(), "no evidence, default nft");
}

#[test]
fn detect_counts_after_a_hint_to_find_stranded_rules() {
    let f = Fake::both()
        .tables(V4, &["filter"])
        .answer(Probe::hint(Nft, V4), 0, HINT)
        .answer(Probe::count(Legacy, V4), 1500, None)
        .answer(Probe::count(Nft, V4), 12, None);
    assert!(auto(&f).warnings.is_empty(), "a first call does not count");
    let d = thorough(&f, Setting::Auto);
    assert_eq!(d.overall(), Overall::Same(Nft));
    assert_eq!(
        d.warnings,
        [Warning::StrandedRules {
            family: V4,
            loser: Legacy,
            rules: Count::exact(1500),
            winner_rules: Some(Count::exact(12))
        }]
    );
    assert!(d.warnings[0].to_string().starts_with(
        "IPv4: legacy holds 1500 rules that will be ignored, since IPv4 uses nft (12 rules)"
    ));
}

#[test]
fn a_hint_that_appears_during_the_wait_wins() {
    let mut f = Fake::both()
        .tables(V4, &["filter"])
        .answer(Probe::count(Legacy, V4), 30, None);
    f.later.push((
        Duration::from_millis(1000),
        Probe::hint(Nft, V6),
        Answer::Found {
            rules: Count::ZERO,
            hint: HINT,
        },
    ));
    let wait = |secs: u64| Request {
        hint_wait: Duration::from_secs(secs),
        ..req(Setting::Auto)
    };
    let d = decide(&wait(5), &f).unwrap();
    assert_eq!(d.overall(), Overall::Same(Nft));
    assert_eq!(d.family(V6).reason.kind(), "hint");
    assert!(d.warnings.is_empty());
    // It asked every 250 ms: the hint appeared at the fourth round.
    assert_eq!(f.clock(), Duration::from_millis(1000));
    assert!(!f.asked().iter().any(|p| p.table == Table::All));

    // Without the wait, the counts decide.
    f.now.set(Duration::ZERO);
    let d = auto(&f);
    assert_eq!(modes(&d), both(Legacy, legacy_by_bounds(30)));
}

#[test]
fn a_wait_that_expires_falls_back_to_counting_with_a_warning() {
    let f = Fake::both()
        .tables(V4, &["filter"])
        .answer(Probe::count(Legacy, V4), 30, None);
    let d = decide(
        &Request {
            hint_wait: Duration::from_millis(1100),
            ..req(Setting::Auto)
        },
        &f,
    )
    .unwrap();
    assert_eq!(modes(&d), both(Legacy, legacy_by_bounds(30)));
    assert_eq!(
        d.warnings,
        [Warning::HintWaitExpired {
            waited: Duration::from_millis(1100)
        }]
    );
    assert_eq!(f.clock(), Duration::from_millis(1100), "waited exactly");
    // Each hint probe is reported once, with its last answer.
    let hint_reports = d
        .probes
        .iter()
        .filter(|o| o.probe == Probe::hint(Nft, V4))
        .count();
    assert_eq!(hint_reports, 1);
}

#[test]
fn legacy_on_a_kernel_listing_no_x_tables_is_warned() {
    let unusable = Answer::NftUnusable("said no".into());
    let f = Fake::both().outcome(Probe::hint(Nft, V4), unusable);
    let d = auto(&f);
    assert_eq!(d.overall(), Overall::Same(Legacy));
    assert_eq!(kinds(&d), ["legacy-maybe-missing"]);
    // Tables listed: legacy is there.
    let f = Fake::both()
        .tables(V4, &["filter"])
        .outcome(Probe::hint(Nft, V4), Answer::NftUnusable("said no".into()));
    assert!(auto(&f).warnings.is_empty());
}

#[test]
fn native_nftables_tables_are_a_warning_when_legacy_wins() {
    let mut f = Fake::both()
        .tables(V4, &["mangle"])
        .answer(Probe::hint(Legacy, V4), 0, HINT);
    f.native = Some(vec!["inet kube-proxy".into()]);
    let d = thorough(&f, Setting::Auto);
    assert_eq!(d.native_tables, Some(vec!["inet kube-proxy".to_string()]));
    assert_eq!(kinds(&d), ["native-nftables"]);
    assert!(
        auto(&f).warnings.is_empty(),
        "a first call does not list them"
    );
}

#[test]
fn unsplit_uses_ipv4s_mode_and_says_so() {
    let f = Fake::both()
        .tables(V4, &["mangle"])
        .tables(V6, &["filter"])
        .answer(Probe::hint(Legacy, V4), 0, HINT)
        .answer(Probe::hint(Nft, V6), 0, HINT)
        .answer(Probe::count(Legacy, V6), 2, None);
    // detect counts: IPv6's 2 legacy rules look stranded while IPv6 is nft...
    let mut d = thorough(&f, Setting::Auto);
    assert_eq!(kinds(&d), ["stranded-rules"]);
    d.unsplit("iptables");
    // ...but IPv6 uses legacy too once the names cannot be split.
    assert_eq!(kinds(&d), ["split-not-possible"]);
    let mut d = auto(&f);
    d.unsplit("iptables");
    assert_eq!(d.overall(), Overall::Same(Legacy));
    assert_eq!(d.family(V6).reason.kind(), "hint");
    assert_eq!(
        d.warnings,
        [Warning::SplitNotPossible {
            v4: Legacy,
            v6: Nft,
            group: "iptables".into()
        }]
    );
}

/// Every probe of every mode and family answers `answer`.
fn all_answer(answer: Answer) -> Fake {
    let mut f = Fake::both()
        .tables(V4, &["mangle", "filter"])
        .tables(V6, &["mangle", "filter"]);
    for m in Mode::ALL {
        for fam in Family::ALL {
            f = f
                .outcome(Probe::hint(m, fam), answer.clone())
                .outcome(Probe::count(m, fam), answer.clone());
        }
    }
    f
}

#[test]
fn probes_that_could_not_look_are_not_no_evidence() {
    // No CAP_NET_ADMIN: every probe refused, its process fallback too.
    let d = auto(&all_answer(Answer::Failed));
    assert_eq!(modes(&d), both(Nft, Reason::Default));
    assert_eq!(kinds(&d), ["probes-refused", "probes-refused"]);
    assert_eq!(
        d.warnings[0],
        Warning::ProbesRefused {
            family: V4,
            errors: [
                Probe::hint(Nft, V4),
                Probe::hint(Legacy, V4),
                Probe::count(Legacy, V4),
                Probe::count(Nft, V4),
            ]
            .map(|p| format!("{p:?}: said no"))
            .to_vec()
        }
    );
    assert!(
        !d.may_commit(),
        "a default nobody could check is not committed"
    );
    // Timed out everywhere: no answer either.
    let d = auto(&all_answer(Answer::TimedOut));
    assert_eq!(kinds(&d), ["probes-refused", "probes-refused"]);
    assert!(d.warnings[1].to_string().contains("every probe of IPv6"));
    assert!(!d.may_commit());
    // The kernel saying nf_tables does not exist is an answer.
    let d = auto(&all_answer(Answer::NftUnusable("said no".into())));
    assert_eq!(d.family(V4).reason.kind(), "nft-unusable");
    assert!(d.may_commit(), "{:?}", d.warnings);
    // So is an empty ruleset, and a count that came back in one family
    // while the others failed looks for that family only.
    assert!(auto(&Fake::both()).may_commit());
    let f = all_answer(Answer::Failed).answer(Probe::count(Legacy, V6), 0, None);
    let d = auto(&f);
    assert_eq!(kinds(&d), ["probes-refused"]);
    assert!(matches!(
        d.warnings[0],
        Warning::ProbesRefused { family: V4, .. }
    ));
    assert!(!d.may_commit());
}

#[test]
fn probes_not_run_are_not_refused() {
    // Legacy not probed (no tables listed), nft answered: no warning.
    let f = Fake::both().outcome(Probe::hint(Legacy, V4), Answer::Failed);
    assert!(auto(&f).warnings.is_empty());
    // One mode installed, or an override: nothing probed, it commits.
    let one = Fake {
        installed: vec![Legacy],
        ..all_answer(Answer::Failed)
    };
    assert!(auto(&one).may_commit());
    let forced = decide(&req(Setting::Force(Legacy)), &all_answer(Answer::Failed)).unwrap();
    assert!(forced.may_commit());
    // detect probes behind an override, but the override decides.
    let shown = thorough(&all_answer(Answer::Failed), Setting::Force(Legacy));
    assert!(shown.may_commit(), "{:?}", shown.warnings);
    // A hint in the other family decides a family that could not look:
    // the kubelet writes both families' hints in one mode.
    let f = all_answer(Answer::TimedOut)
        .tables(V6, &[])
        .answer(Probe::hint(Legacy, V4), 0, HINT);
    let d = auto(&f);
    assert_eq!(d.family(V6).reason.kind(), "other-family-hint");
    assert!(d.may_commit(), "{:?}", d.warnings);
}

#[test]
fn a_refusal_names_the_missing_capability_and_quotes_the_errors() {
    let w = Warning::ProbesRefused {
        family: V4,
        errors: vec![
            "iptables-nft-save: killed after 5.0 s".into(),
            "iptables-nft -t mangle -S: kernel source unavailable (NFT_MSG_GETGEN: Operation not permitted (os error 1))".into(),
        ],
    };
    let text = w.to_string();
    assert!(text.starts_with("every probe of IPv4 was refused or failed (iptables-nft -t mangle -S: kernel source unavailable (NFT_MSG_GETGEN: Operation not permitted (os error 1)), and 1 other error in detect --json), so nothing is known of its rules or hint; "), "{text}");
    assert!(
        text.contains("lacks CAP_NET_ADMIN and CAP_NET_RAW"),
        "{text}"
    );
    let other = Warning::ProbesRefused {
        family: V6,
        errors: vec!["killed after 5.0 s".into()],
    };
    assert!(!other.to_string().contains("CAP_NET_ADMIN"));
    assert_eq!(other.kind(), "probes-refused");
}
