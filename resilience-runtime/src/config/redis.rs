//! The `[redis]` table: the Redis (or Valkey) every policy with
//! `store = "redis"` shares, read and checked as a policy's table is, and
//! put in force when an applied configuration changes it.

use super::error::{Location, Problem};
use super::file::Table;
use super::layers::{unknown_key, Origin};
use super::report::RedisChange;
use super::value::{Field, Type, Value};

/// The table's name in a configuration file.
pub(crate) const TABLE: &str = "redis";

/// A URL to suggest.
const URL_EXAMPLE: &str = "\"redis://127.0.0.1:6379/0\"";

// The store's own default when the feature is on; the same word without it,
// where no store exists and the prefix is only ever reported.
#[cfg(feature = "redis")]
const DEFAULT_KEY_PREFIX: &str = crate::stores::redis::DEFAULT_KEY_PREFIX;
#[cfg(not(feature = "redis"))]
const DEFAULT_KEY_PREFIX: &str = "resilience";

/// The keys of the `[redis]` table: name, type, and a value to suggest.
const KEYS: [(&str, Type, &str); 2] = [
    ("url", Type::RedisUrl, URL_EXAMPLE),
    ("key_prefix", Type::Text, "\"resilience\""),
];

/// The `[redis]` table of a configuration, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RedisTable {
    /// Where the table is.
    pub(crate) at: Option<Location>,
    connection: Connection,
    /// Whether the table gives `key_prefix`, rather than leaving the default.
    prefix_given: bool,
}

/// What a store is made of: two tables with the same one share a store.
#[derive(Debug, Clone, PartialEq)]
struct Connection {
    url: String,
    key_prefix: String,
}

impl RedisTable {
    /// Reads the table's keys with their types, and checks the URL as the
    /// client will read it; `None` if anything is wrong.
    pub(crate) fn read(table: &Table, problems: &mut Vec<Problem>) -> Option<RedisTable> {
        let before = problems.len();
        if cfg!(not(feature = "redis")) {
            problems.push(Problem {
                path: TABLE.to_owned(),
                location: table.at,
                message: format!("the `[{TABLE}]` table needs the `redis` feature of `resilience-runtime`; enable it, or remove the table"),
            });
        }
        let mut url = None;
        let mut key_prefix = None;
        let mut url_given = false;
        for entry in &table.entries {
            let mut problem = |message: String| {
                problems.push(Problem {
                    path: format!("{TABLE}.{}", entry.key),
                    location: entry.at,
                    message,
                })
            };
            let Some((name, ty, example)) = KEYS.iter().find(|(name, ..)| *name == entry.key)
            else {
                problem(unknown_key(&entry.key, &KEYS.map(|(name, ..)| name)));
                continue;
            };
            url_given |= *name == "url";
            match ty.read(&entry.value, name, example).map(String::from_value) {
                Ok(text) if *name == "url" => match check_url(&text) {
                    Ok(()) => url = Some(text),
                    Err(message) => problem(message),
                },
                Ok(text) => key_prefix = Some(text),
                Err(message) => problem(message),
            }
        }
        if !url_given {
            problems.push(Problem {
                path: format!("{TABLE}.url"),
                location: table.at,
                message: format!(
                    "missing key; the `[{TABLE}]` table needs the server's URL, e.g. `url = {URL_EXAMPLE}`"
                ),
            });
        }
        // Past this, `url` is given and valid.
        if problems.len() > before {
            return None;
        }
        Some(RedisTable {
            at: table.at,
            prefix_given: key_prefix.is_some(),
            connection: Connection {
                url: url?,
                key_prefix: key_prefix.unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned()),
            },
        })
    }
}

/// Whether the client reads `url`: a port out of range, say, passes the
/// scheme check of [`Type::RedisUrl`] but not this one.
#[cfg(feature = "redis")]
fn check_url(url: &str) -> Result<(), String> {
    crate::stores::redis::client(url, "url")
        .map(drop)
        .map_err(|error| error.reason().to_owned())
}

#[cfg(not(feature = "redis"))]
fn check_url(_: &str) -> Result<(), String> {
    Ok(())
}

