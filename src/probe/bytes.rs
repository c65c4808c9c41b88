//! Reading the kernel's structures out of byte buffers: native-endian
//! integers at offsets, as both kernel sources receive them. Callers check
//! the bounds first; an offset past the end is a bug, and panics.

pub fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}

pub fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

pub fn i32_at(b: &[u8], off: usize) -> i32 {
    u32_at(b, off) as i32
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
