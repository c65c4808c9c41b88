//! Which machine an executable is built for, from its ELF header, without
//! running it. `install --root` copies a wrapper into an image that may be
//! for another architecture (an arm64 image prepared on an amd64 host); a
//! wrapper of the wrong architecture would make every iptables call in the
//! image fail with "Exec format error", so the two must match.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The ELF class (32/64 bit), byte order and `e_machine` of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    class: u8,
    data: u8,
    machine: u16,
}

impl Machine {
    /// Reads the header of `path`; `None` if it is not an ELF file.
    pub fn of(path: &Path) -> Option<Machine> {
        let mut head = [0u8; 20];
        File::open(path).ok()?.read_exact(&mut head).ok()?;
        Machine::parse(&head)
    }

    fn parse(head: &[u8; 20]) -> Option<Machine> {
        if &head[..4] != b"\x7fELF" {
            return None;
        }
        let (class, data) = (head[4], head[5]);
        let machine = match data {
            1 => u16::from_le_bytes([head[18], head[19]]),
            2 => u16::from_be_bytes([head[18], head[19]]),
            _ => return None,
        };
        Some(Machine {
            class,
            data,
            machine,
        })
    }
}

impl fmt::Display for Machine {
    /// As `uname -m` names the common ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match (self.machine, self.class) {
            (62, _) => "x86_64",
            (3, _) => "i386",
            (183, _) => "aarch64",
            (40, _) => "arm",
            (21, _) => "ppc64",
            (22, _) => "s390x",
            (243, 2) => "riscv64",
            (8, 1) => "mips",
            (8, _) => "mips64",
            _ => "",
        };
        let order = if self.data == 1 { "le" } else { "be" };
        if name.is_empty() {
            write!(f, "ELF machine {} ({order})", self.machine)
        } else if self.machine == 21 && self.data == 1 {
            f.write_str("ppc64le")
        } else {
            f.write_str(name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(class: u8, data: u8, machine: [u8; 2]) -> [u8; 20] {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = data;
        h[18..20].copy_from_slice(&machine);
        h
    }

    #[test]
    fn names_the_machine() {
        let amd64 = Machine::parse(&header(2, 1, [62, 0])).unwrap();
        let arm64 = Machine::parse(&header(2, 1, [183, 0])).unwrap();
        assert_ne!(amd64, arm64);
        assert_eq!(amd64.to_string(), "x86_64");
        assert_eq!(arm64.to_string(), "aarch64");
        let s390x = Machine::parse(&header(2, 2, [0, 22])).unwrap();
        assert_eq!(s390x.to_string(), "s390x");
        assert_eq!(
            Machine::parse(&header(2, 1, [21, 0])).unwrap().to_string(),
            "ppc64le"
        );
        assert_eq!(
            Machine::parse(&header(1, 1, [0x34, 0x12]))
                .unwrap()
                .to_string(),
            "ELF machine 4660 (le)"
        );
        let mut script = header(2, 1, [62, 0]);
        script[..4].copy_from_slice(b"#!/b");
        assert_eq!(Machine::parse(&script), None);
        assert_eq!(Machine::parse(&header(2, 3, [62, 0])), None);
        assert_eq!(Machine::of(Path::new("/nonexistent")), None);
    }
}
