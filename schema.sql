SET client_min_messages = warning;
-- pinger's Postgres schema, version 6 (5 with the partition lock taken first, see pinger_prepare_partitions, and
-- a btree on pinger_hours (hour)). pinger applies it at start (embedded, under an advisory lock); it is also
-- usable as `psql -f schema.sql`. Every statement is idempotent: applying it twice is fine, and so is applying
-- it over version 1 or over the original tool's `pinger_data (host, ping_timestamp, result)`: the old table is
-- renamed `pinger_data_old` and `pinger migrate` (or the next sweep) moves its rows in, a day at a time.
--
-- What answers what:
--   pinger_data      every check (raw), partitioned by UTC day; old days are dropped whole (--keep-raw)
--   pinger_hourly    per host and UTC hour: checks, failures, probes, RTT min/avg/max and a histogram (a view
--                    over pinger_hours, the open day, and pinger_hours_packed, a row per host and finished day)
--   pinger_daily     the same per UTC day; kept for ever unless --keep-daily says otherwise
--   pinger_outages   one row per outage per host, kept up to date as checks arrive
-- Every check, rollup and outage belongs to a vantage point (`vantage`, pinger's --vantage: the name of the pinger
-- that checked), so that several pingers can write one history; rows from before schema 5 have the vantage ''.
-- Rollups and outages are per host and vantage; pinger_availability combines the vantages of a host.
--   host_availability(since), host_availability_24h/_7d/_30d, host_outages: the questions users ask
-- Hours are rolled up once they are over (pinger_close_hours); a check that arrives for an hour already rolled
-- up is added to its rollups by the trigger below, in the transaction that stores it. Either way a check is
-- counted once: its raw row and its share of the rollups commit together.
-- The functions run with `jit = off`: their statements are short or scan known ranges, and JIT compiling them
-- cost more than running them (seconds per hour rolled up, measured). Those that sort or aggregate a whole hour
-- of checks get 64 MB of work_mem, so that they sort in memory.

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
    pinger_version  text NOT NULL DEFAULT '',
    vantage         text NOT NULL DEFAULT ''
);
ALTER TABLE sweeps ADD COLUMN IF NOT EXISTS vantage text NOT NULL DEFAULT '';

-- An unpartitioned pinger_data is version 1's or the original tool's: set it aside for the migration.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('pinger_data') AND relkind = 'r') THEN
        ALTER TABLE pinger_data RENAME TO pinger_data_old;
        ALTER INDEX IF EXISTS pinger_data_host_time RENAME TO pinger_data_old_host_time;
        ALTER INDEX IF EXISTS pinger_data_sweep_brin RENAME TO pinger_data_old_sweep_brin;
        ALTER INDEX IF EXISTS pinger_data_time_brin RENAME TO pinger_data_old_time_brin;
    END IF;
END
$$;

-- One row per host per check. `host`, `ping_timestamp` and `result` are the original tool's columns.
CREATE TABLE IF NOT EXISTS pinger_data (
    host            inet NOT NULL,
    ping_timestamp  timestamptz NOT NULL,
    result          boolean NOT NULL,
    sweep_id        uuid,
    status          text,
    rtt_ms          double precision,
    rtt_min_ms      double precision,
    rtt_max_ms      double precision,
    sent            integer,
    received        integer,
    duplicates      integer,
    late            integer,
    icmp_type       smallint,
    icmp_code       smallint,
    icmp_from       inet,
    error           text,
    vantage         text NOT NULL DEFAULT ''
) PARTITION BY RANGE (ping_timestamp);
-- Schema 5: the vantage point (a constant default: no partition is rewritten).
ALTER TABLE pinger_data ADD COLUMN IF NOT EXISTS vantage text NOT NULL DEFAULT '';
-- Rows no day partition takes (written by another tool for a day pinger has not prepared); pinger moves them
-- into their day's partition when it creates it.
CREATE TABLE IF NOT EXISTS pinger_data_default PARTITION OF pinger_data DEFAULT;

-- One host's history: a btree. One sweep, and time windows: BRIN, because rows arrive in time order and sweep
-- ids are UUIDv7 (time-ordered), so block ranges summarise them well at almost no cost per inserted row.
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
CREATE INDEX IF NOT EXISTS pinger_batches_stored_brin ON pinger_batches USING brin (stored_at);

-- Rollups. Counts, never averaged flags: availability is 100 * (checks - failures) / checks over any span.
-- rtt_* describe the checks that were answered: rtt_sum_ms / rtt_count is the mean of their mean RTTs;
-- rtt_hist counts them by mean RTT in the buckets of pinger_rtt_bounds() (ms): <1, 1-2, 2-5, 5-10, 10-20,
-- 20-50, 50-100, 100-200, 200-500, 500-1000, >=1000, enough for a latency band (quantiles) later.
--
-- Hourly rollups are kept in two forms, read together through the view pinger_hourly: the hours of the day
-- that is not over yet are rows of pinger_hours (one per host and hour, updated as hours close); once the day
-- is over its hours are packed into one row per host and day (pinger_hours_packed, arrays of 24 hours that
-- PostgreSQL compresses), which a year of hours costs a fifth of the disk of one row per hour.
-- (Schema 2 kept every hour as a row of the table pinger_hourly: it becomes pinger_hours here.)
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('pinger_hourly') AND relkind = 'r') THEN
        ALTER TABLE pinger_hourly RENAME TO pinger_hours;
        ALTER INDEX IF EXISTS pinger_hourly_pkey RENAME TO pinger_hours_pkey;
        ALTER INDEX IF EXISTS pinger_hourly_hour_brin RENAME TO pinger_hours_hour_brin;
    END IF;
END
$$;
CREATE TABLE IF NOT EXISTS pinger_hours (
    host         inet NOT NULL,
    hour         timestamptz NOT NULL,
    checks       integer NOT NULL,
    failures     integer NOT NULL,
    sent         integer NOT NULL,
    received     integer NOT NULL,
    duplicates   integer NOT NULL,
    rtt_count    integer NOT NULL,
    rtt_min_ms   double precision,
    rtt_max_ms   double precision,
    rtt_sum_ms   double precision NOT NULL,
    rtt_hist     integer[] NOT NULL,
    last_at      timestamptz NOT NULL,
    last_up_at   timestamptz,
    vantage      text NOT NULL DEFAULT '',
    PRIMARY KEY (host, vantage, hour)
);
-- A btree, not BRIN: hours are rewritten in place all day, so the table is in no order and a BRIN summary of it
-- covers every page. Retention's delete of hours past --keep-hourly scanned the whole table every run (120 ms
-- before any row of a sweep was stored, at 1,000,000 host-hours; 5 ms with this index).
DROP INDEX IF EXISTS pinger_hours_hour_brin;
CREATE INDEX IF NOT EXISTS pinger_hours_hour ON pinger_hours (hour);

