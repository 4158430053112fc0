//! Small helpers that keep the wasm small (the sort is `intake-order`'s, shared by every crate).

/// A map keyed by the engine's own small numbers (node indices, expression kinds).
///
/// Why not the standard hasher: SipHash resists keys chosen by an attacker, and these keys are
/// never chosen by anyone (they count nodes the engine made); hashing them was a twentieth
/// of an MBS 715 answer. Only the expression passes use it.
#[cfg(feature = "expressions")]
pub(crate) type IdMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Multiply-rotate hashing of integers (the scheme of rustc's FxHash).
#[cfg(feature = "expressions")]
#[derive(Default)]
pub(crate) struct IdHasher(u64);

#[cfg(feature = "expressions")]
impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7cc1_b727_220a_95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }
}
