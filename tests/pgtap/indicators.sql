-- tests/pgtap/indicators.sql: the indicator functions and the built-in
-- strategy kind sma_cross (validator and evaluator).
--
-- Expected values are computed independently: by hand (the arithmetic is
-- in the comments), or inside SQL from the definitions, with window
-- aggregates and recursive CTEs written from the formulas, on 60 real SPY
-- sessions typed in from shared/data/SPY_1d.csv (2008-07-01 to 2008-09-24;
-- Yahoo Finance daily bars as republished by matplotlib/mplfinance).
\ir preamble.psql
SELECT plan(103);

SET LOCAL timezone = 'UTC';

-- The 60 SPY sessions: n, date, high, low, close.
CREATE TEMP TABLE spy (n int PRIMARY KEY, ts timestamptz, high float8,
                       low float8, close float8);
INSERT INTO spy VALUES
    (1, '2008-07-01', 128.470001, 125.930000, 128.380005),
    (2, '2008-07-02', 129.160004, 125.949997, 126.180000),
    (3, '2008-07-03', 127.110001, 124.989998, 126.309998),
    (4, '2008-07-07', 127.339996, 123.919998, 125.019997),
    (5, '2008-07-08', 127.389999, 124.199997, 127.239998),
    (6, '2008-07-09', 127.739998, 124.389999, 124.790001),
    (7, '2008-07-10', 125.790001, 123.580002, 125.300003),
    (8, '2008-07-11', 125.900002, 122.489998, 123.839996),
    (9, '2008-07-14', 125.500000, 122.400002, 122.720001),
    (10, '2008-07-15', 123.489998, 120.019997, 120.989998),
    (11, '2008-07-16', 124.570000, 121.099998, 123.959999),
    (12, '2008-07-17', 126.260002, 124.089996, 125.199997),
    (13, '2008-07-18', 126.419998, 125.150002, 125.980003),
    (14, '2008-07-21', 126.800003, 125.190002, 126.050003),
    (15, '2008-07-22', 127.800003, 124.849998, 127.480003),
    (16, '2008-07-23', 129.149994, 127.550003, 128.169998),
    (17, '2008-07-24', 128.410004, 125.160004, 125.510002),
    (18, '2008-07-25', 126.489998, 125.169998, 125.480003),
    (19, '2008-07-28', 126.059998, 123.419998, 123.639999),
    (20, '2008-07-29', 126.379997, 123.639999, 126.279999),
    (21, '2008-07-30', 128.600006, 126.279999, 128.529999),
    (22, '2008-07-31', 128.570007, 126.629997, 126.830002),
    (23, '2008-08-01', 127.279999, 125.459999, 126.160004),
    (24, '2008-08-04', 126.139999, 124.760002, 124.989998),
    (25, '2008-08-05', 128.559998, 124.970001, 128.360001),
    (26, '2008-08-06', 129.300003, 127.480003, 128.929993),
    (27, '2008-08-07', 128.440002, 126.540001, 127.010002),
    (28, '2008-08-08', 129.929993, 126.379997, 129.369995),
    (29, '2008-08-11', 131.509995, 129.229996, 130.710007),
    (30, '2008-08-12', 130.699997, 128.729996, 129.350006),
    (31, '2008-08-13', 129.649994, 127.669998, 128.570007),
    (32, '2008-08-14', 130.279999, 127.750000, 129.539993),
    (33, '2008-08-15', 130.500000, 129.300003, 130.169998),
    (34, '2008-08-18', 130.479996, 127.660004, 128.389999),
    (35, '2008-08-19', 127.690002, 126.529999, 126.989998),
    (36, '2008-08-20', 127.949997, 126.339996, 127.580002),
    (37, '2008-08-21', 128.440002, 126.599998, 127.800003),
    (38, '2008-08-22', 129.649994, 127.800003, 129.649994),
    (39, '2008-08-25', 129.649994, 126.750000, 127.019997),
    (40, '2008-08-26', 127.870003, 126.580002, 127.389999),
    (41, '2008-08-27', 128.830002, 127.300003, 128.630005),
    (42, '2008-08-28', 130.339996, 129.110001, 130.190002),
    (43, '2008-08-29', 130.139999, 128.509995, 128.789993),
    (44, '2008-09-02', 130.710007, 127.519997, 127.989998),
    (45, '2008-09-03', 128.500000, 126.930000, 127.879997),
    (46, '2008-09-04', 127.230003, 123.959999, 124.029999),
    (47, '2008-09-05', 124.949997, 122.000000, 124.419998),
    (48, '2008-09-08', 128.240005, 124.419998, 126.989998),
    (49, '2008-09-09', 127.360001, 122.800003, 123.220001),
    (50, '2008-09-10', 124.900002, 122.550003, 123.720001),
    (51, '2008-09-11', 125.739998, 121.599998, 125.510002),
    (52, '2008-09-12', 126.209999, 123.830002, 126.089996),
    (53, '2008-09-15', 125.650002, 119.889999, 120.089996),
    (54, '2008-09-16', 122.320000, 117.000000, 122.099998),
    (55, '2008-09-17', 121.849998, 116.000000, 116.610001),
    (56, '2008-09-18', 121.790001, 113.800003, 120.070000),
    (57, '2008-09-19', 128.000000, 123.330002, 124.120003),
    (58, '2008-09-22', 124.750000, 120.360001, 121.309998),
    (59, '2008-09-23', 122.019997, 118.279999, 118.550003),
    (60, '2008-09-24', 120.000000, 117.790001, 118.930000);

-- True when got and want have the same length, the same NULL positions
-- and values within tol of each other.
CREATE FUNCTION pg_temp.agrees(got float8[], want float8[], tol float8)
RETURNS boolean LANGUAGE sql AS $$
    SELECT cardinality(got) = cardinality(want)
       AND bool_and(CASE WHEN w IS NULL THEN g IS NULL
                         ELSE g IS NOT NULL AND abs(g - w) <= tol END)
      FROM unnest(got, want) AS u(g, w)
$$;

-- The closes as one array, and a NULL-padded array from (n, v) rows.
CREATE TEMP VIEW spy_close AS
    SELECT array_agg(close ORDER BY n) AS a FROM spy;

------------------------------------------------------------------------
-- The functions exist with the documented signatures and volatility.
------------------------------------------------------------------------
SELECT has_function('pgtrade', 'sma', ARRAY['double precision[]', 'integer'],
                    'sma(float8[], int) exists');
