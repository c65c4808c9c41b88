//! Reading the kernel's structures out of byte buffers: integers at offsets,
//! each read saying which byte order the kernel used for it. The x_tables
//! structs and the netlink headers (nlmsghdr, nlattr, nlmsgerr) are in the
//! host's order; nf_tables attribute payloads (NLA_U32/NLA_BE64 such as
//! NFTA_GEN_ID, NFTA_*_HANDLE) are in network order, big endian. Every
//! multi-byte read of a kernel source goes through [`Order`], so that one
//! place decides what "host" means.
//!
//! That is what lets the unit tests prove the parsers on a big-endian
//! machine (s390x) from a little-endian one: test builds can flip what
//! [`Order::Host`] means for the current thread ([`with_swapped_host`]) and
//! feed byte-swapped fixtures; a field read natively, or in the wrong order,
//! then gives a wrong value and fails the test. Release builds have no
//! switch: `Host` is the target's order, a constant the compiler folds.
//!
//! Callers check the bounds first; an offset past the end is a bug, and
//! panics.

/// The byte order of one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// The machine's own order: x_tables structs, netlink headers.
    Host,
    /// Big endian: nf_tables attribute payloads.
    Network,
}

pub use Order::{Host, Network};

impl Order {
    fn big(self) -> bool {
        match self {
            Order::Host => host_is_big(),
            Order::Network => true,
        }
    }

    pub fn u16_at(self, b: &[u8], off: usize) -> u16 {
        let raw = [b[off], b[off + 1]];
        if self.big() {
            u16::from_be_bytes(raw)
        } else {
            u16::from_le_bytes(raw)
        }
    }

    pub fn u32_at(self, b: &[u8], off: usize) -> u32 {
        let raw = [b[off], b[off + 1], b[off + 2], b[off + 3]];
        if self.big() {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        }
    }

    pub fn i32_at(self, b: &[u8], off: usize) -> i32 {
        self.u32_at(b, off) as i32
    }

    /// `v` laid out in this order (for what we send the kernel, and for
    /// the tests' own fixtures).
    pub fn u16_bytes(self, v: u16) -> [u8; 2] {
        if self.big() {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    pub fn u32_bytes(self, v: u32) -> [u8; 4] {
        if self.big() {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
}

#[cfg(not(test))]
#[inline(always)]
fn host_is_big() -> bool {
    cfg!(target_endian = "big")
}

#[cfg(test)]
fn host_is_big() -> bool {
    cfg!(target_endian = "big") != SWAPPED.with(std::cell::Cell::get)
}

#[cfg(test)]
thread_local! {
    static SWAPPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with [`Order::Host`] meaning the other byte order on this
/// thread, as if the parsers ran on a machine of the other endianness.
#[cfg(test)]
pub fn with_swapped_host<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SWAPPED.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SWAPPED.with(|s| s.replace(true)));
    f()
}

/// Runs `f` twice: in the machine's order, then with the host order swapped
/// (see [`with_swapped_host`]), for tests whose fixtures are built through
/// [`Order`] and so follow the switch.
#[cfg(test)]
pub fn both_orders(mut f: impl FnMut()) {
    f();
    with_swapped_host(f);
}

/// Test input for the parsers: `count` buffers of pseudo-random bytes, each
/// shorter than `max_len`, the same sequence for the same `seed`.
#[cfg(test)]
pub fn garbage(seed: u32, count: usize, max_len: u32) -> Vec<Vec<u8>> {
    let mut x = seed;
    (0..count)
        .map(|_| {
            let len = (x % max_len) as usize;
            (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_the_machines_order_unless_swapped() {
        let native = 0x0102_0304u32.to_ne_bytes();
        assert_eq!(Host.u32_at(&native, 0), 0x0102_0304);
        assert_eq!(Host.u16_at(&0x0a07u16.to_ne_bytes(), 0), 0x0a07);
        assert_eq!(Host.u32_bytes(7), 7u32.to_ne_bytes());
        let swapped = 0x0102_0304u32.swap_bytes().to_ne_bytes();
        with_swapped_host(|| {
            assert_eq!(Host.u32_at(&swapped, 0), 0x0102_0304);
            assert_eq!(Host.i32_at(&(-2i32).swap_bytes().to_ne_bytes(), 0), -2);
            assert_eq!(Host.u16_bytes(0x0a07), 0x0a07u16.swap_bytes().to_ne_bytes());
        });
        // Restored afterwards.
        assert_eq!(Host.u32_at(&native, 0), 0x0102_0304);
    }

    #[test]
    fn network_is_big_endian_either_way() {
        let be = [1, 2, 3, 4];
        assert_eq!(Network.u32_at(&be, 0), 0x0102_0304);
        assert_eq!(Network.u16_at(&be, 2), 0x0304);
        with_swapped_host(|| assert_eq!(Network.u32_at(&be, 0), 0x0102_0304));
        assert_eq!(Network.u32_bytes(0x0102_0304), be);
    }
}
