//! The vantage point: the name under which a pinger stores what it saw (`--vantage`), so that several pingers on
//! several networks can write one history and a host that does not answer from one of them is told apart from a
//! host that answers from none.
//!
//! Without `--vantage` a pinger is the unnamed vantage point `''`, which is also what every row stored before
//! vantage points existed belongs to: a single pinger's history goes on unbroken across the upgrade. (The host
//! name as the default would have split it there, leaving the outages open at the upgrade open for ever, and would
//! start a new vantage point whenever a container is recreated with a new host name.)
//!
//! The name goes into every raw row, rollup, outage and sweep, and into a Redis key: it is kept to the letters of a
//! host name (`A-Z a-z 0-9 . _ -`, at most 63), so that it needs no quoting anywhere it is shown or typed.

/// The longest name taken.
pub const MAX_LEN: usize = 63;

/// Checks a `--vantage` value.
pub fn parse(name: &str) -> Result<String, String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > MAX_LEN || !name.chars().all(ok) {
        return Err(format!(
            "--vantage takes a name of 1 to {MAX_LEN} letters, digits, '.', '_' or '-' (like site-a), not {name:?}"
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_vantage_is_a_short_plain_name_and_anything_else_is_refused_with_an_example() {
        assert_eq!(super::parse("site-a").unwrap(), "site-a");
        assert_eq!(super::parse("fra1.example_2").unwrap(), "fra1.example_2");
        for bad in ["", "a b", "site/a", "ä", "x'; DROP TABLE sweeps; --", &"x".repeat(64)] {
            let e = super::parse(bad).unwrap_err();
            assert!(e.contains("like site-a"), "{bad}: {e}");
        }
    }
}