SELECT has_function('pgtrade', 'ema', ARRAY['double precision[]', 'integer'],
                    'ema(float8[], int) exists');
SELECT has_function('pgtrade', 'rsi', ARRAY['double precision[]', 'integer'],
                    'rsi(float8[], int) exists');
SELECT has_function('pgtrade', 'macd',
                    ARRAY['double precision[]', 'integer', 'integer',
                          'integer'],
                    'macd(float8[], int, int, int) exists');
SELECT has_function('pgtrade', 'bollinger',
                    ARRAY['double precision[]', 'integer',
                          'double precision'],
                    'bollinger(float8[], int, float8) exists');
SELECT has_function('pgtrade', 'atr',
                    ARRAY['double precision[]', 'double precision[]',
                          'double precision[]', 'integer'],
                    'atr(float8[], float8[], float8[], int) exists');
SELECT has_function('pgtrade', 'sma_cross_validate', ARRAY['jsonb'],
                    'sma_cross_validate(jsonb) exists');
SELECT has_function('pgtrade', 'sma_cross_eval',
                    ARRAY['jsonb', 'timestamp with time zone[]',
                          'double precision[]', 'double precision[]',
                          'double precision[]', 'double precision[]',
                          'double precision[]'],
                    'sma_cross_eval(jsonb, timestamptz[], float8[] x 5) exists');
SELECT volatility_is('pgtrade', 'sma',
                     ARRAY['double precision[]', 'integer'], 'immutable',
                     'sma is immutable');
SELECT volatility_is('pgtrade', 'sma_cross_eval',
                     ARRAY['jsonb', 'timestamp with time zone[]',
                           'double precision[]', 'double precision[]',
                           'double precision[]', 'double precision[]',
                           'double precision[]'], 'stable',
                     'sma_cross_eval is stable (it prints dates)');
SELECT is(obj_description('pgtrade.macd(float8[], int, int, int)'::regprocedure,
                          'pg_proc') IS NOT NULL, true, 'macd has a comment');

------------------------------------------------------------------------
-- Hand computations on small series.
------------------------------------------------------------------------
-- (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+5)/3 = 4.
SELECT is(pgtrade.sma('{1,2,3,4,5}', 3), '{NULL,NULL,2,3,4}'::float8[],
          'sma(3) by hand, null warm-up');
SELECT is(pgtrade.sma(series => '[0:4]={1,2,3,4,5}', period => 3),
          '{NULL,NULL,2,3,4}'::float8[],
          'sma of an array with lower bound 0, named notation');
SELECT is(array_lower(pgtrade.sma('[0:4]={1,2,3,4,5}', 3), 1), 1,
          'output lower bound is 1');
SELECT is(pgtrade.sma('{}', 3), '{}'::float8[], 'sma of an empty array');
SELECT is(pgtrade.sma('{1,2}', 3), '{NULL,NULL}'::float8[],
          'sma of fewer values than the period is all null');
SELECT is(pgtrade.sma('{1.5,2,-3}', 1), '{1.5,2,-3}'::float8[],
          'sma(1) is the series');
-- k = 0.5: seed (2+4+6)/3 = 4; (8-4)*0.5+4 = 6; (4-6)*0.5+6 = 5.
SELECT is(pgtrade.ema('{2,4,6,8,4}', 3), '{NULL,NULL,4,6,5}'::float8[],
          'ema(3) by hand, seeded with the sma');
-- Changes +1, -0.5, +1; gain 0.5, loss 0.25 -> 200/3; then gain 0.75,
-- loss 0.125 -> 600/7.
SELECT ok(pg_temp.agrees(pgtrade.rsi('{1,2,1.5,2.5}', 2),
                         ARRAY[NULL, NULL, 200.0 / 3, 600.0 / 7]::float8[],
                         1e-12),
          'rsi(2) by hand');
SELECT is(pgtrade.rsi('{5,5,5,5,5}', 3), '{NULL,NULL,NULL,0,0}'::float8[],
          'rsi of a flat series is 0 (TA-Lib)');
-- fast 2, slow 3, signal 2 on 1,2,4,8,16.  Slow EMA: 7/3, 31/6, 127/12.
-- Fast EMA seeded at the slow seed with (2+4)/2: 3, 19/3, 115/9.
-- Line 2/3, 7/6, 79/36; signal 11/12, 191/108; hist 1/4, 23/54.
SELECT ok(pg_temp.agrees(m.macd,
                         ARRAY[NULL, NULL, 2.0 / 3, 7.0 / 6,
                               79.0 / 36]::float8[], 1e-12)
          AND pg_temp.agrees(m.signal,
                             ARRAY[NULL, NULL, NULL, 11.0 / 12,
                                   191.0 / 108]::float8[], 1e-12)
          AND pg_temp.agrees(m.hist,
                             ARRAY[NULL, NULL, NULL, 0.25,
                                   23.0 / 54]::float8[], 1e-12),
          'macd(2,3,2) by hand, fast ema seeded on the slow seed bar')
  FROM pgtrade.macd('{1,2,4,8,16}', 2, 3, 2) AS m;
-- Window 1,2,3: mean 2, variance 2/3; window 3,4,8: mean 5, variance 14/3.
SELECT ok(pg_temp.agrees(b.upper,
                         ARRAY[NULL, NULL, 2 + 2 * sqrt(2.0 / 3),
                               3 + 2 * sqrt(2.0 / 3),
                               5 + 2 * sqrt(14.0 / 3)]::float8[], 1e-12)
          AND b.middle = '{NULL,NULL,2,3,5}'::float8[]
          AND pg_temp.agrees(b.lower,
                             ARRAY[NULL, NULL, 2 - 2 * sqrt(2.0 / 3),
                                   3 - 2 * sqrt(2.0 / 3),
                                   5 - 2 * sqrt(14.0 / 3)]::float8[], 1e-12),
          'bollinger(3,2) by hand, population deviation')
  FROM pgtrade.bollinger('{1,2,3,4,8}', 3, 2) AS b;
-- True ranges 2, 1, 4 (the last bar gaps up from 10 to 13..14);
-- ATR(2) = (2+1)/2 = 1.5, then (1.5*1+4)/2 = 2.75.
SELECT is(pgtrade.atr('{10,11,10.5,14}', '{8,9,9.5,13}', '{9,10,10,13.5}', 2),
          '{NULL,NULL,1.5,2.75}'::float8[], 'atr(2) by hand');

