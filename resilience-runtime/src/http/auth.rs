//! The admin token and the middleware that demands it.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::reply::error;

/// Why [`admin_routes`](super::admin_routes) refused a token.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAdminToken {
    /// The token is empty: anyone could send it.
    #[error("the admin token is empty; give a long random secret, such as `openssl rand -hex 32` prints")]
    Empty,
    /// The token has a character that an `Authorization` header cannot carry
    /// as is, so no request could match it.
    #[error("the admin token has a character other than visible ASCII at byte {position}; a bearer token must fit in an HTTP header as is, such as `openssl rand -hex 32` prints")]
    NotVisibleAscii {
        /// The byte offset of the first such character.
        position: usize,
    },
}

/// The secret the admin routes demand.
#[derive(Clone)]
pub(super) struct AdminToken(Arc<[u8]>);

impl AdminToken {
    pub(super) fn new(token: String) -> Result<AdminToken, InvalidAdminToken> {
        if token.is_empty() {
            return Err(InvalidAdminToken::Empty);
        }
        if let Some(position) = token.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(InvalidAdminToken::NotVisibleAscii { position });
        }
        Ok(AdminToken(token.into_bytes().into()))
    }

    /// Whether `offered` is the token. Constant time in the contents; the
    /// length of a wrong token may show.
    fn admits(&self, offered: &[u8]) -> bool {
        bool::from(self.0.as_ref().ct_eq(offered))
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Lets the request through only with `Authorization: Bearer <token>`.
pub(super) async fn require_token(
    State(token): State<AdminToken>,
    request: Request,
    next: Next,
) -> Response {
    match bearer(request.headers()) {
        Some(offered) if token.admits(offered) => next.run(request).await,
        Some(_) => unauthorized(
            r#"Bearer realm="resilience", error="invalid_token""#,
            "the bearer token is not the admin token",
        ),
        None => unauthorized(
            r#"Bearer realm="resilience""#,
            "this route needs the header `Authorization: Bearer <admin token>`",
        ),
    }
}

/// The credentials of an `Authorization: Bearer ...` header; the scheme is
/// case-insensitive, as RFC 9110 has it.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let (scheme, credentials) = value.split_at(value.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let credentials = credentials.trim_ascii();
    (!credentials.is_empty()).then_some(credentials)
}

fn unauthorized(challenge: &'static str, message: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, message).into_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, challenge.parse().expect("a valid header"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
        headers
    }

    #[test]
    fn tokens_no_header_could_carry_are_refused() {
        assert_eq!(
            AdminToken::new(String::new()).unwrap_err(),
            InvalidAdminToken::Empty
        );
        assert_eq!(
            AdminToken::new("abc def".into()).unwrap_err(),
            InvalidAdminToken::NotVisibleAscii { position: 3 }
        );
        assert_eq!(
            AdminToken::new("secret\n".into()).unwrap_err(),
            InvalidAdminToken::NotVisibleAscii { position: 6 }
        );
        assert_eq!(
            AdminToken::new("clé".into()).unwrap_err(),
            InvalidAdminToken::NotVisibleAscii { position: 2 }
        );
    }

    #[test]
    fn only_the_exact_token_is_admitted() {
        let token = AdminToken::new("s3cret-Token".into()).unwrap();
        assert!(token.admits(b"s3cret-Token"));
        assert!(!token.admits(b"s3cret-token"));
        assert!(!token.admits(b"s3cret-Token2"));
        assert!(!token.admits(b"s3cret"));
        assert!(!token.admits(b""));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer(&headers("Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer(&headers("bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer(&headers("BEARER   abc")), Some(&b"abc"[..]));
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&headers("Bearer")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&headers("abc")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let token = AdminToken::new("hunter2-secret".into()).unwrap();
        assert!(!format!("{token:?}").contains("hunter2"));
    }
}
