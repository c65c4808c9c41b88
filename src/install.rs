//! `iptables-wrapper install`: puts the wrapper in front of the six names in
//! an image. Everything is checked before anything changes, so a refusal
//! leaves the image exactly as it was. Running it twice changes nothing the
//! second time.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, Context};

use crate::alternatives::{self, GroupLinks};
use crate::locate::{self, FileId};
use crate::names::{self, Mode, COMMANDS};
use crate::probe::is_executable;
use crate::switch::replace_link;
use crate::version::{self, Version};
use crate::Failure;

/// Above Debian's nft (20) and legacy (10), so `--auto` keeps the wrapper.
pub const PRIORITY: &str = "100";

#[derive(Debug, Default)]
pub struct Options {
    pub sanity_check: bool,
    pub symlinks: bool,
}

fn refuse(msg: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        error: anyhow!("install refused: {msg}"),
    }
}

/// The wrapper's own path without needing /proc: argv[0] when absolute
/// (Docker `RUN ["/usr/sbin/iptables-wrapper", "install"]`), else
/// /proc/self/exe.
fn own_path(argv0: &OsStr) -> Result<PathBuf, Failure> {
    let p = Path::new(argv0);
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    fs::read_link("/proc/self/exe").map_err(|e| {
        refuse(format_args!(
            "cannot tell where this binary is ({:?} is not an absolute path and /proc/self/exe is unreadable: {e}); run it by absolute path, for example /usr/sbin/iptables-wrapper install",
            argv0
        ))
    })
}

pub fn run(argv0: &OsStr, opts: Options) -> Result<(), Failure> {
    let own = own_path(argv0)?;
    let own_name = locate::basename(own.as_os_str());
    if names::command(&own_name).is_some() {
        return Err(refuse(format_args!(
            "the wrapper must keep a name of its own, not {own_name}; call it iptables-wrapper"
        )));
    }
    let dir = locate::dir_of(&own)?;
    let present: Vec<Mode> = Mode::ALL
        .into_iter()
        .filter(|m| is_executable(&dir.join(m.multi())))
        .collect();
    if present.is_empty() {
        return Err(refuse(format_args!(
            "{} holds neither xtables-legacy-multi nor xtables-nft-multi. Put iptables-wrapper in the directory that holds iptables (usually /usr/sbin or /sbin), where the names it stands in for live",
            dir.display()
        )));
    }
    if opts.sanity_check {
        sanity_check(&dir, &present)?;
    }
    let plan = plan(&dir, &own, opts.symlinks)?;
    for step in plan {
        for line in step
            .apply(&own)
            .map_err(|e| Failure { code: 1, error: e })?
        {
            println!("{line}");
        }
    }
    Ok(())
}

fn sanity_check(dir: &Path, present: &[Mode]) -> Result<(), Failure> {
    for mode in Mode::ALL {
        if !present.contains(&mode) {
            return Err(refuse(format_args!(
                "{} is missing, so the wrapper could not follow a host that uses {mode}. {}",
                dir.join(mode.multi()).display(),
                package_advice(mode)
            )));
        }
    }
    for mode in Mode::ALL {
        let multi = dir.join(mode.multi());
        let v = match run_version(&multi) {
            Ok(v) => v,
            Err(why) => package_version().ok_or_else(|| {
                refuse(format_args!(
                    "cannot tell the iptables version: {why}, and neither dpkg's nor apk's database lists iptables. If you know it is {} or newer, rerun with --no-sanity-check",
                    version::MINIMUM
                ))
            })?,
        };
        if let Some(problem) = version::problem(v) {
            return Err(refuse(format_args!("{problem} ({})", multi.display())));
        }
    }
    Ok(())
}