------------------------------------------------------------------------
-- Errors by SQLSTATE and message.
------------------------------------------------------------------------
SELECT throws_ok($$SELECT pgtrade.sma('{1,NULL,3}', 2)$$, '22004',
                 'array "series" must not contain nulls',
                 'a null element is refused');
SELECT is(pg_temp.error_detail($$SELECT pgtrade.ema('{1,2,NULL}', 2)$$),
          'The element at subscript 3 is null.',
          'the null element is named by its subscript');
SELECT throws_ok($$SELECT pgtrade.rsi('{{1,2},{3,4}}', 2)$$, '2202E',
                 'array "series" must be one-dimensional',
                 'a two-dimensional array is refused');
SELECT throws_ok($$SELECT pgtrade.sma('{1,2,3}', 0)$$, '22023',
                 'period must be between 1 and 100000',
                 'period 0 is refused');
SELECT throws_ok($$SELECT pgtrade.ema('{1,2,3}', 100001)$$, '22023',
                 'period must be between 1 and 100000',
                 'a period above 100000 is refused');
SELECT throws_ok($$SELECT pgtrade.sma('{1,NaN,3}', 2)$$, '22023',
                 'array "series" must contain only finite values',
                 'NaN is refused');
SELECT throws_ok($$SELECT pgtrade.rsi('{1,Infinity,3}', 2)$$, '22023',
                 'array "series" must contain only finite values',
                 'infinity is refused');
SELECT throws_ok($$SELECT pgtrade.sma('{1e308,1e308}', 2)$$, '22003',
                 'indicator value out of range at position 2',
                 'an overflowing result is refused');
SELECT throws_ok($$SELECT pgtrade.macd('{1,2,3}', 3, 3, 2)$$, '22023',
                 'fast period must be less than slow period',
                 'macd with fast equal to slow is refused');
SELECT throws_ok($$SELECT pgtrade.macd('{1,2,3}', 2, 3, 0)$$, '22023',
                 'signal period must be between 1 and 100000',
                 'macd with signal period 0 is refused');
SELECT throws_ok($$SELECT pgtrade.bollinger('{1,2,3}', 2, -1)$$, '22023',
                 'k must be a finite number of at least 0',
                 'bollinger with a negative k is refused');
SELECT throws_ok($$SELECT pgtrade.atr('{1,2}', '{1}', '{1,2}', 1)$$, '22023',
                 'arrays "high", "low" and "close" must have the same length',
                 'atr with arrays of different lengths is refused');

------------------------------------------------------------------------
-- Real closes, against independent computations in SQL.
------------------------------------------------------------------------
-- SMA(10) = avg over the current row and the 9 before it.
SELECT ok(pg_temp.agrees(
            (SELECT pgtrade.sma(a, 10) FROM spy_close),
            (SELECT array_agg(CASE WHEN n >= 10 THEN m END ORDER BY n)
               FROM (SELECT n, avg(close) OVER (ORDER BY n ROWS BETWEEN 9
                                                PRECEDING AND CURRENT ROW) m
                       FROM spy) w),
            1e-9),
          'sma(10) of spy matches avg() over a 10-row window');

-- EMA(10): seed = mean of closes 1..10 at n = 10, then (x-prev)*2/11+prev.
SELECT ok(pg_temp.agrees(
            (SELECT pgtrade.ema(a, 10) FROM spy_close),
            (WITH RECURSIVE e(n, v) AS (
                 SELECT 10, (SELECT avg(close) FROM spy WHERE n <= 10)
                 UNION ALL
                 SELECT s.n, (s.close - e.v) * (2.0::float8 / 11) + e.v
                   FROM e JOIN spy s ON s.n = e.n + 1)
             SELECT array_agg(e.v ORDER BY s.n)
               FROM spy s LEFT JOIN e USING (n)),
            1e-9),
          'ema(10) of spy matches a recursive cte of the formula');

-- RSI(14): Wilder averages of gains and losses, first at n = 15.
SELECT ok(pg_temp.agrees(
            (SELECT pgtrade.rsi(a, 14) FROM spy_close),
            (WITH RECURSIVE d AS (
                 SELECT n, close - lag(close) OVER (ORDER BY n) AS ch
                   FROM spy),
             r(n, g, l) AS (
                 SELECT 15,
                        (SELECT sum(greatest(ch, 0)) FROM d
                          WHERE n BETWEEN 2 AND 15) / 14,
                        (SELECT sum(greatest(-ch, 0)) FROM d
                          WHERE n BETWEEN 2 AND 15) / 14
                 UNION ALL
                 SELECT d.n, (r.g * 13 + greatest(d.ch, 0)) / 14,
                        (r.l * 13 + greatest(-d.ch, 0)) / 14
                   FROM r JOIN d ON d.n = r.n + 1)
             SELECT array_agg(100 * r.g / (r.g + r.l) ORDER BY s.n)
               FROM spy s LEFT JOIN r USING (n)),
            1e-9),
          'rsi(14) of spy matches a recursive cte of wilder smoothing');

-- MACD(12,26,9): both EMAs start at n = 26, the fast one seeded with the
-- mean of closes 15..26; signal = EMA(9) of the line from n = 34.
CREATE TEMP TABLE macd_ref AS
WITH RECURSIVE m(n, fe, se) AS (
    SELECT 26, (SELECT avg(close) FROM spy WHERE n BETWEEN 15 AND 26),
           (SELECT avg(close) FROM spy WHERE n BETWEEN 1 AND 26)
    UNION ALL
    SELECT s.n, (s.close - m.fe) * (2.0::float8 / 13) + m.fe,
           (s.close - m.se) * (2.0::float8 / 27) + m.se
      FROM m JOIN spy s ON s.n = m.n + 1),
line AS (SELECT n, fe - se AS v FROM m),
sig(n, v) AS (
    SELECT 34, (SELECT avg(v) FROM line WHERE n BETWEEN 26 AND 34)
    UNION ALL
    SELECT l.n, (l.v - sig.v) * (2.0::float8 / 10) + sig.v
      FROM sig JOIN line l ON l.n = sig.n + 1)
SELECT s.n, line.v AS line, sig.v AS signal, line.v - sig.v AS hist
  FROM spy s LEFT JOIN line USING (n) LEFT JOIN sig USING (n);

SELECT ok(pg_temp.agrees(m.macd,
                         (SELECT array_agg(line ORDER BY n) FROM macd_ref),
                         1e-9),
          'macd(12,26,9) line of spy matches a recursive cte')
  FROM spy_close, pgtrade.macd(a, 12, 26, 9) AS m;
