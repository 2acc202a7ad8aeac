-- bench/indicators.sql: pgtrade's C indicators against plain SQL doing
-- the same arithmetic, in the same run.  Each query runs five times; the
-- report gives the median wall time of each and the ratio to its
-- baseline.  Series: a deterministic random walk (setseed), so every run
-- sees the same numbers.  Run with: make bench
\set ON_ERROR_STOP 1
\pset pager off
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
SELECT setseed(0.42) \g /dev/null
CREATE TEMP TABLE bench_series AS
SELECT n, 100 + sum(random() - 0.5) OVER (ORDER BY n) AS x
FROM generate_series(1, :rows) n;
-- a: the series as closes; h and l: a range of 1 around each, as
-- bench/indicators_loop builds its highs and lows from the same values
CREATE TEMP TABLE bench_arr AS SELECT array_agg(x ORDER BY n) AS a,
	array_agg(x + 0.5 ORDER BY n) AS h, array_agg(x - 0.5 ORDER BY n) AS l
FROM bench_series;
CREATE UNIQUE INDEX ON bench_series (n);
ANALYZE bench_series;

CREATE TEMP TABLE bench_result (name text, baseline text, run int, ms float8);

CREATE FUNCTION pg_temp.time_it(p_name text, p_baseline text, p_sql text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_t timestamptz;
BEGIN
	FOR i IN 1..5 LOOP
		v_t := clock_timestamp();
		EXECUTE p_sql;
		INSERT INTO bench_result VALUES (p_name, p_baseline, i,
			extract(epoch FROM clock_timestamp() - v_t) * 1000);
	END LOOP;
END $$;

\o /dev/null
-- SMA(20): C array form and C window aggregate vs avg() over 20 rows
SELECT pg_temp.time_it('sql avg() over 20 rows', NULL,
	$$SELECT count(v) FROM (SELECT avg(x) OVER (ORDER BY n ROWS 19 PRECEDING) v
	  FROM bench_series) s$$);
SELECT pg_temp.time_it('pgtrade.sma array', 'sql avg() over 20 rows',
	$$SELECT count(v) FROM bench_arr, unnest(pgtrade.sma(a, 20)) v$$);
SELECT pg_temp.time_it('pgtrade.sma window', 'sql avg() over 20 rows',
	$$SELECT count(v) FROM (SELECT pgtrade.sma(x, 20) OVER (ORDER BY n) v
	  FROM bench_series) s$$);

-- EMA(20): the recursive CTE written from the formula (TA-Lib seed)
SELECT pg_temp.time_it('sql recursive ema', NULL,
	$$WITH RECURSIVE e(n, v) AS (
		SELECT 20::bigint, (SELECT avg(x) FROM bench_series WHERE n <= 20)
		UNION ALL
		SELECT s.n, e.v + (2.0 / 21) * (s.x - e.v)
		FROM e JOIN bench_series s ON s.n = e.n + 1)
	  SELECT count(v) FROM e$$);
SELECT pg_temp.time_it('pgtrade.ema array', 'sql recursive ema',
	$$SELECT count(v) FROM bench_arr, unnest(pgtrade.ema(a, 20)) v$$);
SELECT pg_temp.time_it('pgtrade.ema window', 'sql recursive ema',
	$$SELECT count(v) FROM (SELECT pgtrade.ema(x, 20) OVER (ORDER BY n) v
	  FROM bench_series) s$$);

-- STDDEV(20) and Bollinger(20, 2): PostgreSQL's stddev_pop over 20 rows
SELECT pg_temp.time_it('sql stddev_pop() over 20 rows', NULL,
	$$SELECT count(v) FROM (SELECT stddev_pop(x) OVER (ORDER BY n
		ROWS 19 PRECEDING) v FROM bench_series) s$$);
SELECT pg_temp.time_it('pgtrade.stddev array', 'sql stddev_pop() over 20 rows',
	$$SELECT count(v) FROM bench_arr, unnest(pgtrade.stddev(a, 20)) v$$);
SELECT pg_temp.time_it('pgtrade.stddev window', 'sql stddev_pop() over 20 rows',
	$$SELECT count(v) FROM (SELECT pgtrade.stddev(x, 20) OVER (ORDER BY n) v
	  FROM bench_series) s$$);
SELECT pg_temp.time_it('sql avg() +/- 2 stddev_pop() over 20 rows', NULL,
	$$SELECT count(u) FROM (SELECT avg(x) OVER w + 2 * stddev_pop(x) OVER w u,
		avg(x) OVER w - 2 * stddev_pop(x) OVER w l FROM bench_series
		WINDOW w AS (ORDER BY n ROWS 19 PRECEDING)) s$$);
SELECT pg_temp.time_it('pgtrade.bollinger window',
	'sql avg() +/- 2 stddev_pop() over 20 rows',
	$$SELECT count((b).upper) FROM (SELECT pgtrade.bollinger(x, 20, 2)
		OVER (ORDER BY n) b FROM bench_series) s$$);

-- ROC(10): lag() from the formula
SELECT pg_temp.time_it('sql lag() roc', NULL,
	$$SELECT count(v) FROM (SELECT (x / lag(x, 10) OVER (ORDER BY n) - 1) * 100 v
	  FROM bench_series) s$$);
SELECT pg_temp.time_it('pgtrade.roc array', 'sql lag() roc',
	$$SELECT count(v) FROM bench_arr, unnest(pgtrade.roc(a, 10)) v$$);
SELECT pg_temp.time_it('pgtrade.roc window', 'sql lag() roc',
	$$SELECT count(v) FROM (SELECT pgtrade.roc(x, 10) OVER (ORDER BY n) v
	  FROM bench_series) s$$);

-- each array function called alone, for bench/indicators_loop's plain
-- C loops: the array read in, the indicator, the result built
SELECT pg_temp.time_it('call sma(20)', NULL,
	$$SELECT cardinality(pgtrade.sma(a, 20)) FROM bench_arr$$);
SELECT pg_temp.time_it('call ema(20)', NULL,
	$$SELECT cardinality(pgtrade.ema(a, 20)) FROM bench_arr$$);
SELECT pg_temp.time_it('call wma(20)', NULL,
	$$SELECT cardinality(pgtrade.wma(a, 20)) FROM bench_arr$$);
SELECT pg_temp.time_it('call rsi(14)', NULL,
	$$SELECT cardinality(pgtrade.rsi(a, 14)) FROM bench_arr$$);
SELECT pg_temp.time_it('call stddev(20)', NULL,
	$$SELECT cardinality(pgtrade.stddev(a, 20)) FROM bench_arr$$);
SELECT pg_temp.time_it('call roc(10)', NULL,
	$$SELECT cardinality(pgtrade.roc(a, 10)) FROM bench_arr$$);
SELECT pg_temp.time_it('call bollinger(20, 2)', NULL,
	$$SELECT cardinality((pgtrade.bollinger(a, 20, 2)).upper) FROM bench_arr$$);
SELECT pg_temp.time_it('call macd(12, 26, 9)', NULL,
	$$SELECT cardinality((pgtrade.macd(a, 12, 26, 9)).hist) FROM bench_arr$$);
SELECT pg_temp.time_it('call atr(14)', NULL,
	$$SELECT cardinality(pgtrade.atr(h, l, a, 14)) FROM bench_arr$$);
SELECT pg_temp.time_it('call supertrend(10, 3)', NULL,
	$$SELECT cardinality((pgtrade.supertrend(h, l, a, 10, 3)).supertrend)
	  FROM bench_arr$$);

-- the same calls with the array already in memory, as the C loops have
-- it: a value held in a PL/pgSQL record is detoasted once, and a query
-- given it as a parameter passes it flat to each call.  50 calls a run
-- (0 * g keeps the planner from computing a call once for all); the
-- figure recorded is a call's time.
CREATE FUNCTION pg_temp.time_mem(p_name text, p_call text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_r record;
	v_t timestamptz;
	v_n bigint;
BEGIN
	SELECT a, h, l INTO v_r FROM bench_arr;
	FOR i IN 1..5 LOOP
		v_t := clock_timestamp();
		EXECUTE format('SELECT count(%s) FROM generate_series(1, 50) g',
					   p_call)
			INTO v_n USING v_r.a, v_r.h, v_r.l;
		INSERT INTO bench_result VALUES (p_name, NULL, i,
			extract(epoch FROM clock_timestamp() - v_t) * 1000 / 50);
	END LOOP;
END $$;
SELECT pg_temp.time_mem('in memory sma(20)',
	'cardinality(pgtrade.sma($1, 20 + 0 * g))');
SELECT pg_temp.time_mem('in memory ema(20)',
	'cardinality(pgtrade.ema($1, 20 + 0 * g))');
SELECT pg_temp.time_mem('in memory wma(20)',
	'cardinality(pgtrade.wma($1, 20 + 0 * g))');
SELECT pg_temp.time_mem('in memory rsi(14)',
	'cardinality(pgtrade.rsi($1, 14 + 0 * g))');
SELECT pg_temp.time_mem('in memory stddev(20)',
	'cardinality(pgtrade.stddev($1, 20 + 0 * g))');
SELECT pg_temp.time_mem('in memory roc(10)',
	'cardinality(pgtrade.roc($1, 10 + 0 * g))');
SELECT pg_temp.time_mem('in memory bollinger(20, 2)',
	'cardinality((pgtrade.bollinger($1, 20 + 0 * g, 2)).upper)');
SELECT pg_temp.time_mem('in memory macd(12, 26, 9)',
	'cardinality((pgtrade.macd($1, 12 + 0 * g, 26, 9)).hist)');
SELECT pg_temp.time_mem('in memory atr(14)',
	'cardinality(pgtrade.atr($2, $3, $1, 14 + 0 * g))');
SELECT pg_temp.time_mem('in memory supertrend(10, 3)',
	'cardinality((pgtrade.supertrend($2, $3, $1, 10 + 0 * g, 3)).supertrend)');

-- RSI(14), WMA(20), MACD(12, 26, 9), SuperTrend(10, 3) and cron_next
-- have no cheap SQL twin; reported alone
SELECT pg_temp.time_it('pgtrade.wma array', NULL,
	$$SELECT count(v) FROM bench_arr, unnest(pgtrade.wma(a, 20)) v$$);
SELECT pg_temp.time_it('pgtrade.macd array', NULL,
	$$SELECT count(v) FROM bench_arr, unnest((pgtrade.macd(a, 12, 26, 9)).hist) v$$);
SELECT pg_temp.time_it('pgtrade.macd window', NULL,
	$$SELECT count((m).hist) FROM (SELECT pgtrade.macd(x, 12, 26, 9)
		OVER (ORDER BY n) m FROM bench_series) s$$);
SELECT pg_temp.time_it('pgtrade.supertrend array', NULL,
	$$SELECT count(v) FROM bench_arr, unnest((pgtrade.supertrend(h, l, a, 10,
		3)).supertrend) v$$);
SELECT pg_temp.time_it('pgtrade.rsi array', NULL,
	$$SELECT count(v) FROM bench_arr, unnest(pgtrade.rsi(a, 14)) v$$);
SELECT pg_temp.time_it('pgtrade.cron_next x 10000', NULL,
	$$SELECT count(pgtrade.cron_next('*/5 9-16 * * 1-5',
		'2024-03-01'::timestamptz + i * interval '7 minutes',
		'America/New_York')) FROM generate_series(1, 10000) i$$);

\o
-- the series itself, for bench/indicators_loop to run the C loops on the
-- same values
\if :{?series_file}
COPY (SELECT x FROM bench_series ORDER BY n) TO STDOUT \g :series_file
\endif
WITH med AS (
	SELECT name, baseline,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS median_ms
	FROM bench_result GROUP BY name, baseline)
SELECT m.name AS query, round(m.median_ms::numeric, 3) AS median_ms,
	   m.baseline,
	   round((b.median_ms / m.median_ms)::numeric, 1) AS times_faster
FROM med m LEFT JOIN med b ON b.name = m.baseline
ORDER BY coalesce(m.baseline, m.name), m.baseline NULLS FIRST, m.name;
