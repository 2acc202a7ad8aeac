-- tests/pgtap/calendar.sql: the exchange calendar (market_status,
-- market_is_open, market_sessions) and strategies that skip closed
-- markets.
--
-- Expected values are facts from the New York Stock Exchange's published
-- holiday and early-close calendars, and weekdays worked out by hand:
--   2024-11-28 is Thanksgiving (fourth Thursday: Nov 1 is a Friday, so
--   Thursdays fall on 7, 14, 21, 28); Nov 29 closes at 13:00.
--   2026-07-04 is a Saturday: the holiday is Friday Jul 3.
--   2027-06-19 is a Saturday: Juneteenth is observed Friday Jun 18; it
--   was first a market holiday in 2022 (observed Monday Jun 20, as Jun 19
--   was a Sunday), so Friday 2021-06-18 was a session.
--   2022-01-01 is a Saturday: New Year's Day is not moved to the Friday,
--   so 2021-12-31 was a session; 2023-01-01 is a Sunday: closed Monday
--   Jan 2.
--   Good Friday 2024 is Mar 29 (Easter Mar 31).  Closures: 2012-10-29 and
--   30 (Hurricane Sandy), 2025-01-09 (Jimmy Carter).
--   Trading days published for whole years: 2001 248, 2012 250, 2018 251,
--   2020 253, 2023 250, 2024 252.
--   New York is UTC-5 in winter (EST) and UTC-4 in summer (EDT); 2024's
--   change is Mar 10, so 09:30 is 14:30 UTC on Mar 8 and 13:30 UTC on
--   Mar 11.
\ir preamble.psql
SELECT plan(81);

SELECT is((SELECT count(*)::int FROM pgtrade.market_calendar
		   WHERE calendar = 'XNYS' AND time_zone = 'America/New_York'
			 AND regular_open = '09:30' AND regular_close = '16:00'
			 AND first_day = '2000-01-01' AND last_day = '2027-12-31'), 1,
	'XNYS: New York, 09:30 to 16:00, data for 2000 through 2027');
SELECT is((SELECT calendar FROM pgtrade.instrument WHERE symbol = 'TAPX'),
	'XNYS', 'an instrument follows XNYS unless told otherwise');

-- sessions: open includes 09:30, excludes the close
SELECT is(pgtrade.market_is_open('XNYS', '2024-03-08 14:30+00'), true,
	'open at 09:30 EST on Friday 2024-03-08');
SELECT is(pgtrade.market_is_open('XNYS', '2024-03-08 14:29:59+00'), false,
	'not a second before');
SELECT is(pgtrade.market_is_open('XNYS', '2024-03-08 20:59:59+00'), true,
	'open a second before 16:00 EST');
SELECT is(pgtrade.market_is_open('XNYS', '2024-03-08 21:00+00'), false,
	'closed at 16:00 EST');
SELECT is(pgtrade.market_is_open('XNYS', '2024-03-11 13:30+00'), true,
	'after the spring change 09:30 EDT is 13:30 UTC');
SELECT is(pgtrade.market_is_open('XNYS', '2024-03-08 13:30+00'), false,
	'which before it was 08:30 EST: closed');
SELECT is((pgtrade.market_status('XNYS', '2024-03-08 13:30+00')).reason,
	'XNYS opens at 09:30 America/New_York on 2024-03-08',
	'before the open the reason says when it opens');
SELECT is(pgtrade.market_is_open('XNYS', '2024-03-09 15:00+00'), false,
	'closed on a Saturday');
SELECT is((pgtrade.market_status('XNYS', '2024-03-09 15:00+00')).reason,
	'XNYS is closed on 2024-03-09 (weekend); next session opens '
	'2024-03-11 09:30 America/New_York',
	'a weekend says so, and when the next session opens');

-- holidays, observed days, one-off closures
SELECT is((pgtrade.market_status('XNYS', '2024-11-28 15:00+00')).reason,
	'XNYS is closed on 2024-11-28 (Thanksgiving Day); next session opens '
	'2024-11-29 09:30 America/New_York',
	'Thanksgiving is closed, with its name');