/// `xtables-<mode>-multi iptables --version`, parsed.
fn run_version(multi: &Path) -> Result<Version, String> {
    use std::os::unix::process::CommandExt;
    let out = Command::new(multi)
        .arg0("iptables")
        .arg("--version")
        .output()
        .map_err(|e| format!("{} cannot be run ({e})", multi.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    version::from_output(&text).ok_or_else(|| {
        format!(
            "`{} --version` printed no version ({:?})",
            multi.display(),
            text.trim()
        )
    })
}

const DPKG_STATUS: &str = "/var/lib/dpkg/status";
const APK_INSTALLED: &str = "/lib/apk/db/installed";

fn package_version() -> Option<Version> {
    let read = |p: &str| fs::read_to_string(p).ok();
    read(DPKG_STATUS)
        .and_then(|s| version::from_dpkg_status(&s, "iptables"))
        .or_else(|| read(APK_INSTALLED).and_then(|s| version::from_apk_installed(&s, "iptables")))
}

/// Which package brings the missing mode, by the distribution's ID.
fn package_advice(mode: Mode) -> String {
    let os = fs::read_to_string("/etc/os-release").unwrap_or_default();
    let ids: Vec<&str> = os
        .lines()
        .filter_map(|l| l.strip_prefix("ID=").or_else(|| l.strip_prefix("ID_LIKE=")))
        .flat_map(|v| v.trim_matches('"').split_whitespace())
        .collect();
    let has = |id: &str| ids.contains(&id);
    if has("alpine") {
        format!(
            "Alpine 3.19 and later ship it in a separate package: apk add iptables iptables-{mode}"
        )
    } else if has("fedora") || has("rhel") {
        format!("Fedora ships each mode in its own package: dnf install iptables-{mode}")
    } else if has("debian") {
        "Debian's iptables package ships both modes: apt-get install iptables".to_string()
    } else {
        format!("Install the package that provides iptables-{mode} (Debian: iptables; Alpine 3.19+ and Fedora: iptables-{mode})")
    }
}

/// One change to make, worked out before anything is changed.
enum Step {
    /// Register the wrapper in an alternatives group and make it selected.
    Alternative {
        tool: PathBuf,
        group: &'static str,
        links: GroupLinks,
    },
    /// Point a name straight at the wrapper.
    Link(PathBuf),
}

fn plan(dir: &Path, own: &Path, symlinks: bool) -> Result<Vec<Step>, Failure> {
    let own_id = FileId::of(own);
    let mut steps = Vec::new();
    let mut covered: Vec<String> = Vec::new();
    let managed = COMMANDS
        .iter()
        .any(|c| alternatives::is_managed(&dir.join(c)));
    if managed && !symlinks {
        let tool = alternatives::find_tool().ok_or_else(|| {
            refuse(format_args!(
                "the iptables names go through /etc/alternatives, but no update-alternatives or alternatives is in {}. Add it, or pass --symlinks to link the names directly",
                alternatives::TOOL_DIRS.join(", ")
            ))
        })?;
        for group in alternatives::GROUPS {
            let Some(admin) = alternatives::admin_file(group) else {
                continue;
            };
            let text = fs::read_to_string(&admin)
                .map_err(|e| refuse(format_args!("cannot read {}: {e}", admin.display())))?;
            let mut links = alternatives::parse_links(&text).ok_or_else(|| {
                refuse(format_args!(
                    "{} is not an alternatives file this tool understands; pass --symlinks",
                    admin.display()
                ))
            })?;
            let same_dir = |p: &Path| {
                p.parent().and_then(|d| fs::canonicalize(d).ok()) == fs::canonicalize(dir).ok()
            };
            if !same_dir(&links.master) {
                return Err(refuse(format_args!(
                    "the {group} alternative manages {}, but the wrapper is in {}; install it next to the iptables it stands in for",
                    links.master.display(),
                    dir.display()
                )));
            }
            links
                .slaves
                .retain(|(name, link)| names::command(name).is_some() && same_dir(link));
            covered.push(locate::basename(links.master.as_os_str()));
            covered.extend(links.slaves.iter().map(|(n, _)| n.clone()));
            steps.push(Step::Alternative {
                tool: tool.clone(),
                group,
                links,
            });
        }
    }
    for name in COMMANDS.iter().filter(|c| !covered.iter().any(|n| n == *c)) {
        let path = dir.join(name);
        if own_id.is_none() || FileId::of(&path) != own_id {
            steps.push(Step::Link(path));
        }
    }
    Ok(steps)
}

impl Step {
    fn apply(&self, own: &Path) -> anyhow::Result<Vec<String>> {
        let own_s = own.to_string_lossy();
        match self {
            Step::Link(path) => {
                let target = Path::new(own.file_name().unwrap_or_default());
                replace_link(path, target)
                    .with_context(|| format!("cannot link {} to the wrapper", path.display()))?;
                Ok(vec![format!(
                    "linked {} -> {}",
                    path.display(),
                    target.display()
                )])
            }
            Step::Alternative { tool, group, links } => {
                let mut changes = Vec::new();
                let admin = alternatives::admin_file(group)
                    .map(fs::read_to_string)
                    .transpose()?
                    .unwrap_or_default();
                if !registered(&admin, own) {
                    let master = links.master.to_string_lossy();
                    let mut args: Vec<String> = vec![
                        "--install".into(),
                        master.into(),
                        group.to_string(),
                        own_s.to_string(),
                        PRIORITY.into(),
                    ];
                    for (name, link) in &links.slaves {
                        args.extend([
                            "--slave".into(),
                            link.to_string_lossy().into(),
                            name.clone(),
                            own_s.to_string(),
                        ]);
                    }
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    alternatives::run(tool, &args)?;
                    changes.push(format!(
                        "registered {own_s} as the {group} alternative with priority {PRIORITY}"
                    ));
                }
                if FileId::of(&links.master) != FileId::of(own) {
                    alternatives::run(tool, &["--auto", group])?;
                    if FileId::of(&links.master) != FileId::of(own) {
                        alternatives::run(tool, &["--set", group, &own_s])?;
                    }
                    changes.push(format!("selected {own_s} for the {group} alternative"));
                }
                Ok(changes)
            }
        }
    }
}

/// Whether the admin file lists `own` as an alternative with our priority.
fn registered(admin: &str, own: &Path) -> bool {
    let own = own.to_string_lossy();
    let lines: Vec<&str> = admin.lines().collect();
    lines
        .windows(2)
        .any(|w| w[0] == own && w[1].split('@').next() == Some(PRIORITY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_is_read_from_the_admin_file() {
        let admin = "auto\n/usr/sbin/iptables\niptables-save\n/usr/sbin/iptables-save\n\n/usr/sbin/iptables-nft\n20\n/usr/sbin/iptables-nft-save\n/usr/sbin/iptables-wrapper\n100\n/usr/sbin/iptables-wrapper\n\n";
        assert!(registered(admin, Path::new("/usr/sbin/iptables-wrapper")));
        assert!(!registered(admin, Path::new("/sbin/iptables-wrapper")));
        let low = admin.replace("\n100\n", "\n50\n");
        assert!(!registered(&low, Path::new("/usr/sbin/iptables-wrapper")));
    }
}
