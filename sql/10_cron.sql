--
-- Cron schedules: five-field expressions evaluated in a time zone.
--
-- The parser and the search are pgtrade's own C code (extension/src/cron.c;
-- the syntax and the daylight-saving rule are stated in cron.h).  pg_cron
-- 1.4 schedules only in UTC; these functions let a strategy run on local
-- market time.  They depend on the tz database, which a system update can
-- change, so they are STABLE rather than IMMUTABLE; cron_validate reads no
-- time zone and is IMMUTABLE.
--

CREATE FUNCTION pgtrade.cron_next(expr text, after timestamptz,
                                  tz text DEFAULT 'UTC')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pgtrade_cron_next'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.cron_next(text, timestamptz, text) IS
'First run of the cron expression strictly after "after", in time zone tz '
'(a tz database name, default UTC); NULL when the expression never matches. '
'Runs fall on whole minutes of local time. Fixed-time expressions (neither '
'minute nor hour begins with "*") run a local time skipped by a '
'daylight-saving gap once, at the end of the gap, and a repeated local time '
'only at its first occurrence; wildcard expressions follow the wall clock, '
'skipping the gap and running twice in the overlap, as ISC cron does. '
'Raises 22023 for an invalid expression or an unknown time zone.';

CREATE FUNCTION pgtrade.cron_matches(expr text, at timestamptz,
                                     tz text DEFAULT 'UTC')
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgtrade_cron_matches'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.cron_matches(text, timestamptz, text) IS
'Whether the cron expression runs at instant "at" in time zone tz: exactly '
'when pgtrade.cron_next(expr, at - interval ''1 minute'', tz) = at; false '
'when the expression never matches. Raises 22023 for an invalid expression '
'or an unknown time zone.';

CREATE FUNCTION pgtrade.cron_next_n(expr text, after timestamptz,
                                    count integer, tz text DEFAULT 'UTC')
RETURNS SETOF timestamptz
AS 'MODULE_PATHNAME', 'pgtrade_cron_next_n'
LANGUAGE C STABLE STRICT PARALLEL SAFE
ROWS 10;

COMMENT ON FUNCTION pgtrade.cron_next_n(text, timestamptz, integer, text) IS
'The next "count" runs of the cron expression strictly after "after", in '
'time zone tz, in order: each is pgtrade.cron_next of the one before. '
'Fewer rows when the expression never matches. Raises 22023 for an invalid '
'expression, an unknown time zone or a negative count.';

CREATE FUNCTION pgtrade.cron_validate(expr text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgtrade_cron_validate'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.cron_validate(text) IS
'Checks a cron expression: five fields (minute 0-59, hour 0-23, day of '
'month 1-31, month 1-12 or jan-dec, day of week 0-7 or sun-sat, 0 and 7 '
'being Sunday) of lists, ranges and steps, or one of @yearly, @annually, '
'@monthly, @weekly, @daily, @midnight, @hourly. Returns nothing when valid; '
'raises 22023 with the field and position at fault in the detail otherwise.';