SELECT is(pgtrade.market_is_open('XNYS', '2024-03-29 15:00+00'), false,
	'Good Friday 2024-03-29 is closed');
SELECT is(pgtrade.market_is_open('XNYS', '2026-07-03 15:00+00'), false,
	'Independence Day on a Saturday closes Friday 2026-07-03');
SELECT is(pgtrade.market_is_open('XNYS', '2027-06-18 15:00+00'), false,
	'Juneteenth on a Saturday closes Friday 2027-06-18');
SELECT is(pgtrade.market_is_open('XNYS', '2022-06-20 15:00+00'), false,
	'Juneteenth on a Sunday closes Monday 2022-06-20');
SELECT is(pgtrade.market_is_open('XNYS', '2021-06-18 15:00+00'), true,
	'before 2022 Juneteenth was a session');
SELECT is(pgtrade.market_is_open('XNYS', '2021-12-31 15:00+00'), true,
	'New Year''s Day on a Saturday is not moved to the Friday');
SELECT is(pgtrade.market_is_open('XNYS', '2023-01-02 15:00+00'), false,
	'New Year''s Day on a Sunday closes the Monday');
SELECT is(pgtrade.market_is_open('XNYS', '2012-10-30 15:00+00'), false,
	'closed for Hurricane Sandy');
SELECT is(pgtrade.market_is_open('XNYS', '2025-01-09 15:00+00'), false,
	'closed for the national day of mourning in 2025');

-- early closes
SELECT is(pgtrade.market_is_open('XNYS', '2024-11-29 17:59+00'), true,
	'open at 12:59 EST the day after Thanksgiving');
SELECT is(pgtrade.market_is_open('XNYS', '2024-11-29 18:00+00'), false,
	'closed from 13:00 EST that day');
SELECT is((pgtrade.market_status('XNYS', '2024-11-29 18:00+00')).reason,
	'XNYS closed at 13:00 (early close after Thanksgiving); next session '
	'opens 2024-12-02 09:30 America/New_York',
	'an early close says so');
SELECT results_eq($$SELECT day FROM pgtrade.market_sessions('XNYS',
		'2024-01-01', '2024-12-31') WHERE early_close ORDER BY day$$,
	$$VALUES ('2024-07-03'::date), ('2024-11-29'), ('2024-12-24')$$,
	'2024''s early closes: Jul 3, Nov 29, Dec 24');
SELECT is(pgtrade.market_is_open('XNYS', '2024-07-03 17:30+00'), false,
	'13:30 EDT on 2024-07-03 is after the early close');

-- whole years against the published counts
SELECT results_eq($$SELECT y, (SELECT count(*)::int FROM pgtrade.market_sessions(
		'XNYS', make_date(y, 1, 1), make_date(y, 12, 31)))
	FROM unnest(ARRAY[2001, 2012, 2018, 2020, 2023, 2024]) y$$,
	$$VALUES (2001, 248), (2012, 250), (2018, 251), (2020, 253), (2023, 250),
		(2024, 252)$$,
	'trading days a year match the published counts');
SELECT results_eq($$SELECT day, to_char(opens AT TIME ZONE 'UTC', 'HH24:MI'),
		to_char(closes AT TIME ZONE 'UTC', 'HH24:MI'), early_close, note
	FROM pgtrade.market_sessions('XNYS', '2024-11-27', '2024-12-02')$$,
	$$VALUES ('2024-11-27'::date, '14:30', '21:00', false, NULL::text),
		('2024-11-29', '14:30', '18:00', true, 'early close after Thanksgiving'),
		('2024-12-02', '14:30', '21:00', false, NULL)$$,
	'sessions list opens and closes in UTC, early closes with their note');

-- the close of the session in progress, or of the next one
SELECT is(pgtrade.market_next_close('XNYS', '2024-11-29 15:00+00'),
	'2024-11-29 18:00+00'::timestamptz, 'during the early-close day: 13:00 EST');