SELECT ok(pg_temp.agrees(m.signal,
                         (SELECT array_agg(signal ORDER BY n) FROM macd_ref),
                         1e-9)
          AND pg_temp.agrees(m.hist,
                             (SELECT array_agg(hist ORDER BY n)
                                FROM macd_ref), 1e-9),
          'macd(12,26,9) signal and histogram of spy match a recursive cte')
  FROM spy_close, pgtrade.macd(a, 12, 26, 9) AS m;

-- Bollinger(20, 2): avg and stddev_pop over a 20-row window.
SELECT ok(pg_temp.agrees(b.upper,
                         (SELECT array_agg(CASE WHEN n >= 20
                                                THEN m + 2 * sd END
                                           ORDER BY n)
                            FROM (SELECT n, avg(close) OVER w AS m,
                                         stddev_pop(close) OVER w AS sd
                                    FROM spy
                                  WINDOW w AS (ORDER BY n ROWS BETWEEN 19
                                               PRECEDING AND CURRENT ROW)) x),
                         1e-9)
          AND pg_temp.agrees(b.lower,
                             (SELECT array_agg(CASE WHEN n >= 20
                                                    THEN m - 2 * sd END
                                               ORDER BY n)
                                FROM (SELECT n, avg(close) OVER w AS m,
                                             stddev_pop(close) OVER w AS sd
                                        FROM spy
                                      WINDOW w AS (ORDER BY n ROWS BETWEEN 19
                                               PRECEDING AND CURRENT ROW)) x),
                             1e-9),
          'bollinger(20,2) of spy matches avg() and stddev_pop()')
  FROM spy_close, pgtrade.bollinger(a, 20, 2) AS b;

-- ATR(14): true range from lag(close), first ATR at n = 15 = mean of the
-- true ranges of n = 2..15, then Wilder smoothing.
SELECT ok(pg_temp.agrees(
            (SELECT pgtrade.atr(array_agg(high ORDER BY n),
                                array_agg(low ORDER BY n),
                                array_agg(close ORDER BY n), 14) FROM spy),
            (WITH RECURSIVE t AS (
                 SELECT n, greatest(high - low,
                                    abs(lag(close) OVER w - high),
                                    abs(lag(close) OVER w - low)) AS tr
                   FROM spy WINDOW w AS (ORDER BY n)),
             r(n, v) AS (
                 SELECT 15, (SELECT avg(tr) FROM t WHERE n BETWEEN 2 AND 15)
                 UNION ALL
                 SELECT t.n, (r.v * 13 + t.tr) / 14
                   FROM r JOIN t ON t.n = r.n + 1)
             SELECT array_agg(r.v ORDER BY s.n)
               FROM spy s LEFT JOIN r USING (n)),
            1e-9),
          'atr(14) of spy matches a recursive cte of wilder smoothing');

------------------------------------------------------------------------
-- sma_cross_validate.
------------------------------------------------------------------------
SELECT is(pgtrade.sma_cross_validate('{"fast": 10, "slow": 30}'), 31,
          'sma_cross needs slow + 1 bars');
SELECT is(pgtrade.sma_cross_validate('{"fast": 1, "slow": 10000}'), 10001,
          'sma_cross accepts the widest periods');
SELECT throws_ok($$SELECT pgtrade.sma_cross_validate('[10, 30]')$$, '22023',
                 'invalid parameters for strategy kind "sma_cross"',
                 'sma_cross params must be an object');
