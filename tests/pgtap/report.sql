-- report.sql: the HTML pages of a kept backtest and of a strategy.  A
-- small backtest is written by hand (three fills over six sessions), so
-- every figure checked below is worked out in the comments: markers per
-- fill, points per line, the equity at each close and its drawdown.
-- Also: unknown ids, who may draw what, empty periods, and text from
-- the database that tries to be HTML.
\ir preamble.psql
SELECT plan(50);

SET LOCAL timezone = 'UTC';

SELECT pgtrade.add_instrument('TAPRP' || i, 990600 + i)
FROM generate_series(1, 3) i \g /dev/null
-- six sessions of TAPRP1; closes 10, 11, 12, 11, 14, 15 (a dip on the
-- fourth), open = close, high = close + 1, low = close - 1
INSERT INTO pgtrade.bar (instrument_id, bar_size, ts, open, high, low,
	close, volume)
SELECT pgtrade.instrument_id('TAPRP1'), '1 day',
	d::timestamp AT TIME ZONE 'America/New_York', c, c + 1, c - 1, c, 1000
FROM (VALUES ('2024-01-02', 10), ('2024-01-03', 11), ('2024-01-04', 12),
			 ('2024-01-05', 11), ('2024-01-08', 14), ('2024-01-09', 15)) v(d, c);
SELECT pgtrade.create_strategy('tap_rp' || i, 'sma_cross', 'TAPRP' || i,
	'TAPACCT1', '{"fast": 2, "slow": 3}', 1, max_bar_age => '100 years',
	market_hours => 'always')
FROM generate_series(1, 3) i \g /dev/null
CREATE TEMP TABLE tap_id (name text PRIMARY KEY, id bigint);
GRANT SELECT ON tap_id TO PUBLIC;
INSERT INTO tap_id SELECT name, strategy_id FROM pgtrade.strategy
WHERE name LIKE 'tap_rp_';

-- page(q): the page a query returns; line(page, class): the data-
-- attributes of a line of that class
CREATE FUNCTION pg_temp.id(p text) RETURNS bigint
LANGUAGE sql AS $$ SELECT id FROM tap_id WHERE name = p $$;
CREATE FUNCTION pg_temp.attr(p_page text, p_class text, p_attr text)
RETURNS text LANGUAGE sql AS $$
	SELECT substring(p_page FROM 'class="line ' || p_class
		|| '" d="[^"]*" [^>]*' || p_attr || '="([^"]*)"')
$$;

-- the hand-made backtest: capital 1000, three fills at the sessions'
-- opens (a daily bar starts at midnight New York time, 05:00 UTC)
--   1 buy 2 at 11.5 on 01-04   cash 977,    position 2
--   2 sell 1 at 12.5 on 01-05  cash 989.5,  position 1
--   3 buy 1 at 13.5 on 01-08   cash 976,    position 2
-- equity at the closes: 1000, 1000, 977 + 2 x 12 = 1001,
-- 989.5 + 11 = 1000.5, 976 + 2 x 14 = 1004, 976 + 2 x 15 = 1006;
-- drawdown at 01-05: 1000.5 / 1001 - 1 = -0.04995 %, the only one
INSERT INTO pgtrade.backtest (strategy_id, kind, params, sizing, from_ts,
	to_ts, capital, commission, slippage_bps, bars, trades, final_equity,
	total_return, max_drawdown, exposure)
VALUES (pg_temp.id('tap_rp1'), 'sma_cross', '{"fast": 2, "slow": 3}',
	'fixed', '2024-01-01', '2024-01-31', 1000, 0, 0, 6, 3, 1006, 0.006,
	-0.0004995, 0.5);
INSERT INTO tap_id SELECT 'bt', max(backtest_id) FROM pgtrade.backtest;
INSERT INTO pgtrade.backtest_trade (backtest_id, trade_no, decided_at,
	filled_at, side, quantity, price, commission, position, realized_pnl)
SELECT pg_temp.id('bt'), n, f - interval '8 hours', f, s, q, p, 0, pos, r
FROM (VALUES (1, timestamptz '2024-01-04 05:00+00', 'buy', 2, 11.5, 2, 0),
			 (2, '2024-01-05 05:00+00', 'sell', 1, 12.5, 1, 1),
			 (3, '2024-01-08 05:00+00', 'buy', 1, 13.5, 2, 0))
	x(n, f, s, q, p, pos, r);