SELECT is(pgtrade.market_next_close('XNYS', '2024-11-29 18:00+00'),
	'2024-12-02 21:00+00'::timestamptz, 'at that close: Monday''s, 16:00 EST');
SELECT is(pgtrade.market_next_close('XNYS', '2027-12-31 21:00+00'), NULL,
	'past the last close in the data: unknown');

-- outside the data, and bad input
SELECT is((pgtrade.market_status('XNYS', '2027-12-31 22:00+00')).reason,
	'XNYS closed at 16:00; the calendar''s data ends on 2027-12-31',
	'after the last session the reason says the data ends');
SELECT is(pgtrade.market_is_open('XNYS', '2028-01-03 15:00+00'), NULL,
	'open or not is unknown outside the data');
SELECT is((pgtrade.market_status('XNYS', '2028-01-03 15:00+00')).reason,
	'calendar XNYS has no data for 2028-01-03 (it covers 2000-01-01 to 2027-12-31)',
	'and the reason says so');
SELECT throws_ok($$SELECT * FROM pgtrade.market_sessions('XNYS', '2027-12-01',
	'2028-01-31')$$, '22023',
	'calendar "XNYS" has data from 2000-01-01 to 2027-12-31, not for 2027-12-01 to 2028-01-31',
	'a list of sessions past the data is refused');
SELECT throws_ok($$SELECT * FROM pgtrade.market_sessions('XNYS', '2024-02-01',
	'2024-01-01')$$, '22023', NULL, 'a reversed range is refused');
SELECT throws_ok($$SELECT pgtrade.market_is_open('XLON', now())$$, '42704',
	'market calendar "XLON" does not exist', 'an unknown calendar is refused');
-- a calendar's name in any case, as zones are taken
SELECT is((SELECT reason FROM pgtrade.market_status('xnys',
		   '2024-11-29 14:00 America/New_York')),
	(SELECT reason FROM pgtrade.market_status('XNYS',
	 '2024-11-29 14:00 America/New_York')),
	'a calendar named in lower case is the calendar');
SELECT pgtrade.add_instrument('TAPCASE', calendar => 'xnys') \g /dev/null
SELECT is((SELECT calendar FROM pgtrade.instrument WHERE symbol = 'TAPCASE'),
	'XNYS', 'and an instrument keeps its own spelling');
SELECT is(pgtrade.add_instrument('TAPCASE', calendar => 'Xnys'),
	pgtrade.instrument_id('TAPCASE'),
	'registering it again in another case is no change');
SELECT throws_ok($$SELECT pgtrade.market_is_open('XNYS', 'infinity')$$,
	'22023', 'market_status needs a finite time, not infinity',
	'infinity is refused');
SELECT throws_ok($$SELECT pgtrade.market_is_open('XNYS', NULL)$$,
	'22004', 'market_status needs a time, not NULL', 'a NULL time is refused');
SELECT throws_ok($$SELECT pgtrade.set_instrument_calendar('TAPX', 'XLON')$$,
	'42704', 'market calendar "XLON" does not exist',
	'an instrument cannot name an unknown calendar');
SELECT throws_ok($$SELECT pgtrade.add_instrument('TAPX', calendar => 'TAPCAL')$$,
	'42704', NULL, 'nor be registered with one');
SELECT throws_ok($$SELECT pgtrade.set_instrument_calendar(NULL, 'XNYS')$$,
	'22004', 'symbol must not be NULL', 'a NULL symbol is refused');
SELECT throws_ok($$INSERT INTO pgtrade.market_calendar (calendar, description,
	time_zone, regular_open, regular_close, first_day, last_day)
	VALUES ('TAPMARS', 'x', 'Mars/Olympus', '09:00', '17:00', '2024-01-01',
	'2024-12-31')$$, '22023', 'time zone "Mars/Olympus" not recognized',
	'a calendar''s zone must be one PostgreSQL knows');

