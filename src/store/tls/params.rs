//! Takes `sslmode` and `sslrootcert` out of a Postgres connection string, URL or `key=value` form, and leaves the
//! rest for the `postgres` crate's parser, which knows only `disable`, `prefer` and `require` and no
//! `sslrootcert`. Nothing here puts a value into a message: the string may hold a password.

/// A connection string with its TLS parameters taken out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Taken {
    pub rest: String,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
}

/// Splits `s`. A string this cannot read is handed on whole, so that the crate's parser reports it.
pub fn take(s: &str) -> Taken {
    let t = if s.starts_with("postgres://") || s.starts_with("postgresql://") { take_url(s) } else { take_pairs(s) };
    t.unwrap_or_else(|| Taken { rest: s.to_string(), ..Taken::default() })
}

fn take_url(s: &str) -> Option<Taken> {
    let Some((base, query)) = s.split_once('?') else { return Some(Taken { rest: s.into(), ..Taken::default() }) };
    let mut t = Taken::default();
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(k).as_deref() {
            Some("sslmode") => t.sslmode = Some(decode(v)?),
            Some("sslrootcert") => t.sslrootcert = Some(decode(v)?),
            _ => kept.push(pair),
        }
    }
    t.rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    Some(t)
}

/// Percent-decoding as the crate's URL parser does it (`+` stays `+`).
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// libpq's `key = value` form: values quoted in `'...'` or bare, `\` escaping the next character.
fn take_pairs(s: &str) -> Option<Taken> {
    let b = s.as_bytes();
    let ws = |c: u8| c.is_ascii_whitespace();
    let mut t = Taken::default();
    let mut kept = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !ws(b[i]) && b[i] != b'=' {
            i += 1;
        }
        let key = &s[start..i];
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        let mut value = Vec::new();
        let quoted = b.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        loop {
            match b.get(i) {
                None if quoted => return None,
                None => break,
                Some(b'\'') if quoted => {
                    i += 1;
                    break;
                }
                Some(&c) if !quoted && ws(c) => break,
                Some(b'\\') if i + 1 < b.len() => {
                    value.push(b[i + 1]);
                    i += 2;
                }
                Some(&c) => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        let value = String::from_utf8(value).ok()?;
        match key {
            "sslmode" => t.sslmode = Some(value),
            "sslrootcert" => t.sslrootcert = Some(value),
            _ => kept.push(&s[start..i]),
        }
    }
    t.rest = kept.join(" ");
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(rest: &str, mode: Option<&str>, root: Option<&str>) -> Taken {
        Taken { rest: rest.into(), sslmode: mode.map(String::from), sslrootcert: root.map(String::from) }
    }

    #[test]
    fn a_url_loses_its_tls_parameters_and_keeps_the_others() {
        assert_eq!(
            take("postgres://u:p%3Fw@db:5432/pinger?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Fetc%2Fca.pem"),
            taken("postgres://u:p%3Fw@db:5432/pinger?connect_timeout=3", Some("verify-full"), Some("/etc/ca.pem"))
        );
        assert_eq!(take("postgresql://db/x?sslmode=require"), taken("postgresql://db/x", Some("require"), None));
        assert_eq!(take("postgres://db/x"), taken("postgres://db/x", None, None));
    }

    #[test]
    fn a_key_value_string_loses_its_tls_parameters_and_keeps_the_others() {
        assert_eq!(
            take("host=db password='a b\\'c' sslmode = verify-ca sslrootcert='/my certs/ca.pem' dbname=pinger"),
            taken("host=db password='a b\\'c' dbname=pinger", Some("verify-ca"), Some("/my certs/ca.pem"))
        );
    }

    #[test]
    fn a_string_that_cannot_be_read_is_left_for_the_postgres_parser() {
        assert_eq!(take("host=db password='open"), taken("host=db password='open", None, None));
        assert_eq!(take("postgres://db/x?sslmode=%zz"), taken("postgres://db/x?sslmode=%zz", None, None));
    }
}