CREATE TEMP TABLE tap_page AS
SELECT pgtrade.report_backtest(pg_temp.id('bt')) AS html;

SELECT ok((SELECT html LIKE '<!DOCTYPE html>%</html>' || E'\n' FROM tap_page),
	'backtest: one whole HTML document');
SELECT ok((SELECT html ~ '<svg id="price-chart"' AND html ~ '<svg id="equity-chart"'
		   AND html ~ '<svg id="drawdown-chart"' AND html ~ '<table id="trades"'
		   AND html ~ '<table id="summary"' FROM tap_page),
	'backtest: price, equity and drawdown charts, summary and trades');
SELECT is((SELECT regexp_count(html, 'class="marker buy"') FROM tap_page), 2,
	'backtest: a buy marker for each of the two buys');
SELECT is((SELECT regexp_count(html, 'class="marker sell"') FROM tap_page), 1,
	'backtest: a sell marker for the one sell');
SELECT is((SELECT regexp_count(substring(html FROM '<table id="trades">.*?</table>'),
		   '<tr class="(buy|sell)">') FROM tap_page), 3,
	'backtest: the trades table has a row per fill');
SELECT is((SELECT pg_temp.attr(html, 'close', 'data-points') FROM tap_page), '6',
	'backtest: the close line has the six sessions');
-- SMA(2) from the second close: 5 points, 10.5 first, (14 + 15) / 2 last;
-- SMA(3) from the third: 4 points, 11 first, (11 + 14 + 15) / 3 last
SELECT is((SELECT ARRAY[pg_temp.attr(html, 'ind-1', 'data-points'),
		   pg_temp.attr(html, 'ind-1', 'data-first'),
		   pg_temp.attr(html, 'ind-1', 'data-last')] FROM tap_page),
	ARRAY['5', '10.500000', '14.500000'], 'backtest: the fast SMA(2) line');
SELECT is((SELECT ARRAY[pg_temp.attr(html, 'ind-2', 'data-points'),
		   pg_temp.attr(html, 'ind-2', 'data-first'),
		   pg_temp.attr(html, 'ind-2', 'data-last')] FROM tap_page),
	ARRAY['4', '11.000000', '13.333333'], 'backtest: the slow SMA(3) line');
SELECT ok((SELECT html ~ '>SMA\(2\)</text>' AND html ~ '>SMA\(3\)</text>'
		   FROM tap_page), 'backtest: the legend names both SMAs');
SELECT is((SELECT ARRAY[pg_temp.attr(html, 'equity', 'data-points'),
		   pg_temp.attr(html, 'equity', 'data-first'),
		   pg_temp.attr(html, 'equity', 'data-min'),
		   pg_temp.attr(html, 'equity', 'data-max')] FROM tap_page),
	ARRAY['6', '1000.000000', '1000.000000', '1006.000000'],
	'backtest: equity from 1000 to 1006, as worked out by hand');
SELECT is((SELECT ARRAY[pg_temp.attr(html, 'drawdown', 'data-min'),
		   pg_temp.attr(html, 'drawdown', 'data-last')] FROM tap_page),
	ARRAY['-0.049950', '0.000000'],
	'backtest: the drawdown of 1000.5 from 1001, and none at the end');
SELECT ok((SELECT html ~ ('<th>Orders refused</th><td class="text">0 '
			'\(by the account''s risk limits\)</td>')
		   AND html ~ '<th>Final equity</th><td class="text">1,006.00</td>'
		   AND html ~ '<th>Max drawdown</th><td class="text">-0.05 %'
		   FROM tap_page), 'backtest: the summary''s figures, formatted');
SELECT ok((SELECT html ~ '<td class="text">2024-01-04</td><td class="text side">buy'
		   '</td><td>2</td><td>11.50</td>' FROM tap_page),
	'backtest: a trade row shows the session date, side, quantity and price');
SELECT ok((SELECT html !~* '(https?:|src=|<script|<link|@import|url\()'
		   FROM tap_page), 'backtest: the page loads nothing from anywhere');

