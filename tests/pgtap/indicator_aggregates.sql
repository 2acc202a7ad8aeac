-- tests/pgtap/indicator_aggregates.sql: the aggregate (window) forms of
-- the indicators, pgtrade.sma, ema, rsi (value, period) and pgtrade.atr
-- (high, low, close, period).
--
-- Expected values are computed independently of the aggregates: by hand
-- (the arithmetic is in the comments), from the definitions in plain SQL
-- (window averages, recursive CTEs), and from the array forms, which
-- tests/pgtap/indicators.sql checks on their own.  The real series are the
-- 43 daily sessions from 2008-10-01 to 2008-12-01 of SPY (SPY_1d.csv) and
-- of AAPL (AAPL_1d.csv, split-adjusted), typed in from shared/data (Yahoo
-- Finance daily bars as republished by matplotlib/mplfinance).
\ir preamble.psql
SELECT plan(63);

SET LOCAL timezone = 'UTC';

-- The sessions: symbol, n (1 to 43 within the symbol), date, high, low,
-- close.
CREATE TEMP TABLE bars (sym text, n int, ts timestamptz, high float8,
                        low float8, close float8, PRIMARY KEY (sym, n));
INSERT INTO bars VALUES
    ('SPY', 1, '2008-10-01', 116.690002, 113.949997, 116.059998),
    ('SPY', 2, '2008-10-02', 115.110001, 111.059998, 111.849998),
    ('SPY', 3, '2008-10-03', 115.449997, 109.680000, 110.339996),
    ('SPY', 4, '2008-10-06', 107.620003, 100.639999, 104.720001),
    ('SPY', 5, '2008-10-07', 107.330002, 99.650002, 100.029999),
    ('SPY', 6, '2008-10-08', 102.180000, 96.809998, 97.510002),
    ('SPY', 7, '2008-10-09', 100.620003, 90.250000, 90.699997),
    ('SPY', 8, '2008-10-10', 93.940002, 83.580002, 88.500000),
    ('SPY', 9, '2008-10-13', 101.349998, 89.949997, 101.349998),
    ('SPY', 10, '2008-10-14', 105.529999, 97.110001, 99.849998),
    ('SPY', 11, '2008-10-15', 97.800003, 89.709999, 90.019997),
    ('SPY', 12, '2008-10-16', 94.769997, 86.540001, 93.769997),
    ('SPY', 13, '2008-10-17', 98.589996, 91.650002, 93.209999),
    ('SPY', 14, '2008-10-20', 99.099998, 94.089996, 98.809998),
    ('SPY', 15, '2008-10-21', 98.639999, 95.220001, 95.860001),
    ('SPY', 16, '2008-10-22', 95.860001, 87.529999, 90.639999),
    ('SPY', 17, '2008-10-23', 92.449997, 85.809998, 91.690002),
    ('SPY', 18, '2008-10-24', 89.919998, 84.000000, 87.040001),
    ('SPY', 19, '2008-10-27', 89.510002, 83.699997, 83.949997),
    ('SPY', 20, '2008-10-28', 94.239998, 84.529999, 93.760002),
    ('SPY', 21, '2008-10-29', 97.169998, 92.099998, 93.080002),
    ('SPY', 22, '2008-10-30', 96.540001, 92.900002, 96.300003),
    ('SPY', 23, '2008-10-31', 98.570000, 94.480003, 96.830002),
    ('SPY', 24, '2008-11-03', 97.690002, 95.949997, 97.110001),
    ('SPY', 25, '2008-11-04', 100.860001, 96.709999, 100.410004),
    ('SPY', 26, '2008-11-05', 100.709999, 95.000000, 96.190002),
    ('SPY', 27, '2008-11-06', 95.440002, 90.059998, 90.860001),
    ('SPY', 28, '2008-11-07', 94.000000, 90.500000, 93.860001),
    ('SPY', 29, '2008-11-10', 95.529999, 90.919998, 92.629997),
    ('SPY', 30, '2008-11-11', 92.139999, 88.650002, 89.769997),
    ('SPY', 31, '2008-11-12', 88.949997, 85.120003, 85.820000),
    ('SPY', 32, '2008-11-13', 91.730003, 82.089996, 91.169998),
    ('SPY', 33, '2008-11-14', 92.059998, 86.519997, 86.620003),
    ('SPY', 34, '2008-11-17', 88.559998, 85.160004, 85.470001),
    ('SPY', 35, '2008-11-18', 87.220001, 82.910004, 87.080002),
    ('SPY', 36, '2008-11-19', 86.870003, 80.919998, 81.500000),
    ('SPY', 37, '2008-11-20', 82.510002, 75.050003, 75.449997),
    ('SPY', 38, '2008-11-21', 80.900002, 74.339996, 79.519997),
    ('SPY', 39, '2008-11-24', 86.989998, 80.360001, 85.029999),
    ('SPY', 40, '2008-11-25', 87.510002, 83.820000, 85.660004),
    ('SPY', 41, '2008-11-26', 89.190002, 84.239998, 88.970001),
    ('SPY', 42, '2008-11-28', 90.129997, 88.480003, 90.089996),
    ('SPY', 43, '2008-12-01', 87.550003, 81.860001, 82.110001),
    ('AAPL', 1, '2008-10-01', 16.051428, 15.341429, 15.588572),
    ('AAPL', 2, '2008-10-02', 15.541429, 14.285714, 14.300000),
    ('AAPL', 3, '2008-10-03', 15.214286, 13.521428, 13.867143),
    ('AAPL', 4, '2008-10-06', 14.111428, 12.505714, 14.020000),
    ('AAPL', 5, '2008-10-07', 14.500000, 12.707143, 12.737143),
    ('AAPL', 6, '2008-10-08', 13.761429, 12.240000, 12.827143),
    ('AAPL', 7, '2008-10-09', 13.685715, 12.371428, 12.677143),
    ('AAPL', 8, '2008-10-10', 14.285714, 12.142858, 13.828571),
    ('AAPL', 9, '2008-10-13', 15.790000, 14.431429, 15.751429),
    ('AAPL', 10, '2008-10-14', 16.628571, 14.734285, 14.868571),
    ('AAPL', 11, '2008-10-15', 15.285714, 13.984285, 13.992857),
    ('AAPL', 12, '2008-10-16', 14.775714, 13.105714, 14.555715),
    ('AAPL', 13, '2008-10-17', 14.577143, 12.270000, 13.914286),
    ('AAPL', 14, '2008-10-20', 14.290000, 13.377143, 14.062857),
    ('AAPL', 15, '2008-10-21', 13.985714, 13.022857, 13.070000),
    ('AAPL', 16, '2008-10-22', 14.464286, 13.275714, 13.838572),
    ('AAPL', 17, '2008-10-23', 14.178572, 13.128572, 14.032857),
    ('AAPL', 18, '2008-10-24', 13.985714, 12.872857, 13.768572),
    ('AAPL', 19, '2008-10-27', 13.947143, 13.122857, 13.155714),
    ('AAPL', 20, '2008-10-28', 14.357142, 13.195714, 14.272857),
    ('AAPL', 21, '2008-10-29', 15.648571, 14.277143, 14.935715),
    ('AAPL', 22, '2008-10-30', 16.027143, 15.372857, 15.862857),
    ('AAPL', 23, '2008-10-31', 15.825714, 15.020000, 15.370000),
    ('AAPL', 24, '2008-11-03', 15.585714, 14.980000, 15.280000),
    ('AAPL', 25, '2008-11-04', 15.970000, 15.238571, 15.855714),
    ('AAPL', 26, '2008-11-05', 15.674286, 14.712857, 14.757143),
    ('AAPL', 27, '2008-11-06', 14.682858, 14.000000, 14.157143),
    ('AAPL', 28, '2008-11-07', 14.264286, 13.674286, 14.034286),
    ('AAPL', 29, '2008-11-10', 14.342857, 13.500000, 13.697143),
    ('AAPL', 30, '2008-11-11', 13.881429, 13.180000, 13.538571),
    ('AAPL', 31, '2008-11-12', 13.320000, 12.858571, 12.874286),
    ('AAPL', 32, '2008-11-13', 13.777143, 12.288571, 13.777143),
    ('AAPL', 33, '2008-11-14', 13.427143, 12.857142, 12.891429),
    ('AAPL', 34, '2008-11-17', 12.935715, 12.465714, 12.591429),
    ('AAPL', 35, '2008-11-18', 12.998571, 12.408571, 12.844286),
    ('AAPL', 36, '2008-11-19', 13.082857, 12.315714, 12.327143),
    ('AAPL', 37, '2008-11-20', 12.350000, 11.428572, 11.498571),
    ('AAPL', 38, '2008-11-21', 12.017143, 11.305715, 11.797143),
    ('AAPL', 39, '2008-11-24', 13.541429, 12.120000, 13.278571),
    ('AAPL', 40, '2008-11-25', 13.530000, 12.594286, 12.971429),
    ('AAPL', 41, '2008-11-26', 13.607142, 12.835714, 13.571428),
    ('AAPL', 42, '2008-11-28', 13.537143, 13.122857, 13.238571),
    ('AAPL', 43, '2008-12-01', 13.181429, 12.702857, 12.704286);