/// What applying `new` in place of `old`, the table applied before, changes,
/// key by key. No table is no URL and the default prefix.
pub(crate) fn changes(old: Option<&RedisTable>, new: Option<&RedisTable>) -> Vec<RedisChange> {
    fn url(table: Option<&RedisTable>) -> Option<&str> {
        table.map(|table| table.connection.url.as_str())
    }
    fn prefix(table: Option<&RedisTable>) -> &str {
        table.map_or(DEFAULT_KEY_PREFIX, |table| &table.connection.key_prefix)
    }
    let mut changes = Vec::new();
    if url(old) != url(new) {
        let shown = |table| url(table).map_or(Value::Unset, |url| without_password(url).to_value());
        changes.push(RedisChange {
            key: "url",
            old: shown(old),
            new: shown(new),
            origin: if new.is_some() {
                Origin::Table
            } else {
                Origin::BuiltIn
            },
        });
    }
    if prefix(old) != prefix(new) {
        changes.push(RedisChange {
            key: "key_prefix",
            old: prefix(old).to_owned().to_value(),
            new: prefix(new).to_owned().to_value(),
            origin: if new.is_some_and(|table| table.prefix_given) {
                Origin::Table
            } else {
                Origin::BuiltIn
            },
        });
    }
    changes
}

/// Makes the store `new` gives the one in force, if it is not the one `old`
/// gave: a table that changed replaces the store, whoever set it; a table
/// removed clears it; no table before or now leaves alone a store set in code.
#[cfg(feature = "redis")]
pub(crate) fn put_in_force(old: Option<&RedisTable>, new: Option<&RedisTable>) {
    use crate::stores::redis::{self, RedisStore};

    if old.map(|table| &table.connection) == new.map(|table| &table.connection) {
        return;
    }
    let store = new.map(|table| {
        let client = redis::client(&table.connection.url, "url")
            .unwrap_or_else(|error| unreachable!("a URL checked by `read` was rejected: {error}"));
        RedisStore::new(client, table.connection.key_prefix.clone())
    });
    redis::set(store);
}

