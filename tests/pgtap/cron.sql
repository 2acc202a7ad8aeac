-- tests/pgtap/cron.sql: the cron functions (pgtrade.cron_next,
-- cron_matches, cron_next_n, cron_validate).
--
-- Every expected instant was worked out by hand from these calendar
-- facts (cited again next to the cases that use them):
--   2024-05-15 is a Wednesday (2024-05-01 is one: 121 days after Monday
--   2024-01-01, 121 = 17 * 7 + 2); 2024-02-29 is a Thursday; 2100 is not a
--   leap year (divisible by 100, not by 400).
--   America/New_York: EST = UTC-5, EDT = UTC-4; in 2024 the clock jumps
--   from 02:00 EST to 03:00 EDT on Mar 10 at 07:00 UTC, and goes back from
--   02:00 EDT to 01:00 EST on Nov 3 at 06:00 UTC, so local 01:00-01:59
--   happens at 05:00-05:59 UTC and again at 06:00-06:59 UTC.
--   Europe/Berlin: CET = UTC+1, CEST = UTC+2; the 2024 changes are Mar 31
--   and Oct 27 at 01:00 UTC.
--   Europe/London: GMT = UTC+0, BST = UTC+1; on 2024-03-31 at 01:00 UTC
--   the clock jumps from 01:00 GMT to 02:00 BST (local 01:00-01:59 never
--   happens); on 2024-10-27 at 01:00 UTC it goes back from 02:00 BST to
--   01:00 GMT, so local 01:00-01:59 happens at 00:00-00:59 UTC and again
--   at 01:00-01:59 UTC.  2024-03-08 is a Friday (Mar 1 is one: 60 days
--   after Monday Jan 1, 60 = 8 * 7 + 4).
\ir preamble.psql
SELECT plan(115);

-- The default zone is UTC whatever the session's: run in another one.
SET LOCAL timezone = 'Asia/Tokyo';

-- Objects: every function exists, is declared as documented and has a
-- comment.
SELECT has_function('pgtrade', 'cron_next',
                    ARRAY['text', 'timestamp with time zone', 'text'],
                    'cron_next(text, timestamptz, text) exists');
SELECT has_function('pgtrade', 'cron_matches',
                    ARRAY['text', 'timestamp with time zone', 'text'],
                    'cron_matches(text, timestamptz, text) exists');
SELECT has_function('pgtrade', 'cron_next_n',
                    ARRAY['text', 'timestamp with time zone', 'integer',
                          'text'],
                    'cron_next_n(text, timestamptz, integer, text) exists');
SELECT has_function('pgtrade', 'cron_validate', ARRAY['text'],
                    'cron_validate(text) exists');
SELECT results_eq(
    $$SELECT p.proname, p.provolatile::text, p.proisstrict,
             p.proparallel::text,
             obj_description(p.oid, 'pg_proc') IS NOT NULL
        FROM pg_proc p
       WHERE p.pronamespace = 'pgtrade'::regnamespace
         AND p.proname LIKE 'cron\_%'
       ORDER BY 1$$,
    $$VALUES ('cron_matches'::name, 's', true, 's', true),
             ('cron_next', 's', true, 's', true),
             ('cron_next_n', 's', true, 's', true),
             ('cron_validate', 'i', true, 's', true)$$,
    'cron functions: volatility, strictness, parallel safety, comments');

