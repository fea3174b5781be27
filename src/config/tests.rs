use super::*;

fn cli(targets: &[&str]) -> Cli {
    Cli { targets: targets.iter().map(|s| s.to_string()).collect(), ..Cli::default() }
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::new(cli(&["127.0.0.1"]), &Env::default()).unwrap();
    assert_eq!(c.probe.timeout, Duration::from_millis(2000));
    assert_eq!((c.probe.probes, c.probe.rate, c.count), (1, 10_000, None));
    assert_eq!(c.max_hosts, 16_777_216);
    let f = Config::new(Cli { hosts_file: Some("list".into()), ..Cli::default() }, &Env::default()).unwrap();
    assert_eq!(f.count, Some(1000));
}

#[test]
fn bad_values_are_clear_errors() {
    let err = |c: Cli, allow: Option<&str>| {
        Config::new(c, &Env { allow: allow.map(String::from), ..Env::default() }).unwrap_err().0
    };
    assert!(err(cli(&["127.0.0.1/40"]), None).contains("127.0.0.1/40"));
    assert!(err(cli(&["not a host"]), None).contains("not a host"));
    assert!(err(Cli { timeout: Some(0), ..cli(&["127.0.0.1"]) }, None).contains("--timeout"));
    assert!(err(Cli { probes: Some(0), ..cli(&["127.0.0.1"]) }, None).contains("--probes"));
    assert!(err(Cli { format: Some("xml".into()), ..cli(&["127.0.0.1"]) }, None).contains("xml"));
    assert!(err(cli(&["127.0.0.1"]), Some("127.0.0.0/8,nonsense")).contains("PINGER_ALLOW"));
}

#[test]
fn every_number_out_of_its_range_is_an_error_naming_the_flag_and_the_range() {
    let t = || cli(&["127.0.0.1"]);
    let cases: Vec<(&str, &str, Cli)> = vec![
        ("--store-timeout", "1 and 3600", Cli { store_timeout: Some(u64::MAX), ..t() }),
        ("--store-timeout", "1 and 3600", Cli { store_timeout: Some(3601), ..t() }),
        ("--store-timeout", "1 and 3600", Cli { store_timeout: Some(0), ..t() }),
        ("--fetch-timeout", "1 and 3600", Cli { fetch_timeout: Some(u64::MAX), ..t() }),
        ("--fetch-timeout", "1 and 3600", Cli { fetch_timeout: Some(0), ..t() }),
        ("--resolve-timeout", "1 and 3600", Cli { resolve_timeout: Some(u64::MAX), ..t() }),
        ("--resolve-timeout", "1 and 3600", Cli { resolve_timeout: Some(0), ..t() }),
        ("--redis-ttl", "0 and 31536000", Cli { redis_ttl: Some(u64::MAX), ..t() }),
        ("--max-list-bytes", "1 and 1073741824", Cli { max_list_bytes: Some(u64::MAX), ..t() }),
        ("--max-list-bytes", "1 and 1073741824", Cli { max_list_bytes: Some(0), ..t() }),
        ("--count", "0 and 4294967295", Cli { count: Some(usize::MAX), ..t() }),
        ("--max-hosts", "1 and 4294967295", Cli { max_hosts: Some(usize::MAX), ..t() }),
        ("--max-hosts", "1 and 4294967295", Cli { max_hosts: Some(0), ..t() }),
        ("--rate", "0 and 10000000", Cli { rate: Some(u32::MAX), ..t() }),
        ("--timeout", "1 and 3600000", Cli { timeout: Some(u64::MAX), ..t() }),
        ("--interval", "0 and 3600000", Cli { interval: Some(u64::MAX), ..t() }),
    ];
    for (flag, range, c) in cases {
        let e = Config::new(c, &Env::default()).unwrap_err().0;
        assert!(e.starts_with(&format!("{flag} must be between {range}")), "{flag}: {e}");
    }
    // The bounds themselves are allowed.
    let edge = Cli {
        store_timeout: Some(3600),
        fetch_timeout: Some(3600),
        resolve_timeout: Some(1),
        redis_ttl: Some(31_536_000),
        max_list_bytes: Some(1 << 30),
        count: Some(4_294_967_295),
        rate: Some(10_000_000),
        ..t()
    };
    let c = Config::new(edge, &Env::default()).unwrap();
    assert_eq!((c.store.timeout, c.url.timeout), (Duration::from_secs(3600), Duration::from_secs(3600)));
    assert_eq!((c.store.redis_ttl, c.count, c.probe.rate), (Some(31_536_000), Some(4_294_967_295), 10_000_000));
}

#[test]
fn stores_come_from_flags_env_or_dotenv_parts_and_never_echo_a_password() {
    let env = Env {
        postgres_host: Some("db.internal".into()),
        postgres_user: Some("pinger".into()),
        postgres_password: Some("s3cret-pw".into()),
        postgres_db: Some("pings".into()),
        redis_host: Some("cache.internal".into()),
        redis_port: Some("6380".into()),
        ..Env::default()
    };
    let c = Config::new(cli(&["127.0.0.1"]), &env).unwrap();
    let pg = &c.store.postgres.as_ref().unwrap().config;
    assert_eq!((pg.get_dbname(), pg.get_user()), (Some("pings"), Some("pinger")));
    assert_eq!(c.store.redis.as_ref().unwrap().addr().to_string(), "cache.internal:6380");
    assert_eq!(c.store.redis_ttl, Some(86_400));
    let off = Config::new(Cli { no_store: true, ..cli(&["127.0.0.1"]) }, &env).unwrap();
    assert!(!off.store.any());
    assert!(!Config::new(cli(&["127.0.0.1"]), &Env::default()).unwrap().store.any());
    let bad = Env { database_url: Some("postgres://u:s3cret-pw@host:notaport/db".into()), ..Env::default() };
    let e = Config::new(cli(&["127.0.0.1"]), &bad).unwrap_err().0;
    assert!(e.contains("DATABASE_URL") && !e.contains("s3cret"), "{e}");
}

#[test]
fn metrics_need_an_address_and_per_host_series_need_metrics() {
    let t = || cli(&["127.0.0.1"]);
    let c = Config::new(Cli { metrics_listen: Some("127.0.0.1:9108".into()), ..t() }, &Env::default()).unwrap();
    assert_eq!(c.metrics, Some(MetricsConfig { listen: "127.0.0.1:9108".parse().unwrap(), per_host: false }));
    assert_eq!(Config::new(t(), &Env::default()).unwrap().metrics, None);
    let err = |c: Cli| Config::new(c, &Env::default()).unwrap_err().0;
    assert!(err(Cli { metrics_per_host: true, ..t() }).contains("--metrics-listen"));
    assert!(err(Cli { metrics_listen: Some("9108".into()), ..t() }).contains("127.0.0.1:9108"));
}