-- a calendar of one's own: a late open and a weekend session
INSERT INTO pgtrade.market_calendar (calendar, description, time_zone,
	regular_open, regular_close, first_day, last_day)
VALUES ('TAPCAL', 'pgTAP calendar', 'Europe/London', '08:00', '16:30',
	'2024-01-01', '2024-12-31');
INSERT INTO pgtrade.market_special_day VALUES
	('TAPCAL', '2024-06-03', '10:30', '16:30', 'late open'),
	('TAPCAL', '2024-06-08', '09:00', '12:00', 'Saturday session');
SELECT is((pgtrade.market_status('TAPCAL', '2024-06-03 09:00+00')).reason,
	'TAPCAL opens at 10:30 Europe/London on 2024-06-03 (late open)',
	'a late open: closed at 10:00 BST, opens 10:30');
SELECT is(pgtrade.market_is_open('TAPCAL', '2024-06-03 09:30+00'), true,
	'and open at 10:30 BST (09:30 UTC)');
SELECT is(pgtrade.market_is_open('TAPCAL', '2024-06-08 10:00+00'), true,
	'a Saturday session opens the weekend day');
SELECT is(pgtrade.market_is_open('TAPCAL', '2024-06-09 10:00+00'), false,
	'the Sunday stays closed');
SELECT lives_ok($$SELECT pgtrade.add_instrument('TAPLON', calendar => 'TAPCAL')$$,
	'an instrument may follow it');
SELECT results_eq($$SELECT time_zone, session_open, session_close
	FROM pgtrade.instrument WHERE symbol = 'TAPLON'$$,
	$$VALUES ('Europe/London'::text, '08:00'::time, '16:30'::time)$$,
	'and takes the calendar''s zone and session');
SELECT throws_ok($$SELECT pgtrade.add_instrument('TAPTKY1',
	time_zone => 'Asia/Tokyo', calendar => 'XNYS')$$, '22023',
	'instrument "TAPTKY1" in time zone Asia/Tokyo cannot follow calendar '
	'XNYS, which is in America/New_York',
	'a zone that is not the calendar''s is refused');
SELECT lives_ok($$SELECT pgtrade.add_instrument('TAPTKY2',
	time_zone => 'Asia/Tokyo')$$, 'an instrument outside New York');
SELECT is((SELECT calendar FROM pgtrade.instrument WHERE symbol = 'TAPTKY2'),
	NULL, 'does not follow XNYS unless told to');
SELECT throws_ok($$SELECT pgtrade.set_instrument_calendar('TAPTKY2', 'XNYS')$$,
	'22023', NULL, 'nor can it be made to later');
SELECT pgtrade.add_instrument('TAPUSE', time_zone => 'US/Eastern') \g /dev/null
SELECT is((SELECT calendar FROM pgtrade.instrument WHERE symbol = 'TAPUSE'),
	'XNYS', 'another name of New York''s zone follows XNYS');
SELECT throws_ok($$UPDATE pgtrade.market_calendar SET time_zone = 'Europe/Paris'
	WHERE calendar = 'TAPCAL'$$, '22023',
	'calendar TAPCAL has instruments in another time zone than Europe/Paris',
	'a calendar''s zone does not move under its instruments');
SELECT throws_ok($$SELECT pgtrade.add_instrument('TAPLON', calendar => 'XNYS',
	time_zone => 'Europe/London')$$, '22023',
	'instrument "TAPLON" is already registered with calendar TAPCAL',
	'a calendar is never changed silently');

-- strategies: a daily one runs on session days, at any hour
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low, close,
	volume)
SELECT pgtrade.instrument_id('TAPX'), '1 day',
	(d::date::timestamp AT TIME ZONE 'America/New_York'), c, c, c, c, 1000
FROM (VALUES ('2024-11-20', 10), ('2024-11-21', 10), ('2024-11-22', 10),
			 ('2024-11-25', 10), ('2024-11-26', 10), ('2024-11-27', 10),
			 ('2024-11-29', 10)) v(d, c);