CREATE TEMP VIEW spy AS
    SELECT n, ts, high, low, close FROM bars WHERE sym = 'SPY';

-- True when got and want are both NULL, or both present and within tol.
CREATE FUNCTION pg_temp.near(got float8, want float8, tol float8)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN want IS NULL THEN got IS NULL
                ELSE got IS NOT NULL AND abs(got - want) <= tol END
$$;

-- The same for two arrays, element by element, and their lengths.
CREATE FUNCTION pg_temp.near_all(got float8[], want float8[], tol float8)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT cardinality(got) = cardinality(want)
       AND bool_and(pg_temp.near(g, w, tol))
      FROM unnest(got, want) AS u(g, w)
$$;

-- The four aggregates over SPY alone, default frame, one row per session.
CREATE TEMP TABLE spy_agg AS
SELECT n,
       pgtrade.sma(close, 10) OVER w AS sma10,
       pgtrade.ema(close, 10) OVER w AS ema10,
       pgtrade.rsi(close, 14) OVER w AS rsi14,
       pgtrade.atr(high, low, close, 14) OVER w AS atr14
  FROM spy
WINDOW w AS (ORDER BY ts);

-- The array forms over the same closes, unnested to one row per session.
CREATE TEMP TABLE spy_arr AS
SELECT u.n::int, u.sma10, u.ema10, u.rsi14, u.atr14
  FROM (SELECT array_agg(high ORDER BY n) AS h, array_agg(low ORDER BY n) AS l,
               array_agg(close ORDER BY n) AS c
          FROM spy) a,
       unnest(pgtrade.sma(a.c, 10), pgtrade.ema(a.c, 10),
              pgtrade.rsi(a.c, 14), pgtrade.atr(a.h, a.l, a.c, 14))
           WITH ORDINALITY AS u(sma10, ema10, rsi14, atr14, n);

