--
-- Indicators as aggregates, for window queries such as
--
--   SELECT ts, pgtrade.ema(close, 20)
--              OVER (PARTITION BY instrument_id ORDER BY ts)
--     FROM pgtrade.bar;
--
-- pgtrade.sma, ema and rsi (value, period) and pgtrade.atr (high, low,
-- close, period) share their names with the array forms of
-- 20_indicators.sql.  Each runs its indicator over the rows it aggregates,
-- in input order, and returns the value at the last of them, NULL during
-- the warm-up.  The state (extension/src/indicators_agg.c) is the running
-- indicator itself: a window of the last period values for SMA, the
-- running average for EMA, Wilder's averages for RSI and ATR; its
-- arithmetic is the array functions' own, so the two forms give the same
-- numbers.
--
-- How the result depends on the query:
--
-- * Window, ORDER BY, frame starting at the partition's first row (the
--   default RANGE UNBOUNDED PRECEDING, or ROWS UNBOUNDED PRECEDING): each
--   row gets the array form's value at its position in the partition.
--   With the default RANGE frame, rows with equal ORDER BY values (peers)
--   are aggregated together and all get the value after the last of them,
--   in an order among themselves that is not defined: order by a unique
--   key such as ts within an instrument.
-- * Window frame whose start moves (ROWS n PRECEDING and the like): there
--   is no inverse transition function, so PostgreSQL aggregates each
--   row's frame afresh, which gives the indicator of the frame's rows
--   alone, as if the series began at the frame's first row (ema(close,
--   20) over ROWS 19 PRECEDING is the mean of those 20 closes), at a cost
--   proportional to the frame's length for every row.
-- * Window without ORDER BY: the whole partition, in no defined order.
-- * Plain aggregate: the value at the last input row; the input order is
--   defined only by an ORDER BY inside the call, as in
--   pgtrade.ema(close, 20 ORDER BY ts).
--
-- The period must be the same on every row.  Null, NaN and infinite values
-- are refused, as the array forms refuse them; FILTER (WHERE close IS NOT
-- NULL) leaves rows out instead.
--
-- The period is declared bigint although the array forms take int: with
-- int, a call such as pgtrade.sma('{1,2,3}', 2), whose first argument is
-- an untyped literal, would resolve to the aggregate and fail to read
-- '{1,2,3}' as a number; with bigint the array form is the only candidate
-- that matches the integer period exactly, and wins.  Integer periods
-- still reach the aggregates by the implicit cast.
--