SELECT pgtrade.create_strategy('tap_cal', 'sma_cross', 'TAPX', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 10) \g /dev/null
SELECT results_eq($$SELECT status, reason FROM pgtrade.run_strategy('tap_cal',
	'2024-11-28 21:35+00')$$,
	$$VALUES ('skipped', 'market closed: XNYS is closed on 2024-11-28 '
		'(Thanksgiving Day); next session opens 2024-11-29 09:30 '
		'America/New_York')$$,
	'a daily strategy skips Thanksgiving and says why');
SELECT is((SELECT s.output->>'trading_day' FROM pgtrade.workflow_step s
		   JOIN pgtrade.workflow_run r USING (run_id)
		   JOIN pgtrade.strategy t USING (strategy_id)
		   WHERE t.name = 'tap_cal' AND s.name = 'market_hours'), 'false',
	'the run''s first step records what the calendar said');
SELECT results_eq($$SELECT status, action FROM pgtrade.run_strategy('tap_cal',
	'2024-11-29 21:35+00')$$, $$VALUES ('succeeded', 'hold')$$,
	'after an early close it runs: the day had a session');
-- an intraday one runs only while the session is open
UPDATE pgtrade.strategy SET market_hours = 'open' WHERE name = 'tap_cal';
SELECT results_eq($$SELECT status, reason FROM pgtrade.run_strategy('tap_cal',
	'2024-11-29 18:30+00')$$,
	$$VALUES ('skipped', 'market closed: XNYS closed at 13:00 (early close '
		'after Thanksgiving); next session opens 2024-12-02 09:30 '
		'America/New_York')$$,
	'market_hours open skips after the early close');
-- a replay before the calendar's data is skipped, without an alert
SELECT results_eq($$SELECT status FROM pgtrade.run_strategy('tap_cal',
	'1999-06-01 21:00+00')$$, $$VALUES ('skipped'::text)$$,
	'a replay before the data is skipped');
SELECT is((SELECT count(*)::int FROM pgtrade.alert a
		   JOIN pgtrade.strategy s USING (strategy_id)
		   WHERE s.name = 'tap_cal'), 0,
	'and raises no alert: only a run of today does');

-- always, or an instrument without a calendar: runs whatever the day
UPDATE pgtrade.strategy SET market_hours = 'always' WHERE name = 'tap_cal';
SELECT results_eq($$SELECT status FROM pgtrade.run_strategy('tap_cal',
	'2024-11-28 21:35+00')$$, $$VALUES ('succeeded')$$,
	'market_hours always runs on Thanksgiving');
UPDATE pgtrade.strategy SET market_hours = NULL WHERE name = 'tap_cal';
SELECT pgtrade.set_instrument_calendar('TAPX', NULL);
SELECT results_eq($$SELECT status FROM pgtrade.run_strategy('tap_cal',
	'2024-11-28 21:40+00')$$, $$VALUES ('succeeded')$$,
	'so does a strategy on an instrument that trades at all hours');

-- an outside decision meets the market's hours too; a calendar that is
-- closed every day keeps this independent of when the suite runs
INSERT INTO pgtrade.market_calendar (calendar, description, time_zone,
	regular_open, regular_close, weekend, first_day, last_day)
VALUES ('TAPSHUT', 'never open', 'UTC', '09:00', '17:00', '{1,2,3,4,5,6,7}',
	'2000-01-01', '2099-12-31'),
	('TAPGONE', 'data ended', 'UTC', '00:00', '23:59', '{}',
	'2000-01-01', '2001-12-31');
SELECT pgtrade.add_instrument('TAPSH', calendar => 'TAPSHUT') \g /dev/null
SELECT pgtrade.create_strategy('tap_shut', 'sma_cross', 'TAPSH', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 10) \g /dev/null
SELECT results_eq($$SELECT status, action, order_id FROM
	pgtrade.submit_decision('tap_shut', 10, 'tap: buy on a closed day')$$,
	$$VALUES ('skipped'::text, NULL::text, NULL::bigint)$$,
	'an outside decision while the market is closed is skipped');