------------------------------------------------------------------------
-- The catalog: four aggregates next to the array forms, read-only final
-- function, comments.
------------------------------------------------------------------------
SELECT is_aggregate('pgtrade', 'sma', ARRAY['double precision', 'bigint'],
                    'sma(float8, bigint) is an aggregate');
SELECT is_aggregate('pgtrade', 'ema', ARRAY['double precision', 'bigint'],
                    'ema(float8, bigint) is an aggregate');
SELECT is_aggregate('pgtrade', 'rsi', ARRAY['double precision', 'bigint'],
                    'rsi(float8, bigint) is an aggregate');
SELECT is_aggregate('pgtrade', 'atr',
                    ARRAY['double precision', 'double precision',
                          'double precision', 'bigint'],
                    'atr(float8, float8, float8, bigint) is an aggregate');
SELECT is((SELECT count(*)::int FROM pg_aggregate
            WHERE aggfnoid IN ('pgtrade.sma(float8, bigint)'::regprocedure,
                               'pgtrade.ema(float8, bigint)'::regprocedure,
                               'pgtrade.rsi(float8, bigint)'::regprocedure,
                               'pgtrade.atr(float8, float8, float8, bigint)'
                                   ::regprocedure)
              AND aggfinalmodify = 'r'
              AND aggfinalfn = 'pgtrade.indicator_agg_finalfn'::regproc),
          4, 'the four aggregates declare a read-only final function');
SELECT is((SELECT count(*)::int
             FROM unnest(ARRAY[
                      'pgtrade.sma(float8, bigint)',
                      'pgtrade.ema(float8, bigint)',
                      'pgtrade.rsi(float8, bigint)',
                      'pgtrade.atr(float8, float8, float8, bigint)',
                      'pgtrade.sma_agg_transfn(internal, float8, bigint)',
                      'pgtrade.ema_agg_transfn(internal, float8, bigint)',
                      'pgtrade.rsi_agg_transfn(internal, float8, bigint)',
                      'pgtrade.atr_agg_transfn(internal, float8, float8, '
                          'float8, bigint)',
                      'pgtrade.indicator_agg_finalfn(internal)'
                  ]::regprocedure[]) AS f(oid)
            WHERE obj_description(f.oid, 'pg_proc') IS NOT NULL),
          9, 'the aggregates and their support functions have comments');
-- With an untyped first argument the array form must still win: the
-- aggregates take a bigint period, the array forms an int.
SELECT is(pgtrade.sma('{1,2,3}', 2), '{NULL,1.5,2.5}'::float8[],
          'an untyped array literal still calls the array form');

------------------------------------------------------------------------
-- Hand computations on small series, default frame.
------------------------------------------------------------------------
-- (4+8+6)/3 = 6, (8+6+10)/3 = 8, (6+10+2)/3 = 6.
SELECT is(ARRAY(SELECT pgtrade.sma(v, 3) OVER (ORDER BY n)
                  FROM (VALUES (1, 4.0), (2, 8), (3, 6), (4, 10), (5, 2))
                       AS t(n, v)
                 ORDER BY n),
          '{NULL,NULL,6,8,6}'::float8[], 'sma(3) by hand');
-- k = 2/3: seed (3+5)/2 = 4; (8-4)*2/3+4 = 20/3; (2-20/3)*2/3+20/3 = 32/9.
SELECT ok(pg_temp.near_all(
              ARRAY(SELECT pgtrade.ema(v, 2) OVER (ORDER BY n)
                      FROM (VALUES (1, 3.0), (2, 5), (3, 8), (4, 2)) AS t(n, v)
                     ORDER BY n),
              ARRAY[NULL, 4, 20.0 / 3, 32.0 / 9]::float8[], 1e-12),
          'ema(2) by hand');
-- Changes +1 +2 -1 0 +3.  Row 4: gain 3/3 = 1, loss 1/3 -> 75.  Row 5:
-- gain (1*2+0)/3 = 2/3, loss (1/3*2+0)/3 = 2/9 -> 75.  Row 6: gain
-- (2/3*2+3)/3 = 13/9, loss (2/9*2)/3 = 4/27 -> 100*39/43 = 3900/43.
SELECT ok(pg_temp.near_all(
              ARRAY(SELECT pgtrade.rsi(v, 3) OVER (ORDER BY n)
                      FROM (VALUES (1, 10.0), (2, 11), (3, 13), (4, 12),
                                   (5, 12), (6, 15)) AS t(n, v)
                     ORDER BY n),
              ARRAY[NULL, NULL, NULL, 75, 75, 3900.0 / 43]::float8[], 1e-12),
          'rsi(3) by hand, wilder smoothing');
-- True ranges from bar 2: max(1.5, |9.5-11|, 0) = 1.5; max(0.8, 0.3, 0.5)
-- = 0.8; max(1, |10.2-12|, 0.8) = 1.8; max(1, 0.3, |11.8-10.5|) = 1.3.
-- ATR(3) = (1.5+0.8+1.8)/3 = 4.1/3, then (4.1/3*2+1.3)/3 = 12.1/9.
SELECT ok(pg_temp.near_all(
              ARRAY(SELECT pgtrade.atr(h, l, c, 3) OVER (ORDER BY n)
                      FROM (VALUES (1, 10.0, 9.0, 9.5), (2, 11, 9.5, 10.5),
                                   (3, 10.8, 10, 10.2), (4, 12, 11, 11.8),
                                   (5, 11.5, 10.5, 11)) AS t(n, h, l, c)
                     ORDER BY n),
              ARRAY[NULL, NULL, NULL, 4.1 / 3, 12.1 / 9]::float8[], 1e-12),
          'atr(3) by hand, gaps included in the true range');