CREATE FUNCTION pgtrade.sma_agg_transfn(state internal, value float8,
                                        period bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_sma_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.sma_agg_transfn(internal, float8, bigint) IS
'Transition function of the aggregate pgtrade.sma(float8, bigint): adds '
'one row to the running SMA. Only aggregates can call it.';

CREATE FUNCTION pgtrade.ema_agg_transfn(state internal, value float8,
                                        period bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_ema_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.ema_agg_transfn(internal, float8, bigint) IS
'Transition function of the aggregate pgtrade.ema(float8, bigint): adds '
'one row to the running EMA. Only aggregates can call it.';

CREATE FUNCTION pgtrade.rsi_agg_transfn(state internal, value float8,
                                        period bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_rsi_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.rsi_agg_transfn(internal, float8, bigint) IS
'Transition function of the aggregate pgtrade.rsi(float8, bigint): adds '
'one row to the running RSI. Only aggregates can call it.';

CREATE FUNCTION pgtrade.atr_agg_transfn(state internal, high float8,
                                        low float8, close float8,
                                        period bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_atr_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.atr_agg_transfn(internal, float8, float8, float8,
                                            bigint) IS
'Transition function of the aggregate pgtrade.atr(float8, float8, float8, '
'bigint): adds one bar to the running ATR. Only aggregates can call it.';

CREATE FUNCTION pgtrade.indicator_agg_finalfn(state internal)
RETURNS float8
AS 'MODULE_PATHNAME', 'pgtrade_indicator_agg_finalfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.indicator_agg_finalfn(internal) IS
'Final function of the aggregates pgtrade.sma, ema, rsi and atr: the '
'indicator at the last row aggregated, NULL during the warm-up; reads the '
'state without changing it. Only aggregates can call it.';

CREATE AGGREGATE pgtrade.sma(value float8, period bigint) (
    SFUNC = pgtrade.sma_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.indicator_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.sma(float8, bigint) IS
'Simple moving average of the last period values (1 to 100000) at the last '
'row aggregated, NULL for the first period-1 rows. As a window function '
'with ORDER BY and a frame from the partition''s first row (the default), '
'each row gets the array form''s value at its position; a frame whose '
'start moves gives the average of the frame''s rows alone. As a plain '
'aggregate, order the input inside the call: sma(close, 20 ORDER BY ts). '
'The period must be the same on every row; nulls, NaN and infinities are '
'refused.';

CREATE AGGREGATE pgtrade.ema(value float8, period bigint) (
    SFUNC = pgtrade.ema_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.indicator_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.ema(float8, bigint) IS
'Exponential moving average (k = 2/(period+1), seeded at row period with '
'the mean of the first period values, TA-Lib) at the last row aggregated, '
'NULL before row period. As a window function with ORDER BY and a frame '
'from the partition''s first row (the default), each row gets the array '
'form''s value at its position; a frame whose start moves gives the EMA of '
'the frame''s rows alone, seeded at its start. As a plain aggregate, order '
'the input inside the call: ema(close, 20 ORDER BY ts). The period must be '
'the same on every row; nulls, NaN and infinities are refused.';

CREATE AGGREGATE pgtrade.rsi(value float8, period bigint) (
    SFUNC = pgtrade.rsi_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.indicator_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.rsi(float8, bigint) IS
'Relative strength index with Wilder smoothing (TA-Lib) at the last row '
'aggregated, NULL for the first period rows; 0 when the values did not '
'move. As a window function with ORDER BY and a frame from the '
'partition''s first row (the default), each row gets the array form''s '
'value at its position; a frame whose start moves gives the RSI of the '
'frame''s rows alone. As a plain aggregate, order the input inside the '
'call: rsi(close, 14 ORDER BY ts). The period must be the same on every '
'row; nulls, NaN and infinities are refused.';

CREATE AGGREGATE pgtrade.atr(high float8, low float8, close float8,
                             period bigint) (
    SFUNC = pgtrade.atr_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.indicator_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.atr(float8, float8, float8, bigint) IS
'Average true range with Wilder smoothing (TA-Lib) at the last bar '
'aggregated, NULL for the first period bars. As a window function with '
'ORDER BY and a frame from the partition''s first row (the default), each '
'row gets the array form''s value at its position; a frame whose start '
'moves gives the ATR of the frame''s bars alone. As a plain aggregate, '
'order the input inside the call: atr(high, low, close, 14 ORDER BY ts). '
'The period must be the same on every row; nulls, NaN and infinities are '
'refused.';

CREATE FUNCTION pgtrade.wma_agg_transfn(state internal, value float8,
                                        period bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_wma_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.wma_agg_transfn(internal, float8, bigint) IS
'Transition function of the aggregate pgtrade.wma(float8, bigint): adds '
'one row to the running WMA. Only aggregates can call it.';

CREATE FUNCTION pgtrade.stddev_agg_transfn(state internal, value float8,
                                           period bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_stddev_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.stddev_agg_transfn(internal, float8, bigint) IS
'Transition function of the aggregate pgtrade.stddev(float8, bigint): adds '
'one row to the running standard deviation. Only aggregates can call it.';

CREATE FUNCTION pgtrade.roc_agg_transfn(state internal, value float8,
                                        period bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_roc_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.roc_agg_transfn(internal, float8, bigint) IS
'Transition function of the aggregate pgtrade.roc(float8, bigint): adds '
'one row to the running rate of change. Only aggregates can call it.';

CREATE FUNCTION pgtrade.obv_agg_transfn(state internal, close float8,
                                        volume float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_obv_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.obv_agg_transfn(internal, float8, float8) IS
'Transition function of the aggregate pgtrade.obv(float8, float8): adds '
'one bar to the running on-balance volume. Only aggregates can call it.';

CREATE FUNCTION pgtrade.supertrend_agg_transfn(state internal, high float8,
                                               low float8, close float8,
                                               period bigint,
                                               multiplier float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_supertrend_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.supertrend_agg_transfn(internal, float8, float8,
                                                   float8, bigint, float8) IS
'Transition function of the aggregates pgtrade.supertrend and '
'supertrend_direction: adds one bar to the running SuperTrend. Only '
'aggregates can call it.';

CREATE FUNCTION pgtrade.supertrend_direction_agg_finalfn(state internal)
RETURNS int
AS 'MODULE_PATHNAME', 'pgtrade_supertrend_direction_agg_finalfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.supertrend_direction_agg_finalfn(internal) IS
'Final function of the aggregate pgtrade.supertrend_direction: the trend '
'at the last bar aggregated (1 up, -1 down), NULL during the warm-up. '
'Only aggregates can call it.';

CREATE AGGREGATE pgtrade.wma(value float8, period bigint) (
    SFUNC = pgtrade.wma_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.indicator_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.wma(float8, bigint) IS
'Weighted moving average (weights 1 to period, TA-Lib) at the last row '
'aggregated, NULL for the first period-1 rows; in a window, each row gets '
'the array form''s value at its position (see pgtrade.sma for frames and '
'ordering).';

CREATE AGGREGATE pgtrade.stddev(value float8, period bigint) (
    SFUNC = pgtrade.stddev_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.indicator_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.stddev(float8, bigint) IS
'Population standard deviation of the last period values (TA-Lib STDDEV) '
'at the last row aggregated, NULL for the first period-1 rows; in a '
'window, each row gets the array form''s value at its position (see '
'pgtrade.sma for frames and ordering). Not the one-argument stddev of '
'PostgreSQL, which is the sample deviation of all rows.';

CREATE AGGREGATE pgtrade.roc(value float8, period bigint) (
    SFUNC = pgtrade.roc_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.indicator_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.roc(float8, bigint) IS
'Rate of change in percent against the value period rows before (TA-Lib) '
'at the last row aggregated, NULL for the first period rows; in a window, '
'each row gets the array form''s value at its position (see pgtrade.sma '
'for frames and ordering).';

CREATE AGGREGATE pgtrade.obv(close float8, volume float8) (
    SFUNC = pgtrade.obv_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.indicator_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.obv(float8, float8) IS
'On-balance volume (TA-Lib) at the last bar aggregated: the first volume, '
'then plus or minus each volume as the close rose or fell; in a window, '
'each row gets the array form''s value at its position. Untyped array '
'literals given to the array form need a cast (''{...}''::float8[]).';

CREATE AGGREGATE pgtrade.supertrend(high float8, low float8, close float8,
                                    period bigint, multiplier float8) (
    SFUNC = pgtrade.supertrend_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.indicator_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.supertrend(float8, float8, float8, bigint,
                                        float8) IS
'SuperTrend line (as the array form) at the last bar aggregated, NULL for '
'the first period bars; supertrend_direction gives its trend. Period and '
'multiplier must be the same on every row.';

CREATE AGGREGATE pgtrade.supertrend_direction(high float8, low float8,
                                              close float8, period bigint,
                                              multiplier float8) (
    SFUNC = pgtrade.supertrend_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.supertrend_direction_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.supertrend_direction(float8, float8, float8,
                                                  bigint, float8) IS
'SuperTrend''s trend at the last bar aggregated: 1 up, -1 down, NULL for '
'the first period bars (as the array form''s direction).';

CREATE TYPE pgtrade.macd_value AS (macd float8, signal float8, hist float8);

COMMENT ON TYPE pgtrade.macd_value IS
'One bar''s MACD line, signal and histogram, as the aggregate '
'pgtrade.macd returns them (NULL where the array form has none yet).';

CREATE TYPE pgtrade.bollinger_bands AS (upper float8, middle float8,
                                        lower float8);

COMMENT ON TYPE pgtrade.bollinger_bands IS
'One bar''s Bollinger bands, as the aggregate pgtrade.bollinger returns '
'them (NULL during the warm-up).';

CREATE FUNCTION pgtrade.macd_agg_transfn(state internal, value float8,
                                         fast bigint, slow bigint,
                                         signal bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_macd_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.macd_agg_transfn(internal, float8, bigint, bigint,
                                             bigint) IS
'Transition function of the aggregate pgtrade.macd(float8, bigint, bigint, '
'bigint): adds one row to the running MACD. Only aggregates can call it.';

CREATE FUNCTION pgtrade.macd_agg_finalfn(state internal)
RETURNS pgtrade.macd_value
AS 'MODULE_PATHNAME', 'pgtrade_macd_agg_finalfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.macd_agg_finalfn(internal) IS
'Final function of the aggregate pgtrade.macd: line, signal and histogram '
'at the last row aggregated. Only aggregates can call it.';

CREATE FUNCTION pgtrade.bollinger_agg_transfn(state internal, value float8,
                                              period bigint, k float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgtrade_bollinger_agg_transfn'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.bollinger_agg_transfn(internal, float8, bigint,
                                                  float8) IS
'Transition function of the aggregate pgtrade.bollinger(float8, bigint, '
'float8): adds one row to the running bands. Only aggregates can call it.';

CREATE FUNCTION pgtrade.bollinger_agg_finalfn(state internal)
RETURNS pgtrade.bollinger_bands
AS 'MODULE_PATHNAME', 'pgtrade_bollinger_agg_finalfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.bollinger_agg_finalfn(internal) IS
'Final function of the aggregate pgtrade.bollinger: the bands at the last '
'row aggregated. Only aggregates can call it.';

CREATE AGGREGATE pgtrade.macd(value float8, fast bigint, slow bigint,
                              signal bigint) (
    SFUNC = pgtrade.macd_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.macd_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.macd(float8, bigint, bigint, bigint) IS
'MACD as the array form computes it (TA-Lib), at the last row aggregated, '
'as a pgtrade.macd_value: (pgtrade.macd(close, 12, 26, 9) OVER w).signal. '
'In a window, each row gets the array forms'' values at its position (see '
'pgtrade.sma for frames and ordering).';

CREATE AGGREGATE pgtrade.bollinger(value float8, period bigint, k float8) (
    SFUNC = pgtrade.bollinger_agg_transfn,
    STYPE = internal,
    FINALFUNC = pgtrade.bollinger_agg_finalfn,
    FINALFUNC_MODIFY = READ_ONLY,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE pgtrade.bollinger(float8, bigint, float8) IS
'Bollinger bands as the array form computes them, at the last row '
'aggregated, as a pgtrade.bollinger_bands: (pgtrade.bollinger(close, 20, '
'2) OVER w).upper. In a window, each row gets the array form''s values at '
'its position (see pgtrade.sma for frames and ordering).';