-- warm-up: from the third session on, the lines still start warm: SMA(3)
-- at the third close is (10 + 11 + 12) / 3 from two bars before it
INSERT INTO pgtrade.backtest (strategy_id, kind, params, sizing, from_ts,
	to_ts, capital, commission, slippage_bps, bars, trades, final_equity,
	total_return, max_drawdown, exposure)
VALUES (pg_temp.id('tap_rp1'), 'sma_cross', '{"fast": 2, "slow": 3}',
	'fixed', '2024-01-04 12:00+00', '2024-01-31', 1000, 0, 0, 4, 0, 1000,
	0, 0, 0);
INSERT INTO tap_id SELECT 'bt_warm', max(backtest_id) FROM pgtrade.backtest;
UPDATE tap_page SET html = pgtrade.report_backtest(pg_temp.id('bt_warm'));
SELECT is((SELECT ARRAY[pg_temp.attr(html, 'close', 'data-points'),
		   pg_temp.attr(html, 'ind-2', 'data-points'),
		   pg_temp.attr(html, 'ind-2', 'data-first')] FROM tap_page),
	ARRAY['4', '4', '11.000000'],
	'backtest: bars before the period warm the lines up');
SELECT ok((SELECT html ~ '<p class="empty" id="no-trades">'
		   AND html !~ 'id="trades"' AND html !~ 'class="marker' FROM tap_page),
	'backtest without trades: says so, no table, no markers');
SELECT is((SELECT ARRAY[pg_temp.attr(html, 'equity', 'data-min'),
		   pg_temp.attr(html, 'equity', 'data-max')] FROM tap_page),
	ARRAY['1000.000000', '1000.000000'],
	'backtest without trades: equity stays at the capital');

-- no bars in the period, and text that tries to be HTML
INSERT INTO pgtrade.backtest (strategy_id, kind, params, sizing, from_ts,
	to_ts, capital, commission, slippage_bps, bars, trades, final_equity,
	total_return, max_drawdown, exposure)
VALUES (pg_temp.id('tap_rp1'), '<script>alert("k")</script>',
	'{"note": "</td><script>x</script>"}', '<b>big</b>', '2023-01-01',
	'2023-01-31', 1000, 0, 0, 0, 0, 1000, 0, 0, 0);
INSERT INTO tap_id SELECT 'bt_empty', max(backtest_id) FROM pgtrade.backtest;
UPDATE tap_page SET html = pgtrade.report_backtest(pg_temp.id('bt_empty'));
SELECT ok((SELECT html ~ '<p class="empty" id="no-bars">No 1 day bar of TAPRP1 '
		   'closes between 2022-12-31 19:00 and 2023-01-30 19:00'
		   AND html !~ '<svg' FROM tap_page),
	'backtest without bars: says so and draws no chart');
SELECT ok((SELECT html ~ 'id="no-trades"' FROM tap_page),
	'backtest without bars: and no trades');
SELECT ok((SELECT html !~ '<script' AND html !~ '<b>' FROM tap_page),
	'backtest: a hostile kind, params and sizing leave no tag');
SELECT ok((SELECT strpos(html, '&lt;script&gt;alert(&quot;k&quot;)&lt;/script&gt;') > 0
		   AND strpos(html, '&quot;&lt;/td&gt;&lt;script&gt;x&lt;/script&gt;&quot;') > 0
		   AND strpos(html, '&lt;b&gt;big&lt;/b&gt;') > 0 FROM tap_page),
	'backtest: they are shown escaped');

-- unknown ids and bad arguments
SELECT throws_ok($$SELECT pgtrade.report_backtest(NULL)$$, '22023',
	'a backtest report needs a backtest id', 'backtest: a NULL id is refused');
SELECT throws_ok($$SELECT pgtrade.report_backtest(-1)$$, 'P0002',
	'backtest -1 does not exist', 'backtest: an unknown id is reported');
SELECT throws_ok($$SELECT pgtrade.report_strategy(NULL)$$, '22023',
	'a strategy report needs a strategy id', 'strategy: a NULL id is refused');
SELECT throws_ok($$SELECT pgtrade.report_strategy(-1)$$, 'P0002',
	'strategy -1 does not exist', 'strategy: an unknown id is reported');
SELECT throws_ok(format($$SELECT pgtrade.report_strategy(%s, '2024-02-01',
	'2024-01-01')$$, pg_temp.id('tap_rp1')), '22023', NULL,
	'strategy: a period that ends before it begins is refused');