SELECT is(pg_temp.error_detail(
              $$SELECT pgtrade.sma_cross_validate('{"fast": 10, "slow": 30,
                                                    "stop": 2}')$$),
          'Key "stop" is not allowed; the only keys are "fast" and "slow".',
          'sma_cross refuses an unknown key and names it');
SELECT is(pg_temp.error_detail(
              $$SELECT pgtrade.sma_cross_validate('{"fast": 10}')$$),
          'Key "slow" is missing.', 'sma_cross names a missing key');
SELECT is(pg_temp.error_detail(
              $$SELECT pgtrade.sma_cross_validate(
                    '{"fast": 2.5, "slow": 30}')$$),
          'Key "fast" must be an integer, got 2.5.',
          'sma_cross refuses a fractional period');
SELECT is(pg_temp.error_detail(
              $$SELECT pgtrade.sma_cross_validate(
                    '{"fast": "2", "slow": 30}')$$),
          'Key "fast" must be an integer, got a string.',
          'sma_cross refuses a period given as a string');
SELECT is(pg_temp.error_detail(
              $$SELECT pgtrade.sma_cross_validate(
                    '{"fast": 30, "slow": 30}')$$),
          'Key "fast" (30) must be less than key "slow" (30).',
          'sma_cross refuses fast equal to slow');
SELECT throws_ok($$SELECT pgtrade.sma_cross_validate(
                       '{"fast": 5, "slow": 10001}')$$,
                 '22023', 'invalid parameters for strategy kind "sma_cross"',
                 'sma_cross refuses slow above 10000');
SELECT throws_ok($$SELECT pgtrade.sma_cross_validate(
                       '{"fast": 0, "slow": 3}')$$,
                 '22023', 'invalid parameters for strategy kind "sma_cross"',
                 'sma_cross refuses fast 0');

------------------------------------------------------------------------
-- sma_cross_eval on a hand-made series.
--
-- closes   10  10  10   9   8   9  11   (2008-09-02 .. 2008-09-10)
-- SMA(2)    -  10  10 9.5 8.5 8.5  10
-- SMA(3)    -   -  10 29/3  9 26/3 28/3
-- relation         eq  below below below above
------------------------------------------------------------------------
CREATE TEMP TABLE hand (n int, ts timestamptz, close float8);
INSERT INTO hand VALUES (1, '2008-09-02', 10), (2, '2008-09-03', 10),
    (3, '2008-09-04', 10), (4, '2008-09-05', 9), (5, '2008-09-08', 8),
    (6, '2008-09-09', 9), (7, '2008-09-10', 11);

CREATE FUNCTION pg_temp.hand_eval(bars int) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT pgtrade.sma_cross_eval('{"fast": 2, "slow": 3}',
                                  array_agg(ts ORDER BY n),
                                  array_agg(close ORDER BY n),
                                  array_agg(close ORDER BY n),
                                  array_agg(close ORDER BY n),
                                  array_agg(close ORDER BY n),
                                  array_agg(close ORDER BY n))
      FROM pg_temp.hand WHERE n <= bars
$$;

SELECT is(pg_temp.hand_eval(7) - 'reason' - 'values',
          '{"target": 1, "signal": "long", "crossed": true}'::jsonb,
          'cross above on the last bar: long');
SELECT is(pg_temp.hand_eval(7) ->> 'reason',
          'fast SMA(2) 10.0000 crossed above slow SMA(3) 9.3333 on the last bar (2008-09-10)',
          'reason of the cross above');
SELECT ok((v ->> 'fast')::float8 = 10 AND (v ->> 'fast_prev')::float8 = 8.5
          AND abs((v ->> 'slow')::float8 - 28.0 / 3) < 1e-12
          AND abs((v ->> 'slow_prev')::float8 - 26.0 / 3) < 1e-12
          AND (v ->> 'last_close')::float8 = 11
          AND (v ->> 'last_ts')::timestamptz = '2008-09-10'
          AND (v -> 'fast_period') = '2' AND (v -> 'slow_period') = '3',
          'values of the cross above')
  FROM (SELECT pg_temp.hand_eval(7) -> 'values' AS v) x;
SELECT is(pg_temp.hand_eval(6) - 'reason' - 'values',
          '{"target": 0, "signal": "flat", "crossed": false}'::jsonb,
          'below for two bars: flat, no cross');
SELECT is(pg_temp.hand_eval(6) ->> 'reason',
          'fast SMA(2) 8.5000 is below slow SMA(3) 8.6667 (crossed below on 2008-09-05)',
          'reason names the bar where the regime began');
SELECT is(pg_temp.hand_eval(4) -> 'crossed', 'true'::jsonb,
          'leaving equality on the last bar is a cross');
SELECT is(pg_temp.hand_eval(3) - 'reason' - 'values',
          '{"target": null, "signal": "none", "crossed": false}'::jsonb,
          'three bars are too few for slow 3');
SELECT is(pg_temp.hand_eval(3) ->> 'reason',
          'not enough bars: fast SMA(2) and slow SMA(3) need 4 bars, 3 given',
          'reason of too few bars');
SELECT is(pgtrade.sma_cross_eval('{"fast": 1, "slow": 3}',
                                 '{2008-09-01,2008-09-02,2008-09-03,
                                   2008-09-04}',
                                 '{0.1,0.1,0.1,0.1}', '{0.1,0.1,0.1,0.1}',
                                 '{0.1,0.1,0.1,0.1}', '{0.1,0.1,0.1,0.1}',
                                 '{1,1,1,1}') -> 'target',
          'null'::jsonb, 'equal averages of a flat series give no target');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.hand_eval(7)) ORDER BY 1),
          ARRAY['crossed', 'reason', 'signal', 'target', 'values'],
          'evaluator result keys');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.hand_eval(7) -> 'values')
                 ORDER BY 1),
          ARRAY['crossed', 'fast', 'fast_period', 'fast_prev', 'last_close',
                'last_ts', 'slow', 'slow_period', 'slow_prev'],
          'evaluator values keys');

------------------------------------------------------------------------
-- sma_cross_eval on the real closes, against window averages in SQL.
------------------------------------------------------------------------
CREATE TEMP TABLE cross_ref AS
SELECT n, ts, f, s, sign(f - s) AS rel
  FROM (SELECT n, ts,
               avg(close) OVER (ORDER BY n ROWS BETWEEN 4 PRECEDING
                                AND CURRENT ROW) AS f,
               avg(close) OVER (ORDER BY n ROWS BETWEEN 19 PRECEDING
                                AND CURRENT ROW) AS s
          FROM spy) w
 WHERE n >= 20;

SELECT is(pgtrade.sma_cross_eval('{"fast": 5, "slow": 20}',
                                 array_agg(ts ORDER BY n),
                                 array_agg(close ORDER BY n),
                                 array_agg(high ORDER BY n),
                                 array_agg(low ORDER BY n),
                                 array_agg(close ORDER BY n),
                                 array_agg(close ORDER BY n)) ->> 'reason',
          (SELECT format('fast SMA(5) %s is %s slow SMA(20) %s '
                         '(crossed %s on %s)',
                         to_char(l.f, 'FM9990.0000'),
                         CASE WHEN l.rel > 0 THEN 'above' ELSE 'below' END,
                         to_char(l.s, 'FM9990.0000'),
                         CASE WHEN l.rel > 0 THEN 'above' ELSE 'below' END,
                         to_char((SELECT min(ts) FROM cross_ref c
                                   WHERE c.n > (SELECT max(n) FROM cross_ref
                                                 WHERE rel <> l.rel)),
                                 'YYYY-MM-DD'))
             FROM cross_ref l WHERE l.n = 60),
          'sma_cross(5,20) on spy agrees with window averages')
  FROM spy;

------------------------------------------------------------------------
-- sma_cross_eval input errors.
------------------------------------------------------------------------
SELECT throws_ok($$SELECT pgtrade.sma_cross_eval('{"fast": 1, "slow": 2}',
                       '{2008-09-01,2008-09-02}', '{1,2}', '{1,2}', '{1,2}',
                       '{1,2,3}', '{1,2}')$$,
                 '22023', 'bar arrays must have the same length',
                 'sma_cross_eval refuses arrays of different lengths');
SELECT throws_ok($$SELECT pgtrade.sma_cross_eval('{"fast": 1, "slow": 2}',
                       '{2008-09-01,2008-09-02}', '{1,2}', '{1,2}', '{1,2}',
                       '{1,NULL}', '{1,2}')$$,
                 '22004', 'array "close" must not contain nulls',
                 'sma_cross_eval refuses a null close');
SELECT throws_ok($$SELECT pgtrade.sma_cross_eval('{"fast": 1, "slow": 2}',
                       '{2008-09-02,2008-09-01}', '{1,2}', '{1,2}', '{1,2}',
                       '{1,2}', '{1,2}')$$,
                 '22023', 'array "ts" must be strictly increasing',
                 'sma_cross_eval refuses timestamps out of order');
SELECT throws_ok($$SELECT pgtrade.sma_cross_eval('{"fast": 2, "slow": 1}',
                       '{2008-09-01}', '{1}', '{1}', '{1}', '{1}', '{1}')$$,
                 '22023', 'invalid parameters for strategy kind "sma_cross"',
                 'sma_cross_eval validates its parameters');