-- A period equal to the number of rows: one value, the plain mean.
SELECT ok((SELECT count(*) FROM (SELECT n, pgtrade.sma(close, 43)
                                            OVER (ORDER BY ts) AS v
                                   FROM spy) x
            WHERE (n < 43 AND v IS NULL)
               OR (n = 43 AND abs(v - (SELECT avg(close) FROM spy)) < 1e-9))
          = 43, 'sma(close, 43) over 43 rows is null but on the last row');

------------------------------------------------------------------------
-- SPY, row by row: the aggregates equal the array forms.
------------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM spy_agg g JOIN spy_arr a USING (n)
            WHERE pg_temp.near(g.sma10, a.sma10, 1e-9)),
          43, 'sma(close, 10) over spy equals the array form on all 43 rows');
SELECT is((SELECT count(*)::int FROM spy_agg g JOIN spy_arr a USING (n)
            WHERE pg_temp.near(g.ema10, a.ema10, 1e-9)),
          43, 'ema(close, 10) over spy equals the array form on all 43 rows');
SELECT is((SELECT count(*)::int FROM spy_agg g JOIN spy_arr a USING (n)
            WHERE pg_temp.near(g.rsi14, a.rsi14, 1e-9)),
          43, 'rsi(close, 14) over spy equals the array form on all 43 rows');
SELECT is((SELECT count(*)::int FROM spy_agg g JOIN spy_arr a USING (n)
            WHERE pg_temp.near(g.atr14, a.atr14, 1e-9)),
          43, 'atr(h, l, c, 14) over spy equals the array form on all 43 rows');

------------------------------------------------------------------------
-- SPY, row by row: the aggregates against the definitions in SQL.
------------------------------------------------------------------------
-- SMA(10) = avg over the current row and the 9 before it, from row 10.
SELECT is((SELECT count(*)::int
             FROM spy_agg g
             JOIN (SELECT n, CASE WHEN n >= 10 THEN
                                 avg(close) OVER (ORDER BY n ROWS BETWEEN 9
                                                  PRECEDING AND CURRENT ROW)
                             END AS want
                     FROM spy) r USING (n)
            WHERE pg_temp.near(g.sma10, r.want, 1e-9)),
          43, 'sma(close, 10) over spy matches avg() over 10 rows');
-- EMA(10): at row 10 the mean of rows 1..10, then (x - prev) * 2/11 + prev.
SELECT is((WITH RECURSIVE e(n, v) AS (
               SELECT 10, (SELECT avg(close) FROM spy WHERE n <= 10)
               UNION ALL
               SELECT s.n, (s.close - e.v) * (2::float8 / 11) + e.v
                 FROM e JOIN spy s ON s.n = e.n + 1)
           SELECT count(*)::int FROM spy_agg g LEFT JOIN e USING (n)
            WHERE pg_temp.near(g.ema10, e.v, 1e-9)),
          43, 'ema(close, 10) over spy matches a recursive cte of the formula');
-- RSI(14): changes from row 2; at row 15 the means of the gains and of
-- the losses of rows 2..15, then avg = (avg * 13 + current) / 14.
SELECT is((WITH RECURSIVE c AS (
               SELECT n, close - lag(close) OVER (ORDER BY n) AS ch
                 FROM spy),
           w(n, up, down) AS (
               SELECT 15,
                      (SELECT sum(CASE WHEN ch > 0 THEN ch ELSE 0 END)
                         FROM c WHERE n BETWEEN 2 AND 15) / 14,
                      (SELECT sum(CASE WHEN ch < 0 THEN -ch ELSE 0 END)
                         FROM c WHERE n BETWEEN 2 AND 15) / 14
               UNION ALL
               SELECT c.n,
                      (w.up * 13 + CASE WHEN c.ch > 0 THEN c.ch ELSE 0 END)
                          / 14,
                      (w.down * 13 + CASE WHEN c.ch < 0 THEN -c.ch ELSE 0 END)
                          / 14
                 FROM w JOIN c ON c.n = w.n + 1)
           SELECT count(*)::int FROM spy_agg g LEFT JOIN w USING (n)
            WHERE pg_temp.near(g.rsi14, 100 * w.up / (w.up + w.down), 1e-9)),
          43, 'rsi(close, 14) over spy matches a recursive cte of wilder');
-- ATR(14): true range from row 2 with the previous close; at row 15 the
-- mean of rows 2..15, then atr = (atr * 13 + tr) / 14.
SELECT is((WITH RECURSIVE t AS (
               SELECT n, greatest(high - low,
                                  abs(lag(close) OVER o - high),
                                  abs(lag(close) OVER o - low)) AS tr
                 FROM spy WINDOW o AS (ORDER BY n)),
           a(n, v) AS (
               SELECT 15, (SELECT avg(tr) FROM t WHERE n BETWEEN 2 AND 15)
               UNION ALL
               SELECT t.n, (a.v * 13 + t.tr) / 14
                 FROM a JOIN t ON t.n = a.n + 1)
           SELECT count(*)::int FROM spy_agg g LEFT JOIN a USING (n)
            WHERE pg_temp.near(g.atr14, a.v, 1e-9)),
          43, 'atr(h, l, c, 14) over spy matches a recursive cte of wilder');