-- cron_next: field forms, names, day rules, macros, month ends, leap
-- years and daylight saving.  One assertion per row.
SELECT is(pgtrade.cron_next(e, a::timestamptz, z), x::timestamptz,
          lower(format('cron_next(%L, %s, %s) = %s', e, a, z, x)))
  FROM (VALUES
    -- every minute: the next whole minute, strictly after
    ('* * * * *', '2024-05-15 10:20:30+00', 'UTC', '2024-05-15 10:21+00'),
    ('* * * * *', '2024-05-15 10:20+00', 'UTC', '2024-05-15 10:21+00'),
    -- a fraction of a second after 10:04: 10:05 is still ahead
    ('5 * * * *', '2024-05-15 10:04:59.5+00', 'UTC', '2024-05-15 10:05+00'),
    -- minute 5 has passed at 10:20: 11:05
    ('5 * * * *', '2024-05-15 10:20+00', 'UTC', '2024-05-15 11:05+00'),
    -- list, range, steps: 0,30; 10-12; 0,15,30,45; 10..50 by 10; 5..55
    ('0,30 * * * *', '2024-05-15 10:30+00', 'UTC', '2024-05-15 11:00+00'),
    ('10-12 * * * *', '2024-05-15 10:12+00', 'UTC', '2024-05-15 11:10+00'),
    ('*/15 * * * *', '2024-05-15 10:45+00', 'UTC', '2024-05-15 11:00+00'),
    ('10-50/10 * * * *', '2024-05-15 10:31+00', 'UTC', '2024-05-15 10:40+00'),
    ('5/10 * * * *', '2024-05-15 10:56+00', 'UTC', '2024-05-15 11:05+00'),
    -- hours 9, 13, 17: after 17:00 the next day's 09:00
    ('0 9-17/4 * * *', '2024-05-15 17:00+00', 'UTC', '2024-05-16 09:00+00'),
    -- April has 30 days: the next 31st is May 31
    ('0 0 31 * *', '2024-04-01 00:00+00', 'UTC', '2024-05-31 00:00+00'),
    -- Feb 29: none in 2025-2027, and none in 2100
    ('0 0 29 2 *', '2024-03-01 00:00+00', 'UTC', '2028-02-29 00:00+00'),
    ('0 0 29 2 *', '2096-03-01 00:00+00', 'UTC', '2104-02-29 00:00+00'),
    -- names in any case; January has passed on Feb 1
    ('0 12 * jan,JUL *', '2024-02-01 00:00+00', 'UTC', '2024-07-01 12:00+00'),
    -- Friday 2024-05-17 noon: next weekday noon is Monday the 20th
    ('0 12 * * Mon-fri', '2024-05-17 12:00+00', 'UTC', '2024-05-20 12:00+00'),
    -- Sunday as 7 and as sun: from Wednesday 15th, Sunday 19th
    ('0 8 * * 7', '2024-05-15 00:00+00', 'UTC', '2024-05-19 08:00+00'),
    ('0 8 * * sun', '2024-05-15 00:00+00', 'UTC', '2024-05-19 08:00+00'),
    -- both day fields restricted: 13th (Tuesday Aug 13) or any Friday
    ('0 0 13 * 5', '2024-08-10 00:00+00', 'UTC', '2024-08-13 00:00+00'),
    -- day of month begins with '*': odd days AND Fridays (Aug 23)
    ('0 0 */2 * 5', '2024-08-10 00:00+00', 'UTC', '2024-08-23 00:00+00'),
    -- macros, from Wednesday 2024-05-15 10:20
    ('@yearly', '2024-05-15 10:20+00', 'UTC', '2025-01-01 00:00+00'),
    ('@monthly', '2024-05-15 10:20+00', 'UTC', '2024-06-01 00:00+00'),
    ('@weekly', '2024-05-15 10:20+00', 'UTC', '2024-05-19 00:00+00'),
    ('@daily', '2024-05-15 10:20+00', 'UTC', '2024-05-16 00:00+00'),
    ('@hourly', '2024-05-15 10:20+00', 'UTC', '2024-05-15 11:00+00'),
    -- New York, ordinary day: 02:30 EST is 07:30 UTC
    ('30 2 * * *', '2024-03-08 12:00+00', 'America/New_York',
     '2024-03-09 07:30+00'),
    -- fixed-time in the spring gap: once, at the transition (03:00 EDT)
    ('30 2 * * *', '2024-03-09 12:00+00', 'America/New_York',
     '2024-03-10 07:00+00'),
    ('30 2 * * *', '2024-03-10 07:00+00', 'America/New_York',
     '2024-03-11 06:30+00'),
    -- wildcard in the gap: 02:30 skipped, 03:30 EDT
    ('30 * * * *', '2024-03-10 06:30+00', 'America/New_York',
     '2024-03-10 07:30+00'),
    -- fixed-time in the overlap: the first 01:30 (EDT) only
    ('30 1 * * *', '2024-11-03 00:00+00', 'America/New_York',
     '2024-11-03 05:30+00'),
    ('30 1 * * *', '2024-11-03 05:30+00', 'America/New_York',
     '2024-11-04 06:30+00'),
    -- wildcard in the overlap: the second 01:30 (EST) too
    ('30 * * * *', '2024-11-03 05:30+00', 'America/New_York',
     '2024-11-03 06:30+00'),
    -- Berlin: 02:30 skipped on Mar 31 runs at 03:00 CEST
    ('30 2 * * *', '2024-03-30 12:00+00', 'Europe/Berlin',
     '2024-03-31 01:00+00'),
    -- Berlin: the first 02:30 on Oct 27 is CEST, then Oct 28 CET
    ('30 2 * * *', '2024-10-26 12:00+00', 'Europe/Berlin',
     '2024-10-27 00:30+00'),
    ('30 2 * * *', '2024-10-27 00:30+00', 'Europe/Berlin',
     '2024-10-28 01:30+00'),
    -- London, spring: 01:30 never happens on Mar 31; fixed-time runs
    -- once at the first minute after the jump (02:00 BST), then daily
    ('30 1 * * *', '2024-03-30 12:00+00', 'Europe/London',
     '2024-03-31 01:00+00'),
    ('30 1 * * *', '2024-03-31 01:00+00', 'Europe/London',
     '2024-04-01 00:30+00'),
    -- wildcard hour in the gap: 01:15 is skipped, 02:15 BST comes next
    ('15 * * * *', '2024-03-31 00:30+00', 'Europe/London',
     '2024-03-31 01:15+00'),
    -- London, autumn: fixed-time runs at the first 01:30 (BST) only
    ('30 1 * * *', '2024-10-26 12:00+00', 'Europe/London',
     '2024-10-27 00:30+00'),
    ('30 1 * * *', '2024-10-27 00:30+00', 'Europe/London',
     '2024-10-28 01:30+00'),
    -- wildcard in the overlap: the second 01:30 (GMT) too
    ('30 * * * *', '2024-10-27 00:30+00', 'Europe/London',
     '2024-10-27 01:30+00'),
    -- month end in London summer time: no April 31, so May 31 09:00 BST
    ('0 9 31 * *', '2024-04-01 00:00+00', 'Europe/London',
     '2024-05-31 08:00+00'),
    -- a weekday schedule across a weekend and New York's spring change:
    -- after Friday Mar 8 16:40 EST, Monday Mar 11 16:35 EDT
    ('35 16 * * MON-FRI', '2024-03-08 21:40+00', 'America/New_York',
     '2024-03-11 20:35+00'),
    -- zone names in any case, as PostgreSQL accepts them
    ('0 9 * * *', '2024-05-15 00:00+00', 'america/new_york',
     '2024-05-15 13:00+00')
  ) AS v(e, a, z, x);