-- 1.7e308 + 1.7e308 exceeds the largest double (about 1.798e308): the
-- fast SMA(2) overflows on the second bar, as pgtrade.sma does above.
SELECT throws_ok($$SELECT pgtrade.sma_cross_eval('{"fast": 2, "slow": 3}',
                       '{2008-09-01,2008-09-02,2008-09-03,2008-09-04}',
                       '{1,1,1,1}', '{1,1,1,1}', '{1,1,1,1}',
                       '{1.7e308,1.7e308,1.7e308,1.7e308}', '{1,1,1,1}')$$,
                 '22003', 'moving average out of range at position 2',
                 'sma_cross_eval refuses closes whose averages overflow');

------------------------------------------------------------------------
-- WMA, STDDEV, ROC, OBV, SuperTrend: values worked out by hand
------------------------------------------------------------------------
-- wma(3) of 1..5: (1*1 + 2*2 + 3*3)/6 = 14/6, then 20/6, 26/6
SELECT is(pgtrade.wma('{1,2,3,4,5}', 3),
          ARRAY[NULL, NULL, 14.0 / 6, 20.0 / 6, 26.0 / 6]::float8[],
          'wma(3) weighs 1, 2, 3 and divides by 6');
SELECT is(pgtrade.wma('{4,5}', 1), '{4,5}'::float8[], 'wma(1) is the input');
-- the classic 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations 32,
-- population variance 4, deviation 2
SELECT is((pgtrade.stddev('{2,4,4,4,5,5,7,9}', 8))[8], 2::float8,
          'stddev(8) of 2,4,4,4,5,5,7,9 is 2 (divided by n, not n-1)');
SELECT is(pgtrade.stddev('{1,2,3,4}', 3),
          ARRAY[NULL, NULL, sqrt(2.0 / 3), sqrt(2.0 / 3)]::float8[],
          'stddev(3) of 1,2,3 and of 2,3,4 is sqrt(2/3)');
SELECT is(pgtrade.stddev('{5,5,5}', 2), '{NULL,0,0}'::float8[],
          'stddev of a flat series is 0');
-- roc(2) of 10, 11, 12, 9: (12/10 - 1) * 100 = 20, (9/11 - 1) * 100
SELECT is((SELECT array_agg(round(x::numeric, 9))
             FROM unnest(pgtrade.roc('{10,11,12,9}', 2)) x),
          ARRAY[NULL, NULL, 20, round((9.0 / 11 - 1) * 100, 9)]::numeric[],
          'roc(2): percent change from two values before');
SELECT is(pgtrade.roc('{0,1,2}', 1), '{NULL,0,100}'::float8[],
          'roc against 0 is 0 (TA-Lib), then 100% from 1 to 2');
SELECT is(pgtrade.obv('{10,11,11,10}'::float8[], '{100,200,300,400}'::float8[]),
          '{100,300,300,-100}'::float8[],
          'obv: the first volume, +200 up, unchanged flat, -400 down');
SELECT throws_ok($$SELECT pgtrade.obv('{1,2}'::float8[], '{1}'::float8[])$$,
                 '22023', 'arrays "close" and "volume" must have the same length',
                 'obv refuses arrays of different lengths');
-- SuperTrend(2, 1) on six bars (high, low, close):
--   (11,9,10) (12,10,11) (13,11,12) (12,8,9) (9,6,7) (14,10,13)
-- true ranges from the second bar: 2, 2, 4, 3, 7; ATR(2) from the third:
--   (2+2)/2 = 2, (2*1+4)/2 = 3, (3+3)/2 = 3, (3+7)/2 = 5
-- third bar: mid 12, bands 10 and 14; close 12 is not below 10: up, 10
-- fourth: mid 10, bands 7 and 13; the previous close 12 was above the
--   lower band 10, which stays (10 > 7); close 9 < 10: down, line 13
-- fifth: mid 7.5, bands 4.5 and 10.5; 9 was not above 10: lower 4.5;
--   9 was below 13 but 13 > 10.5: upper 10.5; 7 is not above 13: down
-- sixth: mid 12, bands 7 and 17; 7 was below 10.5 < 17: upper stays
--   10.5; close 13 > 10.5: up, line = lower band 7
SELECT is(pgtrade.supertrend('{11,12,13,12,9,14}', '{9,10,11,8,6,10}',
                             '{10,11,12,9,7,13}', 2, 1),
          ROW('{NULL,NULL,10,13,10.5,7}'::float8[],
              '{NULL,NULL,1,-1,-1,1}'::int[]),
          'supertrend(2, 1): line and direction worked out by hand');
SELECT is((pgtrade.supertrend('{2,2}', '{1,1}', '{1.5,1.5}', 2, 3)).direction,
          '{NULL,NULL}'::int[], 'supertrend: no value before period + 1 bars');
SELECT throws_ok($$SELECT pgtrade.supertrend('{2}', '{1}', '{1.5}', 2, -1)$$,
                 '22023', 'multiplier must be a finite number of at least 0',
                 'supertrend refuses a negative multiplier');
SELECT throws_ok($$SELECT pgtrade.supertrend('{2,3}', '{1}', '{1.5}', 2, 3)$$,
                 '22023', 'arrays "high" and "low" must have the same length',
                 'supertrend refuses arrays of different lengths');
SELECT throws_ok($$SELECT pgtrade.wma('{1,2}', 0)$$, '22023',
                 'period must be between 1 and 100000', 'wma refuses period 0');
SELECT throws_ok($$SELECT pgtrade.roc('{1,NULL}', 1)$$, '22004', NULL,
                 'roc refuses a null in the series');

-- a window of equal values deviates by exactly 0, after moves too and at
-- large prices (the slid sums are recomputed when within their noise)
SELECT is((pgtrade.stddev('{104.41,104.41,104.41}', 3))[3], 0::float8,
	'stddev of three equal values is 0');
SELECT is((pgtrade.stddev('{101.67,100.60,104.41,104.41,104.41}', 3))[5],
	0::float8, 'stddev of equal values after moves is 0');
SELECT is((pgtrade.stddev('{50000000.37,50000123.456,50000000.5,50000000.5,'
	'50000000.5}', 3))[5], 0::float8, 'and at prices of 5e7');
SELECT ok((SELECT b.upper[5] = b.middle[5] AND b.lower[5] = b.middle[5]
	FROM pgtrade.bollinger('{101.67,100.60,104.41,104.41,104.41}', 3, 2) b),
	'Bollinger bands of equal values close on their middle');
