-- bad_input.sql: malformed bars, invalid cron expressions, unknown
-- strategy kinds and bad params each fail with a clear message and a
-- proper SQLSTATE, and leave every pgtrade table exactly as it was.
\ir preamble.psql
SELECT plan(89);

CREATE TEMP TABLE tap_counts_before AS
SELECT c.relname, (xpath('/row/n/text()', query_to_xml(
	format('SELECT count(*) AS n FROM pgtrade.%I', c.relname), false, true,
	'')))[1]::text::bigint AS n
FROM pg_class c
WHERE c.relnamespace = 'pgtrade'::regnamespace AND c.relkind = 'r';

CREATE TEMP TABLE tap_bars (line bigserial, symbol text, ts text,
	open float8, high float8, low float8, close float8, volume float8);
CREATE FUNCTION pg_temp.load(p_rows text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	TRUNCATE tap_bars RESTART IDENTITY;
	EXECUTE 'INSERT INTO tap_bars (symbol, ts, open, high, low, close, volume) VALUES '
		|| p_rows;
	RETURN pgtrade.import_bars('tap_bars');
END $$;

-- each batch has one good row first: nothing of it may be written
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '2024-01-03', 10, 9, 11, 10, 100)$r$)$$,
	'23514', 'bar on line 2 has high below low', 'high below low is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '2024-01-03', 'NaN', 11, 9, 10, 100)$r$)$$,
	'23514', 'bar on line 2 has a price that is not a finite number',
	'a NaN price is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '2024-01-03', 10, 'Infinity', 9, 10, 100)$r$)$$,
	'23514', 'bar on line 2 has a price that is not a finite number',
	'an infinite price is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '2024-01-03', 10, 11, 9, 10, -1)$r$)$$,
	'23514', 'bar on line 2 has a negative or invalid volume',
	'a negative volume is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-03', 10, 11, 9, 10, 100),
	('TAPX', '2024-01-02', 10, 11, 9, 10, 100)$r$)$$,
	'22023', 'bars for "TAPX" are not in increasing time order',
	'time going backwards is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '2024-01-02', 10, 11, 9, 10, 100)$r$)$$,
	'22023', 'bars for "TAPX" are not in increasing time order',
	'a repeated time is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '2024-13-45', 10, 11, 9, 10, 100)$r$)$$,
	'22007', 'bar on line 2 has an invalid time "2024-13-45"',
	'an impossible date is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', 'yesterday-ish', 10, 11, 9, 10, 100)$r$)$$,
	'22007', 'bar on line 2 has time "yesterday-ish", not a date (YYYY-MM-DD) as daily bars need',
	'a malformed time is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '01/03/2024', 10, 11, 9, 10, 100)$r$)$$,
	'22007', NULL, 'a date that is not ISO 8601 is refused (no DateStyle guessing)');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '2024-01-03T09:30:00-05:00', 10, 11, 9, 10, 100)$r$)$$,
	'22007', NULL, 'a timestamp in a daily batch is refused (wrong bar size)');
SELECT throws_ok($$TRUNCATE tap_bars RESTART IDENTITY;
	INSERT INTO tap_bars (symbol, ts, open, high, low, close, volume)
	VALUES ('TAPX', '2024-01-03T09:30:00', 10, 11, 9, 10, 100);
	SELECT pgtrade.import_bars('tap_bars', '1 minute')$$,
	'22007', NULL, 'an intraday timestamp without its offset is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '2024-01-03', 0, 11, 9, 10, 100)$r$)$$,
	'23514', 'bar on line 2 has a price that is not positive',
	'a zero price is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '2099-01-05', 10, 11, 9, 10, 100)$r$)$$,
	'22023', 'bar on line 2 starts in the future (2099-01-05)',
	'a bar from the future is refused');
SELECT throws_ok($$TRUNCATE tap_bars RESTART IDENTITY;
	INSERT INTO tap_bars (symbol, ts, open, high, low, close, volume)
	VALUES ('TAPX', '2024-01-03T09:31:17-05:00', 10, 11, 9, 10, 100);
	SELECT pgtrade.import_bars('tap_bars', '1 minute')$$,
	'22007', 'bar on line 1 does not start on a whole minute (2024-01-03T09:31:17-05:00)',
	'a minute bar off the whole minute is refused');