-- The default zone is UTC, not the session's (Asia/Tokyo, UTC+9).
SELECT is(pgtrade.cron_next('0 9 * * *', '2024-05-15 00:00+00'),
          '2024-05-15 09:00+00'::timestamptz,
          'cron_next defaults to utc');
SELECT is(pgtrade.cron_matches('0 9 * * *', '2024-05-15 09:00+00'), true,
          'cron_matches defaults to utc');

-- Never matching: no Feb 30 (with a star day of week the days are
-- AND-ed), no 31st in April, June, September, November.
SELECT is(pgtrade.cron_next('0 0 30 2 *', '2024-05-15 00:00+00'), NULL,
          'cron_next is null for february 30');
SELECT is(pgtrade.cron_next('0 0 31 4,6,9,11 *', '2024-05-15 00:00+00',
                            'America/New_York'), NULL,
          'cron_next is null for the 31st of a 30-day month');
SELECT is(pgtrade.cron_next('* * 31 2 *', '2024-05-15 00:00+00',
                            'America/New_York'), NULL,
          'cron_next is null for a never-matching wildcard');
-- but Feb 30 OR Monday matches: Feb 1 2025 is a Saturday, so Feb 3
SELECT is(pgtrade.cron_next('0 0 30 2 1', '2024-05-15 00:00+00'),
          '2025-02-03 00:00+00'::timestamptz,
          'cron_next ors february 30 with mondays');
SELECT is(pgtrade.cron_next('@daily', 'infinity'), NULL,
          'cron_next is null after infinity');
