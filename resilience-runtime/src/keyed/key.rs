//! What can select a member of a keyed family: anything that reads as a
//! string, looked up without copying it.

use std::borrow::Cow;
use std::fmt::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// A key of a keyed family ([`Family`](super::Family)): the tenant, API key
/// or host a call is for. A string is looked up as it is, borrowed; a number
/// or an address is written into a buffer on the stack first, so no key
/// allocates to find an existing member. `None` is the empty key.
///
/// ```
/// use resilience_runtime::keyed::Key;
///
/// assert_eq!(42u32.with_str(str::len), 2);
/// assert_eq!("acme".with_str(|key| key.to_owned()), "acme");
/// assert_eq!(None::<&str>.with_str(|key| key.is_empty()), true);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot select a member of a keyed family",
    label = "a `key` must read as a string",
    note = "a key is a string (`&str`, `String`, `Arc<str>`, ...), an integer, a `char`, a `bool`, an IP or socket address, or an `Option` of one; convert yours to one of these, e.g. `key = tenant.id()`"
)]
pub trait Key {
    /// Calls `f` with the key as a string.
    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R;
}

impl Key for str {
    #[inline]
    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(self)
    }
}

macro_rules! as_str {
    ($($ty:ty),*) => {$(
        impl Key for $ty {
            #[inline]
            fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
                f(self)
            }
        }
    )*};
}
as_str!(String, Box<str>, Arc<str>, Cow<'_, str>, crate::Name);

impl<K: Key + ?Sized> Key for &K {
    #[inline]
    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        (**self).with_str(f)
    }
}

impl<K: Key> Key for Option<K> {
    #[inline]
    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            Some(key) => key.with_str(f),
            None => f(""),
        }
    }
}

/// Room for the longest key written on the stack: an IPv6 socket address
/// with a scope id (`[ffff:...:ffff%4294967295]:65535`) is 58 bytes.
const BUFFER: usize = 64;

/// A `fmt::Write` into a fixed buffer on the stack.
struct StackText {
    bytes: [u8; BUFFER],
    len: usize,
}

impl Write for StackText {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len + text.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

macro_rules! displayed {
    ($($ty:ty),*) => {$(
        impl Key for $ty {
            #[inline]
            fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
                let mut text = StackText { bytes: [0; BUFFER], len: 0 };
                write!(text, "{self}").expect("every displayed key type fits the buffer");
                // Only whole `str`s were copied in.
                f(std::str::from_utf8(&text.bytes[..text.len]).expect("written from `str`s"))
            }
        }
    )*};
}
displayed!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, char, bool, IpAddr, Ipv4Addr,
    Ipv6Addr, SocketAddr
);

#[cfg(test)]
mod tests {
    use super::*;

    fn text(key: impl Key) -> String {
        key.with_str(str::to_owned)
    }

    #[test]
    fn numbers_and_addresses_read_as_they_display() {
        assert_eq!(text(u128::MAX), u128::MAX.to_string());
        assert_eq!(text(i64::MIN), i64::MIN.to_string());
        let widest = SocketAddr::V6(std::net::SocketAddrV6::new(
            Ipv6Addr::from(u128::MAX),
            u16::MAX,
            0,
            u32::MAX,
        ));
        assert_eq!(text(widest), widest.to_string());
        assert_eq!(text(IpAddr::from([10, 0, 0, 1])), "10.0.0.1");
    }

    #[test]
    fn strings_are_borrowed_and_none_is_empty() {
        assert_eq!(text("acme"), "acme");
        assert_eq!(text(String::from("acme")), "acme");
        assert_eq!(text(Some("acme")), "acme");
        assert_eq!(text(None::<u32>), "");
    }
}
