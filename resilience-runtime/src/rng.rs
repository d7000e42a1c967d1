//! A fast thread-local generator for jitter: wyrand, seeded from std's
//! per-process random hasher keys. Not for cryptography.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_usize(&STATE as *const _ as usize);
    hasher.finish() | 1
}

/// A uniform draw from `[0, 1)`.
pub(crate) fn unit() -> f64 {
    let bits = STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        (t as u64) ^ ((t >> 64) as u64)
    });
    // The top 53 bits make an evenly spaced f64 in [0, 1).
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_stay_in_the_unit_interval_and_spread_out() {
        let draws: Vec<f64> = (0..10_000).map(|_| super::unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let low = draws.iter().filter(|u| **u < 0.5).count();
        assert!((4_500..5_500).contains(&low), "{low} of 10000 below 0.5");
    }
}