------------------------------------------------------------------------
-- Warm-up: NULL exactly where the array forms have NULL.
------------------------------------------------------------------------
SELECT is(ARRAY(SELECT n FROM spy_agg WHERE sma10 IS NULL ORDER BY n),
          ARRAY(SELECT generate_series(1, 9)),
          'sma(close, 10) is null on rows 1 to 9 only');
SELECT is(ARRAY(SELECT n FROM spy_agg WHERE ema10 IS NULL ORDER BY n),
          ARRAY(SELECT generate_series(1, 9)),
          'ema(close, 10) is null on rows 1 to 9 only');
SELECT is(ARRAY(SELECT n FROM spy_agg WHERE rsi14 IS NULL ORDER BY n),
          ARRAY(SELECT generate_series(1, 14)),
          'rsi(close, 14) is null on rows 1 to 14 only');
SELECT is(ARRAY(SELECT n FROM spy_agg WHERE atr14 IS NULL ORDER BY n),
          ARRAY(SELECT generate_series(1, 14)),
          'atr(h, l, c, 14) is null on rows 1 to 14 only');

------------------------------------------------------------------------
-- PARTITION BY: SPY and AAPL on the same 43 dates are independent series.
------------------------------------------------------------------------
CREATE TEMP TABLE part_agg AS
SELECT sym, n,
       pgtrade.sma(close, 10) OVER w AS sma10,
       pgtrade.ema(close, 10) OVER w AS ema10,
       pgtrade.rsi(close, 14) OVER w AS rsi14,
       pgtrade.atr(high, low, close, 14) OVER w AS atr14
  FROM bars
WINDOW w AS (PARTITION BY sym ORDER BY ts);

CREATE TEMP TABLE part_arr AS
SELECT a.sym, u.n::int, u.sma10, u.ema10, u.rsi14, u.atr14
  FROM (SELECT sym, array_agg(high ORDER BY n) AS h,
               array_agg(low ORDER BY n) AS l,
               array_agg(close ORDER BY n) AS c
          FROM bars GROUP BY sym) a,
       unnest(pgtrade.sma(a.c, 10), pgtrade.ema(a.c, 10),
              pgtrade.rsi(a.c, 14), pgtrade.atr(a.h, a.l, a.c, 14))
           WITH ORDINALITY AS u(sma10, ema10, rsi14, atr14, n);

SELECT is((SELECT count(*)::int FROM part_agg g JOIN part_arr a USING (sym, n)
            WHERE sym = 'SPY'
              AND pg_temp.near(g.sma10, a.sma10, 1e-9)
              AND pg_temp.near(g.ema10, a.ema10, 1e-9)
              AND pg_temp.near(g.rsi14, a.rsi14, 1e-9)
              AND pg_temp.near(g.atr14, a.atr14, 1e-9)),
          43, 'partitioned by symbol, spy gets the array forms of spy alone');
SELECT is((SELECT count(*)::int FROM part_agg g JOIN part_arr a USING (sym, n)
            WHERE sym = 'AAPL'
              AND pg_temp.near(g.sma10, a.sma10, 1e-9)
              AND pg_temp.near(g.ema10, a.ema10, 1e-9)
              AND pg_temp.near(g.rsi14, a.rsi14, 1e-9)
              AND pg_temp.near(g.atr14, a.atr14, 1e-9)),
          43, 'partitioned by symbol, aapl gets the array forms of aapl alone');
SELECT is(ARRAY(SELECT n FROM part_agg
                 WHERE sym = 'AAPL' AND atr14 IS NULL ORDER BY n),
          ARRAY(SELECT generate_series(1, 14)),
          'the second partition starts its own warm-up');

------------------------------------------------------------------------
-- Plain (non-window) use: the value at the last row in input order.
------------------------------------------------------------------------
SELECT ok(pg_temp.near((SELECT pgtrade.ema(close, 10 ORDER BY ts) FROM spy),
                       (SELECT ema10 FROM spy_arr WHERE n = 43), 1e-9),
          'plain ema(close, 10 order by ts) is the array form''s last value');
SELECT ok(pg_temp.near((SELECT pgtrade.atr(high, low, close, 14 ORDER BY ts)
                          FROM spy),
                       (SELECT atr14 FROM spy_arr WHERE n = 43), 1e-9),
          'plain atr(h, l, c, 14 order by ts) is the array form''s last value');
-- The SMA of the last 10 sessions of each symbol is the mean of rows
-- 34..43.
SELECT is((SELECT count(*)::int
             FROM (SELECT sym, pgtrade.sma(close, 10 ORDER BY ts) AS got,
                          avg(close) FILTER (WHERE n > 33) AS want
                     FROM bars GROUP BY sym) x
            WHERE abs(got - want) < 1e-9),
          2, 'plain sma with group by gives each symbol its last 10 mean');
SELECT ok(pg_temp.near((SELECT pgtrade.rsi(close, 14 ORDER BY ts DESC)
                          FROM spy),
                       (SELECT (pgtrade.rsi(array_agg(close ORDER BY ts DESC),
                                            14))[43]
                          FROM spy), 1e-9),
          'plain rsi follows the order given in the call, here descending');
SELECT ok((SELECT pgtrade.rsi(close, 14 ORDER BY ts) FROM spy WHERE n <= 14)
              IS NULL
          AND (SELECT pgtrade.rsi(close, 14) FROM spy WHERE false) IS NULL,
          'plain rsi over warm-up rows only, or over no row, is null');