/// `url` with its password written `***`: reports are logged and served.
/// A TCP URL has it after the user (`redis://user:secret@host`), a socket's
/// in the query (`unix:///run/redis.sock?pass=secret`).
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<&str> = query
                .split('&')
                .map(|pair| {
                    if pair.starts_with("pass=") {
                        "pass=***"
                    } else {
                        pair
                    }
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const URL: &str = "[redis]\nurl = \"redis://127.0.0.1:6379/0\"\n";

    #[cfg(feature = "redis")]
    fn table(text: &str) -> Option<RedisTable> {
        let config = Config::from_toml_str(text).unwrap_or_else(|errors| panic!("{errors}"));
        crate::config::layers::Layers::read(&config).unwrap().redis
    }

    fn problems(text: &str) -> Vec<String> {
        Config::from_toml_str(text)
            .unwrap_err()
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[cfg(feature = "redis")]
    fn shown(old: Option<&str>, new: Option<&str>) -> Vec<String> {
        let (old, new) = (old.and_then(table), new.and_then(table));
        changes(old.as_ref(), new.as_ref())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_table_with_a_url_alone_takes_the_default_prefix() {
        assert_eq!(
            shown(None, Some(URL)),
            ["redis.url: none -> \"redis://127.0.0.1:6379/0\" (config table)"]
        );
        let table = table(URL).unwrap();
        assert_eq!(table.connection.key_prefix, "resilience");
        assert_eq!(table.at, Some(Location { line: 1, column: 2 }));
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_socket_url_is_read() {
        for url in [
            "unix:///run/redis.sock",
            "redis+unix:///run/redis.sock?db=1",
        ] {
            let table = table(&format!("[redis]\nurl = \"{url}\"\n")).unwrap();
            assert_eq!(table.connection.url, url);
        }
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_report_with_only_redis_changes_says_what_changed() {
        let new = table(URL);
        let report = crate::config::ApplyReport {
            redis: changes(None, new.as_ref()),
            ..Default::default()
        };
        assert_eq!(
            report.to_string(),
            "redis.url: none -> \"redis://127.0.0.1:6379/0\" (config table)\n"
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_changed_prefix_is_reported_and_an_unchanged_table_is_not() {
        let prefixed = "[redis]\nurl = \"redis://127.0.0.1:6379/0\"\nkey_prefix = \"checkout\"\n";
        assert_eq!(
            shown(Some(URL), Some(prefixed)),
            ["redis.key_prefix: \"resilience\" -> \"checkout\" (config table)"]
        );
        assert_eq!(shown(Some(prefixed), Some(prefixed)), Vec::<String>::new());
        assert_eq!(shown(None, None), Vec::<String>::new());
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_removed_table_returns_to_no_url_and_the_default_prefix() {
        let prefixed = "[redis]\nurl = \"redis://:secret@cache:6379\"\nkey_prefix = \"checkout\"\n";
        assert_eq!(
            shown(Some(prefixed), None),
            [
                "redis.url: \"redis://:***@cache:6379\" -> none (built-in default)",
                "redis.key_prefix: \"checkout\" -> \"resilience\" (built-in default)",
            ]
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_url_the_client_cannot_read_is_refused_with_its_line() {
        assert_eq!(
            problems("[redis]\nurl = \"redis://127.0.0.1:port/0\"\n"),
            ["line 2, column 1: `redis.url`: invalid Redis URL `redis://127.0.0.1:port/0`: Redis URL did not parse - InvalidClientConfig; e.g. `\"redis://127.0.0.1:6379/0\"`"]
        );
    }

    #[test]
    fn a_url_of_another_scheme_is_refused_with_a_suggestion() {
        let problems = problems("[redis]\nurl = \"http://127.0.0.1\"\n");
        assert!(
            problems.contains(&"line 2, column 1: `redis.url`: expected a Redis URL, found the string `\"http://127.0.0.1\"`; e.g. `url = \"redis://127.0.0.1:6379/0\"`".to_owned()),
            "{problems:?}"
        );
    }

    #[test]
    fn the_url_is_required() {
        let problems = problems("[redis]\nkey_prefix = \"checkout\"\n");
        assert!(
            problems.contains(&"line 1, column 2: `redis.url`: missing key; the `[redis]` table needs the server's URL, e.g. `url = \"redis://127.0.0.1:6379/0\"`".to_owned()),
            "{problems:?}"
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn the_prefix_is_a_non_empty_string() {
        assert_eq!(
            problems("[redis]\nurl = \"redis://127.0.0.1\"\nkey_prefix = \"\"\n"),
            ["line 3, column 1: `redis.key_prefix`: expected a non-empty string, found the string `\"\"`; e.g. `key_prefix = \"resilience\"`"]
        );
        assert_eq!(
            problems("[redis]\nurl = \"redis://127.0.0.1\"\nkey_prefix = 7\n"),
            ["line 3, column 1: `redis.key_prefix`: expected a non-empty string, found the number `7`; e.g. `key_prefix = \"resilience\"`"]
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn an_unknown_key_gets_a_suggestion() {
        assert_eq!(
            problems("[redis]\nurl = \"redis://127.0.0.1\"\nkey-prefix = \"a\"\npool = 4\n"),
            [
                "line 3, column 1: `redis.key-prefix`: unknown key; did you mean `key_prefix`?",
                "line 4, column 1: `redis.pool`: unknown key; expected `url` or `key_prefix`",
            ]
        );
    }

    #[test]
    fn redis_must_be_a_table() {
        assert_eq!(
            problems("redis = \"redis://127.0.0.1\"\n"),
            ["line 1, column 1: `redis`: expected a table of settings, e.g. `[redis]` then `url = \"redis://127.0.0.1:6379/0\"`"]
        );
    }

    #[test]
    fn a_misspelt_table_name_gets_a_suggestion() {
        assert_eq!(
            problems("[rediss]\nurl = \"redis://127.0.0.1\"\n"),
            ["line 1, column 2: `rediss`: unknown table; did you mean `[redis]`?"]
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn serde_reads_the_table_and_apply_checks_it_without_lines() {
        let config: Config = toml::from_str(URL).unwrap();
        let read = crate::config::layers::Layers::read(&config).unwrap().redis;
        assert_eq!(
            read.map(|table| table.connection),
            table(URL).map(|table| table.connection)
        );
        let config: Config = toml::from_str("[redis]\nurl = 5\n").unwrap();
        let errors = crate::config::layers::Layers::read(&config).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "`redis.url`: expected a Redis URL, found the number `5`; e.g. `url = \"redis://127.0.0.1:6379/0\"`"
        );
    }

    #[cfg(not(feature = "redis"))]
    #[test]
    fn without_the_feature_the_table_is_refused() {
        assert_eq!(
            problems(URL),
            ["line 1, column 2: `redis`: the `[redis]` table needs the `redis` feature of `resilience-runtime`; enable it, or remove the table"]
        );
    }

    #[test]
    fn passwords_are_not_shown() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            ("redis://:secret@cache:6379", "redis://:***@cache:6379"),
            ("rediss://app:s3:cr@t@cache/1", "rediss://app:***@cache/1"),
            ("redis://app@cache", "redis://app@cache"),
            (
                "unix:///run/redis.sock?db=1&pass=secret",
                "unix:///run/redis.sock?db=1&pass=***",
            ),
        ] {
            assert_eq!(without_password(url), shown, "{url}");
        }
    }
}