-- timestamptz ends at 294276-12-31 23:59:59.999999 UTC: no run after it
SELECT is(pgtrade.cron_next('* * * * *', '294276-12-31 23:59:00+00', 'UTC'),
          NULL, 'cron_next is null when the next run is past timestamptz''s end');
SELECT is(pgtrade.cron_next('* * * * *', '294276-12-31 23:58:00+00', 'UTC'),
          '294276-12-31 23:59:00+00'::timestamptz,
          'the last minute of the range is still a run');
SELECT is(ARRAY(SELECT pgtrade.cron_next_n('0 0 1 1,12 *',
                '294276-06-01 00:00+00', 5, 'UTC')),
          '{"294276-12-01 00:00:00+00"}'::timestamptz[],
          'cron_next_n stops at the end of the range');
SELECT is(pgtrade.cron_next(NULL, now()), NULL,
          'cron_next is null for a null expression');

-- cron_matches at chosen instants.
SELECT is(pgtrade.cron_matches(e, a::timestamptz, z), x,
          lower(format('cron_matches(%L, %s, %s) is %s', e, a, z, x)))
  FROM (VALUES
    -- the spring-gap run at 03:00 EDT counts; 03:30 EDT is not 02:30
    ('30 2 * * *', '2024-03-10 07:00+00', 'America/New_York', true),
    ('30 2 * * *', '2024-03-10 07:30+00', 'America/New_York', false),
    -- the first 01:30 of Nov 3 (EDT) matches, the second (EST) does not
    ('30 1 * * *', '2024-11-03 05:30+00', 'America/New_York', true),
    ('30 1 * * *', '2024-11-03 06:30+00', 'America/New_York', false),
    -- a wildcard matches the second one
    ('30 * * * *', '2024-11-03 06:30+00', 'America/New_York', true),
    -- only whole minutes match
    ('0 * * * *', '2024-05-15 10:00+00', 'UTC', true),
    ('0 * * * *', '2024-05-15 10:00:30+00', 'UTC', false),
    ('0 * * * *', '2024-05-15 10:00:00.001+00', 'UTC', false),
    -- 2024-02-29 is a Thursday
    ('0 0 * * thu', '2024-02-29 00:00+00', 'UTC', true),
    ('0 0 * * fri', '2024-02-29 00:00+00', 'UTC', false),
    -- never-matching expressions and infinite instants do not match
    ('0 0 30 2 *', '2024-02-29 00:00+00', 'UTC', false),
    ('@daily', 'infinity', 'UTC', false),
    ('@daily', '-infinity', 'UTC', false)
  ) AS v(e, a, z, x);

-- The identity cron_matches(e, t, z) = (cron_next(e, t - 1 min, z) = t)
-- minute by minute across both New York change days (local day plus an
-- hour either side), and every 20 seconds across Berlin's fall-back.
SELECT is((SELECT count(*)
             FROM generate_series(f::timestamptz, u::timestamptz, s::interval)
                  AS g(t)
            WHERE pgtrade.cron_matches(e, t, z) IS DISTINCT FROM
                  coalesce(pgtrade.cron_next(e, t - interval '1 minute', z)
                           = t, false)),
          0::bigint,
          lower(format('cron_matches agrees with cron_next for %L in %s '
                       'from %s', e, z, f)))
  FROM (VALUES
    ('30 2 * * *', 'America/New_York', '2024-03-10 04:00+00',
     '2024-03-11 05:00+00', '1 minute'),
    ('*/10 * * * *', 'America/New_York', '2024-03-10 04:00+00',
     '2024-03-11 05:00+00', '1 minute'),
    ('0 0-23 * * *', 'America/New_York', '2024-03-10 04:00+00',
     '2024-03-11 05:00+00', '1 minute'),
    ('30 1 * * *', 'America/New_York', '2024-11-03 03:00+00',
     '2024-11-04 06:00+00', '1 minute'),
    ('*/10 * * * *', 'America/New_York', '2024-11-03 03:00+00',
     '2024-11-04 06:00+00', '1 minute'),
    ('0,30 1-2 * * *', 'America/New_York', '2024-11-03 03:00+00',
     '2024-11-04 06:00+00', '1 minute'),
    ('*/5 2 * * *', 'Europe/Berlin', '2024-10-26 23:00+00',
     '2024-10-27 03:00+00', '20 seconds')
  ) AS v(e, z, f, u, s);