SELECT matches((SELECT error FROM pgtrade.workflow_run ORDER BY run_id DESC
				LIMIT 1), '^market closed: TAPSHUT is closed on .* \(weekend\)',
	'with the reason on its run');
SELECT is((SELECT count(*)::int FROM pgtrade.orders o
		   JOIN pgtrade.strategy s USING (strategy_id)
		   WHERE s.name = 'tap_shut'), 0, 'and no order');

-- a calendar whose data has ended stops every run, and says so once
SELECT pgtrade.add_instrument('TAPGN', calendar => 'TAPGONE') \g /dev/null
SELECT pgtrade.create_strategy('tap_gone', 'sma_cross', 'TAPGN', 'TAPACCT1',
	'{"fast": 2, "slow": 3}', 10) \g /dev/null
SELECT results_eq($$SELECT status FROM pgtrade.run_strategy('tap_gone')
	UNION ALL SELECT status FROM pgtrade.run_strategy('tap_gone')$$,
	$$VALUES ('skipped'::text), ('skipped')$$,
	'runs past the calendar''s data are skipped');
SELECT is((SELECT count(*)::int FROM pgtrade.alerts
		   WHERE kind = 'calendar_ended' AND strategy = 'tap_gone'), 1,
	'one alert says every run will stop there');

-- what ships with pgtrade changes with a release: an admin adds days and
-- calendars of their own but neither edits shipped rows nor marks rows
-- as shipped or not (pg_dump keeps exactly the rows not shipped)
CREATE ROLE tap_cal_admin IN ROLE pgtrade_admin;
SET ROLE tap_cal_admin;
SELECT lives_ok($$INSERT INTO pgtrade.market_special_day (calendar, day,
	note) VALUES ('XNYS', '2027-12-28', 'tap: closure at short notice')$$,
	'an admin adds a closure');
SELECT lives_ok($$UPDATE pgtrade.market_special_day SET note = 'tap: moved'
	WHERE calendar = 'XNYS' AND day = '2027-12-28'$$,
	'and may edit it');
SELECT throws_ok($$UPDATE pgtrade.market_special_day SET note = 'x'
	WHERE calendar = 'XNYS' AND day = '2025-01-09'$$, '42501',
	'XNYS 2025-01-09 is a day pgtrade ships: it cannot be changed or deleted',
	'an admin cannot edit a shipped day');
SELECT throws_ok($$DELETE FROM pgtrade.market_special_day
	WHERE calendar = 'XNYS' AND day = '2025-01-09'$$, '42501', NULL,
	'nor delete one');
SELECT throws_ok($$UPDATE pgtrade.market_calendar SET last_day = '2030-12-31'
	WHERE calendar = 'XNYS'$$, '42501',
	'calendar XNYS is shipped with pgtrade: it cannot be changed or deleted',
	'nor edit a shipped calendar');
SELECT throws_ok($$UPDATE pgtrade.market_special_day SET builtin = false
	WHERE calendar = 'XNYS' AND day = '2025-01-09'$$, '42501', NULL,
	'nor mark a shipped day as added');
SELECT throws_ok($$INSERT INTO pgtrade.market_special_day (calendar, day,
	note, builtin) VALUES ('XNYS', '2027-12-29', 'x', true)$$, '42501', NULL,
	'nor add a day marked as shipped');
SELECT lives_ok($$DELETE FROM pgtrade.market_special_day
	WHERE calendar = 'XNYS' AND day = '2027-12-28'$$,
	'an admin deletes a day of their own');
RESET ROLE;
SELECT lives_ok($$UPDATE pgtrade.market_special_day SET note = note
	WHERE calendar = 'XNYS' AND day = '2025-01-09'$$,
	'a superuser still may edit a shipped day');

SELECT * FROM finish();
ROLLBACK;