SELECT throws_ok($$SELECT pgtrade.add_instrument(' TAPX')$$, '23514', NULL,
	'a symbol with a leading space is refused');
SELECT throws_ok($$SELECT pgtrade.add_instrument('TAPSEC', sec_type => 'stock')$$,
	'22023', 'sec_type must be an IBKR security type such as STK, not "stock"',
	'a security type IBKR does not know is refused');
SELECT throws_ok($$SELECT pgtrade.add_instrument('TAPSEC', currency => 'usd')$$,
	'22023', 'currency must be an ISO 4217 code such as USD, not "usd"',
	'a currency not in capitals is refused');
SELECT throws_ok($$SELECT pgtrade.add_instrument('TAPSEC', sec_type => NULL)$$,
	'22023', 'sec_type must be an IBKR security type such as STK, not NULL',
	'a NULL security type is refused');
SELECT throws_ok($$SELECT pgtrade.add_instrument('TAPX', sec_type => 'OPT')$$,
	'23505', 'symbol "TAPX" is already registered, as STK on SMART in USD',
	'a second instrument with a symbol already used is refused: it would '
	'make every function that takes the symbol refuse both');
SELECT throws_ok($$SELECT pgtrade.import_bars('tap_bars', '1 mon')$$,
	'22023', 'bar size 1 mon is not supported', 'a monthly bar size is refused');
SELECT throws_ok($$SELECT pgtrade.import_bars(NULL)$$, '22004',
	'import_bars needs a source table, not NULL', 'a NULL source is named');
CREATE TEMP TABLE tap_novol (symbol text, ts text, open float8, high float8,
	low float8, close float8);
SELECT throws_ok($$SELECT pgtrade.import_bars('tap_novol')$$, '42703',
	'tap_novol has no column volume',
	'a source without a column is refused, naming it');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('NOPE', '2024-01-03', 10, 11, 9, 10, 100)$r$)$$,
	'23503', 'instrument "NOPE" does not exist', 'an unknown symbol is refused');
SELECT throws_ok($$SELECT pg_temp.load($r$('TAPX', '2024-01-02', 10, 11, 9, 10, 100),
	('TAPX', '2024-01-03', 10, NULL, 9, 10, 100)$r$)$$,
	'23502', 'bar on line 2 has an empty field', 'an empty field is refused');
SELECT throws_ok($$INSERT INTO pgtrade.bar VALUES (pgtrade.instrument_id('TAPX'),
	'1 day', '2024-01-02', 10, 9, 11, 10, 1)$$, '23514', NULL,
	'a direct insert of high below low meets the check constraint');

-- strategies: invalid cron, unknown kind, bad params, bad time zone
-- a NULL schedule or zone is named as a NULL; a zone in any case is kept
-- as pg_timezone_names spells it
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10, schedule => NULL)$$, '22004',
	'a strategy''s schedule must not be NULL', 'a NULL schedule is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10, time_zone => NULL)$$, '22004',
	'a strategy''s time_zone must not be NULL', 'a NULL zone is refused');
SELECT throws_ok($q$DO $do$ BEGIN
		PERFORM pgtrade.create_strategy('tap_tz', 'sma_cross', 'TAPX',
			'TAPACCT1', '{"fast": 2, "slow": 3}', 10,
			time_zone => 'EUROPE/london');
		RAISE EXCEPTION '%', (SELECT s.time_zone FROM pgtrade.strategy s
							  WHERE s.name = 'tap_tz');
	END $do$$q$, 'P0001', 'Europe/London',
	'a zone given in another case is kept as PostgreSQL spells it');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10, time_zone => 'Europe/Londres')$$,
	'22023', 'time zone "Europe/Londres" not recognized',
	'an unknown zone is refused, named');