------------------------------------------------------------------------
-- Frames.
------------------------------------------------------------------------
SELECT is((SELECT count(*)::int
             FROM (SELECT n,
                          pgtrade.sma(close, 10) OVER w AS sma10,
                          pgtrade.ema(close, 10) OVER w AS ema10,
                          pgtrade.rsi(close, 14) OVER w AS rsi14,
                          pgtrade.atr(high, low, close, 14) OVER w AS atr14
                     FROM spy
                   WINDOW w AS (ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING
                                AND CURRENT ROW)) x
             JOIN spy_agg g USING (n)
            WHERE x.sma10 IS NOT DISTINCT FROM g.sma10
              AND x.ema10 IS NOT DISTINCT FROM g.ema10
              AND x.rsi14 IS NOT DISTINCT FROM g.rsi14
              AND x.atr14 IS NOT DISTINCT FROM g.atr14),
          43, 'rows unbounded preceding gives the default frame''s values');
-- A moving frame is aggregated afresh for each row: sma(5) over the
-- current row and the 4 before it is their mean, once there are 5.
SELECT is((SELECT count(*)::int
             FROM (SELECT n,
                          pgtrade.sma(close, 5) OVER w AS got,
                          CASE WHEN n >= 5 THEN avg(close) OVER w END AS want
                     FROM spy
                   WINDOW w AS (ORDER BY ts ROWS BETWEEN 4 PRECEDING
                                AND CURRENT ROW)) x
            WHERE pg_temp.near(got, want, 1e-9)),
          43, 'sma(5) over a moving 5-row frame is the mean of the frame');
-- ema(3) over a moving 6-row frame is the EMA of those rows alone, seeded
-- at the frame's third row, not the running EMA of the whole series.
SELECT is((SELECT count(*)::int
             FROM (SELECT n, pgtrade.ema(close, 3)
                                 OVER (ORDER BY ts ROWS BETWEEN 5 PRECEDING
                                       AND CURRENT ROW) AS got
                     FROM spy) g
            WHERE pg_temp.near(g.got,
                               (SELECT (pgtrade.ema(array_agg(f.close
                                                              ORDER BY f.n),
                                                    3))[count(*)::int]
                                  FROM spy f
                                 WHERE f.n BETWEEN g.n - 5 AND g.n), 1e-9)),
          43, 'ema(3) over a moving 6-row frame is the ema of the frame alone');
SELECT is((SELECT count(*)::int
             FROM (SELECT pgtrade.sma(close, 10)
                              OVER (ORDER BY ts ROWS BETWEEN UNBOUNDED
                                    PRECEDING AND UNBOUNDED FOLLOWING) AS v
                     FROM spy) x
            WHERE abs(v - (SELECT avg(close) FROM spy WHERE n > 33)) < 1e-9),
          43, 'a frame to unbounded following gives every row the last value');
-- Rows 2 and 3 are peers (k = 2): the default range frame of either holds
-- all three rows, so both get the mean of 20 and 40, in either order.
SELECT is(ARRAY(SELECT pgtrade.sma(v, 2) OVER (ORDER BY k)
                  FROM (VALUES (1, 10.0), (2, 20), (2, 40)) AS t(k, v)
                 ORDER BY k, v),
          '{NULL,30,30}'::float8[],
          'peers under the default range frame share the value after them');
-- FILTER leaves rows out: the EMA(2) of 1, 3, 5 is seeded (1+3)/2 = 2 on
-- row 3, then (5-2)*2/3+2 = 4; the filtered row 2 still gets a value.
SELECT ok(pg_temp.near_all(
              ARRAY(SELECT pgtrade.ema(v, 2) FILTER (WHERE v IS NOT NULL)
                               OVER (ORDER BY n)
                      FROM (VALUES (1, 1.0), (2, NULL), (3, 3), (4, 5))
                           AS t(n, v)
                     ORDER BY n),
              '{NULL,NULL,2,4}'::float8[], 1e-12),
          'filter (where v is not null) skips rows without a value');

------------------------------------------------------------------------
-- Errors by SQLSTATE and message.
------------------------------------------------------------------------
SELECT throws_ok($$SELECT pgtrade.sma(v, 2) OVER (ORDER BY n)
                     FROM (VALUES (1, 1.0), (2, 2), (3, NULL)) AS t(n, v)$$,
                 '22004', 'argument "value" of pgtrade.sma must not be null',
                 'a null value is refused');
SELECT is(pg_temp.error_detail(
              $$SELECT pgtrade.sma(v, 2) OVER (ORDER BY n)
                  FROM (VALUES (1, 1.0), (2, 2), (3, NULL)) AS t(n, v)$$),
          'The value is null on row 3 of the aggregated rows.',
          'the null value is named by its row');
SELECT throws_ok($$SELECT pgtrade.atr(h, l, c, 2) OVER (ORDER BY n)
                     FROM (VALUES (1, 2.0, 1.0, 1.5), (2, 2, NULL, 1.5))
                          AS t(n, h, l, c)$$,
                 '22004', 'argument "low" of pgtrade.atr must not be null',
                 'atr names the null price');
SELECT throws_ok($$SELECT pgtrade.ema(v, 2) OVER (ORDER BY n)
                     FROM (VALUES (1, 1::float8), (2, 'NaN')) AS t(n, v)$$,
                 '22023', 'argument "value" of pgtrade.ema must be finite',
                 'NaN is refused');
SELECT throws_ok($$SELECT pgtrade.atr(h, 1, 1, 2 ORDER BY n)
                     FROM (VALUES (1, 2::float8), (2, 'Infinity')) AS t(n, h)$$,
                 '22023', 'argument "high" of pgtrade.atr must be finite',
                 'an infinite high is refused');
