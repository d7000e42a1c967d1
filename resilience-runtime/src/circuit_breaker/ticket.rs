//! A permit's [`Pass`], packed into one word.

use super::machine::Pass;

/// A [`Pass`] as one `u64`: the kind in the low byte, the window in the
/// next, the epoch in the high half. A permit made on the inlined fast path
/// lives in memory (it shares its slot with the slow path's); a whole word is
/// written and read back at once, where an enum's fields would be written one
/// by one and read back as a word, which stalls the CPU's store forwarding.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket(u64);

const COUNTED: u64 = 0;
const PROBE: u64 = 1;
const OBSERVED: u64 = 2;
const FREE: u64 = 3;

impl Ticket {
    #[inline(always)]
    pub(super) fn new(pass: Pass) -> Self {
        let (kind, epoch, window) = match pass {
            Pass::Counted { epoch, window } => (COUNTED, epoch, window),
            Pass::Probe { epoch } => (PROBE, epoch, 0),
            Pass::Observed { epoch, window } => (OBSERVED, epoch, window),
            Pass::Free => (FREE, 0, 0),
        };
        Ticket(u64::from(epoch) << 32 | u64::from(window) << 8 | kind)
    }

    #[inline(always)]
    pub(super) fn pass(self) -> Pass {
        let epoch = (self.0 >> 32) as u32;
        let window = (self.0 >> 8) as u8;
        match self.0 & 0xff {
            COUNTED => Pass::Counted { epoch, window },
            PROBE => Pass::Probe { epoch },
            OBSERVED => Pass::Observed { epoch, window },
            _ => Pass::Free,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pass_unpacks_as_it_was_packed() {
        for epoch in [0, 1, 0x8000_0000, u32::MAX] {
            for window in [0, 1] {
                for pass in [
                    Pass::Counted { epoch, window },
                    Pass::Probe { epoch },
                    Pass::Observed { epoch, window },
                    Pass::Free,
                ] {
                    assert_eq!(Ticket::new(pass).pass(), pass);
                }
            }
        }
    }
}
