//! A checker that reads typed settings out of a parsed config tree and collects every problem
//! instead of stopping at the first, so `edged config check` can report all bad keys at once
//! (the approach of linkerd2-proxy's `env.rs`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value};

/// One bad setting: the dotted key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: String,
    pub message: String,
}

/// Reads the keys of one table, remembering which were read so the rest can be reported as
/// unknown.
#[derive(Debug)]
pub struct Fields<'a> {
    prefix: String,
    table: &'a Map<String, Value>,
    seen: BTreeSet<String>,
}

impl<'a> Fields<'a> {
    pub fn new(prefix: &str, table: &'a Map<String, Value>) -> Self {
        Self {
            prefix: prefix.to_string(),
            table,
            seen: BTreeSet::new(),
        }
    }

    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    fn get(&mut self, name: &str) -> Option<&'a Value> {
        self.seen.insert(name.to_string());
        self.table.get(name)
    }

    fn issue(&self, issues: &mut Vec<ConfigIssue>, name: &str, message: String) {
        issues.push(ConfigIssue {
            key: self.key(name),
            message,
        });
    }

    /// A sub-table; an absent key is an empty table.
    pub fn table(
        &mut self,
        name: &str,
        issues: &mut Vec<ConfigIssue>,
    ) -> Option<&'a Map<String, Value>> {
        match self.get(name) {
            None => None,
            Some(Value::Object(map)) => Some(map),
            Some(other) => {
                self.issue(
                    issues,
                    name,
                    format!("expected a table, found {}", kind(other)),
                );
                None
            }
        }
    }

    /// A string. Environment overrides arrive as text that the config crate may have parsed
    /// into a number or boolean, so those are turned back into text.
    pub fn string(&mut self, name: &str, issues: &mut Vec<ConfigIssue>) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.issue(
                    issues,
                    name,
                    format!("expected a string, found {}", kind(other)),
                );
                None
            }
        }
    }

    pub fn bool(&mut self, name: &str, default: bool, issues: &mut Vec<ConfigIssue>) -> bool {
        match self.get(name) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(other) => {
                self.issue(
                    issues,
                    name,
                    format!("expected true or false, found {}", kind(other)),
                );
                default
            }
        }
    }

    /// A number within `[min, max]`.
    pub fn number(
        &mut self,
        name: &str,
        default: f64,
        (min, max): (f64, f64),
        issues: &mut Vec<ConfigIssue>,
    ) -> f64 {
        let value = match self.get(name) {
            None => return default,
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match value {
            Some(v) if v >= min && v <= max => v,
            _ => {
                self.issue(
                    issues,
                    name,
                    format!("expected a number from {min} to {max}"),
                );
                default
            }
        }
    }

    /// A whole number within `[min, max]`.
    pub fn integer(
        &mut self,
        name: &str,
        default: u64,
        (min, max): (u64, u64),
        issues: &mut Vec<ConfigIssue>,
    ) -> u64 {
        let value = match self.get(name) {
            None => return default,
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        match value {
            Some(v) if v >= min && v <= max => v,
            _ => {
                self.issue(
                    issues,
                    name,
                    format!("expected a whole number from {min} to {max}"),
                );
                default
            }
        }
    }

    /// A duration written with its unit ("250ms", "10s", "5m"); a bare number is refused so
    /// nobody has to guess whether 30 meant seconds or milliseconds.
    pub fn duration(
        &mut self,
        name: &str,
        default: Duration,
        (min, max): (Duration, Duration),
        issues: &mut Vec<ConfigIssue>,
    ) -> Duration {
        let Some(value) = self.get(name) else {
            return default;
        };
        let parsed = match value {
            Value::String(s) => humantime::parse_duration(s.trim()).map_err(|e| e.to_string()),
            Value::Number(n) => Err(format!(
                "{n} has no unit: write it with one, for example \"{n}s\" or \"{n}ms\""
            )),
            other => Err(format!(
                "expected a duration such as \"10s\", found {}",
                kind(other)
            )),
        };
        match parsed {
            Ok(d) if d >= min && d <= max => d,
            Ok(d) => {
                self.issue(
                    issues,
                    name,
                    format!(
                        "{} is outside {} to {}",
                        humantime::format_duration(d),
                        humantime::format_duration(min),
                        humantime::format_duration(max)
                    ),
                );
                default
            }
            Err(message) => {
                self.issue(issues, name, format!("not a duration: {message}"));
                default
            }
        }
    }

    /// A size written with its unit ("64KiB", "256 MiB"); a bare number means bytes.
    pub fn bytes(
        &mut self,
        name: &str,
        default: u64,
        (min, max): (u64, u64),
        issues: &mut Vec<ConfigIssue>,
    ) -> u64 {
        let Some(value) = self.get(name) else {
            return default;
        };
        let parsed = match value {
            Value::Number(n) => n.as_u64().ok_or_else(|| format!("{n} is not a byte count")),
            Value::String(s) => s
                .trim()
                .parse::<bytesize::ByteSize>()
                .map(|b| b.as_u64())
                .map_err(|e| format!("not a size such as \"64MiB\": {e}")),
            other => Err(format!(
                "expected a size such as \"64MiB\", found {}",
                kind(other)
            )),
        };
        match parsed {
            Ok(b) if b >= min && b <= max => b,
            Ok(b) => {
                self.issue(
                    issues,
                    name,
                    format!(
                        "{} is outside {} to {}",
                        bytesize::ByteSize(b),
                        bytesize::ByteSize(min),
                        bytesize::ByteSize(max)
                    ),
                );
                default
            }
            Err(message) => {
                self.issue(issues, name, message);
                default
            }
        }
    }

    /// A `host:port` socket address.
    pub fn socket_addr(
        &mut self,
        name: &str,
        default: SocketAddr,
        issues: &mut Vec<ConfigIssue>,
    ) -> SocketAddr {
        match self.string(name, issues) {
            None => default,
            Some(s) => s.trim().parse().unwrap_or_else(|e| {
                self.issue(
                    issues,
                    name,
                    format!("'{s}' is not an address such as 127.0.0.1:8080: {e}"),
                );
                default
            }),
        }
    }

    /// A `host:port` address whose host may be a name (`broker.local:1883`, `[::1]:1883`);
    /// `None` when absent or invalid (then reported).
    pub fn host_port(
        &mut self,
        name: &str,
        issues: &mut Vec<ConfigIssue>,
    ) -> Option<(String, u16)> {
        let text = self.string(name, issues)?;
        let parsed = text
            .rsplit_once(':')
            .and_then(|(host, port)| {
                Some((host.trim_matches(['[', ']']), port.parse::<u16>().ok()?))
            })
            .filter(|(host, port)| !host.is_empty() && *port != 0);
        if parsed.is_none() {
            self.issue(
                issues,
                name,
                format!("'{text}' is not host:port, for example 127.0.0.1:1883"),
            );
        }
        parsed.map(|(host, port)| (host.to_string(), port))
    }

    /// Reports every key of the table that nothing read.
    pub fn finish(self, issues: &mut Vec<ConfigIssue>) {
        for key in self.table.keys() {
            if !self.seen.contains(key) {
                issues.push(ConfigIssue {
                    key: self.key(key),
                    message: "unknown key".into(),
                });
            }
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}