SELECT throws_ok($$SELECT pgtrade.rsi(v, 0) OVER (ORDER BY v)
                     FROM (VALUES (1.0), (2)) AS t(v)$$,
                 '22023', 'period must be between 1 and 100000',
                 'period 0 is refused');
SELECT throws_ok($$SELECT pgtrade.sma(v, 100001) OVER (ORDER BY v)
                     FROM (VALUES (1.0), (2)) AS t(v)$$,
                 '22023', 'period must be between 1 and 100000',
                 'a period above 100000 is refused');
-- 4294967299 = 2^32 + 3: refused whole, not read as 3.
SELECT throws_ok($$SELECT pgtrade.sma(v, 4294967299) OVER (ORDER BY v)
                     FROM (VALUES (1.0), (2), (3)) AS t(v)$$,
                 '22023', 'period must be between 1 and 100000',
                 'a period beyond the int range is refused, not truncated');
SELECT throws_ok($$SELECT pgtrade.ema(v, NULL) OVER (ORDER BY v)
                     FROM (VALUES (1.0), (2)) AS t(v)$$,
                 '22004', 'argument "period" of pgtrade.ema must not be null',
                 'a null period is refused');
SELECT throws_ok($$SELECT pgtrade.sma(v, p) OVER (ORDER BY v)
                     FROM (VALUES (1.0, 3), (2, 4)) AS t(v, p)$$,
                 '22023', 'period of pgtrade.sma must be the same on every row',
                 'a period that changes between rows is refused');
SELECT is(pg_temp.error_detail(
              $$SELECT pgtrade.sma(v, p) OVER (ORDER BY v)
                  FROM (VALUES (1.0, 3), (2, 4)) AS t(v, p)$$),
          'The first row aggregated gave 3 and row 2 gives 4.',
          'the changed period is named with its row');
SELECT throws_ok($$SELECT pgtrade.sma(v, 2) OVER (ORDER BY n)
                     FROM (VALUES (1, 1e308::float8), (2, 1e308)) AS t(n, v)$$,
                 '22003', 'indicator value out of range at row 2',
                 'an overflowing value is refused');
-- The overflow on row 2 is gone by row 4 (the window sum is recomputed
-- as 0 + 0), yet the plain aggregate refuses it like the array form does.
SELECT throws_ok($$SELECT pgtrade.sma(v, 2 ORDER BY n)
                     FROM (VALUES (1, 1e308::float8), (2, 1e308), (3, 0),
                                  (4, 0)) AS t(n, v)$$,
                 '22003', 'indicator value out of range at row 2',
                 'a plain aggregate refuses an overflow before its last row');

------------------------------------------------------------------------
-- WMA, STDDEV, ROC, OBV and SuperTrend on SPY: the array forms against
-- their definitions in plain SQL, and the window forms against the array
-- forms row for row.  SPY's volumes are not typed in above; a made-up
-- volume per session, (n * 37 mod 11 + 1) * 1000, serves for OBV.
------------------------------------------------------------------------
CREATE TEMP TABLE spy_more AS
SELECT u.n::int, u.wma10, u.sd20, u.roc10, u.obv, s.st, s.dir
  FROM (SELECT array_agg(high ORDER BY n) AS h, array_agg(low ORDER BY n) AS l,
               array_agg(close ORDER BY n) AS c,
               array_agg((n * 37 % 11 + 1) * 1000.0 ORDER BY n)::float8[] AS v
          FROM spy) a
 CROSS JOIN LATERAL pgtrade.supertrend(a.h, a.l, a.c, 10, 3) st
 CROSS JOIN LATERAL unnest(pgtrade.wma(a.c, 10), pgtrade.stddev(a.c, 20),
                           pgtrade.roc(a.c, 10), pgtrade.obv(a.c, a.v))
           WITH ORDINALITY AS u(wma10, sd20, roc10, obv, n)
 CROSS JOIN LATERAL (SELECT st.supertrend[u.n] AS st,
                            st.direction[u.n] AS dir) s;

SELECT ok((SELECT bool_and(pg_temp.near(m.wma10, f.want, 1e-9))
             FROM spy_more m
             JOIN (SELECT a.n, CASE WHEN a.n >= 10 THEN
                          (SELECT sum((10 - (a.n - b.n)) * b.close)
                             FROM spy b WHERE b.n BETWEEN a.n - 9 AND a.n) / 55
                          END AS want
                     FROM spy a) f USING (n)),
          'wma(10) on SPY: the sum of weights 1..10 times the closes, / 55');
SELECT ok((SELECT bool_and(pg_temp.near(m.sd20, f.want, 1e-9))
             FROM spy_more m
             JOIN (SELECT n, CASE WHEN n >= 20 THEN stddev_pop(close)
                                  OVER (ORDER BY n ROWS 19 PRECEDING) END AS want
                     FROM spy) f USING (n)),
          'stddev(20) on SPY is PostgreSQL''s stddev_pop over 20 rows');
SELECT ok((SELECT bool_and(pg_temp.near(m.roc10, f.want, 1e-9))
             FROM spy_more m
             JOIN (SELECT n, (close / lag(close, 10) OVER (ORDER BY n) - 1) * 100
                             AS want
                     FROM spy) f USING (n)),
          'roc(10) on SPY: (close / close 10 sessions before - 1) * 100');
SELECT ok((SELECT bool_and(m.obv = f.want)
             FROM spy_more m
             JOIN (SELECT n, sum(CASE WHEN n = 1 THEN v
                                      ELSE sign(close - prev) * v END)
                             OVER (ORDER BY n) AS want
                     FROM (SELECT n, close, (n * 37 % 11 + 1) * 1000.0 AS v,
                                  lag(close) OVER (ORDER BY n) AS prev
                             FROM spy) x) f USING (n)),
          'obv on SPY: the first volume plus the signed volumes after it');

