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