SELECT is((SELECT pgtrade.stddev(x, 3) OVER (ORDER BY o) FROM unnest(
	'{101.67,100.60,104.41,104.41,104.41}'::float8[]) WITH ORDINALITY u(x, o)
	ORDER BY o DESC LIMIT 1), 0::float8, 'the window form too');
SELECT throws_ok($$SELECT (pgtrade.macd(x, 1, 2, 3 ORDER BY o)).*
	FROM unnest('{-1.7e308,1.7e308,1.7e308,1.7e308,1.7e308}'::float8[])
	WITH ORDINALITY u(x, o)$$, '22003', NULL,
	'a macd signal that overflows is refused, as the array form refuses it');

-- The arrays are built around the indicators' own output buffers, with
-- the warm-up's NULLs in a bitmap written afterwards.  Every length from
-- 0 to 130 (a bitmap of up to 17 bytes, both ways of building) and eight
-- periods: each array form equals its window form row for row.
CREATE TEMP TABLE tap_len AS
SELECT i, 100 + 5 * sin(i) + i * 0.1 AS c,
	101 + 5 * sin(i) + i * 0.1 + abs(cos(i)) AS h,
	99 + 5 * sin(i) + i * 0.1 - abs(sin(i * 1.3)) AS l,
	(1000 + 10 * i)::float8 AS v
FROM generate_series(1, 130) i;
CREATE TEMP TABLE tap_lp AS
SELECT n, p FROM generate_series(0, 130) n,
	unnest(ARRAY[1, 2, 3, 7, 8, 9, 14, 20]) p;
CREATE TEMP TABLE tap_lw AS
SELECT tap_lp.n, tap_lp.p, a.*, w.*
FROM tap_lp
CROSS JOIN LATERAL (SELECT
		coalesce(array_agg(c ORDER BY i), '{}')::float8[] AS ac,
		coalesce(array_agg(h ORDER BY i), '{}')::float8[] AS ah,
		coalesce(array_agg(l ORDER BY i), '{}')::float8[] AS al,
		coalesce(array_agg(v ORDER BY i), '{}')::float8[] AS av
	FROM tap_len WHERE i <= tap_lp.n) a
CROSS JOIN LATERAL (SELECT
		coalesce(array_agg(x.sma ORDER BY x.i), '{}') AS wsma,
		coalesce(array_agg(x.ema ORDER BY x.i), '{}') AS wema,
		coalesce(array_agg(x.wma ORDER BY x.i), '{}') AS wwma,
		coalesce(array_agg(x.rsi ORDER BY x.i), '{}') AS wrsi,
		coalesce(array_agg(x.sd ORDER BY x.i), '{}') AS wsd,
		coalesce(array_agg(x.roc ORDER BY x.i), '{}') AS wroc,
		coalesce(array_agg(x.atr ORDER BY x.i), '{}') AS watr,
		coalesce(array_agg(x.st ORDER BY x.i), '{}') AS wst,
		coalesce(array_agg(x.obv ORDER BY x.i), '{}') AS wobv,
		coalesce(array_agg((x.b).upper ORDER BY x.i), '{}') AS wbu,
		coalesce(array_agg((x.b).middle ORDER BY x.i), '{}') AS wbm,
		coalesce(array_agg((x.b).lower ORDER BY x.i), '{}') AS wbl,
		coalesce(array_agg((x.m).macd ORDER BY x.i), '{}') AS wmm,
		coalesce(array_agg((x.m).signal ORDER BY x.i), '{}') AS wms,
		coalesce(array_agg((x.m).hist ORDER BY x.i), '{}') AS wmh
	FROM (SELECT t.i, pgtrade.sma(t.c, tap_lp.p) OVER o AS sma,
			pgtrade.ema(t.c, tap_lp.p) OVER o AS ema,
			pgtrade.wma(t.c, tap_lp.p) OVER o AS wma,
			pgtrade.rsi(t.c, tap_lp.p) OVER o AS rsi,
			pgtrade.stddev(t.c, tap_lp.p) OVER o AS sd,
			pgtrade.roc(t.c, tap_lp.p) OVER o AS roc,
			pgtrade.atr(t.h, t.l, t.c, tap_lp.p) OVER o AS atr,
			pgtrade.supertrend(t.h, t.l, t.c, tap_lp.p, 3) OVER o AS st,
			pgtrade.obv(t.c, t.v) OVER o AS obv,
			pgtrade.bollinger(t.c, tap_lp.p, 2) OVER o AS b,
			pgtrade.macd(t.c, tap_lp.p, tap_lp.p + 5, 3) OVER o AS m
		FROM tap_len t WHERE t.i <= tap_lp.n
		WINDOW o AS (ORDER BY t.i)) x) w;
SELECT results_eq($$SELECT
	count(*) FILTER (WHERE pgtrade.sma(ac, p) IS DISTINCT FROM wsma),
	count(*) FILTER (WHERE pgtrade.ema(ac, p) IS DISTINCT FROM wema),
	count(*) FILTER (WHERE pgtrade.wma(ac, p) IS DISTINCT FROM wwma),
	count(*) FILTER (WHERE pgtrade.rsi(ac, p) IS DISTINCT FROM wrsi),
	count(*) FILTER (WHERE pgtrade.stddev(ac, p) IS DISTINCT FROM wsd),
	count(*) FILTER (WHERE pgtrade.roc(ac, p) IS DISTINCT FROM wroc),
	count(*) FILTER (WHERE pgtrade.atr(ah, al, ac, p) IS DISTINCT FROM watr),
	count(*) FILTER (WHERE (pgtrade.supertrend(ah, al, ac, p, 3)).supertrend
		IS DISTINCT FROM wst),
	count(*) FILTER (WHERE pgtrade.obv(ac, av) IS DISTINCT FROM wobv),
	count(*) FILTER (WHERE row((b).upper, (b).middle, (b).lower)
		IS DISTINCT FROM row(wbu, wbm, wbl)),
	count(*) FILTER (WHERE row((m).macd, (m).signal, (m).hist)
		IS DISTINCT FROM row(wmm, wms, wmh)),
	count(*)
	FROM tap_lw,
	LATERAL (SELECT pgtrade.bollinger(ac, p, 2) AS b,
					pgtrade.macd(ac, p, p + 5, 3) AS m) f$$,
	$$VALUES (0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
			  0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
			  0::bigint, 1048::bigint)$$,
	'every array form is its window form, at 1,048 lengths and periods');