-- Runs in one local day, counted with cron_matches.  New York's Mar 10
-- is 05:00 UTC Mar 10 to 03:59 UTC Mar 11 (23 hours); Nov 3 is 04:00 UTC
-- Nov 3 to 04:59 UTC Nov 4 (25 hours).
SELECT is((SELECT count(*)
             FROM generate_series(f::timestamptz, u::timestamptz,
                                  '1 minute') AS g(t)
            WHERE pgtrade.cron_matches(e, t, 'America/New_York')),
          n::bigint,
          lower(format('%L runs %s times in new york from %s', e, n, f)))
  FROM (VALUES
    -- wildcard hourly: one run per local hour, 23 and 25
    ('0 * * * *', '2024-03-10 05:00+00', '2024-03-11 03:59+00', 23),
    ('0 * * * *', '2024-11-03 04:00+00', '2024-11-04 04:59+00', 25),
    -- fixed-time 00-23: on Mar 10 the skipped 02:00 runs at the jump,
    -- which is also 03:00, so 00, 01, 02/03, 04..23 = 23 runs; on Nov 3
    -- each hour once = 24
    ('0 0-23 * * *', '2024-03-10 05:00+00', '2024-03-11 03:59+00', 23),
    ('0 0-23 * * *', '2024-11-03 04:00+00', '2024-11-04 04:59+00', 24),
    -- four an hour: 4 * 23 and 4 * 25
    ('*/15 * * * *', '2024-03-10 05:00+00', '2024-03-11 03:59+00', 92),
    ('*/15 * * * *', '2024-11-03 04:00+00', '2024-11-04 04:59+00', 100)
  ) AS v(e, f, u, n);

-- The exact minutes matched around the changes.
SELECT results_eq(
    $$SELECT t FROM generate_series('2024-03-10 04:00+00'::timestamptz,
                                    '2024-03-11 05:00+00', '1 minute') g(t)
       WHERE pgtrade.cron_matches('0,30 2 * * *', t, 'America/New_York')$$,
    $$VALUES ('2024-03-10 07:00+00'::timestamptz)$$,
    'two skipped times run once at the spring jump');
SELECT results_eq(
    $$SELECT t FROM generate_series('2024-11-03 03:00+00'::timestamptz,
                                    '2024-11-04 05:00+00', '1 minute') g(t)
       WHERE pgtrade.cron_matches('*/20 1 * * *', t, 'America/New_York')$$,
    -- 01:00, 01:20, 01:40 as EDT (05:xx UTC), then again as EST (06:xx)
    $$VALUES ('2024-11-03 05:00+00'::timestamptz), ('2024-11-03 05:20+00'),
             ('2024-11-03 05:40+00'), ('2024-11-03 06:00+00'),
             ('2024-11-03 06:20+00'), ('2024-11-03 06:40+00')$$,
    'a wildcard runs twice through the repeated hour');

-- cron_next_n.
SELECT results_eq(
    $$SELECT * FROM pgtrade.cron_next_n('30 1 * * *', '2024-11-01 00:00+00',
                                        4, 'America/New_York')$$,
    -- 01:30 EDT on Nov 1, 2, 3 (05:30 UTC), then 01:30 EST (06:30 UTC)
    $$VALUES ('2024-11-01 05:30+00'::timestamptz), ('2024-11-02 05:30+00'),
             ('2024-11-03 05:30+00'), ('2024-11-04 06:30+00')$$,
    'cron_next_n lists runs across the fall-back');
SELECT results_eq(
    $$SELECT * FROM pgtrade.cron_next_n('0 0 29 2 *',
                                        '2024-01-01 00:00+00', 3)$$,
    $$VALUES ('2024-02-29 00:00+00'::timestamptz), ('2028-02-29 00:00+00'),
             ('2032-02-29 00:00+00')$$,
    'cron_next_n lists leap days');
SELECT is_empty(
    $$SELECT * FROM pgtrade.cron_next_n('0 0 30 2 *', now(), 5)$$,
    'cron_next_n returns no rows for a never-matching expression');