-- a strategy's own trading: a replayed run at the fifth close decides
-- to buy 1 (SMA(2) (11 + 14) / 2 = 12.5 above SMA(3) 37 / 3), filled at
-- 14.75 the next morning; P&L at that close 15 - 14.75 = 0.25
SELECT count(*) FROM pgtrade.run_strategy('tap_rp1', '2024-01-08 21:00+00',
	'replay', true) \g /dev/null
SELECT count(*) FROM pgtrade.claim_order(7, ARRAY['TAPACCT1']) \g /dev/null
SELECT pgtrade.record_submission(o.order_id, 'RP1', 'Submitted')
FROM pgtrade.orders o WHERE o.strategy_id = pg_temp.id('tap_rp1') \g /dev/null
SELECT pgtrade.record_fill('tap-rp-1', o.client_order_id, 'TAPACCT1', 990601,
	'B', 1, 14.75, '2024-01-09 14:30+00')
FROM pgtrade.orders o WHERE o.strategy_id = pg_temp.id('tap_rp1') \g /dev/null
UPDATE tap_page SET html = pgtrade.report_strategy(pg_temp.id('tap_rp1'));
SELECT ok((SELECT html ~ '<svg id="price-chart"' AND html ~ '<svg id="equity-chart"'
		   AND html ~ '<svg id="drawdown-chart"' AND html ~ '<table id="fills"'
		   AND html ~ '<table id="orders"' AND html ~ '<table id="decisions"'
		   FROM tap_page), 'strategy: charts and its decisions, orders and fills');
SELECT is((SELECT ARRAY[regexp_count(html, 'class="marker buy"'),
		   regexp_count(html, 'class="marker sell"'),
		   regexp_count(html, 'class="decision buy"')] FROM tap_page),
	ARRAY[1, 0, 1], 'strategy: a marker at the fill, a ring at the decision');
SELECT is((SELECT ARRAY[regexp_count(substring(html FROM '<table id="fills">.*?</table>'),
			'<tr class="buy">'),
		   regexp_count(substring(html FROM '<table id="orders">.*?</table>'),
			'<tr class="buy">')] FROM tap_page),
	ARRAY[1, 1], 'strategy: one fill and one order listed');
-- from the decision's bar (01-08) on by default: two sessions
SELECT is((SELECT pg_temp.attr(html, 'close', 'data-points') FROM tap_page), '2',
	'strategy: prices from the first decision''s bar by default');
SELECT is((SELECT ARRAY[pg_temp.attr(html, 'equity', 'data-points'),
		   pg_temp.attr(html, 'equity', 'data-last')] FROM tap_page),
	ARRAY['1', '0.250000'], 'strategy: P&L at the close after the fill');
SELECT ok((SELECT html ~ '<td class="text">2024-01-09 09:30</td><td class="text side">'
		   'buy</td><td>1</td><td>14.75</td>' FROM tap_page),
	'strategy: the fill in the exchange''s time');
-- a period chosen: the first three sessions, before any trace
UPDATE tap_page SET html = pgtrade.report_strategy(pg_temp.id('tap_rp1'),
	'2024-01-01', '2024-01-05');
SELECT is((SELECT ARRAY[pg_temp.attr(html, 'close', 'data-points'),
		   regexp_count(html, 'class="marker')::text] FROM tap_page),
	ARRAY['3', '0'], 'strategy: a period given shows its bars only');

-- a strategy with nothing: no bars, decisions, orders or fills
UPDATE tap_page SET html = pgtrade.report_strategy(pg_temp.id('tap_rp2'));
SELECT ok((SELECT html ~ 'id="no-bars"' AND html ~ 'id="no-equity"'
		   AND html ~ 'id="no-decisions"' AND html ~ 'id="no-orders"'
		   AND html ~ 'id="no-fills"' AND html !~ '<svg' FROM tap_page),
	'strategy without anything: each part says so');

-- an outside decider's explanation becomes the decision's reason
SELECT count(*) FROM pgtrade.submit_decision('tap_rp3', 1,
	'<script>alert(1)</script> & "more"') \g /dev/null
UPDATE tap_page SET html = pgtrade.report_strategy(pg_temp.id('tap_rp3'));
SELECT ok((SELECT html !~ '<script' FROM tap_page),
	'strategy: a hostile reason leaves no tag');