-- A NaN or an infinity is found wherever it is (the check reads four
-- values at a time, then the rest one by one): 13 places in 13 values.
-- tap_bad_count gives the places where fn(series, 2) does not name it.
CREATE FUNCTION pg_temp.tap_bad_at(a float8[], fn text) RETURNS text
LANGUAGE plpgsql AS $f$
DECLARE
	v_state text;
	v_detail text;
BEGIN
	EXECUTE format('SELECT pgtrade.%I($1, 2)', fn) USING a;
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE,
		v_detail = PG_EXCEPTION_DETAIL;
	RETURN v_state || ' ' || v_detail;
END $f$;
CREATE FUNCTION pg_temp.tap_bad_count(fn text) RETURNS bigint
LANGUAGE sql AS $f$
SELECT count(*) FROM generate_series(1, 13) k,
		unnest(ARRAY['NaN', 'Infinity', '-Infinity']::float8[]) bad
	WHERE pg_temp.tap_bad_at(array_fill(1.5::float8, ARRAY[k - 1]) || bad
			|| array_fill(2.5::float8, ARRAY[13 - k]), fn)
		IS DISTINCT FROM format('22023 The element at subscript %s is %s.', k,
			CASE WHEN bad = 'NaN' THEN 'NaN' ELSE 'infinite' END)
$f$;
SELECT is(pg_temp.tap_bad_count('sma'), 0::bigint,
	'a NaN or infinity is named at each of 13 subscripts');

-- macd's three outputs overflow at different places: the error names the
-- earliest, as the window form meets it row by row.  fast 1, slow 2,
-- signal 2 on 1.7e308, -1.7e308, -8.5e307, ... (both EMAs from the second
-- value): the line is -1.7e308 - (1.7e308 - 1.7e308) / 2 = -1.7e308, then
-- -8.5e307 - -5.67e307 = -2.83e307; the signal's seed adds those two,
-- -1.98e308, beyond double precision, so signal and histogram overflow at
-- the third value, the line itself only at the sixth.
SELECT throws_ok($$SELECT * FROM pgtrade.macd(
		'{1.7e308,-1.7e308,-8.5e307,0,-5e307,1.7e308}'::float8[], 1, 2, 2)$$,
	'22003', 'indicator value out of range at position 3',
	'macd names the earliest overflow of its three outputs');
SELECT throws_ok($$SELECT (pgtrade.macd(x, 1, 2, 2) OVER (ORDER BY o)).*
	FROM unnest('{1.7e308,-1.7e308,-8.5e307,0,-5e307,1.7e308}'::float8[])
		WITH ORDINALITY u(x, o)$$,
	'22003', NULL, 'and so does its window form');

-- Outputs of inputs below 2^256 in magnitude cannot overflow, so only
-- larger inputs, k or multipliers have their outputs checked: each of
-- these overflows from values a price could never take.  Bollinger(2) of
-- 1, 2, 3, 100 with k = 1e307: sigma is 0.5, 0.5, then 48.5, and
-- 48.5e307 is beyond double precision at the fourth value.
SELECT throws_ok($$SELECT pgtrade.bollinger('{1,2,3,100}', 2, 1e307)$$,
	'22003', 'indicator value out of range at position 4',
	'a k beyond 2^256 has the bands checked for overflow');
-- SuperTrend(2, 1e308): true ranges 2 and 3 (high less low), ATR 2.5 at
-- the third bar, upper band 1.5 + 2.5e308
SELECT throws_ok($$SELECT pgtrade.supertrend('{1,2,3,100}', '{0,0,0,0}',
	'{1,1,1,1}', 2, 1e308)$$,
	'22003', 'indicator value out of range at position 3',
	'so does a multiplier beyond it');
-- ROC checks inside its own loop: 1e300 / 1e-300 overflows; a value that
-- is only ever a base (the first two) is still named
SELECT throws_ok($$SELECT pgtrade.roc('{1e-300,1e300}', 1)$$, '22003',
	'indicator value out of range at position 2',
	'roc refuses a quotient beyond double precision');
SELECT is(pg_temp.tap_bad_count('roc'), 0::bigint,
	'roc names a NaN or infinity at each of 13 subscripts');
SELECT throws_ok($$SELECT pgtrade.roc('{NaN}', 0)$$, '22023',
	'array "series" must contain only finite values',
	'roc checks the series before the period, as the others do');
-- RSI(2) of 0, 1e308, -1e308: the second change, -2e308, is beyond double
-- precision, and so is the average loss; the ratio would be a finite 0
SELECT throws_ok($$SELECT pgtrade.rsi('{0,1e308,-1e308,0}', 2)$$, '22003',
	'indicator value out of range at position 3',
	'an RSI whose average loss overflowed is refused, not 0');
SELECT throws_ok($$SELECT pgtrade.rsi(x, 2) OVER (ORDER BY o)
	FROM unnest('{0,1e308,-1e308,0}'::float8[]) WITH ORDINALITY u(x, o)$$,
	'22003', NULL, 'and so does its window form');
SELECT is(pgtrade.roc('{1e300,2e300,0,1}', 1), '{NULL,100,-100,0}'::float8[],
	'roc of values beyond 2^256 that stay finite');

-- A composite result of long arrays is built in place; its fields,
-- stored in a table (and so compressed or moved out of line) and read
-- back, equal the window form's row for row
CREATE TEMP TABLE tap_macd_big AS
SELECT (pgtrade.macd(array_agg(100 + 10 * sin(i / 7.0) ORDER BY i), 12, 26,
	9)).* FROM generate_series(1, 5000) i;
CREATE TEMP TABLE tap_macd_win AS
SELECT i, (m).macd, (m).signal, (m).hist
FROM (SELECT i, pgtrade.macd(100 + 10 * sin(i / 7.0), 12, 26, 9)
		OVER (ORDER BY i) AS m
	FROM generate_series(1, 5000) i) w;
SELECT is((SELECT count(*) FROM tap_macd_big b, tap_macd_win w
	WHERE (b.macd[w.i], b.signal[w.i], b.hist[w.i])
		IS NOT DISTINCT FROM (w.macd, w.signal, w.hist)
		AND w.hist IS NOT NULL),
	4967::bigint,
	'a macd of 5,000 values, stored, reads back as its window form');

SELECT * FROM finish();
ROLLBACK;