-- a grace under a minute would record every run pg_cron starts as missed
SELECT throws_ok($q$DO $do$ BEGIN
		PERFORM pgtrade.create_strategy('tap_gr', 'sma_cross', 'TAPX',
			'TAPACCT1', '{"fast": 2, "slow": 3}', 10);
		UPDATE pgtrade.strategy SET grace = '30 seconds' WHERE name = 'tap_gr';
	END $do$$q$, '23514',
	'grace must be at least 1 minute, not 00:00:30: pg_cron starts a run a '
	'little after its slot', 'a grace under a minute is refused');
-- a NULL or a value the table's checks refuse is named, not the row
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', NULL)$$, '22004',
	'a strategy''s quantity must not be NULL', 'a NULL quantity is named');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', NULL, 10)$$, '22004',
	'a strategy''s params must not be NULL', 'NULL params are named');
SELECT throws_ok($$SELECT pgtrade.add_account(NULL)$$, '22004',
	'add_account needs an account_id, not NULL', 'add_account: NULL is named');
SELECT throws_ok($$SELECT pgtrade.add_account(' DU1 ')$$, '22023',
	'account id " DU1 " is not 1 to 32 letters, digits, _ or -',
	'add_account: a malformed id is named');
SELECT throws_ok($$SELECT pgtrade.add_instrument('tapx')$$, '23505',
	'symbol "tapx" differs only in case from "TAPX", already registered',
	'add_instrument: the same symbol in another case is refused');
-- NaN sorts above every number: a limit offset must be finite
SELECT throws_ok($q$DO $do$ BEGIN
		PERFORM pgtrade.create_strategy('tap_lo', 'sma_cross', 'TAPX',
			'TAPACCT1', '{"fast": 2, "slow": 3}', 10);
		UPDATE pgtrade.strategy SET order_type = 'limit',
			limit_offset = 'NaN' WHERE name = 'tap_lo';
	END $do$$q$, '23514',
	'limit offset must be a finite number, not negative, not NaN',
	'a NaN limit offset is refused');
SELECT throws_ok($q$DO $do$ BEGIN
		PERFORM pgtrade.create_strategy('tap_lo', 'sma_cross', 'TAPX',
			'TAPACCT1', '{"fast": 2, "slow": 3}', 10);
		UPDATE pgtrade.strategy SET limit_offset = 'Infinity'
		WHERE name = 'tap_lo';
	END $do$$q$, '23514', NULL, 'an infinite limit offset is refused');
SELECT throws_ok($$SELECT pgtrade.place_order(NULL, 'TAPX', 'buy', 1)$$,
	'22004', 'place_order needs account_id, not NULL',
	'place_order: a NULL account is named');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', NULL, 'buy', 1)$$,
	'22004', 'place_order needs symbol, not NULL',
	'place_order: a NULL symbol is named');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy',
	NULL)$$, '22004', 'place_order needs quantity, not NULL',
	'place_order: a NULL quantity is named');
CREATE FUNCTION pg_temp.hint_of(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_hint text;
BEGIN
	EXECUTE p_sql;
	RETURN NULL;
EXCEPTION WHEN undefined_object THEN
	GET STACKED DIAGNOSTICS v_hint = PG_EXCEPTION_HINT;
	RETURN v_hint;
END $$;
SELECT is(pg_temp.hint_of($$SELECT pgtrade.place_order('TAPACCT1', 'tapx',
	'buy', 1)$$), 'Symbols match case: did you mean "TAPX"?',
	'a symbol in the wrong case is pointed to the right one');
SELECT is(pg_temp.hint_of($$SELECT pgtrade.place_order('TAPACCT1', 'NOSUCH',
	'buy', 1)$$), 'Add it with pgtrade.add_instrument().',
	'an unknown symbol is pointed to add_instrument');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10, bar_size => '90 seconds')$$,
	'23514', 'bar size must be 1 day or whole minutes under a day, not 00:01:30',
	'a bar size of 90 seconds is refused, named');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10, market_hours => 'sometimes')$$,
	'23514',
	'market_hours must be open, trading_day or always, not ''sometimes''',
	'an unknown market_hours is refused, named');
