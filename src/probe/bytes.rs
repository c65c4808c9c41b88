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