-- A finished day's hours, one row per host and UTC day. Element h + 1 of each 24-element block is hour h:
--   counts  checks, failures, sent, received, duplicates, rtt_count      (6 blocks)
--   rtt     rtt_min_ms, rtt_max_ms (NaN where no check was answered), rtt_sum_ms   (3 blocks)
--   hist    rtt_hist bucket 1 .. bucket 11                                (11 blocks)
--   last    last_at, last_up_at as whole seconds after the hour's start (-1 where none)   (2 blocks)
-- Read it through pinger_hourly. No element is NULL, so that the row is always over 2 KB before compression
-- (about 2,150 bytes), the size at which PostgreSQL starts compressing; toast_tuple_target and STORAGE MAIN
-- make it compress every array and keep them in the row.
CREATE TABLE IF NOT EXISTS pinger_hours_packed (
    host    inet NOT NULL,
    day     date NOT NULL,
    counts  integer[] NOT NULL,
    rtt     real[] NOT NULL,
    hist    integer[] NOT NULL,
    last    smallint[] NOT NULL,
    vantage text NOT NULL DEFAULT '',
    PRIMARY KEY (host, vantage, day)
) WITH (toast_tuple_target = 128);
ALTER TABLE pinger_hours_packed ALTER counts SET STORAGE MAIN, ALTER rtt SET STORAGE MAIN,
    ALTER hist SET STORAGE MAIN, ALTER last SET STORAGE MAIN;

CREATE TABLE IF NOT EXISTS pinger_daily (
    host         inet NOT NULL,
    day          date NOT NULL,
    checks       integer NOT NULL,
    failures     integer NOT NULL,
    sent         integer NOT NULL,
    received     integer NOT NULL,
    duplicates   integer NOT NULL,
    rtt_count    integer NOT NULL,
    rtt_min_ms   double precision,
    rtt_max_ms   double precision,
    rtt_sum_ms   double precision NOT NULL,
    rtt_hist     integer[] NOT NULL,
    last_at      timestamptz NOT NULL,
    last_up_at   timestamptz,
    vantage      text NOT NULL DEFAULT '',
    PRIMARY KEY (host, vantage, day)
);
CREATE INDEX IF NOT EXISTS pinger_daily_day_brin ON pinger_daily USING brin (day);

-- One row per outage: a run of failed checks, from the first failure (started_at) to the first good check after
-- it (ended_at; NULL while it goes on).
CREATE TABLE IF NOT EXISTS pinger_outages (
    host            inet NOT NULL,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    failed_checks   integer NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    vantage         text NOT NULL DEFAULT '',
    PRIMARY KEY (host, vantage, started_at)
);
-- Schema 5: rollups and outages of earlier schemas become the vantage '' (keys widened in place).
DO $$
DECLARE
    t record;
    pk name;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('pinger_hours', 'hour'), ('pinger_hours_packed', 'day'), ('pinger_daily', 'day'),
                                   ('pinger_outages', 'started_at')) v(tab, col)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = t.tab::regclass AND attname = 'vantage'
                                                     AND NOT attisdropped) THEN
            EXECUTE format('ALTER TABLE %I ADD COLUMN vantage text NOT NULL DEFAULT %L', t.tab, '');
            SELECT conname INTO pk FROM pg_constraint WHERE conrelid = t.tab::regclass AND contype = 'p';
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t.tab, pk);
            EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (host, vantage, %I)', t.tab, t.col);
            IF t.tab = 'pinger_outages' THEN
                DROP INDEX IF EXISTS pinger_outages_open;
            END IF;
        END IF;
    END LOOP;
END
$$;
CREATE UNIQUE INDEX IF NOT EXISTS pinger_outages_open ON pinger_outages (host, vantage) WHERE ended_at IS NULL;
-- The insert trigger looks for outages with an event after the checks it is given (out-of-order checks).
CREATE INDEX IF NOT EXISTS pinger_outages_last_event ON pinger_outages ((coalesce(ended_at, last_failed_at)));

