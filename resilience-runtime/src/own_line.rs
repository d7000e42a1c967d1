//! A value alone on its cache line(s).

/// Keeps `T` on cache lines no other field shares: for what every call
/// writes, so that what every call only reads does not bounce between cores
/// with those writes.
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct OwnLine<T>(pub(crate) T);

impl<T> std::ops::Deref for OwnLine<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}