SELECT ok((SELECT strpos(html, '&lt;script&gt;alert(1)&lt;/script&gt; &amp; '
		   '&quot;more&quot;') > 0 FROM tap_page),
	'strategy: it is shown escaped');

-- who may draw what
CREATE ROLE tap_rp_reader IN ROLE pgtrade_reader;
CREATE ROLE tap_rp_trader IN ROLE pgtrade_trader;
SET LOCAL ROLE tap_rp_reader;
SELECT throws_ok(format('SELECT pgtrade.report_backtest(%s)', pg_temp.id('bt')),
	'42501', 'role "tap_rp_reader" may not read kept backtests',
	'reader: kept backtests are not for readers');
SELECT throws_ok(format('SELECT pgtrade.report_strategy(%s)',
	pg_temp.id('tap_rp1')), 'P0002', NULL,
	'reader: a strategy of an account not granted does not exist');
RESET ROLE;
SELECT pgtrade.grant_account('tap_rp_reader', 'TAPACCT1') \g /dev/null
SET LOCAL ROLE tap_rp_reader;
SELECT is((SELECT regexp_count(pgtrade.report_strategy(pg_temp.id('tap_rp1')),
		   'class="marker buy"')), 1,
	'reader: once granted the account, draws the strategy from the views');
RESET ROLE;
SET LOCAL ROLE tap_rp_trader;
SELECT throws_ok(format('SELECT pgtrade.report_backtest(%s)', pg_temp.id('bt')),
	'P0002', NULL, 'trader: a backtest of an account not granted does not exist');
RESET ROLE;
SELECT pgtrade.grant_account('tap_rp_trader', 'TAPACCT1') \g /dev/null
SET LOCAL ROLE tap_rp_trader;
SELECT is((SELECT regexp_count(pgtrade.report_backtest(pg_temp.id('bt')),
		   'class="marker (buy|sell)"')), 3,
	'trader: once granted the account, draws the backtest');
RESET ROLE;
SELECT ok(NOT has_function_privilege('public', 'pgtrade.report_strategy(bigint, '
	'timestamptz, timestamptz)', 'EXECUTE')
	AND has_function_privilege('pgtrade_reader', 'pgtrade.report_strategy(bigint, '
	'timestamptz, timestamptz)', 'EXECUTE')
	AND has_function_privilege('pgtrade_reader', 'pgtrade.report_backtest(bigint)',
	'EXECUTE'), 'readers, not PUBLIC, may call the reports');
SELECT is(ARRAY(SELECT p.proname::text FROM pg_proc p
		  WHERE p.pronamespace = 'pgtrade'::regnamespace
			AND p.proname LIKE 'report%' AND (p.prosecdef
				OR p.provolatile = 'v') ORDER BY 1), '{}'::text[],
	'every report function runs with the caller''s rights and writes nothing');

-- the formatting helpers, against values written out by hand
SELECT is(pgtrade.report_escape('<a href="x">&''</a>'),
	'&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;', 'escape: the five characters');
SELECT is(pgtrade.report_escape(NULL), '', 'escape: NULL is empty');
SELECT is(pgtrade.report_number(1234567.891, 2), '1,234,567.89',
	'number: thousands and two decimals');
SELECT is(pgtrade.report_number(-0.5, 2), '-0.50', 'number: a negative fraction');
SELECT is(ARRAY[pgtrade.report_number(100, 0, 8), pgtrade.report_number(1.5, 0, 8),
		  pgtrade.report_number(101.2, 2, 4), pgtrade.report_number(0.12345, 2, 2)],
	ARRAY['100', '1.5', '101.20', '0.1235'], 'number: extra decimals only when set');
SELECT is(ARRAY[pgtrade.report_percent(-0.0512), pgtrade.report_number(NULL, 2)],
	ARRAY['-5.12 %', '–'], 'percent, and a dash for NULL');
SELECT is(ARRAY[pgtrade.report_step(3.7), pgtrade.report_step(0.012),
		  pgtrade.report_step(150), pgtrade.report_step(1)],
	ARRAY[5, 0.02, 200, 1]::float8[], 'axis steps of 1, 2 and 5 times a power of 10');

SELECT * FROM finish();
ROLLBACK;
