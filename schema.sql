SET client_min_messages = warning;
-- pinger's Postgres schema. pinger applies it at start (embedded, under an advisory lock); it is also usable as
-- `psql -f schema.sql`. Every statement is idempotent: applying it twice, or over the original tool's
-- `pinger_data (host, ping_timestamp, result)` table, is fine.

-- One row per run.
CREATE TABLE IF NOT EXISTS sweeps (
    id              uuid PRIMARY KEY,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    host_count      integer NOT NULL DEFAULT 0,
    alive           integer,
    timeout         integer,
    unreachable     integer,
    source          text NOT NULL DEFAULT '',
    options         jsonb NOT NULL DEFAULT '{}',
    pinger_version  text NOT NULL DEFAULT ''
);

-- One row per host per sweep. `host`, `ping_timestamp` and `result` are the original tool's columns.
CREATE TABLE IF NOT EXISTS pinger_data (
    host            inet NOT NULL,
    ping_timestamp  timestamptz NOT NULL,
    result          boolean NOT NULL
);
ALTER TABLE pinger_data
    ADD COLUMN IF NOT EXISTS sweep_id    uuid,
    ADD COLUMN IF NOT EXISTS status      text,
    ADD COLUMN IF NOT EXISTS rtt_ms      double precision,
    ADD COLUMN IF NOT EXISTS rtt_min_ms  double precision,
    ADD COLUMN IF NOT EXISTS rtt_max_ms  double precision,
    ADD COLUMN IF NOT EXISTS sent        integer,
    ADD COLUMN IF NOT EXISTS received    integer,
    ADD COLUMN IF NOT EXISTS duplicates  integer,
    ADD COLUMN IF NOT EXISTS late        integer,
    ADD COLUMN IF NOT EXISTS icmp_type   smallint,
    ADD COLUMN IF NOT EXISTS icmp_code   smallint,
    ADD COLUMN IF NOT EXISTS icmp_from   inet,
    ADD COLUMN IF NOT EXISTS error       text;

-- The original stored hosts as text and times without zone: convert them in place, once.
DO $$
BEGIN
    IF (SELECT data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'pinger_data' AND column_name = 'host') <> 'inet' THEN
        ALTER TABLE pinger_data ALTER COLUMN host TYPE inet USING host::inet;
    END IF;
    IF (SELECT data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'pinger_data'
          AND column_name = 'ping_timestamp') <> 'timestamp with time zone' THEN
        ALTER TABLE pinger_data ALTER COLUMN ping_timestamp TYPE timestamptz;
    END IF;
END
$$;

-- One host's history: a btree. One sweep, and time windows: BRIN, because rows arrive in time order and sweep
-- ids are UUIDv7 (time-ordered), so block ranges summarise them well at almost no cost per inserted row (a btree
-- on sweep_id cost a third of the COPY speed).
CREATE INDEX IF NOT EXISTS pinger_data_host_time ON pinger_data (host, ping_timestamp);
CREATE INDEX IF NOT EXISTS pinger_data_sweep_brin ON pinger_data USING brin (sweep_id) WITH (pages_per_range = 16);
CREATE INDEX IF NOT EXISTS pinger_data_time_brin ON pinger_data USING brin (ping_timestamp);

-- Batches already stored: a batch's rows and its id commit in one transaction, so a batch replayed from the
-- spool after a crash or a lost acknowledgement is recognised and never stored twice.
CREATE TABLE IF NOT EXISTS pinger_batches (
    id         uuid PRIMARY KEY,
    sweep_id   uuid NOT NULL,
    row_count  integer NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now()
);

-- Per-host availability since a point in time: checks, failures, availability %, last time alive, and the last
-- time the host changed between up and down.
CREATE OR REPLACE FUNCTION host_availability(since timestamptz)
RETURNS TABLE (host inet, checks bigint, failures bigint, availability_pct numeric, last_alive timestamptz,
               last_status_change timestamptz, last_result boolean)
LANGUAGE sql STABLE AS $$
    WITH w AS (
        SELECT d.host, d.ping_timestamp, d.result,
               lag(d.result) OVER (PARTITION BY d.host ORDER BY d.ping_timestamp) AS prev
        FROM pinger_data d
        WHERE d.ping_timestamp >= since
    )
    SELECT w.host,
           count(*),
           count(*) FILTER (WHERE NOT w.result),
           round(100.0 * count(*) FILTER (WHERE w.result) / count(*), 2),
           max(w.ping_timestamp) FILTER (WHERE w.result),
           max(w.ping_timestamp) FILTER (WHERE w.prev IS NOT NULL AND w.prev <> w.result),
           (array_agg(w.result ORDER BY w.ping_timestamp DESC))[1]
    FROM w
    GROUP BY w.host
$$;

CREATE OR REPLACE VIEW host_availability_24h AS SELECT * FROM host_availability(now() - interval '24 hours');
CREATE OR REPLACE VIEW host_availability_7d AS SELECT * FROM host_availability(now() - interval '7 days');

-- Outages: runs of consecutive failed checks per host. `ended_at` is the first successful check after the run
-- (NULL while the outage goes on); `duration` is from the first failure to that check.
CREATE OR REPLACE VIEW host_outages AS
    WITH marked AS (
        SELECT d.host, d.ping_timestamp, d.result,
               count(*) FILTER (WHERE d.result) OVER (PARTITION BY d.host ORDER BY d.ping_timestamp) AS ups_before
        FROM pinger_data d
    ),
    runs AS (
        SELECT host, ups_before, min(ping_timestamp) AS started_at, max(ping_timestamp) AS last_failed_at,
               count(*) AS failed_checks
        FROM marked
        WHERE NOT result
        GROUP BY host, ups_before
    )
    SELECT r.host, r.started_at, r.last_failed_at,
           (SELECT min(d.ping_timestamp) FROM pinger_data d
            WHERE d.host = r.host AND d.result AND d.ping_timestamp > r.last_failed_at) AS ended_at,
           r.failed_checks,
           (SELECT min(d.ping_timestamp) FROM pinger_data d
            WHERE d.host = r.host AND d.result AND d.ping_timestamp > r.last_failed_at) - r.started_at AS duration
    FROM runs r;

-- Which version of this file the database holds; pinger skips the statements above (and their locks) when it
-- is current. Bump it with every change to this file (src/store/postgres.rs, SCHEMA_VERSION).
CREATE TABLE IF NOT EXISTS pinger_schema (version integer NOT NULL);
DELETE FROM pinger_schema;
INSERT INTO pinger_schema (version) VALUES (1);