SELECT throws_ok($$SELECT pgtrade.create_strategy('', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10)$$, '23514',
	'strategy name '''' must be 1 to 63 of A-Z a-z 0-9 _ . -',
	'an empty name is refused with the rule');
-- a name is 1 to 63 of A-Z a-z 0-9 _ . -
SELECT throws_ok($q$DO $do$ BEGIN
		PERFORM pgtrade.create_strategy(repeat('a', 62) || '.', 'sma_cross',
			'TAPX', 'TAPACCT1', '{"fast": 2, "slow": 3}', 10);
		RAISE EXCEPTION 'created';
	END $do$$q$, 'P0001', 'created', 'a name of 63 characters is taken');
SELECT throws_ok($$SELECT pgtrade.create_strategy(repeat('a', 64), 'sma_cross',
	'TAPX', 'TAPACCT1', '{"fast": 2, "slow": 3}', 10)$$, '23514', NULL,
	'a name of 64 characters is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10)$$, '23514', NULL,
	'an empty name is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10)$$, '23514', NULL,
	'a name with a space is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy(E'tap_s\n', 'sma_cross',
	'TAPX', 'TAPACCT1', '{"fast": 2, "slow": 3}', 10)$$, '23514', NULL,
	'a name ending in a newline is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10, '61 * * * *')$$, '22023',
	NULL, 'an invalid cron expression is refused');
SELECT throws_like($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10, '61 * * * *')$$,
	'invalid cron expression%', 'the cron error names the expression');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10, '* * * *')$$, '22023',
	NULL, 'a four-field cron expression is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 10, '0 0 30 2 *')$$, '22023',
	'cron expression "0 0 30 2 *" never matches',
	'a schedule that never matches is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 'NaN')$$, '22023',
	'strategy quantity must be a positive number below 1e12, not NaN',
	'a NaN quantity is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 2, "slow": 3}', 0.5)$$, '22023',
	'strategy quantity 0.5 is not a multiple of the lot size',
	'a quantity off the lot size is refused');
SELECT throws_ok($$SELECT pgtrade.add_instrument('TAPOVN', 990998,
	time_zone => 'America/Chicago', session_open => '17:00',
	session_close => '16:00')$$, '23514', NULL,
	'an overnight session (close before open) is refused');
SELECT throws_ok($$SELECT pgtrade.add_instrument('TAPX', 990999)$$, '23505',
	'instrument "TAPX" already has conid 990001',
	'an instrument''s conid is never changed silently');
SELECT is(pgtrade.add_instrument('TAPX'), pgtrade.instrument_id('TAPX'),
	'registering an instrument again returns it unchanged');
SELECT throws_ok($$SELECT pgtrade.add_instrument('TAPX', time_zone => 'Europe/London')$$,
	'22023', NULL, 'an instrument''s time zone is never changed silently');
SELECT is(pgtrade.add_instrument('TAPX', time_zone => 'america/NEW_YORK'),
	pgtrade.instrument_id('TAPX'),
	'its own zone in another case is its zone, not a change');
SELECT is(pgtrade.add_account('TAPACCT1', time_zone => 'AMERICA/new_york'),
	'TAPACCT1', 'so is an account''s');
-- a zone changed by hand meets the same rules
SELECT throws_ok($$UPDATE pgtrade.instrument SET time_zone = 'Mars/Olympus'
	WHERE symbol = 'TAPX'$$, '22023', 'time zone "Mars/Olympus" not recognized',
	'an UPDATE of an instrument to a zone PostgreSQL does not know is refused');
SELECT throws_ok($$UPDATE pgtrade.instrument SET time_zone = 'Europe/London'
	WHERE symbol = 'TAPX'$$, '22023',
	'instrument "TAPX" in time zone Europe/London cannot follow calendar '
	'XNYS, which is in America/New_York',
	'an UPDATE of an instrument off its calendar''s clock is refused');
SELECT throws_ok($$UPDATE pgtrade.account SET time_zone = 'Nowhere'
	WHERE account_id = 'TAPACCT1'$$, '22023',
	'time zone "Nowhere" not recognized',
	'an UPDATE of an account to a zone PostgreSQL does not know is refused');
UPDATE pgtrade.account SET time_zone = 'america/CHICAGO'
WHERE account_id = 'TAPACCT1';
SELECT is((SELECT time_zone FROM pgtrade.account WHERE account_id = 'TAPACCT1'),
	'America/Chicago', 'a zone set by hand is kept in its own spelling');
UPDATE pgtrade.account SET time_zone = 'America/New_York'
WHERE account_id = 'TAPACCT1';
SELECT throws_ok($$SELECT * FROM pgtrade.run_strategy('x', '-infinity')$$,
	'22023', 'as_of must be a finite time', 'an infinite as_of is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'no_such_kind',
	'TAPX', 'TAPACCT1', '{}', 10)$$, '42704',
	'strategy kind "no_such_kind" does not exist',
	'an unknown strategy kind is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 30, "slow": 10}', 10)$$, '22023', NULL,
	'fast not below slow is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 10}', 10)$$, '22023', NULL,
	'a missing slow period is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": "ten", "slow": 30}', 10)$$, '22023', NULL,
	'a non-integer period is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 10, "slow": 30, "fats": 5}', 10)$$, '22023', NULL,
	'an unknown parameter is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 10, "slow": 30}', 10, '* * * * *', 'Mars/Olympus')$$,
	'22023', NULL, 'an unknown time zone is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'NOACCT', '{"fast": 10, "slow": 30}', 10)$$, '23503',
	'account "NOACCT" does not exist', 'an unknown account is refused');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_s', 'sma_cross', 'TAPX',
	'TAPACCT1', '{"fast": 10, "slow": 30}', -5)$$, '22023', NULL,
	'a negative quantity is refused');

-- orders
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'hold', 1)$$,
	'22023', 'order side must be buy or sell, not "hold"',
	'an order side other than buy or sell is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 0.5)$$,
	'22023', 'order quantity 0.5 is not a positive multiple of the lot size 1',
	'a fractional quantity against lot size 1 is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1, 'limit')$$,
	'22023', 'a limit order takes a limit price and no stop price',
	'a limit order without a limit price is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	'market', limit_price => 10)$$,
	'22023', 'a market order takes neither a limit nor a stop price',
	'a market order with a limit price is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	'stop-limit', limit_price => 10, stop_price => 9)$$,
	'22023', 'order type must be market, limit, stop or stop_limit, not "stop-limit"',
	'an order type spelt otherwise is refused, named');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	NULL)$$,
	'22023', 'order type must be market, limit, stop or stop_limit, not NULL',
	'a NULL order type is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	tif => 'fok')$$,
	'22023', 'time in force must be day, gtc or ioc, not "fok"',
	'an unknown time in force is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	outside_rth => NULL)$$,
	'22023', 'outside_rth must be true or false, not NULL',
	'a NULL outside_rth is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1,
	'stop_limit', limit_price => 10)$$,
	'22023', 'a stop-limit order takes a limit price and a stop price',
	'a stop-limit order without a stop price is refused');
SELECT throws_ok($$SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 1,
	'limit', limit_price => -3)$$,
	'22023', 'limit price must be a positive finite number, not -3',
	'a negative limit price is refused, named');
SELECT throws_ok($$SELECT pgtrade.set_trading_enabled(false, 'NO_SUCH_ACCT')$$,
	'23503', 'account "NO_SUCH_ACCT" does not exist',
	'a kill switch for an unknown account is refused, named');
SELECT throws_ok($$SELECT pgtrade.set_trading_enabled(false, 'TAPACCT1',
	987654321)$$,
	'23503', 'strategy 987654321 does not exist',
	'a kill switch for an unknown strategy is refused, named');
SELECT throws_ok($$SELECT pgtrade.run_strategy('no_such_strategy')$$, '42704',
	'strategy "no_such_strategy" does not exist', 'an unknown strategy is refused');

SELECT set_eq($$SELECT c.relname::text, (xpath('/row/n/text()', query_to_xml(
	format('SELECT count(*) AS n FROM pgtrade.%I', c.relname), false, true,
	'')))[1]::text::bigint FROM pg_class c
	WHERE c.relnamespace = 'pgtrade'::regnamespace AND c.relkind = 'r'$$,
	$$SELECT relname::text, n FROM tap_counts_before$$,
	'every pgtrade table has the row count it had before');

SELECT * FROM finish();
ROLLBACK;