-- Bookkeeping: hours before `rolled_until` are rolled up (and days before its day in pinger_daily);
-- `raw_from` and `hourly_from` say from when raw rows and hourly rollups are still kept (retention).
CREATE TABLE IF NOT EXISTS pinger_rollup_state (
    one           boolean PRIMARY KEY DEFAULT true CHECK (one),
    rolled_until  timestamptz NOT NULL,
    raw_from      timestamptz NOT NULL DEFAULT '-infinity',
    hourly_from   timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO pinger_rollup_state (rolled_until) VALUES (date_trunc('hour', now(), 'UTC')) ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION pinger_rtt_bounds() RETURNS double precision[]
LANGUAGE sql IMMUTABLE AS $$ SELECT '{1,2,5,10,20,50,100,200,500,1000}'::double precision[] $$;

-- Element-wise sums of equal-length arrays (histograms, packed hours); NULL counts as nothing.
CREATE OR REPLACE FUNCTION pinger_hist_add(a integer[], b integer[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a
           ELSE (SELECT array_agg(x + y ORDER BY i) FROM unnest(a, b) WITH ORDINALITY u(x, y, i)) END
$$;
CREATE OR REPLACE AGGREGATE pinger_hist_sum(integer[]) (SFUNC = pinger_hist_add, STYPE = integer[]);

-- Packed hours merged: rtt blocks by least, greatest (NaN: none) and sum; last blocks by greatest (-1: none).
CREATE OR REPLACE FUNCTION pinger_packed_rtt_add(a real[], b real[]) RETURNS real[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(CASE WHEN i > 48 THEN x + y WHEN x = 'NaN' THEN y WHEN y = 'NaN' THEN x
                          WHEN i <= 24 THEN least(x, y) ELSE greatest(x, y) END ORDER BY i)
    FROM unnest(a, b) WITH ORDINALITY u(x, y, i)
$$;
CREATE OR REPLACE FUNCTION pinger_packed_last_add(a smallint[], b smallint[]) RETURNS smallint[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(greatest(x, y) ORDER BY i) FROM unnest(a, b) WITH ORDINALITY u(x, y, i)
$$;

-- One 24-element block: v[k] at hour ix[k], `fill` at hours not given.
CREATE OR REPLACE FUNCTION pinger_spread(ix integer[], v anycompatiblearray, fill anycompatible)
RETURNS anycompatiblearray
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(coalesce(v[array_position(ix, s)], fill) ORDER BY s) FROM generate_series(0, 23) s
$$;

-- The query that turns the checks of relation `src` with $1 <= ping_timestamp < $2 into hour rows (the columns
-- of pinger_hours). Everything that rolls checks up starts here.
CREATE OR REPLACE FUNCTION pinger_hours_sql(src text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($f$
        SELECT c.host, date_trunc('hour', c.ping_timestamp, 'UTC') AS hour, count(*)::int AS checks,
               count(*) FILTER (WHERE NOT c.result)::int AS failures, sum(coalesce(c.sent, 1))::int AS sent,
               sum(coalesce(c.received, c.result::int))::int AS received,
               sum(coalesce(c.duplicates, 0))::int AS duplicates,
               count(c.rtt_ms) FILTER (WHERE c.result)::int AS rtt_count,
               min(coalesce(c.rtt_min_ms, c.rtt_ms)) FILTER (WHERE c.result) AS rtt_min_ms,
               max(coalesce(c.rtt_max_ms, c.rtt_ms)) FILTER (WHERE c.result) AS rtt_max_ms,
               coalesce(sum(c.rtt_ms) FILTER (WHERE c.result), 0) AS rtt_sum_ms,
               ARRAY[%2$s]::int[] AS rtt_hist,
               max(c.ping_timestamp) AS last_at, max(c.ping_timestamp) FILTER (WHERE c.result) AS last_up_at,
               c.vantage
        FROM %1$I c
        WHERE c.ping_timestamp >= $1 AND c.ping_timestamp < $2
        GROUP BY c.host, 2, c.vantage
        $f$, src,
        (SELECT string_agg(format('count(*) FILTER (WHERE c.result AND width_bucket(c.rtt_ms, pinger_rtt_bounds()) = %s)',
                                  b), ', ' ORDER BY b)
         FROM generate_series(0, 10) b))
$$;

-- The statement that adds hour rows (the query `hours`, with $1 and $2 as it needs them) to the rollups of
-- `grain`: 'hour' (pinger_hours), 'day' (pinger_daily) or 'packed' (pinger_hours_packed).
CREATE OR REPLACE FUNCTION pinger_rollup_hours_sql(hours text, grain text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE grain
    WHEN 'packed' THEN format($f$
        INSERT INTO pinger_hours_packed AS t (host, vantage, day, counts, rtt, hist, last)
        SELECT h.host, h.vantage, h.day,
               %2$s,
               pinger_spread(array_agg(h.ix), array_agg(h.rtt_min_ms::real), 'NaN'::real)
               || pinger_spread(array_agg(h.ix), array_agg(h.rtt_max_ms::real), 'NaN'::real)
               || pinger_spread(array_agg(h.ix), array_agg(h.rtt_sum_ms::real), 0::real),
               %3$s,
               pinger_spread(array_agg(h.ix), array_agg(floor(extract(epoch FROM h.last_at - h.hour))::smallint),
                             -1::smallint)
               || pinger_spread(array_agg(h.ix),
                                array_agg(floor(extract(epoch FROM h.last_up_at - h.hour))::smallint), -1::smallint)
        FROM (SELECT x.*, (x.hour AT TIME ZONE 'UTC')::date AS day,
                     extract(hour FROM x.hour AT TIME ZONE 'UTC')::int AS ix
              FROM (%1$s) x) h
        GROUP BY h.host, h.vantage, h.day
        ON CONFLICT (host, vantage, day) DO UPDATE SET
            counts = pinger_hist_add(t.counts, EXCLUDED.counts), rtt = pinger_packed_rtt_add(t.rtt, EXCLUDED.rtt),
            hist = pinger_hist_add(t.hist, EXCLUDED.hist), last = pinger_packed_last_add(t.last, EXCLUDED.last)
        $f$, hours,
        (SELECT string_agg(format('pinger_spread(array_agg(h.ix), array_agg(h.%s), 0)', c), E'\n               || '
                           ORDER BY o)
         FROM unnest('{checks,failures,sent,received,duplicates,rtt_count}'::text[]) WITH ORDINALITY u(c, o)),
        (SELECT string_agg(format('pinger_spread(array_agg(h.ix), array_agg(h.rtt_hist[%s]), 0)', b), E'\n               || '
                           ORDER BY b)
         FROM generate_series(1, 11) b))
    ELSE format($f$
        INSERT INTO %1$I AS t (host, vantage, %2$I, checks, failures, sent, received, duplicates, rtt_count,
                               rtt_min_ms, rtt_max_ms, rtt_sum_ms, rtt_hist, last_at, last_up_at)
        SELECT h.host, h.vantage, %3$s, sum(h.checks), sum(h.failures), sum(h.sent), sum(h.received), sum(h.duplicates),
               sum(h.rtt_count), min(h.rtt_min_ms), max(h.rtt_max_ms), sum(h.rtt_sum_ms), pinger_hist_sum(h.rtt_hist),
               max(h.last_at), max(h.last_up_at)
        FROM (%4$s) h
        GROUP BY 1, 2, 3
        ON CONFLICT (host, vantage, %2$I) DO UPDATE SET
            checks = t.checks + EXCLUDED.checks, failures = t.failures + EXCLUDED.failures,
            sent = t.sent + EXCLUDED.sent, received = t.received + EXCLUDED.received,
            duplicates = t.duplicates + EXCLUDED.duplicates, rtt_count = t.rtt_count + EXCLUDED.rtt_count,
            rtt_min_ms = least(t.rtt_min_ms, EXCLUDED.rtt_min_ms),
            rtt_max_ms = greatest(t.rtt_max_ms, EXCLUDED.rtt_max_ms),
            rtt_sum_ms = t.rtt_sum_ms + EXCLUDED.rtt_sum_ms, rtt_hist = pinger_hist_add(t.rtt_hist, EXCLUDED.rtt_hist),
            last_at = greatest(t.last_at, EXCLUDED.last_at), last_up_at = greatest(t.last_up_at, EXCLUDED.last_up_at)
        $f$,
        CASE grain WHEN 'hour' THEN 'pinger_hours' ELSE 'pinger_daily' END,
        grain,
        CASE grain WHEN 'hour' THEN 'h.hour' ELSE $q$(h.hour AT TIME ZONE 'UTC')::date$q$ END,
        hours)
    END
$$;

-- The statement that rolls the checks of relation `src` with $1 <= ping_timestamp < $2 into `grain`.
CREATE OR REPLACE FUNCTION pinger_rollup_sql(src text, grain text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT pinger_rollup_hours_sql(pinger_hours_sql(src), grain) $$;

-- The hours of pinger_hours in [lo, hi) packed (their days must be over) and removed from pinger_hours. Inserts
-- of checks wait meanwhile (pinger_rollup_state, as for the hour close), so that no hour they add is removed
-- unpacked.
CREATE OR REPLACE FUNCTION pinger_pack_hours(lo timestamptz, hi timestamptz) RETURNS void
LANGUAGE plpgsql SET jit = off SET work_mem = '64MB' AS $$
BEGIN
    PERFORM 1 FROM pinger_rollup_state FOR UPDATE;
    EXECUTE pinger_rollup_hours_sql('SELECT * FROM pinger_hours WHERE hour >= $1 AND hour < $2', 'packed')
        USING lo, hi;
    DELETE FROM pinger_hours WHERE hour >= lo AND hour < hi;
END
$$;

-- Outages of `hosts` (all when NULL) recomputed from the raw rows from `since` on. Used when checks arrive out
-- of order (a late spool, a migration) and by `pinger migrate`; the outages that overlap `since` are redone
-- from their start, so the check before the span recomputed was a good one.
CREATE OR REPLACE FUNCTION pinger_outages_rebuild(hosts inet[], since timestamptz) RETURNS void
LANGUAGE plpgsql SET jit = off SET work_mem = '64MB' AS $$
BEGIN
    -- Each vantage of a host from its own point: the start of its outage that overlaps `since`, if any (another
    -- vantage's outage may have started earlier while this one was up).
    CREATE TEMP TABLE IF NOT EXISTS pinger_rebuild_from (host inet, vantage text, since timestamptz,
                                                         PRIMARY KEY (host, vantage)) ON COMMIT DROP;
    TRUNCATE pinger_rebuild_from;
    IF hosts IS NULL THEN
        DELETE FROM pinger_outages;
        INSERT INTO pinger_rebuild_from
        SELECT DISTINCT d.host, d.vantage, '-infinity'::timestamptz FROM pinger_data d;
    ELSE
        INSERT INTO pinger_rebuild_from
        SELECT v.host, v.vantage,
               least(since, (SELECT min(o.started_at) FROM pinger_outages o
                             WHERE o.host = v.host AND o.vantage = v.vantage
                               AND (o.ended_at IS NULL OR o.ended_at >= since)))
        FROM (SELECT DISTINCT d.host, d.vantage FROM pinger_data d
              WHERE d.host = ANY (hosts) AND d.ping_timestamp >= since
              UNION
              SELECT o.host, o.vantage FROM pinger_outages o
              WHERE o.host = ANY (hosts) AND (o.ended_at IS NULL OR o.ended_at >= since)) v;
        DELETE FROM pinger_outages o USING pinger_rebuild_from f
        WHERE o.host = f.host AND o.vantage = f.vantage AND o.started_at >= f.since;
    END IF;
    INSERT INTO pinger_outages (host, vantage, started_at, ended_at, failed_checks, last_failed_at)
    WITH marked AS (
        SELECT d.host, d.vantage, d.ping_timestamp AS at, d.result,
               count(*) FILTER (WHERE d.result) OVER (PARTITION BY d.host, d.vantage ORDER BY d.ping_timestamp
                                                      ROWS UNBOUNDED PRECEDING) AS ups
        FROM pinger_data d
        JOIN pinger_rebuild_from f ON f.host = d.host AND f.vantage = d.vantage AND d.ping_timestamp >= f.since
    ),
    runs AS (
        SELECT host, vantage, ups, min(at) AS started_at, max(at) AS last_failed_at, count(*) AS n
        FROM marked WHERE NOT result GROUP BY host, vantage, ups
    ),
    ends AS (SELECT host, vantage, ups, min(at) AS at FROM marked WHERE result GROUP BY host, vantage, ups)
    SELECT r.host, r.vantage, r.started_at, e.at, r.n, r.last_failed_at
    FROM runs r LEFT JOIN ends e ON e.host = r.host AND e.vantage = r.vantage AND e.ups = r.ups + 1;
END
$$;

-- What every statement that inserts checks does, in its own transaction: checks of hours already rolled up are
-- added to the rollups; the outage log follows the checks. Checks that arrive out of order (a host twice in one
-- statement, or older than what is known of the host) make the hosts concerned recomputed from raw rows.
CREATE OR REPLACE FUNCTION pinger_data_inserted() RETURNS trigger
LANGUAGE plpgsql SET jit = off SET work_mem = '64MB' AS $$
DECLARE
    rolled timestamptz;
    late_from timestamptz;
    late_hosts inet[];
BEGIN
    -- Shared with other inserts, exclusive for pinger_close_hours: an hour's checks are rolled up either by the
    -- close (they committed before it) or here (after it), never both, never neither.
    SELECT rolled_until INTO rolled FROM pinger_rollup_state FOR SHARE;
    SELECT min(ping_timestamp) INTO late_from FROM pinger_new_rows;
    IF late_from < rolled THEN
        -- Into pinger_hours (hours of days that are over wait there until the next hour close packs them) and,
        -- for days that are over, into their daily rollups.
        EXECUTE pinger_rollup_sql('pinger_new_rows', 'hour') USING '-infinity'::timestamptz, rolled;
        EXECUTE pinger_rollup_sql('pinger_new_rows', 'day')
            USING '-infinity'::timestamptz, date_trunc('day', rolled, 'UTC');
    END IF;
    -- A host's checks from different vantage points are different series: "the host" below is a host and vantage.
    -- Out of order: a host twice in the statement (only hosts with a failed check or an open outage can be
    -- affected: a host that was and stays up changes no outage), a check at or before an outage event of its
    -- host (the events since the statement's earliest check are few in a live sweep: a short index range), or a
    -- failed check with a later check already stored. Each is a hash join or a probe per failed check, not per
    -- check: a live sweep's statement stays cheap.
    WITH touched AS (
        SELECT DISTINCT n.host, n.vantage FROM pinger_new_rows n WHERE NOT n.result
        UNION SELECT o.host, o.vantage FROM pinger_outages o WHERE o.ended_at IS NULL
    ),
    recent AS (
        SELECT o.host, o.vantage, max(coalesce(o.ended_at, o.last_failed_at)) AS at FROM pinger_outages o
        WHERE coalesce(o.ended_at, o.last_failed_at) >= late_from GROUP BY o.host, o.vantage
    ),
    late AS (
        SELECT n.host, min(n.ping_timestamp) AS since FROM pinger_new_rows n
        WHERE (n.host, n.vantage) IN (SELECT host, vantage FROM touched) GROUP BY n.host, n.vantage
        HAVING count(*) > 1
        UNION ALL
        SELECT n.host, n.ping_timestamp FROM pinger_new_rows n
        JOIN recent r ON r.host = n.host AND r.vantage = n.vantage
        WHERE r.at >= n.ping_timestamp
        UNION ALL
        -- LATERAL ... LIMIT 1 keeps this an index probe per failed check: as a semi-join the planner may hash
        -- every raw row (measured: a statement of 300 checks took 50 ms on a 432,000-row table).
        SELECT n.host, n.ping_timestamp FROM pinger_new_rows n
        CROSS JOIN LATERAL (SELECT 1 FROM pinger_data d
                            WHERE d.host = n.host AND d.ping_timestamp > n.ping_timestamp AND d.vantage = n.vantage
                            LIMIT 1) later
        WHERE NOT n.result
    ),
    hosts AS (SELECT l.host, min(l.since) AS since FROM late l GROUP BY l.host)
    SELECT array_agg(h.host), min(h.since) INTO late_hosts, late_from FROM hosts h;
    -- In order, one check per host: a good check ends the host's open outage; a failed one extends or opens one.
    UPDATE pinger_outages o SET ended_at = n.ping_timestamp
    FROM pinger_new_rows n
    WHERE n.result AND o.ended_at IS NULL AND o.host = n.host AND o.vantage = n.vantage
      AND (late_hosts IS NULL OR n.host NOT IN (SELECT unnest(late_hosts)));
    INSERT INTO pinger_outages AS o (host, vantage, started_at, ended_at, failed_checks, last_failed_at)
    SELECT n.host, n.vantage, n.ping_timestamp, NULL, 1, n.ping_timestamp FROM pinger_new_rows n
    WHERE NOT n.result AND (late_hosts IS NULL OR n.host NOT IN (SELECT unnest(late_hosts)))
    ON CONFLICT (host, vantage) WHERE ended_at IS NULL DO UPDATE
        SET failed_checks = o.failed_checks + 1, last_failed_at = EXCLUDED.last_failed_at;
    IF late_hosts IS NOT NULL THEN
        PERFORM pinger_outages_rebuild(late_hosts, late_from);
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS pinger_data_inserted ON pinger_data;
CREATE TRIGGER pinger_data_inserted AFTER INSERT ON pinger_data
    REFERENCING NEW TABLE AS pinger_new_rows FOR EACH STATEMENT EXECUTE FUNCTION pinger_data_inserted();

-- The partition of one UTC day, created if missing (rows another tool left in the default partition for that
-- day move in). Safe to call from several sessions at once.
CREATE OR REPLACE FUNCTION pinger_partition_for(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    name text := 'pinger_data_p' || to_char(day, 'YYYYMMDD');
    lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(7306010);
    -- Asked of the catalog itself, not through to_regclass: after waiting on an advisory lock (unlike a table
    -- lock) the session may still hold a cached "no such table" from before the wait, and would create it twice.
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = name AND relnamespace = current_schema()::regnamespace) THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pinger_data_default WHERE ping_timestamp >= lo AND ping_timestamp < hi) THEN
        EXECUTE format('CREATE TABLE %I (LIKE pinger_data INCLUDING DEFAULTS)', name);
        -- Moved rows were counted when they were inserted; the trigger is on the parent, not on this table.
        EXECUTE format('WITH m AS (DELETE FROM pinger_data_default WHERE ping_timestamp >= $1 AND ping_timestamp < $2 '
                       'RETURNING *) INSERT INTO %I SELECT * FROM m', name) USING lo, hi;
        EXECUTE format('ALTER TABLE pinger_data ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    ELSE
        EXECUTE format('CREATE TABLE %I PARTITION OF pinger_data FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    END IF;
    RETURN true;
END
$$;

-- Partitions for yesterday, today and `days_ahead` days ahead, and for any day whose rows wait in the default
-- partition. Returns how many it created.
CREATE OR REPLACE FUNCTION pinger_prepare_partitions(days_ahead integer) RETURNS integer
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    days date[];
    d date;
    made integer := 0;
BEGIN
    -- The partitions' lock first, before the default partition is read: a pinger that read it and then waited
    -- for the lock held what the lock's holder needed to attach a partition (six pingers starting at once on a
    -- new database deadlocked here about one run in ten).
    PERFORM pg_advisory_xact_lock(7306010);
    SELECT array_agg(x ORDER BY x) INTO days FROM (
        SELECT (now() AT TIME ZONE 'UTC')::date + k AS x FROM generate_series(-1, days_ahead) k
        UNION SELECT DISTINCT (ping_timestamp AT TIME ZONE 'UTC')::date FROM pinger_data_default
    ) q;
    FOREACH d IN ARRAY days LOOP
        IF pinger_partition_for(d) THEN
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END
$$;

-- The days in [lo, hi), which are over: their daily rollups summed from their hours, and their hours packed
-- (with those of earlier days that late checks left in pinger_hours: their daily rollups have them already).
CREATE OR REPLACE FUNCTION pinger_days_from_hours(lo timestamptz, hi timestamptz) RETURNS void
LANGUAGE plpgsql SET jit = off SET work_mem = '64MB' AS $$
BEGIN
    EXECUTE pinger_rollup_hours_sql('SELECT * FROM pinger_hours WHERE hour >= $1 AND hour < $2', 'day') USING lo, hi;
    PERFORM pinger_pack_hours('-infinity', hi);
END
$$;

-- Rolls up the hours that ended before `upto` and are not rolled up yet, at most `max_hours` of them (and the
-- days they complete). Returns the hours rolled up. While it runs, inserts of checks wait for it (their trigger
-- reads pinger_rollup_state FOR SHARE): pinger calls it an hour at a time.
CREATE OR REPLACE FUNCTION pinger_close_hours(upto timestamptz, max_hours integer DEFAULT 1000000) RETURNS integer
LANGUAGE plpgsql SET jit = off SET work_mem = '64MB' AS $$
DECLARE
    rolled timestamptz;
    target timestamptz;
BEGIN
    SELECT rolled_until INTO rolled FROM pinger_rollup_state FOR UPDATE;
    target := least(date_trunc('hour', upto, 'UTC'), rolled + make_interval(hours => max_hours));
    IF target <= rolled THEN
        RETURN 0;
    END IF;
    EXECUTE pinger_rollup_sql('pinger_data', 'hour') USING rolled, target;
    -- Days now complete: summed from their hours.
    PERFORM pinger_days_from_hours(date_trunc('day', rolled, 'UTC'), date_trunc('day', target, 'UTC'));
    UPDATE pinger_rollup_state SET rolled_until = target;
    RETURN (extract(epoch FROM target - rolled) / 3600)::integer;
END
$$;

-- Retention: raw day partitions that ended before `keep_raw` ago are dropped whole (only once their hours are
-- rolled up), hourly rollups older than `keep_hourly` and (when given) daily ones older than `keep_daily` go.
-- Returns the raw partitions dropped.
CREATE OR REPLACE FUNCTION pinger_retention(keep_raw interval, keep_hourly interval, keep_daily interval)
RETURNS integer
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    st pinger_rollup_state;
    raw_cut timestamptz;
    hourly_cut timestamptz;
    part record;
    dropped integer := 0;
BEGIN
    SELECT * INTO st FROM pinger_rollup_state;
    raw_cut := least(date_trunc('day', now() - keep_raw, 'UTC'), date_trunc('day', st.rolled_until, 'UTC'));
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'pinger_data'::regclass AND c.relname ~ '^pinger_data_p[0-9]{8}$'
          AND (to_date(substr(c.relname, 14), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= raw_cut
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    hourly_cut := date_trunc('day', now() - keep_hourly, 'UTC');
    -- Every time, not only when the cut moves: a late check can bring back an hour older than the cut.
    DELETE FROM pinger_hours WHERE hour < hourly_cut;
    DELETE FROM pinger_hours_packed WHERE day < (hourly_cut AT TIME ZONE 'UTC')::date;
    -- Batch ids are only needed while a batch can still be replayed: spool files are days old at most.
    DELETE FROM pinger_batches WHERE stored_at < now() - keep_raw;
    IF keep_daily IS NOT NULL THEN
        DELETE FROM pinger_daily WHERE day < (now() - keep_daily)::date;
    END IF;
    UPDATE pinger_rollup_state
    SET raw_from = greatest(raw_from, raw_cut), hourly_from = greatest(hourly_from, hourly_cut);
    RETURN dropped;
END
$$;

-- Per-host availability since a point in time: checks, failures, availability %, last time alive, the last time
-- the host changed between up and down, and whether its last check was good. Finished days come from
-- pinger_daily, finished hours from pinger_hourly, the rest from raw rows; where raw rows are gone (retention)
-- the window starts at the hour, where hourly rows are gone at the day. `only_host` (unless NULL) limits it to
-- one host.
-- Availability counts checks (a check is up when any of its probes was answered); loss_pct counts probes (sent,
-- with sends the kernel refused, and received), as fping's loss. Schema 4 added sent, received and loss_pct at the
-- end; a function's columns cannot change in place, hence the DROP (host_availability names its columns, so
-- nothing depends on these).
DROP FUNCTION IF EXISTS pinger_availability(timestamptz, inet);
DROP FUNCTION IF EXISTS pinger_availability_by_vantage(timestamptz, inet);
CREATE OR REPLACE FUNCTION pinger_availability_by_vantage(since timestamptz, only_host inet)
RETURNS TABLE (host inet, vantage text, checks bigint, failures bigint, availability_pct numeric,
               last_alive timestamptz, last_status_change timestamptz, last_result boolean, sent bigint,
               received bigint, loss_pct numeric, last_check timestamptz)
LANGUAGE plpgsql STABLE SET jit = off AS $$
DECLARE
    st pinger_rollup_state;
    a timestamptz;    -- the window's start as the data allows it
    h1 timestamptz;   -- raw rows in [a, h1)
    d1 timestamptz;   -- hourly rollups in [h1, d1) and [d2, rolled)
    d2 timestamptz;   -- daily rows in [d1, d2)
    k integer;        -- h1's hour of its day
BEGIN
    SELECT * INTO st FROM pinger_rollup_state;
    a := since;
    IF a < st.hourly_from THEN
        a := date_trunc('day', a, 'UTC');
    ELSIF a < st.raw_from THEN
        a := date_trunc('hour', a, 'UTC');
    END IF;
    h1 := least(greatest(date_trunc('hour', a, 'UTC') + CASE WHEN date_trunc('hour', a, 'UTC') < a
                                                            THEN interval '1 hour' ELSE interval '0' END, a),
                greatest(st.rolled_until, a));
    d1 := least(date_trunc('day', h1, 'UTC') + CASE WHEN date_trunc('day', h1, 'UTC') < h1
                                                   THEN interval '1 day' ELSE interval '0' END,
                greatest(st.rolled_until, h1));
    d2 := greatest(date_trunc('day', st.rolled_until, 'UTC'), d1);
    k := extract(hour FROM h1 AT TIME ZONE 'UTC')::integer;
    RETURN QUERY
    WITH parts AS (
        SELECT r.host, r.vantage, count(*) AS checks, count(*) FILTER (WHERE NOT r.result) AS failures,
               max(r.ping_timestamp) AS last_at, max(r.ping_timestamp) FILTER (WHERE r.result) AS last_up_at,
               sum(coalesce(r.sent, 1)) AS sent, sum(coalesce(r.received, r.result::int)) AS received
        FROM pinger_data r
        WHERE r.ping_timestamp >= a AND r.ping_timestamp < h1 AND (only_host IS NULL OR r.host = only_host)
        GROUP BY r.host, r.vantage
        UNION ALL
        SELECT r.host, r.vantage, count(*), count(*) FILTER (WHERE NOT r.result), max(r.ping_timestamp),
               max(r.ping_timestamp) FILTER (WHERE r.result), sum(coalesce(r.sent, 1)),
               sum(coalesce(r.received, r.result::int))
        FROM pinger_data r
        WHERE r.ping_timestamp >= greatest(st.rolled_until, a) AND (only_host IS NULL OR r.host = only_host)
        GROUP BY r.host, r.vantage
        UNION ALL
        SELECT r.host, r.vantage, sum(r.checks), sum(r.failures), max(r.last_at), max(r.last_up_at), sum(r.sent),
               sum(r.received)
        FROM pinger_hours r
        WHERE ((r.hour >= h1 AND r.hour < d1) OR (r.hour >= d2 AND r.hour < st.rolled_until))
          AND (only_host IS NULL OR r.host = only_host)
        GROUP BY r.host, r.vantage
        UNION ALL
        -- [h1, d1) when its day is over: the day's packed hours from h1's on; the day's last check (and last good
        -- one) is in that part when it is not before h1.
        SELECT p.host, p.vantage, (SELECT sum(x) FROM unnest(p.counts[k + 1:24]) x),
               (SELECT sum(x) FROM unnest(p.counts[25 + k:48]) x),
               CASE WHEN d.last_at >= h1 THEN d.last_at END, CASE WHEN d.last_up_at >= h1 THEN d.last_up_at END,
               (SELECT sum(x) FROM unnest(p.counts[49 + k:72]) x), (SELECT sum(x) FROM unnest(p.counts[73 + k:96]) x)
        FROM pinger_hours_packed p JOIN pinger_daily d ON d.host = p.host AND d.vantage = p.vantage AND d.day = p.day
        WHERE h1 < d1 AND d1 <= date_trunc('day', st.rolled_until, 'UTC')
          AND p.day = (h1 AT TIME ZONE 'UTC')::date AND (only_host IS NULL OR p.host = only_host)
        UNION ALL
        SELECT r.host, r.vantage, sum(r.checks), sum(r.failures), max(r.last_at), max(r.last_up_at), sum(r.sent),
               sum(r.received)
        FROM pinger_daily r
        WHERE r.day >= (d1 AT TIME ZONE 'UTC')::date AND r.day < (d2 AT TIME ZONE 'UTC')::date
          AND (only_host IS NULL OR r.host = only_host)
        GROUP BY r.host, r.vantage
    ),
    hosts AS (
        SELECT p.host, p.vantage, sum(p.checks)::bigint AS checks, sum(p.failures)::bigint AS failures,
               max(p.last_at) AS last_at, max(p.last_up_at) AS last_up_at, sum(p.sent)::bigint AS sent,
               sum(p.received)::bigint AS received
        FROM parts p GROUP BY p.host, p.vantage
    )
    -- A status change is the start or the end of an outage (a host whose first check failed changed from
    -- unknown to down).
    SELECT h.host, h.vantage, h.checks, h.failures, round(100.0 * (h.checks - h.failures) / h.checks, 2),
           h.last_up_at,
           (SELECT max(greatest(CASE WHEN o.started_at >= a THEN o.started_at END,
                                CASE WHEN o.ended_at >= a THEN o.ended_at END))
            FROM pinger_outages o
            WHERE o.host = h.host AND o.vantage = h.vantage AND (o.ended_at IS NULL OR o.ended_at >= a)),
           h.last_up_at IS NOT NULL AND h.last_up_at >= h.last_at,
           h.sent, h.received, round(100.0 * (h.sent - h.received) / nullif(h.sent, 0), 2), h.last_at
    FROM hosts h
    WHERE h.checks > 0;
END
$$;

-- The vantages of each host combined: checks and probes summed over every vantage point; last_alive and
-- last_status_change the latest of any; last_result the result of the latest check from any. `vantages` counts the
-- vantage points that checked the host in the window, `down_from` those whose latest check of it failed, and
-- `state` says what that means: 'up' (none), 'down everywhere' (all), 'partly down' (some): a host that does not
-- answer one vantage point but answers another is not down. `only_vantage` (unless NULL) takes that vantage point
-- alone.
CREATE OR REPLACE FUNCTION pinger_availability(since timestamptz, only_host inet, only_vantage text DEFAULT NULL)
RETURNS TABLE (host inet, checks bigint, failures bigint, availability_pct numeric, last_alive timestamptz,
               last_status_change timestamptz, last_result boolean, sent bigint, received bigint, loss_pct numeric,
               vantages integer, down_from integer, state text)
LANGUAGE sql STABLE SET jit = off AS $$
    SELECT v.host, sum(v.checks)::bigint, sum(v.failures)::bigint,
           round(100.0 * (sum(v.checks) - sum(v.failures)) / sum(v.checks), 2), max(v.last_alive),
           max(v.last_status_change), (array_agg(v.last_result ORDER BY v.last_check DESC))[1],
           sum(v.sent)::bigint, sum(v.received)::bigint,
           round(100.0 * (sum(v.sent) - sum(v.received)) / nullif(sum(v.sent), 0), 2),
           count(*)::int, count(*) FILTER (WHERE NOT v.last_result)::int,
           CASE count(*) FILTER (WHERE NOT v.last_result) WHEN 0 THEN 'up' WHEN count(*) THEN 'down everywhere'
                ELSE 'partly down' END
    FROM pinger_availability_by_vantage(since, only_host) v
    WHERE only_vantage IS NULL OR v.vantage = only_vantage
    GROUP BY v.host
$$;

-- The name version 1 had, with its columns and meaning, over all hosts.
CREATE OR REPLACE FUNCTION host_availability(since timestamptz)
RETURNS TABLE (host inet, checks bigint, failures bigint, availability_pct numeric, last_alive timestamptz,
               last_status_change timestamptz, last_result boolean)
LANGUAGE sql STABLE AS $$
    SELECT a.host, a.checks, a.failures, a.availability_pct, a.last_alive, a.last_status_change, a.last_result
    FROM pinger_availability(since, NULL) a
$$;

CREATE OR REPLACE VIEW host_availability_24h AS SELECT * FROM host_availability(now() - interval '24 hours');
CREATE OR REPLACE VIEW host_availability_7d AS SELECT * FROM host_availability(now() - interval '7 days');
CREATE OR REPLACE VIEW host_availability_30d AS SELECT * FROM host_availability(now() - interval '30 days');

-- Outages as version 1 showed them: `duration` from the first failure to the first good check after it.
CREATE OR REPLACE VIEW host_outages AS
    SELECT o.host, o.started_at, o.last_failed_at, o.ended_at, o.failed_checks::bigint AS failed_checks,
           o.ended_at - o.started_at AS duration, o.vantage
    FROM pinger_outages o;

-- Every hourly rollup, one row per host and hour, with the columns of pinger_hours: the open day's rows and
-- the packed days unpacked (their last_at and last_up_at to the second), with the hours late checks added to a
-- packed day until the next hour close packs them. Filter packed days by `day`, which
-- their index serves; `hour` alone unpacks every day.
CREATE OR REPLACE VIEW pinger_hourly AS
    SELECT r.host, r.hour, sum(r.checks)::int AS checks, sum(r.failures)::int AS failures, sum(r.sent)::int AS sent,
           sum(r.received)::int AS received, sum(r.duplicates)::int AS duplicates, sum(r.rtt_count)::int AS rtt_count,
           min(r.rtt_min_ms) AS rtt_min_ms, max(r.rtt_max_ms) AS rtt_max_ms, sum(r.rtt_sum_ms) AS rtt_sum_ms,
           pinger_hist_sum(r.rtt_hist) AS rtt_hist, max(r.last_at) AS last_at, max(r.last_up_at) AS last_up_at,
           r.day, r.vantage
    FROM (
        SELECT h.host, h.hour, h.checks, h.failures, h.sent, h.received, h.duplicates, h.rtt_count, h.rtt_min_ms,
               h.rtt_max_ms, h.rtt_sum_ms, h.rtt_hist, h.last_at, h.last_up_at, (h.hour AT TIME ZONE 'UTC')::date AS day,
               h.vantage
        FROM pinger_hours h
        UNION ALL
        SELECT p.host, (p.day + (u.i - 1) * interval '1 hour') AT TIME ZONE 'UTC', u.checks, u.failures, u.sent, u.received,
               u.duplicates, u.rtt_count, nullif(u.rtt_min, 'NaN')::float8, nullif(u.rtt_max, 'NaN')::float8,
               u.rtt_sum::float8,
               ARRAY[u.b1, u.b2, u.b3, u.b4, u.b5, u.b6, u.b7, u.b8, u.b9, u.b10, u.b11],
               (p.day + (u.i - 1) * interval '1 hour' + u.last_s * interval '1 second') AT TIME ZONE 'UTC',
               (p.day + (u.i - 1) * interval '1 hour' + nullif(u.last_up_s, -1) * interval '1 second') AT TIME ZONE 'UTC',
               p.day, p.vantage
        FROM pinger_hours_packed p
        CROSS JOIN LATERAL unnest(p.counts[1:24], p.counts[25:48], p.counts[49:72], p.counts[73:96], p.counts[97:120],
                                  p.counts[121:144], p.rtt[1:24], p.rtt[25:48], p.rtt[49:72],
                                  p.hist[1:24], p.hist[25:48], p.hist[49:72], p.hist[73:96], p.hist[97:120],
                                  p.hist[121:144], p.hist[145:168], p.hist[169:192], p.hist[193:216], p.hist[217:240],
                                  p.hist[241:264], p.last[1:24], p.last[25:48])
            WITH ORDINALITY u(checks, failures, sent, received, duplicates, rtt_count, rtt_min, rtt_max, rtt_sum,
                              b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, last_s, last_up_s, i)
        WHERE u.checks > 0
    ) r
    GROUP BY r.host, r.hour, r.day, r.vantage;

-- The hourly rollups with the figures people read (availability, mean RTT, loss), for Adminer. Availability
-- counts checks (up when any probe of the check was answered), loss_pct probes (refused sends are lost ones).
-- loss_pct is the last column: schema 4 added it, and a view can only grow at its end.
CREATE OR REPLACE VIEW host_hourly AS
    SELECT h.host, h.hour, h.checks, h.failures, round(100.0 * (h.checks - h.failures) / h.checks, 2) AS availability_pct,
           h.sent, h.received, h.duplicates, h.rtt_min_ms, h.rtt_sum_ms / nullif(h.rtt_count, 0) AS rtt_avg_ms,
           h.rtt_max_ms, h.rtt_hist, h.day, round(100.0 * (h.sent - h.received) / nullif(h.sent, 0), 2) AS loss_pct,
           h.vantage
    FROM pinger_hourly h;
CREATE OR REPLACE VIEW host_daily AS
    SELECT d.host, d.day, d.checks, d.failures, round(100.0 * (d.checks - d.failures) / d.checks, 2) AS availability_pct,
           d.sent, d.received, d.duplicates, d.rtt_min_ms, d.rtt_sum_ms / nullif(d.rtt_count, 0) AS rtt_avg_ms,
           d.rtt_max_ms, d.rtt_hist, round(100.0 * (d.sent - d.received) / nullif(d.sent, 0), 2) AS loss_pct,
           d.vantage
    FROM pinger_daily d;

-- For the migration of the original tool's text hosts: NULL where the text is not an address.
CREATE OR REPLACE FUNCTION pinger_try_inet(t text) RETURNS inet
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN t::inet;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- Schema 2's hours of days that are over (its pinger_hourly rows, now in pinger_hours) are packed.
DO $$ BEGIN PERFORM pinger_pack_hours('-infinity', date_trunc('day', rolled_until, 'UTC')) FROM pinger_rollup_state; END $$;

-- Which version of this file the database holds; pinger skips the statements above (and their locks) when it
-- is current. Bump it with every change to this file (src/store/postgres.rs, SCHEMA_VERSION).
CREATE TABLE IF NOT EXISTS pinger_schema (version integer NOT NULL);
DELETE FROM pinger_schema;
INSERT INTO pinger_schema (version) VALUES (6);