-- SuperTrend(10, 3) by its rules, one bar at a time, on atr(10)
CREATE FUNCTION pg_temp.supertrend_by_rules(p_mult float8)
RETURNS TABLE (n int, st float8, dir int) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    b record;
    v_atr float8[];
    v_lower float8;
    v_upper float8;
    v_lo float8;
    v_up float8;
    v_dir int;
    v_prev float8;
BEGIN
    v_atr := pgtrade.atr((SELECT array_agg(high ORDER BY n) FROM spy),
                         (SELECT array_agg(low ORDER BY n) FROM spy),
                         (SELECT array_agg(close ORDER BY n) FROM spy), 10);
    FOR b IN SELECT * FROM spy ORDER BY spy.n LOOP
        n := b.n;
        st := NULL;
        dir := NULL;
        IF v_atr[b.n] IS NOT NULL THEN
            v_lo := (b.high + b.low) / 2 - p_mult * v_atr[b.n];
            v_up := (b.high + b.low) / 2 + p_mult * v_atr[b.n];
            IF v_dir IS NULL THEN
                v_dir := CASE WHEN b.close < v_lo THEN -1 ELSE 1 END;
            ELSE
                IF v_prev > v_lower THEN v_lo := greatest(v_lo, v_lower); END IF;
                IF v_prev < v_upper THEN v_up := least(v_up, v_upper); END IF;
                IF v_dir = -1 AND b.close > v_upper THEN
                    v_dir := 1;
                ELSIF v_dir = 1 AND b.close < v_lower THEN
                    v_dir := -1;
                END IF;
            END IF;
            v_lower := v_lo;
            v_upper := v_up;
            st := CASE WHEN v_dir = 1 THEN v_lower ELSE v_upper END;
            dir := v_dir;
        END IF;
        v_prev := b.close;
        RETURN NEXT;
    END LOOP;
END
$$;
SELECT ok((SELECT bool_and(pg_temp.near(m.st, r.st, 1e-9)
                           AND m.dir IS NOT DISTINCT FROM r.dir)
             FROM spy_more m JOIN pg_temp.supertrend_by_rules(3) r USING (n)),
          'supertrend(10, 3) on SPY follows its rules bar by bar');
SELECT ok((SELECT count(DISTINCT dir) FROM spy_more WHERE dir IS NOT NULL) = 2,
          'and SPY''s autumn of 2008 turns it both ways');

-- the window forms: the array forms' values, row for row, exactly
SELECT results_eq(
    $$SELECT n, pgtrade.wma(close, 10) OVER w, pgtrade.stddev(close, 20) OVER w,
             pgtrade.roc(close, 10) OVER w,
             pgtrade.obv(close, (n * 37 % 11 + 1) * 1000.0) OVER w,
             pgtrade.supertrend(high, low, close, 10, 3) OVER w,
             pgtrade.supertrend_direction(high, low, close, 10, 3) OVER w
        FROM spy WINDOW w AS (ORDER BY n) ORDER BY n$$,
    $$SELECT n, wma10, sd20, roc10, obv, st, dir FROM spy_more ORDER BY n$$,
    'wma, stddev, roc, obv, supertrend and its direction as window '
    'functions equal the array forms on every SPY session');
SELECT throws_ok($$SELECT pgtrade.supertrend(high, low, close, 10, n)
                           OVER (ORDER BY n) FROM spy$$,
                 '22023', 'multiplier of pgtrade.supertrend must be the same on every row',
                 'the window supertrend refuses a multiplier that changes');
SELECT throws_ok($$SELECT pgtrade.obv(close, NULL) OVER (ORDER BY n) FROM spy$$,
                 '22004', 'argument "volume" of pgtrade.obv must not be null',
                 'the window obv refuses a null volume');

-- MACD and Bollinger as window functions: the array forms' values
SELECT results_eq(
    $$SELECT n, (pgtrade.macd(close, 5, 12, 4) OVER w).*,
             (pgtrade.bollinger(close, 20, 2) OVER w).*
        FROM spy WINDOW w AS (ORDER BY n) ORDER BY n$$,
    $$SELECT u.n::int, u.m, u.s, u.h, u.up, u.mid, u.lo
        FROM (SELECT array_agg(close ORDER BY n) AS c FROM spy) a
       CROSS JOIN LATERAL pgtrade.macd(a.c, 5, 12, 4) m
       CROSS JOIN LATERAL pgtrade.bollinger(a.c, 20, 2) b
       CROSS JOIN LATERAL unnest(m.macd, m.signal, m.hist, b.upper, b.middle,
                                 b.lower)
            WITH ORDINALITY AS u(m, s, h, up, mid, lo, n)
       ORDER BY n$$,
    'macd and bollinger as window functions equal the array forms on every '
    'SPY session, NULLs where the array forms have none');
SELECT throws_ok($$SELECT pgtrade.macd(close, 12, 5, 4) OVER (ORDER BY n)
                     FROM spy$$,
                 '22023', 'fast period must be less than slow period',
                 'the window macd refuses fast >= slow');
SELECT throws_ok($$SELECT pgtrade.bollinger(close, 20, n) OVER (ORDER BY n)
                     FROM spy$$,
                 '22023', 'k of pgtrade.bollinger must be the same on every row',
                 'the window bollinger refuses a k that changes');

SELECT * FROM finish();
ROLLBACK;