SELECT is_empty(
    $$SELECT * FROM pgtrade.cron_next_n('@daily', now(), 0)$$,
    'cron_next_n returns no rows for a count of zero');

-- Errors: SQLSTATE and message.
SELECT throws_ok($$SELECT pgtrade.cron_next('0 24 * * *', now())$$,
                 '22023', 'invalid cron expression "0 24 * * *"',
                 'cron_next refuses an hour of 24');
SELECT throws_ok($$SELECT pgtrade.cron_matches('', now())$$,
                 '22023', 'invalid cron expression ""',
                 'cron_matches refuses an empty expression');
SELECT throws_ok($$SELECT pgtrade.cron_validate('@reboot')$$,
                 '22023', 'invalid cron expression "@reboot"',
                 'cron_validate refuses @reboot');
SELECT throws_ok($$SELECT * FROM pgtrade.cron_next_n('* * * *', now(), 1)$$,
                 '22023', 'invalid cron expression "* * * *"',
                 'cron_next_n refuses four fields');
SELECT throws_ok($$SELECT pgtrade.cron_next('@daily', now(), 'Mars/Olympus')$$,
                 '22023', 'time zone "Mars/Olympus" not recognized',
                 'cron_next refuses an unknown time zone');
SELECT throws_ok($$SELECT pgtrade.cron_matches('@daily', now(), '')$$,
                 '22023', 'time zone "" not recognized',
                 'cron_matches refuses an empty time zone');
SELECT throws_ok($$SELECT * FROM pgtrade.cron_next_n('@daily', now(), -1)$$,
                 '22023', 'count must not be negative',
                 'cron_next_n refuses a negative count');
SELECT throws_ok($$SELECT pgtrade.cron_next('@daily', '-infinity')$$,
                 '22008', 'timestamp out of range',
                 'cron_next refuses -infinity');
-- the next Jan 1 after mid-294276 lies past the end of timestamptz
SELECT is(pgtrade.cron_next('@yearly', '294276-06-01+00'), NULL,
          'cron_next has no run past the end of timestamptz');
SELECT lives_ok($$SELECT pgtrade.cron_validate('*/5 9-17 * jan-jun mon-fri')$$,
                'cron_validate accepts a valid expression');

-- Errors: the detail names the field and the position.
CREATE FUNCTION pg_temp.cron_error(p_expr text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_detail text;
BEGIN
    PERFORM pgtrade.cron_validate(p_expr);
    RETURN 'valid';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE,
                            v_detail = PG_EXCEPTION_DETAIL;
    RETURN v_state || ' ' || v_detail;
END $$;

SELECT is(pg_temp.cron_error(e), '22023 ' || d,
          lower(format('cron_validate(%L) explains the error', e)))
  FROM (VALUES
    ('', 'The expression is empty.'),
    ('* * * * * *', 'Expected 5 fields (minute, hour, day of month, month, '
                    'day of week) but found 6.'),
    ('1,,2 * * * *',
     'Field "minute" has an empty list element at position 3.'),
    ('0 24 * * *', 'Field "hour" value 24 at position 3 is out of range 0-23.'),
    ('0 0 0 * *',
     'Field "day of month" value 0 at position 5 is out of range 1-31.'),
    ('0 0 * 13 *',
     'Field "month" value 13 at position 7 is out of range 1-12.'),
    ('0 0 * * 8',
     'Field "day of week" value 8 at position 9 is out of range 0-7.'),
    ('5-3 * * * *', 'Field "minute" range 5-3 at position 1 is reversed.'),
    ('*/0 * * * *',
     'Field "minute" step 0 at position 3 is out of range 1-59.'),
    ('5x * * * *', 'Field "minute" has unexpected text "x" at position 2.'),
    ('0 0 * jnu *',
     'Field "month" value "jnu" at position 7 is not a month name.'),
    ('0 mon * * *', 'Field "hour" value "mon" at position 3 is not a number.'),
    ('*/ * * * *', 'Field "minute" expects a step number at position 3.'),
    ('@daily now',
     'Unexpected text "now" at position 8 after macro "@daily".')
  ) AS v(e, d);

SELECT * FROM finish();
ROLLBACK;
