/*
 * pgtrade install script, assembled from sql/ in file name order.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgtrade" to load this file. \quit
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
/*
 * Indicators (array form) and the built-in strategy kind sma_cross.
 *
 * The C code lives in extension/src/indicators*.c, sma_cross.c and
 * strategy_sql.c.  Every indicator takes a whole series as a float8[]
 * (oldest first) and returns arrays of the same length, lower bound 1,
 * with NULL during the warm-up, following TA-Lib's classic definitions.
 */

CREATE FUNCTION pgtrade.sma(series float8[], period int)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'pgtrade_sma'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.sma(float8[], int) IS
'Simple moving average of a series over period values (1 to 100000); '
'NULL for the first period-1 elements. Nulls, NaN and infinities in the '
'series are refused.';

CREATE FUNCTION pgtrade.ema(series float8[], period int)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'pgtrade_ema'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.ema(float8[], int) IS
'Exponential moving average with k = 2/(period+1), seeded at element '
'period with the simple average of the first period values (TA-Lib); '
'NULL before that.';

CREATE FUNCTION pgtrade.rsi(series float8[], period int)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'pgtrade_rsi'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.rsi(float8[], int) IS
'Relative strength index with Wilder smoothing (TA-Lib): first value at '
'element period+1 from plain averages of the first period changes; 0 when '
'the series did not move.';

CREATE FUNCTION pgtrade.macd(series float8[], fast int, slow int,
                             signal int, OUT macd float8[],
                             OUT signal float8[], OUT hist float8[])
AS 'MODULE_PATHNAME', 'pgtrade_macd'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.macd(float8[], int, int, int) IS
'MACD as TA-Lib computes it: fast EMA minus slow EMA, both starting at '
'element slow (fast < slow), signal = EMA(signal) of that line from '
'element slow+signal-1, hist = macd - signal.';

CREATE FUNCTION pgtrade.bollinger(series float8[], period int, k float8,
                                  OUT upper float8[], OUT middle float8[],
                                  OUT lower float8[])
AS 'MODULE_PATHNAME', 'pgtrade_bollinger'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.bollinger(float8[], int, float8) IS
'Bollinger bands: middle = SMA(period), upper and lower = middle +/- k '
'population standard deviations of the same values (k >= 0); NULL for '
'the first period-1 elements.';

CREATE FUNCTION pgtrade.atr(high float8[], low float8[], close float8[],
                            period int)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'pgtrade_atr'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.atr(float8[], float8[], float8[], int) IS
'Average true range with Wilder smoothing (TA-Lib): first value at element '
'period+1, the mean of the true ranges of elements 2 to period+1. The '
'three arrays must have the same length.';

CREATE FUNCTION pgtrade.wma(series float8[], period int)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'pgtrade_wma'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.wma(float8[], int) IS
'Weighted moving average (TA-Lib): weights 1 (oldest) to period (newest) '
'over the last period values, divided by their sum; NULL for the first '
'period-1 elements.';

CREATE FUNCTION pgtrade.stddev(series float8[], period int)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'pgtrade_stddev'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.stddev(float8[], int) IS
'Population standard deviation (divide by period) of the last period '
'values, TA-Lib''s STDDEV with nbdev 1; NULL for the first period-1 '
'elements.';

CREATE FUNCTION pgtrade.roc(series float8[], period int)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'pgtrade_roc'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.roc(float8[], int) IS
'Rate of change in percent (TA-Lib): (x / x period elements before - 1) '
'* 100, 0 when that earlier value is 0; NULL for the first period '
'elements.';

CREATE FUNCTION pgtrade.obv(close float8[], volume float8[])
RETURNS float8[]
AS 'MODULE_PATHNAME', 'pgtrade_obv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.obv(float8[], float8[]) IS
'On-balance volume (TA-Lib): the first volume, then plus each volume '
'whose close rose, minus each whose close fell. The arrays must have the '
'same length.';

CREATE FUNCTION pgtrade.supertrend(high float8[], low float8[],
                                   close float8[], period int,
                                   multiplier float8,
                                   OUT supertrend float8[],
                                   OUT direction int[])
AS 'MODULE_PATHNAME', 'pgtrade_supertrend'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.supertrend(float8[], float8[], float8[], int,
                                       float8) IS
'SuperTrend (not in TA-Lib; the usual rules): bands (high+low)/2 +/- '
'multiplier * ATR(period), ratcheting while the close stays beyond them; '
'direction 1 (up, line = lower band) or -1 (down, line = upper band); '
'NULL for the first period elements.';

CREATE FUNCTION pgtrade.sma_cross_validate(params jsonb)
RETURNS int
AS 'MODULE_PATHNAME', 'pgtrade_sma_cross_validate'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.sma_cross_validate(jsonb) IS
'Validator of strategy kind sma_cross: params must be {"fast": int, '
'"slow": int} with 1 <= fast < slow <= 10000 and no other key. Returns '
'the number of bars an evaluation needs (slow + 1).';

CREATE FUNCTION pgtrade.sma_cross_eval(params jsonb, ts timestamptz[],
                                       open float8[], high float8[],
                                       low float8[], close float8[],
                                       volume float8[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_sma_cross_eval'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.sma_cross_eval(jsonb, timestamptz[], float8[],
                                           float8[], float8[], float8[],
                                           float8[]) IS
'Evaluator of strategy kind sma_cross: target 1 (long) when the fast SMA '
'of the closes is above the slow SMA on the last bar, 0 (flat) when below, '
'null when equal or with fewer than slow+1 bars; with the reason in plain '
'words (dates in the session time zone) and the values used.';

/*
 * The other built-in strategy kinds (extension/src/kinds.c).
 */

CREATE FUNCTION pgtrade.ema_cross_validate(params jsonb)
RETURNS int
AS 'MODULE_PATHNAME', 'pgtrade_ema_cross_validate'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.ema_cross_validate(jsonb) IS
'Validator of strategy kind ema_cross: params {"fast": 12, "slow": 26} '
'(integers, 1 <= fast < slow <= 10000); a key left out takes that '
'default, any other key is refused. Returns the number of bars an '
'evaluation needs (slow + 1).';

CREATE FUNCTION pgtrade.ema_cross_eval(params jsonb, ts timestamptz[],
    open float8[], high float8[], low float8[], close float8[],
    volume float8[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_ema_cross_eval'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.ema_cross_eval(jsonb, timestamptz[], float8[],
    float8[], float8[], float8[], float8[]) IS
'Evaluator of strategy kind ema_cross: target 1 (long) when the fast '
'EMA of the closes is above the slow EMA on the last bar, 0 (flat) when'
' below, null when equal or with too few bars; with the reason in plain'
' words (dates in the session time zone) and the values used.';

CREATE FUNCTION pgtrade.macd_cross_validate(params jsonb)
RETURNS int
AS 'MODULE_PATHNAME', 'pgtrade_macd_cross_validate'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.macd_cross_validate(jsonb) IS
'Validator of strategy kind macd_cross: params {"fast": 12, "slow": 26,'
' "signal": 9} (integers, fast < slow); a key left out takes that '
'default, any other key is refused. Returns the number of bars an '
'evaluation needs (slow + signal).';

CREATE FUNCTION pgtrade.macd_cross_eval(params jsonb, ts timestamptz[],
    open float8[], high float8[], low float8[], close float8[],
    volume float8[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_macd_cross_eval'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.macd_cross_eval(jsonb, timestamptz[], float8[],
    float8[], float8[], float8[], float8[]) IS
'Evaluator of strategy kind macd_cross: target 1 (long) when the MACD '
'line is above its signal on the last bar, 0 (flat) when below, null '
'when equal or with too few bars; with the reason in plain words (dates'
' in the session time zone) and the values used.';

CREATE FUNCTION pgtrade.rsi_reversion_validate(params jsonb)
RETURNS int
AS 'MODULE_PATHNAME', 'pgtrade_rsi_reversion_validate'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.rsi_reversion_validate(jsonb) IS
'Validator of strategy kind rsi_reversion: params {"period": 14, "low":'
' 30, "high": 70} (low < high, both 0 to 100); a key left out takes '
'that default, any other key is refused. Returns the number of bars an '
'evaluation needs (period + 1).';

CREATE FUNCTION pgtrade.rsi_reversion_eval(params jsonb, ts timestamptz[],
    open float8[], high float8[], low float8[], close float8[],
    volume float8[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_rsi_reversion_eval'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.rsi_reversion_eval(jsonb, timestamptz[], float8[],
    float8[], float8[], float8[], float8[]) IS
'Evaluator of strategy kind rsi_reversion: target 1 (long) when RSI is '
'below low on the last bar, 0 (flat) when above high, null in between; '
'with the reason in plain words (dates in the session time zone) and '
'the values used.';

CREATE FUNCTION pgtrade.bollinger_breakout_validate(params jsonb)
RETURNS int
AS 'MODULE_PATHNAME', 'pgtrade_bollinger_breakout_validate'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.bollinger_breakout_validate(jsonb) IS
'Validator of strategy kind bollinger_breakout: params {"period": 20, '
'"k": 2} (k from 0 to 100); a key left out takes that default, any '
'other key is refused. Returns the number of bars an evaluation needs '
'(period).';

CREATE FUNCTION pgtrade.bollinger_breakout_eval(params jsonb, ts timestamptz[],
    open float8[], high float8[], low float8[], close float8[],
    volume float8[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_bollinger_breakout_eval'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.bollinger_breakout_eval(jsonb, timestamptz[], float8[],
    float8[], float8[], float8[], float8[]) IS
'Evaluator of strategy kind bollinger_breakout: target 1 (long) when '
'the last close is above the upper band, 0 (flat) when below the lower '
'band, null inside; with the reason in plain words (dates in the '
'session time zone) and the values used.';

CREATE FUNCTION pgtrade.confirmations_validate(params jsonb)
RETURNS int
AS 'MODULE_PATHNAME', 'pgtrade_confirmations_validate'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.confirmations_validate(jsonb) IS
'Validator of strategy kind confirmations: params {"k": 3, '
'"supertrend_period": 10, "supertrend_multiplier": 3, "sma": 20, '
'"macd_fast": 12, "macd_slow": 26, "macd_signal": 9, "rsi": 14}; a key '
'left out takes that default, any other key is refused. Returns the '
'number of bars an evaluation needs (the most any of its indicators '
'needs).';

CREATE FUNCTION pgtrade.confirmations_eval(params jsonb, ts timestamptz[],
    open float8[], high float8[], low float8[], close float8[],
    volume float8[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_confirmations_eval'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION pgtrade.confirmations_eval(jsonb, timestamptz[], float8[],
    float8[], float8[], float8[], float8[]) IS
'Evaluator of strategy kind confirmations: target 1 (long) when at '
'least k of SuperTrend up, close above SMA, MACD above its signal and '
'RSI above 50 hold on the last bar, 0 (flat) when at least k of their '
'opposites hold, null otherwise; with the reason in plain words (dates '
'in the session time zone) and the values used.';
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
/*
 * 30_schema.sql: roles, tables and their constraints.
 *
 * Bars are observations kept as double precision; everything that is
 * money (orders, fills, positions, commissions) is numeric.  Every time
 * is timestamptz.  Tables that users fill are registered with
 * pg_extension_config_dump so pg_dump keeps their rows; the installation
 * row is deliberately not, so a restored database draws a new client
 * order id prefix and can never reuse a cOID sent before the backup.
 */

/*
 * Group roles.  They are cluster-wide, so they are created only when
 * missing and never dropped with the extension.  Grant them to login
 * roles: pgtrade_reader for analysts, pgtrade_trader for people who run
 * strategies and place orders, pgtrade_admin for risk limits and the kill
 * switch, pgtrade_listener for the daemon, pgtrade_scheduler for the
 * pg_cron job.
 */
DO $roles$
DECLARE
	v_role text;
BEGIN
	FOREACH v_role IN ARRAY ARRAY['pgtrade_reader', 'pgtrade_trader',
		'pgtrade_admin', 'pgtrade_listener', 'pgtrade_scheduler']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
					   WHERE rolname = v_role) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', v_role);
		END IF;
	END LOOP;
END
$roles$;

GRANT USAGE ON SCHEMA pgtrade TO pgtrade_reader, pgtrade_trader,
	pgtrade_admin, pgtrade_listener, pgtrade_scheduler;

CREATE TABLE pgtrade.installation (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	coid_prefix	text NOT NULL CHECK (coid_prefix ~ '^[a-z0-9]{8}$'),
	created_at	timestamptz NOT NULL DEFAULT now()
);
INSERT INTO pgtrade.installation (coid_prefix)
	VALUES (substr(md5(gen_random_uuid()::text), 1, 8));
COMMENT ON TABLE pgtrade.installation IS
	'One row: the random client order id prefix drawn when the extension '
	'was created.';

CREATE TABLE pgtrade.account (
	account_id	text PRIMARY KEY
				CHECK (account_id ~ '^[A-Za-z0-9_-]{1,32}$'),
	description	text,
	halted		boolean NOT NULL DEFAULT false,
	halt_reason	text,
	gate_seq	bigint NOT NULL DEFAULT 0,
	time_zone	text NOT NULL DEFAULT 'America/New_York',
	created_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtrade.account IS
	'Brokerage accounts pgtrade trades; the risk gate locks an account''s row.';
COMMENT ON COLUMN pgtrade.account.halted IS
	'True while an order of this account is in an unknown state: the gate '
	'refuses new orders until an operator resolves it.';
COMMENT ON COLUMN pgtrade.account.time_zone IS
	'Where the account''s trading day begins and ends: the risk gate''s '
	'orders a day and daily loss count from local midnight here.';
COMMENT ON COLUMN pgtrade.account.gate_seq IS
	'Bumped by every pass of the risk gate, which serializes the gate per '
	'account.';

CREATE TABLE pgtrade.instrument (
	instrument_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	symbol			text NOT NULL
					CHECK (symbol ~ '^[A-Za-z0-9.:/_-]([A-Za-z0-9.:/ _-]{0,30}[A-Za-z0-9.:/_-])?$'),
	sec_type		text NOT NULL DEFAULT 'STK',
	exchange		text NOT NULL DEFAULT 'SMART',
	currency		text NOT NULL DEFAULT 'USD',
	conid			bigint UNIQUE CHECK (conid > 0),
	tick_size		numeric NOT NULL DEFAULT 0.01 CHECK (tick_size > 0),
	lot_size		numeric NOT NULL DEFAULT 1 CHECK (lot_size > 0),
	time_zone		text NOT NULL DEFAULT 'America/New_York',
	session_open	time NOT NULL DEFAULT '09:30',
	session_close	time NOT NULL DEFAULT '16:00',
	created_at		timestamptz NOT NULL DEFAULT now(),
	UNIQUE (symbol, sec_type, exchange, currency),
	/* overnight sessions are not supported: a bar would end before it began */
	CONSTRAINT instrument_session_in_a_day CHECK (session_open < session_close)
);
COMMENT ON TABLE pgtrade.instrument IS
	'Tradable instruments; the IBKR contract id (conid) is cached here '
	'once known.';
COMMENT ON COLUMN pgtrade.instrument.time_zone IS
	'Exchange time zone: a daily bar ends at session_close on its date in '
	'this zone.';

CREATE TABLE pgtrade.bar (
	instrument_id	bigint NOT NULL REFERENCES pgtrade.instrument,
	bar_size		interval NOT NULL CHECK (bar_size > interval '0'),
	ts				timestamptz NOT NULL,
	open			double precision NOT NULL,
	high			double precision NOT NULL,
	low				double precision NOT NULL,
	close			double precision NOT NULL,
	volume			double precision NOT NULL,
	suspect			boolean GENERATED ALWAYS AS
		(open < low OR open > high OR close < low OR close > high) STORED,
	PRIMARY KEY (instrument_id, bar_size, ts),
	CONSTRAINT bar_prices_finite CHECK (
		open > '-Infinity' AND open < 'Infinity' AND
		high > '-Infinity' AND high < 'Infinity' AND
		low > '-Infinity' AND low < 'Infinity' AND
		close > '-Infinity' AND close < 'Infinity'),
	CONSTRAINT bar_high_not_below_low CHECK (high >= low),
	CONSTRAINT bar_prices_positive CHECK (low > 0 AND open > 0 AND close > 0),
	CONSTRAINT bar_size_supported CHECK (bar_size = interval '1 day'
		OR (bar_size < interval '1 day'
			AND extract(epoch FROM bar_size) % 60 = 0)),
	CONSTRAINT bar_volume_valid CHECK (volume >= 0 AND volume < 'Infinity')
);
COMMENT ON TABLE pgtrade.bar IS
	'OHLCV bars; ts is the bar''s start.  A daily bar''s ts is midnight '
	'of its session date in the exchange time zone.';
COMMENT ON COLUMN pgtrade.bar.suspect IS
	'True when open or close lies outside [low, high]: real vendor data '
	'has such rows, so they are kept and flagged.';

CREATE TABLE pgtrade.strategy_kind (
	name		text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
	evaluator	regprocedure NOT NULL,
	validator	regprocedure NOT NULL,
	builtin		boolean NOT NULL DEFAULT false,
	description	text,
	owner_role	name,
	registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtrade.strategy_kind IS
	'Strategy kinds: an evaluator (params, ts[], open[], high[], low[], '
	'close[], volume[]) -> jsonb and a validator (params) -> bars needed.';
COMMENT ON COLUMN pgtrade.strategy_kind.owner_role IS
	'For a kind registered with pgtrade.register_kind: the role whose '
	'rights its evaluator and validator run with.';

CREATE TABLE pgtrade.strategy (
	strategy_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name			text NOT NULL UNIQUE
					CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
	kind			text NOT NULL REFERENCES pgtrade.strategy_kind,
	params			jsonb NOT NULL DEFAULT '{}',
	instrument_id	bigint NOT NULL REFERENCES pgtrade.instrument,
	account_id		text NOT NULL REFERENCES pgtrade.account,
	bar_size		interval NOT NULL DEFAULT '1 day'
					CHECK (bar_size = interval '1 day'
						   OR (bar_size > interval '0'
							   AND bar_size < interval '1 day'
							   AND extract(epoch FROM bar_size) % 60 = 0)),
	schedule		text NOT NULL,
	time_zone		text NOT NULL DEFAULT 'America/New_York',
	quantity		numeric NOT NULL
					CHECK (quantity > 0 AND quantity < 1e12),
	order_type		text NOT NULL DEFAULT 'market'
					CHECK (order_type IN ('market', 'limit')),
	limit_offset	numeric NOT NULL DEFAULT 0 CHECK (limit_offset >= 0),
	tif				text NOT NULL DEFAULT 'day'
					CHECK (tif IN ('day', 'gtc', 'ioc')),
	order_valid_for	interval NOT NULL DEFAULT '15 minutes'
					CHECK (order_valid_for > interval '0'),
	active			boolean NOT NULL DEFAULT false,
	next_run_at		timestamptz,
	grace			interval NOT NULL DEFAULT '5 minutes'
					CHECK (grace >= interval '0'),
	catch_up		boolean NOT NULL DEFAULT false,
	bars_needed		integer NOT NULL CHECK (bars_needed > 0),
	max_bar_age		interval CHECK (max_bar_age > interval '0'),
	market_hours	text
					CHECK (market_hours IN ('open', 'trading_day', 'always')),
	disable_after_failures integer DEFAULT 3
					CHECK (disable_after_failures > 0),
	disabled_reason	text,
	activated_at	timestamptz,
	sizing			text NOT NULL DEFAULT 'fixed'
					CHECK (sizing IN ('fixed', 'equity_fraction', 'risk')),
	capital			numeric CHECK (capital > 0 AND capital < 1e15),
	sizing_fraction	numeric
					CHECK (sizing_fraction > 0 AND sizing_fraction <= 10),
	atr_period		integer NOT NULL DEFAULT 14
					CHECK (atr_period BETWEEN 1 AND 10000),
	atr_multiple	numeric NOT NULL DEFAULT 2
					CHECK (atr_multiple > 0 AND atr_multiple <= 100),
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT strategy_sizing_complete CHECK (sizing = 'fixed'
		OR (capital IS NOT NULL AND sizing_fraction IS NOT NULL)),
	CONSTRAINT strategy_risk_at_most_all CHECK (sizing <> 'risk'
		OR sizing_fraction <= 1)
);
CREATE UNIQUE INDEX strategy_one_per_position
	ON pgtrade.strategy (account_id, instrument_id);
/* the scheduler's question: which active strategy is due first */
CREATE INDEX strategy_due ON pgtrade.strategy (next_run_at, strategy_id)
	WHERE active;
COMMENT ON TABLE pgtrade.strategy IS
	'Strategies: a kind with validated params, one instrument and '
	'account, a cron schedule in a time zone, and a fixed order quantity '
	'per unit of target exposure.';
COMMENT ON COLUMN pgtrade.strategy.quantity IS
	'With sizing fixed: target position = evaluator target (1, 0 or -1) '
	'times this quantity.';
COMMENT ON COLUMN pgtrade.strategy.sizing IS
	'How a position is sized when the target opens or reverses it: fixed '
	'(quantity), equity_fraction (equity x sizing_fraction / last close) '
	'or risk (equity x sizing_fraction / (atr_multiple x ATR(atr_period))), '
	'rounded down to the lot size; equity is capital plus the position''s '
	'realized and unrealized P&L at the last close.  A position already '
	'on the target''s side is not resized.';
COMMENT ON COLUMN pgtrade.strategy.capital IS
	'The money the strategy trades with, for equity_fraction and risk '
	'sizing.';
COMMENT ON COLUMN pgtrade.strategy.sizing_fraction IS
	'equity_fraction: the part of equity a position takes (up to 10, '
	'leverage); risk: the part of equity a stop may lose (up to 1).';
COMMENT ON COLUMN pgtrade.strategy.next_run_at IS
	'The next cron slot; run_due runs the strategy once now() reaches it.';
COMMENT ON COLUMN pgtrade.strategy.grace IS
	'A cron run that starts later than this after its slot is recorded as '
	'missed instead (unless catch_up).';
COMMENT ON COLUMN pgtrade.strategy.max_bar_age IS
	'A run whose last ended bar ended longer ago than this before the run '
	'is skipped as stale; NULL means 5 days for daily bars and 3 bars (at '
	'least 15 minutes) for intraday ones.';
COMMENT ON COLUMN pgtrade.strategy.market_hours IS
	'When runs go ahead by the instrument''s calendar: open (only while a '
	'session is open), trading_day (any time on a day with a session) or '
	'always; other runs are skipped with the reason.  NULL means '
	'trading_day for daily bars and open for intraday ones.';
COMMENT ON COLUMN pgtrade.strategy.disable_after_failures IS
	'Scheduled runs that may fail in a row before the strategy is switched '
	'off (with disabled_reason set); NULL never switches it off.';
COMMENT ON COLUMN pgtrade.strategy.activated_at IS
	'When the strategy was last switched on: failures before it do not '
	'count towards disable_after_failures.';
COMMENT ON COLUMN pgtrade.strategy.disabled_reason IS
	'Why pgtrade switched the strategy off; cleared when it is switched '
	'on again.';
COMMENT ON COLUMN pgtrade.strategy.bars_needed IS
	'Bars the evaluator needs, as its validator reported for params.';

CREATE TABLE pgtrade.workflow_run (
	run_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	strategy_id	bigint NOT NULL REFERENCES pgtrade.strategy,
	trigger		text NOT NULL CHECK (trigger IN ('cron', 'manual', 'replay',
							 'external')),
	slot		timestamptz NOT NULL,
	as_of		timestamptz NOT NULL,
	status		text NOT NULL DEFAULT 'running'
				CHECK (status IN ('running', 'succeeded', 'failed',
								  'skipped', 'missed')),
	started_at	timestamptz NOT NULL DEFAULT clock_timestamp(),
	finished_at	timestamptz,
	error		text,
	sqlstate	text
);
CREATE UNIQUE INDEX workflow_run_cron_slot
	ON pgtrade.workflow_run (strategy_id, slot) WHERE trigger = 'cron';
CREATE INDEX workflow_run_strategy ON pgtrade.workflow_run (strategy_id, started_at);
COMMENT ON TABLE pgtrade.workflow_run IS
	'One execution of a strategy; a cron slot has at most one run.  Kept '
	'forever by default.';

CREATE TABLE pgtrade.workflow_step (
	run_id		bigint NOT NULL REFERENCES pgtrade.workflow_run ON DELETE CASCADE,
	step_no		integer NOT NULL,
	name		text NOT NULL,
	started_at	timestamptz NOT NULL,
	finished_at	timestamptz NOT NULL,
	input		jsonb,
	output		jsonb,
	PRIMARY KEY (run_id, step_no)
);
COMMENT ON TABLE pgtrade.workflow_step IS
	'Lineage of a run: one row per step with its inputs, outputs and timing.';

CREATE TABLE pgtrade.orders (
	order_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	client_order_id	text UNIQUE,
	account_id		text NOT NULL REFERENCES pgtrade.account,
	instrument_id	bigint NOT NULL REFERENCES pgtrade.instrument,
	side			text NOT NULL CHECK (side IN ('buy', 'sell')),
	quantity		numeric NOT NULL
					CHECK (quantity > 0 AND quantity < 'Infinity'),
	order_type		text NOT NULL DEFAULT 'market'
					CHECK (order_type IN ('market', 'limit', 'stop',
										  'stop_limit')),
	limit_price		numeric
					CHECK (limit_price > 0 AND limit_price < 'Infinity'),
	stop_price		numeric
					CHECK (stop_price > 0 AND stop_price < 'Infinity'),
	tif				text NOT NULL DEFAULT 'day'
					CHECK (tif IN ('day', 'gtc', 'ioc')),
	outside_rth		boolean NOT NULL DEFAULT false,
	valid_until		timestamptz,
	status			text NOT NULL DEFAULT 'pending'
					CHECK (status IN ('pending', 'refused', 'submitting',
									  'working', 'filled', 'cancelled',
									  'expired', 'rejected', 'unknown',
									  'cancel_requested')),
	risk_verdict	jsonb,
	strategy_id		bigint REFERENCES pgtrade.strategy,
	decision_id		bigint,
	broker_order_id	text,
	broker_status	text,
	broker_filled_quantity numeric,
	filled_quantity	numeric NOT NULL DEFAULT 0,
	avg_fill_price	numeric,
	attempts		integer NOT NULL DEFAULT 0,
	claimed_by		bigint,
	cancel_sent_at	timestamptz,
	last_error		text,
	created_at		timestamptz NOT NULL DEFAULT now(),
	submitted_at	timestamptz,
	updated_at		timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT orders_prices_match_type CHECK (
		(order_type = 'market' AND limit_price IS NULL AND stop_price IS NULL) OR
		(order_type = 'limit' AND limit_price IS NOT NULL AND stop_price IS NULL) OR
		(order_type = 'stop' AND limit_price IS NULL AND stop_price IS NOT NULL) OR
		(order_type = 'stop_limit' AND limit_price IS NOT NULL AND stop_price IS NOT NULL))
);
CREATE INDEX orders_unsettled ON pgtrade.orders (account_id, instrument_id)
	WHERE status IN ('pending', 'submitting', 'working', 'cancel_requested',
					 'unknown')
		OR (status = 'filled' AND filled_quantity < quantity)
		OR (status IN ('cancelled', 'rejected')
			AND broker_filled_quantity > filled_quantity);
CREATE INDEX orders_pending ON pgtrade.orders (order_id) WHERE status = 'pending';
CREATE INDEX orders_account_created ON pgtrade.orders (account_id, created_at);
COMMENT ON TABLE pgtrade.orders IS
	'Orders (ORDER is reserved).  Rows are inserted through the risk gate '
	'and moved only by pgtrade''s functions along the order state '
	'machine.';
COMMENT ON COLUMN pgtrade.orders.client_order_id IS
	'The cOID sent to IBKR: pgt-<installation prefix>-<order_id>; IBKR '
	'echoes it as order_ref.';
COMMENT ON COLUMN pgtrade.orders.valid_until IS
	'A pending order not claimed by then is expired, never sent.';
COMMENT ON COLUMN pgtrade.orders.cancel_sent_at IS
	'When the listener last sent the broker a cancel for this order.';
COMMENT ON COLUMN pgtrade.orders.broker_filled_quantity IS
	'Filled quantity as the broker last reported it; filled_quantity is '
	'the sum of recorded fills.';

CREATE TABLE pgtrade.decision (
	decision_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id			bigint NOT NULL REFERENCES pgtrade.workflow_run,
	strategy_id		bigint NOT NULL REFERENCES pgtrade.strategy,
	as_of			timestamptz NOT NULL,
	action			text NOT NULL CHECK (action IN ('buy', 'sell', 'hold')),
	signal			text,
	target_position	numeric,
	position		numeric NOT NULL,
	open_quantity	numeric NOT NULL,
	quantity		numeric NOT NULL CHECK (quantity >= 0),
	last_close		double precision,
	confidence		numeric,
	reason			text NOT NULL,
	indicators		jsonb,
	last_bar_ts		timestamptz,
	bars_used		integer NOT NULL,
	risk_verdict	jsonb,
	order_id		bigint,
	kind			text,
	params			jsonb,
	created_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decision_run ON pgtrade.decision (run_id);
/*
 * One direction only: orders.decision_id references decision.  A second
 * key from decision.order_id back to orders would be a cycle, and
 * pg_dump could then restore neither table's rows.
 */
ALTER TABLE pgtrade.orders ADD FOREIGN KEY (decision_id)
	REFERENCES pgtrade.decision;
COMMENT ON TABLE pgtrade.decision IS
	'What a run decided and why: action, target, the position and open '
	'orders it netted against, the indicator values, the last bar used '
	'and the risk verdict.';
COMMENT ON COLUMN pgtrade.decision.order_id IS
	'The order the decision placed, if any (orders.decision_id points back).';
COMMENT ON COLUMN pgtrade.decision.open_quantity IS
	'Signed remaining quantity of the account''s open orders in the '
	'instrument when the decision was made.';

CREATE TABLE pgtrade.order_event (
	event_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	order_id	bigint NOT NULL REFERENCES pgtrade.orders,
	at			timestamptz NOT NULL DEFAULT clock_timestamp(),
	from_status	text,
	to_status	text NOT NULL,
	source		text NOT NULL,
	detail		text,
	payload		jsonb
);
CREATE INDEX order_event_order ON pgtrade.order_event (order_id, event_id);
COMMENT ON TABLE pgtrade.order_event IS
	'Append-only history of every order state change and broker report, '
	'with its payload.  Never purged by pgtrade.';

CREATE TABLE pgtrade.fill (
	fill_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	execution_id	text NOT NULL UNIQUE,
	order_id		bigint REFERENCES pgtrade.orders,
	order_ref		text,
	account_id		text NOT NULL REFERENCES pgtrade.account,
	instrument_id	bigint NOT NULL REFERENCES pgtrade.instrument,
	side			text NOT NULL CHECK (side IN ('buy', 'sell')),
	quantity		numeric NOT NULL CHECK (quantity > 0),
	price			numeric NOT NULL CHECK (price > 0),
	trade_time		timestamptz NOT NULL,
	recorded_at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	payload			jsonb,
	execution_base	text GENERATED ALWAYS AS
		(CASE WHEN execution_id ~ '^[^.]+\.[^.]+\.[^.]+\.[^.]+$'
			  THEN regexp_replace(execution_id, '\.[^.]*$', '')
			  ELSE execution_id END) STORED
);
CREATE INDEX fill_order ON pgtrade.fill (order_id);
CREATE INDEX fill_execution_base ON pgtrade.fill (execution_base);
COMMENT ON COLUMN pgtrade.fill.execution_base IS
	'For IBKR''s four-part execution ids, the id without its last '
	'segment: executions that share it are corrections of one execution, '
	'and only the one with the highest last segment counts.  Other ids '
	'stand alone.';

CREATE TABLE pgtrade.fill_correction (
	corrected_execution_id	text PRIMARY KEY
							REFERENCES pgtrade.fill (execution_id),
	by_execution_id			text NOT NULL
							REFERENCES pgtrade.fill (execution_id),
	recorded_at				timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE pgtrade.fill_correction IS
	'Executions replaced by a later correction of the same execution; '
	'positions and order totals leave them out.  Append-only, never '
	'purged.';
COMMENT ON TABLE pgtrade.fill IS
	'Broker executions, each recorded once by execution id; order_id is '
	'NULL for executions that match no pgtrade order (manual trades).';

CREATE TABLE pgtrade.commission (
	commission_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	execution_id	text NOT NULL REFERENCES pgtrade.fill (execution_id),
	amount			numeric NOT NULL,
	currency		text,
	recorded_at		timestamptz NOT NULL DEFAULT clock_timestamp()
);
/* one commission per execution, even when two sessions report it at once */
CREATE UNIQUE INDEX commission_execution
	ON pgtrade.commission (execution_id);
COMMENT ON TABLE pgtrade.commission IS
	'Commissions, append-only and apart from fills because brokers may '
	'report them later.';

CREATE TABLE pgtrade.position (
	account_id		text NOT NULL REFERENCES pgtrade.account,
	instrument_id	bigint NOT NULL REFERENCES pgtrade.instrument,
	quantity		numeric NOT NULL DEFAULT 0,
	avg_cost		numeric,
	realized_pnl	numeric NOT NULL DEFAULT 0,
	day				date,
	day_start_realized numeric NOT NULL DEFAULT 0,
	updated_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, instrument_id)
);
COMMENT ON TABLE pgtrade.position IS
	'Positions per account and instrument, always the sum of the fills: '
	'changed only when a fill row is really inserted.';
COMMENT ON COLUMN pgtrade.position.realized_pnl IS
	'Realized profit and loss from closing trades, before commissions.';
COMMENT ON COLUMN pgtrade.position.day IS
	'The account''s trading day of the last change (account.time_zone).';
COMMENT ON COLUMN pgtrade.position.day_start_realized IS
	'realized_pnl as it stood when that day began: realized_pnl less this '
	'is the day''s realized P&L while day is today.';

CREATE TABLE pgtrade.risk_limit (
	limit_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id			text REFERENCES pgtrade.account,
	strategy_id			bigint REFERENCES pgtrade.strategy,
	kill_switch			boolean NOT NULL DEFAULT false,
	max_position		numeric
						CHECK (max_position >= 0 AND max_position < 'Infinity'),
	max_order_quantity	numeric
						CHECK (max_order_quantity > 0
							   AND max_order_quantity < 'Infinity'),
	max_order_notional	numeric
						CHECK (max_order_notional > 0
							   AND max_order_notional < 'Infinity'),
	max_position_notional numeric
						CHECK (max_position_notional >= 0
							   AND max_position_notional < 'Infinity'),
	max_open_orders		integer CHECK (max_open_orders >= 0),
	max_orders_per_day	integer CHECK (max_orders_per_day >= 0),
	max_daily_loss		numeric
						CHECK (max_daily_loss >= 0
							   AND max_daily_loss < 'Infinity'),
	price_collar_pct	numeric
						CHECK (price_collar_pct > 0
							   AND price_collar_pct < 'Infinity'),
	allow_short			boolean,
	note				text,
	updated_by			text NOT NULL DEFAULT current_user,
	updated_at			timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX risk_limit_scope ON pgtrade.risk_limit
	(coalesce(account_id, ''), coalesce(strategy_id, 0));
COMMENT ON TABLE pgtrade.risk_limit IS
	'Risk limits by scope: all accounts (account_id NULL: the limit of '
	'each account, not a total across them), one account, or one '
	'strategy of an account.  The gate applies every row whose scope '
	'covers an order.';
COMMENT ON COLUMN pgtrade.risk_limit.max_position IS
	'Largest absolute position per instrument, counting open orders; '
	'orders that reduce exposure always pass.';
COMMENT ON COLUMN pgtrade.risk_limit.max_order_quantity IS
	'Largest quantity of one order.';
COMMENT ON COLUMN pgtrade.risk_limit.max_order_notional IS
	'Largest value of one order: quantity times its limit price (stop '
	'price for a stop order, latest bar close for a market order).';
COMMENT ON COLUMN pgtrade.risk_limit.max_position_notional IS
	'Largest absolute position value per instrument, counting open orders '
	'as max_position does, at the latest bar close; orders that reduce '
	'exposure always pass.';
COMMENT ON COLUMN pgtrade.risk_limit.max_open_orders IS
	'Most orders of the scope open at once, counting the new one.';
COMMENT ON COLUMN pgtrade.risk_limit.max_orders_per_day IS
	'Most orders of the scope accepted by the gate in one trading day '
	'(account.time_zone), counting the new one; refused orders do not count.';
COMMENT ON COLUMN pgtrade.risk_limit.max_daily_loss IS
	'Once the day''s loss (realized today plus unrealized against average '
	'cost at the latest bar close) reaches this, only orders that reduce '
	'exposure pass.';
COMMENT ON COLUMN pgtrade.risk_limit.price_collar_pct IS
	'Fat-finger guard: a limit or stop price more than this percentage '
	'away from the latest bar close is refused.';
COMMENT ON COLUMN pgtrade.risk_limit.allow_short IS
	'false: an order whose side''s worst case would leave a short position '
	'is refused unless it reduces exposure.  NULL leaves it to other scopes; '
	'short selling is allowed when no covering row says false.';

CREATE TABLE pgtrade.risk_limit_history (
	history_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	limit_id	bigint NOT NULL,
	operation	text NOT NULL,
	old_row		jsonb,
	new_row		jsonb,
	changed_by	text NOT NULL DEFAULT current_user,
	changed_at	timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE pgtrade.risk_limit_history IS
	'Append-only audit of every change to risk_limit.  Never purged by '
	'pgtrade.';

CREATE TABLE pgtrade.listener (
	listener_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name			text NOT NULL,
	pid				integer,
	version			text,
	db_user			text NOT NULL DEFAULT session_user,
	started_at		timestamptz NOT NULL DEFAULT now(),
	heartbeat_at	timestamptz NOT NULL DEFAULT now(),
	gateway_state	text,
	accounts		text[],
	last_error		text,
	stopped_at		timestamptz
);
COMMENT ON TABLE pgtrade.listener IS
	'One row per listener start: heartbeat, gateway state, accounts '
	'served and last error.';

/*
 * Brackets and modifications.  A bracket is a parent order and two
 * children (take-profit and stop-loss) on the other side; the children
 * share an OCA group, so at most one of them can fill, and the risk
 * gate counts the group once.  A modification asks the broker to change
 * a working order's quantity or prices; the order row keeps the terms
 * the broker confirmed, the request lives apart until it is answered.
 */
ALTER TABLE pgtrade.orders
	ADD COLUMN parent_order_id bigint REFERENCES pgtrade.orders,
	ADD COLUMN oca_group text,
	ADD COLUMN bracket_role text
		CHECK (bracket_role IN ('entry', 'take_profit', 'stop_loss'));
/* a bracket's children in order_id order, the order they are locked in */
CREATE INDEX orders_parent ON pgtrade.orders (parent_order_id, order_id)
	WHERE parent_order_id IS NOT NULL;
COMMENT ON COLUMN pgtrade.orders.parent_order_id IS
	'For a bracket''s take-profit and stop-loss: the entry order they '
	'protect; sent with it, as children, never alone.';
COMMENT ON COLUMN pgtrade.orders.oca_group IS
	'One-cancels-all group of a bracket''s children: when one fills the '
	'broker cancels the other, so the risk gate counts the group once.';

CREATE TABLE pgtrade.order_modification (
	modification_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	order_id		bigint NOT NULL REFERENCES pgtrade.orders,
	status			text NOT NULL DEFAULT 'requested'
					CHECK (status IN ('requested', 'sent', 'applied',
									  'refused')),
	old_quantity	numeric NOT NULL,
	old_limit_price	numeric,
	old_stop_price	numeric,
	quantity		numeric NOT NULL
					CHECK (quantity > 0 AND quantity < 'Infinity'),
	limit_price		numeric
					CHECK (limit_price > 0 AND limit_price < 'Infinity'),
	stop_price		numeric
					CHECK (stop_price > 0 AND stop_price < 'Infinity'),
	source			text NOT NULL,
	risk_verdict	jsonb,
	attempts		integer NOT NULL DEFAULT 0,
	requested_at	timestamptz NOT NULL DEFAULT clock_timestamp(),
	sent_at			timestamptz,
	answered_at		timestamptz,
	reason			text,
	payload			jsonb
);
CREATE UNIQUE INDEX order_modification_open
	ON pgtrade.order_modification (order_id)
	WHERE status IN ('requested', 'sent');
COMMENT ON TABLE pgtrade.order_modification IS
	'Requests to change a working order''s quantity or prices, with the '
	'terms before and after and the broker''s answer; at most one open '
	'per order.  Kept forever by default.';
COMMENT ON COLUMN pgtrade.order_modification.status IS
	'requested (queued for the listener), sent (posted, answer not yet '
	'recorded), applied (the order row has the new terms), refused (the '
	'order is unchanged; reason says why).';

SELECT pg_catalog.pg_extension_config_dump('pgtrade.account', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.instrument', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.bar', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.strategy', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.workflow_run', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.workflow_step', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.decision', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.orders', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.order_event', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.fill', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.commission', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.fill_correction', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.position', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.risk_limit', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.risk_limit_history', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.listener', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.order_modification', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.strategy_kind',
	'WHERE NOT builtin');

/* their identity sequences too, or restored rows would collide */
DO $seqs$
DECLARE
	v_seq text;
BEGIN
	FOR v_seq IN
		SELECT pg_catalog.pg_get_serial_sequence(c.oid::regclass::text,
												 a.attname)
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
		WHERE c.relnamespace = 'pgtrade'::regnamespace
			AND a.attidentity <> '' AND c.relname <> 'strategy_kind'
	LOOP
		PERFORM pg_catalog.pg_extension_config_dump(v_seq, '');
	END LOOP;
END
$seqs$;
/*
 * 35_access.sql: which accounts a role may see and trade.
 *
 * An analyst or trader sees and touches only the accounts granted to a
 * role they are a member of (account_grant, set with grant_account).
 * Members of pgtrade_admin, pgtrade_listener and pgtrade_scheduler, the
 * owner and superusers see every account: they run the whole book.
 *
 * The caller is the role a session set with SET ROLE, else its login
 * role: inside a SECURITY DEFINER function current_user is the owner,
 * so it cannot tell who asked.  Row-level security on the tables
 * (91_row_security.sql) filters what traders read directly; views
 * filter for readers, who see only views; the risk gate refuses an
 * order for an account the caller may not trade, and the functions
 * that act on an order or a strategy check its account.
 */
CREATE TABLE pgtrade.account_grant (
	role_name	name NOT NULL,
	account_id	text NOT NULL REFERENCES pgtrade.account ON DELETE CASCADE,
	granted_by	text NOT NULL DEFAULT session_user,
	granted_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (role_name, account_id)
);
COMMENT ON TABLE pgtrade.account_grant IS
	'Accounts a role (and its members) may see and trade; set with '
	'pgtrade.grant_account and pgtrade.revoke_account.';
SELECT pg_catalog.pg_extension_config_dump('pgtrade.account_grant', '');

/* a user kind's code, called as its role (acting_role.c) */
CREATE FUNCTION pgtrade.kind_validate_as(role name, fn regprocedure,
	params jsonb)
RETURNS integer
AS 'MODULE_PATHNAME', 'pgtrade_kind_call_as'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pgtrade.kind_validate_as(name, regprocedure, jsonb) IS
	'Internal: calls a strategy kind''s validator as the kind''s role.';
CREATE FUNCTION pgtrade.kind_evaluate_as(role name, fn regprocedure,
	params jsonb, ts timestamptz[], open float8[], high float8[],
	low float8[], close float8[], volume float8[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_kind_call_as'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pgtrade.kind_evaluate_as(name, regprocedure, jsonb,
	timestamptz[], float8[], float8[], float8[], float8[], float8[]) IS
	'Internal: calls a strategy kind''s evaluator as the kind''s role.';
CREATE FUNCTION pgtrade.kind_evaluate(fn regprocedure, params jsonb,
	ts timestamptz[], open float8[], high float8[], low float8[],
	close float8[], volume float8[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_kind_call'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pgtrade.kind_evaluate(regprocedure, jsonb, timestamptz[],
	float8[], float8[], float8[], float8[], float8[]) IS
	'Internal: calls a built-in strategy kind''s evaluator directly.';
CREATE FUNCTION pgtrade.acting_role()
RETURNS name
AS 'MODULE_PATHNAME', 'pgtrade_acting_role'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pgtrade.acting_role() IS
	'The role whose strategy kind code is running, or NULL.';

CREATE FUNCTION pgtrade.caller_role()
RETURNS name
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(pgtrade.acting_role(),
					nullif(current_setting('role'), 'none')::name,
					session_user::name);
$$;
COMMENT ON FUNCTION pgtrade.caller_role() IS
	'The role a request comes from: while a user kind''s code runs, its '
	'role; else the one set with SET ROLE, else the login role '
	'(current_user is the owner inside SECURITY DEFINER functions).';

/*
 * sees_all_accounts: superusers, the owner of pgtrade's tables, and
 * members of the admin, listener and scheduler roles.
 */
CREATE FUNCTION pgtrade.sees_all_accounts(p_role name)
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_role oid := (SELECT r.oid FROM pg_catalog.pg_roles r
				   WHERE r.rolname = p_role);
BEGIN
	IF v_role IS NULL THEN
		RETURN false;
	END IF;
	RETURN (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = v_role)
		OR pg_has_role(v_role,
			(SELECT c.relowner FROM pg_catalog.pg_class c
			 WHERE c.oid = 'pgtrade.account'::regclass), 'MEMBER')
		OR pg_has_role(v_role, 'pgtrade_admin', 'MEMBER')
		OR pg_has_role(v_role, 'pgtrade_listener', 'MEMBER')
		OR pg_has_role(v_role, 'pgtrade_scheduler', 'MEMBER');
END
$$;
COMMENT ON FUNCTION pgtrade.sees_all_accounts(name) IS
	'True for roles that see every account: superusers, the owner, and '
	'members of pgtrade_admin, pgtrade_listener or pgtrade_scheduler.';

/*
 * visible_accounts lists the accounts a role may see, the caller by
 * default.  Row-level security and the views ask it for current_user:
 * there current_user is the role whose rights the query runs with,
 * which inside a user's SECURITY DEFINER function (a strategy kind's
 * evaluator) is that function's owner, not the session.
 */
CREATE FUNCTION pgtrade.visible_accounts(p_role name DEFAULT NULL)
RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_caller name := pgtrade.caller_role();
	v_for name := coalesce(p_role, v_caller);
	v_list text[];
BEGIN
	IF pgtrade.sees_all_accounts(v_for) THEN
		v_list := ARRAY(SELECT a.account_id FROM pgtrade.account a);
	ELSE
		v_list := ARRAY(
			SELECT DISTINCT g.account_id FROM pgtrade.account_grant g
			WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
						  WHERE r.rolname = g.role_name
							AND pg_has_role(v_for, r.oid, 'MEMBER')));
	END IF;
	/* asked for another role: no more than the caller may see either */
	IF v_for <> v_caller AND NOT pgtrade.sees_all_accounts(v_caller) THEN
		v_list := ARRAY(
			SELECT unnest(v_list)
			INTERSECT SELECT unnest(pgtrade.visible_accounts(v_caller)));
	END IF;
	RETURN v_list;
END
$$;
COMMENT ON FUNCTION pgtrade.visible_accounts(name) IS
	'The accounts a role (by default the caller) may see and trade.';

CREATE FUNCTION pgtrade.require_account(p_account text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_caller name := pgtrade.caller_role();
BEGIN
	IF p_account IS NULL OR pgtrade.sees_all_accounts(v_caller) THEN
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pgtrade.account_grant g
				   JOIN pg_catalog.pg_roles r ON r.rolname = g.role_name
				   WHERE g.account_id = p_account
					 AND pg_has_role(v_caller, r.oid, 'MEMBER')) THEN
		RAISE EXCEPTION 'role "%" may not trade or see account "%"',
			pgtrade.caller_role(), p_account
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'An admin grants it with pgtrade.grant_account().';
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.require_account(text) IS
	'Raises insufficient_privilege unless the caller may see the account.';

CREATE FUNCTION pgtrade.grant_account(role_name name, account_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
				   WHERE r.rolname = role_name) THEN
		RAISE EXCEPTION 'role "%" does not exist', role_name
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pgtrade.account a
				   WHERE a.account_id = grant_account.account_id) THEN
		RAISE EXCEPTION 'account "%" does not exist', account_id
			USING ERRCODE = 'foreign_key_violation',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	INSERT INTO pgtrade.account_grant AS g (role_name, account_id, granted_by)
	VALUES (role_name, account_id, session_user)
	ON CONFLICT ON CONSTRAINT account_grant_pkey DO NOTHING;
END
$$;
COMMENT ON FUNCTION pgtrade.grant_account(name, text) IS
	'Lets a role and its members see and trade an account.';

CREATE FUNCTION pgtrade.revoke_account(role_name name, account_id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	DELETE FROM pgtrade.account_grant g
	WHERE g.role_name = revoke_account.role_name
		AND g.account_id = revoke_account.account_id;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION pgtrade.revoke_account(name, text) IS
	'Takes an account from a role; returns false when it had no grant.';
/*
 * 38_progress.sql: progress reports of long calls.
 *
 * A bulk import or a large sweep can run for minutes with nothing to
 * show.  Such a call asks note_progress at points where it knows how far
 * it is; a NOTICE is raised only when pgtrade.progress_interval seconds
 * (default 5) have passed since the call began or since its last report,
 * so a call shorter than that prints nothing.  The interval is an
 * ordinary custom setting, read on every report: SET it for a session,
 * or to 0 to see every report.
 */

CREATE FUNCTION pgtrade.note_progress(caller text, done bigint,
	total bigint, unit text, started timestamptz, noted timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_setting text :=
		pg_catalog.current_setting('pgtrade.progress_interval', true);
	v_now timestamptz := pg_catalog.clock_timestamp();
	v_every double precision := 5;
BEGIN
	IF pg_catalog.btrim(v_setting) <> '' THEN
		IF v_setting !~ '^\s*[0-9]+(\.[0-9]*)?\s*$' THEN
			RAISE EXCEPTION 'invalid value for pgtrade.progress_interval: "%"',
				v_setting
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Give a number of seconds, 0 or more.';
		END IF;
		v_every := v_setting::double precision;
	END IF;
	IF v_now - coalesce(noted, started, v_now)
		< pg_catalog.make_interval(secs => v_every) THEN
		RETURN noted;
	END IF;
	RAISE NOTICE '%: % of % % (%), % s', caller, done, total, unit,
		CASE WHEN total > 0 THEN pg_catalog.floor(done * 100.0 / total)
			 ELSE 100 END || '%',
		pg_catalog.round(extract(epoch FROM v_now - started), 1);
	RETURN v_now;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.note_progress(text, bigint, bigint, text,
	timestamptz, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.note_progress(text, bigint, bigint, text,
	timestamptz, timestamptz) IS
	'Internal to long calls: raises a progress NOTICE ("import_bars: 1200000 '
	'of 5000000 rows written (24%), 3.1 s") when pgtrade.progress_interval '
	'seconds (default 5) have passed since noted, the time of the last one '
	'(or started); returns the time of the last NOTICE.';
/*
 * 40_bars.sql: accounts, instruments, bar loading and bar availability.
 *
 * Loading is an upsert that either takes a whole batch or nothing: every
 * check runs before the first row is written, and a failed check raises
 * with the offending line, so a bad file never leaves half a batch.
 */

CREATE FUNCTION pgtrade.add_account(account_id text, description text DEFAULT NULL,
	time_zone text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF time_zone IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = time_zone) THEN
		RAISE EXCEPTION 'time zone "%" not recognized', time_zone
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF time_zone IS NOT NULL AND EXISTS (
		SELECT 1 FROM pgtrade.account a
		WHERE a.account_id = add_account.account_id AND a.time_zone <> time_zone) THEN
		RAISE EXCEPTION 'account "%" keeps its trading day in %, not %', account_id,
			(SELECT a.time_zone FROM pgtrade.account a
			 WHERE a.account_id = add_account.account_id), time_zone
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The zone moves the day the daily risk limits '
						   'count; it is never changed silently.';
	END IF;
	INSERT INTO pgtrade.account AS a (account_id, description, time_zone)
	VALUES (account_id, description, coalesce(time_zone, 'America/New_York'))
	ON CONFLICT ON CONSTRAINT account_pkey DO UPDATE
		SET description = coalesce(EXCLUDED.description, a.description),
			time_zone = CASE WHEN add_account.time_zone IS NULL THEN a.time_zone
							 ELSE EXCLUDED.time_zone END;
	RETURN account_id;
END
$$;
COMMENT ON FUNCTION pgtrade.add_account(text, text, text) IS
	'Registers a brokerage account (idempotent) and returns its id; '
	'time_zone (default America/New_York) is where its trading day for '
	'the daily risk limits begins.';

/*
 * add_instrument registers an instrument or returns the one already
 * registered.  Arguments left NULL take the defaults for a new row and
 * leave an existing row alone; an argument that contradicts an existing
 * row is an error, never a silent change: orders follow the conid, and
 * bar availability follows the zone and the session close.  The one
 * change allowed is filling in a conid that was not known yet.
 */
CREATE FUNCTION pgtrade.add_instrument(symbol text, conid bigint DEFAULT NULL,
	sec_type text DEFAULT 'STK', exchange text DEFAULT 'SMART',
	currency text DEFAULT 'USD', time_zone text DEFAULT NULL,
	session_open time DEFAULT NULL, session_close time DEFAULT NULL,
	calendar text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_i pgtrade.instrument;
	v_c pgtrade.market_calendar;
BEGIN
	IF time_zone IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pg_catalog.pg_timezone_names z
		WHERE z.name = add_instrument.time_zone) THEN
		RAISE EXCEPTION 'time zone "%" not recognized', time_zone
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF calendar IS NOT NULL THEN
		PERFORM pgtrade.market_check_calendar(calendar);
	END IF;
	SELECT * INTO v_i FROM pgtrade.instrument i
	WHERE i.symbol = add_instrument.symbol
		AND i.sec_type = add_instrument.sec_type
		AND i.exchange = add_instrument.exchange
		AND i.currency = add_instrument.currency
	FOR UPDATE;
	IF NOT FOUND THEN
		/*
		 * A New York instrument follows XNYS unless told otherwise; one
		 * elsewhere has no calendar unless named (it would not trade by
		 * New York's).  A calendar gives the zone and session it lacks,
		 * and must agree with a zone it is given.
		 */
		IF calendar IS NOT NULL
			OR pgtrade.same_time_zone(coalesce(time_zone, 'America/New_York'),
									  'America/New_York') THEN
			v_c := pgtrade.market_check_calendar(coalesce(calendar, 'XNYS'));
			IF NOT pgtrade.same_time_zone(time_zone, v_c.time_zone) THEN
				RAISE EXCEPTION 'instrument "%" in time zone % cannot follow '
					'calendar %, which is in %',
					symbol, time_zone, v_c.calendar, v_c.time_zone
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
		ELSE
			RAISE NOTICE 'instrument "%" in time zone % has no calendar: its '
				'strategies run at all hours', symbol, time_zone
				USING HINT = 'Name one with calendar => ..., or add one to '
							 'pgtrade.market_calendar.';
		END IF;
		INSERT INTO pgtrade.instrument AS i (symbol, conid, sec_type,
			exchange, currency, time_zone, session_open, session_close,
			calendar)
		VALUES (add_instrument.symbol, add_instrument.conid,
			add_instrument.sec_type, add_instrument.exchange,
			add_instrument.currency,
			coalesce(add_instrument.time_zone, v_c.time_zone,
					 'America/New_York'),
			coalesce(add_instrument.session_open, v_c.regular_open, '09:30'),
			coalesce(add_instrument.session_close, v_c.regular_close,
					 '16:00'),
			v_c.calendar)
		RETURNING i.instrument_id INTO v_i.instrument_id;
		RETURN v_i.instrument_id;
	END IF;
	IF conid IS NOT NULL AND v_i.conid IS NOT NULL AND conid <> v_i.conid THEN
		RAISE EXCEPTION 'instrument "%" already has conid %', symbol, v_i.conid
			USING ERRCODE = 'unique_violation',
				  DETAIL = pg_catalog.format('The call gave conid %s.', conid),
				  HINT = 'A conid names a contract; orders follow it, so it is never changed silently.';
	END IF;
	IF v_i.time_zone <> coalesce(time_zone, v_i.time_zone)
		OR v_i.session_open <> coalesce(session_open, v_i.session_open)
		OR v_i.session_close <> coalesce(session_close, v_i.session_close) THEN
		RAISE EXCEPTION 'instrument "%" is already registered with time zone % and session %-%',
			symbol, v_i.time_zone, v_i.session_open, v_i.session_close
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_i.calendar IS DISTINCT FROM coalesce(calendar, v_i.calendar) THEN
		RAISE EXCEPTION 'instrument "%" is already registered with calendar %',
			symbol, coalesce(v_i.calendar, 'NULL (all hours)')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Change it with pgtrade.set_instrument_calendar().';
	END IF;
	IF conid IS NOT NULL AND v_i.conid IS NULL THEN
		UPDATE pgtrade.instrument i SET conid = add_instrument.conid
		WHERE i.instrument_id = v_i.instrument_id;
	END IF;
	RETURN v_i.instrument_id;
END
$$;
COMMENT ON FUNCTION pgtrade.add_instrument(text, bigint, text, text, text,
	text, time, time, text) IS
	'Registers an instrument (a New York one follows calendar XNYS unless '
	'another is named; a calendar gives its zone and session) or returns '
	'the registered one; fills in a conid not known yet, and refuses to '
	'change a conid, time zone, session or calendar silently.';

CREATE FUNCTION pgtrade.instrument_id(symbol text)
RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
	v_n integer;
BEGIN
	SELECT min(i.instrument_id), count(*) INTO v_id, v_n
	FROM pgtrade.instrument i WHERE i.symbol = instrument_id.symbol;
	IF v_n = 0 THEN
		RAISE EXCEPTION 'instrument "%" does not exist', symbol
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add it with pgtrade.add_instrument().';
	ELSIF v_n > 1 THEN
		RAISE EXCEPTION 'instrument symbol "%" is ambiguous', symbol
			USING ERRCODE = 'ambiguous_parameter',
				  DETAIL = pg_catalog.format('%s instruments share the symbol.', v_n);
	END IF;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.instrument_id(text) IS
	'Returns the id of the one instrument with this symbol; raises when '
	'none or several match.';

CREATE FUNCTION pgtrade.bar_size_supported(bar_size interval)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT coalesce($1 = interval '1 day'
		OR ($1 > interval '0' AND $1 < interval '1 day'
			AND extract(epoch FROM $1) % 60 = 0), false);
$$;
COMMENT ON FUNCTION pgtrade.bar_size_supported(interval) IS
	'True for the bar sizes pgtrade handles: one day, or a whole number '
	'of minutes under a day.';

/*
 * recent_bars reads the newest bars of an instrument and size that
 * started before a time, oldest first, by one backward scan of the
 * primary key: what every run reads.
 */
CREATE FUNCTION pgtrade.recent_bars(instrument_id bigint, bar_size interval,
	before timestamptz, n integer, OUT ts timestamptz[],
	OUT open double precision[], OUT high double precision[],
	OUT low double precision[], OUT close double precision[],
	OUT volume double precision[], OUT bars integer)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtrade_recent_bars'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pgtrade.recent_bars(bigint, interval, timestamptz,
	integer) IS
	'The newest n bars of an instrument and size that started before '
	'"before", oldest first, as arrays (with the caller''s right to read '
	'pgtrade.bar).';

/*
 * A daily bar (bar_size of one day or more) ends at the session close of
 * its date in the exchange time zone; an intraday bar ends at its start
 * plus its size.  An early close in the instrument's calendar does not
 * move it: a half-day session's bar is taken to end at the usual close,
 * later than it did, never earlier.
 */
CREATE FUNCTION pgtrade.bar_end(ts timestamptz, bar_size interval,
	time_zone text, session_close time)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE WHEN $2 >= interval '1 day'
		THEN ((($1 AT TIME ZONE $3)::date + ($2 - interval '1 day'))::date
			  + $4) AT TIME ZONE $3
		ELSE $1 + $2 END;
$$;
COMMENT ON FUNCTION pgtrade.bar_end(timestamptz, interval, text, time) IS
	'When a bar has ended: session close of its date in the exchange zone '
	'for daily bars, start plus size for intraday bars.';

/*
 * bars_ended_by gives the bound on ts of the bars that had ended by
 * as_of (no look-ahead): every bar that started before it had ended.  An
 * intraday bar started by as_of minus its size; a daily bar's session
 * date is at most the last date whose close came by as_of, so it started
 * before midnight after that date, in the exchange's zone; and no bar
 * starts after as_of.  One expression, so that a query calling it takes
 * it in (inlined).
 */
CREATE FUNCTION pgtrade.bars_ended_by(as_of timestamptz, bar_size interval,
	time_zone text, session_close time)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT least(CASE WHEN $2 >= interval '1 day'
		THEN ((($1 AT TIME ZONE $3)::date
			   - CASE WHEN ($1 AT TIME ZONE $3)::time >= $4 THEN 0 ELSE 1 END
			   + 1)::timestamp) AT TIME ZONE $3
		ELSE $1 - $2 + interval '1 microsecond' END,
		$1 + interval '1 microsecond');
$$;
COMMENT ON FUNCTION pgtrade.bars_ended_by(timestamptz, interval, text, time) IS
	'The bound on ts below which every bar had ended by as_of: what a run '
	'and the scheduler read with recent_bars.';

/*
 * import_bars reads a table (usually a temporary one filled with psql's
 * \copy) with columns line, symbol, ts, open, high, low, close, volume and
 * upserts its rows into pgtrade.bar.  ts is text: a date (YYYY-MM-DD) for
 * daily bars, taken as midnight in the instrument's zone, or a timestamp
 * with offset for intraday bars.  A long import reports its progress
 * with note_progress (38_progress.sql).
 */
CREATE FUNCTION pgtrade.import_bars(source regclass,
	bar_size interval DEFAULT '1 day')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_bad record;
	v_n bigint := 0;
	v_rows bigint;
	v_total bigint;
	v_checks text;
	v_blocks integer;
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_noted timestamptz := v_started;
BEGIN
	IF NOT pgtrade.bar_size_supported(bar_size) THEN
		RAISE EXCEPTION 'bar size % is not supported', coalesce(bar_size::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Bars are daily (1 day) or a whole number of minutes under a day.';
	END IF;

	/* line numbers: the source's own, or the order rows come in */
	EXECUTE pg_catalog.format(
		'CREATE TEMP TABLE pgtrade_import ON COMMIT DROP AS
		 SELECT %s AS line, s.symbol::text AS symbol,
				s.ts::text AS ts_text,
				s.open::float8 AS open, s.high::float8 AS high,
				s.low::float8 AS low, s.close::float8 AS close,
				s.volume::float8 AS volume, i.instrument_id,
				i.time_zone, NULL::timestamptz AS ts
		 FROM %s s LEFT JOIN pgtrade.instrument i ON i.symbol = s.symbol',
		CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
						  WHERE a.attrelid = source AND a.attname = 'line'
							AND NOT a.attisdropped)
			 THEN 's.line::bigint' ELSE 'row_number() OVER ()' END,
		source);
	GET DIAGNOSTICS v_total = ROW_COUNT;
	v_checks := pg_catalog.format('checks of %s rows', v_total);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE instrument_id IS NULL ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'instrument "%" does not exist', v_bad.symbol
			USING ERRCODE = 'foreign_key_violation',
				  DETAIL = pg_catalog.format('Line %s names it.', v_bad.line),
				  HINT = 'Add it with pgtrade.add_instrument().';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 1, 12, v_checks,
		v_started, v_noted);
	IF (SELECT count(DISTINCT symbol) <> count(DISTINCT instrument_id)
		FROM pgtrade_import) THEN
		RAISE EXCEPTION 'a symbol in the batch matches several instruments'
			USING ERRCODE = 'ambiguous_parameter';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 2, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL
		OR volume IS NULL OR ts_text IS NULL
	ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has an empty field', v_bad.line
			USING ERRCODE = 'not_null_violation';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 3, 12, v_checks,
		v_started, v_noted);

	/* ISO 8601 only: a date for daily bars, a timestamp with offset else */
	SELECT * INTO v_bad FROM pgtrade_import
	WHERE CASE WHEN bar_size >= interval '1 day'
			   THEN ts_text !~ '^\d{4}-\d{2}-\d{2}$'
			   ELSE ts_text !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$'
		  END
	ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has time "%", not %', v_bad.line,
			v_bad.ts_text,
			CASE WHEN bar_size >= interval '1 day'
				 THEN 'a date (YYYY-MM-DD) as daily bars need'
				 ELSE 'a timestamp with its offset (YYYY-MM-DDTHH:MM:SS+HH:MM) as intraday bars need' END
			USING ERRCODE = 'invalid_datetime_format',
				  HINT = 'Check the bar size: daily files load with ''1 day'', minute files with ''1 minute''.';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 4, 12, v_checks,
		v_started, v_noted);

	PERFORM pgtrade.import_parse_ts(bar_size);
	v_noted := pgtrade.note_progress('import_bars', 5, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE extract(second FROM ts) <> 0 ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % does not start on a whole minute (%)',
			v_bad.line, v_bad.ts_text
			USING ERRCODE = 'invalid_datetime_format';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 6, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE ts > now() ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % starts in the future (%)', v_bad.line,
			v_bad.ts_text
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 7, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE NOT (open > '-Infinity' AND open < 'Infinity'
		AND high > '-Infinity' AND high < 'Infinity'
		AND low > '-Infinity' AND low < 'Infinity'
		AND close > '-Infinity' AND close < 'Infinity')
	ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has a price that is not a finite number',
			v_bad.line
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('open %s, high %s, low %s, close %s.',
					v_bad.open, v_bad.high, v_bad.low, v_bad.close);
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 8, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE NOT (open > 0 AND high > 0 AND low > 0 AND close > 0)
	ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has a price that is not positive',
			v_bad.line
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('open %s, high %s, low %s, close %s.',
					v_bad.open, v_bad.high, v_bad.low, v_bad.close);
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 9, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE high < low ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has high below low', v_bad.line
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('%s %s: high %s, low %s.',
					v_bad.symbol, v_bad.ts_text, v_bad.high, v_bad.low);
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 10, 12, v_checks,
		v_started, v_noted);

	SELECT * INTO v_bad FROM pgtrade_import
	WHERE NOT (volume >= 0 AND volume < 'Infinity') ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has a negative or invalid volume',
			v_bad.line
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('%s %s: volume %s.',
					v_bad.symbol, v_bad.ts_text, v_bad.volume);
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 11, 12, v_checks,
		v_started, v_noted);

	SELECT cur.line, cur.symbol, cur.ts_text, prev_line, prev_ts_text
	INTO v_bad
	FROM (SELECT line, symbol, ts, ts_text,
				 lag(ts) OVER w AS prev_ts,
				 lag(line) OVER w AS prev_line,
				 lag(ts_text) OVER w AS prev_ts_text
		  FROM pgtrade_import
		  WINDOW w AS (PARTITION BY instrument_id ORDER BY line)) cur
	WHERE cur.ts <= cur.prev_ts
	ORDER BY cur.line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bars for "%" are not in increasing time order',
			v_bad.symbol
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format(
					'Line %s (%s) does not come after line %s (%s).',
					v_bad.line, v_bad.ts_text, v_bad.prev_line,
					v_bad.prev_ts_text);
	END IF;
	v_noted := pgtrade.note_progress('import_bars', 12, 12, v_checks,
		v_started, v_noted);

	/*
	 * The rows are written in (instrument, time) order, as one sorted
	 * INSERT would lock them, but in slices of 1024 pages (8 MB) of a
	 * sorted copy, each read by ctid range without a scan of the rest,
	 * so that progress can be reported between slices.
	 */
	CREATE TEMP TABLE pgtrade_import_sorted ON COMMIT DROP AS
	SELECT instrument_id, ts, open, high, low, close, volume
	FROM pgtrade_import ORDER BY instrument_id, ts;
	DROP TABLE pgtrade_import;
	v_blocks := pg_catalog.pg_relation_size('pgtrade_import_sorted')
		/ pg_catalog.current_setting('block_size')::integer;
	FOR v_from IN 0 .. v_blocks BY 1024 LOOP
		INSERT INTO pgtrade.bar AS b
			(instrument_id, bar_size, ts, open, high, low, close, volume)
		SELECT instrument_id, import_bars.bar_size, ts, open, high, low,
			   close, volume
		FROM pgtrade_import_sorted
		WHERE ctid >= pg_catalog.format('(%s,0)', v_from)::tid
		  AND ctid < pg_catalog.format('(%s,0)', v_from + 1024)::tid
		ORDER BY instrument_id, ts
		ON CONFLICT (instrument_id, bar_size, ts) DO UPDATE
			SET open = EXCLUDED.open, high = EXCLUDED.high,
				low = EXCLUDED.low, close = EXCLUDED.close,
				volume = EXCLUDED.volume;
		GET DIAGNOSTICS v_rows = ROW_COUNT;
		v_n := v_n + v_rows;
		v_noted := pgtrade.note_progress('import_bars', v_n, v_total,
			'rows written', v_started, v_noted);
	END LOOP;
	DROP TABLE pgtrade_import_sorted;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION pgtrade.import_bars(regclass, interval) IS
	'Validates and upserts a batch of bars from a table (symbol, ts, '
	'open, high, low, close, volume, and optionally line for error '
	'messages); all or nothing.';

/*
 * import_parse_ts fills pgtrade_import.ts from ts_text, raising with the
 * line number on the first text that is not a date (daily bars) or a
 * timestamp (any bar size).  Internal to import_bars.
 */
CREATE FUNCTION pgtrade.import_parse_ts(bar_size interval)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_row record;
BEGIN
	/* The fast path converts the whole batch in one statement. */
	BEGIN
		UPDATE pgtrade_import
		SET ts = CASE WHEN ts_text ~ '^\d{4}-\d{2}-\d{2}$'
					  AND bar_size >= interval '1 day'
				 THEN (ts_text::date)::timestamp AT TIME ZONE time_zone
				 ELSE ts_text::timestamptz END;
		RETURN;
	EXCEPTION
		WHEN invalid_datetime_format OR datetime_field_overflow THEN
			NULL;			/* find the line below */
	END;

	FOR v_row IN SELECT line, ts_text FROM pgtrade_import ORDER BY line
	LOOP
		BEGIN
			PERFORM v_row.ts_text::timestamptz;
		EXCEPTION
			WHEN invalid_datetime_format OR datetime_field_overflow THEN
				RAISE EXCEPTION 'bar on line % has an invalid time "%"',
					v_row.line, v_row.ts_text
					USING ERRCODE = 'invalid_datetime_format',
						  DETAIL = SQLERRM;
		END;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.import_parse_ts(interval) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.import_parse_ts(interval) IS
	'Internal to import_bars: parses the time text of each staged bar.';
/*
 * 45_calendar.sql: exchange calendars as data, and when a market is open.
 *
 * A calendar has a time zone, a regular session and weekend days; its
 * special days close it for the day or shorten (or move) the session.
 * The data covers first_day to last_day: outside that range pgtrade does
 * not know whether the market is open, says so (NULL, or an error where
 * a list of sessions is asked for), and strategies skip rather than
 * guess.  An instrument names its calendar; NULL means one that trades
 * at all hours.
 */

CREATE TABLE pgtrade.market_calendar (
	calendar		text PRIMARY KEY CHECK (calendar ~ '^[A-Z0-9_]{1,16}$'),
	description		text NOT NULL,
	time_zone		text NOT NULL,
	regular_open	time NOT NULL,
	regular_close	time NOT NULL,
	weekend			integer[] NOT NULL DEFAULT '{6,7}'
					CHECK (weekend <@ '{1,2,3,4,5,6,7}'),
	first_day		date NOT NULL,
	last_day		date NOT NULL,
	builtin			boolean NOT NULL DEFAULT false,
	CHECK (regular_open < regular_close),
	CHECK (first_day <= last_day)
);
COMMENT ON TABLE pgtrade.market_calendar IS
	'Exchange calendars: time zone, regular session, weekend days (ISO: '
	'1 Monday to 7 Sunday) and the range of days the data covers.';

CREATE TABLE pgtrade.market_special_day (
	calendar	text NOT NULL REFERENCES pgtrade.market_calendar
				ON UPDATE CASCADE ON DELETE CASCADE,
	day			date NOT NULL,
	opens		time,
	closes		time,
	note		text NOT NULL CHECK (note <> ''),
	builtin		boolean NOT NULL DEFAULT false,
	PRIMARY KEY (calendar, day),
	CHECK ((opens IS NULL) = (closes IS NULL)),
	CHECK (opens < closes)
);
CREATE FUNCTION pgtrade.market_calendar_before_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z
				   WHERE z.name = NEW.time_zone) THEN
		RAISE EXCEPTION 'time zone "%" not recognized', NEW.time_zone
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF TG_OP = 'UPDATE' AND EXISTS (
		SELECT 1 FROM pgtrade.instrument i
		WHERE i.calendar = OLD.calendar
			AND NOT pgtrade.same_time_zone(i.time_zone, NEW.time_zone)) THEN
		RAISE EXCEPTION 'calendar % has instruments in another time zone than %',
			OLD.calendar, NEW.time_zone
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Move them to another calendar first.';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgtrade.market_calendar_before_write() IS
	'BEFORE INSERT OR UPDATE OF time_zone on market_calendar: the zone '
	'must be a zone name PostgreSQL knows, and keep the clock of the '
	'instruments that follow the calendar.';
CREATE TRIGGER market_calendar_before_write
	BEFORE INSERT OR UPDATE OF time_zone ON pgtrade.market_calendar
	FOR EACH ROW EXECUTE FUNCTION pgtrade.market_calendar_before_write();

COMMENT ON TABLE pgtrade.market_special_day IS
	'Days a calendar departs from its rule: closed all day (opens and '
	'closes NULL: holidays, closures), or a session with other hours '
	'(early closes, late opens, a weekend session).';

/*
 * pg_dump keeps the rows users add; the ones the extension ships come
 * back with CREATE EXTENSION (a shipped row edited in place is dumped as
 * shipped, not as edited).
 */
SELECT pg_catalog.pg_extension_config_dump('pgtrade.market_calendar',
	'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.market_special_day',
	'WHERE NOT builtin');

ALTER TABLE pgtrade.instrument
	ADD COLUMN calendar text DEFAULT 'XNYS'
		REFERENCES pgtrade.market_calendar ON UPDATE CASCADE;
COMMENT ON COLUMN pgtrade.instrument.calendar IS
	'The exchange calendar that says when the instrument trades (default '
	'XNYS, the New York Stock Exchange); NULL for one that trades at all '
	'hours.  Strategies skip runs while it is closed.';

CREATE FUNCTION pgtrade.market_check_calendar(p_calendar text)
RETURNS pgtrade.market_calendar
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_c pgtrade.market_calendar;
BEGIN
	SELECT * INTO v_c FROM pgtrade.market_calendar c
	WHERE c.calendar = p_calendar;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'market calendar "%" does not exist', p_calendar
			USING ERRCODE = 'undefined_object',
				  HINT = 'See SELECT calendar FROM pgtrade.market_calendar.';
	END IF;
	RETURN v_c;
END
$$;
COMMENT ON FUNCTION pgtrade.market_check_calendar(text) IS
	'Internal: the calendar of that name, or an error.';

/*
 * Two zone names keep the same clock when their offsets agree in both
 * seasons and on either side of both of 2024's changes in each
 * hemisphere: America/New_York and US/Eastern do, Europe/London and
 * America/New_York do not.
 */
CREATE FUNCTION pgtrade.same_time_zone(a text, b text)
RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT bool_and((t AT TIME ZONE a) = (t AT TIME ZONE b))
	FROM unnest('{2024-01-15 12:00+00, 2024-03-10 06:30+00,
				  2024-03-10 07:30+00, 2024-03-31 00:30+00,
				  2024-03-31 01:30+00, 2024-04-07 00:30+00,
				  2024-07-15 12:00+00, 2024-10-06 00:30+00,
				  2024-10-27 00:30+00, 2024-10-27 01:30+00,
				  2024-11-03 05:30+00, 2024-11-03 06:30+00}'::timestamptz[]) t;
$$;
COMMENT ON FUNCTION pgtrade.same_time_zone(text, text) IS
	'Internal: whether two zone names keep the same clock (their offsets '
	'agree through the seasons of 2024).';

/*
 * The session of one local day, or no row when the market is closed that
 * day; NULL is_known when the day lies outside the calendar's data.
 */
CREATE FUNCTION pgtrade.market_day(p_c pgtrade.market_calendar, p_day date,
	OUT is_known boolean, OUT opens timestamptz, OUT closes timestamptz,
	OUT note text)
RETURNS record
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_sd pgtrade.market_special_day;
BEGIN
	is_known := p_day BETWEEN p_c.first_day AND p_c.last_day;
	IF NOT is_known THEN
		RETURN;
	END IF;
	SELECT * INTO v_sd FROM pgtrade.market_special_day sd
	WHERE sd.calendar = p_c.calendar AND sd.day = p_day;
	IF FOUND THEN
		note := v_sd.note;
		IF v_sd.opens IS NOT NULL THEN
			opens := (p_day + v_sd.opens) AT TIME ZONE p_c.time_zone;
			closes := (p_day + v_sd.closes) AT TIME ZONE p_c.time_zone;
		END IF;
	ELSIF extract(isodow FROM p_day)::integer = ANY (p_c.weekend) THEN
		note := 'weekend';
	ELSE
		opens := (p_day + p_c.regular_open) AT TIME ZONE p_c.time_zone;
		closes := (p_day + p_c.regular_close) AT TIME ZONE p_c.time_zone;
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.market_day(pgtrade.market_calendar, date) IS
	'Internal: one local day of a calendar: whether the data covers it, '
	'its session (NULL when closed) and the special day''s note.';

/*
 * The first session that closes after an instant (the one in progress,
 * or the next), looked for up to a month ahead within the data; NULLs
 * when there is none.
 */
CREATE FUNCTION pgtrade.market_next_session(p_c pgtrade.market_calendar,
	p_after timestamptz, OUT opens timestamptz, OUT closes timestamptz)
RETURNS record
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_day date := (p_after AT TIME ZONE p_c.time_zone)::date;
	v_d record;
BEGIN
	FOR v_i IN 0..31 LOOP
		v_d := pgtrade.market_day(p_c, v_day + v_i);
		EXIT WHEN NOT v_d.is_known;
		IF v_d.closes > p_after THEN
			opens := v_d.opens;
			closes := v_d.closes;
			RETURN;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.market_next_session(pgtrade.market_calendar,
	timestamptz) IS
	'Internal: the first session of a calendar that closes after an '
	'instant, within a month and the data.';

CREATE FUNCTION pgtrade.market_sessions(calendar text, from_day date,
	to_day date)
RETURNS TABLE (day date, opens timestamptz, closes timestamptz,
	early_close boolean, note text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_c pgtrade.market_calendar := pgtrade.market_check_calendar(calendar);
BEGIN
	IF from_day IS NULL OR to_day IS NULL OR from_day > to_day THEN
		RAISE EXCEPTION 'market_sessions needs from_day <= to_day, not % and %',
			coalesce(from_day::text, 'NULL'), coalesce(to_day::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF from_day < v_c.first_day OR to_day > v_c.last_day THEN
		RAISE EXCEPTION 'calendar "%" has data from % to %, not for % to %',
			v_c.calendar, v_c.first_day, v_c.last_day, from_day, to_day
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Closed days outside the data are unknown; add '
						 'them to pgtrade.market_special_day and widen '
						 'the calendar''s range.';
	END IF;
	RETURN QUERY
		SELECT d::date,
			   (d::date + coalesce(sd.opens, v_c.regular_open))
				   AT TIME ZONE v_c.time_zone,
			   (d::date + coalesce(sd.closes, v_c.regular_close))
				   AT TIME ZONE v_c.time_zone,
			   coalesce(sd.closes < v_c.regular_close, false),
			   sd.note
		FROM generate_series(from_day, to_day, interval '1 day') d
		LEFT JOIN pgtrade.market_special_day sd
			ON sd.calendar = v_c.calendar AND sd.day = d::date
		WHERE CASE WHEN sd.day IS NOT NULL THEN sd.opens IS NOT NULL
				   ELSE NOT extract(isodow FROM d)::integer = ANY (v_c.weekend)
			  END
		ORDER BY 1;
END
$$;
COMMENT ON FUNCTION pgtrade.market_sessions(text, date, date) IS
	'The sessions of a calendar between two local days, inclusive: each '
	'day''s open and close, whether it closes early and why.  Days '
	'outside the calendar''s data are refused.';

/*
 * market_status answers for one instant: open or not, whether the local
 * day has a session at all, and in plain words why it is closed.  All
 * three answers are NULL outside the calendar's data.
 */
CREATE FUNCTION pgtrade.market_status(calendar text, at timestamptz,
	OUT is_open boolean, OUT trading_day boolean, OUT opens timestamptz,
	OUT closes timestamptz, OUT reason text)
RETURNS record
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_c pgtrade.market_calendar := pgtrade.market_check_calendar(calendar);
	v_day date;
	v_d record;
	v_next timestamptz;
BEGIN
	IF at IS NULL OR NOT isfinite(at) THEN
		RAISE EXCEPTION 'market_status needs a finite time'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_day := (at AT TIME ZONE v_c.time_zone)::date;
	v_d := pgtrade.market_day(v_c, v_day);
	IF NOT v_d.is_known THEN
		reason := format('calendar %s has no data for %s (it covers %s to %s)',
						 v_c.calendar, v_day, v_c.first_day, v_c.last_day);
		RETURN;
	END IF;
	opens := v_d.opens;
	closes := v_d.closes;
	trading_day := v_d.opens IS NOT NULL;
	is_open := trading_day AND at >= v_d.opens AND at < v_d.closes;
	IF is_open THEN
		RETURN;
	END IF;

	/* closed: say why, and when it opens next */
	IF NOT trading_day THEN
		reason := format('%s is closed on %s (%s)', v_c.calendar, v_day,
						 v_d.note);
	ELSIF at < v_d.opens THEN
		reason := format('%s opens at %s%s', v_c.calendar,
						 to_char(v_d.opens AT TIME ZONE v_c.time_zone,
								 'HH24:MI'),
						 coalesce(' (' || v_d.note || ')', ''));
		RETURN;
	ELSE
		reason := format('%s closed at %s%s', v_c.calendar,
						 to_char(v_d.closes AT TIME ZONE v_c.time_zone,
								 'HH24:MI'),
						 coalesce(' (' || v_d.note || ')', ''));
	END IF;
	v_next := (pgtrade.market_next_session(v_c, at)).opens;
	IF v_next IS NOT NULL THEN
		reason := reason || format('; next session opens %s %s',
			to_char(v_next AT TIME ZONE v_c.time_zone, 'YYYY-MM-DD HH24:MI'),
			v_c.time_zone);
	ELSE
		reason := reason || format('; the calendar''s data ends on %s',
								   v_c.last_day);
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.market_status(text, timestamptz) IS
	'Whether a calendar''s market is open at an instant (sessions include '
	'their open and exclude their close), whether that local day has a '
	'session, the session''s times and, when closed, why in plain words; '
	'NULL answers outside the calendar''s data.';

CREATE FUNCTION pgtrade.market_is_open(calendar text, at timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (pgtrade.market_status($1, $2)).is_open;
$$;
COMMENT ON FUNCTION pgtrade.market_is_open(text, timestamptz) IS
	'True while the calendar''s market is in a session at that instant, '
	'false when it is not, NULL outside the calendar''s data.';

CREATE FUNCTION pgtrade.set_instrument_calendar(symbol text, calendar text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint := pgtrade.instrument_id(symbol);
	v_c pgtrade.market_calendar;
	v_zone text;
BEGIN
	IF v_id IS NULL THEN
		RAISE EXCEPTION 'symbol must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF calendar IS NOT NULL THEN
		v_c := pgtrade.market_check_calendar(calendar);
		v_zone := (SELECT i.time_zone FROM pgtrade.instrument i
				   WHERE i.instrument_id = v_id);
		IF NOT pgtrade.same_time_zone(v_zone, v_c.time_zone) THEN
			RAISE EXCEPTION 'instrument "%" in time zone % cannot follow '
				'calendar %, which is in %',
				symbol, v_zone, v_c.calendar, v_c.time_zone
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;
	UPDATE pgtrade.instrument i SET calendar = set_instrument_calendar.calendar
	WHERE i.instrument_id = v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.set_instrument_calendar(text, text) IS
	'Sets the calendar an instrument trades by; NULL for one that trades '
	'at all hours.';

/*
 * The close of the session in progress at an instant, or of the next
 * one; NULL when the calendar's data ends first.
 */
CREATE FUNCTION pgtrade.market_next_close(calendar text, after timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_c pgtrade.market_calendar := pgtrade.market_check_calendar(calendar);
BEGIN
	IF after IS NULL OR NOT isfinite(after) THEN
		RAISE EXCEPTION 'market_next_close needs a finite time'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN (pgtrade.market_next_session(v_c, after)).closes;
END
$$;
COMMENT ON FUNCTION pgtrade.market_next_close(text, timestamptz) IS
	'The close of the session in progress at an instant, or of the next '
	'one; NULL past the calendar''s data.';
/*
 * 46_calendar_xnys.sql: the New York Stock Exchange's closed weekdays
 * and early closes, 2000 through 2027.
 *
 * Generated by scripts/gen-xnys-calendar.py, which states the rules
 * and the one-off closures; edit that and generate again.
 */

INSERT INTO pgtrade.market_calendar (calendar, description, time_zone,
	regular_open, regular_close, first_day, last_day, builtin)
VALUES ('XNYS', 'New York Stock Exchange: regular sessions of US equities',
	'America/New_York', '09:30', '16:00', '2000-01-01', '2027-12-31', true);

INSERT INTO pgtrade.market_special_day (calendar, day, opens, closes, note,
	builtin) VALUES
	('XNYS', '2000-01-17', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2000-02-21', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2000-04-21', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2000-05-29', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2000-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2000-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2000-09-04', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2000-11-23', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2000-11-24', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2000-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2001-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2001-01-15', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2001-02-19', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2001-04-13', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2001-05-28', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2001-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2001-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2001-09-03', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2001-09-11', NULL, NULL,
	 'closed after the September 11 attacks', true),
	('XNYS', '2001-09-12', NULL, NULL,
	 'closed after the September 11 attacks', true),
	('XNYS', '2001-09-13', NULL, NULL,
	 'closed after the September 11 attacks', true),
	('XNYS', '2001-09-14', NULL, NULL,
	 'closed after the September 11 attacks', true),
	('XNYS', '2001-11-22', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2001-11-23', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2001-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2001-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2002-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2002-01-21', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2002-02-18', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2002-03-29', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2002-05-27', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2002-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2002-07-05', '09:30', '13:00',
	 'early close after Independence Day', true),
	('XNYS', '2002-09-02', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2002-11-28', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2002-11-29', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2002-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2002-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2003-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2003-01-20', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2003-02-17', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2003-04-18', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2003-05-26', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2003-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2003-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2003-09-01', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2003-11-27', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2003-11-28', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2003-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2003-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2003-12-26', '09:30', '13:00',
	 'early close on the Friday after Christmas', true),
	('XNYS', '2004-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2004-01-19', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2004-02-16', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2004-04-09', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2004-05-31', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2004-06-11', NULL, NULL,
	 'national day of mourning for Ronald Reagan', true),
	('XNYS', '2004-07-05', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2004-09-06', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2004-11-25', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2004-11-26', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2004-12-24', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2005-01-17', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2005-02-21', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2005-03-25', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2005-05-30', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2005-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2005-09-05', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2005-11-24', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2005-11-25', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2005-12-26', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2006-01-02', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2006-01-16', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2006-02-20', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2006-04-14', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2006-05-29', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2006-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2006-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2006-09-04', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2006-11-23', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2006-11-24', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2006-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2007-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2007-01-02', NULL, NULL,
	 'national day of mourning for Gerald Ford', true),
	('XNYS', '2007-01-15', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2007-02-19', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2007-04-06', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2007-05-28', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2007-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2007-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2007-09-03', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2007-11-22', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2007-11-23', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2007-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2007-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2008-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2008-01-21', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2008-02-18', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2008-03-21', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2008-05-26', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2008-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2008-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2008-09-01', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2008-11-27', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2008-11-28', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2008-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2008-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2009-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2009-01-19', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2009-02-16', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2009-04-10', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2009-05-25', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2009-07-03', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2009-09-07', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2009-11-26', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2009-11-27', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2009-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2009-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2010-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2010-01-18', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2010-02-15', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2010-04-02', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2010-05-31', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2010-07-05', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2010-09-06', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2010-11-25', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2010-11-26', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2010-12-24', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2011-01-17', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2011-02-21', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2011-04-22', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2011-05-30', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2011-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2011-09-05', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2011-11-24', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2011-11-25', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2011-12-26', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2012-01-02', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2012-01-16', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2012-02-20', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2012-04-06', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2012-05-28', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2012-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2012-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2012-09-03', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2012-10-29', NULL, NULL,
	 'closed for Hurricane Sandy', true),
	('XNYS', '2012-10-30', NULL, NULL,
	 'closed for Hurricane Sandy', true),
	('XNYS', '2012-11-22', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2012-11-23', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2012-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2012-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2013-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2013-01-21', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2013-02-18', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2013-03-29', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2013-05-27', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2013-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2013-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2013-09-02', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2013-11-28', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2013-11-29', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2013-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2013-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2014-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2014-01-20', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2014-02-17', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2014-04-18', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2014-05-26', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2014-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2014-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2014-09-01', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2014-11-27', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2014-11-28', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2014-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2014-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2015-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2015-01-19', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2015-02-16', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2015-04-03', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2015-05-25', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2015-07-03', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2015-09-07', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2015-11-26', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2015-11-27', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2015-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2015-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2016-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2016-01-18', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2016-02-15', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2016-03-25', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2016-05-30', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2016-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2016-09-05', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2016-11-24', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2016-11-25', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2016-12-26', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2017-01-02', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2017-01-16', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2017-02-20', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2017-04-14', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2017-05-29', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2017-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2017-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2017-09-04', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2017-11-23', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2017-11-24', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2017-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2018-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2018-01-15', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2018-02-19', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2018-03-30', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2018-05-28', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2018-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2018-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2018-09-03', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2018-11-22', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2018-11-23', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2018-12-05', NULL, NULL,
	 'national day of mourning for George H. W. Bush', true),
	('XNYS', '2018-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2018-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2019-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2019-01-21', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2019-02-18', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2019-04-19', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2019-05-27', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2019-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2019-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2019-09-02', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2019-11-28', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2019-11-29', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2019-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2019-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2020-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2020-01-20', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2020-02-17', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2020-04-10', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2020-05-25', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2020-07-03', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2020-09-07', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2020-11-26', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2020-11-27', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2020-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2020-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2021-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2021-01-18', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2021-02-15', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2021-04-02', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2021-05-31', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2021-07-05', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2021-09-06', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2021-11-25', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2021-11-26', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2021-12-24', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2022-01-17', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2022-02-21', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2022-04-15', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2022-05-30', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2022-06-20', NULL, NULL,
	 'Juneteenth National Independence Day', true),
	('XNYS', '2022-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2022-09-05', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2022-11-24', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2022-11-25', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2022-12-26', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2023-01-02', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2023-01-16', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2023-02-20', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2023-04-07', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2023-05-29', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2023-06-19', NULL, NULL,
	 'Juneteenth National Independence Day', true),
	('XNYS', '2023-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2023-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2023-09-04', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2023-11-23', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2023-11-24', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2023-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2024-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2024-01-15', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2024-02-19', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2024-03-29', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2024-05-27', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2024-06-19', NULL, NULL,
	 'Juneteenth National Independence Day', true),
	('XNYS', '2024-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2024-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2024-09-02', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2024-11-28', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2024-11-29', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2024-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2024-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2025-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2025-01-09', NULL, NULL,
	 'national day of mourning for Jimmy Carter', true),
	('XNYS', '2025-01-20', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2025-02-17', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2025-04-18', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2025-05-26', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2025-06-19', NULL, NULL,
	 'Juneteenth National Independence Day', true),
	('XNYS', '2025-07-03', '09:30', '13:00',
	 'early close before Independence Day', true),
	('XNYS', '2025-07-04', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2025-09-01', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2025-11-27', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2025-11-28', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2025-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2025-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2026-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2026-01-19', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2026-02-16', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2026-04-03', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2026-05-25', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2026-06-19', NULL, NULL,
	 'Juneteenth National Independence Day', true),
	('XNYS', '2026-07-03', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2026-09-07', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2026-11-26', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2026-11-27', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2026-12-24', '09:30', '13:00',
	 'early close on Christmas Eve', true),
	('XNYS', '2026-12-25', NULL, NULL,
	 'Christmas Day', true),
	('XNYS', '2027-01-01', NULL, NULL,
	 'New Year''s Day', true),
	('XNYS', '2027-01-18', NULL, NULL,
	 'Martin Luther King Jr. Day', true),
	('XNYS', '2027-02-15', NULL, NULL,
	 'Washington''s Birthday', true),
	('XNYS', '2027-03-26', NULL, NULL,
	 'Good Friday', true),
	('XNYS', '2027-05-31', NULL, NULL,
	 'Memorial Day', true),
	('XNYS', '2027-06-18', NULL, NULL,
	 'Juneteenth National Independence Day', true),
	('XNYS', '2027-07-05', NULL, NULL,
	 'Independence Day', true),
	('XNYS', '2027-09-06', NULL, NULL,
	 'Labor Day', true),
	('XNYS', '2027-11-25', NULL, NULL,
	 'Thanksgiving Day', true),
	('XNYS', '2027-11-26', '09:30', '13:00',
	 'early close after Thanksgiving', true),
	('XNYS', '2027-12-24', NULL, NULL,
	 'Christmas Day', true);
/*
 * 50_orders.sql: the risk gate, the order state machine and the order API.
 *
 * Every order row enters through the BEFORE INSERT trigger, which runs
 * the risk gate under a per-account row lock (an UPDATE of the account
 * row, so concurrent inserts for one account queue behind each other and,
 * under REPEATABLE READ or SERIALIZABLE, fail rather than both pass a
 * limit).  The gate decides the status (pending or refused): whatever the
 * inserting role wrote into status, broker or fill columns is overwritten.
 * Only the functions below move an order afterwards; the BEFORE UPDATE
 * trigger refuses any move outside the state machine and the AFTER UPDATE
 * trigger writes an order_event for every status change.
 */

/*
 * Allowed status moves.  DESIGN's table plus two moves the broker can
 * force: submitting -> cancelled (an IOC order that does not fill is
 * acknowledged as Cancelled) and the moves out of unknown, which an
 * operator or a later reconciliation makes once the truth is known.
 */
CREATE TABLE pgtrade.order_transition (
	from_status	text NOT NULL,
	to_status	text NOT NULL,
	PRIMARY KEY (from_status, to_status)
);
INSERT INTO pgtrade.order_transition VALUES
	('pending', 'submitting'), ('pending', 'cancelled'),
	('pending', 'expired'),
	('submitting', 'working'), ('submitting', 'filled'),
	('submitting', 'rejected'), ('submitting', 'unknown'),
	('submitting', 'cancelled'),
	('working', 'filled'), ('working', 'cancelled'),
	('working', 'rejected'), ('working', 'cancel_requested'),
	('cancel_requested', 'cancelled'), ('cancel_requested', 'filled'),
	('cancel_requested', 'working'),
	('unknown', 'working'), ('unknown', 'filled'),
	('unknown', 'cancelled'), ('unknown', 'rejected');
COMMENT ON TABLE pgtrade.order_transition IS
	'The order state machine: every allowed status move.  Read-only.';

CREATE FUNCTION pgtrade.order_is_open(status text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT $1 IN ('pending', 'submitting', 'working', 'cancel_requested',
				  'unknown');
$$;
COMMENT ON FUNCTION pgtrade.order_is_open(text) IS
	'True for statuses whose remaining quantity may still trade (unknown '
	'counts: fail closed).';

/*
 * open_side_quantities returns, apart, the buys and the sells (both
 * positive) of an account's orders in an instrument that may still move
 * its position: the unfilled rest of open orders, and what the broker
 * reported filled but pgtrade has not recorded as fills yet.  The gate
 * needs the sides apart: opposite open orders must not make room for
 * each other, since either side may fill while the other is cancelled.
 * While a modification is open an order counts with the larger of its
 * old and new quantity (either may be in force at the broker); the
 * members of an OCA group count once, with the largest of them, since
 * the broker cancels the others when one fills.
 *
 * The gate calls it on every order, so its plan is kept (PL/pgSQL) and
 * bitmap scans are off: the scan reads orders_unsettled, which also
 * holds the entries of orders that have since settled, until vacuum.  A
 * plain index scan marks those dead as it passes them and skips them
 * from then on; a bitmap scan never does, and on a stream of orders that
 * settle at once each gate read every order of the account since the
 * last vacuum, 1.6 ms at 4,000 orders and growing.
 */
/*
 * open_order_rests lists those orders, one row each, with what each may
 * still add (q) and its OCA group (grp, the order itself when it has
 * none).  SQL without a SET clause, so that a caller's query takes it in
 * (inlined): the scheduler nets hundreds of strategies in one statement
 * with it.  The WHERE clause is orders_unsettled's predicate, so that
 * the index serves it.
 */
CREATE FUNCTION pgtrade.open_order_rests(p_account text, p_instrument bigint,
	p_except bigint)
RETURNS TABLE (side text, grp text, q numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT o.side, coalesce(o.oca_group, o.order_id::text),
	   CASE WHEN o.status IN ('pending', 'submitting', 'working',
							  'cancel_requested', 'unknown', 'filled')
			THEN greatest(greatest(o.quantity, coalesce(m.quantity, 0))
						  - o.filled_quantity, 0)
			ELSE greatest(o.broker_filled_quantity - o.filled_quantity, 0)
			END
FROM pgtrade.orders o
LEFT JOIN pgtrade.order_modification m
	ON m.order_id = o.order_id AND m.status IN ('requested', 'sent')
WHERE o.account_id = p_account AND o.instrument_id = p_instrument
	AND (o.status IN ('pending', 'submitting', 'working', 'cancel_requested',
					  'unknown')
		 OR (o.status = 'filled' AND o.filled_quantity < o.quantity)
		 OR (o.status IN ('cancelled', 'rejected')
			 AND o.broker_filled_quantity > o.filled_quantity))
	AND o.order_id IS DISTINCT FROM p_except
$$;
REVOKE ALL ON FUNCTION pgtrade.open_order_rests(text, bigint, bigint)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.open_order_rests(text, bigint, bigint) IS
	'Internal: the orders of an account in an instrument that may still '
	'move its position, with what each may add.';

CREATE FUNCTION pgtrade.open_side_quantities(account_id text,
	instrument_id bigint, except_order bigint DEFAULT NULL,
	OUT buys numeric, OUT sells numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
	SELECT coalesce(sum(g.q) FILTER (WHERE g.side = 'buy'), 0),
		   coalesce(sum(g.q) FILTER (WHERE g.side = 'sell'), 0)
	INTO buys, sells
	FROM (SELECT x.side, max(x.q) AS q
		  FROM pgtrade.open_order_rests(open_side_quantities.account_id,
				open_side_quantities.instrument_id,
				open_side_quantities.except_order) x
		  GROUP BY x.side, x.grp) g;
END
$$;
COMMENT ON FUNCTION pgtrade.open_side_quantities(text, bigint, bigint) IS
	'Open buys and open sells (both positive) of an account in an '
	'instrument, counted apart for the risk gate.';

/*
 * open_quantity returns the net of open_side_quantities (buys positive).
 * Counting fills the broker reported but pgtrade has not recorded (an
 * order acknowledged as Filled before its executions arrive) is what
 * keeps a strategy from buying again while its last buy is between the
 * broker's acknowledgement and the trades list.
 */
CREATE FUNCTION pgtrade.open_quantity(account_id text, instrument_id bigint,
	except_order bigint DEFAULT NULL)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_q record;
BEGIN
	/* PL/pgSQL, as position_quantity: every run and order calls it */
	v_q := pgtrade.open_side_quantities($1, $2, $3);
	RETURN v_q.buys - v_q.sells;
END
$$;
COMMENT ON FUNCTION pgtrade.open_quantity(text, bigint, bigint) IS
	'Signed quantity (buys positive) of an account''s orders in an '
	'instrument that may still move its position: open orders'' unfilled '
	'rest plus broker-reported fills not yet recorded.';

CREATE FUNCTION pgtrade.position_quantity(account_id text, instrument_id bigint)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	/* PL/pgSQL: the gate calls it on every order and its plan is kept */
	RETURN coalesce((SELECT p.quantity FROM pgtrade.position p
					 WHERE p.account_id = $1 AND p.instrument_id = $2), 0);
END
$$;
COMMENT ON FUNCTION pgtrade.position_quantity(text, bigint) IS
	'Current position of an account in an instrument (0 when none).';

/*
 * account_today returns the account's trading date now, in its
 * time_zone; account_day_start the instant that date began.
 */
CREATE FUNCTION pgtrade.account_today(account_id text)
RETURNS date
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT (now() AT TIME ZONE a.time_zone)::date
			FROM pgtrade.account a WHERE a.account_id = $1);
END
$$;
COMMENT ON FUNCTION pgtrade.account_today(text) IS
	'The account''s trading date now, in account.time_zone.';

CREATE FUNCTION pgtrade.account_day_start(account_id text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT (now() AT TIME ZONE a.time_zone)::date::timestamp
				   AT TIME ZONE a.time_zone
			FROM pgtrade.account a WHERE a.account_id = $1);
END
$$;
COMMENT ON FUNCTION pgtrade.account_day_start(text) IS
	'When the account''s current trading day began (local midnight in '
	'account.time_zone).';

/*
 * latest_close is the close of an instrument's most recent bar, of any
 * size (the shorter size wins a tie), as numeric; NULL without bars.
 * One index probe per bar size, so a long history costs nothing.
 */
CREATE FUNCTION pgtrade.latest_close(instrument_id bigint)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		WITH RECURSIVE sizes(bar_size) AS (
			SELECT min(b.bar_size) FROM pgtrade.bar b
			WHERE b.instrument_id = $1
			UNION ALL
			SELECT (SELECT min(b.bar_size) FROM pgtrade.bar b
					WHERE b.instrument_id = $1 AND b.bar_size > s.bar_size)
			FROM sizes s WHERE s.bar_size IS NOT NULL)
		SELECT l.close::numeric
		FROM sizes s
		CROSS JOIN LATERAL (
			SELECT b.ts, b.close FROM pgtrade.bar b
			WHERE b.instrument_id = $1 AND b.bar_size = s.bar_size
			ORDER BY b.ts DESC LIMIT 1) l
		WHERE s.bar_size IS NOT NULL
		ORDER BY l.ts DESC, s.bar_size
		LIMIT 1);
END
$$;
COMMENT ON FUNCTION pgtrade.latest_close(bigint) IS
	'Close of the instrument''s most recent bar of any size, or NULL.';

/*
 * account_day_pnl is an account's P&L for its current trading day, in
 * one instrument or all: realized is what closing trades realized since
 * the day began (position.day_start_realized); unrealized is each open
 * position marked at its instrument's latest close against its average
 * cost, so a loss carried from earlier days counts in full.  unmarked
 * names the instruments with a position but no bar to mark it at.
 */
CREATE FUNCTION pgtrade.account_day_pnl(account_id text,
	instrument_id bigint DEFAULT NULL, OUT realized numeric,
	OUT unrealized numeric, OUT unmarked text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_today date := pgtrade.account_today(account_day_pnl.account_id);
	v_p record;
	v_mark numeric;
BEGIN
	realized := 0;
	unrealized := 0;
	unmarked := '{}';
	FOR v_p IN
		SELECT p.instrument_id, p.quantity, p.avg_cost, p.realized_pnl,
			   p.day, p.day_start_realized, i.symbol
		FROM pgtrade.position p
		JOIN pgtrade.instrument i ON i.instrument_id = p.instrument_id
		WHERE p.account_id = account_day_pnl.account_id
			AND (account_day_pnl.instrument_id IS NULL
				 OR p.instrument_id = account_day_pnl.instrument_id)
	LOOP
		IF v_p.day = v_today THEN
			realized := realized + v_p.realized_pnl - v_p.day_start_realized;
		END IF;
		IF v_p.quantity <> 0 THEN
			v_mark := pgtrade.latest_close(v_p.instrument_id);
			IF v_mark IS NULL OR v_p.avg_cost IS NULL THEN
				unmarked := unmarked || v_p.symbol;
			ELSE
				unrealized := unrealized + v_p.quantity * (v_mark - v_p.avg_cost);
			END IF;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.account_day_pnl(text, bigint) IS
	'P&L of the account''s current trading day (all instruments, or one): '
	'realized since the day began, unrealized at the latest bar close '
	'against average cost, and the instruments that could not be marked.';

/*
 * open_order_count counts an account's open orders (of one strategy,
 * when given), leaving out one order.  Plain index scans, for the reason
 * open_side_quantities gives.
 */
CREATE FUNCTION pgtrade.open_order_count(account_id text, strategy_id bigint,
	except_order bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET enable_bitmapscan = off
AS $$
BEGIN
	RETURN (SELECT count(*) FROM pgtrade.orders o
			WHERE o.account_id = $1
				AND o.status IN ('pending', 'submitting', 'working',
								 'cancel_requested', 'unknown')
				AND ($2 IS NULL OR o.strategy_id = $2)
				AND o.order_id IS DISTINCT FROM $3);
END
$$;
COMMENT ON FUNCTION pgtrade.open_order_count(text, bigint, bigint) IS
	'Open orders of an account (or of one of its strategies), leaving one '
	'order out.';

/*
 * day_order_count counts the orders of an account (of one strategy, when
 * given) that the gate accepted since its trading day began.
 */
CREATE FUNCTION pgtrade.day_order_count(account_id text, strategy_id bigint,
	except_order bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT count(*) FROM pgtrade.orders o
			WHERE o.account_id = $1
				AND o.created_at >= pgtrade.account_day_start($1)
				AND o.status <> 'refused'
				AND ($2 IS NULL OR o.strategy_id = $2)
				AND o.order_id IS DISTINCT FROM $3);
END
$$;
COMMENT ON FUNCTION pgtrade.day_order_count(text, bigint, bigint) IS
	'Orders of an account (or of one of its strategies) accepted by the '
	'gate since its trading day began, leaving one order out.';

/*
 * risk_check evaluates every limit covering an order and returns the
 * verdict as jsonb: {"passed": bool, "reason": text, "checks": [...],
 * "asked_by": role, "at": time}.  The caller must hold the account's
 * gate lock.  p_modify: the order exists and is being modified, so the
 * counts of open orders and of the day's orders, which it is already
 * in, are not checked.
 *
 * Position limits look at each side's worst case: a buy is checked
 * against position + open buys + the buy, a sell against position - open
 * sells - the sell, so opposite open orders never make room for each
 * other.  An order passes when its side's worst case stays within the
 * limit, or when it moves that worst case toward zero without crossing
 * it (an order that reduces exposure always passes a position, position
 * value, daily loss or short-selling limit).  The gate fails closed: an
 * order no max_position limit covers is refused, and so is an order a
 * value or price limit covers when there is no price to check it with.
 * Values are numeric throughout; a bar's close enters as numeric.
 *
 * p_state, when given, is a simulated account for backtests: the checks
 * are the same, but what they read from the tables (position, open
 * orders, the latest close, the day's orders and P&L) comes from its
 * keys instead: position, open_buys, open_sells, mark, open_orders (the
 * open orders besides this one), orders_today (accepted today besides
 * this one), day_realized, day_unrealized, and at (the simulated time).
 * A kill switch is an operator's act on live trading, not a limit of the
 * strategy, so it is not applied to a simulation (the check says so).
 */
CREATE FUNCTION pgtrade.risk_check(p_order pgtrade.orders, p_halted boolean,
	p_halt_reason text, p_modify boolean DEFAULT false,
	p_state jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_checks jsonb := '[]';
	v_reason text;
	v_lim record;
	v_pos numeric;
	v_open record;
	v_worst numeric;
	v_before numeric;
	v_reduces boolean;
	v_add numeric;
	v_has_position_limit boolean := false;
	v_symbol text;
	v_mark numeric;
	v_mark_known boolean := false;
	v_price numeric;
	v_value numeric;
	v_count bigint;
	v_pnl record;
	v_loss numeric;
	v_passed boolean;
	v_kind text;
	v_collar_price numeric;
	v_dev numeric;
BEGIN
	v_checks := v_checks || jsonb_build_object('check', 'account_halted',
		'passed', NOT p_halted, 'detail', p_halt_reason);
	IF p_halted THEN
		v_reason := format('account %s is halted: %s', p_order.account_id,
						   coalesce(p_halt_reason, 'no reason given'));
	END IF;

	IF p_state IS NULL THEN
		v_pos := pgtrade.position_quantity(p_order.account_id,
			p_order.instrument_id);
		SELECT * INTO v_open FROM pgtrade.open_side_quantities(
			p_order.account_id, p_order.instrument_id, p_order.order_id);
	ELSE
		v_pos := coalesce((p_state ->> 'position')::numeric, 0);
		SELECT coalesce((p_state ->> 'open_buys')::numeric, 0) AS buys,
			   coalesce((p_state ->> 'open_sells')::numeric, 0) AS sells
		INTO v_open;
	END IF;
	/*
	 * What this order adds to its side: its unfilled rest (all of it for
	 * a new order; a modification's new quantity less its fills), and in
	 * an OCA group only what exceeds the group's other members.
	 */
	v_add := p_order.quantity - coalesce(p_order.filled_quantity, 0);
	IF p_order.oca_group IS NOT NULL THEN
		v_add := greatest(v_add - pgtrade.oca_open_quantity(
			p_order.oca_group, p_order.side, p_order.order_id), 0);
	END IF;
	/* the worst case of this order's side, as a long (+) or short (-) */
	v_before := CASE p_order.side
		WHEN 'buy' THEN v_pos + v_open.buys
		ELSE v_pos - v_open.sells END;
	v_worst := CASE p_order.side
		WHEN 'buy' THEN v_before + v_add
		ELSE v_before - v_add END;
	/*
	 * Not worsening: the side's worst case moves toward zero without
	 * crossing it, as a sell of 30 from a long of 100 does.  Such an order passes
	 * a position limit it cannot bring the position under, or a position
	 * already over a lowered limit could never be closed.
	 */
	v_reduces := abs(v_worst) <= abs(v_before)
		AND (v_worst = 0 OR sign(v_worst) = sign(v_before));

	FOR v_lim IN
		SELECT * FROM pgtrade.risk_limit l
		WHERE (l.account_id IS NULL OR l.account_id = p_order.account_id)
			AND (l.strategy_id IS NULL
				 OR l.strategy_id IS NOT DISTINCT FROM p_order.strategy_id)
		ORDER BY l.account_id NULLS FIRST, l.strategy_id NULLS FIRST
	LOOP
		/* the latest close, read once and only when a limit needs it */
		IF NOT v_mark_known AND (v_lim.max_order_notional IS NOT NULL
				OR v_lim.max_position_notional IS NOT NULL
				OR v_lim.price_collar_pct IS NOT NULL) THEN
			v_mark := CASE WHEN p_state IS NULL
				THEN pgtrade.latest_close(p_order.instrument_id)
				ELSE (p_state ->> 'mark')::numeric END;
			v_mark_known := true;
			SELECT i.symbol INTO v_symbol FROM pgtrade.instrument i
			WHERE i.instrument_id = p_order.instrument_id;
		END IF;
		IF v_lim.kill_switch AND p_state IS NOT NULL THEN
			v_checks := v_checks || jsonb_build_object('check', 'kill_switch',
				'passed', true, 'limit_id', v_lim.limit_id,
				'note', 'not applied to a simulation');
		ELSIF v_lim.kill_switch THEN
			v_checks := v_checks || jsonb_build_object('check', 'kill_switch',
				'passed', false, 'limit_id', v_lim.limit_id,
				'note', v_lim.note);
			v_reason := coalesce(v_reason, format(
				'kill switch is on for %s%s', coalesce('account ' ||
				v_lim.account_id, 'all accounts'),
				coalesce(' strategy ' || v_lim.strategy_id, '')));
		END IF;
		IF v_lim.max_order_quantity IS NOT NULL THEN
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_order_quantity', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_order_quantity,
				'quantity', p_order.quantity,
				'passed', p_order.quantity <= v_lim.max_order_quantity);
			IF p_order.quantity > v_lim.max_order_quantity THEN
				v_reason := coalesce(v_reason, format(
					'order quantity %s exceeds the limit of %s',
					p_order.quantity, v_lim.max_order_quantity));
			END IF;
		END IF;
		IF v_lim.max_order_notional IS NOT NULL THEN
			/*
			 * At its own price, but never below the latest close: a sell
			 * limit far under the market trades at the market.
			 */
			v_price := greatest(CASE p_order.order_type
				WHEN 'market' THEN NULL
				WHEN 'stop' THEN p_order.stop_price
				ELSE p_order.limit_price END, v_mark);
			v_value := p_order.quantity * v_price;
			v_passed := v_value IS NOT NULL
				AND v_value <= v_lim.max_order_notional;
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_order_notional', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_order_notional, 'quantity', p_order.quantity,
				'price', v_price, 'notional', v_value, 'passed', v_passed);
			IF v_price IS NULL THEN
				v_reason := coalesce(v_reason, format(
					'no price to value a market order in %s: it has no bars',
					v_symbol));
			ELSIF NOT v_passed THEN
				v_reason := coalesce(v_reason, format(
					'order value %s (%s at %s) exceeds the limit of %s',
					v_value, p_order.quantity, v_price,
					v_lim.max_order_notional));
			END IF;
		END IF;
		IF v_lim.max_position IS NOT NULL THEN
			v_has_position_limit := true;
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_position', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_position, 'position', v_pos,
				'open_buys', v_open.buys, 'open_sells', v_open.sells,
				'projected', v_worst, 'reduces', v_reduces,
				'passed', abs(v_worst) <= v_lim.max_position
						  OR v_reduces);
			IF abs(v_worst) > v_lim.max_position AND NOT v_reduces THEN
				v_reason := coalesce(v_reason, format(
					'projected position %s (position %s, open buys %s, open sells %s, this %s %s) exceeds the limit of %s',
					v_worst, v_pos, v_open.buys, v_open.sells, p_order.side,
					p_order.quantity, v_lim.max_position));
			END IF;
		END IF;
		IF v_lim.max_position_notional IS NOT NULL THEN
			/* marked at the latest close, else at the order's own price */
			v_price := coalesce(v_mark, CASE p_order.order_type
				WHEN 'stop' THEN p_order.stop_price
				ELSE p_order.limit_price END);
			v_value := abs(v_worst) * v_price;
			v_passed := v_reduces OR (v_value IS NOT NULL
				AND v_value <= v_lim.max_position_notional);
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_position_notional', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_position_notional, 'projected', v_worst,
				'price', v_price, 'notional', v_value, 'reduces', v_reduces,
				'passed', v_passed);
			IF NOT v_passed AND v_price IS NULL THEN
				v_reason := coalesce(v_reason, format(
					'no price to value the position in %s: it has no bars',
					v_symbol));
			ELSIF NOT v_passed THEN
				v_reason := coalesce(v_reason, format(
					'projected position value %s (%s at %s) '
					'exceeds the limit of %s',
					v_value, v_worst, v_price, v_lim.max_position_notional));
			END IF;
		END IF;
		IF v_lim.max_open_orders IS NOT NULL AND NOT p_modify THEN
			v_count := CASE WHEN p_state IS NULL
				THEN pgtrade.open_order_count(p_order.account_id,
					v_lim.strategy_id, p_order.order_id)
				ELSE coalesce((p_state ->> 'open_orders')::bigint, 0) END + 1;
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_open_orders', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_open_orders, 'open_orders', v_count,
				'passed', v_count <= v_lim.max_open_orders);
			IF v_count > v_lim.max_open_orders THEN
				v_reason := coalesce(v_reason, format(
					'%s open orders with this one exceed the limit of %s',
					v_count, v_lim.max_open_orders));
			END IF;
		END IF;
		IF v_lim.max_orders_per_day IS NOT NULL AND NOT p_modify THEN
			v_count := CASE WHEN p_state IS NULL
				THEN pgtrade.day_order_count(p_order.account_id,
					v_lim.strategy_id, p_order.order_id)
				ELSE coalesce((p_state ->> 'orders_today')::bigint, 0) END + 1;
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_orders_per_day', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_orders_per_day, 'orders_today', v_count,
				'passed', v_count <= v_lim.max_orders_per_day);
			IF v_count > v_lim.max_orders_per_day THEN
				v_reason := coalesce(v_reason, format(
					'%s orders today with this one exceed '
					'the limit of %s a day',
					v_count, v_lim.max_orders_per_day));
			END IF;
		END IF;
		IF v_lim.max_daily_loss IS NOT NULL THEN
			/* a strategy's scope is its instrument's position */
			IF p_state IS NULL THEN
				SELECT * INTO v_pnl FROM pgtrade.account_day_pnl(
					p_order.account_id,
					CASE WHEN v_lim.strategy_id IS NOT NULL
						 THEN p_order.instrument_id END);
			ELSE
				SELECT coalesce((p_state ->> 'day_realized')::numeric, 0)
						   AS realized,
					   coalesce((p_state ->> 'day_unrealized')::numeric, 0)
						   AS unrealized,
					   '{}'::text[] AS unmarked
				INTO v_pnl;
			END IF;
			v_pnl.realized := trim_scale(v_pnl.realized);
			v_pnl.unrealized := trim_scale(v_pnl.unrealized);
			v_loss := trim_scale(-(v_pnl.realized + v_pnl.unrealized));
			/* reached: a loss at the limit stops new risk; no loss never does */
			v_passed := v_reduces OR (cardinality(v_pnl.unmarked) = 0
				AND (v_loss <= 0 OR v_loss < v_lim.max_daily_loss));
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_daily_loss', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_daily_loss, 'realized', v_pnl.realized,
				'unrealized', v_pnl.unrealized, 'loss', v_loss,
				'unmarked', to_jsonb(v_pnl.unmarked), 'reduces', v_reduces,
				'passed', v_passed);
			IF NOT v_passed AND cardinality(v_pnl.unmarked) > 0 THEN
				v_reason := coalesce(v_reason, format(
					'the day''s loss cannot be known: no bar to '
					'mark the position in %s',
					array_to_string(v_pnl.unmarked, ', ')));
			ELSIF NOT v_passed THEN
				v_reason := coalesce(v_reason, format(
					'the day''s loss %s (realized %s, unrealized %s) has '
					'reached the limit of %s; only orders that reduce '
					'exposure pass',
					v_loss, v_pnl.realized, v_pnl.unrealized,
					v_lim.max_daily_loss));
			END IF;
		END IF;
		IF v_lim.price_collar_pct IS NOT NULL THEN
			FOREACH v_kind IN ARRAY ARRAY['limit', 'stop'] LOOP
				v_collar_price := CASE v_kind
					WHEN 'limit' THEN p_order.limit_price
					ELSE p_order.stop_price END;
				CONTINUE WHEN v_collar_price IS NULL;
				v_dev := round(abs(v_collar_price - v_mark) / v_mark * 100, 4);
				v_passed := v_dev IS NOT NULL AND v_dev <= v_lim.price_collar_pct;
				v_checks := v_checks || jsonb_build_object(
					'check', 'price_collar', 'limit_id', v_lim.limit_id,
					'price_kind', v_kind, 'price', v_collar_price,
					'reference', v_mark, 'deviation_pct', v_dev,
					'limit', v_lim.price_collar_pct, 'passed', v_passed);
				IF v_mark IS NULL THEN
					v_reason := coalesce(v_reason, format(
						'no bar in %s to check the %s price against',
						v_symbol, v_kind));
				ELSIF NOT v_passed THEN
					v_reason := coalesce(v_reason, format(
						'%s price %s is %s%% from the latest close '
						'%s, beyond the collar of %s%%',
						v_kind, v_collar_price, v_dev, v_mark,
						v_lim.price_collar_pct));
				END IF;
			END LOOP;
		END IF;
		IF v_lim.allow_short IS NOT NULL AND NOT v_lim.allow_short THEN
			v_passed := v_worst >= 0 OR v_reduces;
			v_checks := v_checks || jsonb_build_object(
				'check', 'allow_short', 'limit_id', v_lim.limit_id,
				'projected', v_worst, 'reduces', v_reduces,
				'passed', v_passed);
			IF NOT v_passed THEN
				v_reason := coalesce(v_reason, format(
					'short selling is not allowed for %s: the '
					'projected position would be %s',
					coalesce('account ' || v_lim.account_id, 'any account'),
					v_worst));
			END IF;
		END IF;
	END LOOP;

	v_checks := v_checks || jsonb_build_object('check', 'position_limit_set',
		'passed', v_has_position_limit);
	IF NOT v_has_position_limit THEN
		v_reason := coalesce(v_reason, format(
			'no max_position limit covers account %s; set one with pgtrade.set_risk_limit()',
			p_order.account_id));
	END IF;

	RETURN jsonb_build_object('passed', v_reason IS NULL,
		'reason', coalesce(v_reason, 'all risk checks passed'),
		'checks', v_checks,
		'asked_by', CASE WHEN current_setting('role') = 'none' THEN session_user
						 ELSE current_setting('role') END,
		'at', coalesce((p_state ->> 'at')::timestamptz, clock_timestamp()))
		|| CASE WHEN p_state IS NULL THEN '{}'::jsonb
				ELSE '{"simulated": true}' END;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.risk_check(pgtrade.orders, boolean,
	text, boolean, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.risk_check(pgtrade.orders, boolean, text,
	boolean, jsonb) IS
	'Internal to the risk gate and to backtests: evaluates every limit '
	'covering an order, against the tables or a simulated account.';

/*
 * tick_price rounds an order's price to the tick, always to the less
 * aggressive side: a buy limit down, a sell limit up; a buy stop up, a
 * sell stop down.  kind is 'limit' or 'stop'.
 */
CREATE FUNCTION pgtrade.tick_price(side text, kind text, price numeric,
	tick_size numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CASE WHEN ($1 = 'buy') = ($2 = 'limit') THEN floor($3 / $4)
				ELSE ceil($3 / $4) END * $4;
$$;
REVOKE ALL ON FUNCTION pgtrade.tick_price(text, text, numeric, numeric)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.tick_price(text, text, numeric, numeric) IS
	'An order''s limit or stop price rounded to the tick away from the '
	'market, as the risk gate rounds it.';

CREATE FUNCTION pgtrade.orders_gate()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_halted boolean;
	v_halt_reason text;
	v_inst pgtrade.instrument;
	v_prefix text;
BEGIN
	/* only for an account the caller may trade (35_access.sql) */
	PERFORM pgtrade.require_account(NEW.account_id);
	/*
	 * Order ids come from the sequence.  An id a client picked ahead of
	 * it (OVERRIDING SYSTEM VALUE) would be drawn later by another
	 * order, whose insert would then fail.
	 */
	IF NEW.order_id IS NULL OR NEW.order_id < 1 OR NEW.order_id >
		coalesce(pg_catalog.pg_sequence_last_value('pgtrade.orders_order_id_seq'), 0) THEN
		RAISE EXCEPTION 'order ids are assigned by pgtrade, not %', NEW.order_id
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Leave order_id out of the INSERT.';
	END IF;
	/* the per-account lock: concurrent gates for one account queue here */
	UPDATE pgtrade.account a SET gate_seq = a.gate_seq + 1
	WHERE a.account_id = NEW.account_id
	RETURNING a.halted, a.halt_reason INTO v_halted, v_halt_reason;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'account "%" does not exist', NEW.account_id
			USING ERRCODE = 'foreign_key_violation',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	SELECT * INTO v_inst FROM pgtrade.instrument i
	WHERE i.instrument_id = NEW.instrument_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'instrument % does not exist', NEW.instrument_id
			USING ERRCODE = 'foreign_key_violation';
	END IF;

	/*
	 * The order's shape, with a message for each mistake: the table's
	 * constraints would refuse these too, but by constraint name.
	 */
	IF NEW.order_type IS NULL
		OR NEW.order_type NOT IN ('market', 'limit', 'stop', 'stop_limit') THEN
		RAISE EXCEPTION 'order type must be market, limit, stop or stop_limit, not %',
			coalesce('"' || NEW.order_type || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.tif IS NULL OR NEW.tif NOT IN ('day', 'gtc', 'ioc') THEN
		RAISE EXCEPTION 'time in force must be day, gtc or ioc, not %',
			coalesce('"' || NEW.tif || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.outside_rth IS NULL THEN
		RAISE EXCEPTION 'outside_rth must be true or false, not NULL'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (NEW.limit_price IS NULL) = (NEW.order_type IN ('limit', 'stop_limit'))
		OR (NEW.stop_price IS NULL) = (NEW.order_type IN ('stop', 'stop_limit'))
	THEN
		RAISE EXCEPTION 'a % order takes %', replace(NEW.order_type, '_', '-'),
			CASE NEW.order_type
				WHEN 'market' THEN 'neither a limit nor a stop price'
				WHEN 'limit' THEN 'a limit price and no stop price'
				WHEN 'stop' THEN 'a stop price and no limit price'
				ELSE 'a limit price and a stop price' END
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* NaN sorts above Infinity in numeric: both fail the second test */
	IF NOT (NEW.limit_price > 0 AND NEW.limit_price < 'Infinity') THEN
		RAISE EXCEPTION 'limit price must be a positive finite number, not %',
			NEW.limit_price
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (NEW.stop_price > 0 AND NEW.stop_price < 'Infinity') THEN
		RAISE EXCEPTION 'stop price must be a positive finite number, not %',
			NEW.stop_price
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.quantity IS NULL OR NEW.quantity <= 0
		OR NEW.quantity % v_inst.lot_size <> 0 THEN
		RAISE EXCEPTION 'order quantity % is not a positive multiple of the lot size %',
			NEW.quantity, v_inst.lot_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/*
	 * Only the prices pgtrade sends are rounded to the tick size, always
	 * to the less aggressive side (tick_price).
	 */
	NEW.limit_price := pgtrade.tick_price(NEW.side, 'limit',
		NEW.limit_price, v_inst.tick_size);
	NEW.stop_price := pgtrade.tick_price(NEW.side, 'stop', NEW.stop_price,
		v_inst.tick_size);
	IF NEW.limit_price <= 0 OR NEW.stop_price <= 0 THEN
		RAISE EXCEPTION 'order price rounds to zero at tick size %',
			v_inst.tick_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.valid_until > now() + interval '1 day' THEN
		RAISE EXCEPTION 'valid_until must be within a day of now'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A pending order not sent within a day is stale, and '
				     || 'IBKR keeps client order ids for 24 hours only.';
	END IF;
	IF NEW.strategy_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.strategy s
		WHERE s.strategy_id = NEW.strategy_id
			AND s.account_id = NEW.account_id
			AND s.instrument_id = NEW.instrument_id) THEN
		RAISE EXCEPTION 'strategy % does not trade this account and instrument',
			NEW.strategy_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.decision_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.decision d
		WHERE d.decision_id = NEW.decision_id
			AND d.strategy_id IS NOT DISTINCT FROM NEW.strategy_id
			AND d.order_id IS NULL) THEN
		RAISE EXCEPTION 'decision % is not an open decision of this order''s strategy',
			NEW.decision_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT coid_prefix INTO STRICT v_prefix FROM pgtrade.installation;
	NEW.client_order_id := format('pgt-%s-%s', v_prefix, NEW.order_id);
	/* a bracket child: checked against its parent, given its OCA group */
	NEW.oca_group := pgtrade.bracket_child_group(NEW);
	NEW.filled_quantity := 0;
	NEW.avg_fill_price := NULL;
	NEW.broker_order_id := NULL;
	NEW.broker_status := NULL;
	NEW.broker_filled_quantity := NULL;
	NEW.attempts := 0;
	NEW.claimed_by := NULL;
	NEW.cancel_sent_at := NULL;
	NEW.last_error := NULL;
	NEW.submitted_at := NULL;
	NEW.created_at := now();
	NEW.updated_at := now();
	NEW.valid_until := coalesce(NEW.valid_until, now() + interval '15 minutes');

	NEW.risk_verdict := pgtrade.risk_check(NEW, v_halted, v_halt_reason);
	NEW.status := CASE WHEN (NEW.risk_verdict->>'passed')::boolean
					   THEN 'pending' ELSE 'refused' END;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgtrade.orders_gate() IS
	'The risk gate: BEFORE INSERT on orders; locks the account, checks '
	'every limit and sets status pending or refused.';

CREATE FUNCTION pgtrade.orders_after_insert()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	INSERT INTO pgtrade.order_event (order_id, from_status, to_status,
									 source, detail, payload)
	VALUES (NEW.order_id, NULL, NEW.status, 'risk_gate',
			NEW.risk_verdict->>'reason', NEW.risk_verdict);
	IF NEW.status = 'pending' THEN
		PERFORM pg_notify('pgtrade_order', NEW.order_id::text);
		/* the scheduler commits what placed an order synchronously */
		PERFORM pg_catalog.set_config('pgtrade.order_placed', 'on', true);
	ELSE
		RAISE WARNING 'order % refused by the risk gate: %', NEW.order_id,
			NEW.risk_verdict->>'reason';
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.orders_after_insert() IS
	'AFTER INSERT on orders: records the gate''s verdict as the first '
	'event and rings the listener for pending orders.';

CREATE FUNCTION pgtrade.orders_before_update()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	IF NEW.order_id <> OLD.order_id
		OR NEW.client_order_id IS DISTINCT FROM OLD.client_order_id
		OR NEW.account_id <> OLD.account_id
		OR NEW.instrument_id <> OLD.instrument_id
		OR NEW.side <> OLD.side
		OR (NEW.quantity <> OLD.quantity AND current_setting(
			'pgtrade.applying_modification', true) IS DISTINCT FROM 'on')
		OR NEW.order_type <> OLD.order_type
		OR NEW.parent_order_id IS DISTINCT FROM OLD.parent_order_id
		OR NEW.oca_group IS DISTINCT FROM OLD.oca_group
		OR NEW.created_at <> OLD.created_at THEN
		RAISE EXCEPTION 'cannot change the terms of order %', OLD.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'An order''s id, account, instrument, side, quantity '
				     || 'and type are fixed once it is inserted; the quantity '
				     || 'changes only through pgtrade.modify_order.';
	END IF;
	IF NEW.status <> OLD.status AND NOT EXISTS (
		SELECT 1 FROM pgtrade.order_transition t
		WHERE t.from_status = OLD.status AND t.to_status = NEW.status) THEN
		RAISE EXCEPTION 'cannot move order % from % to %', OLD.order_id,
			OLD.status, NEW.status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'See pgtrade.order_transition for the allowed moves.';
	END IF;
	NEW.updated_at := clock_timestamp();
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgtrade.orders_before_update() IS
	'BEFORE UPDATE on orders: refuses status moves outside the state '
	'machine and changes to an order''s terms.';

CREATE FUNCTION pgtrade.orders_after_update()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_source text := nullif(current_setting('pgtrade.event_source', true), '');
	v_detail text := nullif(current_setting('pgtrade.event_detail', true), '');
	v_payload text := nullif(current_setting('pgtrade.event_payload', true), '');
BEGIN
	INSERT INTO pgtrade.order_event (order_id, from_status, to_status,
									 source, detail, payload)
	VALUES (NEW.order_id, OLD.status, NEW.status,
			coalesce(v_source, 'direct update by ' || current_user),
			v_detail, v_payload::jsonb);
	PERFORM set_config('pgtrade.event_source', '', true);
	PERFORM set_config('pgtrade.event_detail', '', true);
	PERFORM set_config('pgtrade.event_payload', '', true);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.orders_after_update() IS
	'AFTER UPDATE on orders: writes an order_event for every status change.';

CREATE TRIGGER orders_gate BEFORE INSERT ON pgtrade.orders
	FOR EACH ROW EXECUTE FUNCTION pgtrade.orders_gate();
CREATE TRIGGER orders_after_insert AFTER INSERT ON pgtrade.orders
	FOR EACH ROW EXECUTE FUNCTION pgtrade.orders_after_insert();
CREATE TRIGGER orders_before_update BEFORE UPDATE ON pgtrade.orders
	FOR EACH ROW EXECUTE FUNCTION pgtrade.orders_before_update();
CREATE TRIGGER orders_after_update AFTER UPDATE ON pgtrade.orders
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION pgtrade.orders_after_update();

/*
 * order_move moves one order to a new status, recording who moved it and
 * why.  Internal: callers are pgtrade's own SECURITY DEFINER functions.
 */
CREATE FUNCTION pgtrade.order_move(p_order_id bigint, p_status text,
	p_source text, p_detail text, p_payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM set_config('pgtrade.event_source', coalesce(p_source, ''), true);
	PERFORM set_config('pgtrade.event_detail', coalesce(p_detail, ''), true);
	PERFORM set_config('pgtrade.event_payload',
					   coalesce(p_payload::text, ''), true);
	UPDATE pgtrade.orders SET status = p_status,
		last_error = CASE WHEN p_status IN ('rejected', 'unknown')
						  THEN p_detail ELSE last_error END
	WHERE order_id = p_order_id;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.order_move(bigint, text, text, text,
	jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.order_move(bigint, text, text, text, jsonb) IS
	'Internal: moves an order to a status and records the event''s '
	'source, detail and payload.';

/*
 * order_note appends an event that is not a status change (a broker
 * report that would move the order backwards, a duplicate report).
 */
CREATE FUNCTION pgtrade.order_note(p_order_id bigint, p_status text,
	p_source text, p_detail text, p_payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO pgtrade.order_event (order_id, from_status, to_status,
									 source, detail, payload)
	VALUES ($1, $2, $2, $3, $4, $5);
$$;
REVOKE ALL ON FUNCTION pgtrade.order_note(bigint, text, text, text,
	jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.order_note(bigint, text, text, text, jsonb) IS
	'Internal: records an order event that does not change the status.';

CREATE FUNCTION pgtrade.place_order(account_id text, symbol text, side text,
	quantity numeric, order_type text DEFAULT 'market',
	limit_price numeric DEFAULT NULL, stop_price numeric DEFAULT NULL,
	tif text DEFAULT 'day', valid_for interval DEFAULT '15 minutes',
	outside_rth boolean DEFAULT false)
RETURNS pgtrade.orders
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_row pgtrade.orders;
BEGIN
	IF side IS NULL OR lower(side) NOT IN ('buy', 'sell') THEN
		RAISE EXCEPTION 'order side must be buy or sell, not "%"', side
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF valid_for IS NULL OR valid_for <= interval '0' THEN
		RAISE EXCEPTION 'valid_for must be a positive interval'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
		order_type, limit_price, stop_price, tif, outside_rth, valid_until)
	VALUES (place_order.account_id, pgtrade.instrument_id(symbol),
		lower(side), quantity, lower(order_type), limit_price, stop_price,
		lower(tif), outside_rth, now() + valid_for)
	RETURNING * INTO v_row;
	RETURN v_row;
END
$$;
COMMENT ON FUNCTION pgtrade.place_order(text, text, text, numeric, text,
	numeric, numeric, text, interval, boolean) IS
	'Places an order by hand; it meets the same risk gate as a '
	'strategy''s and returns the row (status pending or refused).';

CREATE FUNCTION pgtrade.cancel_order(order_id bigint,
	reason text DEFAULT 'cancelled by user')
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_status text;
	v_account text;
BEGIN
	SELECT o.status, o.account_id INTO v_status, v_account FROM pgtrade.orders o
	WHERE o.order_id = cancel_order.order_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', cancel_order.order_id
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_account);
	IF v_status = 'pending' THEN
		PERFORM pgtrade.order_move(cancel_order.order_id, 'cancelled',
			'user ' || session_user, reason);
		RETURN 'cancelled';
	ELSIF v_status = 'working' THEN
		PERFORM pgtrade.order_move(cancel_order.order_id, 'cancel_requested',
			'user ' || session_user, reason);
		PERFORM pg_notify('pgtrade_order', 'cancel ' || cancel_order.order_id);
		RETURN 'cancel_requested';
	ELSIF v_status = 'submitting' THEN
		RAISE EXCEPTION 'cannot cancel order % while it is being submitted',
			cancel_order.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Retry once the broker has acknowledged it.';
	ELSIF v_status = 'cancel_requested' THEN
		RETURN v_status;
	END IF;
	RAISE EXCEPTION 'cannot cancel order %: it is %', cancel_order.order_id,
		v_status
		USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;
COMMENT ON FUNCTION pgtrade.cancel_order(bigint, text) IS
	'Cancels a pending order at once, or asks the listener to cancel a '
	'working one; returns the new status.';

CREATE FUNCTION pgtrade.risk_limit_audit()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	INSERT INTO pgtrade.risk_limit_history (limit_id, operation, old_row,
											new_row)
	VALUES (coalesce(NEW.limit_id, OLD.limit_id), TG_OP,
			CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
			CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.risk_limit_audit() IS
	'AFTER trigger on risk_limit: appends every change to risk_limit_history.';
CREATE TRIGGER risk_limit_audit AFTER INSERT OR UPDATE OR DELETE
	ON pgtrade.risk_limit FOR EACH ROW
	EXECUTE FUNCTION pgtrade.risk_limit_audit();

/*
 * set_risk_limit sets the limits of one scope (all accounts, an account,
 * or a strategy of an account).  A NULL argument leaves that limit as it
 * is; remove_risk_limit takes one away.  Every change lands in
 * risk_limit_history through the audit trigger.
 */
CREATE FUNCTION pgtrade.set_risk_limit(account_id text DEFAULT NULL,
	strategy_id bigint DEFAULT NULL, max_position numeric DEFAULT NULL,
	max_order_quantity numeric DEFAULT NULL, note text DEFAULT NULL,
	max_order_notional numeric DEFAULT NULL,
	max_position_notional numeric DEFAULT NULL,
	max_open_orders integer DEFAULT NULL,
	max_orders_per_day integer DEFAULT NULL,
	max_daily_loss numeric DEFAULT NULL,
	price_collar_pct numeric DEFAULT NULL,
	allow_short boolean DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_id bigint;
	v_bad text;
BEGIN
	/* NaN sorts above Infinity in numeric: it fails the finite test too */
	v_bad := CASE
		WHEN NOT (coalesce(max_position, 0) >= 0
				  AND coalesce(max_position, 0) < 'Infinity')
			THEN format('max_position must be a finite number of at least 0, not %s',
				max_position)
		WHEN NOT (coalesce(max_order_quantity, 1) > 0
				  AND coalesce(max_order_quantity, 1) < 'Infinity')
			THEN format('max_order_quantity must be a finite number above 0, not %s',
				max_order_quantity)
		WHEN NOT (coalesce(max_order_notional, 1) > 0
				  AND coalesce(max_order_notional, 1) < 'Infinity')
			THEN format('max_order_notional must be a finite number above 0, not %s',
				max_order_notional)
		WHEN NOT (coalesce(max_position_notional, 0) >= 0
				  AND coalesce(max_position_notional, 0) < 'Infinity')
			THEN format('max_position_notional must be a finite number of '
						'at least 0, not %s', max_position_notional)
		WHEN coalesce(max_open_orders, 0) < 0
			THEN format('max_open_orders must be at least 0, not %s', max_open_orders)
		WHEN coalesce(max_orders_per_day, 0) < 0
			THEN format('max_orders_per_day must be at least 0, not %s',
				max_orders_per_day)
		WHEN NOT (coalesce(max_daily_loss, 0) >= 0
				  AND coalesce(max_daily_loss, 0) < 'Infinity')
			THEN format('max_daily_loss must be a finite number of at least 0, not %s',
				max_daily_loss)
		WHEN NOT (coalesce(price_collar_pct, 1) > 0
				  AND coalesce(price_collar_pct, 1) < 'Infinity')
			THEN format('price_collar_pct must be a finite percentage above 0, not %s',
				price_collar_pct)
		END;
	IF v_bad IS NOT NULL THEN
		RAISE EXCEPTION '%', v_bad USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF account_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.account a WHERE a.account_id = set_risk_limit.account_id) THEN
		RAISE EXCEPTION 'account "%" does not exist', account_id
			USING ERRCODE = 'foreign_key_violation',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	IF strategy_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.strategy st
		WHERE st.strategy_id = set_risk_limit.strategy_id) THEN
		RAISE EXCEPTION 'strategy % does not exist', strategy_id
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	IF strategy_id IS NOT NULL AND account_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.strategy st
		WHERE st.strategy_id = set_risk_limit.strategy_id
			AND st.account_id = set_risk_limit.account_id) THEN
		RAISE EXCEPTION 'strategy % does not trade account "%": such a limit '
			'would never apply', strategy_id, account_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE pgtrade.risk_limit l
	SET max_position = coalesce(set_risk_limit.max_position, l.max_position),
		max_order_quantity = coalesce(set_risk_limit.max_order_quantity,
									  l.max_order_quantity),
		max_order_notional = coalesce(set_risk_limit.max_order_notional,
									  l.max_order_notional),
		max_position_notional = coalesce(
			set_risk_limit.max_position_notional, l.max_position_notional),
		max_open_orders = coalesce(set_risk_limit.max_open_orders,
								   l.max_open_orders),
		max_orders_per_day = coalesce(set_risk_limit.max_orders_per_day,
									  l.max_orders_per_day),
		max_daily_loss = coalesce(set_risk_limit.max_daily_loss,
								  l.max_daily_loss),
		price_collar_pct = coalesce(set_risk_limit.price_collar_pct,
									l.price_collar_pct),
		allow_short = coalesce(set_risk_limit.allow_short, l.allow_short),
		note = coalesce(set_risk_limit.note, l.note),
		updated_by = session_user, updated_at = now()
	WHERE coalesce(l.account_id, '') = coalesce(set_risk_limit.account_id, '')
		AND coalesce(l.strategy_id, 0) = coalesce(set_risk_limit.strategy_id, 0)
	RETURNING l.limit_id INTO v_id;
	IF NOT FOUND THEN
		INSERT INTO pgtrade.risk_limit (account_id, strategy_id, max_position,
			max_order_quantity, max_order_notional, max_position_notional,
			max_open_orders, max_orders_per_day, max_daily_loss,
			price_collar_pct, allow_short, note, updated_by)
		VALUES (set_risk_limit.account_id, set_risk_limit.strategy_id,
			set_risk_limit.max_position, set_risk_limit.max_order_quantity,
			set_risk_limit.max_order_notional,
			set_risk_limit.max_position_notional,
			set_risk_limit.max_open_orders, set_risk_limit.max_orders_per_day,
			set_risk_limit.max_daily_loss, set_risk_limit.price_collar_pct,
			set_risk_limit.allow_short, set_risk_limit.note, session_user)
		RETURNING limit_id INTO v_id;
	END IF;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.set_risk_limit(text, bigint, numeric, numeric,
	text, numeric, numeric, integer, integer, numeric, numeric, boolean) IS
	'Sets the limits of a scope (all accounts, an account, or a strategy); '
	'a NULL argument leaves that limit as it is.';

CREATE FUNCTION pgtrade.remove_risk_limit(limit_name text,
	account_id text DEFAULT NULL, strategy_id bigint DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n bigint;
BEGIN
	IF limit_name IS NULL OR limit_name NOT IN ('max_position',
		'max_order_quantity', 'max_order_notional', 'max_position_notional',
		'max_open_orders', 'max_orders_per_day', 'max_daily_loss',
		'price_collar_pct', 'allow_short') THEN
		RAISE EXCEPTION 'unknown limit %', coalesce('"' || limit_name || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Limits are max_position, max_order_quantity, '
					  || 'max_order_notional, max_position_notional, '
					  || 'max_open_orders, max_orders_per_day, '
					  || 'max_daily_loss, price_collar_pct and allow_short.';
	END IF;
	/* the name is one of the list above: safe as a column name */
	EXECUTE format('UPDATE pgtrade.risk_limit l
					SET %I = NULL, updated_by = session_user,
						updated_at = now()
					WHERE coalesce(l.account_id, '''') = coalesce($1, '''')
						AND coalesce(l.strategy_id, 0) = coalesce($2, 0)',
				   limit_name)
		USING account_id, strategy_id;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n > 0;
END
$$;
COMMENT ON FUNCTION pgtrade.remove_risk_limit(text, text, bigint) IS
	'Removes one limit of a scope (its column becomes NULL); returns false '
	'when the scope had no row.  Without any max_position the gate refuses '
	'every order of the account.';

CREATE FUNCTION pgtrade.set_trading_enabled(enabled boolean,
	account_id text DEFAULT NULL, strategy_id bigint DEFAULT NULL,
	note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled must be true or false'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF set_trading_enabled.account_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.account a
		WHERE a.account_id = set_trading_enabled.account_id) THEN
		RAISE EXCEPTION 'account "%" does not exist',
			set_trading_enabled.account_id
			USING ERRCODE = 'foreign_key_violation',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	IF set_trading_enabled.strategy_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.strategy st
		WHERE st.strategy_id = set_trading_enabled.strategy_id) THEN
		RAISE EXCEPTION 'strategy % does not exist',
			set_trading_enabled.strategy_id
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	UPDATE pgtrade.risk_limit l
	SET kill_switch = NOT enabled, note = coalesce(set_trading_enabled.note, l.note),
		updated_by = session_user, updated_at = now()
	WHERE coalesce(l.account_id, '') = coalesce(set_trading_enabled.account_id, '')
		AND coalesce(l.strategy_id, 0) = coalesce(set_trading_enabled.strategy_id, 0);
	IF NOT FOUND THEN
		INSERT INTO pgtrade.risk_limit (account_id, strategy_id, kill_switch,
										note, updated_by)
		VALUES (set_trading_enabled.account_id, set_trading_enabled.strategy_id,
				NOT enabled, set_trading_enabled.note, session_user);
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.set_trading_enabled(boolean, text, bigint, text) IS
	'The kill switch: false stops new orders for the scope (all accounts, '
	'an account, or a strategy) at the gate and at claim time; true lifts '
	'it.';
/*
 * 55_modify.sql: changing a working order's quantity or prices.
 *
 * pgtrade.modify_order records a request in order_modification (after
 * the risk gate passed the new quantity) and notifies the listener; the
 * order row keeps the terms the broker has confirmed until the broker
 * answers.  The listener sends the request through the same queue as
 * cancels: it marks the request sent (committed before the POST), posts
 * the full order body, and records applied (the order row takes the new
 * terms) or refused (the order is unchanged, the reason is kept).  An
 * answer that was lost is settled from the broker's live orders, never
 * by sending the request again.
 *
 * Locks: modify_order takes the account's gate lock (the same UPDATE of
 * the account row as the gate on INSERT), then the order row.  While a
 * request is open the order counts toward the position limits with the
 * larger of its old and new quantity (open_side_quantities).  Every step
 * writes an order_event.
 */

/*
 * modify_target returns the order's terms after a modification: each
 * NULL argument keeps the current value; prices are rounded to the tick
 * size toward the less aggressive side, as the gate rounds them.
 * Raises on values the order type cannot take.
 */
CREATE FUNCTION pgtrade.modify_target(p_o pgtrade.orders, p_quantity numeric,
	p_limit numeric, p_stop numeric, OUT quantity numeric,
	OUT limit_price numeric, OUT stop_price numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_inst pgtrade.instrument;
	v_up boolean := p_o.side = 'buy';
BEGIN
	SELECT * INTO STRICT v_inst FROM pgtrade.instrument i
	WHERE i.instrument_id = p_o.instrument_id;
	IF p_limit IS NOT NULL AND p_o.order_type NOT IN ('limit', 'stop_limit')
		OR p_stop IS NOT NULL AND p_o.order_type NOT IN ('stop', 'stop_limit') THEN
		RAISE EXCEPTION 'cannot modify order %: a % order has no %',
			p_o.order_id, replace(p_o.order_type, '_', '-'),
			CASE WHEN p_limit IS NOT NULL
					  AND p_o.order_type NOT IN ('limit', 'stop_limit')
				 THEN 'limit price' ELSE 'stop price' END
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (coalesce(p_quantity, 1) > 0 AND coalesce(p_quantity, 1) < 'Infinity'
			AND coalesce(p_limit, 1) > 0 AND coalesce(p_limit, 1) < 'Infinity'
			AND coalesce(p_stop, 1) > 0 AND coalesce(p_stop, 1) < 'Infinity') THEN
		RAISE EXCEPTION 'cannot modify order %: quantity and prices must be positive finite numbers',
			p_o.order_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_quantity % v_inst.lot_size <> 0 THEN
		RAISE EXCEPTION 'cannot modify order %: quantity % is not a multiple of the lot size %',
			p_o.order_id, p_quantity, v_inst.lot_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	quantity := coalesce(p_quantity, p_o.quantity);
	limit_price := coalesce(CASE WHEN v_up
		THEN floor(p_limit / v_inst.tick_size) * v_inst.tick_size
		ELSE ceil(p_limit / v_inst.tick_size) * v_inst.tick_size END,
		p_o.limit_price);
	stop_price := coalesce(CASE WHEN v_up
		THEN ceil(p_stop / v_inst.tick_size) * v_inst.tick_size
		ELSE floor(p_stop / v_inst.tick_size) * v_inst.tick_size END,
		p_o.stop_price);
	IF limit_price <= 0 OR stop_price <= 0 THEN
		RAISE EXCEPTION 'cannot modify order %: price rounds to zero at tick size %',
			p_o.order_id, v_inst.tick_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.modify_target(pgtrade.orders, numeric,
	numeric, numeric) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.modify_target(pgtrade.orders, numeric, numeric,
	numeric) IS
	'Internal: an order''s terms after a modification, prices rounded to '
	'the tick size as the gate rounds them.';

/*
 * modify_check_state raises unless the order may be modified now: it is
 * working, no modification is open, and the new quantity stays above
 * what has filled.
 */
CREATE FUNCTION pgtrade.modify_check_state(p_o pgtrade.orders,
	p_quantity numeric)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_open bigint;
BEGIN
	IF p_o.status = 'cancel_requested' THEN
		RAISE EXCEPTION 'cannot modify order %: a cancel is pending',
			p_o.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	ELSIF p_o.status <> 'working' THEN
		RAISE EXCEPTION 'cannot modify order %: it is %', p_o.order_id,
			p_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = CASE WHEN p_o.status = 'pending'
					THEN 'An order not sent yet is cancelled with pgtrade.cancel_order and placed again.'
					ELSE 'Only working orders can be modified.' END;
	END IF;
	SELECT m.modification_id INTO v_open FROM pgtrade.order_modification m
	WHERE m.order_id = p_o.order_id AND m.status IN ('requested', 'sent');
	IF FOUND THEN
		RAISE EXCEPTION 'cannot modify order %: modification % is still pending',
			p_o.order_id, v_open
			USING ERRCODE = 'object_in_use',
				  HINT = 'Wait until the broker has answered it.';
	END IF;
	IF p_quantity <= p_o.filled_quantity THEN
		RAISE EXCEPTION 'cannot modify order %: quantity % is not above the filled quantity %',
			p_o.order_id, p_quantity, p_o.filled_quantity
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'To stop the rest, cancel the order.';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.modify_check_state(pgtrade.orders,
	numeric) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.modify_check_state(pgtrade.orders, numeric) IS
	'Internal: raises unless an order can be modified now.';

/*
 * modify_gate runs the risk gate for an order with its new quantity and
 * prices and returns the verdict.  A modification that adds nothing to
 * the order's size (a smaller quantity, or prices only) passes the
 * quantity, position, daily loss and short-selling limits it would fail
 * anyway, since it takes no risk on; the order value limit too when the
 * price it is valued at does not rise either; and the price collar for
 * a price it leaves as it was.  Kill switches and halts still refuse
 * it.  The counts of open orders and of the day's orders are not
 * checked: the order is in them already.  The caller holds the
 * account's gate lock.
 */
CREATE FUNCTION pgtrade.modify_gate(p_o pgtrade.orders, p_quantity numeric,
	p_limit numeric, p_stop numeric)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_a pgtrade.account;
	v_new pgtrade.orders := p_o;
	v_verdict jsonb;
	v_no_more boolean;
	v_value_same boolean;
BEGIN
	SELECT * INTO STRICT v_a FROM pgtrade.account a
	WHERE a.account_id = p_o.account_id;
	v_new.quantity := p_quantity;
	v_new.limit_price := p_limit;
	v_new.stop_price := p_stop;
	v_verdict := pgtrade.risk_check(v_new, v_a.halted, v_a.halt_reason, true);
	v_no_more := p_quantity <= p_o.quantity;
	v_value_same := v_no_more AND CASE p_o.order_type
		WHEN 'market' THEN true
		WHEN 'stop' THEN p_stop <= p_o.stop_price
		ELSE p_limit <= p_o.limit_price END;
	IF NOT (v_verdict->>'passed')::boolean AND v_no_more
		AND NOT EXISTS (
			SELECT 1 FROM jsonb_array_elements(v_verdict->'checks') c
			WHERE NOT (c->>'passed')::boolean
				AND NOT (c->>'check' IN ('max_position',
						'max_order_quantity', 'max_position_notional',
						'max_daily_loss', 'allow_short')
					OR (c->>'check' = 'max_order_notional' AND v_value_same)
					OR (c->>'check' = 'price_collar'
						AND (c->>'price')::numeric IS NOT DISTINCT FROM
							CASE c->>'price_kind'
								WHEN 'limit' THEN p_o.limit_price
								ELSE p_o.stop_price END)))
	THEN
		v_verdict := v_verdict || jsonb_build_object('passed', true,
			'reason', 'passed: the modification does not add to the order '
			|| '(' || (v_verdict->>'reason') || ')');
	END IF;
	RETURN v_verdict;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.modify_gate(pgtrade.orders, numeric, numeric,
	numeric) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.modify_gate(pgtrade.orders, numeric, numeric,
	numeric) IS
	'Internal: the risk gate''s verdict on an order''s new quantity and '
	'prices.';

/*
 * modify_request records a modification of a locked, checked order and
 * rings the listener; or records it refused when the gate refuses.  The
 * caller holds the account's gate lock and the order's row lock.
 */
CREATE FUNCTION pgtrade.modify_request(p_o pgtrade.orders, p_quantity numeric,
	p_limit numeric, p_stop numeric, p_source text)
RETURNS pgtrade.order_modification
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_verdict jsonb;
	v_m pgtrade.order_modification;
	v_passed boolean;
BEGIN
	v_verdict := pgtrade.modify_gate(p_o, p_quantity, p_limit, p_stop);
	v_passed := (v_verdict->>'passed')::boolean;
	INSERT INTO pgtrade.order_modification (order_id, status, old_quantity,
		old_limit_price, old_stop_price, quantity, limit_price, stop_price,
		source, risk_verdict, answered_at, reason)
	VALUES (p_o.order_id, CASE WHEN v_passed THEN 'requested' ELSE 'refused' END,
		p_o.quantity, p_o.limit_price, p_o.stop_price, p_quantity, p_limit,
		p_stop, p_source, v_verdict,
		CASE WHEN NOT v_passed THEN clock_timestamp() END,
		CASE WHEN NOT v_passed THEN 'refused by the risk gate: '
			 || (v_verdict->>'reason') END)
	RETURNING * INTO v_m;
	PERFORM pgtrade.order_note(p_o.order_id, p_o.status, p_source,
		format('modification %s %s: quantity %s -> %s%s%s%s',
			v_m.modification_id,
			CASE WHEN v_passed THEN 'requested' ELSE 'refused by the risk gate' END,
			p_o.quantity, p_quantity,
			CASE WHEN p_o.limit_price IS NOT NULL
				 THEN format(', limit %s -> %s', p_o.limit_price, p_limit) ELSE '' END,
			CASE WHEN p_o.stop_price IS NOT NULL
				 THEN format(', stop %s -> %s', p_o.stop_price, p_stop) ELSE '' END,
			CASE WHEN v_passed THEN '' ELSE ': ' || (v_verdict->>'reason') END),
		v_verdict);
	IF v_passed THEN
		PERFORM pg_notify('pgtrade_order', 'modify ' || p_o.order_id);
	ELSE
		RAISE WARNING 'modification of order % refused by the risk gate: %',
			p_o.order_id, v_verdict->>'reason';
	END IF;
	RETURN v_m;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.modify_request(pgtrade.orders, numeric,
	numeric, numeric, text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.modify_request(pgtrade.orders, numeric, numeric,
	numeric, text) IS
	'Internal: gates and records a modification of a locked order.';

CREATE FUNCTION pgtrade.modify_order(order_id bigint,
	quantity numeric DEFAULT NULL, limit_price numeric DEFAULT NULL,
	stop_price numeric DEFAULT NULL)
RETURNS pgtrade.order_modification
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders;
	v_t record;
BEGIN
	SELECT * INTO v_o FROM pgtrade.orders o
	WHERE o.order_id = modify_order.order_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', modify_order.order_id
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_o.account_id);
	/* the gate lock first, as the gate on INSERT takes it, then the row */
	UPDATE pgtrade.account a SET gate_seq = a.gate_seq + 1
	WHERE a.account_id = v_o.account_id;
	v_o := pgtrade.lock_order(modify_order.order_id);
	SELECT * INTO v_t FROM pgtrade.modify_target(v_o, modify_order.quantity,
		modify_order.limit_price, modify_order.stop_price) t;
	PERFORM pgtrade.modify_check_state(v_o, v_t.quantity);
	IF v_t.quantity = v_o.quantity
		AND v_t.limit_price IS NOT DISTINCT FROM v_o.limit_price
		AND v_t.stop_price IS NOT DISTINCT FROM v_o.stop_price THEN
		RAISE EXCEPTION 'cannot modify order %: the new terms equal the current ones',
			v_o.order_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN pgtrade.modify_request(v_o, v_t.quantity, v_t.limit_price,
		v_t.stop_price, 'user ' || session_user);
END
$$;
COMMENT ON FUNCTION pgtrade.modify_order(bigint, numeric, numeric, numeric) IS
	'Asks the broker to change a working order''s quantity or prices (NULL '
	'keeps a value); the new quantity meets the risk gate.  Returns the '
	'modification: requested, or refused by the gate.';

/*
 * modifications_due lists the modifications the listener must act on:
 * requested ones, to send; and sent ones whose answer was not recorded
 * within resend_after, to settle from the broker's live orders.  Only
 * orders still working qualify; the others are closed by the trigger
 * below.
 */
CREATE FUNCTION pgtrade.modifications_due(accounts text[],
	resend_after interval DEFAULT '30 seconds')
RETURNS TABLE (modification_id bigint, status text, order_id bigint,
	client_order_id text, account_id text, broker_order_id text,
	conid bigint, side text, order_type text, quantity numeric,
	limit_price numeric, stop_price numeric, tif text, outside_rth boolean,
	old_quantity numeric, old_limit_price numeric, old_stop_price numeric)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.modification_id, m.status, o.order_id, o.client_order_id,
		   o.account_id, o.broker_order_id, i.conid, o.side, o.order_type,
		   m.quantity, m.limit_price, m.stop_price, o.tif, o.outside_rth,
		   m.old_quantity, m.old_limit_price, m.old_stop_price
	FROM pgtrade.order_modification m
	JOIN pgtrade.orders o USING (order_id)
	JOIN pgtrade.instrument i USING (instrument_id)
	WHERE o.account_id = ANY ($1) AND o.status = 'working'
		AND o.broker_order_id IS NOT NULL
		AND (m.status = 'requested'
			 OR (m.status = 'sent' AND m.sent_at <= clock_timestamp() - $2))
	ORDER BY m.modification_id;
$$;
COMMENT ON FUNCTION pgtrade.modifications_due(text[], interval) IS
	'Listener: modifications to send (requested) or to settle from the '
	'broker''s live orders (sent, unanswered for resend_after).';

CREATE FUNCTION pgtrade.record_modification_sent(modification_id bigint,
	listener_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_m pgtrade.order_modification;
	v_o pgtrade.orders;
BEGIN
	SELECT * INTO v_m FROM pgtrade.order_modification m
	WHERE m.modification_id = record_modification_sent.modification_id
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'modification % does not exist', modification_id
			USING ERRCODE = 'undefined_object';
	END IF;
	v_o := pgtrade.lock_order(v_m.order_id);
	IF v_m.status <> 'requested' OR v_o.status <> 'working' THEN
		RETURN false;
	END IF;
	UPDATE pgtrade.order_modification m
	SET status = 'sent', sent_at = clock_timestamp(),
		attempts = m.attempts + 1
	WHERE m.modification_id = v_m.modification_id;
	PERFORM pgtrade.order_note(v_o.order_id, v_o.status,
		'listener ' || listener_id,
		format('modification %s sent to the broker for broker order %s',
			   v_m.modification_id, v_o.broker_order_id));
	RETURN true;
END
$$;
COMMENT ON FUNCTION pgtrade.record_modification_sent(bigint, bigint) IS
	'Listener: marks a requested modification sent, committed before the '
	'POST; false when it may no longer be sent.';

CREATE FUNCTION pgtrade.record_modification(modification_id bigint,
	applied boolean, reason text DEFAULT NULL,
	broker_status text DEFAULT NULL, payload jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_m pgtrade.order_modification;
	v_o pgtrade.orders;
BEGIN
	SELECT * INTO v_m FROM pgtrade.order_modification m
	WHERE m.modification_id = record_modification.modification_id
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'modification % does not exist', modification_id
			USING ERRCODE = 'undefined_object';
	END IF;
	v_o := pgtrade.lock_order(v_m.order_id);
	IF v_m.status NOT IN ('requested', 'sent') THEN
		PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'broker',
			format('answer to modification %s ignored: it is already %s',
				   v_m.modification_id, v_m.status), payload);
		RETURN v_m.status;
	END IF;
	UPDATE pgtrade.order_modification m
	SET status = CASE WHEN applied THEN 'applied' ELSE 'refused' END,
		answered_at = clock_timestamp(), reason = record_modification.reason,
		payload = record_modification.payload
	WHERE m.modification_id = v_m.modification_id;
	IF applied THEN
		PERFORM set_config('pgtrade.applying_modification', 'on', true);
		UPDATE pgtrade.orders o
		SET quantity = v_m.quantity, limit_price = v_m.limit_price,
			stop_price = v_m.stop_price
		WHERE o.order_id = v_o.order_id;
		PERFORM set_config('pgtrade.applying_modification', '', true);
	END IF;
	PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'broker',
		format('modification %s %s%s', v_m.modification_id,
			   CASE WHEN applied THEN 'applied: quantity ' || v_m.quantity
					|| coalesce(', limit ' || v_m.limit_price, '')
					|| coalesce(', stop ' || v_m.stop_price, '')
					ELSE 'refused' END,
			   coalesce(': ' || reason, '')), payload);
	IF broker_status IS NOT NULL THEN
		v_o := pgtrade.lock_order(v_m.order_id);
		PERFORM pgtrade.order_apply_broker_status(v_o, broker_status,
			'broker status', payload);
		UPDATE pgtrade.orders o SET broker_status = record_modification.broker_status
		WHERE o.order_id = v_o.order_id;
	END IF;
	RETURN CASE WHEN applied THEN 'applied' ELSE 'refused' END;
END
$$;
COMMENT ON FUNCTION pgtrade.record_modification(bigint, boolean, text, text,
	jsonb) IS
	'Listener: records the broker''s answer to a modification: applied '
	'(the order takes the new quantity and prices) or refused (unchanged, '
	'with the reason).';

/*
 * order_modification_close refuses the open modification of an order
 * that left working for good (filled, cancelled, rejected): the broker
 * can no longer apply it.  A cancel_requested order keeps its request
 * (the cancel may be refused); it is not sent meanwhile.
 */
CREATE FUNCTION pgtrade.order_modification_close()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
	v_why text := format('the order became %s before the broker applied it',
						 NEW.status);
BEGIN
	UPDATE pgtrade.order_modification m
	SET status = 'refused', answered_at = clock_timestamp(), reason = v_why
	WHERE m.order_id = NEW.order_id AND m.status IN ('requested', 'sent')
	RETURNING m.modification_id INTO v_id;
	IF v_id IS NOT NULL THEN
		PERFORM pgtrade.order_note(NEW.order_id, NEW.status, 'pgtrade',
			format('modification %s refused: %s', v_id, v_why));
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.order_modification_close() IS
	'AFTER UPDATE on orders: refuses the open modification of an order '
	'that ended.';
CREATE TRIGGER order_modification_close AFTER UPDATE ON pgtrade.orders
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
		AND NEW.status IN ('filled', 'cancelled', 'rejected', 'expired'))
	EXECUTE FUNCTION pgtrade.order_modification_close();

GRANT EXECUTE ON FUNCTION
	pgtrade.modify_order(bigint, numeric, numeric, numeric)
	TO pgtrade_trader, pgtrade_admin;
GRANT EXECUTE ON FUNCTION
	pgtrade.modifications_due(text[], interval),
	pgtrade.record_modification_sent(bigint, bigint),
	pgtrade.record_modification(bigint, boolean, text, text, jsonb)
	TO pgtrade_listener;
/*
 * 56_bracket.sql: bracket orders.
 *
 * pgtrade.place_bracket makes three orders in one transaction: the entry
 * (parent), a take-profit limit and a stop-loss stop on the other side
 * (children), each through the risk gate.  The children carry the
 * parent's id and share an OCA group, so the broker cancels one when the
 * other fills and the gate counts the group once.  They are never
 * claimed alone: claim_orders claims a parent together with its pending
 * children, and the listener sends the three order bodies in one request.
 *
 * When the parent ends without filling, pending children are cancelled;
 * when it ends partially filled, both children are modified (through
 * order_modification, like pgtrade.modify_order) to the parent's filled
 * quantity.  Every move writes an order_event.
 */

/*
 * oca_open_quantity returns the largest open rest among the members of
 * an OCA group on one side, leaving one order out: what the group
 * already counts for in open_side_quantities.
 */
CREATE FUNCTION pgtrade.oca_open_quantity(oca_group text, side text,
	except_order bigint DEFAULT NULL)
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(max(greatest(greatest(o.quantity, coalesce(m.quantity, 0))
								 - o.filled_quantity, 0)), 0)
	FROM pgtrade.orders o
	LEFT JOIN pgtrade.order_modification m
		ON m.order_id = o.order_id AND m.status IN ('requested', 'sent')
	WHERE o.oca_group = $1 AND o.side = $2
		AND o.order_id IS DISTINCT FROM $3
		AND (pgtrade.order_is_open(o.status)
			 OR (o.status = 'filled' AND o.filled_quantity < o.quantity));
$$;
COMMENT ON FUNCTION pgtrade.oca_open_quantity(text, text, bigint) IS
	'Largest open rest among an OCA group''s orders on one side (the '
	'group counts once toward position limits).';

/*
 * bracket_child_group checks a bracket child against its parent at the
 * gate and returns its OCA group; NULL for an order that is no child.
 * The parent must be a pending entry of the same account and
 * instrument, on the other side, at least as large.
 */
CREATE FUNCTION pgtrade.bracket_child_group(p_o pgtrade.orders)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_p pgtrade.orders;
	v_type text;
BEGIN
	IF p_o.parent_order_id IS NULL THEN
		IF p_o.bracket_role IN ('take_profit', 'stop_loss') THEN
			RAISE EXCEPTION 'a % order needs a parent order', p_o.bracket_role
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		RETURN NULL;
	END IF;
	SELECT * INTO v_p FROM pgtrade.orders o
	WHERE o.order_id = p_o.parent_order_id;
	IF NOT FOUND OR v_p.bracket_role IS DISTINCT FROM 'entry'
		OR v_p.status <> 'pending' OR v_p.account_id <> p_o.account_id
		OR v_p.instrument_id <> p_o.instrument_id OR v_p.side = p_o.side
		OR p_o.quantity > v_p.quantity
		OR p_o.bracket_role IS NULL OR p_o.bracket_role = 'entry' THEN
		RAISE EXCEPTION 'order % cannot be a child of order %',
			p_o.order_id, p_o.parent_order_id
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A bracket child is a take_profit or stop_loss of a '
				     || 'pending entry order of the same account and instrument, '
				     || 'on the other side, no larger than it.';
	END IF;
	/*
	 * One of each, of its own type: the gate counts an OCA group once,
	 * as the broker fills one member and cancels the rest, so a third
	 * member would go out uncounted.
	 */
	v_type := CASE p_o.bracket_role WHEN 'take_profit' THEN 'limit'
				   ELSE 'stop' END;
	IF p_o.order_type IS DISTINCT FROM v_type THEN
		RAISE EXCEPTION 'a bracket''s % is a % order, not %', p_o.bracket_role,
			v_type, coalesce(p_o.order_type, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM pgtrade.orders o
			   WHERE o.parent_order_id = p_o.parent_order_id
				 AND o.bracket_role = p_o.bracket_role) THEN
		RAISE EXCEPTION 'order % already has a %', p_o.parent_order_id,
			p_o.bracket_role
			USING ERRCODE = 'unique_violation',
				  DETAIL = 'A bracket has one take_profit and one stop_loss.';
	END IF;
	RETURN format('%s-oca', v_p.client_order_id);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bracket_child_group(pgtrade.orders)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bracket_child_group(pgtrade.orders) IS
	'Internal to the risk gate: checks a bracket child against its '
	'parent and returns its OCA group.';

CREATE FUNCTION pgtrade.place_bracket(account_id text, symbol text,
	side text, quantity numeric, entry_price numeric, take_profit numeric,
	stop_loss numeric, tif text DEFAULT 'day', exit_tif text DEFAULT 'gtc',
	valid_for interval DEFAULT '15 minutes', outside_rth boolean DEFAULT false)
RETURNS SETOF pgtrade.orders
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_side text := lower(place_bracket.side);
	v_exit text;
	v_sign integer;
	v_parent pgtrade.orders;
	v_tp pgtrade.orders;
	v_sl pgtrade.orders;
	v_instrument bigint := pgtrade.instrument_id(symbol);
BEGIN
	IF v_side IS NULL OR v_side NOT IN ('buy', 'sell') THEN
		RAISE EXCEPTION 'order side must be buy or sell, not "%"',
			place_bracket.side
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_exit := CASE v_side WHEN 'buy' THEN 'sell' ELSE 'buy' END;
	v_sign := CASE v_side WHEN 'buy' THEN 1 ELSE -1 END;
	IF take_profit IS NULL OR stop_loss IS NULL THEN
		RAISE EXCEPTION 'a bracket needs a take-profit and a stop-loss price'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF v_sign * (take_profit - stop_loss) <= 0
		OR v_sign * (coalesce(entry_price, stop_loss + v_sign) - stop_loss) <= 0
		OR v_sign * (take_profit - coalesce(entry_price, take_profit - v_sign)) <= 0
	THEN
		RAISE EXCEPTION 'bracket prices out of order for a %: stop-loss %, entry %, take-profit %',
			v_side, stop_loss, coalesce(entry_price::text, 'market'), take_profit
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'A buy needs stop-loss < entry < take-profit; a sell the reverse.';
	END IF;
	IF valid_for IS NULL OR valid_for <= interval '0' THEN
		RAISE EXCEPTION 'valid_for must be a positive interval'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
		order_type, limit_price, tif, outside_rth, valid_until, bracket_role)
	VALUES (place_bracket.account_id, v_instrument, v_side, quantity,
		CASE WHEN entry_price IS NULL THEN 'market' ELSE 'limit' END,
		entry_price, lower(tif), outside_rth, now() + valid_for, 'entry')
	RETURNING * INTO v_parent;
	IF v_parent.status <> 'pending' THEN
		RETURN NEXT v_parent;
		RETURN;
	END IF;
	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
		order_type, limit_price, tif, outside_rth, valid_until,
		parent_order_id, bracket_role)
	VALUES (place_bracket.account_id, v_instrument, v_exit, quantity, 'limit',
		take_profit, lower(exit_tif), outside_rth, v_parent.valid_until,
		v_parent.order_id, 'take_profit')
	RETURNING * INTO v_tp;
	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
		order_type, stop_price, tif, outside_rth, valid_until,
		parent_order_id, bracket_role)
	VALUES (place_bracket.account_id, v_instrument, v_exit, quantity, 'stop',
		stop_loss, lower(exit_tif), outside_rth, v_parent.valid_until,
		v_parent.order_id, 'stop_loss')
	RETURNING * INTO v_sl;
	IF v_tp.status <> 'pending' OR v_sl.status <> 'pending' THEN
		/* no entry without both protections: cancelling it cancels them */
		PERFORM pgtrade.order_move(v_parent.order_id, 'cancelled',
			'user ' || session_user,
			'bracket not placed: a child order was refused by the risk gate');
	END IF;
	RETURN QUERY SELECT * FROM pgtrade.orders o
		WHERE o.order_id IN (v_parent.order_id, v_tp.order_id, v_sl.order_id)
		ORDER BY o.order_id;
END
$$;
COMMENT ON FUNCTION pgtrade.place_bracket(text, text, text, numeric, numeric,
	numeric, numeric, text, text, interval, boolean) IS
	'Places a bracket: an entry (limit, or market when entry_price is '
	'NULL), a take-profit limit and a stop-loss stop on the other side in '
	'one OCA group, all through the risk gate; returns the three rows.';

/*
 * bracket_claim_children moves the pending children of a parent that
 * claim_orders just claimed to submitting, in the same transaction, and
 * returns how many it claimed.
 */
CREATE FUNCTION pgtrade.bracket_claim_children(p_parent bigint,
	p_listener bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
	v_n integer := 0;
BEGIN
	FOR v_id IN
		SELECT o.order_id FROM pgtrade.orders o
		WHERE o.parent_order_id = p_parent AND o.status = 'pending'
		ORDER BY o.order_id FOR UPDATE
	LOOP
		UPDATE pgtrade.orders o
		SET attempts = o.attempts + 1, claimed_by = p_listener,
			submitted_at = clock_timestamp()
		WHERE o.order_id = v_id;
		PERFORM pgtrade.order_move(v_id, 'submitting',
			'listener ' || p_listener,
			format('claimed with its parent order %s', p_parent));
		v_n := v_n + 1;
	END LOOP;
	RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bracket_claim_children(bigint, bigint)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bracket_claim_children(bigint, bigint) IS
	'Internal to claim_orders: claims a parent''s pending children with '
	'it; returns how many.';

CREATE FUNCTION pgtrade.bracket_children(parent_order_id bigint)
RETURNS TABLE (order_id bigint, client_order_id text, side text,
	quantity numeric, order_type text, limit_price numeric,
	stop_price numeric, tif text, outside_rth boolean, status text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.order_id, o.client_order_id, o.side, o.quantity, o.order_type,
		   o.limit_price, o.stop_price, o.tif, o.outside_rth, o.status
	FROM pgtrade.orders o
	WHERE o.parent_order_id = $1
	ORDER BY o.order_id;
$$;
COMMENT ON FUNCTION pgtrade.bracket_children(bigint) IS
	'Listener: the children of a bracket''s parent order, take-profit '
	'first.';

/*
 * bracket_parent_ended follows a bracket's parent once it has ended
 * cancelled, expired or rejected: children still pending are cancelled
 * with it, children sent with a rejected parent are rejected with it;
 * when some of it filled, working children are modified to the filled
 * quantity, which is all they have to protect.
 */
CREATE FUNCTION pgtrade.bracket_parent_ended()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_filled numeric := greatest(NEW.filled_quantity,
								 coalesce(NEW.broker_filled_quantity, 0));
	v_c pgtrade.orders;
BEGIN
	FOR v_c IN
		SELECT * FROM pgtrade.orders o
		WHERE o.parent_order_id = NEW.order_id
		ORDER BY o.order_id FOR UPDATE
	LOOP
		IF v_c.status = 'pending' THEN
			PERFORM pgtrade.order_move(v_c.order_id, 'cancelled', 'bracket',
				format('parent order %s is %s', NEW.order_id, NEW.status));
		ELSIF v_c.status = 'submitting' AND NEW.status = 'rejected' THEN
			/* sent in the same request: refused with it */
			PERFORM pgtrade.order_move(v_c.order_id, 'rejected', 'bracket',
				format('parent order %s was rejected: %s', NEW.order_id,
					   coalesce(NEW.last_error, 'no reason given')));
		ELSIF v_c.status = 'working' AND v_filled > 0
			AND v_filled < v_c.quantity AND v_filled > v_c.filled_quantity
			AND NOT EXISTS (SELECT 1 FROM pgtrade.order_modification m
							WHERE m.order_id = v_c.order_id
								AND m.status IN ('requested', 'sent'))
		THEN
			UPDATE pgtrade.account a SET gate_seq = a.gate_seq + 1
			WHERE a.account_id = v_c.account_id;
			PERFORM pgtrade.modify_request(v_c, v_filled, v_c.limit_price,
				v_c.stop_price, format('bracket: parent order %s ended %s with %s filled',
									   NEW.order_id, NEW.status, v_filled));
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.bracket_parent_ended() IS
	'AFTER UPDATE on orders: cancels the pending children of a bracket '
	'parent that ended, or resizes them to what the parent filled.';
CREATE TRIGGER bracket_parent_ended AFTER UPDATE ON pgtrade.orders
	FOR EACH ROW WHEN (NEW.bracket_role = 'entry'
		AND NEW.status IN ('cancelled', 'expired', 'rejected')
		AND (OLD.status IS DISTINCT FROM NEW.status
			 OR OLD.filled_quantity IS DISTINCT FROM NEW.filled_quantity
			 OR OLD.broker_filled_quantity
				IS DISTINCT FROM NEW.broker_filled_quantity))
	EXECUTE FUNCTION pgtrade.bracket_parent_ended();

GRANT EXECUTE ON FUNCTION
	pgtrade.place_bracket(text, text, text, numeric, numeric, numeric,
		numeric, text, text, interval, boolean)
	TO pgtrade_trader, pgtrade_admin;
GRANT EXECUTE ON FUNCTION pgtrade.oca_open_quantity(text, text, bigint)
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin;
CREATE FUNCTION pgtrade.bracket_parent_of(order_id bigint)
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.parent_order_id FROM pgtrade.orders o WHERE o.order_id = $1;
$$;
COMMENT ON FUNCTION pgtrade.bracket_parent_of(bigint) IS
	'Listener: the parent of a bracket child, NULL for other orders.';

GRANT EXECUTE ON FUNCTION pgtrade.bracket_children(bigint),
	pgtrade.bracket_parent_of(bigint)
	TO pgtrade_listener;
/*
 * 60_fills.sql: fills move orders and positions.
 *
 * An execution is inserted with ON CONFLICT (execution_id) DO NOTHING; the
 * AFTER INSERT trigger below is what moves the order's filled quantity
 * and the position, and it fires only for a row that was really inserted.
 * A fill recorded twice therefore changes nothing.  Arithmetic is numeric
 * throughout; average prices are exact quotients, not rounded.
 */

/*
 * position_step is the arithmetic of one execution against a position:
 * it extends the position at a new average cost, or closes part of it
 * and realizes profit and loss at the average cost, or flips it through
 * zero.  Pure, so positions and performance reports share it.
 */
CREATE FUNCTION pgtrade.position_step(INOUT quantity numeric,
	INOUT avg_cost numeric, INOUT realized_pnl numeric, side text,
	fill_quantity numeric, fill_price numeric)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
	v_signed numeric := CASE side WHEN 'buy' THEN fill_quantity
								  ELSE -fill_quantity END;
	v_new numeric := quantity + v_signed;
BEGIN
	IF quantity = 0 OR sign(quantity) = sign(v_signed) THEN
		/* opening or adding: weighted average cost */
		avg_cost := (abs(quantity) * coalesce(avg_cost, 0)
					 + fill_quantity * fill_price) / abs(v_new);
	ELSE
		/* reducing, closing or flipping */
		realized_pnl := realized_pnl + least(abs(quantity), fill_quantity)
			* (fill_price - avg_cost) * sign(quantity);
		IF v_new = 0 THEN
			avg_cost := NULL;
		ELSIF sign(v_new) <> sign(quantity) THEN
			avg_cost := fill_price;
		END IF;
	END IF;
	quantity := v_new;
END
$$;
COMMENT ON FUNCTION pgtrade.position_step(numeric, numeric, numeric, text,
	numeric, numeric) IS
	'The arithmetic of one execution against a position: new quantity, '
	'average cost and realized P&L.';

/*
 * position_day_roll keeps position.day_start_realized: the first change
 * of a position on a new trading day of its account (account.time_zone)
 * records the realized P&L that day began with, so that the day's own
 * is realized_pnl less it.
 */
CREATE FUNCTION pgtrade.position_day_roll()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_today date := pgtrade.account_today(NEW.account_id);
BEGIN
	IF OLD.day IS DISTINCT FROM v_today THEN
		NEW.day_start_realized := OLD.realized_pnl;
		NEW.day := v_today;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgtrade.position_day_roll() IS
	'BEFORE UPDATE on position: notes the realized P&L a trading day '
	'began with.';
CREATE TRIGGER position_day_roll BEFORE UPDATE ON pgtrade.position
	FOR EACH ROW EXECUTE FUNCTION pgtrade.position_day_roll();

/*
 * position_apply adds one execution to a stored position.
 */
CREATE FUNCTION pgtrade.position_apply(p_account text, p_instrument bigint,
	p_side text, p_quantity numeric, p_price numeric)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_pos pgtrade.position;
	v_step record;
BEGIN
	INSERT INTO pgtrade.position (account_id, instrument_id)
	VALUES (p_account, p_instrument) ON CONFLICT DO NOTHING;
	SELECT * INTO STRICT v_pos FROM pgtrade.position
	WHERE account_id = p_account AND instrument_id = p_instrument FOR UPDATE;
	v_step := pgtrade.position_step(v_pos.quantity, v_pos.avg_cost,
									v_pos.realized_pnl, p_side, p_quantity,
									p_price);
	UPDATE pgtrade.position
	SET quantity = v_step.quantity, avg_cost = v_step.avg_cost,
		realized_pnl = v_step.realized_pnl, updated_at = now()
	WHERE account_id = p_account AND instrument_id = p_instrument;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.position_apply(text, bigint, text, numeric,
	numeric) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_apply(text, bigint, text, numeric,
	numeric) IS
	'Internal: applies one execution to a position (average cost, '
	'realized P&L).';

/*
 * fill_is_effective: true unless a correction replaced the execution.
 */
CREATE FUNCTION pgtrade.fill_is_effective(execution_id text)
RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT NOT EXISTS (SELECT 1 FROM pgtrade.fill_correction c
					   WHERE c.corrected_execution_id = $1);
$$;
COMMENT ON FUNCTION pgtrade.fill_is_effective(text) IS
	'True unless a later correction of the same execution replaced this one.';

/*
 * position_rebuild recomputes a position from its effective fills and
 * its adjustments (position_adjustment, 72_drift.sql), in the order they
 * first arrived (a correction takes the place of the execution it
 * corrects), so it matches what applying them one by one would have
 * given.
 */
CREATE FUNCTION pgtrade.position_rebuild(p_account text, p_instrument bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_f record;
BEGIN
	UPDATE pgtrade.position
	SET quantity = 0, avg_cost = NULL, realized_pnl = 0, updated_at = now()
	WHERE account_id = p_account AND instrument_id = p_instrument;
	FOR v_f IN
		SELECT x.side, x.quantity, x.price FROM (
			SELECT f.side, f.quantity, f.price,
				   (SELECT min(g.recorded_at) FROM pgtrade.fill g
					WHERE g.execution_base = f.execution_base) AS at,
				   (SELECT min(g.fill_id) FROM pgtrade.fill g
					WHERE g.execution_base = f.execution_base) AS first_id,
				   f.fill_id AS id
			FROM pgtrade.fill f
			WHERE f.account_id = p_account AND f.instrument_id = p_instrument
				AND pgtrade.fill_is_effective(f.execution_id)
			UNION ALL
			SELECT NULL, a.quantity, NULL, a.created_at, 0, a.adjustment_id
			FROM pgtrade.position_adjustment a
			WHERE a.account_id = p_account AND a.instrument_id = p_instrument
		) x
		ORDER BY x.at, x.first_id, x.id
	LOOP
		IF v_f.side IS NULL THEN
			PERFORM pgtrade.position_adjust(p_account, p_instrument,
											v_f.quantity);
		ELSE
			PERFORM pgtrade.position_apply(p_account, p_instrument,
										   v_f.side, v_f.quantity,
										   v_f.price);
		END IF;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.position_rebuild(text, bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_rebuild(text, bigint) IS
	'Internal: recomputes a position from its effective fills and its '
	'adjustments.';

/*
 * fill_correct settles the executions sharing one base id: the one with
 * the highest last segment counts, the others are recorded as corrected,
 * and the positions and orders they touch are recomputed.  A correction
 * that arrives before the execution it corrects is handled the same way.
 */
CREATE FUNCTION pgtrade.fill_correct(p_base text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_win pgtrade.fill;
	v_r record;
	v_o pgtrade.orders;
	v_q numeric;
	v_avg numeric;
BEGIN
	SELECT * INTO STRICT v_win FROM pgtrade.fill f
	WHERE f.execution_base = p_base
	ORDER BY CASE WHEN substring(f.execution_id from '[^.]*$') ~ '^\d+$'
				  THEN substring(f.execution_id from '[^.]*$')::numeric END
				 DESC NULLS LAST,
			 substring(f.execution_id from '[^.]*$') DESC, f.fill_id DESC
	LIMIT 1;
	DELETE FROM pgtrade.fill_correction c
	WHERE c.corrected_execution_id = v_win.execution_id;
	INSERT INTO pgtrade.fill_correction (corrected_execution_id,
										 by_execution_id)
	SELECT f.execution_id, v_win.execution_id FROM pgtrade.fill f
	WHERE f.execution_base = p_base AND f.fill_id <> v_win.fill_id
	ON CONFLICT (corrected_execution_id) DO UPDATE
		SET by_execution_id = EXCLUDED.by_execution_id;

	FOR v_r IN SELECT DISTINCT f.account_id, f.instrument_id
			   FROM pgtrade.fill f WHERE f.execution_base = p_base LOOP
		PERFORM pgtrade.position_rebuild(v_r.account_id, v_r.instrument_id);
	END LOOP;

	FOR v_o IN SELECT o.* FROM pgtrade.orders o
			   WHERE o.order_id IN (SELECT f.order_id FROM pgtrade.fill f
									WHERE f.execution_base = p_base)
			   FOR UPDATE LOOP
		SELECT coalesce(sum(f.quantity), 0),
			   sum(f.quantity * f.price) / nullif(sum(f.quantity), 0)
		INTO v_q, v_avg
		FROM pgtrade.fill f
		WHERE f.order_id = v_o.order_id
			AND pgtrade.fill_is_effective(f.execution_id);
		UPDATE pgtrade.orders SET filled_quantity = v_q, avg_fill_price = v_avg
		WHERE order_id = v_o.order_id;
		PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'fill',
			format('execution %s counts in place of its corrections: filled %s at average %s',
				   v_win.execution_id, v_q, v_avg), v_win.payload);
		IF v_q >= v_o.quantity AND v_o.status IN ('submitting', 'working',
			'cancel_requested', 'unknown') THEN
			PERFORM pgtrade.order_move(v_o.order_id, 'filled', 'fill',
				format('filled %s at average %s', v_q, v_avg));
		END IF;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.fill_correct(text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.fill_correct(text) IS
	'Internal: lets the latest correction of an execution count and '
	'recomputes the positions and orders it touches.';

CREATE FUNCTION pgtrade.fill_after_insert()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_order pgtrade.orders;
	v_filled numeric;
BEGIN
	IF EXISTS (SELECT 1 FROM pgtrade.fill f
			   WHERE f.execution_base = NEW.execution_base
				 AND f.fill_id <> NEW.fill_id) THEN
		PERFORM pgtrade.fill_correct(NEW.execution_base);
		RETURN NULL;
	END IF;
	PERFORM pgtrade.position_apply(NEW.account_id, NEW.instrument_id,
								   NEW.side, NEW.quantity, NEW.price);
	IF NEW.order_id IS NULL THEN
		RETURN NULL;
	END IF;

	SELECT * INTO STRICT v_order FROM pgtrade.orders
	WHERE order_id = NEW.order_id FOR UPDATE;
	v_filled := v_order.filled_quantity + NEW.quantity;
	UPDATE pgtrade.orders
	SET filled_quantity = v_filled,
		avg_fill_price = (v_order.filled_quantity
						  * coalesce(v_order.avg_fill_price, 0)
						  + NEW.quantity * NEW.price) / v_filled
	WHERE order_id = NEW.order_id;

	PERFORM pgtrade.order_note(NEW.order_id, v_order.status, 'fill',
		format('execution %s: %s %s at %s (filled %s of %s)',
			   NEW.execution_id, NEW.side, NEW.quantity, NEW.price,
			   v_filled, v_order.quantity), NEW.payload);
	IF v_filled >= v_order.quantity
		AND v_order.status IN ('submitting', 'working', 'cancel_requested',
							   'unknown') THEN
		PERFORM pgtrade.order_move(NEW.order_id, 'filled', 'fill',
			format('filled %s at average %s', v_filled,
				   (SELECT avg_fill_price FROM pgtrade.orders
					WHERE order_id = NEW.order_id)));
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.fill_after_insert() IS
	'AFTER INSERT on fill: moves the position and the order''s filled '
	'quantity and average price; fires only for rows really inserted.';
CREATE TRIGGER fill_after_insert AFTER INSERT ON pgtrade.fill
	FOR EACH ROW EXECUTE FUNCTION pgtrade.fill_after_insert();

CREATE FUNCTION pgtrade.fill_immutable()
RETURNS trigger
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
	RAISE EXCEPTION 'fills are append-only'
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  DETAIL = 'Positions are the sum of fills; a changed or deleted '
			     || 'fill would break that.';
END
$$;
COMMENT ON FUNCTION pgtrade.fill_immutable() IS
	'Refuses UPDATE and DELETE on fill: positions are the sum of fills.';
CREATE TRIGGER fill_immutable BEFORE UPDATE OR DELETE ON pgtrade.fill
	FOR EACH ROW EXECUTE FUNCTION pgtrade.fill_immutable();
/*
 * 70_listener.sql: the functions pgtrade-listener calls, and nothing else
 * may.
 *
 * The listener never touches tables directly.  claim_order moves one
 * order from pending to submitting in the caller's own transaction,
 * which the listener commits before any HTTP call: an order is claimed,
 * durably, before it can leave the machine.  Broker reports come back
 * through record_*; a report that would move an order backwards is kept
 * as an event and otherwise ignored.
 */

CREATE FUNCTION pgtrade.listener_register(name text, pid integer,
	version text)
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO pgtrade.listener (name, pid, version, db_user)
	VALUES ($1, $2, $3, session_user)
	RETURNING listener_id;
$$;
COMMENT ON FUNCTION pgtrade.listener_register(text, integer, text) IS
	'Records a listener start and returns its id.';

CREATE FUNCTION pgtrade.listener_heartbeat(listener_id bigint,
	gateway_state text, accounts text[], last_error text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pgtrade.listener
	SET heartbeat_at = now(), gateway_state = $2, accounts = $3,
		last_error = $4
	WHERE listener_id = $1;
$$;
COMMENT ON FUNCTION pgtrade.listener_heartbeat(bigint, text, text[], text) IS
	'Updates a listener''s heartbeat, gateway state, accounts served and '
	'last error.';

CREATE FUNCTION pgtrade.listener_stopped(listener_id bigint)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pgtrade.listener SET stopped_at = now(), heartbeat_at = now()
	WHERE listener_id = $1;
$$;
COMMENT ON FUNCTION pgtrade.listener_stopped(bigint) IS
	'Records a clean listener stop.';

/*
 * kill_switch_reason returns why a kill switch covers an order's scope,
 * or NULL when none does.
 */
CREATE FUNCTION pgtrade.kill_switch_reason(p_account text, p_strategy bigint)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	/* PL/pgSQL: every claim calls it, and its plan is kept */
	RETURN (SELECT format('kill switch is on for %s%s%s',
				  coalesce('account ' || l.account_id, 'all accounts'),
				  coalesce(' strategy ' || l.strategy_id, ''),
				  coalesce(': ' || l.note, ''))
	FROM pgtrade.risk_limit l
	WHERE l.kill_switch
		AND (l.account_id IS NULL OR l.account_id = p_account)
		AND (l.strategy_id IS NULL OR l.strategy_id = p_strategy)
	ORDER BY l.account_id NULLS FIRST, l.strategy_id NULLS FIRST
	LIMIT 1);
END
$$;
COMMENT ON FUNCTION pgtrade.kill_switch_reason(text, bigint) IS
	'Why a kill switch covers this account and strategy, or NULL when '
	'none does.';

/*
 * claim_orders claims up to max_orders pending orders of the given
 * accounts, oldest first, in the caller's transaction.  Each one moves
 * pending -> submitting in a single UPDATE (the claim and its event);
 * a bracket's pending children are claimed with their parent and are
 * counted in "children".  An order past valid_until is expired, and one
 * under a kill switch or of a halted account is cancelled; neither is
 * returned.  An account with open position drift is left out: its
 * orders stay pending until an operator settles the drift.  The kill
 * switches and the halt are read once per account
 * and strategy in a call: the caller commits before it sends anything,
 * and a switch flipped meanwhile waits on no lock of ours, so its order
 * takes effect from the next claim.
 */
CREATE FUNCTION pgtrade.claim_orders(listener_id bigint, accounts text[],
	max_orders integer)
RETURNS TABLE (order_id bigint, client_order_id text, account_id text,
	conid bigint, symbol text, side text, quantity numeric,
	order_type text, limit_price numeric, stop_price numeric, tif text,
	outside_rth boolean, attempts integer, children integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders;
	v_source text := 'listener ' || claim_orders.listener_id;
	v_why text;
	v_checked text[] := '{}';	/* "account strategy" pairs checked */
	v_blocked text[] := '{}';	/* the reason for each of them, or '' */
	v_key text;
	v_i integer;
	v_n integer := 0;
	v_skipped integer;
	v_children integer;
	v_accounts text[];
BEGIN
	IF max_orders IS NULL OR max_orders < 1 THEN
		RAISE EXCEPTION 'max_orders must be at least 1, not %',
			coalesce(max_orders::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/*
	 * Accounts with open drift are left out before the scan, so that
	 * their queued orders are not read and passed over on every claim;
	 * the scan checks again, for drift recorded meanwhile.
	 */
	v_accounts := ARRAY(
		SELECT unnest(claim_orders.accounts)
		EXCEPT
		SELECT unnest(pgtrade.drift_blocked_accounts(claim_orders.accounts)));
	LOOP
		v_skipped := 0;
		FOR v_o IN
			SELECT * FROM pgtrade.orders o
			WHERE o.status = 'pending'
				AND o.account_id = ANY (v_accounts)
				AND o.parent_order_id IS NULL	/* children go with the parent */
				/* open position drift holds an account's claims */
				AND NOT EXISTS (SELECT 1 FROM pgtrade.position_drift d
								WHERE d.account_id = o.account_id
								  AND d.status = 'open')
			ORDER BY o.order_id
			LIMIT max_orders - v_n
			FOR UPDATE SKIP LOCKED
		LOOP
			IF v_o.valid_until < clock_timestamp() THEN
				PERFORM pgtrade.order_move(v_o.order_id, 'expired', v_source,
					format('not sent: valid until %s', v_o.valid_until));
				v_skipped := v_skipped + 1;
				CONTINUE;
			END IF;

			v_key := v_o.account_id || ' ' || coalesce(v_o.strategy_id::text, '');
			v_i := array_position(v_checked, v_key);
			IF v_i IS NULL THEN
				v_why := pgtrade.kill_switch_reason(v_o.account_id,
					v_o.strategy_id);
				IF v_why IS NULL AND (SELECT a.halted FROM pgtrade.account a
						WHERE a.account_id = v_o.account_id) THEN
					v_why := format('account %s is halted', v_o.account_id);
				END IF;
				v_checked := v_checked || v_key;
				v_blocked := v_blocked || coalesce(v_why, '');
			ELSE
				v_why := nullif(v_blocked[v_i], '');
			END IF;
			IF v_why IS NOT NULL THEN
				PERFORM pgtrade.order_move(v_o.order_id, 'cancelled', v_source,
					'not sent: ' || v_why);
				v_skipped := v_skipped + 1;
				CONTINUE;
			END IF;

			/* the claim and its event in one row version (see order_move) */
			PERFORM set_config('pgtrade.event_source', v_source, true);
			PERFORM set_config('pgtrade.event_detail', 'claimed for submission',
							   true);
			PERFORM set_config('pgtrade.event_payload', '', true);
			UPDATE pgtrade.orders o
			SET status = 'submitting', attempts = o.attempts + 1,
				claimed_by = claim_orders.listener_id,
				submitted_at = clock_timestamp()
			WHERE o.order_id = v_o.order_id;
			/* only a bracket's entry has children */
			v_children := CASE WHEN v_o.bracket_role = 'entry' THEN
				pgtrade.bracket_claim_children(v_o.order_id,
					claim_orders.listener_id) ELSE 0 END;
			v_n := v_n + 1;

			RETURN QUERY
				SELECT o.order_id, o.client_order_id, o.account_id, i.conid,
					   i.symbol, o.side, o.quantity, o.order_type,
					   o.limit_price, o.stop_price, o.tif, o.outside_rth,
					   o.attempts, v_children
				FROM pgtrade.orders o
				JOIN pgtrade.instrument i USING (instrument_id)
				WHERE o.order_id = v_o.order_id;
		END LOOP;
		/* orders expired or cancelled took places: look for more */
		EXIT WHEN v_skipped = 0 OR v_n >= max_orders;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.claim_orders(bigint, text[], integer) IS
	'Claims up to max_orders of the oldest pending orders of the given '
	'accounts (pending -> submitting, SKIP LOCKED), a bracket''s children '
	'with their parent; expires or cancels, instead of returning, orders '
	'past valid_until or under a kill switch; leaves accounts with open '
	'position drift alone.  The caller commits before sending.';

CREATE FUNCTION pgtrade.claim_order(listener_id bigint, accounts text[])
RETURNS TABLE (order_id bigint, client_order_id text, account_id text,
	conid bigint, symbol text, side text, quantity numeric,
	order_type text, limit_price numeric, stop_price numeric, tif text,
	outside_rth boolean, attempts integer)
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.order_id, c.client_order_id, c.account_id, c.conid, c.symbol,
		   c.side, c.quantity, c.order_type, c.limit_price, c.stop_price,
		   c.tif, c.outside_rth, c.attempts
	FROM pgtrade.claim_orders($1, $2, 1) c;
$$;
COMMENT ON FUNCTION pgtrade.claim_order(bigint, text[]) IS
	'Claims the oldest pending order of the given accounts, as '
	'claim_orders with max_orders 1.  The caller commits before sending.';

/*
 * broker_status_target maps an IBKR order status word to the pgtrade
 * status it implies, or NULL when it implies none.
 */
CREATE FUNCTION pgtrade.broker_status_target(broker_status text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE lower(replace($1, ' ', ''))
		WHEN 'pendingsubmit' THEN 'working'
		WHEN 'presubmitted' THEN 'working'
		WHEN 'submitted' THEN 'working'
		WHEN 'warnstate' THEN 'working'
		WHEN 'pendingcancel' THEN 'cancel_requested'
		WHEN 'precancelled' THEN 'cancel_requested'
		WHEN 'filled' THEN 'filled'
		WHEN 'cancelled' THEN 'cancelled'
		WHEN 'inactive' THEN 'rejected'
		ELSE NULL END;
$$;
COMMENT ON FUNCTION pgtrade.broker_status_target(text) IS
	'Maps an IBKR order status (PreSubmitted, Submitted, Filled, '
	'Cancelled, Inactive, ...) to a pgtrade status.';

/*
 * order_apply_broker_status moves an order as a broker status implies,
 * when the state machine allows it; otherwise it records the report as an
 * event and leaves the order alone.  Returns the order's status after.
 */
CREATE FUNCTION pgtrade.order_apply_broker_status(p_order pgtrade.orders,
	p_broker_status text, p_source text, p_payload jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_target text := pgtrade.broker_status_target(p_broker_status);
BEGIN
	/*
	 * "Still working" while a cancel is pending says nothing about the
	 * cancel: the broker may not have processed it yet.  Moving back to
	 * working would drop the cancel, so the order waits for Cancelled or
	 * Filled (the listener sends the cancel again meanwhile).
	 */
	IF p_order.status = 'cancel_requested' AND v_target = 'working' THEN
		v_target := NULL;
	END IF;
	IF v_target IS NOT NULL AND v_target <> p_order.status AND EXISTS (
		SELECT 1 FROM pgtrade.order_transition t
		WHERE t.from_status = p_order.status AND t.to_status = v_target) THEN
		/*
		 * An Inactive order's reason is the broker's "text": in a live
		 * order row, or in the last answer of a submission payload.
		 */
		PERFORM pgtrade.order_move(p_order.order_id, v_target, p_source,
			format('broker status %s', p_broker_status)
			|| CASE WHEN v_target = 'rejected' THEN
				coalesce(': ' || coalesce(p_payload->>'text',
					p_payload->'responses'->-1->0->>'text'), '')
			   ELSE '' END, p_payload);
		RETURN v_target;
	END IF;
	/*
	 * A report that would move the order is kept even when its word is
	 * the one stored: an order filled from its executions still has the
	 * Submitted it was last reported with, and a Submitted after that
	 * is news.
	 */
	IF p_broker_status IS DISTINCT FROM p_order.broker_status
		OR (v_target IS NOT NULL AND v_target <> p_order.status
			AND p_order.status IN ('filled', 'cancelled', 'rejected',
								   'expired')) THEN
		PERFORM pgtrade.order_note(p_order.order_id, p_order.status, p_source,
			format('broker status %s recorded; order stays %s',
				   p_broker_status, p_order.status), p_payload);
	END IF;
	RETURN p_order.status;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.order_apply_broker_status(pgtrade.orders,
	text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.order_apply_broker_status(pgtrade.orders, text,
	text, jsonb) IS
	'Internal: applies a broker status report to an order along the state '
	'machine.';

CREATE FUNCTION pgtrade.lock_order(p_order_id bigint)
RETURNS pgtrade.orders
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders;
BEGIN
	SELECT * INTO v_o FROM pgtrade.orders WHERE order_id = p_order_id
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', p_order_id
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN v_o;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.lock_order(bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.lock_order(bigint) IS
	'Internal: locks an order row and returns it; raises when it does not '
	'exist.';

CREATE FUNCTION pgtrade.record_submission(order_id bigint,
	broker_order_id text, broker_status text, payload jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_submission.order_id);
	v_status text;
	v_detail text;
BEGIN
	IF v_o.broker_order_id IS NOT NULL
		AND v_o.broker_order_id <> record_submission.broker_order_id THEN
		RAISE EXCEPTION 'order % already has broker order id %',
			v_o.order_id, v_o.broker_order_id
			USING ERRCODE = 'unique_violation',
				  DETAIL = pg_catalog.format('The broker now reports %s.',
											  record_submission.broker_order_id);
	END IF;
	/*
	 * The common case in one row version: a status that maps to a move
	 * the state machine allows, written with the broker's ids, with the
	 * event order_apply_broker_status would write.
	 */
	v_status := pgtrade.broker_status_target(
		coalesce(record_submission.broker_status, 'Submitted'));
	IF v_o.status IN ('submitting', 'unknown') AND EXISTS (
		SELECT 1 FROM pgtrade.order_transition t
		WHERE t.from_status = v_o.status AND t.to_status = v_status) THEN
		v_detail := pg_catalog.format('broker status %s',
			coalesce(record_submission.broker_status, 'Submitted'))
			|| CASE WHEN v_status = 'rejected' THEN
				coalesce(': ' || coalesce(record_submission.payload->>'text',
					record_submission.payload->'responses'->-1->0->>'text'), '')
			   ELSE '' END;
		PERFORM pg_catalog.set_config('pgtrade.event_source',
			'broker acknowledgement', true);
		PERFORM pg_catalog.set_config('pgtrade.event_detail', v_detail, true);
		PERFORM pg_catalog.set_config('pgtrade.event_payload',
			coalesce(record_submission.payload::text, ''), true);
		UPDATE pgtrade.orders o
		SET status = v_status,
			broker_order_id = record_submission.broker_order_id,
			broker_status = record_submission.broker_status,
			last_error = CASE WHEN v_status = 'rejected' THEN v_detail
							  ELSE o.last_error END
		WHERE o.order_id = v_o.order_id;
		RETURN v_status;
	END IF;
	UPDATE pgtrade.orders o
	SET broker_order_id = record_submission.broker_order_id,
		broker_status = record_submission.broker_status
	WHERE o.order_id = v_o.order_id;
	IF v_o.status = 'submitting' OR v_o.status = 'unknown' THEN
		v_status := pgtrade.order_apply_broker_status(v_o,
			coalesce(record_submission.broker_status, 'Submitted'),
			'broker acknowledgement', record_submission.payload);
		IF v_status IN ('submitting', 'unknown') THEN
			/* an acknowledgement with an odd status still means working */
			PERFORM pgtrade.order_move(v_o.order_id, 'working',
				'broker acknowledgement',
				pg_catalog.format('broker order id %s, status %s',
					record_submission.broker_order_id,
					record_submission.broker_status),
				record_submission.payload);
			v_status := 'working';
		END IF;
		RETURN v_status;
	END IF;
	PERFORM pgtrade.order_note(v_o.order_id, v_o.status,
		'broker acknowledgement',
		pg_catalog.format('acknowledged as %s (broker order id %s); order stays %s',
			record_submission.broker_status, record_submission.broker_order_id,
			v_o.status), record_submission.payload);
	RETURN v_o.status;
END
$$;
COMMENT ON FUNCTION pgtrade.record_submission(bigint, text, text, jsonb) IS
	'Listener: records the broker''s acknowledgement of a submitted order '
	'(broker order id and status); returns the new status.';

/*
 * record_submissions records several acknowledgements at once, element
 * by element of its arrays, as record_submission would one by one: the
 * listener sends a batch of claimed orders and records their answers in
 * one transaction.  All or nothing: an error in one element records
 * none of them.
 */
CREATE FUNCTION pgtrade.record_submissions(order_ids bigint[],
	broker_order_ids text[], broker_statuses text[], payloads jsonb[])
RETURNS TABLE (order_id bigint, status text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n integer := coalesce(cardinality(order_ids), 0);
	v_i integer;
BEGIN
	IF coalesce(cardinality(broker_order_ids), 0) <> v_n
		OR coalesce(cardinality(broker_statuses), 0) <> v_n
		OR coalesce(cardinality(payloads), 0) <> v_n THEN
		RAISE EXCEPTION 'record_submissions needs arrays of one length'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('%s order ids, %s broker order ids, '
					  || '%s statuses and %s payloads.', v_n,
					  coalesce(cardinality(broker_order_ids), 0),
					  coalesce(cardinality(broker_statuses), 0),
					  coalesce(cardinality(payloads), 0));
	END IF;
	FOR v_i IN 1 .. v_n LOOP
		order_id := order_ids[v_i];
		status := pgtrade.record_submission(order_ids[v_i],
			broker_order_ids[v_i], broker_statuses[v_i], payloads[v_i]);
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.record_submissions(bigint[], text[], text[],
	jsonb[]) IS
	'Listener: records several acknowledgements, as record_submission '
	'does each, all or nothing; returns each order''s new status.';

CREATE FUNCTION pgtrade.record_rejection(order_id bigint, reason text,
	payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_rejection.order_id);
BEGIN
	IF v_o.status NOT IN ('submitting', 'working', 'unknown') THEN
		PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'broker',
			pg_catalog.format('rejection ignored, order is %s: %s', v_o.status,
							  reason), payload);
		RETURN;
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, 'rejected', 'broker',
		coalesce(reason, 'rejected without a reason'), payload);
END
$$;
COMMENT ON FUNCTION pgtrade.record_rejection(bigint, text, jsonb) IS
	'Listener: records that the broker refused an order (error reply, or '
	'a confirmation prompt not on the allow list).';

CREATE FUNCTION pgtrade.record_status(order_id bigint, broker_status text,
	filled_quantity numeric DEFAULT NULL, avg_price numeric DEFAULT NULL,
	payload jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_status.order_id);
	v_status text;
BEGIN
	v_status := pgtrade.order_apply_broker_status(v_o,
		record_status.broker_status, 'broker status', record_status.payload);
	UPDATE pgtrade.orders o
	SET broker_status = record_status.broker_status,
		broker_filled_quantity = coalesce(record_status.filled_quantity,
										  o.broker_filled_quantity)
	WHERE o.order_id = v_o.order_id;
	RETURN v_status;
END
$$;
COMMENT ON FUNCTION pgtrade.record_status(bigint, text, numeric, numeric,
	jsonb) IS
	'Listener: records a broker status report; moves the order when the '
	'state machine allows, otherwise keeps the report as an event.  '
	'Returns the status after.';

/*
 * release_unsent settles an order a listener claimed and knows it never
 * sent (its batch stopped before it), when it may not be sent now
 * either (valid_until passed, a kill switch, the cOID window closed):
 * it is cancelled with the reason, as claim_orders would have done had
 * it looked then.  Only the listener that claimed it may.
 */
CREATE FUNCTION pgtrade.release_unsent(listener_id bigint, order_id bigint,
	reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(release_unsent.order_id);
BEGIN
	IF v_o.status <> 'submitting'
		OR v_o.claimed_by IS DISTINCT FROM release_unsent.listener_id THEN
		RAISE EXCEPTION 'listener % cannot release order %: it is %, claimed by %',
			release_unsent.listener_id, v_o.order_id, v_o.status,
			coalesce('listener ' || v_o.claimed_by, 'no listener')
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, 'cancelled',
		'listener ' || release_unsent.listener_id,
		'not sent: ' || coalesce(nullif(reason, ''), 'no reason given'));
END
$$;
COMMENT ON FUNCTION pgtrade.release_unsent(bigint, bigint, text) IS
	'Listener: cancels an order it claimed and never sent, which may not '
	'be sent now either; only the claiming listener may.';

CREATE FUNCTION pgtrade.record_unknown(order_id bigint, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_unknown.order_id);
BEGIN
	IF v_o.status <> 'submitting' THEN
		RAISE EXCEPTION 'cannot mark order % unknown: it is %', v_o.order_id,
			v_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, 'unknown', 'listener', reason);
	UPDATE pgtrade.account a
	SET halted = true,
		halt_reason = pg_catalog.format('order %s (%s) is unknown: %s',
			v_o.order_id, v_o.client_order_id, reason)
	WHERE a.account_id = v_o.account_id;
END
$$;
COMMENT ON FUNCTION pgtrade.record_unknown(bigint, text) IS
	'Listener: an order sent without an answer was not found at the '
	'broker; it becomes unknown and its account halts until an operator '
	'resolves it.';

CREATE FUNCTION pgtrade.side_from_broker(side text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE upper($1)
		WHEN 'B' THEN 'buy' WHEN 'BUY' THEN 'buy' WHEN 'BOT' THEN 'buy'
		WHEN 'S' THEN 'sell' WHEN 'SELL' THEN 'sell' WHEN 'SLD' THEN 'sell'
		ELSE NULL END;
$$;
COMMENT ON FUNCTION pgtrade.side_from_broker(text) IS
	'Maps IBKR side spellings (B, BUY, BOT, S, SELL, SLD) to buy or sell.';

CREATE FUNCTION pgtrade.record_fill(execution_id text, order_ref text,
	account_id text, conid bigint, side text, quantity numeric,
	price numeric, trade_time timestamptz, commission numeric DEFAULT NULL,
	payload jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_side text := pgtrade.side_from_broker(record_fill.side);
	v_order pgtrade.orders;
	v_instrument bigint;
	v_fill_id bigint;
BEGIN
	IF execution_id IS NULL OR execution_id = '' THEN
		RAISE EXCEPTION 'execution id must not be empty'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF v_side IS NULL THEN
		RAISE EXCEPTION 'unknown execution side "%"', record_fill.side
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM pgtrade.fill f
			   WHERE f.execution_id = record_fill.execution_id) THEN
		/* a commission reported after the execution is its own row */
		IF commission IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM pgtrade.commission c
			WHERE c.execution_id = record_fill.execution_id) THEN
			INSERT INTO pgtrade.commission (execution_id, amount)
			VALUES (record_fill.execution_id, record_fill.commission)
			ON CONFLICT (execution_id) DO NOTHING;
		END IF;
		RETURN false;
	END IF;

	/*
	 * Join by order_ref = cOID, but only when the execution matches the
	 * order's account, side and contract: an execution that merely
	 * reuses one of our cOIDs must not fill our order.
	 */
	SELECT * INTO v_order FROM pgtrade.orders o
	WHERE o.client_order_id = record_fill.order_ref;
	IF FOUND AND (v_order.account_id <> record_fill.account_id
		OR v_order.side <> v_side
		OR (SELECT i.conid FROM pgtrade.instrument i
			WHERE i.instrument_id = v_order.instrument_id)
		   IS DISTINCT FROM record_fill.conid) THEN
		RAISE WARNING 'execution % names order % but does not match its account, side or contract: recorded unlinked',
			execution_id, order_ref
			USING DETAIL = pg_catalog.format(
				'Execution: account %s, %s, conid %s.  Order: account %s, %s.',
				record_fill.account_id, v_side, record_fill.conid,
				v_order.account_id, v_order.side);
		v_order := NULL;
	END IF;

	IF v_order.order_id IS NOT NULL THEN
		v_instrument := v_order.instrument_id;
	ELSE
		SELECT i.instrument_id INTO v_instrument FROM pgtrade.instrument i
		WHERE i.conid = record_fill.conid;
		IF NOT FOUND THEN
			v_instrument := pgtrade.add_instrument(
				coalesce(payload->>'symbol', 'conid:' || record_fill.conid),
				record_fill.conid);
		END IF;
	END IF;
	/*
	 * Look before inserting: the risk gate updates the account row as its
	 * per-account lock, and INSERT ... ON CONFLICT would wait for each
	 * order being placed on the account to commit.
	 */
	IF NOT EXISTS (SELECT 1 FROM pgtrade.account a
				   WHERE a.account_id = record_fill.account_id) THEN
		INSERT INTO pgtrade.account (account_id)
		VALUES (record_fill.account_id)
		ON CONFLICT DO NOTHING;
	END IF;

	INSERT INTO pgtrade.fill (execution_id, order_id, order_ref, account_id,
		instrument_id, side, quantity, price, trade_time, payload)
	VALUES (record_fill.execution_id, v_order.order_id, record_fill.order_ref,
		record_fill.account_id, v_instrument, v_side, record_fill.quantity,
		record_fill.price, record_fill.trade_time, record_fill.payload)
	ON CONFLICT ON CONSTRAINT fill_execution_id_key DO NOTHING
	RETURNING fill_id INTO v_fill_id;
	IF v_fill_id IS NULL THEN
		RETURN false;
	END IF;
	IF commission IS NOT NULL THEN
		INSERT INTO pgtrade.commission (execution_id, amount)
		VALUES (record_fill.execution_id, record_fill.commission)
		ON CONFLICT (execution_id) DO NOTHING;
	END IF;
	RETURN true;
END
$$;
COMMENT ON FUNCTION pgtrade.record_fill(text, text, text, bigint, text,
	numeric, numeric, timestamptz, numeric, jsonb) IS
	'Listener: records a broker execution once (by execution id), joined '
	'to its order through order_ref = cOID; executions matching no order '
	'are kept unlinked.  True only when the row was really inserted.';

/*
 * record_fills records several executions at once, element by element
 * of its arrays, as record_fill would one by one and in that order (a
 * late commission or a correction after its execution): the listener
 * records what one read of the trades brought in one transaction.  All
 * or nothing: an error in one element records none of them.
 */
CREATE FUNCTION pgtrade.record_fills(execution_ids text[], order_refs text[],
	account_ids text[], conids bigint[], sides text[], quantities numeric[],
	prices numeric[], trade_times timestamptz[], commissions numeric[],
	payloads jsonb[])
RETURNS TABLE (execution_id text, inserted boolean)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n integer := coalesce(cardinality(execution_ids), 0);
	v_i integer;
BEGIN
	IF coalesce(cardinality(order_refs), 0) <> v_n
		OR coalesce(cardinality(account_ids), 0) <> v_n
		OR coalesce(cardinality(conids), 0) <> v_n
		OR coalesce(cardinality(sides), 0) <> v_n
		OR coalesce(cardinality(quantities), 0) <> v_n
		OR coalesce(cardinality(prices), 0) <> v_n
		OR coalesce(cardinality(trade_times), 0) <> v_n
		OR coalesce(cardinality(commissions), 0) <> v_n
		OR coalesce(cardinality(payloads), 0) <> v_n THEN
		RAISE EXCEPTION 'record_fills needs arrays of one length'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('%s execution ids; the other '
					  || 'arrays hold %s.', v_n, pg_catalog.concat_ws(', ',
					  coalesce(cardinality(order_refs), 0),
					  coalesce(cardinality(account_ids), 0),
					  coalesce(cardinality(conids), 0),
					  coalesce(cardinality(sides), 0),
					  coalesce(cardinality(quantities), 0),
					  coalesce(cardinality(prices), 0),
					  coalesce(cardinality(trade_times), 0),
					  coalesce(cardinality(commissions), 0),
					  coalesce(cardinality(payloads), 0)));
	END IF;
	/*
	 * Lock the batch's orders first, in order_id order: record_submissions
	 * (on another session of the listener) takes its batch's orders in
	 * the order they were claimed, which is order_id order within one
	 * pass of claim_orders, so two batches touching the same orders mostly
	 * wait for each other instead of deadlocking.  A deadlock that is
	 * left is detected by PostgreSQL; the listener keeps the batch and
	 * sends it again a second later.
	 */
	PERFORM 1 FROM pgtrade.orders o
	WHERE o.client_order_id = ANY (order_refs)
	ORDER BY o.order_id
	FOR UPDATE;
	FOR v_i IN 1 .. v_n LOOP
		execution_id := execution_ids[v_i];
		inserted := pgtrade.record_fill(execution_ids[v_i], order_refs[v_i],
			account_ids[v_i], conids[v_i], sides[v_i], quantities[v_i],
			prices[v_i], trade_times[v_i], commissions[v_i], payloads[v_i]);
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.record_fills(text[], text[], text[], bigint[],
	text[], numeric[], numeric[], timestamptz[], numeric[], jsonb[]) IS
	'Listener: records several executions, as record_fill does each and '
	'in array order, all or nothing; returns for each whether its row '
	'was really inserted.';

CREATE FUNCTION pgtrade.orders_to_cancel(accounts text[],
	resend_after interval DEFAULT '30 seconds')
RETURNS TABLE (order_id bigint, client_order_id text, account_id text,
	broker_order_id text)
LANGUAGE sql VOLATILE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.order_id, o.client_order_id, o.account_id, o.broker_order_id
	FROM pgtrade.orders o
	WHERE o.status = 'cancel_requested' AND o.broker_order_id IS NOT NULL
		AND o.account_id = ANY ($1)
		AND (o.cancel_sent_at IS NULL
			 OR o.cancel_sent_at <= clock_timestamp() - $2)
	ORDER BY o.order_id;
$$;
COMMENT ON FUNCTION pgtrade.orders_to_cancel(text[], interval) IS
	'Listener: orders whose cancel must be sent to the broker: '
	'cancel_requested with a broker order id, not sent within '
	'resend_after.';

CREATE FUNCTION pgtrade.record_cancel_sent(order_id bigint,
	payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_cancel_sent.order_id);
BEGIN
	UPDATE pgtrade.orders o SET cancel_sent_at = clock_timestamp()
	WHERE o.order_id = v_o.order_id;
	PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'listener',
		pg_catalog.format('cancel sent to the broker for broker order %s',
						  v_o.broker_order_id), payload);
END
$$;
COMMENT ON FUNCTION pgtrade.record_cancel_sent(bigint, jsonb) IS
	'Listener: records that a cancel was sent to the broker (the order '
	'stays cancel_requested until the broker reports the outcome).';

CREATE FUNCTION pgtrade.record_conid(order_id bigint, conid bigint,
	payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_conid.order_id);
	v_i pgtrade.instrument;
BEGIN
	SELECT * INTO STRICT v_i FROM pgtrade.instrument i
	WHERE i.instrument_id = v_o.instrument_id FOR UPDATE;
	IF v_i.conid IS NOT NULL AND v_i.conid <> conid THEN
		RAISE EXCEPTION 'instrument "%" already has conid %', v_i.symbol,
			v_i.conid
			USING ERRCODE = 'unique_violation',
				  DETAIL = pg_catalog.format('The lookup found conid %s.', conid);
	END IF;
	IF conid IS NULL OR conid <= 0 THEN
		RAISE EXCEPTION 'conid must be a positive number'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE pgtrade.instrument i SET conid = record_conid.conid
	WHERE i.instrument_id = v_i.instrument_id AND i.conid IS NULL;
	PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'listener',
		pg_catalog.format('contract lookup: %s is conid %s', v_i.symbol,
						  conid), payload);
END
$$;
COMMENT ON FUNCTION pgtrade.record_conid(bigint, bigint, jsonb) IS
	'Listener: caches the conid a contract lookup found for an order''s '
	'instrument; never changes a known conid.';

CREATE FUNCTION pgtrade.orders_in_flight(accounts text[])
RETURNS TABLE (order_id bigint, client_order_id text, account_id text,
	status text, broker_order_id text, attempts integer,
	updated_at timestamptz, conid bigint, side text, quantity numeric)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.order_id, o.client_order_id, o.account_id, o.status,
		   o.broker_order_id, o.attempts, o.updated_at, i.conid, o.side,
		   o.quantity
	FROM pgtrade.orders o
	JOIN pgtrade.instrument i ON i.instrument_id = o.instrument_id
	WHERE o.status IN ('submitting', 'working', 'cancel_requested', 'unknown')
		AND o.account_id = ANY ($1)
	ORDER BY o.order_id;
$$;
COMMENT ON FUNCTION pgtrade.orders_in_flight(text[]) IS
	'Listener: orders that have left or may have left for the broker and '
	'are not final yet, with the contract, side and quantity a broker '
	'order under the same cOID must match.';

CREATE FUNCTION pgtrade.resolve_unknown(order_id bigint, status text,
	note text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(resolve_unknown.order_id);
BEGIN
	IF v_o.status <> 'unknown' THEN
		RAISE EXCEPTION 'order % is %, not unknown', v_o.order_id, v_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF status NOT IN ('working', 'filled', 'cancelled', 'rejected') THEN
		RAISE EXCEPTION 'an unknown order resolves to working, filled, cancelled or rejected, not "%"',
			status
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF coalesce(btrim(note), '') = '' THEN
		RAISE EXCEPTION 'resolving an unknown order needs a note saying what the broker shows'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, status,
		'operator ' || session_user, note);
END
$$;
COMMENT ON FUNCTION pgtrade.resolve_unknown(bigint, text, text) IS
	'Operator: settles an unknown order after checking the broker '
	'(working, filled, cancelled or rejected), with a note.  Fills still '
	'come from the listener.';

CREATE FUNCTION pgtrade.unhalt_account(account_id text, note text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n integer;
BEGIN
	SELECT count(*) INTO v_n FROM pgtrade.orders o
	WHERE o.account_id = unhalt_account.account_id AND o.status = 'unknown';
	IF v_n > 0 THEN
		RAISE EXCEPTION 'account % still has % unknown order(s)', account_id, v_n
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Settle them with pgtrade.resolve_unknown() first.';
	END IF;
	IF coalesce(btrim(note), '') = '' THEN
		RAISE EXCEPTION 'lifting a halt needs a note'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE pgtrade.account a SET halted = false,
		halt_reason = pg_catalog.format('halt lifted by %s: %s', session_user,
										 note)
	WHERE a.account_id = unhalt_account.account_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'account "%" does not exist', account_id
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.unhalt_account(text, text) IS
	'Operator: lifts an account''s halt once it has no unknown orders '
	'left; the note is kept in halt_reason.';
/*
 * 72_drift.sql: broker position reconciliation.
 *
 * The listener reads the broker's positions of an account when nothing
 * of that account is in flight and hands them to record_positions, which
 * compares them with pgtrade.position by conid.  A difference counts as
 * drift only when two consecutive snapshots show it with the same
 * quantities and no order of the account was claimed, no fill recorded
 * and no adjustment made in between; until then it is "suspected".
 * Confirmed drift is a row of position_drift with status open: the
 * listener claims no new order for that account until an operator
 * acknowledges it (keep trading, difference noted), resolves it (an
 * audited position_adjustment makes pgtrade's position the broker's) or
 * a later comparison agrees again.
 *
 * position_adjustment is append-only; a position is the sum of its
 * effective fills plus its adjustments, and position_rebuild replays
 * both.  position_check keeps one row per account (the latest
 * comparison), overwritten each time, so it needs no purge; drift and
 * adjustments are trading records and are never purged.
 */

CREATE TABLE pgtrade.position_drift (
	drift_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id			text NOT NULL REFERENCES pgtrade.account,
	instrument_id		bigint REFERENCES pgtrade.instrument,
	conid				bigint,
	symbol				text,
	pgtrade_quantity	numeric NOT NULL,
	broker_quantity		numeric NOT NULL,
	difference			numeric NOT NULL
						GENERATED ALWAYS AS (broker_quantity - pgtrade_quantity)
						STORED,
	first_seen			timestamptz NOT NULL,
	confirmed_at		timestamptz NOT NULL DEFAULT now(),
	last_seen			timestamptz NOT NULL DEFAULT now(),
	listener_id			bigint,
	status				text NOT NULL DEFAULT 'open'
						CHECK (status IN ('open', 'acknowledged', 'resolved')),
	acknowledged_by		text,
	acknowledged_at		timestamptz,
	resolved_by			text,
	resolved_at			timestamptz,
	resolution			text
						CHECK (resolution IN ('adjusted', 'agreed',
											  'superseded')),
	note				text,
	CHECK (conid IS NOT NULL OR instrument_id IS NOT NULL),
	CHECK ((status = 'resolved') = (resolution IS NOT NULL))
);
/* at most one unresolved drift per account and contract */
CREATE UNIQUE INDEX position_drift_unresolved ON pgtrade.position_drift
	(account_id, coalesce(conid, -instrument_id)) WHERE status <> 'resolved';
COMMENT ON TABLE pgtrade.position_drift IS
	'Differences between the broker''s positions and pgtrade''s seen in '
	'two consecutive comparisons.  Open drift stops the listener from '
	'claiming new orders for the account until it is acknowledged, '
	'resolved, or a later comparison agrees.  Never purged by pgtrade.';
COMMENT ON COLUMN pgtrade.position_drift.instrument_id IS
	'NULL when pgtrade does not know the broker''s conid (its quantity '
	'counts as 0).';
COMMENT ON COLUMN pgtrade.position_drift.difference IS
	'broker_quantity - pgtrade_quantity: what resolve_drift adds to '
	'pgtrade''s position.';
COMMENT ON COLUMN pgtrade.position_drift.first_seen IS
	'When the first of the two comparisons that confirmed it was made.';
COMMENT ON COLUMN pgtrade.position_drift.resolution IS
	'adjusted (resolve_drift), agreed (a later comparison agreed) or '
	'superseded (a different difference was confirmed for the same '
	'contract).';

CREATE TABLE pgtrade.position_adjustment (
	adjustment_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id		text NOT NULL REFERENCES pgtrade.account,
	instrument_id	bigint NOT NULL REFERENCES pgtrade.instrument,
	quantity		numeric NOT NULL
					CHECK (quantity <> 0 AND quantity > '-Infinity'
						   AND quantity < 'Infinity'),
	drift_id		bigint REFERENCES pgtrade.position_drift,
	reason			text NOT NULL,
	created_by		text NOT NULL DEFAULT session_user,
	created_at		timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX position_adjustment_position ON pgtrade.position_adjustment
	(account_id, instrument_id);
COMMENT ON TABLE pgtrade.position_adjustment IS
	'Audited position adjustments (signed quantities, no price): a '
	'position is the sum of its fills plus these.  Append-only, never '
	'purged.';

CREATE TABLE pgtrade.position_check (
	account_id		text PRIMARY KEY REFERENCES pgtrade.account,
	listener_id		bigint,
	checked_at		timestamptz NOT NULL,
	outcome			text NOT NULL
					CHECK (outcome IN ('agreed', 'suspected', 'drift',
									   'postponed')),
	suspected		jsonb,
	suspected_since	timestamptz,
	broker_positions jsonb
);
COMMENT ON TABLE pgtrade.position_check IS
	'The latest position comparison of each account: outcome, the '
	'differences still awaiting their confirming snapshot, and the '
	'broker''s positions as read.  One row per account, overwritten.';

SELECT pg_catalog.pg_extension_config_dump('pgtrade.position_drift', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.position_adjustment', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.position_check', '');
SELECT pg_catalog.pg_extension_config_dump(
	'pgtrade.position_drift_drift_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump(
	'pgtrade.position_adjustment_adjustment_id_seq', '');

/*
 * position_adjust adds a signed quantity to a stored position.  The
 * average cost is kept (an adjustment has no price); a position that
 * reaches zero loses it, and one opened by an adjustment has none.
 */
CREATE FUNCTION pgtrade.position_adjust(p_account text, p_instrument bigint,
	p_quantity numeric)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO pgtrade.position (account_id, instrument_id)
	VALUES (p_account, p_instrument) ON CONFLICT DO NOTHING;
	UPDATE pgtrade.position p
	SET quantity = p.quantity + p_quantity,
		avg_cost = CASE WHEN p.quantity + p_quantity = 0 THEN NULL
						ELSE p.avg_cost END,
		updated_at = now()
	WHERE p.account_id = p_account AND p.instrument_id = p_instrument;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.position_adjust(text, bigint, numeric)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_adjust(text, bigint, numeric) IS
	'Internal: adds an adjustment''s quantity to a position, keeping its '
	'average cost.';

CREATE FUNCTION pgtrade.position_adjustment_after_insert()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pgtrade.position_adjust(NEW.account_id, NEW.instrument_id,
									NEW.quantity);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.position_adjustment_after_insert() IS
	'AFTER INSERT on position_adjustment: adds it to the position.';
CREATE TRIGGER position_adjustment_after_insert
	AFTER INSERT ON pgtrade.position_adjustment
	FOR EACH ROW EXECUTE FUNCTION pgtrade.position_adjustment_after_insert();

CREATE FUNCTION pgtrade.position_adjustment_immutable()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
	RAISE EXCEPTION 'position adjustments are append-only'
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  DETAIL = 'Positions are the sum of fills and adjustments; a '
			     || 'changed or deleted adjustment would break that.',
			  HINT = 'Add an adjustment of the opposite quantity instead.';
END
$$;
COMMENT ON FUNCTION pgtrade.position_adjustment_immutable() IS
	'Refuses UPDATE and DELETE on position_adjustment.';
CREATE TRIGGER position_adjustment_immutable
	BEFORE UPDATE OR DELETE ON pgtrade.position_adjustment
	FOR EACH ROW EXECUTE FUNCTION pgtrade.position_adjustment_immutable();

/*
 * position_differences compares an account's broker positions (a jsonb
 * array of {"conid", "symbol", "position"}, the quantity as decimal
 * text) with pgtrade.position, joined by conid.  It returns one row per
 * contract whose quantities differ; a broker conid pgtrade does not know
 * counts as pgtrade quantity 0, and a pgtrade position whose instrument
 * has no conid cannot be matched and counts as broker quantity 0.
 */
CREATE FUNCTION pgtrade.position_differences(p_account text,
	p_positions jsonb)
RETURNS TABLE (drift_key bigint, instrument_id bigint, conid bigint,
	symbol text, pgtrade_quantity numeric, broker_quantity numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH b AS (
		SELECT (e->>'conid')::bigint AS conid,
			   sum((e->>'position')::numeric) AS quantity,
			   max(e->>'symbol') AS symbol
		FROM jsonb_array_elements(p_positions) e
		GROUP BY 1),
	p AS (
		SELECT i.instrument_id, i.conid, i.symbol, p.quantity
		FROM pgtrade.position p
		JOIN pgtrade.instrument i USING (instrument_id)
		WHERE p.account_id = p_account AND p.quantity <> 0)
	SELECT coalesce(p.conid, b.conid, -p.instrument_id),
		   coalesce(p.instrument_id, i.instrument_id),
		   coalesce(p.conid, b.conid),
		   coalesce(p.symbol, i.symbol, b.symbol),
		   trim_scale(coalesce(p.quantity, 0)),
		   trim_scale(coalesce(b.quantity, 0))
	FROM p FULL JOIN b ON p.conid = b.conid
	LEFT JOIN pgtrade.instrument i ON i.conid = b.conid
	WHERE coalesce(p.quantity, 0) <> coalesce(b.quantity, 0)
	ORDER BY 1;
$$;
REVOKE ALL ON FUNCTION pgtrade.position_differences(text, jsonb)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_differences(text, jsonb) IS
	'Internal: contracts whose broker and pgtrade quantities differ for '
	'one account, joined by conid.';

/*
 * position_activity_since: true when an order of the account was
 * claimed, a fill of it recorded or an adjustment made after t, or when
 * an order of it is in flight now.  Such activity breaks the chain of
 * consecutive snapshots.
 */
CREATE FUNCTION pgtrade.position_activity_since(p_account text,
	p_since timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM pgtrade.orders o
				   WHERE o.account_id = p_account
					 AND (o.submitted_at > p_since
						  OR o.status IN ('submitting', 'working',
										  'cancel_requested', 'unknown')))
		OR EXISTS (SELECT 1 FROM pgtrade.fill f
				   WHERE f.account_id = p_account
					 AND f.recorded_at > p_since)
		OR EXISTS (SELECT 1 FROM pgtrade.position_adjustment a
				   WHERE a.account_id = p_account
					 AND a.created_at > p_since);
$$;
REVOKE ALL ON FUNCTION pgtrade.position_activity_since(text, timestamptz)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_activity_since(text, timestamptz) IS
	'Internal: true when an order of the account was claimed, a fill or '
	'adjustment recorded after the time, or an order is in flight now.';

/*
 * drift_close_agreed resolves, as agreed, an account's unresolved drift
 * in every contract whose key is not among the differences just found,
 * and returns those rows in record_positions' shape.
 */
CREATE FUNCTION pgtrade.drift_close_agreed(p_account text,
	p_listener bigint, p_keys bigint[], p_positions jsonb)
RETURNS TABLE (drift_id bigint, conid bigint, symbol text,
	pgtrade_quantity numeric, broker_quantity numeric, outcome text)
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pgtrade.position_drift d
	SET status = 'resolved', resolution = 'agreed',
		resolved_by = 'listener ' || p_listener, resolved_at = now()
	WHERE d.account_id = p_account AND d.status <> 'resolved'
		AND coalesce(d.conid, -d.instrument_id) <> ALL (p_keys)
	RETURNING d.drift_id, d.conid, d.symbol,
		(SELECT trim_scale(coalesce(max(p.quantity), 0))
		 FROM pgtrade.position p
		 WHERE p.account_id = p_account
			AND p.instrument_id = d.instrument_id),
		(SELECT trim_scale(coalesce(sum((e->>'position')::numeric), 0))
		 FROM jsonb_array_elements(p_positions) e
		 WHERE (e->>'conid')::bigint = d.conid),
		'agreed'::text;
$$;
REVOKE ALL ON FUNCTION pgtrade.drift_close_agreed(text, bigint, bigint[],
	jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.drift_close_agreed(text, bigint, bigint[],
	jsonb) IS
	'Internal: resolves as agreed the drift a comparison no longer shows.';

/*
 * position_check_save overwrites an account's latest comparison.
 * suspected is the array of differences awaiting confirmation, or NULL.
 */
CREATE FUNCTION pgtrade.position_check_save(p_account text,
	p_listener bigint, p_outcome text, p_suspected jsonb,
	p_positions jsonb)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO pgtrade.position_check AS c (account_id, listener_id,
		checked_at, outcome, suspected, suspected_since, broker_positions)
	VALUES (p_account, p_listener, clock_timestamp(), p_outcome,
		p_suspected, CASE WHEN p_suspected IS NOT NULL
						  THEN clock_timestamp() END,
		p_positions)
	ON CONFLICT ON CONSTRAINT position_check_pkey DO UPDATE
		SET listener_id = EXCLUDED.listener_id,
			checked_at = EXCLUDED.checked_at, outcome = EXCLUDED.outcome,
			suspected = EXCLUDED.suspected,
			suspected_since = EXCLUDED.suspected_since,
			broker_positions = EXCLUDED.broker_positions;
$$;
REVOKE ALL ON FUNCTION pgtrade.position_check_save(text, bigint, text,
	jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_check_save(text, bigint, text, jsonb,
	jsonb) IS
	'Internal: records an account''s latest position comparison.';

/*
 * record_positions is the listener's comparison of one account.  It
 * returns one row per difference or change:
 *	postponed		an order of the account is in flight: nothing compared
 *	suspected		seen for the first time (or changed): compare again
 *	drift			seen twice in a row: recorded as open drift
 *	open, acknowledged	the same difference as a recorded drift
 *	agreed			a recorded drift that this comparison no longer shows;
 *					it is resolved as agreed
 * No row at all means the positions agree.
 */
CREATE FUNCTION pgtrade.record_positions(listener_id bigint,
	account_id text, positions jsonb)
RETURNS TABLE (drift_id bigint, conid bigint, symbol text,
	pgtrade_quantity numeric, broker_quantity numeric, outcome text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_acct text := record_positions.account_id;
	v_lid bigint := record_positions.listener_id;
	v_prev pgtrade.position_check;
	v_chain boolean;
	v_d record;
	v_drift pgtrade.position_drift;
	v_suspected jsonb := '[]';
	v_on_record boolean := false;
	v_keys bigint[] := '{}';
BEGIN
	IF jsonb_typeof(positions) IS DISTINCT FROM 'array' THEN
		RAISE EXCEPTION 'broker positions must be a JSON array'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO pgtrade.account (account_id) VALUES (v_acct)
	ON CONFLICT DO NOTHING;
	SELECT * INTO v_prev FROM pgtrade.position_check c
	WHERE c.account_id = v_acct FOR UPDATE;
	IF EXISTS (SELECT 1 FROM pgtrade.orders o
			   WHERE o.account_id = v_acct
				 AND o.status IN ('submitting', 'working', 'cancel_requested',
								  'unknown')) THEN
		PERFORM pgtrade.position_check_save(v_acct, v_lid, 'postponed',
											NULL, NULL);
		RETURN QUERY SELECT NULL::bigint, NULL::bigint, NULL::text,
			NULL::numeric, NULL::numeric, 'postponed'::text;
		RETURN;
	END IF;
	v_chain := v_prev.outcome = 'suspected' AND v_prev.listener_id = v_lid
		AND NOT pgtrade.position_activity_since(v_acct, v_prev.checked_at);

	FOR v_d IN SELECT * FROM pgtrade.position_differences(v_acct, positions)
	LOOP
		v_keys := v_keys || v_d.drift_key;
		SELECT * INTO v_drift FROM pgtrade.position_drift d
		WHERE d.account_id = v_acct
			AND coalesce(d.conid, -d.instrument_id) = v_d.drift_key
			AND d.status <> 'resolved'
		FOR UPDATE;
		IF FOUND AND v_drift.difference =
			v_d.broker_quantity - v_d.pgtrade_quantity THEN
			/* the difference already recorded */
			UPDATE pgtrade.position_drift d SET last_seen = now()
			WHERE d.drift_id = v_drift.drift_id;
			v_on_record := true;
			RETURN QUERY SELECT v_drift.drift_id, v_d.conid, v_d.symbol,
				v_d.pgtrade_quantity, v_d.broker_quantity, v_drift.status;
		ELSIF v_chain AND EXISTS (
			SELECT 1 FROM jsonb_array_elements(v_prev.suspected) s
			WHERE (s->>'drift_key')::bigint = v_d.drift_key
				AND (s->>'pgtrade_quantity')::numeric = v_d.pgtrade_quantity
				AND (s->>'broker_quantity')::numeric = v_d.broker_quantity)
		THEN
			/* seen twice in a row with nothing in between: drift */
			UPDATE pgtrade.position_drift d
			SET status = 'resolved', resolution = 'superseded',
				resolved_by = 'listener ' || v_lid, resolved_at = now()
			WHERE d.drift_id = v_drift.drift_id;
			INSERT INTO pgtrade.position_drift AS d (account_id,
				instrument_id, conid, symbol, pgtrade_quantity,
				broker_quantity, first_seen, listener_id)
			VALUES (v_acct, v_d.instrument_id, v_d.conid, v_d.symbol,
				v_d.pgtrade_quantity, v_d.broker_quantity,
				v_prev.suspected_since, v_lid)
			RETURNING * INTO v_drift;
			v_on_record := true;
			RETURN QUERY SELECT v_drift.drift_id, v_d.conid, v_d.symbol,
				v_d.pgtrade_quantity, v_d.broker_quantity, 'drift'::text;
		ELSE
			v_suspected := v_suspected || jsonb_build_object(
				'drift_key', v_d.drift_key, 'conid', v_d.conid,
				'symbol', v_d.symbol,
				'pgtrade_quantity', v_d.pgtrade_quantity,
				'broker_quantity', v_d.broker_quantity);
			RETURN QUERY SELECT NULL::bigint, v_d.conid, v_d.symbol,
				v_d.pgtrade_quantity, v_d.broker_quantity, 'suspected'::text;
		END IF;
	END LOOP;

	RETURN QUERY SELECT * FROM pgtrade.drift_close_agreed(v_acct, v_lid,
		v_keys, positions);

	PERFORM pgtrade.position_check_save(v_acct, v_lid,
		CASE WHEN jsonb_array_length(v_suspected) > 0 THEN 'suspected'
			 WHEN v_on_record THEN 'drift' ELSE 'agreed' END,
		nullif(v_suspected, '[]'), positions);
END
$$;
COMMENT ON FUNCTION pgtrade.record_positions(bigint, text, jsonb) IS
	'Listener: compares an account''s broker positions with pgtrade''s; a '
	'difference seen in two consecutive comparisons becomes open drift.  '
	'Returns the differences with their outcome.';

/*
 * drift_blocked_accounts returns those of the given accounts that have
 * open drift: the listener claims no new orders for them.
 */
CREATE FUNCTION pgtrade.drift_blocked_accounts(accounts text[])
RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	/* PL/pgSQL: every claim asks, and the plan is kept */
	RETURN (
		SELECT coalesce(array_agg(DISTINCT d.account_id ORDER BY d.account_id),
						'{}')
		FROM pgtrade.position_drift d
		WHERE d.status = 'open' AND d.account_id = ANY ($1));
END
$$;
COMMENT ON FUNCTION pgtrade.drift_blocked_accounts(text[]) IS
	'The given accounts that have open position drift: the listener '
	'claims no new orders for them.';

/* drift_lock returns a drift row locked for an operator's decision. */
CREATE FUNCTION pgtrade.drift_lock(p_drift_id bigint, p_note text)
RETURNS pgtrade.position_drift
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_d pgtrade.position_drift;
BEGIN
	SELECT * INTO v_d FROM pgtrade.position_drift d
	WHERE d.drift_id = p_drift_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'position drift % does not exist', p_drift_id
			USING ERRCODE = 'no_data_found';
	END IF;
	IF v_d.status = 'resolved' THEN
		RAISE EXCEPTION 'position drift % is already resolved (%)',
			p_drift_id, v_d.resolution
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF coalesce(btrim(p_note), '') = '' THEN
		RAISE EXCEPTION 'settling position drift needs a note saying what the broker shows'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN v_d;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.drift_lock(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.drift_lock(bigint, text) IS
	'Internal: locks an unresolved drift row and checks the operator''s '
	'note.';

CREATE FUNCTION pgtrade.acknowledge_drift(drift_id bigint, note text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_d pgtrade.position_drift := pgtrade.drift_lock(
		acknowledge_drift.drift_id, acknowledge_drift.note);
BEGIN
	IF v_d.status = 'acknowledged' THEN
		RAISE EXCEPTION 'position drift % is already acknowledged', v_d.drift_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE pgtrade.position_drift d
	SET status = 'acknowledged', acknowledged_by = session_user,
		acknowledged_at = now(), note = acknowledge_drift.note
	WHERE d.drift_id = v_d.drift_id;
	/* the account's pending orders may go now */
	PERFORM pg_notify('pgtrade_order', '');
END
$$;
COMMENT ON FUNCTION pgtrade.acknowledge_drift(bigint, text) IS
	'Operator: accepts an open drift with a note; trading goes on with the '
	'difference noted until a comparison agrees or the drift is resolved.';

CREATE FUNCTION pgtrade.resolve_drift(drift_id bigint, note text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_d pgtrade.position_drift := pgtrade.drift_lock(
		resolve_drift.drift_id, resolve_drift.note);
	v_instrument bigint := v_d.instrument_id;
	v_id bigint;
BEGIN
	IF v_instrument IS NULL THEN
		SELECT i.instrument_id INTO v_instrument FROM pgtrade.instrument i
		WHERE i.conid = v_d.conid;
	END IF;
	IF v_instrument IS NULL THEN
		RAISE EXCEPTION 'position drift % is in conid %, which pgtrade does not know',
			v_d.drift_id, v_d.conid
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Register it with pgtrade.add_instrument() first, or acknowledge the drift.';
	END IF;
	INSERT INTO pgtrade.position_adjustment (account_id, instrument_id,
		quantity, drift_id, reason)
	VALUES (v_d.account_id, v_instrument, v_d.difference, v_d.drift_id,
		resolve_drift.note)
	RETURNING adjustment_id INTO v_id;
	UPDATE pgtrade.position_drift d
	SET status = 'resolved', resolution = 'adjusted',
		resolved_by = session_user, resolved_at = now(),
		note = resolve_drift.note
	WHERE d.drift_id = v_d.drift_id;
	PERFORM pg_notify('pgtrade_order', '');
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.resolve_drift(bigint, text) IS
	'Operator: resolves open or acknowledged drift by an audited position '
	'adjustment of its difference, so pgtrade''s position becomes the '
	'broker''s; returns the adjustment id.';

CREATE VIEW pgtrade.open_drift AS
	SELECT d.drift_id, d.account_id, d.symbol, d.conid,
		   d.pgtrade_quantity, d.broker_quantity, d.difference, d.status,
		   d.status = 'open' AS blocks_orders, d.first_seen, d.confirmed_at,
		   d.last_seen, d.acknowledged_by, d.note
	FROM pgtrade.position_drift d
	WHERE d.status <> 'resolved'
		AND d.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.open_drift IS
	'Unresolved position drift: open (new orders of the account are held '
	'back) or acknowledged (trading goes on with the difference noted).';
COMMENT ON COLUMN pgtrade.open_drift.drift_id IS
	'Identifies the drift (position_drift.drift_id); pass it to '
	'acknowledge_drift or resolve_drift.';
COMMENT ON COLUMN pgtrade.open_drift.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.open_drift.symbol IS
	'The contract''s symbol as the broker reported it.';
COMMENT ON COLUMN pgtrade.open_drift.conid IS 'The broker''s contract id.';
COMMENT ON COLUMN pgtrade.open_drift.pgtrade_quantity IS
	'pgtrade''s position when the drift was confirmed.';
COMMENT ON COLUMN pgtrade.open_drift.broker_quantity IS
	'The broker''s position when the drift was confirmed.';
COMMENT ON COLUMN pgtrade.open_drift.difference IS
	'broker_quantity - pgtrade_quantity: what resolve_drift adds to '
	'pgtrade''s position.';
COMMENT ON COLUMN pgtrade.open_drift.status IS
	'open (new orders of the account are held back) or acknowledged '
	'(trading goes on with the difference noted).';
COMMENT ON COLUMN pgtrade.open_drift.blocks_orders IS
	'True while the drift is open: the risk gate refuses the account''s '
	'new orders.';
COMMENT ON COLUMN pgtrade.open_drift.first_seen IS
	'When the first of the two comparisons that confirmed it was made.';
COMMENT ON COLUMN pgtrade.open_drift.confirmed_at IS
	'When the second comparison confirmed it.';
COMMENT ON COLUMN pgtrade.open_drift.last_seen IS
	'When a comparison last showed it.';
COMMENT ON COLUMN pgtrade.open_drift.acknowledged_by IS
	'The role that acknowledged it, or NULL.';
COMMENT ON COLUMN pgtrade.open_drift.note IS
	'The operator''s note given with acknowledge_drift or '
	'resolve_drift.';

GRANT EXECUTE ON FUNCTION
	pgtrade.acknowledge_drift(bigint, text),
	pgtrade.resolve_drift(bigint, text)
	TO pgtrade_admin;
/* analysts and the health view see which accounts drift holds back */
GRANT EXECUTE ON FUNCTION pgtrade.drift_blocked_accounts(text[])
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin, pgtrade_listener;
/* the listener compares through its function, never by table */
GRANT EXECUTE ON FUNCTION pgtrade.record_positions(bigint, text, jsonb)
	TO pgtrade_listener;

COMMENT ON TABLE pgtrade.position IS
	'Positions per account and instrument, always the sum of the fills '
	'plus the audited adjustments: changed only when a fill or an '
	'adjustment row is really inserted.';
/*
 * 74_marketdata.sql: bars fetched by the listener from the gateway's
 * history endpoint.
 *
 * The listener asks bars_to_refresh which instruments to fetch (those
 * with an active strategy on an account it serves), sends
 * GET /iserver/marketdata/history with the bar and period given here,
 * and hands the answer's data array to record_bars.  record_bars checks
 * the whole batch before it writes a row, as import_bars does, so a bad
 * answer is refused with the offending bar and nothing half-written.
 * Bars that have not ended yet (the current, still-forming bar) are
 * left out: a stored bar is a finished observation.
 */

/*
 * history_bar maps a bar size to the gateway's bar argument: 1d, Nmin
 * or Nh.  NULL for sizes the gateway does not serve.
 */
CREATE FUNCTION pgtrade.history_bar(bar_size interval)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE
		WHEN $1 = interval '1 day' THEN '1d'
		WHEN extract(epoch FROM $1) / 60 IN (1, 2, 3, 5, 10, 15, 30)
			THEN (extract(epoch FROM $1) / 60)::integer || 'min'
		WHEN extract(epoch FROM $1) / 3600 IN (1, 2, 3, 4, 8)
			THEN (extract(epoch FROM $1) / 3600)::integer || 'h'
		ELSE NULL END;
$$;
COMMENT ON FUNCTION pgtrade.history_bar(interval) IS
	'The gateway''s history bar argument for a bar size (1 day -> 1d, '
	'5 minutes -> 5min, 1 hour -> 1h), or NULL when it has none.';

/*
 * history_period returns the shortest history period that covers the
 * bars started since newest_ts (plus that bar itself, which may have
 * changed), at most max_bars bars of bar_size: Nmin up to 30 minutes,
 * Nh up to 8 hours, else Nd.  Without a stored bar it asks for max_bars
 * bars.  Periods count calendar time, so they cover at least the bars
 * wanted; the gateway never answers more than 1000 bars.
 */
CREATE FUNCTION pgtrade.history_period(bar_size interval,
	newest_ts timestamptz, now timestamptz, max_bars integer DEFAULT 1000)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_bar_s numeric := extract(epoch FROM bar_size);
	v_n integer;
	v_min numeric;
BEGIN
	IF bar_size IS NULL OR now IS NULL OR NOT v_bar_s > 0 THEN
		RETURN NULL;
	END IF;
	v_n := least(coalesce(max_bars, 1000), 1000);
	IF newest_ts IS NOT NULL THEN
		v_n := least(v_n, greatest(0, ceil(extract(epoch FROM now - newest_ts)
										   / v_bar_s))::integer + 1);
	END IF;
	v_n := greatest(v_n, 1);
	IF bar_size >= interval '1 day' THEN
		RETURN v_n || 'd';
	END IF;
	v_min := v_n * v_bar_s / 60;
	IF v_min <= 30 THEN
		RETURN ceil(v_min)::integer || 'min';
	ELSIF v_min <= 480 THEN
		RETURN ceil(v_min / 60)::integer || 'h';
	END IF;
	RETURN least(ceil(v_min / 1440), 1000)::integer || 'd';
END
$$;
COMMENT ON FUNCTION pgtrade.history_period(interval, timestamptz,
	timestamptz, integer) IS
	'The gateway''s history period covering the bars since newest_ts '
	'(all max_bars when NULL), at most max_bars (1000) bars: Nmin, Nh or '
	'Nd.';

CREATE FUNCTION pgtrade.bars_to_refresh(accounts text[],
	max_bars integer DEFAULT 1000)
RETURNS TABLE (instrument_id bigint, symbol text, conid bigint,
	bar_size interval, bar text, period text, newest_ts timestamptz,
	skip_reason text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT w.instrument_id, w.symbol, w.conid, w.bar_size,
		   pgtrade.history_bar(w.bar_size),
		   pgtrade.history_period(w.bar_size, n.newest_ts, now(), $2),
		   n.newest_ts,
		   CASE WHEN w.conid IS NULL
				THEN format('instrument %s has no conid; register it with '
							'pgtrade.add_instrument', w.symbol)
				WHEN pgtrade.history_bar(w.bar_size) IS NULL
				THEN format('the gateway serves no %s bars', w.bar_size)
		   END
	FROM (SELECT DISTINCT s.instrument_id, i.symbol, i.conid, s.bar_size
		  FROM pgtrade.strategy s
		  JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
		  WHERE s.active AND s.account_id = ANY ($1)) w
	CROSS JOIN LATERAL (
		SELECT max(b.ts) AS newest_ts FROM pgtrade.bar b
		WHERE b.instrument_id = w.instrument_id
			AND b.bar_size = w.bar_size) n
	ORDER BY w.instrument_id, w.bar_size;
$$;
COMMENT ON FUNCTION pgtrade.bars_to_refresh(text[], integer) IS
	'Listener: the instruments and bar sizes of the active strategies of '
	'the given accounts, with the history bar and period to ask for, or '
	'the reason they cannot be fetched.';

/*
 * record_bars_stage parses a history answer's data array into the temp
 * table pgtrade_history (n, t, ts, open, high, low, close, volume),
 * raising on the first element that is not a bar.  Internal to
 * record_bars.
 */
CREATE FUNCTION pgtrade.record_bars_stage(p_bar_size interval,
	p_time_zone text, p_bars jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_bad record;
BEGIN
	IF p_bars IS NULL OR jsonb_typeof(p_bars) <> 'array' THEN
		RAISE EXCEPTION 'bars must be a JSON array, not %',
			coalesce(jsonb_typeof(p_bars), 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT e.n, e.bar INTO v_bad
	FROM jsonb_array_elements(p_bars) WITH ORDINALITY e(bar, n)
	WHERE CASE WHEN jsonb_typeof(e.bar) IS DISTINCT FROM 'object'
				 OR jsonb_typeof(e.bar->'t') IS DISTINCT FROM 'number'
			   THEN true
			   /* casts only once the types are known to be numbers */
			   WHEN (e.bar->>'t')::numeric <> trunc((e.bar->>'t')::numeric)
				 OR abs((e.bar->>'t')::numeric) > 1e15
			   THEN true
			   ELSE EXISTS (
				   SELECT 1 FROM unnest(ARRAY['o', 'h', 'l', 'c', 'v']) k
				   WHERE CASE WHEN jsonb_typeof(e.bar->k)
								   IS DISTINCT FROM 'number' THEN true
							  ELSE abs((e.bar->>k)::numeric) >= 1e300 END)
		  END
	ORDER BY e.n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % is not a bar with t (epoch ms) and finite numbers o, h, l, c, v',
			v_bad.n
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('Bar %s: %s.', v_bad.n,
											 left(v_bad.bar::text, 200));
	END IF;

	CREATE TEMP TABLE pgtrade_history ON COMMIT DROP AS
	SELECT e.n, (e.bar->>'t')::bigint AS t,
		   CASE WHEN p_bar_size >= interval '1 day'
				/* the session date: t rounded to the nearest midnight
				   in the exchange zone, whether t is midnight UTC,
				   midnight there or the session's open */
				THEN ((to_timestamp((e.bar->>'t')::bigint / 1000.0)
					   AT TIME ZONE p_time_zone + interval '12 hours')::date
					  )::timestamp AT TIME ZONE p_time_zone
				ELSE to_timestamp((e.bar->>'t')::bigint / 1000.0) END AS ts,
		   (e.bar->>'o')::float8 AS open, (e.bar->>'h')::float8 AS high,
		   (e.bar->>'l')::float8 AS low, (e.bar->>'c')::float8 AS close,
		   (e.bar->>'v')::float8 AS volume
	FROM jsonb_array_elements(p_bars) WITH ORDINALITY e(bar, n);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.record_bars_stage(interval, text, jsonb)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.record_bars_stage(interval, text, jsonb) IS
	'Internal to record_bars: stages a history data array as rows.';

/*
 * record_bars_check raises on the first staged bar import_bars would
 * refuse: not on a whole minute, starting in the future, a price not
 * positive, high below low, a negative volume, or time not increasing.
 * Internal to record_bars.
 */
CREATE FUNCTION pgtrade.record_bars_check(p_symbol text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_bad record;
BEGIN
	SELECT * INTO v_bad FROM pgtrade_history
	WHERE t % 60000 <> 0 ORDER BY n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % of % does not start on a whole minute (t = %)',
			v_bad.n, p_symbol, v_bad.t
			USING ERRCODE = 'invalid_datetime_format';
	END IF;
	SELECT * INTO v_bad FROM pgtrade_history
	WHERE ts > now() ORDER BY n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % of % starts in the future (%)', v_bad.n,
			p_symbol, v_bad.ts
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v_bad FROM pgtrade_history
	WHERE NOT (open > 0 AND high > 0 AND low > 0 AND close > 0)
	ORDER BY n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % of % has a price that is not positive',
			v_bad.n, p_symbol
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('open %s, high %s, low %s, close %s.',
					v_bad.open, v_bad.high, v_bad.low, v_bad.close);
	END IF;
	SELECT * INTO v_bad FROM pgtrade_history
	WHERE high < low ORDER BY n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % of % has high below low', v_bad.n, p_symbol
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('%s: high %s, low %s.',
					v_bad.ts, v_bad.high, v_bad.low);
	END IF;
	SELECT * INTO v_bad FROM pgtrade_history
	WHERE volume < 0 ORDER BY n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar % of % has a negative volume', v_bad.n, p_symbol
			USING ERRCODE = 'check_violation',
				  DETAIL = pg_catalog.format('%s: volume %s.', v_bad.ts,
											 v_bad.volume);
	END IF;
	SELECT cur.n, cur.ts, cur.prev_n, cur.prev_ts INTO v_bad
	FROM (SELECT n, ts, lag(n) OVER w AS prev_n, lag(ts) OVER w AS prev_ts
		  FROM pgtrade_history WINDOW w AS (ORDER BY n)) cur
	WHERE cur.ts <= cur.prev_ts ORDER BY cur.n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bars of % are not in increasing time order', p_symbol
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format(
					'Bar %s (%s) does not come after bar %s (%s).',
					v_bad.n, v_bad.ts, v_bad.prev_n, v_bad.prev_ts);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.record_bars_check(text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.record_bars_check(text) IS
	'Internal to record_bars: raises on the first staged bar that '
	'import_bars would refuse.';

CREATE FUNCTION pgtrade.record_bars(instrument_id bigint,
	bar_size interval, bars jsonb)
RETURNS TABLE (inserted integer, updated integer, unchanged integer,
	forming integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_i pgtrade.instrument;
	v_total integer;
BEGIN
	SELECT * INTO v_i FROM pgtrade.instrument i
	WHERE i.instrument_id = record_bars.instrument_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'instrument % does not exist',
			coalesce(record_bars.instrument_id::text, 'NULL')
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	IF NOT pgtrade.bar_size_supported(record_bars.bar_size) THEN
		RAISE EXCEPTION 'bar size % is not supported',
			coalesce(record_bars.bar_size::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Bars are daily (1 day) or a whole number of minutes under a day.';
	END IF;
	PERFORM pgtrade.record_bars_stage(record_bars.bar_size, v_i.time_zone,
									  record_bars.bars);
	PERFORM pgtrade.record_bars_check(v_i.symbol);
	SELECT count(*) INTO v_total FROM pgtrade_history;

	/* the bar still forming has not ended: it is not an observation yet */
	DELETE FROM pgtrade_history h
	WHERE pgtrade.bar_end(h.ts, record_bars.bar_size, v_i.time_zone,
						  v_i.session_close) > now();
	GET DIAGNOSTICS forming = ROW_COUNT;

	/*
	 * Which bars were new is told by the rows stored before the upsert (in
	 * its snapshot), not by xmax: a partitioned bar table cannot return
	 * system columns.
	 */
	WITH stored AS (
		SELECT b.ts FROM pgtrade.bar b JOIN pgtrade_history h USING (ts)
		WHERE b.instrument_id = v_i.instrument_id
			AND b.bar_size = record_bars.bar_size),
	up AS (
		INSERT INTO pgtrade.bar AS b
			(instrument_id, bar_size, ts, open, high, low, close, volume)
		SELECT v_i.instrument_id, record_bars.bar_size, h.ts, h.open,
			   h.high, h.low, h.close, h.volume
		FROM pgtrade_history h ORDER BY h.ts
		ON CONFLICT (instrument_id, bar_size, ts) DO UPDATE
			SET open = EXCLUDED.open, high = EXCLUDED.high,
				low = EXCLUDED.low, close = EXCLUDED.close,
				volume = EXCLUDED.volume
			WHERE (b.open, b.high, b.low, b.close, b.volume)
				IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high,
								  EXCLUDED.low, EXCLUDED.close,
								  EXCLUDED.volume)
		RETURNING b.ts)
	SELECT count(*) FILTER (WHERE s.ts IS NULL),
		   count(*) FILTER (WHERE s.ts IS NOT NULL)
	INTO inserted, updated FROM up LEFT JOIN stored s USING (ts);
	unchanged := v_total - forming - inserted - updated;
	DROP TABLE pgtrade_history;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION pgtrade.record_bars(bigint, interval, jsonb) IS
	'Listener: validates a history answer''s bars ([{t, o, h, l, c, v}], '
	't in epoch ms) like import_bars and upserts those that have ended; '
	'returns how many were inserted, updated, unchanged, and left out as '
	'still forming.  All or nothing.';

GRANT EXECUTE ON FUNCTION
	pgtrade.bars_to_refresh(text[], integer),
	pgtrade.record_bars(bigint, interval, jsonb)
	TO pgtrade_listener;
/* admins may load a history answer by hand */
GRANT EXECUTE ON FUNCTION pgtrade.record_bars(bigint, interval, jsonb)
	TO pgtrade_admin;
/*
 * 75_resend.sql: sending a submitting order again with the same cOID.
 *
 * A listener that claimed an order may die before the POST, while it is
 * in flight, or before the answer is recorded.  The order then stays
 * submitting.  The listener that reconciles it (the same process or a
 * later one) asks the broker by cOID first; when the broker has
 * nothing, the order may be sent again with the SAME cOID, which the
 * broker refuses as a duplicate if the first POST did land after all.
 * claim_resend is the gate for that second send, and it is durable:
 * every resend counts in orders.attempts and writes an order_event
 * before anything leaves, so a listener that keeps crashing cannot send
 * an order without bound.  It refuses once the attempts are used up,
 * the broker's 24-hour cOID window may have closed, the order is past
 * valid_until, or a kill switch or halt covers it; the listener then
 * marks the order unknown.
 */

CREATE FUNCTION pgtrade.claim_resend(listener_id bigint,
	resend_order_id bigint, max_attempts integer)
RETURNS TABLE (order_id bigint, client_order_id text, account_id text,
	conid bigint, symbol text, side text, quantity numeric,
	order_type text, limit_price numeric, stop_price numeric, tif text,
	outside_rth boolean, attempts integer, refused text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(claim_resend.resend_order_id);
	v_why text;
BEGIN
	IF v_o.status <> 'submitting' THEN
		RAISE EXCEPTION 'cannot send order % again: it is %', v_o.order_id,
			v_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	/* the first POST came after the claim: submitted_at is on the safe
	   side of the broker's cOID window, with an hour to spare */
	IF v_o.attempts >= claim_resend.max_attempts THEN
		v_why := format('%s attempts used', v_o.attempts);
	ELSIF v_o.submitted_at < clock_timestamp() - interval '23 hours' THEN
		v_why := format('first sent at %s, near the end of the broker''s '
						'24-hour cOID window', v_o.submitted_at);
	ELSIF v_o.valid_until < clock_timestamp() THEN
		v_why := format('valid until %s', v_o.valid_until);
	ELSE
		v_why := pgtrade.kill_switch_reason(v_o.account_id, v_o.strategy_id);
	END IF;
	IF v_why IS NOT NULL THEN
		RETURN QUERY SELECT v_o.order_id, v_o.client_order_id,
			v_o.account_id, NULL::bigint, NULL::text, v_o.side, v_o.quantity,
			v_o.order_type, v_o.limit_price, v_o.stop_price, v_o.tif,
			v_o.outside_rth, v_o.attempts, 'not sent again: ' || v_why;
		RETURN;
	END IF;

	UPDATE pgtrade.orders o
	SET attempts = o.attempts + 1, claimed_by = claim_resend.listener_id
	WHERE o.order_id = v_o.order_id;
	PERFORM pgtrade.order_note(v_o.order_id, 'submitting',
		'listener ' || claim_resend.listener_id,
		format('not found at the broker; sending again with the same cOID '
			   '%s (attempt %s)', v_o.client_order_id, v_o.attempts + 1));

	RETURN QUERY
		SELECT o.order_id, o.client_order_id, o.account_id, i.conid,
			   i.symbol, o.side, o.quantity, o.order_type, o.limit_price,
			   o.stop_price, o.tif, o.outside_rth, o.attempts, NULL::text
		FROM pgtrade.orders o
		JOIN pgtrade.instrument i USING (instrument_id)
		WHERE o.order_id = v_o.order_id;
END
$$;
COMMENT ON FUNCTION pgtrade.claim_resend(bigint, bigint, integer) IS
	'Listener: before sending a submitting order again with the same cOID, '
	'counts the attempt and records it, and returns the order''s terms; '
	'returns only a reason in refused when attempts reach max_attempts, '
	'the cOID window may have closed, the order is past valid_until or a '
	'kill switch covers it.';

/* only the listener sends orders */
GRANT EXECUTE ON FUNCTION pgtrade.claim_resend(bigint, bigint, integer)
	TO pgtrade_listener;
/*
 * 76_paper.sql: paper trading, orders filled from stored bars by a
 * listener started with --paper instead of being sent to a broker.
 *
 * A paper listener claims orders with claim_order like a live one (same
 * leases, kill switch and valid_until checks), then calls paper_accept,
 * which records the acknowledgement through record_submission with the
 * broker order id 'PAPER-<cOID>'; paper_step fills a working paper order
 * from the instrument's latest ended bar through record_fill, with the
 * execution id 'PAPER-<cOID>-1', or leaves it working, or cancels it
 * (IOC left unfilled, DAY past its session close) through record_status.
 * Everything a paper listener writes carries "paper": true in its event
 * or fill payload, and its ids start with PAPER-, so positions,
 * performance and the views work unchanged and paper rows can be told
 * apart.
 *
 * Each function does its whole step in one transaction under the
 * order's row lock, so a fill and the order's move are never apart.
 */

/*
 * paper_price returns the price of a paper fill: the reference moved by
 * slippage_bps against the trader, then rounded to the tick against the
 * trader too (buys up, sells down).
 */
CREATE FUNCTION pgtrade.paper_price(side text, reference numeric,
	slippage_bps numeric, tick_size numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE $1
		WHEN 'buy' THEN ceil($2 * (1 + $3 / 10000) / $4) * $4
		WHEN 'sell' THEN floor($2 * (1 - $3 / 10000) / $4) * $4
		END;
$$;
COMMENT ON FUNCTION pgtrade.paper_price(text, numeric, numeric, numeric) IS
	'Paper fill price: buys pay reference x (1 + bps/10000) rounded up to '
	'the tick, sells get reference x (1 - bps/10000) rounded down.';

/*
 * paper_latest_bar returns the instrument's bar that ended last (of any
 * bar size; the shorter size on a tie), or NULL.
 */
CREATE FUNCTION pgtrade.paper_latest_bar(p_instrument pgtrade.instrument)
RETURNS pgtrade.bar
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT x.b
	FROM (SELECT DISTINCT s.bar_size FROM pgtrade.bar s
		  WHERE s.instrument_id = $1.instrument_id) z
	CROSS JOIN LATERAL (
		SELECT b, pgtrade.bar_end(b.ts, b.bar_size, $1.time_zone,
								  $1.session_close) AS ended
		FROM pgtrade.bar b
		WHERE b.instrument_id = $1.instrument_id AND b.bar_size = z.bar_size
			AND pgtrade.bar_end(b.ts, b.bar_size, $1.time_zone,
								$1.session_close) <= now()
		ORDER BY b.ts DESC LIMIT 1) x
	ORDER BY x.ended DESC, z.bar_size LIMIT 1;
$$;
REVOKE ALL ON FUNCTION pgtrade.paper_latest_bar(pgtrade.instrument)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.paper_latest_bar(pgtrade.instrument) IS
	'Internal to paper_step: the instrument''s bar that ended last.';

/*
 * paper_day_close returns when a DAY order submitted at submitted_at
 * expires: the first session close after it in the exchange zone.
 * Weekends and holidays are not skipped.
 */
CREATE FUNCTION pgtrade.paper_day_close(submitted_at timestamptz,
	time_zone text, session_close time)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE WHEN c > $1 THEN c
				ELSE ((($1 AT TIME ZONE $2)::date + 1) + $3) AT TIME ZONE $2
		   END
	FROM (SELECT ((($1 AT TIME ZONE $2)::date) + $3) AT TIME ZONE $2 AS c) d;
$$;
COMMENT ON FUNCTION pgtrade.paper_day_close(timestamptz, text, time) IS
	'When a paper DAY order expires: the first session close after its '
	'submission, in the exchange zone (weekends and holidays not '
	'skipped).';

CREATE FUNCTION pgtrade.paper_accept(order_id bigint, listener_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(paper_accept.order_id);
BEGIN
	IF v_o.status <> 'submitting' THEN
		RETURN v_o.status;
	END IF;
	IF v_o.claimed_by IS DISTINCT FROM paper_accept.listener_id THEN
		/* another process claimed it and may have sent it anywhere */
		PERFORM pgtrade.record_unknown(v_o.order_id, pg_catalog.format(
			'claimed by listener %s, which never recorded an answer; a paper '
			'listener cannot ask a broker', v_o.claimed_by));
		RETURN 'unknown';
	END IF;
	RETURN pgtrade.record_submission(v_o.order_id,
		'PAPER-' || v_o.client_order_id, 'Submitted',
		jsonb_build_object('paper', true,
						   'listener_id', paper_accept.listener_id));
END
$$;
COMMENT ON FUNCTION pgtrade.paper_accept(bigint, bigint) IS
	'Paper listener: acknowledges an order it claimed as paper order '
	'PAPER-<cOID> (working); an order claimed by another listener process '
	'becomes unknown instead.';

/*
 * paper_fill_price decides the fill price of a working paper order on
 * one bar, or NULL when the order does not fill on it.  A stop is
 * elected by a bar whose high (buy) or low (sell) reaches the stop, or
 * was elected earlier (p_elected); an elected stop fills from the worse
 * of close and stop.  Limits fill when the price is at or better than
 * the limit.
 */
CREATE FUNCTION pgtrade.paper_fill_price(p_o pgtrade.orders,
	p_bar pgtrade.bar, p_elected boolean, p_slippage_bps numeric,
	p_tick numeric)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_close numeric := p_bar.close::numeric;
	v_ref numeric := v_close;
	v_price numeric;
BEGIN
	IF p_o.order_type IN ('stop', 'stop_limit') THEN
		IF NOT (p_elected
				OR (p_o.side = 'buy' AND p_bar.high >= p_o.stop_price)
				OR (p_o.side = 'sell' AND p_bar.low <= p_o.stop_price)) THEN
			RETURN NULL;
		END IF;
		v_ref := CASE p_o.side WHEN 'buy' THEN greatest(v_close, p_o.stop_price)
							   ELSE least(v_close, p_o.stop_price) END;
	END IF;
	v_price := pgtrade.paper_price(p_o.side, v_ref, p_slippage_bps, p_tick);
	IF v_price <= 0 THEN
		RETURN NULL;
	END IF;
	IF p_o.order_type IN ('limit', 'stop_limit')
		AND ((p_o.side = 'buy' AND v_price > p_o.limit_price)
			 OR (p_o.side = 'sell' AND v_price < p_o.limit_price)) THEN
		RETURN NULL;
	END IF;
	RETURN v_price;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.paper_fill_price(pgtrade.orders, pgtrade.bar,
	boolean, numeric, numeric) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.paper_fill_price(pgtrade.orders, pgtrade.bar,
	boolean, numeric, numeric) IS
	'Internal to paper_step: the price a paper order fills at on a bar, '
	'or NULL when it does not fill.';

/*
 * paper_end ends a working paper order without a fill (IOC left
 * unfilled, DAY past its close) as the broker would: status Cancelled.
 */
CREATE FUNCTION pgtrade.paper_end(p_o pgtrade.orders, p_why text,
	p_payload jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pgtrade.order_note(p_o.order_id, p_o.status, 'paper',
		'paper: ' || p_why, p_payload);
	RETURN pgtrade.record_status(p_o.order_id, 'Cancelled',
		p_o.filled_quantity, NULL, p_payload);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.paper_end(pgtrade.orders, text, jsonb)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.paper_end(pgtrade.orders, text, jsonb) IS
	'Internal to paper_step: cancels a paper order that cannot fill any '
	'more, with the reason.';

CREATE FUNCTION pgtrade.paper_step(order_id bigint, slippage_bps numeric,
	max_bar_age interval DEFAULT NULL)
RETURNS TABLE (outcome text, status text, price numeric,
	bar_ts timestamptz, detail text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(paper_step.order_id);
	v_i pgtrade.instrument;
	v_bar pgtrade.bar;
	v_ended timestamptz;
	v_age interval;
	v_elected boolean;
	v_payload jsonb;
BEGIN
	IF v_o.status <> 'working' OR v_o.broker_order_id IS NULL
		OR v_o.broker_order_id <> 'PAPER-' || v_o.client_order_id THEN
		RETURN QUERY SELECT 'ignored', v_o.status, NULL::numeric,
			NULL::timestamptz, 'not a working paper order'::text;
		RETURN;
	END IF;
	IF slippage_bps IS NULL OR slippage_bps < 0 THEN
		RAISE EXCEPTION 'slippage must be zero or more basis points'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v_i FROM pgtrade.instrument i
	WHERE i.instrument_id = v_o.instrument_id;
	v_bar := pgtrade.paper_latest_bar(v_i);
	v_ended := pgtrade.bar_end(v_bar.ts, v_bar.bar_size, v_i.time_zone,
							   v_i.session_close);
	v_payload := jsonb_build_object('paper', true, 'bar_ts', v_bar.ts,
		'bar_size', v_bar.bar_size, 'close', v_bar.close,
		'slippage_bps', slippage_bps, 'tick_size', v_i.tick_size);

	IF v_o.tif = 'day' AND now() >= pgtrade.paper_day_close(
			v_o.submitted_at, v_i.time_zone, v_i.session_close) THEN
		RETURN QUERY SELECT 'cancelled', pgtrade.paper_end(v_o,
			'DAY order expired at the session close', v_payload),
			NULL::numeric, v_bar.ts, 'DAY order expired at the session close';
		RETURN;
	END IF;

	/* the strategy's staleness rule, as run_strategy applies it */
	SELECT coalesce(paper_step.max_bar_age, s.max_bar_age,
		CASE WHEN v_bar.bar_size >= interval '1 day' THEN interval '5 days'
			 ELSE greatest(interval '15 minutes', 3 * v_bar.bar_size) END)
	INTO v_age
	FROM (SELECT NULL) one
	LEFT JOIN pgtrade.strategy s ON s.strategy_id = v_o.strategy_id;
	IF v_ended IS NULL OR v_ended < now() - v_age THEN
		detail := CASE WHEN v_ended IS NULL
			THEN pg_catalog.format('no ended bar of %s', v_i.symbol)
			ELSE pg_catalog.format('the last bar of %s ended %s, longer than %s ago',
								   v_i.symbol, v_ended, v_age) END;
		IF v_o.tif = 'ioc' THEN
			RETURN QUERY SELECT 'cancelled', pgtrade.paper_end(v_o,
				'IOC order not filled: ' || detail, v_payload),
				NULL::numeric, v_bar.ts, detail;
		ELSE
			RETURN QUERY SELECT 'stale', v_o.status, NULL::numeric,
				v_bar.ts, detail;
		END IF;
		RETURN;
	END IF;

	v_elected := EXISTS (SELECT 1 FROM pgtrade.order_event e
		WHERE e.order_id = v_o.order_id AND e.source = 'paper'
			AND e.detail LIKE 'paper: stop elected%');
	price := pgtrade.paper_fill_price(v_o, v_bar, v_elected, slippage_bps,
									  v_i.tick_size);
	IF NOT v_elected AND v_o.order_type IN ('stop', 'stop_limit')
		AND (price IS NOT NULL OR (v_o.side = 'buy' AND v_bar.high >= v_o.stop_price)
			 OR (v_o.side = 'sell' AND v_bar.low <= v_o.stop_price)) THEN
		PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'paper',
			pg_catalog.format('paper: stop elected by the %s bar of %s (high %s, low %s)',
							  v_bar.bar_size, v_bar.ts, v_bar.high, v_bar.low),
			v_payload);
	END IF;
	IF price IS NULL THEN
		IF v_o.tif = 'ioc' THEN
			RETURN QUERY SELECT 'cancelled', pgtrade.paper_end(v_o,
				'IOC order not filled on the last bar', v_payload),
				NULL::numeric, v_bar.ts, 'IOC order not filled on the last bar';
		ELSE
			RETURN QUERY SELECT 'working', v_o.status, NULL::numeric,
				v_bar.ts, pg_catalog.format('not fillable on the bar of %s (close %s)',
											v_bar.ts, v_bar.close);
		END IF;
		RETURN;
	END IF;

	PERFORM pgtrade.record_fill('PAPER-' || v_o.client_order_id || '-1',
		v_o.client_order_id, v_o.account_id, v_i.conid, v_o.side,
		v_o.quantity - v_o.filled_quantity, price, now(), NULL,
		v_payload || jsonb_build_object('symbol', v_i.symbol));
	RETURN QUERY SELECT 'filled',
		(SELECT o.status FROM pgtrade.orders o WHERE o.order_id = v_o.order_id),
		price, v_bar.ts,
		pg_catalog.format('%s %s at %s from the close %s of the %s bar of %s',
						  v_o.side, v_o.quantity - v_o.filled_quantity, price,
						  v_bar.close, v_bar.bar_size, v_bar.ts);
END
$$;
COMMENT ON FUNCTION pgtrade.paper_step(bigint, numeric, interval) IS
	'Paper listener: fills a working paper order from the latest ended '
	'bar (close with slippage, rounded to the tick against the trader), '
	'or leaves it working (limit not reached, stop not elected, bar too '
	'old), or cancels it (IOC not filled, DAY past its close).';

CREATE FUNCTION pgtrade.paper_cancel(order_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(paper_cancel.order_id);
	v_payload jsonb := jsonb_build_object('paper', true);
BEGIN
	IF v_o.broker_order_id IS DISTINCT FROM 'PAPER-' || v_o.client_order_id THEN
		RAISE EXCEPTION 'order % is not a paper order', v_o.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Its broker order id is %s.',
					coalesce(v_o.broker_order_id, 'not known'));
	END IF;
	IF v_o.status <> 'cancel_requested' THEN
		RETURN v_o.status;
	END IF;
	PERFORM pgtrade.record_cancel_sent(v_o.order_id, v_payload);
	RETURN pgtrade.record_status(v_o.order_id, 'Cancelled',
		v_o.filled_quantity, NULL, v_payload);
END
$$;
COMMENT ON FUNCTION pgtrade.paper_cancel(bigint) IS
	'Paper listener: carries out the cancel of a paper order in '
	'cancel_requested (it becomes cancelled).';

GRANT EXECUTE ON FUNCTION
	pgtrade.paper_accept(bigint, bigint),
	pgtrade.paper_step(bigint, numeric, interval),
	pgtrade.paper_cancel(bigint)
	TO pgtrade_listener;
/*
 * 80_strategy.sql: strategies, runs, decisions and scheduling.
 *
 * A run loads the bars that had ended by its as_of time (no look-ahead,
 * live and replay alike), calls the strategy kind's evaluator, nets the
 * evaluator's target against the position and the open orders, records
 * the decision and, when the target changes, inserts the order through
 * the risk gate.  Each step is a workflow_step row.  A failing evaluator
 * fails its run, which is recorded; it never takes other strategies down.
 *
 * run_due is a procedure that commits after each strategy: pg_cron calls
 * it every minute.  A cron slot has at most one run, enforced by a unique
 * index, whatever pg_cron does.
 */

INSERT INTO pgtrade.strategy_kind (name, evaluator, validator, builtin,
								   description)
VALUES ('sma_cross',
	'pgtrade.sma_cross_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'pgtrade.sma_cross_validate(jsonb)', true,
	'Long while the fast SMA of closes is above the slow SMA, flat while '
	'it is below; params {"fast": int, "slow": int}.'),
	('ema_cross',
	 'pgtrade.ema_cross_eval(jsonb, timestamptz[], float8[], float8[], '
	 'float8[], float8[], float8[])',
	 'pgtrade.ema_cross_validate(jsonb)', true,
	 'Long while the fast EMA of closes is above the slow EMA, flat while '
	 'it is below; params {"fast": 12, "slow": 26}.'),
	('macd_cross',
	 'pgtrade.macd_cross_eval(jsonb, timestamptz[], float8[], float8[], '
	 'float8[], float8[], float8[])',
	 'pgtrade.macd_cross_validate(jsonb)', true,
	 'Long while the MACD line is above its signal, flat while it is below; '
	 'params {"fast": 12, "slow": 26, "signal": 9}.'),
	('rsi_reversion',
	 'pgtrade.rsi_reversion_eval(jsonb, timestamptz[], float8[], float8[], '
	 'float8[], float8[], float8[])',
	 'pgtrade.rsi_reversion_validate(jsonb)', true,
	 'Buys when RSI falls below a low threshold, sells when it rises above '
	 'a high one; params {"period": 14, "low": 30, "high": 70}.'),
	('bollinger_breakout',
	 'pgtrade.bollinger_breakout_eval(jsonb, timestamptz[], float8[], float8[], '
	 'float8[], float8[], float8[])',
	 'pgtrade.bollinger_breakout_validate(jsonb)', true,
	 'Long on a close above the upper Bollinger band, flat on a close below '
	 'the lower band; params {"period": 20, "k": 2}.'),
	('confirmations',
	 'pgtrade.confirmations_eval(jsonb, timestamptz[], float8[], float8[], '
	 'float8[], float8[], float8[])',
	 'pgtrade.confirmations_validate(jsonb)', true,
	 'Long when at least k of four indicators say up (SuperTrend up, close '
	 'above SMA(20), MACD above its signal, RSI above 50), flat when at '
	 'least k say down; k defaults to 3.');

/*
 * A user kind's code (its validator here, its evaluator in run_steps)
 * is called as its role whatever the function says of itself, in a
 * security-restricted operation, with that role noted as the caller
 * (kind_validate_as, kind_evaluate_as: acting_role.c), in a
 * subtransaction that is read-only and is always rolled back, keeping
 * only the value returned in a variable.  So
 * nothing the code leaves behind survives it: no row, no deferred
 * trigger or WITH HOLD cursor to fire later with another role's rights,
 * no notification, no setting changed for the session.  It also checks,
 * right after the code returns, that search_path is as it was (a plain
 * SET outlives the function's own SET clause): code that changed it
 * fails its run, saying so (kind_path_check).
 */
CREATE FUNCTION pgtrade.kind_path_check(p_kind text, p_path text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $$
/*
 * No SET clause, unlike every other function here: it must see the
 * session's search_path, not one of its own; every name is qualified.
 */
BEGIN
	IF NOT pg_catalog.texteq(pg_catalog.current_setting('search_path'),
							 p_path) THEN
		RAISE EXCEPTION 'strategy kind "%" changed search_path; '
			'its run is refused', p_kind
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A kind''s code must not change session settings.';
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.kind_path_check(text, text) IS
	'Internal: refuses the result of a kind''s code that changed '
	'search_path.';

CREATE FUNCTION pgtrade.strategy_kind_validate(p_kind text, p_params jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_validator regprocedure;
	v_n integer;
	v_why text;
	v_owner name;
	v_path text;
BEGIN
	SELECT k.validator INTO v_validator FROM pgtrade.strategy_kind k
	WHERE k.name = p_kind;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy kind "%" does not exist', p_kind
			USING ERRCODE = 'undefined_object',
				  HINT = 'See pgtrade.strategy_kind for the kinds available.';
	END IF;
	v_why := pgtrade.kind_refusal((SELECT k FROM pgtrade.strategy_kind k
								   WHERE k.name = p_kind));
	IF v_why IS NOT NULL THEN
		RAISE EXCEPTION 'strategy kind "%" may not run: %', p_kind, v_why
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	/* a user's kind: its code runs as its role, watched (kind_call) */
	v_owner := (SELECT k.owner_role FROM pgtrade.strategy_kind k
				WHERE k.name = p_kind AND NOT k.builtin);
	v_path := pg_catalog.current_setting('search_path');
	IF v_owner IS NULL THEN
		EXECUTE format('SELECT %s($1)', pgtrade.proc_call_name(v_validator))
			INTO v_n USING p_params;
	ELSE
		/* read-only, and rolled back: see "A user kind's code" above */
		BEGIN
			PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
			v_n := pgtrade.kind_validate_as(v_owner, v_validator, p_params);
			PERFORM pgtrade.kind_path_check(p_kind, v_path);
			RAISE EXCEPTION 'done' USING ERRCODE = 'PGK00';
		EXCEPTION WHEN SQLSTATE 'PGK00' THEN
			NULL;
		END;
	END IF;
	IF v_n IS NULL OR v_n < 1 THEN
		RAISE EXCEPTION 'validator of strategy kind "%" returned % bars needed',
			p_kind, coalesce(v_n::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION pgtrade.strategy_kind_validate(text, jsonb) IS
	'Validates params against a strategy kind and returns the bars it '
	'needs; raises for an unknown kind or bad params.';

/*
 * role_may_write says how a role could change pgtrade's data, or NULL
 * when it can only read: a superuser, the owner of pgtrade's tables, a
 * member of pgtrade_trader, pgtrade_admin, pgtrade_listener or
 * pgtrade_scheduler, or a role holding a write privilege on a pgtrade
 * table or EXECUTE on a pgtrade function that writes.
 */
CREATE FUNCTION pgtrade.role_may_write(p_role name)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_role oid := (SELECT r.oid FROM pg_catalog.pg_roles r
				   WHERE r.rolname = p_role);
	v_group text;
	v_what text;
BEGIN
	IF v_role IS NULL THEN
		RETURN 'does not exist';
	END IF;
	IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = v_role) THEN
		RETURN 'is a superuser';
	END IF;
	IF pg_has_role(v_role,
		(SELECT c.relowner FROM pg_catalog.pg_class c
		 WHERE c.oid = 'pgtrade.orders'::regclass), 'MEMBER') THEN
		RETURN 'owns pgtrade''s tables';
	END IF;
	IF (SELECT r.rolcreaterole FROM pg_catalog.pg_roles r WHERE r.oid = v_role) THEN
		RETURN 'may create roles (and grant itself others)';
	END IF;
	IF (SELECT r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.oid = v_role) THEN
		RETURN 'bypasses row-level security';
	END IF;
	IF has_schema_privilege(v_role, 'pgtrade', 'CREATE') THEN
		RETURN 'may create objects in schema pgtrade';
	END IF;
	FOREACH v_group IN ARRAY ARRAY['pgtrade_trader', 'pgtrade_admin',
		'pgtrade_listener', 'pgtrade_scheduler']
	LOOP
		IF pg_has_role(v_role, v_group, 'MEMBER') THEN
			RETURN 'is a member of ' || v_group;
		END IF;
	END LOOP;
	FOREACH v_group IN ARRAY ARRAY['pg_execute_server_program',
		'pg_write_server_files', 'pg_signal_backend']
	LOOP
		IF pg_has_role(v_role, v_group, 'MEMBER') THEN
			RETURN 'is a member of ' || v_group;
		END IF;
	END LOOP;
	/* a trigger of its own on a table would run as whoever writes it */
	SELECT format('may write %s', c.oid::regclass) INTO v_what
	FROM pg_catalog.pg_class c
	WHERE c.relnamespace = 'pgtrade'::regnamespace
		AND ((c.relkind IN ('r', 'p')
			  AND (has_table_privilege(v_role, c.oid,
						'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER')
				   OR has_any_column_privilege(v_role, c.oid, 'INSERT, UPDATE')))
			 OR (c.relkind = 'S'
				 AND has_sequence_privilege(v_role, c.oid, 'USAGE, UPDATE')))
	LIMIT 1;
	IF v_what IS NOT NULL THEN
		RETURN v_what;
	END IF;
	/*
	 * A function that runs with the caller's rights writes no more than
	 * the table privileges above allow; one that writes with the owner's
	 * is SECURITY DEFINER and VOLATILE.  Of those a reader has,
	 * strategy_performance and backtest_sweep only read, register_kind
	 * writes only a kind of its own, which trades nothing until a trader
	 * uses it, and backtest only a backtest's own rows, which trade
	 * nothing.
	 */
	SELECT format('may call %s', p.oid::regprocedure) INTO v_what
	FROM pg_catalog.pg_proc p
	WHERE p.pronamespace = 'pgtrade'::regnamespace AND p.provolatile = 'v'
		AND p.prosecdef AND p.prokind IN ('f', 'p')
		AND p.oid NOT IN ('pgtrade.strategy_performance(text)'::regprocedure,
			'pgtrade.register_kind(text, regprocedure, regprocedure, '
			'text)'::regprocedure,
			'pgtrade.backtest(text, timestamptz, timestamptz, numeric, '
			'numeric, numeric, jsonb, boolean, boolean)'::regprocedure,
			'pgtrade.backtest_sweep(text, timestamptz, timestamptz, jsonb, '
			'numeric, numeric, numeric, boolean)'::regprocedure)
		AND has_function_privilege(v_role, p.oid, 'EXECUTE')
	LIMIT 1;
	RETURN v_what;
END
$$;
COMMENT ON FUNCTION pgtrade.role_may_write(name) IS
	'How a role could change pgtrade''s data, or NULL when it can only read.';

/*
 * kind_refusal says why a strategy kind may not run now, or NULL.  A
 * built-in kind always may.  Any other runs with the rights of the role
 * that registered it (register_kind), never with those of the caller,
 * of run_due's owner or of the pg_cron job: its evaluator and validator
 * must be SECURITY DEFINER functions owned by that role with their
 * search_path pinned, and the role must be one that can only read (an
 * evaluator decides, pgtrade acts on the decision).  This is asked
 * again at every use, so that a privilege granted to the role after
 * registration, or a function altered since, stops the kind.
 */
CREATE FUNCTION pgtrade.kind_refusal(p_kind pgtrade.strategy_kind)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_role oid;
	v_why text;
	v_fn regprocedure;
	v_p record;
BEGIN
	IF p_kind.builtin THEN
		RETURN NULL;
	END IF;
	IF p_kind.owner_role IS NULL THEN
		RETURN 'it was not registered with pgtrade.register_kind()';
	END IF;
	v_why := pgtrade.role_may_write(p_kind.owner_role);
	IF v_why IS NOT NULL THEN
		RETURN format('its role %s %s; a kind''s role may only read',
					  p_kind.owner_role, v_why);
	END IF;
	v_role := (SELECT r.oid FROM pg_catalog.pg_roles r
			   WHERE r.rolname = p_kind.owner_role);
	FOREACH v_fn IN ARRAY ARRAY[p_kind.evaluator, p_kind.validator] LOOP
		SELECT p.prosecdef, p.proowner, p.proconfig INTO v_p
		FROM pg_catalog.pg_proc p WHERE p.oid = v_fn;
		IF NOT FOUND THEN
			RETURN format('function %s no longer exists', v_fn::oid);
		ELSIF NOT v_p.prosecdef THEN
			RETURN format('%s is not SECURITY DEFINER', v_fn);
		ELSIF v_p.proowner <> v_role THEN
			RETURN format('%s is not owned by %s', v_fn, p_kind.owner_role);
		ELSIF NOT EXISTS (SELECT 1 FROM unnest(v_p.proconfig) c
						  WHERE c LIKE 'search_path=%') THEN
			RETURN format('%s does not set search_path', v_fn);
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.kind_refusal(pgtrade.strategy_kind) IS
	'Why a strategy kind may not run now, or NULL when it may.';

/*
 * register_kind adds a strategy kind whose code runs with the rights of
 * the caller (SET ROLE, else the login role).  Registering a name again
 * replaces its functions, for the role that registered it only.
 */
CREATE FUNCTION pgtrade.register_kind(name text, evaluator regprocedure,
	validator regprocedure, description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_caller name := pgtrade.caller_role();
	v_old pgtrade.strategy_kind;
	v_new pgtrade.strategy_kind;
	v_why text;
BEGIN
	IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
		RAISE EXCEPTION 'a strategy kind name is a lower-case identifier of '
			'up to 63 characters, not %', coalesce('"' || name || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF evaluator IS NULL OR validator IS NULL THEN
		RAISE EXCEPTION 'a strategy kind needs an evaluator and a validator'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF (SELECT p.prorettype <> 'jsonb'::regtype
			OR string_to_array(p.proargtypes::text, ' ')::oid[]
			   <> ARRAY['jsonb'::regtype, 'timestamptz[]'::regtype,
				'float8[]'::regtype, 'float8[]'::regtype, 'float8[]'::regtype,
				'float8[]'::regtype, 'float8[]'::regtype]::oid[]
		FROM pg_catalog.pg_proc p WHERE p.oid = evaluator) THEN
		RAISE EXCEPTION 'evaluator % must take (jsonb, timestamptz[], '
			'float8[], float8[], float8[], float8[], float8[]) and return '
			'jsonb', evaluator
			USING ERRCODE = 'invalid_function_definition';
	END IF;
	IF (SELECT p.prorettype <> 'integer'::regtype
			OR string_to_array(p.proargtypes::text, ' ')::oid[]
			   <> ARRAY['jsonb'::regtype]::oid[]
		FROM pg_catalog.pg_proc p WHERE p.oid = validator) THEN
		RAISE EXCEPTION 'validator % must take (jsonb) and return integer', validator
			USING ERRCODE = 'invalid_function_definition';
	END IF;
	SELECT * INTO v_old FROM pgtrade.strategy_kind k WHERE k.name = register_kind.name;
	IF FOUND AND (v_old.builtin OR v_old.owner_role IS DISTINCT FROM v_caller) THEN
		RAISE EXCEPTION 'strategy kind "%" is registered by %', name,
			CASE WHEN v_old.builtin THEN 'pgtrade'
				 ELSE coalesce(v_old.owner_role, 'the owner') END
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	v_new.name := name;
	v_new.evaluator := evaluator;
	v_new.validator := validator;
	v_new.builtin := false;
	v_new.owner_role := v_caller;
	v_why := pgtrade.kind_refusal(v_new);
	IF v_why IS NOT NULL THEN
		RAISE EXCEPTION 'strategy kind "%" cannot be registered: %', name, v_why
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Register it as a role that only reads (a member '
					|| 'of pgtrade_reader), owning SECURITY DEFINER '
					|| 'functions that SET search_path.';
	END IF;
	INSERT INTO pgtrade.strategy_kind AS k (name, evaluator, validator,
		builtin, description, owner_role)
	VALUES (name, evaluator, validator, false, description, v_caller)
	ON CONFLICT ON CONSTRAINT strategy_kind_pkey DO UPDATE
		SET evaluator = EXCLUDED.evaluator, validator = EXCLUDED.validator,
			description = EXCLUDED.description, registered_at = now();
END
$$;
COMMENT ON FUNCTION pgtrade.register_kind(text, regprocedure, regprocedure,
	text) IS
	'Registers a user-defined strategy kind that runs with the rights of '
	'the role registering it, which must be one that can only read.';

CREATE FUNCTION pgtrade.proc_call_name(p_proc regprocedure)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT quote_ident(n.nspname) || '.' || quote_ident(p.proname)
	FROM pg_catalog.pg_proc p
	JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
	WHERE p.oid = $1;
$$;
COMMENT ON FUNCTION pgtrade.proc_call_name(regprocedure) IS
	'Schema-qualified, quoted name of a function, for dynamic calls.';

CREATE FUNCTION pgtrade.strategy_before_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	/* a strategy only for an account the caller may trade */
	PERFORM pgtrade.require_account(NEW.account_id);
	/*
	 * The kind's validator, only when kind, params or the sizing's need
	 * of bars change: switching a strategy on or off, or the scheduler
	 * moving next_run_at, must not run (or be stopped by) a user kind's
	 * code.
	 */
	IF TG_OP = 'INSERT' OR NEW.kind IS DISTINCT FROM OLD.kind
		OR NEW.params IS DISTINCT FROM OLD.params
		OR NEW.sizing IS DISTINCT FROM OLD.sizing
		OR NEW.atr_period IS DISTINCT FROM OLD.atr_period THEN
		NEW.bars_needed := pgtrade.strategy_kind_validate(NEW.kind, NEW.params);
		/* risk sizing reads ATR(atr_period) on the last bar */
		IF NEW.sizing = 'risk' THEN
			NEW.bars_needed := greatest(NEW.bars_needed, NEW.atr_period + 1);
		END IF;
	END IF;
	PERFORM pgtrade.cron_validate(NEW.schedule);
	/* pg_timezone_names reads every zone file: only for a new zone */
	IF (TG_OP = 'INSERT' OR NEW.time_zone IS DISTINCT FROM OLD.time_zone)
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names
						WHERE name = NEW.time_zone) THEN
		RAISE EXCEPTION 'time zone "%" not recognized', NEW.time_zone
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (NEW.quantity > 0 AND NEW.quantity < 1e12) THEN
		RAISE EXCEPTION 'strategy quantity must be a positive number below 1e12, not %',
			NEW.quantity
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.quantity % (SELECT i.lot_size FROM pgtrade.instrument i
					   WHERE i.instrument_id = NEW.instrument_id) <> 0 THEN
		RAISE EXCEPTION 'strategy quantity % is not a multiple of the lot size',
			NEW.quantity
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM pgtrade.strategy s
			   WHERE s.account_id = NEW.account_id
				 AND s.instrument_id = NEW.instrument_id
				 AND s.strategy_id <> NEW.strategy_id) THEN
		RAISE EXCEPTION 'account % already has a strategy on this instrument',
			NEW.account_id
			USING ERRCODE = 'unique_violation',
				  DETAIL = 'Positions are kept per account and instrument; two '
				     || 'strategies on one would net against each other''s '
				     || 'position.';
	END IF;
	IF NEW.active AND (TG_OP = 'INSERT' OR NOT OLD.active) THEN
		NEW.disabled_reason := NULL;
		NEW.activated_at := clock_timestamp();
	END IF;
	IF TG_OP = 'INSERT' OR NEW.schedule <> OLD.schedule
		OR NEW.time_zone <> OLD.time_zone
		OR (NEW.active AND NOT OLD.active) OR NEW.next_run_at IS NULL THEN
		NEW.next_run_at := pgtrade.cron_next(NEW.schedule, now(),
											 NEW.time_zone);
		IF NEW.next_run_at IS NULL THEN
			RAISE EXCEPTION 'cron expression "%" never matches', NEW.schedule
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgtrade.strategy_before_write() IS
	'BEFORE INSERT OR UPDATE on strategy: validates kind, params, '
	'schedule and time zone, and sets next_run_at.';
CREATE TRIGGER strategy_before_write BEFORE INSERT ON pgtrade.strategy
	FOR EACH ROW EXECUTE FUNCTION pgtrade.strategy_before_write();
/*
 * The scheduler moving next_run_at changes nothing to check (and no role
 * but the owner may write that column); every tick does it, so such an
 * update does not call the trigger at all: it fires for every other
 * column (tests/pgtap/schema.sql checks that the list names them all),
 * and for next_run_at only when it is cleared, to compute it again.
 */
CREATE TRIGGER strategy_before_update
	BEFORE UPDATE OF strategy_id, name, kind, params, instrument_id,
		account_id, bar_size, schedule, time_zone, quantity, order_type,
		limit_offset, tif, order_valid_for, active, grace, catch_up,
		bars_needed, max_bar_age, market_hours, disable_after_failures,
		disabled_reason, activated_at, sizing, capital, sizing_fraction,
		atr_period, atr_multiple, created_at
	ON pgtrade.strategy
	FOR EACH ROW EXECUTE FUNCTION pgtrade.strategy_before_write();
CREATE TRIGGER strategy_next_run_cleared
	BEFORE UPDATE OF next_run_at ON pgtrade.strategy
	FOR EACH ROW WHEN (NEW.next_run_at IS NULL)
	EXECUTE FUNCTION pgtrade.strategy_before_write();

CREATE FUNCTION pgtrade.create_strategy(name text, kind text, symbol text,
	account_id text, params jsonb, quantity numeric,
	schedule text DEFAULT '35 16 * * 1-5',
	time_zone text DEFAULT 'America/New_York',
	bar_size interval DEFAULT '1 day', active boolean DEFAULT false,
	max_bar_age interval DEFAULT NULL, market_hours text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pgtrade.account a
				   WHERE a.account_id = create_strategy.account_id) THEN
		RAISE EXCEPTION 'account "%" does not exist', create_strategy.account_id
			USING ERRCODE = 'foreign_key_violation',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	INSERT INTO pgtrade.strategy (name, kind, params, instrument_id,
		account_id, quantity, schedule, time_zone, bar_size, active,
		max_bar_age, market_hours, bars_needed)
	VALUES (create_strategy.name, create_strategy.kind,
		create_strategy.params, pgtrade.instrument_id(symbol),
		create_strategy.account_id, create_strategy.quantity,
		create_strategy.schedule, create_strategy.time_zone,
		create_strategy.bar_size, create_strategy.active,
		create_strategy.max_bar_age, create_strategy.market_hours, 1)
	RETURNING strategy_id INTO v_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.create_strategy(text, text, text, text, jsonb,
	numeric, text, text, interval, boolean, interval, text) IS
	'Creates a strategy (inactive unless asked) and returns its id; the '
	'default schedule runs at 16:35 New York time on weekdays.';

/* PL/pgSQL rather than SQL: its INSERT is planned once per session */
CREATE FUNCTION pgtrade.record_step(p_run bigint, p_no integer, p_name text,
	p_started timestamptz, p_input jsonb, p_output jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO pgtrade.workflow_step (run_id, step_no, name, started_at,
		finished_at, input, output)
	VALUES (p_run, p_no, p_name, p_started, clock_timestamp(), p_input,
		p_output);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.record_step(bigint, integer, text,
	timestamptz, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.record_step(bigint, integer, text, timestamptz,
	jsonb, jsonb) IS
	'Internal: records one step of a run.';

/*
 * decision_reason puts the evaluator's reason together with the netting:
 * the target against the position and the open orders, and what follows
 * (a hold, an order, or in a dry run the order it would have been).
 * One expression, so that a query calling it takes it in (inlined).
 */
CREATE FUNCTION pgtrade.decision_reason(p_reason text, p_target numeric,
	p_pos numeric, p_open numeric, p_place boolean)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
	WHEN p_target IS NULL THEN p_reason || '; no target: hold'
	WHEN p_target - p_pos - p_open = 0 THEN pg_catalog.format('%s; target '
		'position %s already held or on order (position %s, open orders %s): '
		'hold', p_reason, p_target, p_pos, p_open)
	ELSE pg_catalog.format('%s; target position %s, position %s, '
		'open orders %s: %s%s %s%s', p_reason, p_target, p_pos, p_open,
		CASE WHEN p_place THEN '' ELSE 'would ' END,
		CASE WHEN p_target - p_pos - p_open > 0 THEN 'buy' ELSE 'sell' END,
		pg_catalog.abs(p_target - p_pos - p_open),
		CASE WHEN p_place THEN '' ELSE ' (dry run: no order placed)' END)
	END
$$;
REVOKE ALL ON FUNCTION pgtrade.decision_reason(text, numeric, numeric,
	numeric, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.decision_reason(text, numeric, numeric, numeric,
	boolean) IS
	'Internal: the reason a decision records, from the evaluator''s reason '
	'and the netting of its target.';

/*
 * size_target turns an evaluator's target (1, 0, -1 or NULL) into a
 * target position by the strategy's sizing.  fixed: target x quantity.
 * equity_fraction and risk size a position only when the target opens
 * or reverses one: a position (with its open orders) already on the
 * target's side is kept as it is, so a strategy does not trade a little
 * every run as its equity moves.  Equity is the capital plus the
 * position's realized P&L and its unrealized P&L at the last close; the
 * size is rounded down to the instrument's lot size, in numeric.  A
 * size it cannot compute (no ATR yet, equity not positive) keeps the
 * position as it is, and says why.  Returns the target position, a note
 * for the decision's reason (NULL for fixed) and the sizing's inputs for
 * the decide step (NULL for fixed, or for no target or a flat one).  A
 * backtest gives its own equity (p_equity) instead of the position's.
 */
CREATE FUNCTION pgtrade.size_target(p_s pgtrade.strategy, p_target numeric,
	p_last_close double precision, p_atr double precision, p_pos numeric,
	p_open numeric, p_equity numeric DEFAULT NULL,
	OUT target_position numeric, OUT note text, OUT detail jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_held numeric := p_pos + p_open;
	v_lot numeric;
	v_p pgtrade.position;
	v_equity numeric;
	v_close numeric := p_last_close::numeric;
	v_per numeric;
	v_size numeric;
	v_how text;
BEGIN
	IF p_s.sizing = 'fixed' OR p_target IS NULL OR p_target = 0 THEN
		target_position := p_target * p_s.quantity;
		RETURN;
	END IF;
	detail := jsonb_build_object('sizing', p_s.sizing, 'capital', p_s.capital,
		'fraction', p_s.sizing_fraction);
	IF sign(v_held) = sign(p_target) THEN
		target_position := v_held;
		note := format('%s already held or on order: not resized', v_held);
		RETURN;
	END IF;
	SELECT i.lot_size INTO STRICT v_lot FROM pgtrade.instrument i
	WHERE i.instrument_id = p_s.instrument_id;
	IF p_equity IS NOT NULL THEN
		v_equity := p_equity;
	ELSE
		SELECT * INTO v_p FROM pgtrade.position ps
		WHERE ps.account_id = p_s.account_id
			AND ps.instrument_id = p_s.instrument_id;
		v_equity := p_s.capital + coalesce(v_p.realized_pnl, 0)
			+ coalesce(v_p.quantity * (v_close - v_p.avg_cost), 0);
	END IF;
	detail := detail || jsonb_build_object('equity', v_equity,
		'last_close', v_close, 'lot_size', v_lot);
	IF v_equity <= 0 THEN
		target_position := v_held;
		note := format('equity %s is not positive: no new position', v_equity);
		RETURN;
	END IF;
	IF p_s.sizing = 'equity_fraction' THEN
		v_per := v_close;
		v_how := format('equity %s x %s / close %s', round(v_equity, 2),
						p_s.sizing_fraction, v_close);
	ELSE
		IF p_atr IS NULL OR p_atr <= 0 THEN
			target_position := v_held;
			note := format('cannot size: ATR(%s) needs %s bars and a range',
						   p_s.atr_period, p_s.atr_period + 1);
			RETURN;
		END IF;
		v_per := p_s.atr_multiple * p_atr::numeric;
		v_how := format('equity %s x %s / stop %s (%s x ATR(%s) %s)',
						round(v_equity, 2), p_s.sizing_fraction,
						round(v_per, 4), p_s.atr_multiple, p_s.atr_period,
						round(p_atr::numeric, 4));
		detail := detail || jsonb_build_object('atr', p_atr,
			'atr_period', p_s.atr_period, 'atr_multiple', p_s.atr_multiple,
			'stop_distance', v_per);
	END IF;
	v_size := floor(v_equity * p_s.sizing_fraction / v_per / v_lot) * v_lot;
	target_position := p_target * v_size;
	detail := detail || jsonb_build_object('size', v_size);
	note := format('sized %s: %s, in lots of %s', v_size, v_how, v_lot);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.size_target(pgtrade.strategy, numeric,
	double precision, double precision, numeric, numeric, numeric)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.size_target(pgtrade.strategy, numeric,
	double precision, double precision, numeric, numeric, numeric) IS
	'Internal: the target position an evaluator''s target asks for, by '
	'the strategy''s sizing.';

/*
 * run_decide nets a target position against the position and the open
 * orders, records the decision (step p_step) and, when the target
 * changes, inserts the order through the risk gate (step p_step + 1).
 * A NULL target means no opinion: the decision is a hold.
 */
CREATE FUNCTION pgtrade.run_decide(p_run bigint, p_step integer,
	p_s pgtrade.strategy, p_as_of timestamptz, p_target_pos numeric,
	p_signal text, p_reason text, p_confidence numeric, p_values jsonb,
	p_last_close double precision, p_last_ts timestamptz, p_bars integer,
	p_place boolean, p_sizing jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_t timestamptz := clock_timestamp();
	v_pos numeric := pgtrade.position_quantity(p_s.account_id,
											   p_s.instrument_id);
	v_open numeric := pgtrade.open_quantity(p_s.account_id,
											p_s.instrument_id);
	v_delta numeric := coalesce(p_target_pos - v_pos - v_open, 0);
	v_action text;
	v_reason text := pgtrade.decision_reason(p_reason, p_target_pos, v_pos,
		v_open, p_place);
	v_decision bigint;
	v_order pgtrade.orders;
	v_limit numeric;
BEGIN
	v_action := CASE WHEN v_delta > 0 THEN 'buy'
					 WHEN v_delta < 0 THEN 'sell' ELSE 'hold' END;
	INSERT INTO pgtrade.decision (run_id, strategy_id, as_of, action, signal,
		target_position, position, open_quantity, quantity, last_close,
		confidence, reason, indicators, last_bar_ts, bars_used, kind, params)
	VALUES (p_run, p_s.strategy_id, p_as_of, v_action, p_signal,
		p_target_pos, v_pos, v_open, abs(v_delta), p_last_close,
		p_confidence, v_reason, p_values, p_last_ts, p_bars, p_s.kind,
		p_s.params)
	RETURNING decision_id INTO v_decision;
	PERFORM pgtrade.record_step(p_run, p_step, 'decide', v_t,
		jsonb_build_object('target_position', p_target_pos,
			'position', v_pos, 'open_orders', v_open)
			|| CASE WHEN p_sizing IS NULL THEN '{}'::jsonb
					ELSE jsonb_build_object('sizing', p_sizing) END,
		jsonb_build_object('decision_id', v_decision, 'action', v_action,
			'quantity', abs(v_delta), 'reason', v_reason));
	IF v_action = 'hold' OR NOT p_place THEN
		RETURN;
	END IF;

	v_t := clock_timestamp();
	IF p_s.order_type = 'limit' THEN
		v_limit := p_last_close::numeric + CASE v_action WHEN 'buy'
			THEN p_s.limit_offset ELSE -p_s.limit_offset END;
	END IF;
	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
		order_type, limit_price, tif, valid_until, strategy_id, decision_id)
	VALUES (p_s.account_id, p_s.instrument_id, v_action, abs(v_delta),
		p_s.order_type, v_limit, p_s.tif, now() + p_s.order_valid_for,
		p_s.strategy_id, v_decision)
	RETURNING * INTO v_order;
	UPDATE pgtrade.decision
	SET order_id = v_order.order_id, risk_verdict = v_order.risk_verdict
	WHERE decision_id = v_decision;
	PERFORM pgtrade.record_step(p_run, p_step + 1, 'order', v_t,
		jsonb_build_object('side', v_action, 'quantity', abs(v_delta),
			'order_type', p_s.order_type, 'limit_price', v_limit),
		jsonb_build_object('order_id', v_order.order_id,
			'client_order_id', v_order.client_order_id,
			'status', v_order.status, 'risk_verdict', v_order.risk_verdict));
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_decide(bigint, integer, pgtrade.strategy,
	timestamptz, numeric, text, text, numeric, jsonb, double precision,
	timestamptz, integer, boolean, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_decide(bigint, integer, pgtrade.strategy,
	timestamptz, numeric, text, text, numeric, jsonb, double precision,
	timestamptz, integer, boolean, jsonb) IS
	'Internal: nets a target against position and open orders, records '
	'the decision and inserts any order through the risk gate.';

/*
 * run_market_step records a run's step p_step: whether the instrument's
 * market lets the run go ahead at p_as_of by the strategy's market_hours
 * (NULL: trading_day for daily bars, open for intraday).  Returns NULL
 * when it does, else the reason.  A time the calendar has no data for is
 * a closed market (fail closed); for a run of today that raises an
 * alert, once until it is acknowledged: every run will stop there.
 */
CREATE FUNCTION pgtrade.run_market_step(p_run bigint, p_step integer,
	p_s pgtrade.strategy, p_calendar text, p_as_of timestamptz)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_hours text := coalesce(p_s.market_hours,
		CASE WHEN p_s.bar_size >= interval '1 day' THEN 'trading_day'
			 ELSE 'open' END);
	v_t timestamptz := clock_timestamp();
	v_m record;
	v_go boolean;
BEGIN
	IF p_calendar IS NULL OR v_hours = 'always' THEN
		RETURN NULL;
	END IF;
	v_m := pgtrade.market_status(p_calendar, p_as_of);
	PERFORM pgtrade.record_step(p_run, p_step, 'market_hours', v_t,
		jsonb_build_object('calendar', p_calendar, 'market_hours', v_hours,
			'as_of', p_as_of),
		jsonb_build_object('open', v_m.is_open,
			'trading_day', v_m.trading_day, 'opens', v_m.opens,
			'closes', v_m.closes, 'reason', v_m.reason));
	v_go := CASE v_hours WHEN 'open' THEN v_m.is_open ELSE v_m.trading_day END;
	IF v_go IS NULL AND p_as_of >= clock_timestamp() - interval '1 day'
		AND NOT EXISTS (
		SELECT 1 FROM pgtrade.alert a
		WHERE a.kind = 'calendar_ended' AND a.strategy_id = p_s.strategy_id
			AND a.acknowledged_at IS NULL) THEN
		PERFORM pgtrade.raise_alert('calendar_ended', p_s.account_id,
			p_s.strategy_id, NULL, NULL,
			format('strategy "%s" skips every run: %s', p_s.name, v_m.reason));
	END IF;
	IF coalesce(v_go, false) THEN
		RETURN NULL;
	END IF;
	RETURN 'market closed: ' || v_m.reason;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_market_step(bigint, integer,
	pgtrade.strategy, text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_market_step(bigint, integer,
	pgtrade.strategy, text, timestamptz) IS
	'Internal: records whether the market lets a run go ahead; NULL when '
	'it does, else why not.';

/*
 * evaluate_kind calls a kind's evaluator on bars, oldest first, under
 * the exchange's time zone p_zone so that the dates it writes into its
 * reason are session dates, and checks its answer: what every run and
 * every bar of a backtest does.  A built-in kind's C evaluator is called
 * directly; a user's runs as its role, read-only, in a subtransaction
 * always rolled back (see strategy_kind_validate).  Raises when the kind
 * may not run or its answer lacks a target and a reason.
 */
CREATE FUNCTION pgtrade.evaluate_kind(p_kind pgtrade.strategy_kind,
	p_params jsonb, p_zone text, p_ts timestamptz[], p_o float8[],
	p_h float8[], p_l float8[], p_c float8[], p_v float8[])
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_why text := pgtrade.kind_refusal(p_kind);
	v_tz text := current_setting('timezone');
	v_path text := current_setting('search_path');
	v_out jsonb;
	v_msg text;
BEGIN
	IF v_why IS NOT NULL THEN
		RAISE EXCEPTION 'strategy kind "%" may not run: %', p_kind.name, v_why
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	PERFORM set_config('timezone', p_zone, true);
	IF p_kind.builtin THEN
		v_out := pgtrade.kind_evaluate(p_kind.evaluator, p_params, p_ts, p_o,
			p_h, p_l, p_c, p_v);
	ELSE
		BEGIN
			PERFORM set_config('transaction_read_only', 'on', true);
			v_out := pgtrade.kind_evaluate_as(p_kind.owner_role,
				p_kind.evaluator, p_params, p_ts, p_o, p_h, p_l, p_c, p_v);
			PERFORM pgtrade.kind_path_check(p_kind.name, v_path);
			RAISE EXCEPTION 'done' USING ERRCODE = 'PGK00';
		EXCEPTION
			WHEN SQLSTATE 'PGK00' THEN
				NULL;
			/*
			 * The two errors WHEN OTHERS does not catch, from a kind's
			 * code, would stop run_due for every strategy after this
			 * one: each becomes this run's failure.
			 */
			WHEN assert_failure OR query_canceled THEN
				GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT;
				RAISE EXCEPTION 'evaluator of strategy kind "%" stopped: %',
					p_kind.name, v_msg
					USING ERRCODE = 'external_routine_exception';
		END;
	END IF;
	PERFORM set_config('timezone', v_tz, true);
	IF v_out IS NULL OR jsonb_typeof(v_out) <> 'object'
		OR NOT v_out ? 'target' OR NOT v_out ? 'reason' THEN
		RAISE EXCEPTION 'evaluator of strategy kind "%" returned no target and reason',
			p_kind.name
			USING ERRCODE = 'data_exception', DETAIL = coalesce(v_out::text, 'NULL');
	END IF;
	RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.evaluate_kind(pgtrade.strategy_kind, jsonb,
	text, timestamptz[], float8[], float8[], float8[], float8[], float8[])
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.evaluate_kind(pgtrade.strategy_kind, jsonb, text,
	timestamptz[], float8[], float8[], float8[], float8[], float8[]) IS
	'Internal: a kind''s evaluator on bars, under the exchange''s time '
	'zone, with its answer checked; live runs and backtests alike.';

/*
 * kind_target reads an evaluator's target: -1, 0 or 1, or NULL when it
 * gives none (JSON null or not a number); any other number is refused.
 */
CREATE FUNCTION pgtrade.kind_target(p_kind text, p_out jsonb)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_target numeric;
BEGIN
	IF jsonb_typeof(p_out -> 'target') <> 'number' THEN
		RETURN NULL;
	END IF;
	v_target := (p_out ->> 'target')::numeric;
	IF v_target NOT IN (-1, 0, 1) THEN
		RAISE EXCEPTION 'evaluator of strategy kind "%" returned target %, not -1, 0 or 1',
			p_kind, v_target
			USING ERRCODE = 'data_exception';
	END IF;
	RETURN v_target;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.kind_target(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.kind_target(text, jsonb) IS
	'Internal: an evaluator''s target, -1, 0, 1 or NULL; anything else is '
	'refused.';

/*
 * run_steps does the work of one run: load bars, evaluate, decide, order.
 * It raises on any failure; run_execute catches that and fails the run.
 */
CREATE FUNCTION pgtrade.run_steps(p_run bigint, p_s pgtrade.strategy,
	p_as_of timestamptz, p_place boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_inst pgtrade.instrument;
	v_kind pgtrade.strategy_kind;
	v_t timestamptz;
	v_ts timestamptz[];
	v_o float8[];
	v_h float8[];
	v_l float8[];
	v_c float8[];
	v_v float8[];
	v_n integer;
	v_out jsonb;
	v_target numeric;
	v_age interval;
	v_why text;
	v_last_end timestamptz;
	v_tpos numeric;
	v_note text;
	v_sizing jsonb;
BEGIN
	SELECT * INTO STRICT v_inst FROM pgtrade.instrument
	WHERE instrument_id = p_s.instrument_id;
	SELECT * INTO STRICT v_kind FROM pgtrade.strategy_kind
	WHERE name = p_s.kind;

	/* step 0: the market's hours by the instrument's calendar */
	v_why := pgtrade.run_market_step(p_run, 0, p_s, v_inst.calendar, p_as_of);
	IF v_why IS NOT NULL THEN
		UPDATE pgtrade.workflow_run r SET error = v_why WHERE r.run_id = p_run;
		RETURN 'closed';
	END IF;

	/*
	 * step 1: the bars that had ended by as_of (bars_ended_by), oldest
	 * first; recent_bars takes the newest by one scan of the key
	 */
	v_t := clock_timestamp();
	SELECT b.ts, b.open, b.high, b.low, b.close, b.volume, b.bars
	INTO v_ts, v_o, v_h, v_l, v_c, v_v, v_n
	FROM pgtrade.recent_bars(p_s.instrument_id, p_s.bar_size,
		pgtrade.bars_ended_by(p_as_of, p_s.bar_size, v_inst.time_zone,
							  v_inst.session_close),
		p_s.bars_needed * 2) b;
	PERFORM pgtrade.record_step(p_run, 1, 'load_bars', v_t,
		jsonb_build_object('symbol', v_inst.symbol, 'bar_size',
			p_s.bar_size::text, 'as_of', p_as_of, 'bars_wanted',
			p_s.bars_needed * 2),
		jsonb_build_object('bars', v_n, 'first_ts', v_ts[1],
			'last_ts', v_ts[v_n], 'last_close', v_c[v_n]));

	/* stale bars: the market data stopped, or the run is far too late */
	v_age := coalesce(p_s.max_bar_age,
		CASE WHEN p_s.bar_size >= interval '1 day' THEN interval '5 days'
			 ELSE greatest(interval '15 minutes', 3 * p_s.bar_size) END);
	/* bar_end of the newest bar, written out: a call costs more here */
	v_last_end := CASE WHEN p_s.bar_size >= interval '1 day'
		THEN ((v_ts[v_n] AT TIME ZONE v_inst.time_zone)::date
			  + v_inst.session_close) AT TIME ZONE v_inst.time_zone
		ELSE v_ts[v_n] + p_s.bar_size END;
	IF v_n = 0 OR v_last_end < p_as_of - v_age THEN
		UPDATE pgtrade.workflow_run r
		SET error = format('stale bars: the last %s bar of %s %s; a run needs one that ended within %s',
						   p_s.bar_size, v_inst.symbol,
						   coalesce('started ' || v_ts[v_n]::text,
									'does not exist'), v_age)
		WHERE r.run_id = p_run;
		RETURN 'skipped';
	END IF;

	/*
	 * step 2: the kind's evaluator, under the exchange's time zone so the
	 * dates it writes into its reason are session dates
	 */
	v_t := clock_timestamp();
	v_out := pgtrade.evaluate_kind(v_kind, p_s.params, v_inst.time_zone,
		coalesce(v_ts, '{}'), coalesce(v_o, '{}'), coalesce(v_h, '{}'),
		coalesce(v_l, '{}'), coalesce(v_c, '{}'), coalesce(v_v, '{}'));
	PERFORM pgtrade.record_step(p_run, 2, 'evaluate', v_t,
		jsonb_build_object('kind', p_s.kind, 'params', p_s.params,
			'bars', v_n), v_out);

	/* steps 3 and 4: net the target, decide, order */
	v_target := pgtrade.kind_target(p_s.kind, v_out);
	/* step 3 with the size: see size_target */
	v_tpos := v_target * p_s.quantity;
	IF p_s.sizing <> 'fixed' AND v_target <> 0 THEN
		SELECT z.target_position, z.note, z.detail
		INTO v_tpos, v_note, v_sizing
		FROM pgtrade.size_target(p_s, v_target, v_c[v_n],
			CASE WHEN p_s.sizing = 'risk'
				THEN (pgtrade.atr(v_h, v_l, v_c, p_s.atr_period))[v_n] END,
			pgtrade.position_quantity(p_s.account_id, p_s.instrument_id),
			pgtrade.open_quantity(p_s.account_id, p_s.instrument_id)) z;
	END IF;
	PERFORM pgtrade.run_decide(p_run, 3, p_s, p_as_of, v_tpos,
		v_out->>'signal', concat_ws('; ', v_out->>'reason', v_note), NULL,
		v_out->'values', v_c[v_n], v_ts[v_n], v_n, p_place, v_sizing);
	RETURN 'succeeded';
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_steps(bigint, pgtrade.strategy,
	timestamptz, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_steps(bigint, pgtrade.strategy, timestamptz,
	boolean) IS
	'Internal: the steps of one run (load bars, evaluate, decide, order).';

/*
 * A strategy whose last disable_after_failures scheduled runs since it
 * was switched on (those that got as far as running: skipped and missed
 * slots do not count) all failed is switched off, with the reason kept
 * and an alert raised.
 */
CREATE FUNCTION pgtrade.disable_failing_strategy(p_s pgtrade.strategy)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_failed bigint;
	v_runs bigint;
	v_why text;
BEGIN
	IF p_s.disable_after_failures IS NULL OR NOT p_s.active THEN
		RETURN false;
	END IF;
	SELECT count(*) FILTER (WHERE r.status = 'failed'), count(*)
	INTO v_failed, v_runs
	FROM (SELECT r.status FROM pgtrade.workflow_run r
		  WHERE r.strategy_id = p_s.strategy_id AND r.trigger = 'cron'
			AND r.status IN ('succeeded', 'failed')
			AND r.started_at >= coalesce(p_s.activated_at, '-infinity')
		  ORDER BY r.slot DESC
		  LIMIT p_s.disable_after_failures) r;
	IF v_failed < p_s.disable_after_failures THEN
		RETURN false;
	END IF;
	v_why := format('switched off at %s after %s scheduled runs failed in a row; the last: %s',
					now(), v_failed,
					(SELECT r.error FROM pgtrade.workflow_run r
					 WHERE r.strategy_id = p_s.strategy_id
						AND r.trigger = 'cron' AND r.status = 'failed'
					 ORDER BY r.slot DESC LIMIT 1));
	UPDATE pgtrade.strategy s SET active = false, disabled_reason = v_why
	WHERE s.strategy_id = p_s.strategy_id;
	PERFORM pgtrade.raise_alert('strategy_disabled', p_s.account_id,
		p_s.strategy_id, NULL, NULL,
		format('strategy "%s" %s', p_s.name, v_why));
	RETURN true;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.disable_failing_strategy(pgtrade.strategy)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.disable_failing_strategy(pgtrade.strategy) IS
	'Internal: switches a strategy off once its last '
	'disable_after_failures scheduled runs have all failed.';

/*
 * run_execute records a run of a strategy and performs it; a failure in
 * any step is caught, undone and recorded on the run.  Returns the run id,
 * or NULL when a cron slot already had its run.
 */
CREATE FUNCTION pgtrade.run_execute(p_strategy bigint, p_trigger text,
	p_slot timestamptz, p_as_of timestamptz, p_place boolean)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_s pgtrade.strategy;
	v_run bigint;
	v_msg text;
	v_state text;
	v_status text;
BEGIN
	SELECT * INTO STRICT v_s FROM pgtrade.strategy
	WHERE strategy_id = p_strategy;
	INSERT INTO pgtrade.workflow_run (strategy_id, trigger, slot, as_of)
	VALUES (p_strategy, p_trigger, p_slot, p_as_of)
	ON CONFLICT (strategy_id, slot) WHERE trigger = 'cron' DO NOTHING
	RETURNING run_id INTO v_run;
	IF v_run IS NULL THEN
		RETURN NULL;
	END IF;
	BEGIN
		v_status := pgtrade.run_steps(v_run, v_s, p_as_of, p_place);
		/* a closed market is routine: logged, not warned about */
		UPDATE pgtrade.workflow_run SET status = CASE v_status
				WHEN 'closed' THEN 'skipped' ELSE v_status END,
			finished_at = clock_timestamp()
		WHERE run_id = v_run
		RETURNING error INTO v_msg;
		IF v_status = 'skipped' THEN
			RAISE WARNING 'run % of strategy "%" skipped: %', v_run, v_s.name,
				v_msg;
		ELSIF v_status = 'closed' THEN
			RAISE LOG 'run % of strategy "%" skipped: %', v_run, v_s.name,
				v_msg;
		END IF;
	EXCEPTION WHEN OTHERS OR assert_failure THEN
		GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE;
		UPDATE pgtrade.workflow_run SET status = 'failed',
			finished_at = clock_timestamp(), error = v_msg, sqlstate = v_state
		WHERE run_id = v_run;
		RAISE WARNING 'run % of strategy "%" failed: %', v_run, v_s.name, v_msg;
		IF p_trigger = 'cron' THEN
			PERFORM pgtrade.disable_failing_strategy(v_s);
		END IF;
	END;
	RETURN v_run;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_execute(bigint, text, timestamptz,
	timestamptz, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_execute(bigint, text, timestamptz,
	timestamptz, boolean) IS
	'Internal: records and performs one run; failures are recorded on the '
	'run, not raised.';

CREATE FUNCTION pgtrade.run_strategy(name text, as_of timestamptz DEFAULT now(),
	trigger text DEFAULT 'manual', place_orders boolean DEFAULT NULL)
RETURNS TABLE (run_id bigint, status text, action text, quantity numeric,
	order_id bigint, order_status text, reason text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
	v_run bigint;
BEGIN
	IF trigger NOT IN ('manual', 'replay') THEN
		RAISE EXCEPTION 'trigger must be manual or replay, not "%"', trigger
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF as_of IS NULL OR NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be a finite time'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF as_of > now() THEN
		RAISE EXCEPTION 'as_of must not be in the future'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('as_of %s, now %s.', as_of, now());
	END IF;
	SELECT s.strategy_id INTO v_id FROM pgtrade.strategy s
	WHERE s.name = run_strategy.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy "%" does not exist', run_strategy.name
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(
		(SELECT s.account_id FROM pgtrade.strategy s WHERE s.strategy_id = v_id));
	/*
	 * A run as of the past is a dry run unless asked: its decision is
	 * recorded, but an order placed now on an old picture of the market
	 * would be a live order on stale information.
	 */
	v_run := pgtrade.run_execute(v_id, trigger, as_of, as_of,
		coalesce(place_orders, as_of >= now() - (SELECT s.grace
			FROM pgtrade.strategy s WHERE s.strategy_id = v_id)));
	RETURN QUERY
		SELECT r.run_id, r.status, d.action, d.quantity, o.order_id,
			   o.status, coalesce(d.reason, r.error)
		FROM pgtrade.workflow_run r
		LEFT JOIN pgtrade.decision d ON d.run_id = r.run_id
		LEFT JOIN pgtrade.orders o ON o.order_id = d.order_id
		WHERE r.run_id = v_run;
END
$$;
COMMENT ON FUNCTION pgtrade.run_strategy(text, timestamptz, text, boolean) IS
	'Runs one strategy now or as of a past time (replay), using only bars '
	'that had ended by then; records the run, its steps, the decision and '
	'any order, and returns a summary.  A run as of more than the '
	'strategy''s grace ago places no order unless place_orders is true.';

/*
 * submit_decision lets an outside decider (a model, an agent, a person)
 * set a strategy's target position.  It is recorded as a run with
 * trigger 'external' and meets the same netting and risk gate as the
 * strategy's own evaluator; any error is raised and nothing is kept.
 */
CREATE FUNCTION pgtrade.submit_decision(strategy text,
	target_position numeric, explanation text,
	confidence numeric DEFAULT NULL, indicators jsonb DEFAULT NULL)
RETURNS TABLE (run_id bigint, action text, quantity numeric,
	order_id bigint, order_status text, status text, reason text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_s pgtrade.strategy;
	v_inst pgtrade.instrument;
	v_run bigint;
	v_bar record;
	v_why text;
BEGIN
	SELECT * INTO v_s FROM pgtrade.strategy s
	WHERE s.name = submit_decision.strategy;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy "%" does not exist', submit_decision.strategy
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_s.account_id);
	IF target_position IS NULL THEN
		RAISE EXCEPTION 'target position must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF coalesce(btrim(explanation), '') = '' THEN
		RAISE EXCEPTION 'a decision needs an explanation'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF confidence < 0 OR confidence > 1 THEN
		RAISE EXCEPTION 'confidence must be between 0 and 1, not %', confidence
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO STRICT v_inst FROM pgtrade.instrument i
	WHERE i.instrument_id = v_s.instrument_id;
	SELECT b.ts, b.close INTO v_bar FROM pgtrade.bar b
	WHERE b.instrument_id = v_s.instrument_id AND b.bar_size = v_s.bar_size
		AND b.ts <= now()
		AND pgtrade.bar_end(b.ts, b.bar_size, v_inst.time_zone,
							v_inst.session_close) <= now()
	ORDER BY b.ts DESC LIMIT 1;

	INSERT INTO pgtrade.workflow_run (strategy_id, trigger, slot, as_of)
	VALUES (v_s.strategy_id, 'external', now(), now())
	RETURNING workflow_run.run_id INTO v_run;
	PERFORM pgtrade.record_step(v_run, 1, 'external_decision',
		clock_timestamp(),
		jsonb_build_object('submitted_by', session_user, 'target_position',
			target_position, 'confidence', confidence,
			'explanation', explanation, 'indicators', indicators),
		NULL);
	/* a closed market skips an outside decision as it skips a run */
	v_why := pgtrade.run_market_step(v_run, 0, v_s, v_inst.calendar, now());
	IF v_why IS NOT NULL THEN
		UPDATE pgtrade.workflow_run r SET status = 'skipped',
			finished_at = clock_timestamp(), error = v_why
		WHERE r.run_id = v_run;
		RETURN QUERY SELECT v_run, NULL::text, NULL::numeric, NULL::bigint,
			NULL::text, 'skipped'::text, v_why;
		RETURN;
	END IF;
	PERFORM pgtrade.run_decide(v_run, 2, v_s, now(), target_position,
		'external', format('decision by %s: %s', session_user, explanation),
		confidence, indicators, v_bar.close, v_bar.ts,
		CASE WHEN v_bar.ts IS NULL THEN 0 ELSE 1 END, true);
	UPDATE pgtrade.workflow_run r SET status = 'succeeded',
		finished_at = clock_timestamp()
	WHERE r.run_id = v_run;
	RETURN QUERY
		SELECT v_run, d.action, d.quantity, o.order_id, o.status,
			'succeeded'::text, d.reason
		FROM pgtrade.decision d
		LEFT JOIN pgtrade.orders o ON o.order_id = d.order_id
		WHERE d.run_id = v_run;
END
$$;
COMMENT ON FUNCTION pgtrade.submit_decision(text, numeric, text, numeric,
	jsonb) IS
	'Lets an outside decider set a strategy''s target position (in units '
	'of the instrument); recorded as an external run, netted against '
	'position and open orders, and gated like any other order; skipped, '
	'with the reason, while the market is closed by the strategy''s '
	'market_hours.';

/*
 * run_next_due runs the strategy whose slot is oldest among those due
 * (or, given p_strategy, that strategy if it is due and no other session
 * holds it), advancing its next_run_at; returns false when none is due.
 * Each call is meant to be its own transaction (run_due commits after
 * each).
 */
CREATE FUNCTION pgtrade.run_next_due(p_now timestamptz,
	p_strategy bigint DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_s pgtrade.strategy;
	v_slot timestamptz;
BEGIN
	/* slots are taken as they come, never ahead of the clock (as run_due) */
	IF p_now IS NULL OR p_now > pg_catalog.clock_timestamp() THEN
		RAISE EXCEPTION 'run_next_due takes the time now or earlier, not %', p_now
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_strategy IS NULL THEN
		SELECT * INTO v_s FROM pgtrade.strategy s
		WHERE s.active AND s.next_run_at <= p_now
		ORDER BY s.next_run_at, s.strategy_id
		LIMIT 1
		FOR UPDATE SKIP LOCKED;
	ELSE
		SELECT * INTO v_s FROM pgtrade.strategy s
		WHERE s.strategy_id = p_strategy AND s.active
			AND s.next_run_at <= p_now
		FOR UPDATE SKIP LOCKED;
	END IF;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	v_slot := v_s.next_run_at;
	UPDATE pgtrade.strategy s
	SET next_run_at = coalesce(pgtrade.cron_next(s.schedule,
						greatest(p_now, v_slot), s.time_zone), 'infinity')
	WHERE s.strategy_id = v_s.strategy_id;

	IF p_now - v_slot > v_s.grace AND NOT v_s.catch_up THEN
		INSERT INTO pgtrade.workflow_run (strategy_id, trigger, slot, as_of,
			status, finished_at, error)
		VALUES (v_s.strategy_id, 'cron', v_slot, p_now, 'missed',
			clock_timestamp(), format('started %s after its slot, past the grace period of %s',
								   p_now - v_slot, v_s.grace))
		ON CONFLICT (strategy_id, slot) WHERE trigger = 'cron' DO NOTHING;
	ELSE
		/*
		 * A time older than the grace makes a dry run, as run_strategy
		 * does: no live order on an old picture of the market.
		 */
		PERFORM pgtrade.run_execute(v_s.strategy_id, 'cron', v_slot, p_now,
			p_now >= pg_catalog.clock_timestamp() - v_s.grace);
	END IF;
	/*
	 * A transaction that placed no order may commit without waiting for
	 * its WAL to reach disk: lost in a crash, it is the run and the
	 * slot's move that are lost, and the slot simply runs again.  One in
	 * which any order went pending (orders_after_insert notes it) commits
	 * synchronously, before the listener can see the order, even for a
	 * role whose default is not to.
	 */
	IF coalesce(pg_catalog.current_setting('pgtrade.order_placed', true), '')
		<> 'on' THEN
		PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
	ELSIF pg_catalog.current_setting('synchronous_commit') = 'off' THEN
		PERFORM pg_catalog.set_config('synchronous_commit', 'on', true);
	END IF;
	RETURN true;
END
$$;
COMMENT ON FUNCTION pgtrade.run_next_due(timestamptz, bigint) IS
	'Scheduler: runs (or records as missed) the most overdue active '
	'strategy, or the one given if it is due, and advances its '
	'next_run_at; false when none is due.';

/*
 * run_probe is one due strategy as the bulk scheduler sees it: what
 * becomes of its slot (outcome: missed, taken, closed, decide or left),
 * what its run read and evaluated, and the ids its records will have.
 */
CREATE TYPE pgtrade.run_probe AS (
	strategy_id	bigint,
	slot		timestamptz,
	outcome		text,
	run_id		bigint,
	decision_id	bigint,
	error		text,
	calendar	text,
	hours		text,
	market		jsonb,
	symbol		text,
	bar_size	interval,
	bars_wanted	integer,
	bars		integer,
	first_ts	timestamptz,
	last_ts		timestamptz,
	last_close	double precision,
	output		jsonb,
	target		numeric,
	pos			numeric,
	open_qty	numeric,
	place		boolean,
	kind		text,
	params		jsonb
);
COMMENT ON TYPE pgtrade.run_probe IS
	'Internal: one due strategy as the bulk scheduler saw it.';

/*
 * run_probe looks at the due strategies p_ids whose exchange is in zone
 * p_zone (the caller has set the session's zone to it, for the
 * evaluators) and says what each run would record, without recording
 * anything.  p_markets holds each calendar's market_status at p_now.
 * It decides as run_next_due and run_steps do, step for step:
 *   missed	 later than the grace (and no catch-up): a missed run
 *   taken	 the slot already has its run: nothing but the slot's move
 *   closed	 the market is closed by the strategy's market_hours
 *   decide	 a decision that places no order (a hold, or a dry run)
 *   left	 anything else, for run_next_due: an order, a kind of a
 *			 user's, stale bars, an answer it must refuse, a calendar run
 *			 out on a live run, a position to size (size_target)
 * The positions and open orders are read as position_quantity and
 * open_quantity read them.  The ids of the run and the decision are
 * drawn here so that the caller can write its rows without joins.
 */
CREATE FUNCTION pgtrade.run_probe(p_ids bigint[], p_zone text,
	p_now timestamptz, p_markets jsonb)
RETURNS SETOF pgtrade.run_probe
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_live boolean := p_now >= clock_timestamp() - interval '1 day';
BEGIN
	RETURN QUERY
	SELECT s.strategy_id, s.next_run_at, o.outcome,
		CASE WHEN o.outcome IN ('missed', 'closed', 'decide')
			THEN nextval('pgtrade.workflow_run_run_id_seq') END,
		CASE WHEN o.outcome = 'decide'
			THEN nextval('pgtrade.decision_decision_id_seq') END,
		CASE o.outcome
			WHEN 'missed' THEN format('started %s after its slot, past the '
				'grace period of %s', p_now - s.next_run_at, s.grace)
			WHEN 'closed' THEN 'market closed: ' || (m.market ->> 'reason') END,
		i.calendar, h.hours, m.market, i.symbol, s.bar_size,
		s.bars_needed * 2, b.n, b.ts[1], b.ts[b.n], b.c[b.n], e.output,
		v.target, pq.pos, pq.open_qty, v.place, s.kind, s.params
	FROM pgtrade.strategy s
	JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
	JOIN pgtrade.strategy_kind k ON k.name = s.kind
	CROSS JOIN LATERAL (
		SELECT coalesce(s.market_hours,
			CASE WHEN s.bar_size >= interval '1 day' THEN 'trading_day'
				 ELSE 'open' END) AS hours) h
	CROSS JOIN LATERAL (
		SELECT CASE WHEN i.calendar IS NOT NULL AND h.hours <> 'always'
			THEN p_markets -> i.calendar END AS market) m
	/*
	 * OFFSET 0 keeps a subquery whole, so that what it computes is
	 * computed once a row, not again wherever its columns are used.
	 *
	 * May it go ahead: the order of run_next_due and run_market_step.
	 */
	CROSS JOIN LATERAL (
		SELECT CASE
			WHEN EXISTS (
				SELECT 1 FROM pgtrade.workflow_run w
				WHERE w.strategy_id = s.strategy_id
					AND w.slot = s.next_run_at AND w.trigger = 'cron')
				THEN 'taken'
			WHEN p_now - s.next_run_at > s.grace AND NOT s.catch_up
				THEN 'missed'
			WHEN m.market IS NULL THEN 'run'
			ELSE CASE CASE h.hours
						  WHEN 'open' THEN m.market -> 'is_open'
						  ELSE m.market -> 'trading_day' END
				WHEN 'true' THEN 'run'
				WHEN 'false' THEN 'closed'
				/* the calendar has run out: run_market_step alerts */
				ELSE CASE WHEN v_live THEN 'left' ELSE 'closed' END
				END
			END AS pre
		OFFSET 0) a
	CROSS JOIN LATERAL (
		SELECT r.ts, r.open AS o, r.high AS h, r.low AS l, r.close AS c,
			   r.volume AS v, r.bars AS n
		/* the bars that had ended by now, as run_steps reads them */
		FROM pgtrade.recent_bars(s.instrument_id, s.bar_size,
			pgtrade.bars_ended_by(p_now, s.bar_size, i.time_zone,
								  i.session_close),
			CASE WHEN a.pre = 'run' AND k.builtin
				THEN s.bars_needed * 2 ELSE 0 END) r) b
	CROSS JOIN LATERAL (
		SELECT coalesce(s.max_bar_age,
			CASE WHEN s.bar_size >= interval '1 day' THEN interval '5 days'
				 ELSE greatest(interval '15 minutes', 3 * s.bar_size) END)
			AS allowed) g
	CROSS JOIN LATERAL (
		SELECT b.n = 0 OR
			CASE WHEN s.bar_size >= interval '1 day'
				THEN ((b.ts[b.n] AT TIME ZONE i.time_zone)::date
					  + i.session_close) AT TIME ZONE i.time_zone
				ELSE b.ts[b.n] + s.bar_size END < p_now - g.allowed
			AS stale) st
	CROSS JOIN LATERAL (
		SELECT CASE WHEN a.pre = 'run' AND k.builtin AND NOT st.stale
			THEN pgtrade.kind_evaluate(k.evaluator, s.params, b.ts, b.o, b.h,
				b.l, b.c, b.v) END AS output
		OFFSET 0) e
	/* run_steps' checks of the answer, without raising */
	CROSS JOIN LATERAL (
		SELECT jsonb_typeof(e.output -> 'target') = 'number' AS numeric_target) t
	CROSS JOIN LATERAL (
		SELECT coalesce(jsonb_typeof(e.output) = 'object'
				AND e.output ? 'target' AND e.output ? 'reason'
				AND CASE WHEN t.numeric_target
					THEN (e.output ->> 'target')::numeric IN (-1, 0, 1)
					ELSE true END, false) AS valid,
			   CASE WHEN t.numeric_target
				   THEN (e.output ->> 'target')::numeric * s.quantity END AS target,
			   p_now >= clock_timestamp() - s.grace AS place) v
	/* position_quantity and open_quantity, taken in */
	CROSS JOIN LATERAL (
		SELECT CASE WHEN v.valid THEN coalesce((
				SELECT ps.quantity FROM pgtrade.position ps
				WHERE ps.account_id = s.account_id
					AND ps.instrument_id = s.instrument_id), 0) END AS pos,
			   CASE WHEN v.valid THEN (
				SELECT coalesce(sum(q.q) FILTER (WHERE q.side = 'buy'), 0)
					   - coalesce(sum(q.q) FILTER (WHERE q.side = 'sell'), 0)
				FROM (SELECT x.side, max(x.q) AS q
					  FROM pgtrade.open_order_rests(s.account_id,
						s.instrument_id, NULL) x
					  GROUP BY x.side, x.grp) q) END AS open_qty
		OFFSET 0) pq
	CROSS JOIN LATERAL (
		SELECT CASE
			WHEN a.pre <> 'run' THEN a.pre
			WHEN NOT k.builtin OR st.stale OR NOT v.valid THEN 'left'
			/* a position to size: run_steps and size_target */
			WHEN s.sizing <> 'fixed' AND coalesce(v.target, 0) <> 0 THEN 'left'
			WHEN coalesce(v.target - pq.pos - pq.open_qty, 0) <> 0 AND v.place
				THEN 'left'
			ELSE 'decide' END AS outcome) o
	WHERE s.strategy_id = ANY (p_ids) AND i.time_zone = p_zone;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_probe(bigint[], text, timestamptz, jsonb)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_probe(bigint[], text, timestamptz, jsonb) IS
	'Internal: what the runs of due strategies of one time zone would '
	'record, recorded nowhere.';

/*
 * run_due_bulk takes up to p_limit due strategies, oldest slot first,
 * and records in a handful of statements the runs that place no order:
 * missed slots, closed markets, and the decisions of built-in kinds that
 * hold (or, in a dry run, would have traded).  What it records is what
 * run_next_due would have recorded, step for step, except that the runs
 * share their timings: each step's times are those of the work done for
 * all of them together.
 *
 * It returns the strategies it took but left, oldest slot first, for
 * run_next_due to run one by one (see run_probe); NULL means none was
 * due.  If anything fails it records nothing and leaves them all, so
 * one strategy's error reaches no other's run.  No order is placed here,
 * so the transaction may commit without waiting for its WAL.  Bitmap
 * scans are off for the reason open_side_quantities gives.
 */
CREATE FUNCTION pgtrade.run_due_bulk(p_now timestamptz, p_limit integer)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
DECLARE
	v_ids bigint[];
	v_rows pgtrade.run_probe[] := '{}';
	v_markets jsonb;
	v_tz text := current_setting('timezone');
	v_zone text;
	v_t0 timestamptz;
	v_t1 timestamptz;
	v_closed bigint;
	v_msg text;
BEGIN
	IF p_now IS NULL OR p_now > clock_timestamp() THEN
		RAISE EXCEPTION 'run_due_bulk takes the time now or earlier, not %', p_now
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT array_agg(p.strategy_id ORDER BY p.next_run_at, p.strategy_id)
	INTO v_ids
	FROM (SELECT s.strategy_id, s.next_run_at FROM pgtrade.strategy s
		  WHERE s.active AND s.next_run_at <= p_now
		  ORDER BY s.next_run_at, s.strategy_id
		  LIMIT p_limit
		  FOR UPDATE SKIP LOCKED) p;
	IF v_ids IS NULL THEN
		RETURN NULL;
	END IF;

	BEGIN
		v_t0 := clock_timestamp();
		/* each calendar's answer for now, asked once */
		SELECT jsonb_object_agg(c.calendar, to_jsonb(m)) INTO v_markets
		FROM (SELECT DISTINCT i.calendar
			  FROM pgtrade.strategy s
			  JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
			  WHERE s.strategy_id = ANY (v_ids) AND i.calendar IS NOT NULL) c
		CROSS JOIN LATERAL pgtrade.market_status(c.calendar, p_now) m;
		/* the evaluators run under their exchange's zone, as in run_steps */
		FOR v_zone IN
			SELECT DISTINCT i.time_zone
			FROM pgtrade.strategy s
			JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
			WHERE s.strategy_id = ANY (v_ids)
		LOOP
			PERFORM set_config('timezone', v_zone, true);
			v_rows := v_rows || ARRAY(
				SELECT p FROM pgtrade.run_probe(v_ids, v_zone, p_now,
					v_markets) p);
		END LOOP;
		PERFORM set_config('timezone', v_tz, true);
		v_t1 := clock_timestamp();

		/* the runs; a missed one is finished when recorded */
		INSERT INTO pgtrade.workflow_run (run_id, strategy_id, trigger, slot,
			as_of, status, started_at, finished_at, error)
		OVERRIDING SYSTEM VALUE
		SELECT p.run_id, p.strategy_id, 'cron', p.slot, p_now,
			CASE p.outcome WHEN 'decide' THEN 'succeeded'
						   WHEN 'closed' THEN 'skipped' ELSE 'missed' END,
			CASE p.outcome WHEN 'missed' THEN clock_timestamp() ELSE v_t0 END,
			clock_timestamp(), p.error
		FROM unnest(v_rows) p
		WHERE p.run_id IS NOT NULL;

		/* the decisions, netted as run_decide nets them */
		INSERT INTO pgtrade.decision (decision_id, run_id, strategy_id, as_of,
			action, signal, target_position, position, open_quantity,
			quantity, last_close, confidence, reason, indicators,
			last_bar_ts, bars_used, kind, params)
		OVERRIDING SYSTEM VALUE
		SELECT p.decision_id, p.run_id, p.strategy_id, p_now,
			CASE WHEN n.delta > 0 THEN 'buy' WHEN n.delta < 0 THEN 'sell'
				 ELSE 'hold' END,
			p.output ->> 'signal', p.target, p.pos, p.open_qty, abs(n.delta),
			p.last_close, NULL,
			pgtrade.decision_reason(p.output ->> 'reason', p.target, p.pos,
				p.open_qty, p.place),
			p.output -> 'values', p.last_ts, p.bars, p.kind, p.params
		FROM unnest(v_rows) p
		CROSS JOIN LATERAL (
			SELECT coalesce(p.target - p.pos - p.open_qty, 0) AS delta) n
		WHERE p.outcome = 'decide';

		/* the steps of run_steps: 0 market_hours, 1 load_bars, 2 evaluate */
		INSERT INTO pgtrade.workflow_step (run_id, step_no, name, started_at,
			finished_at, input, output)
		SELECT p.run_id, st.no, st.name, v_t0, v_t1, st.input, st.output
		FROM unnest(v_rows) p
		CROSS JOIN LATERAL (VALUES
			(0, 'market_hours',
			 jsonb_build_object('calendar', p.calendar,
				'market_hours', p.hours, 'as_of', p_now),
			 jsonb_build_object('open', p.market -> 'is_open',
				'trading_day', p.market -> 'trading_day',
				'opens', p.market -> 'opens', 'closes', p.market -> 'closes',
				'reason', p.market -> 'reason')),
			(1, 'load_bars',
			 jsonb_build_object('symbol', p.symbol, 'bar_size',
				p.bar_size::text, 'as_of', p_now,
				'bars_wanted', p.bars_wanted),
			 jsonb_build_object('bars', p.bars, 'first_ts', p.first_ts,
				'last_ts', p.last_ts, 'last_close', p.last_close)),
			(2, 'evaluate',
			 jsonb_build_object('kind', p.kind, 'params', p.params,
				'bars', p.bars),
			 p.output)) st(no, name, input, output)
		WHERE p.outcome IN ('closed', 'decide')
			AND CASE st.no WHEN 0 THEN p.market IS NOT NULL
						   ELSE p.outcome = 'decide' END;
		/* and 3 decide, from the decisions as written */
		INSERT INTO pgtrade.workflow_step (run_id, step_no, name, started_at,
			finished_at, input, output)
		SELECT d.run_id, 3, 'decide', v_t1, clock_timestamp(),
			jsonb_build_object('target_position', d.target_position,
				'position', d.position, 'open_orders', d.open_quantity),
			jsonb_build_object('decision_id', d.decision_id,
				'action', d.action, 'quantity', d.quantity,
				'reason', d.reason)
		FROM pgtrade.decision d
		WHERE d.decision_id = ANY (ARRAY(
			SELECT p.decision_id FROM unnest(v_rows) p
			WHERE p.decision_id IS NOT NULL));

		UPDATE pgtrade.strategy s
		SET next_run_at = coalesce(pgtrade.cron_next(s.schedule,
			greatest(p_now, p.slot), s.time_zone), 'infinity')
		FROM unnest(v_rows) p
		WHERE s.strategy_id = p.strategy_id AND p.outcome <> 'left';
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT;
		RAISE LOG 'pgtrade: % due strategies could not be run together (%); '
			'running them one by one', cardinality(v_ids), v_msg;
		RETURN v_ids;
	END;

	/* a closed market is routine: one line per tick, not per run */
	v_closed := (SELECT count(*) FROM unnest(v_rows) p
				 WHERE p.outcome = 'closed');
	IF v_closed > 0 THEN
		RAISE LOG 'pgtrade: % runs skipped at %: market closed', v_closed, p_now;
	END IF;
	PERFORM set_config('synchronous_commit', 'off', true);
	RETURN (SELECT coalesce(array_agg(p.strategy_id ORDER BY p.slot,
								p.strategy_id), '{}')
			FROM unnest(v_rows) p WHERE p.outcome = 'left');
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_due_bulk(timestamptz, integer) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_due_bulk(timestamptz, integer) IS
	'Internal: records together the due runs that place no order, and '
	'returns the strategies left to run one by one.';

/*
 * run_due carries no SET clause: a procedure with one cannot commit.
 * Everything it calls is schema-qualified instead.
 */
CREATE PROCEDURE pgtrade.run_due(now timestamptz DEFAULT NULL)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz := coalesce(run_due.now, pg_catalog.clock_timestamp());
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_left bigint[];
	v_id bigint;
BEGIN
	/*
	 * A time ahead of the clock would run slots early, on bars that have
	 * not ended, and use them up: refused.
	 */
	IF v_now > pg_catalog.clock_timestamp() THEN
		RAISE EXCEPTION 'run_due cannot run ahead of the clock'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('now %s, clock %s.', v_now,
						pg_catalog.clock_timestamp());
	END IF;
	/*
	 * Every strategy due, however many, for up to 50 seconds; what is
	 * left then waits for the next call, oldest slot first.  The runs
	 * that place no order are recorded 500 at a time; the rest, one by
	 * one straight after, each committed on its own.
	 */
	WHILE pg_catalog.clock_timestamp() < v_started + interval '50 seconds'
	LOOP
		v_left := pgtrade.run_due_bulk(v_now, 500);
		COMMIT;
		EXIT WHEN v_left IS NULL;
		FOREACH v_id IN ARRAY v_left LOOP
			PERFORM pgtrade.run_next_due(v_now, v_id);
			COMMIT;
		END LOOP;
	END LOOP;
END
$$;
COMMENT ON PROCEDURE pgtrade.run_due(timestamptz) IS
	'pg_cron''s entry point: runs every strategy due at now (default: the '
	'clock), committing after each so one strategy''s failure or slowness '
	'cannot undo another''s orders.';
/*
 * 85_performance.sql: a strategy's daily performance, computed from its
 * fills and the daily bars.
 *
 * A strategy owns its account's position in its instrument (one strategy
 * per account and instrument), so its P&L is that position's: the fills
 * that count (corrections settled), replayed in the order they first
 * arrived with position_step, grouped by session date in the exchange's
 * time zone, and marked to each session's close.
 */

CREATE FUNCTION pgtrade.strategy_performance(strategy text)
RETURNS TABLE (day date, trades integer, net_position numeric,
	realized_pnl numeric, cumulative_realized numeric,
	unrealized_pnl numeric, equity numeric, drawdown numeric)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_s pgtrade.strategy;
	v_tz text;
	v_pos record;
	v_f record;
	v_day record;
	v_peak numeric;
	/* after each fill, in order: its session day and the position */
	v_fday date[] := '{}';
	v_freal numeric[] := '{}';
	v_fqty numeric[] := '{}';
	v_fcost numeric[] := '{}';
	v_order integer[];
	v_n integer := 0;
	v_j integer := 0;
	v_k integer := 0;
	v_before numeric := 0;
BEGIN
	SELECT * INTO v_s FROM pgtrade.strategy s
	WHERE s.name = strategy_performance.strategy;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy "%" does not exist',
			strategy_performance.strategy
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_s.account_id);
	SELECT i.time_zone INTO v_tz FROM pgtrade.instrument i
	WHERE i.instrument_id = v_s.instrument_id;

	/* the fills replayed in memory: no table, so it runs read-only too */
	SELECT 0::numeric AS quantity, NULL::numeric AS avg_cost,
		   0::numeric AS realized_pnl INTO v_pos;
	FOR v_f IN
		SELECT f.side, f.quantity, f.price, f.fill_id,
			   (f.trade_time AT TIME ZONE v_tz)::date AS day
		FROM pgtrade.fill f
		WHERE f.account_id = v_s.account_id
			AND f.instrument_id = v_s.instrument_id
			AND pgtrade.fill_is_effective(f.execution_id)
		ORDER BY (SELECT min(g.fill_id) FROM pgtrade.fill g
				  WHERE g.execution_base = f.execution_base), f.fill_id
	LOOP
		v_pos := pgtrade.position_step(v_pos.quantity, v_pos.avg_cost,
									   v_pos.realized_pnl, v_f.side,
									   v_f.quantity, v_f.price);
		v_n := v_n + 1;
		v_fday[v_n] := v_f.day;
		v_freal[v_n] := v_pos.realized_pnl;
		v_fqty[v_n] := v_pos.quantity;
		v_fcost[v_n] := v_pos.avg_cost;
	END LOOP;
	IF v_n = 0 THEN
		RETURN;
	END IF;

	/*
	 * Every session with a daily bar from the first fill's day on, and
	 * every fill's day, each marked with the position after the last
	 * fill (in the order they arrived) among those traded by that day.
	 * A late report can bring a fill of an earlier day, so the fills are
	 * walked in the order of their days, keeping the latest arrival.
	 */
	SELECT array_agg(k ORDER BY v_fday[k], k) INTO v_order
	FROM generate_subscripts(v_fday, 1) k;
	v_peak := NULL;
	FOR v_day IN
		SELECT d.day, max(d.close) AS close
		FROM (SELECT (b.ts AT TIME ZONE v_tz)::date AS day, b.close
			  FROM pgtrade.bar b
			  WHERE b.instrument_id = v_s.instrument_id
				AND b.bar_size = interval '1 day'
				AND (b.ts AT TIME ZONE v_tz)::date >= v_fday[v_order[1]]
			  UNION ALL
			  SELECT u.day, NULL FROM unnest(v_fday) u(day)) d
		GROUP BY d.day
		ORDER BY d.day
	LOOP
		trades := 0;
		WHILE v_j < v_n AND v_fday[v_order[v_j + 1]] <= v_day.day LOOP
			v_j := v_j + 1;
			v_k := greatest(v_k, v_order[v_j]);
			IF v_fday[v_order[v_j]] = v_day.day THEN
				trades := trades + 1;
			END IF;
		END LOOP;
		day := v_day.day;
		net_position := v_fqty[v_k];
		cumulative_realized := v_freal[v_k];
		realized_pnl := cumulative_realized - v_before;
		v_before := cumulative_realized;
		unrealized_pnl := CASE WHEN net_position = 0 THEN 0
			ELSE net_position * (v_day.close::numeric - v_fcost[v_k]) END;
		equity := cumulative_realized + unrealized_pnl;
		v_peak := greatest(v_peak, equity);
		drawdown := equity - v_peak;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.strategy_performance(text) IS
	'A strategy''s daily performance from its fills and daily closes: '
	'trades, net position, realized P&L of the day and to date, '
	'unrealized P&L at the close, equity (realized + unrealized, before '
	'commissions) and drawdown from the running peak.';
/*
 * 87_backtest.sql: backtests that run a strategy's own evaluator over
 * stored bars, and sweeps of its parameters.
 *
 * A backtest decides at each bar's close from the bars that had ended by
 * then (the newest bars_needed x 2, as a live run loads them), through
 * evaluate_kind, kind_target and size_target as a live run does, and
 * fills what it decides at the next bar's open, priced as paper trading
 * prices (paper_price: slippage, rounded to the tick against the
 * trader), with a commission per unit.  It touches no order, fill or
 * position: it writes only its own tables, and only when asked to keep
 * its result.
 *
 * Each order a backtest would place meets the risk gate's own checks
 * (risk_check) against the account's risk limits as they stand now and
 * a simulated account: the backtest's position, average cost and P&L,
 * the close it decides at as the mark, and the orders it placed that
 * trading day.  A refused order is not filled and the next close decides
 * again, as a live run would.
 */

CREATE TABLE pgtrade.backtest (
	backtest_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	strategy_id		bigint NOT NULL REFERENCES pgtrade.strategy,
	kind			text NOT NULL,
	params			jsonb NOT NULL,
	sizing			text NOT NULL,
	from_ts			timestamptz NOT NULL,
	to_ts			timestamptz NOT NULL,
	capital			numeric NOT NULL,
	commission		numeric NOT NULL,
	slippage_bps	numeric NOT NULL,
	bars			integer NOT NULL,
	trades			integer NOT NULL,
	refused			integer NOT NULL DEFAULT 0,
	risk			boolean NOT NULL DEFAULT true,
	final_equity	numeric NOT NULL,
	total_return	numeric NOT NULL,
	cagr			numeric,
	sharpe			double precision,
	sortino			double precision,
	max_drawdown	numeric NOT NULL,
	drawdown_peak	timestamptz,
	drawdown_trough	timestamptz,
	win_rate		numeric,
	profit_factor	numeric,
	exposure		numeric NOT NULL,
	created_by		name NOT NULL DEFAULT session_user,
	created_at		timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtrade.backtest IS
	'Backtests kept with store => true: what was tested and its summary.';
COMMENT ON COLUMN pgtrade.backtest.refused IS
	'Orders the risk limits refused (they were not filled).';
COMMENT ON COLUMN pgtrade.backtest.risk IS
	'Whether the account''s risk limits were applied.';

CREATE TABLE pgtrade.backtest_trade (
	backtest_id		bigint NOT NULL
					REFERENCES pgtrade.backtest ON DELETE CASCADE,
	trade_no		integer NOT NULL,
	decided_at		timestamptz NOT NULL,
	filled_at		timestamptz NOT NULL,
	side			text NOT NULL CHECK (side IN ('buy', 'sell')),
	quantity		numeric NOT NULL CHECK (quantity > 0),
	price			numeric NOT NULL,
	commission		numeric NOT NULL,
	position		numeric NOT NULL,
	realized_pnl	numeric NOT NULL,
	PRIMARY KEY (backtest_id, trade_no)
);
COMMENT ON TABLE pgtrade.backtest_trade IS
	'A kept backtest''s fills: decided at a bar''s close, filled at the '
	'next bar''s open; realized_pnl is what the fill realized, less its '
	'commission.';

CREATE TABLE pgtrade.backtest_decision (
	backtest_id		bigint NOT NULL
					REFERENCES pgtrade.backtest ON DELETE CASCADE,
	as_of			timestamptz NOT NULL,
	target			numeric,
	target_position	numeric,
	position		numeric NOT NULL,
	evaluation		jsonb NOT NULL,
	risk_verdict	jsonb,
	PRIMARY KEY (backtest_id, as_of)
);
COMMENT ON TABLE pgtrade.backtest_decision IS
	'A kept backtest''s decisions, one per bar close: the evaluator''s '
	'answer as a live run records it in its evaluate step.';
COMMENT ON COLUMN pgtrade.backtest_decision.risk_verdict IS
	'The risk checks'' verdict on the order this close decided, as the '
	'gate records it in orders.risk_verdict; NULL when no order.';

/* kept backtests are the users' data: pg_dump keeps them */
SELECT pg_catalog.pg_extension_config_dump('pgtrade.backtest', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.backtest_backtest_id_seq',
	'');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.backtest_trade', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.backtest_decision', '');

/*
 * backtest_sma_cross_engine is backtest's loop for sma_cross with fixed
 * sizing, in C (backtest_sql.c): the same decisions, fills, checks and
 * figures, Sharpe and Sortino to rounding.  first and last are the
 * 1-based indexes of the closes within the period; the trades come back
 * as arrays of bar indexes and numerics.  NULL when the closes are too
 * large for it, for the PL/pgSQL loop to take over.
 */
CREATE FUNCTION pgtrade.backtest_sma_cross_engine(p_s pgtrade.strategy,
	fast integer, slow integer, bars_window integer, ts timestamptz[],
	open double precision[], close double precision[], first integer,
	last integer, capital numeric, quantity numeric, commission numeric,
	slippage_bps numeric, tick_size numeric,
	periods_per_year double precision, risk boolean, account_zone text,
	OUT bars integer, OUT in_market integer, OUT refused integer,
	OUT final_equity numeric, OUT max_drawdown numeric,
	OUT peak_at integer, OUT trough_at integer,
	OUT sharpe double precision, OUT sortino double precision,
	OUT wins integer, OUT closes integer, OUT gain numeric,
	OUT loss numeric, OUT decided integer[], OUT filled integer[],
	OUT quantities numeric[], OUT prices numeric[], OUT fees numeric[],
	OUT positions numeric[], OUT pnls numeric[])
AS 'MODULE_PATHNAME', 'pgtrade_backtest_sma_cross_engine'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION pgtrade.backtest_sma_cross_engine(pgtrade.strategy,
	integer, integer, integer, timestamptz[], double precision[],
	double precision[], integer, integer, numeric, numeric, numeric,
	numeric, numeric, double precision, boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.backtest_sma_cross_engine(pgtrade.strategy,
	integer, integer, integer, timestamptz[], double precision[],
	double precision[], integer, integer, numeric, numeric, numeric,
	numeric, numeric, double precision, boolean, text) IS
	'Internal to backtest: its loop for sma_cross with fixed sizing, in C.';

/*
 * backtest_kind_engine is the same for the built-in kinds other than
 * sma_cross: each close is decided by the kind's own evaluation over the
 * window a live run loads, in C, without its JSON answer.
 */
CREATE FUNCTION pgtrade.backtest_kind_engine(p_s pgtrade.strategy,
	kind text, params jsonb, bars_window integer, ts timestamptz[],
	open double precision[], high double precision[],
	low double precision[], close double precision[], first integer,
	last integer, capital numeric, quantity numeric, commission numeric,
	slippage_bps numeric, tick_size numeric,
	periods_per_year double precision, risk boolean, account_zone text,
	OUT bars integer, OUT in_market integer, OUT refused integer,
	OUT final_equity numeric, OUT max_drawdown numeric,
	OUT peak_at integer, OUT trough_at integer,
	OUT sharpe double precision, OUT sortino double precision,
	OUT wins integer, OUT closes integer, OUT gain numeric,
	OUT loss numeric, OUT decided integer[], OUT filled integer[],
	OUT quantities numeric[], OUT prices numeric[], OUT fees numeric[],
	OUT positions numeric[], OUT pnls numeric[])
AS 'MODULE_PATHNAME', 'pgtrade_backtest_kind_engine'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION pgtrade.backtest_kind_engine(pgtrade.strategy, text,
	jsonb, integer, timestamptz[], double precision[], double precision[],
	double precision[], double precision[], integer, integer, numeric,
	numeric, numeric, numeric, numeric, double precision, boolean, text)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.backtest_kind_engine(pgtrade.strategy, text,
	jsonb, integer, timestamptz[], double precision[], double precision[],
	double precision[], double precision[], integer, integer, numeric,
	numeric, numeric, numeric, numeric, double precision, boolean, text) IS
	'Internal to backtest: its loop for the other built-in kinds with '
	'fixed sizing, in C.';

/*
 * backtest_order_check puts the order a backtest would place at the
 * close of the bar starting p_ts to the risk checks, against the
 * simulated account: the position, average cost and realized P&L so
 * far; the trading day (account time zone) of the last fill and the
 * realized P&L that day began with; the day of the last order that
 * passed and how many passed that day.  The order is the one run_decide
 * would insert: the strategy's order type, a limit offset from the close.
 * Returns whether it passes, the decision's trading day, and the verdict.
 */
CREATE FUNCTION pgtrade.backtest_order_check(p_s pgtrade.strategy,
	p_side text, p_quantity numeric, p_close double precision,
	p_position numeric, p_avg_cost numeric, p_realized numeric,
	p_fill_day date, p_fill_day_realized numeric, p_order_day date,
	p_order_day_orders integer, p_ts timestamptz,
	OUT passed boolean, OUT day date, OUT verdict jsonb)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_order pgtrade.orders;
	v_at timestamptz;
	v_mark numeric := p_close::numeric;
	v_tick numeric;
BEGIN
	SELECT pgtrade.bar_end(p_ts, p_s.bar_size, i.time_zone, i.session_close),
		   (pgtrade.bar_end(p_ts, p_s.bar_size, i.time_zone, i.session_close)
			AT TIME ZONE a.time_zone)::date, i.tick_size
	INTO STRICT v_at, day, v_tick
	FROM pgtrade.instrument i, pgtrade.account a
	WHERE i.instrument_id = p_s.instrument_id
		AND a.account_id = p_s.account_id;
	v_order.account_id := p_s.account_id;
	v_order.instrument_id := p_s.instrument_id;
	v_order.strategy_id := p_s.strategy_id;
	v_order.side := p_side;
	v_order.quantity := p_quantity;
	v_order.filled_quantity := 0;
	v_order.order_type := p_s.order_type;
	/* the limit price as the gate rounds it: away from the market */
	IF p_s.order_type = 'limit' THEN
		v_order.limit_price := v_mark + CASE p_side
			WHEN 'buy' THEN p_s.limit_offset ELSE -p_s.limit_offset END;
		v_order.limit_price := pgtrade.tick_price(p_side, 'limit',
			v_order.limit_price, v_tick);
		IF v_order.limit_price <= 0 THEN
			passed := false;
			verdict := jsonb_build_object('passed', false, 'reason',
				format('order price rounds to zero at tick size %s', v_tick),
				'simulated', true, 'at', v_at);
			RETURN;
		END IF;
	END IF;
	verdict := pgtrade.risk_check(v_order, false, NULL, false,
		jsonb_build_object('position', p_position, 'open_buys', 0,
			'open_sells', 0, 'mark', v_mark, 'open_orders', 0,
			'orders_today', CASE WHEN p_order_day = day
				THEN p_order_day_orders ELSE 0 END,
			'day_realized', CASE WHEN p_fill_day = day
				THEN p_realized - p_fill_day_realized ELSE 0 END,
			'day_unrealized', CASE WHEN p_position <> 0
				THEN p_position * (v_mark - p_avg_cost) ELSE 0 END,
			'at', v_at));
	passed := (verdict ->> 'passed')::boolean;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.backtest_order_check(pgtrade.strategy, text,
	numeric, double precision, numeric, numeric, numeric, date, numeric,
	date, integer, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.backtest_order_check(pgtrade.strategy, text,
	numeric, double precision, numeric, numeric, numeric, date, numeric,
	date, integer, timestamptz) IS
	'Internal to backtests: the risk checks'' verdict on the order a '
	'backtest would place, against its simulated account.';

/*
 * backtest runs one strategy (with other params, when given) from
 * from_ts to to_ts, instants compared with the bars' closes: decisions
 * at the closes within, fills at the next opens of bars that close
 * within (what the last close decides is not filled).  capital
 * defaults to the strategy's, else 100,000.  It returns the summary and
 * the trades (as JSON); with store => true it keeps them, with the
 * decisions, and returns the id.  risk => false leaves the risk limits
 * out.
 */
CREATE FUNCTION pgtrade.backtest_run(strategy text, from_ts timestamptz,
	to_ts timestamptz, capital numeric DEFAULT NULL,
	commission numeric DEFAULT 0, slippage_bps numeric DEFAULT 0,
	params jsonb DEFAULT NULL, store boolean DEFAULT false,
	risk boolean DEFAULT true, bar_ts timestamptz[] DEFAULT NULL,
	bar_open double precision[] DEFAULT NULL,
	bar_high double precision[] DEFAULT NULL,
	bar_low double precision[] DEFAULT NULL,
	bar_close double precision[] DEFAULT NULL,
	bar_volume double precision[] DEFAULT NULL,
	want_trades boolean DEFAULT true)
RETURNS TABLE (backtest_id bigint, bars integer, trades integer,
	refused integer, final_equity numeric, total_return numeric, cagr numeric,
	sharpe double precision, sortino double precision,
	max_drawdown numeric, drawdown_peak timestamptz,
	drawdown_trough timestamptz, win_rate numeric, profit_factor numeric,
	exposure numeric, trade_list jsonb)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_s pgtrade.strategy;
	v_inst pgtrade.instrument;
	v_kind pgtrade.strategy_kind;
	v_ts timestamptz[];
	v_o float8[];
	v_h float8[];
	v_l float8[];
	v_c float8[];
	v_v float8[];
	v_n integer;
	v_window integer;
	v_lo integer;
	v_w_ts timestamptz[];
	v_w_o float8[];
	v_w_h float8[];
	v_w_l float8[];
	v_w_c float8[];
	v_w_v float8[];
	v_end timestamptz;
	v_out jsonb;
	v_target numeric;
	v_tpos numeric;
	v_cash numeric;
	v_pos numeric := 0;
	v_avg numeric;
	v_real numeric := 0;
	v_step record;
	v_pending numeric := 0;
	v_pending_at timestamptz;
	v_price numeric;
	v_fee numeric;
	v_side text;
	v_equity numeric;
	v_prev_equity numeric;
	v_peak numeric;
	v_peak_at timestamptz;
	v_first timestamptz;
	v_last timestamptz;
	v_returns float8[] := '{}';
	v_in_market integer := 0;
	v_bars integer := 0;
	v_pnl numeric;
	v_wins integer := 0;
	v_closes integer := 0;
	v_gain numeric := 0;
	v_loss numeric := 0;
	v_trades jsonb[] := '{}';
	v_ntrades integer := 0;
	v_started timestamptz := clock_timestamp();
	v_noted timestamptz;
	v_d_as_of timestamptz[] := '{}';
	v_d_target numeric[] := '{}';
	v_d_tpos numeric[] := '{}';
	v_d_pos numeric[] := '{}';
	v_d_eval jsonb[] := '{}';
	v_d_verdict jsonb[] := '{}';
	v_ppy float8;
	v_years float8;
	v_caller name;
	v_check record;
	v_verdict jsonb;
	v_acct_tz text;
	v_day date;
	v_fill_day date;
	v_day_real numeric := 0;
	v_order_day date;
	v_day_orders integer := 0;
	v_refused integer := 0;
	v_e record;
	v_engine boolean := false;
	v_own boolean;
	v_lo_i integer;
	v_hi_i integer;
	v_mid integer;
	v_first_i integer;
	v_last_i integer;
	i integer;
BEGIN
	SELECT * INTO v_s FROM pgtrade.strategy s WHERE s.name = strategy;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy "%" does not exist', strategy
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_s.account_id);
	IF risk IS NULL OR store IS NULL THEN
		RAISE EXCEPTION 'risk and store must be true or false'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF from_ts IS NULL OR to_ts IS NULL OR NOT isfinite(from_ts)
		OR NOT isfinite(to_ts) OR from_ts > to_ts THEN
		RAISE EXCEPTION 'a backtest needs finite from_ts <= to_ts'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* NOT (...) also refuses NaN, which no comparison holds for */
	IF NOT coalesce(commission >= 0 AND commission < 1e6, false)
		OR NOT coalesce(slippage_bps >= 0 AND slippage_bps <= 1000, false)
		OR NOT coalesce(capital > 0 AND capital < 1e15, capital IS NULL) THEN
		RAISE EXCEPTION 'a backtest needs a commission from 0 to 1e6 a unit, '
			'slippage from 0 to 1000 basis points and capital above 0 and '
			'below 1e15'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* only a role that may read kept backtests may keep one */
	v_caller := pgtrade.caller_role();
	IF store AND NOT has_table_privilege(v_caller, 'pgtrade.backtest',
										 'SELECT') THEN
		RAISE EXCEPTION 'role "%" may not keep backtests', v_caller
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Traders and admins may; call it with store => false.';
	END IF;
	IF params IS NOT NULL THEN
		v_s.params := params;
		v_s.bars_needed := pgtrade.strategy_kind_validate(v_s.kind, params);
		IF v_s.sizing = 'risk' THEN
			v_s.bars_needed := greatest(v_s.bars_needed, v_s.atr_period + 1);
		END IF;
	END IF;
	v_s.capital := coalesce(capital, v_s.capital, 100000);
	SELECT * INTO STRICT v_inst FROM pgtrade.instrument i
	WHERE i.instrument_id = v_s.instrument_id;
	SELECT * INTO STRICT v_kind FROM pgtrade.strategy_kind k
	WHERE k.name = v_s.kind;
	SELECT a.time_zone INTO STRICT v_acct_tz FROM pgtrade.account a
	WHERE a.account_id = v_s.account_id;

	/*
	 * every bar up to to_ts, by one scan of the key (or as a sweep read
	 * them once for all its backtests): those before from_ts warm the
	 * indicators
	 */
	IF bar_ts IS NULL THEN
		SELECT r.ts, r.open, r.high, r.low, r.close, r.volume
		INTO v_ts, v_o, v_h, v_l, v_c, v_v
		FROM pgtrade.recent_bars(v_s.instrument_id, v_s.bar_size,
			to_ts + interval '1 microsecond', 2147483647) r;
	ELSE
		v_ts := bar_ts;
		v_o := bar_open;
		v_h := bar_high;
		v_l := bar_low;
		v_c := bar_close;
		v_v := bar_volume;
	END IF;
	v_n := coalesce(cardinality(v_ts), 0);
	v_window := v_s.bars_needed * 2;
	v_cash := v_s.capital;
	v_peak := v_s.capital;
	/* periods a year, for Sharpe and Sortino: sessions, or bars in them */
	v_ppy := CASE WHEN v_s.bar_size >= interval '1 day' THEN 252
		ELSE 252 * extract(epoch FROM v_inst.session_close - v_inst.session_open)
			 / extract(epoch FROM v_s.bar_size) END;

	/*
	 * The closes within the period, found by bisection (a bar's end grows
	 * with its start): v_first_i the first bar ending at or after from_ts,
	 * v_last_i the last ending by to_ts.
	 */
	v_lo_i := 1;
	v_hi_i := v_n + 1;
	WHILE v_lo_i < v_hi_i LOOP
		v_mid := (v_lo_i + v_hi_i) / 2;
		IF pgtrade.bar_end(v_ts[v_mid], v_s.bar_size, v_inst.time_zone,
						   v_inst.session_close) < from_ts THEN
			v_lo_i := v_mid + 1;
		ELSE
			v_hi_i := v_mid;
		END IF;
	END LOOP;
	v_first_i := v_lo_i;
	v_hi_i := v_n + 1;
	WHILE v_lo_i < v_hi_i LOOP
		v_mid := (v_lo_i + v_hi_i) / 2;
		IF pgtrade.bar_end(v_ts[v_mid], v_s.bar_size, v_inst.time_zone,
						   v_inst.session_close) <= to_ts THEN
			v_lo_i := v_mid + 1;
		ELSE
			v_hi_i := v_mid;
		END IF;
	END LOOP;
	v_last_i := v_lo_i - 1;

	/*
	 * The built-in kinds with fixed sizing run in C when nothing is kept,
	 * as long as the kind's evaluator is still its own; the loop below
	 * is left to the rest.
	 */
	v_own := v_kind.builtin AND v_kind.evaluator = to_regprocedure(format(
		'pgtrade.%s_eval(jsonb, timestamptz[], float8[], float8[], float8[], '
		'float8[], float8[])', v_s.kind));
	IF NOT store AND v_s.sizing = 'fixed' AND v_n > 0 AND v_own
		AND v_s.kind <> 'sma_cross' THEN
		v_e := pgtrade.backtest_kind_engine(v_s, v_s.kind, v_s.params,
			v_window, v_ts, v_o, v_h, v_l, v_c, v_first_i, v_last_i,
			v_s.capital, v_s.quantity, commission, slippage_bps,
			v_inst.tick_size, v_ppy, risk, v_acct_tz);
		v_engine := v_e.bars IS NOT NULL;
	END IF;
	IF NOT store AND v_s.kind = 'sma_cross' AND v_s.sizing = 'fixed'
		AND v_n > 0 AND v_own THEN
		v_e := pgtrade.backtest_sma_cross_engine(v_s,
			(v_s.params ->> 'fast')::numeric::integer,
			(v_s.params ->> 'slow')::numeric::integer,
			v_window, v_ts, v_o, v_c, v_first_i, v_last_i, v_s.capital,
			v_s.quantity, commission, slippage_bps, v_inst.tick_size, v_ppy,
			risk, v_acct_tz);
		v_engine := v_e.bars IS NOT NULL;
	END IF;
	IF v_engine THEN
		v_bars := v_e.bars;
		v_in_market := v_e.in_market;
		v_refused := v_e.refused;
		IF v_bars > 0 THEN
			v_prev_equity := v_e.final_equity;
			v_first := pgtrade.bar_end(v_ts[v_first_i], v_s.bar_size,
				v_inst.time_zone, v_inst.session_close);
			v_last := pgtrade.bar_end(v_ts[v_first_i + v_bars - 1],
				v_s.bar_size, v_inst.time_zone, v_inst.session_close);
			max_drawdown := v_e.max_drawdown;
			drawdown_peak := pgtrade.bar_end(v_ts[v_e.peak_at], v_s.bar_size,
				v_inst.time_zone, v_inst.session_close);
			drawdown_trough := pgtrade.bar_end(v_ts[v_e.trough_at],
				v_s.bar_size, v_inst.time_zone, v_inst.session_close);
		END IF;
		v_wins := v_e.wins;
		v_closes := v_e.closes;
		v_gain := v_e.gain;
		v_loss := v_e.loss;
		v_ntrades := cardinality(v_e.filled);
		v_trades := CASE WHEN want_trades THEN coalesce((
			SELECT array_agg(jsonb_build_object('decided_at',
				pgtrade.bar_end(v_ts[t.d], v_s.bar_size, v_inst.time_zone,
								v_inst.session_close),
				'filled_at', v_ts[t.f],
				'side', CASE WHEN t.q > 0 THEN 'buy' ELSE 'sell' END,
				'quantity', abs(t.q), 'price', t.p, 'commission', t.c,
				'position', t.pos, 'realized_pnl', t.pnl) ORDER BY t.n)
			FROM unnest(v_e.decided, v_e.filled, v_e.quantities, v_e.prices,
				v_e.fees, v_e.positions, v_e.pnls)
				WITH ORDINALITY t(d, f, q, p, c, pos, pnl, n)), '{}') END;
		sharpe := v_e.sharpe;
		sortino := v_e.sortino;
		v_n := 0;
	END IF;

	/*
	 * The loop starts at the first close: before it nothing is decided,
	 * so nothing fills.  The window a live run would load moves with it,
	 * a bar in and a bar out at each close: slicing the whole series
	 * each time would copy all of it, as PL/pgSQL keeps arrays expanded.
	 */
	v_lo := greatest(1, v_first_i - v_window + 1);
	v_w_ts := v_ts[v_lo:v_first_i - 1];
	v_w_o := v_o[v_lo:v_first_i - 1];
	v_w_h := v_h[v_lo:v_first_i - 1];
	v_w_l := v_l[v_lo:v_first_i - 1];
	v_w_c := v_c[v_lo:v_first_i - 1];
	v_w_v := v_v[v_lo:v_first_i - 1];
	FOR i IN v_first_i .. v_n LOOP
		/* a long backtest says how far it is (a sweep, per combination) */
		IF bar_ts IS NULL AND (i - v_first_i) % 256 = 255 THEN
			v_noted := pgtrade.note_progress('backtest', i - v_first_i + 1,
				v_last_i - v_first_i + 1, 'closes', v_started, v_noted);
		END IF;
		v_end := pgtrade.bar_end(v_ts[i], v_s.bar_size, v_inst.time_zone,
								 v_inst.session_close);
		/* a bar that closes after to_ts is outside: nothing fills in it */
		EXIT WHEN v_end > to_ts;
		/* what was decided at the last close fills at this open */
		IF v_pending <> 0 THEN
			v_side := CASE WHEN v_pending > 0 THEN 'buy' ELSE 'sell' END;
			v_price := pgtrade.paper_price(v_side, v_o[i]::numeric,
				slippage_bps, v_inst.tick_size);
			v_fee := abs(v_pending) * commission;
			/* the day's realized P&L starts over on a new trading day */
			v_fill_day := (v_ts[i] AT TIME ZONE v_acct_tz)::date;
			IF v_fill_day IS DISTINCT FROM v_day THEN
				v_day := v_fill_day;
				v_day_real := v_real;
			END IF;
			v_step := pgtrade.position_step(v_pos, v_avg, v_real, v_side,
				abs(v_pending), v_price);
			v_pnl := v_step.realized_pnl - v_real - v_fee;
			/* a fill against the position closes some of it */
			IF v_pos <> 0 AND sign(v_pending) <> sign(v_pos) THEN
				v_closes := v_closes + 1;
				v_wins := v_wins + (v_pnl > 0)::integer;
				v_gain := v_gain + greatest(v_pnl, 0);
				v_loss := v_loss + greatest(-v_pnl, 0);
			END IF;
			v_pos := v_step.quantity;
			v_avg := v_step.avg_cost;
			v_real := v_step.realized_pnl;
			v_cash := v_cash - v_pending * v_price - v_fee;
			v_ntrades := v_ntrades + 1;
			IF want_trades THEN
				v_trades := v_trades || jsonb_build_object('decided_at',
					v_pending_at, 'filled_at', v_ts[i], 'side', v_side,
					'quantity', abs(v_pending), 'price', v_price,
					'commission', v_fee, 'position', v_pos,
					'realized_pnl', v_pnl);
			END IF;
			v_pending := 0;
		END IF;

		CONTINUE WHEN v_end < from_ts;

		/* the close: equity, drawdown, exposure */
		v_bars := v_bars + 1;
		v_equity := v_cash + v_pos * v_c[i]::numeric;
		IF v_prev_equity IS NOT NULL AND v_prev_equity > 0 THEN
			v_returns := v_returns || (v_equity / v_prev_equity - 1)::float8;
		END IF;
		v_prev_equity := v_equity;
		v_first := coalesce(v_first, v_end);
		v_last := v_end;
		/* the peak's time is the last close at it */
		IF v_equity >= v_peak THEN
			v_peak := v_equity;
			v_peak_at := v_end;
		END IF;
		IF max_drawdown IS NULL OR v_equity / v_peak - 1 < max_drawdown THEN
			max_drawdown := v_equity / v_peak - 1;
			drawdown_peak := coalesce(v_peak_at, v_first);
			drawdown_trough := v_end;
		END IF;
		v_in_market := v_in_market + (v_pos <> 0)::integer;

		/* the decision, as a live run makes it at this close */
		v_w_ts := v_w_ts || v_ts[i];
		v_w_o := v_w_o || v_o[i];
		v_w_h := v_w_h || v_h[i];
		v_w_l := v_w_l || v_l[i];
		v_w_c := v_w_c || v_c[i];
		v_w_v := v_w_v || v_v[i];
		IF cardinality(v_w_ts) > v_window THEN
			v_w_ts := v_w_ts[2:];
			v_w_o := v_w_o[2:];
			v_w_h := v_w_h[2:];
			v_w_l := v_w_l[2:];
			v_w_c := v_w_c[2:];
			v_w_v := v_w_v[2:];
		END IF;
		v_out := pgtrade.evaluate_kind(v_kind, v_s.params, v_inst.time_zone,
			v_w_ts, v_w_o, v_w_h, v_w_l, v_w_c, v_w_v);
		v_target := pgtrade.kind_target(v_s.kind, v_out);
		v_tpos := v_pos;
		IF v_target IS NOT NULL THEN
			SELECT z.target_position INTO v_tpos
			FROM pgtrade.size_target(v_s, v_target, v_c[i],
				CASE WHEN v_s.sizing = 'risk' THEN (pgtrade.atr(v_w_h, v_w_l,
					v_w_c, v_s.atr_period))[cardinality(v_w_c)]
					END, v_pos, 0, v_equity) z;
			v_tpos := coalesce(v_tpos, v_pos);
		END IF;
		/*
		 * The order it would place meets the risk checks as the gate
		 * would put them to it at this close.
		 */
		v_verdict := NULL;
		IF v_tpos <> v_pos AND risk THEN
			v_check := pgtrade.backtest_order_check(v_s,
				CASE WHEN v_tpos > v_pos THEN 'buy' ELSE 'sell' END,
				abs(v_tpos - v_pos), v_c[i], v_pos, v_avg, v_real, v_day,
				v_day_real, v_order_day, v_day_orders, v_ts[i]);
			v_verdict := v_check.verdict;
			IF v_check.day IS DISTINCT FROM v_order_day THEN
				v_order_day := v_check.day;
				v_day_orders := 0;
			END IF;
			IF v_check.passed THEN
				v_day_orders := v_day_orders + 1;
			ELSE
				v_refused := v_refused + 1;
			END IF;
		END IF;
		IF store THEN
			v_d_as_of := v_d_as_of || v_end;
			v_d_target := v_d_target || v_target;
			v_d_tpos := v_d_tpos || v_tpos;
			v_d_pos := v_d_pos || v_pos;
			v_d_eval := v_d_eval || v_out;
			v_d_verdict := v_d_verdict || v_verdict;
		END IF;
		/* what the last close decides has no next open: it is not filled */
		IF v_tpos <> v_pos AND coalesce((v_verdict ->> 'passed')::boolean, true)
		THEN
			v_pending := v_tpos - v_pos;
			v_pending_at := v_end;
		END IF;
	END LOOP;

	bars := v_bars;
	IF v_bars = 0 THEN
		RAISE NOTICE 'no % bar of "%" closes between % and %', v_s.bar_size,
			v_inst.symbol, from_ts, to_ts;
	END IF;
	trades := v_ntrades;
	refused := v_refused;
	final_equity := coalesce(v_prev_equity, v_s.capital);
	total_return := final_equity / v_s.capital - 1;
	v_years := extract(epoch FROM v_last - v_first) / (365.25 * 86400);
	IF v_years > 0 AND final_equity > 0 THEN
		cagr := ((final_equity / v_s.capital)::float8 ^ (1 / v_years) - 1)::numeric;
	END IF;
	IF NOT v_engine THEN
		SELECT avg(r) / nullif(stddev_samp(r), 0) * sqrt(v_ppy),
			   avg(r) / nullif(sqrt(avg(least(r, 0) ^ 2)), 0) * sqrt(v_ppy)
		INTO sharpe, sortino
		FROM unnest(v_returns) r;
	END IF;
	max_drawdown := coalesce(max_drawdown, 0);
	win_rate := v_wins::numeric / nullif(v_closes, 0);
	profit_factor := v_gain / nullif(v_loss, 0);
	exposure := v_in_market::numeric / nullif(bars, 0);
	exposure := coalesce(exposure, 0);
	trade_list := CASE WHEN want_trades THEN to_jsonb(v_trades) END;

	IF store THEN
		INSERT INTO pgtrade.backtest AS t (strategy_id, kind, params, sizing,
			from_ts, to_ts, capital, commission, slippage_bps, bars, trades,
			refused, risk, final_equity, total_return, cagr, sharpe, sortino,
			max_drawdown, drawdown_peak, drawdown_trough, win_rate,
			profit_factor, exposure)
		VALUES (v_s.strategy_id, v_s.kind, v_s.params, v_s.sizing, from_ts,
			to_ts, v_s.capital, commission, slippage_bps, bars, trades,
			refused, risk, final_equity, total_return, cagr, sharpe, sortino,
			max_drawdown, drawdown_peak, drawdown_trough, win_rate,
			profit_factor, exposure)
		RETURNING t.backtest_id INTO backtest_id;
		INSERT INTO pgtrade.backtest_trade (backtest_id, trade_no, decided_at,
			filled_at, side, quantity, price, commission, position,
			realized_pnl)
		SELECT backtest_id, x.n, (x.t ->> 'decided_at')::timestamptz,
			(x.t ->> 'filled_at')::timestamptz, x.t ->> 'side',
			(x.t ->> 'quantity')::numeric, (x.t ->> 'price')::numeric,
			(x.t ->> 'commission')::numeric, (x.t ->> 'position')::numeric,
			(x.t ->> 'realized_pnl')::numeric
		FROM unnest(v_trades) WITH ORDINALITY x(t, n);
		INSERT INTO pgtrade.backtest_decision (backtest_id, as_of, target,
			target_position, position, evaluation, risk_verdict)
		SELECT backtest_id, d.*
		FROM unnest(v_d_as_of, v_d_target, v_d_tpos, v_d_pos, v_d_eval,
					v_d_verdict) d;
	END IF;
	RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.backtest_run(text, timestamptz, timestamptz,
	numeric, numeric, numeric, jsonb, boolean, boolean, timestamptz[],
	double precision[], double precision[], double precision[],
	double precision[], double precision[], boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.backtest_run(text, timestamptz, timestamptz,
	numeric, numeric, numeric, jsonb, boolean, boolean, timestamptz[],
	double precision[], double precision[], double precision[],
	double precision[], double precision[], boolean) IS
	'Internal: backtest, over the bars given (a sweep''s, read once) or '
	'read here; want_trades => false leaves the trade list out.';

CREATE FUNCTION pgtrade.backtest(strategy text, from_ts timestamptz,
	to_ts timestamptz, capital numeric DEFAULT NULL,
	commission numeric DEFAULT 0, slippage_bps numeric DEFAULT 0,
	params jsonb DEFAULT NULL, store boolean DEFAULT false,
	risk boolean DEFAULT true)
RETURNS TABLE (backtest_id bigint, bars integer, trades integer,
	refused integer, final_equity numeric, total_return numeric, cagr numeric,
	sharpe double precision, sortino double precision,
	max_drawdown numeric, drawdown_peak timestamptz,
	drawdown_trough timestamptz, win_rate numeric, profit_factor numeric,
	exposure numeric, trade_list jsonb)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY SELECT * FROM pgtrade.backtest_run($1, $2, $3, $4, $5, $6,
		$7, $8, $9);
END
$$;
COMMENT ON FUNCTION pgtrade.backtest(text, timestamptz, timestamptz, numeric,
	numeric, numeric, jsonb, boolean, boolean) IS
	'Backtests a strategy (or its kind with other params) over stored '
	'bars: decisions at each close in [from_ts, to_ts] by its own '
	'evaluator and sizing, orders through the account''s risk limits '
	'(unless risk => false), fills at the next open with slippage (basis '
	'points, rounded to the tick) and a commission per unit; returns the '
	'summary and the trades, and keeps them with store => true.';

/*
 * backtest_sweep backtests every combination of a grid of params: each
 * key of grid holds an array of values, merged into the strategy's
 * params.  One row per combination, in the grid's order.
 */
CREATE FUNCTION pgtrade.backtest_sweep(strategy text, from_ts timestamptz,
	to_ts timestamptz, grid jsonb, capital numeric DEFAULT NULL,
	commission numeric DEFAULT 0, slippage_bps numeric DEFAULT 0,
	risk boolean DEFAULT true)
RETURNS TABLE (params jsonb, bars integer, trades integer,
	refused integer, final_equity numeric, total_return numeric, cagr numeric,
	sharpe double precision, sortino double precision,
	max_drawdown numeric, win_rate numeric, profit_factor numeric,
	exposure numeric)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_base jsonb;
	v_combos jsonb[] := ARRAY['{}'::jsonb];
	v_next jsonb[];
	v_key text;
	v_vals jsonb;
	v_c jsonb;
	v_v jsonb;
	v_i integer := 0;
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_noted timestamptz := v_started;
	v_instrument bigint;
	v_size interval;
	v_ts timestamptz[];
	v_o float8[];
	v_h float8[];
	v_l float8[];
	v_cl float8[];
	v_vol float8[];
BEGIN
	SELECT s.params, s.instrument_id, s.bar_size
	INTO v_base, v_instrument, v_size FROM pgtrade.strategy s
	WHERE s.name = backtest_sweep.strategy;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy "%" does not exist', backtest_sweep.strategy
			USING ERRCODE = 'undefined_object';
	END IF;
	IF grid IS NULL OR jsonb_typeof(grid) <> 'object' THEN
		RAISE EXCEPTION 'grid must be a JSON object of arrays'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR v_key, v_vals IN SELECT g.key, g.value FROM jsonb_each(grid) g LOOP
		IF jsonb_typeof(v_vals) <> 'array' OR jsonb_array_length(v_vals) = 0 THEN
			RAISE EXCEPTION 'grid key "%" must hold a non-empty array', v_key
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_next := '{}';
		FOREACH v_c IN ARRAY v_combos LOOP
			FOR v_v IN SELECT e FROM jsonb_array_elements(v_vals) e LOOP
				v_next := v_next || (v_c || jsonb_build_object(v_key, v_v));
			END LOOP;
		END LOOP;
		v_combos := v_next;
		IF cardinality(v_combos) > 10000 THEN
			RAISE EXCEPTION 'a sweep may try at most 10000 combinations'
				USING ERRCODE = 'program_limit_exceeded';
		END IF;
	END LOOP;
	/* the bars, read once for every combination (backtest_run checks the rest) */
	IF isfinite(from_ts) AND isfinite(to_ts) AND from_ts <= to_ts THEN
		SELECT r.ts, r.open, r.high, r.low, r.close, r.volume
		INTO v_ts, v_o, v_h, v_l, v_cl, v_vol
		FROM pgtrade.recent_bars(v_instrument, v_size,
			to_ts + interval '1 microsecond', 2147483647) r;
	END IF;
	FOREACH v_c IN ARRAY v_combos LOOP
		RETURN QUERY
			SELECT v_base || v_c, b.bars, b.trades, b.refused, b.final_equity,
				b.total_return, b.cagr, b.sharpe, b.sortino, b.max_drawdown,
				b.win_rate, b.profit_factor, b.exposure
			FROM pgtrade.backtest_run(backtest_sweep.strategy, from_ts, to_ts,
				capital, commission, slippage_bps, v_base || v_c, false,
				backtest_sweep.risk, v_ts, v_o, v_h, v_l, v_cl, v_vol, false) b;
		v_i := v_i + 1;
		v_noted := pgtrade.note_progress('backtest_sweep', v_i,
			cardinality(v_combos), 'combinations', v_started, v_noted);
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.backtest_sweep(text, timestamptz, timestamptz,
	jsonb, numeric, numeric, numeric, boolean) IS
	'Backtests every combination of a grid of params ({"fast": [5, 10], '
	'"slow": [20, 50]}) merged into the strategy''s, one row each.';

ALTER TABLE pgtrade.backtest ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.backtest
	USING (EXISTS (SELECT 1 FROM pgtrade.strategy s
				   WHERE s.strategy_id = backtest.strategy_id));
ALTER TABLE pgtrade.backtest_trade ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.backtest_trade
	USING (EXISTS (SELECT 1 FROM pgtrade.backtest b
				   WHERE b.backtest_id = backtest_trade.backtest_id));
ALTER TABLE pgtrade.backtest_decision ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.backtest_decision
	USING (EXISTS (SELECT 1 FROM pgtrade.backtest b
				   WHERE b.backtest_id = backtest_decision.backtest_id));
/*
 * Anyone who may see a strategy's account may backtest it and keep the
 * result (the functions are granted in 90_views.sql); traders and admins
 * read and delete kept backtests under the policies above.
 */
GRANT SELECT ON pgtrade.backtest, pgtrade.backtest_trade,
	pgtrade.backtest_decision TO pgtrade_trader, pgtrade_admin;
GRANT DELETE ON pgtrade.backtest TO pgtrade_trader, pgtrade_admin;
/*
 * 90_views.sql: views for analysts and the privileges of every role.
 *
 * Functions are created executable by PUBLIC; pgtrade revokes that for
 * every function in its schema and grants each to the roles that need
 * it.  Nothing is granted to PUBLIC: pure computations (indicators,
 * cron, bar_end) are open to every pgtrade role.
 * Nobody but the owner may write the tables directly, except INSERT on
 * orders for traders, which meets the risk gate like any other insert.
 */

CREATE VIEW pgtrade.open_orders AS
	SELECT o.order_id, o.client_order_id, o.account_id, i.symbol, o.side,
		   o.quantity, o.filled_quantity, o.order_type, o.limit_price,
		   o.stop_price, o.status, o.broker_order_id, o.broker_status,
		   o.valid_until, o.created_at, o.updated_at
	FROM pgtrade.orders o JOIN pgtrade.instrument i USING (instrument_id)
	WHERE o.status IN ('pending', 'submitting', 'working',
					   'cancel_requested', 'unknown')
		AND o.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.open_orders IS
	'Orders that may still trade, with their instrument symbol.';
COMMENT ON COLUMN pgtrade.open_orders.order_id IS
	'Identifies the order (orders.order_id).';
COMMENT ON COLUMN pgtrade.open_orders.client_order_id IS
	'The cOID sent to IBKR: pgt-<installation prefix>-<order_id>.';
COMMENT ON COLUMN pgtrade.open_orders.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.open_orders.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.open_orders.side IS 'buy or sell.';
COMMENT ON COLUMN pgtrade.open_orders.quantity IS
	'Ordered quantity, always positive.';
COMMENT ON COLUMN pgtrade.open_orders.filled_quantity IS
	'Sum of the order''s recorded fills.';
COMMENT ON COLUMN pgtrade.open_orders.order_type IS
	'market, limit, stop or stop_limit.';
COMMENT ON COLUMN pgtrade.open_orders.limit_price IS
	'Limit price of a limit or stop_limit order, else NULL.';
COMMENT ON COLUMN pgtrade.open_orders.stop_price IS
	'Stop price of a stop or stop_limit order, else NULL.';
COMMENT ON COLUMN pgtrade.open_orders.status IS
	'pending, submitting, working, cancel_requested or unknown (the '
	'statuses in which an order may still trade).';
COMMENT ON COLUMN pgtrade.open_orders.broker_order_id IS
	'The broker''s order id once the order was accepted.';
COMMENT ON COLUMN pgtrade.open_orders.broker_status IS
	'The order''s status as the broker last reported it.';
COMMENT ON COLUMN pgtrade.open_orders.valid_until IS
	'A pending order not claimed by then is expired, never sent.';
COMMENT ON COLUMN pgtrade.open_orders.created_at IS
	'When the order was inserted (and passed or failed the risk gate).';
COMMENT ON COLUMN pgtrade.open_orders.updated_at IS
	'When the order row last changed.';

CREATE VIEW pgtrade.positions AS
	SELECT p.account_id, i.symbol, p.quantity, p.avg_cost,
		   p.realized_pnl, lb.close AS last_close, lb.ts AS last_bar_ts,
		   CASE WHEN p.quantity <> 0 AND lb.close IS NOT NULL
				THEN p.quantity * (lb.close::numeric - p.avg_cost) END
			   AS unrealized_pnl,
		   (SELECT coalesce(sum(c.amount), 0)
			FROM pgtrade.fill f JOIN pgtrade.commission c USING (execution_id)
			WHERE f.account_id = p.account_id
				AND f.instrument_id = p.instrument_id
				AND pgtrade.fill_is_effective(f.execution_id)) AS commissions,
		   p.updated_at
	FROM pgtrade.position p
	JOIN pgtrade.instrument i USING (instrument_id)
	LEFT JOIN LATERAL (
		SELECT b.close, b.ts FROM pgtrade.bar b
		WHERE b.instrument_id = p.instrument_id
		ORDER BY b.ts DESC LIMIT 1) lb ON true
	WHERE p.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.positions IS
	'Positions with realized P&L, unrealized P&L at the latest bar''s '
	'close, and commissions paid.';
COMMENT ON COLUMN pgtrade.positions.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.positions.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.positions.quantity IS
	'Signed position: positive long, negative short, 0 flat.';
COMMENT ON COLUMN pgtrade.positions.avg_cost IS
	'Average cost of the open position; NULL when flat.';
COMMENT ON COLUMN pgtrade.positions.realized_pnl IS
	'Realized profit and loss from closing trades, before commissions.';
COMMENT ON COLUMN pgtrade.positions.last_close IS
	'Close of the instrument''s latest stored bar of any size.';
COMMENT ON COLUMN pgtrade.positions.last_bar_ts IS 'Start of that bar.';
COMMENT ON COLUMN pgtrade.positions.unrealized_pnl IS
	'quantity x (last_close - avg_cost); NULL when flat or without a '
	'bar.';
COMMENT ON COLUMN pgtrade.positions.commissions IS
	'Commissions of the effective fills of the account in the '
	'instrument (0 when none).';
COMMENT ON COLUMN pgtrade.positions.updated_at IS
	'When the position last changed.';

CREATE VIEW pgtrade.decisions_explained AS
	SELECT d.decision_id, s.name AS strategy, i.symbol, d.as_of,
		   d.last_bar_ts, d.action, d.quantity, d.target_position,
		   d.position, d.open_quantity, d.reason,
		   d.risk_verdict->>'reason' AS risk_reason, o.client_order_id,
		   o.status AS order_status, r.trigger, r.run_id, s.account_id,
		   d.kind, d.params, d.signal, d.bars_used, d.last_close,
		   d.indicators, d.confidence, d.risk_verdict, d.order_id,
		   o.filled_quantity, o.avg_fill_price
	FROM pgtrade.decision d
	JOIN pgtrade.strategy s USING (strategy_id)
	JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
	JOIN pgtrade.workflow_run r USING (run_id)
	LEFT JOIN pgtrade.orders o ON o.order_id = d.order_id
	WHERE s.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.decisions_explained IS
	'A decision in one row: the data (last bar, bars used, last close), '
	'the rule (kind and its params then), the values (indicators), the '
	'reason, what the risk gate said, and the order that resulted.';
COMMENT ON COLUMN pgtrade.decisions_explained.decision_id IS
	'Identifies the decision (decision.decision_id).';
COMMENT ON COLUMN pgtrade.decisions_explained.strategy IS
	'The strategy''s name.';
COMMENT ON COLUMN pgtrade.decisions_explained.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.decisions_explained.as_of IS
	'The instant the run decided as of (now for a live run, the past '
	'for a replay).';
COMMENT ON COLUMN pgtrade.decisions_explained.last_bar_ts IS
	'Start of the last bar the run used.';
COMMENT ON COLUMN pgtrade.decisions_explained.action IS 'buy, sell or hold.';
COMMENT ON COLUMN pgtrade.decisions_explained.quantity IS
	'Quantity of the order the decision asked for.';
COMMENT ON COLUMN pgtrade.decisions_explained.target_position IS
	'The position the decision aimed at, or NULL when the evaluator '
	'gave no target.';
COMMENT ON COLUMN pgtrade.decisions_explained.position IS
	'The account''s position in the instrument when the decision was '
	'made.';
COMMENT ON COLUMN pgtrade.decisions_explained.open_quantity IS
	'Signed remaining quantity of the account''s open orders in the '
	'instrument then.';
COMMENT ON COLUMN pgtrade.decisions_explained.reason IS
	'Why, in plain words.';
COMMENT ON COLUMN pgtrade.decisions_explained.risk_reason IS
	'The risk gate''s reason for the order, if one was placed.';
COMMENT ON COLUMN pgtrade.decisions_explained.client_order_id IS
	'The cOID of the resulting order, or NULL.';
COMMENT ON COLUMN pgtrade.decisions_explained.order_status IS
	'The resulting order''s status now, or NULL.';
COMMENT ON COLUMN pgtrade.decisions_explained.trigger IS
	'What started the run: cron, manual, replay or external.';
COMMENT ON COLUMN pgtrade.decisions_explained.run_id IS
	'The run that made the decision (workflow_run.run_id).';
COMMENT ON COLUMN pgtrade.decisions_explained.account_id IS
	'The strategy''s account.';
COMMENT ON COLUMN pgtrade.decisions_explained.kind IS
	'The strategy kind that decided.';
COMMENT ON COLUMN pgtrade.decisions_explained.params IS
	'The kind''s parameters at the time.';
COMMENT ON COLUMN pgtrade.decisions_explained.signal IS
	'The evaluator''s signal, as it named it.';
COMMENT ON COLUMN pgtrade.decisions_explained.bars_used IS
	'How many bars the evaluator was given.';
COMMENT ON COLUMN pgtrade.decisions_explained.last_close IS
	'Close of the last bar used.';
COMMENT ON COLUMN pgtrade.decisions_explained.indicators IS
	'The indicator values the evaluator reported, as JSON.';
COMMENT ON COLUMN pgtrade.decisions_explained.confidence IS
	'The decider''s confidence from 0 to 1 when it gave one '
	'(submit_decision), else NULL.';
COMMENT ON COLUMN pgtrade.decisions_explained.risk_verdict IS
	'The risk gate''s whole verdict on the order, as JSON.';
COMMENT ON COLUMN pgtrade.decisions_explained.order_id IS
	'The order the decision placed, or NULL.';
COMMENT ON COLUMN pgtrade.decisions_explained.filled_quantity IS
	'Filled quantity of that order so far.';
COMMENT ON COLUMN pgtrade.decisions_explained.avg_fill_price IS
	'Average price of its fills so far.';

CREATE VIEW pgtrade.listener_health AS
	SELECT l.listener_id, l.name, l.pid, l.db_user, l.started_at,
		   l.heartbeat_at, now() - l.heartbeat_at AS heartbeat_age,
		   l.gateway_state, l.accounts, l.last_error,
		   CASE WHEN l.stopped_at IS NOT NULL THEN 'stopped'
				WHEN now() - l.heartbeat_at > interval '1 minute'
				THEN 'stale'
				WHEN l.gateway_state IS DISTINCT FROM 'authenticated'
				THEN 'gateway ' || coalesce(l.gateway_state, 'unknown')
				WHEN cardinality(d.blocked) > 0
				THEN 'drift blocks ' || array_to_string(d.blocked, ', ')
				ELSE 'alive' END AS health,
		   d.blocked AS drift_blocked
	FROM pgtrade.listener l
	CROSS JOIN LATERAL (SELECT CASE WHEN l.stopped_at IS NULL THEN
		pgtrade.drift_blocked_accounts(coalesce(l.accounts, '{}'))
		END AS blocked) d;
COMMENT ON VIEW pgtrade.listener_health IS
	'Listeners with the age of their last heartbeat: alive, stale (over a '
	'minute), stopped, gateway <state> while the gateway session is not '
	'authenticated, or drift blocks <accounts> while open position drift '
	'holds back new orders of accounts it serves.';
COMMENT ON COLUMN pgtrade.listener_health.listener_id IS
	'Identifies the listener start (listener.listener_id).';
COMMENT ON COLUMN pgtrade.listener_health.name IS
	'Listener name: its name setting, by default the host name.';
COMMENT ON COLUMN pgtrade.listener_health.pid IS
	'The listener''s process id.';
COMMENT ON COLUMN pgtrade.listener_health.db_user IS
	'The database role it connected as.';
COMMENT ON COLUMN pgtrade.listener_health.started_at IS 'When it registered.';
COMMENT ON COLUMN pgtrade.listener_health.heartbeat_at IS
	'Its last heartbeat.';
COMMENT ON COLUMN pgtrade.listener_health.heartbeat_age IS
	'now() - heartbeat_at.';
COMMENT ON COLUMN pgtrade.listener_health.gateway_state IS
	'The gateway session as the listener last saw it (authenticated, '
	'competing, ...).';
COMMENT ON COLUMN pgtrade.listener_health.accounts IS
	'The accounts it serves.';
COMMENT ON COLUMN pgtrade.listener_health.last_error IS
	'The last error it recorded.';
COMMENT ON COLUMN pgtrade.listener_health.health IS
	'alive, stale (no heartbeat for over a minute), stopped, gateway '
	'<state> or drift blocks <accounts>.';
COMMENT ON COLUMN pgtrade.listener_health.drift_blocked IS
	'Accounts it serves whose new orders open position drift holds '
	'back; NULL once stopped.';

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgtrade FROM PUBLIC;
REVOKE EXECUTE ON ALL PROCEDURES IN SCHEMA pgtrade FROM PUBLIC;

DO $grants$
DECLARE
	v_fn regprocedure;
BEGIN
	/* pure computations: indicators, cron, bar arithmetic, calendars */
	FOR v_fn IN
		SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
		WHERE p.pronamespace = 'pgtrade'::regnamespace
			AND p.proname IN ('sma', 'ema', 'rsi', 'macd', 'bollinger',
				'atr', 'cron_next', 'cron_matches', 'cron_validate',
				'cron_next_n', 'bar_end', 'sma_cross_eval',
				'sma_cross_validate', 'order_is_open', 'position_step',
				'broker_status_target', 'side_from_broker',
				'market_check_calendar', 'market_day', 'market_sessions',
				'market_status', 'market_is_open', 'market_next_close',
				'market_next_session', 'recent_bars', 'bars_ended_by', 'wma',
				'stddev', 'roc', 'obv', 'supertrend', 'supertrend_direction',
				'ema_cross_eval',
				'ema_cross_validate', 'macd_cross_eval', 'macd_cross_validate',
				'rsi_reversion_eval', 'rsi_reversion_validate',
				'bollinger_breakout_eval', 'bollinger_breakout_validate',
				'confirmations_eval', 'confirmations_validate')
	LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO '
			'pgtrade_reader, pgtrade_trader, pgtrade_admin, pgtrade_listener, '
			'pgtrade_scheduler', v_fn);
	END LOOP;
END
$grants$;

GRANT SELECT ON ALL TABLES IN SCHEMA pgtrade TO pgtrade_reader,
	pgtrade_trader, pgtrade_admin;
GRANT EXECUTE ON FUNCTION pgtrade.backtest(text, timestamptz, timestamptz,
		numeric, numeric, numeric, jsonb, boolean, boolean),
	pgtrade.backtest_sweep(text, timestamptz, timestamptz, jsonb, numeric,
		numeric, numeric, boolean)
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin;
GRANT EXECUTE ON FUNCTION pgtrade.instrument_id(text),
	pgtrade.strategy_performance(text),
	pgtrade.fill_is_effective(text),
	pgtrade.proc_call_name(regprocedure)
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin;
/* these read the tables with the caller's rights: not for readers */
GRANT EXECUTE ON FUNCTION pgtrade.open_quantity(text, bigint, bigint),
	pgtrade.position_quantity(text, bigint),
	pgtrade.kill_switch_reason(text, bigint),
	pgtrade.open_side_quantities(text, bigint, bigint),
	pgtrade.open_order_rests(text, bigint, bigint),
	pgtrade.account_day_pnl(text, bigint),
	pgtrade.latest_close(bigint)
	TO pgtrade_trader, pgtrade_admin;

/* traders run strategies and place orders; both meet the gate */
GRANT INSERT ON pgtrade.orders TO pgtrade_trader;
GRANT EXECUTE ON FUNCTION
	pgtrade.place_order(text, text, text, numeric, text, numeric, numeric, text, interval, boolean),
	pgtrade.cancel_order(bigint, text),
	pgtrade.run_strategy(text, timestamptz, text, boolean),
	pgtrade.submit_decision(text, numeric, text, numeric, jsonb),
	pgtrade.create_strategy(text, text, text, text, jsonb, numeric, text,
		text, interval, boolean, interval, text),
	pgtrade.strategy_kind_validate(text, jsonb)
	TO pgtrade_trader, pgtrade_admin;
/* a kind's code runs with its registrant's rights: a role that reads */
GRANT EXECUTE ON FUNCTION
	pgtrade.register_kind(text, regprocedure, regprocedure, text),
	pgtrade.kind_refusal(pgtrade.strategy_kind),
	pgtrade.role_may_write(name)
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin;
/* traders switch strategies on and off and tune them; account,
   instrument and quantity change only by creating a strategy */
GRANT UPDATE (active, params, schedule, time_zone, market_hours,
	disable_after_failures, sizing, capital, sizing_fraction, atr_period,
	atr_multiple) ON pgtrade.strategy
	TO pgtrade_trader, pgtrade_admin;

/* admins set limits, the kill switch, accounts and instruments */
GRANT EXECUTE ON FUNCTION
	pgtrade.set_risk_limit(text, bigint, numeric, numeric, text, numeric,
		numeric, integer, integer, numeric, numeric, boolean),
	pgtrade.add_account(text, text, text),
	pgtrade.add_instrument(text, bigint, text, text, text, text, time, time,
		text),
	pgtrade.set_instrument_calendar(text, text),
	pgtrade.import_bars(regclass, interval),
	pgtrade.import_parse_ts(interval),
	pgtrade.note_progress(text, bigint, bigint, text, timestamptz,
		timestamptz),
	pgtrade.bar_size_supported(interval),
	pgtrade.remove_risk_limit(text, text, bigint),
	pgtrade.resolve_unknown(bigint, text, text),
	pgtrade.unhalt_account(text, text)
	TO pgtrade_admin;
/* import_bars runs with the caller's rights: it writes bars, no more */
GRANT INSERT, UPDATE ON pgtrade.bar TO pgtrade_admin;
/* the kill switch belongs to admins */
GRANT EXECUTE ON FUNCTION
	pgtrade.set_trading_enabled(boolean, text, bigint, text)
	TO pgtrade_admin;

/* the scheduler runs due strategies and nothing else */
GRANT EXECUTE ON PROCEDURE pgtrade.run_due(timestamptz) TO pgtrade_scheduler;
GRANT EXECUTE ON FUNCTION pgtrade.run_next_due(timestamptz, bigint),
	pgtrade.run_due_bulk(timestamptz, integer)
	TO pgtrade_scheduler;

/* the listener moves orders only through its functions */
GRANT EXECUTE ON FUNCTION
	pgtrade.listener_register(text, integer, text),
	pgtrade.listener_heartbeat(bigint, text, text[], text),
	pgtrade.listener_stopped(bigint),
	pgtrade.claim_order(bigint, text[]),
	pgtrade.claim_orders(bigint, text[], integer),
	pgtrade.record_submission(bigint, text, text, jsonb),
	pgtrade.record_submissions(bigint[], text[], text[], jsonb[]),
	pgtrade.record_rejection(bigint, text, jsonb),
	pgtrade.record_status(bigint, text, numeric, numeric, jsonb),
	pgtrade.record_fill(text, text, text, bigint, text, numeric, numeric, timestamptz, numeric, jsonb),
	pgtrade.record_fills(text[], text[], text[], bigint[], text[], numeric[],
		numeric[], timestamptz[], numeric[], jsonb[]),
	pgtrade.record_unknown(bigint, text),
	pgtrade.release_unsent(bigint, bigint, text),
	pgtrade.orders_in_flight(text[]),
	pgtrade.orders_to_cancel(text[], interval),
	pgtrade.record_cancel_sent(bigint, jsonb),
	pgtrade.record_conid(bigint, bigint, jsonb)
	TO pgtrade_listener;
GRANT SELECT ON pgtrade.instrument, pgtrade.account TO pgtrade_listener;
/*
 * 91_row_security.sql: row-level security by account, and the views
 * analysts read.
 *
 * Traders read the tables under these policies: a row of an account
 * they may not see (pgtrade.visible_accounts) is not there for them, and
 * a row they write must belong to an account they may trade.  The
 * owner, and so pgtrade's SECURITY DEFINER functions, are not subject
 * to them; those functions check the account themselves.  The list of
 * visible accounts is computed once per statement (an InitPlan), for
 * current_user (see visible_accounts).
 *
 * Readers (analysts) read views only.  Views run with their owner's
 * rights, so each view that shows an account's rows filters by the
 * same list.
 */
DO $policies$
DECLARE
	v_table text;
BEGIN
	FOREACH v_table IN ARRAY ARRAY['account', 'orders', 'fill', 'position',
		'strategy', 'position_drift', 'position_adjustment',
		'position_check', 'account_grant']
	LOOP
		EXECUTE pg_catalog.format(
			'ALTER TABLE pgtrade.%I ENABLE ROW LEVEL SECURITY', v_table);
		EXECUTE pg_catalog.format(
			'CREATE POLICY account_scope ON pgtrade.%I '
			'USING (account_id = ANY ((SELECT '
			'pgtrade.visible_accounts(current_user))::text[])) '
			'WITH CHECK (account_id = ANY ((SELECT '
			'pgtrade.visible_accounts(current_user))::text[]))',
			v_table);
	END LOOP;
END
$policies$;
/* global limits are everybody's to read; an account's, its viewers' */
ALTER TABLE pgtrade.risk_limit ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.risk_limit
	USING (account_id IS NULL
		   OR account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]));
ALTER TABLE pgtrade.risk_limit_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.risk_limit_history
	USING (coalesce(new_row, old_row)->>'account_id' IS NULL
		   OR coalesce(new_row, old_row)->>'account_id'
			  = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]));
/* rows that hang off an order, a fill, a strategy or a run */
ALTER TABLE pgtrade.order_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.order_event
	USING (EXISTS (SELECT 1 FROM pgtrade.orders o
				   WHERE o.order_id = order_event.order_id));
ALTER TABLE pgtrade.order_modification ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.order_modification
	USING (EXISTS (SELECT 1 FROM pgtrade.orders o
				   WHERE o.order_id = order_modification.order_id));
ALTER TABLE pgtrade.commission ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.commission
	USING (EXISTS (SELECT 1 FROM pgtrade.fill f
				   WHERE f.execution_id = commission.execution_id));
ALTER TABLE pgtrade.fill_correction ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.fill_correction
	USING (EXISTS (SELECT 1 FROM pgtrade.fill f
				   WHERE f.execution_id = fill_correction.corrected_execution_id));
ALTER TABLE pgtrade.decision ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.decision
	USING (EXISTS (SELECT 1 FROM pgtrade.strategy s
				   WHERE s.strategy_id = decision.strategy_id));
ALTER TABLE pgtrade.workflow_run ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.workflow_run
	USING (EXISTS (SELECT 1 FROM pgtrade.strategy s
				   WHERE s.strategy_id = workflow_run.strategy_id));
ALTER TABLE pgtrade.workflow_step ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.workflow_step
	USING (EXISTS (SELECT 1 FROM pgtrade.workflow_run r
				   WHERE r.run_id = workflow_step.run_id));

CREATE VIEW pgtrade.bars AS
	SELECT i.symbol, b.instrument_id, b.bar_size, b.ts, b.open, b.high,
		   b.low, b.close, b.volume, b.suspect
	FROM pgtrade.bar b JOIN pgtrade.instrument i USING (instrument_id);
COMMENT ON VIEW pgtrade.bars IS
	'Every stored bar with its instrument''s symbol.';
COMMENT ON COLUMN pgtrade.bars.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.bars.instrument_id IS
	'The instrument (instrument.instrument_id).';
COMMENT ON COLUMN pgtrade.bars.bar_size IS
	'The bar''s length: 1 day, or a whole number of minutes under a '
	'day.';
COMMENT ON COLUMN pgtrade.bars.ts IS
	'The bar''s start; a daily bar''s is midnight of its session date '
	'in the exchange time zone.';
COMMENT ON COLUMN pgtrade.bars.open IS 'Opening price.';
COMMENT ON COLUMN pgtrade.bars.high IS 'Highest price.';
COMMENT ON COLUMN pgtrade.bars.low IS 'Lowest price.';
COMMENT ON COLUMN pgtrade.bars.close IS 'Closing price.';
COMMENT ON COLUMN pgtrade.bars.volume IS 'Traded volume.';
COMMENT ON COLUMN pgtrade.bars.suspect IS
	'True when open or close lies outside [low, high].';

CREATE VIEW pgtrade.instruments AS
	SELECT i.instrument_id, i.symbol, i.conid, i.sec_type, i.exchange,
		   i.currency, i.time_zone, i.session_open, i.session_close,
		   i.tick_size, i.lot_size
	FROM pgtrade.instrument i;
COMMENT ON VIEW pgtrade.instruments IS 'Registered instruments.';
COMMENT ON COLUMN pgtrade.instruments.instrument_id IS
	'Identifies the instrument.';
COMMENT ON COLUMN pgtrade.instruments.symbol IS 'Ticker symbol.';
COMMENT ON COLUMN pgtrade.instruments.conid IS
	'IBKR''s contract id, once known.';
COMMENT ON COLUMN pgtrade.instruments.sec_type IS
	'Security type (STK by default).';
COMMENT ON COLUMN pgtrade.instruments.exchange IS
	'Exchange orders are routed to (SMART by default).';
COMMENT ON COLUMN pgtrade.instruments.currency IS
	'Trading currency (USD by default).';
COMMENT ON COLUMN pgtrade.instruments.time_zone IS
	'Exchange time zone: a daily bar ends at session_close on its date '
	'in this zone.';
COMMENT ON COLUMN pgtrade.instruments.session_open IS
	'Regular session start, local time.';
COMMENT ON COLUMN pgtrade.instruments.session_close IS
	'Regular session end, local time.';
COMMENT ON COLUMN pgtrade.instruments.tick_size IS
	'Smallest price increment.';
COMMENT ON COLUMN pgtrade.instruments.lot_size IS
	'Lot size: sized positions are rounded down to a multiple of it.';

CREATE VIEW pgtrade.order_history AS
	SELECT o.order_id, o.client_order_id, o.account_id, i.symbol,
		   o.strategy_id, o.side, o.quantity, o.filled_quantity,
		   o.avg_fill_price, o.order_type, o.limit_price, o.stop_price,
		   o.tif, o.status, o.risk_verdict->>'reason' AS risk_reason,
		   o.broker_order_id, o.created_at, o.submitted_at, o.updated_at
	FROM pgtrade.orders o JOIN pgtrade.instrument i USING (instrument_id)
	WHERE o.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.order_history IS
	'Every order of the accounts the caller may see, with its symbol and '
	'the risk gate''s reason.';
COMMENT ON COLUMN pgtrade.order_history.order_id IS
	'Identifies the order (orders.order_id).';
COMMENT ON COLUMN pgtrade.order_history.client_order_id IS
	'The cOID sent to IBKR: pgt-<installation prefix>-<order_id>.';
COMMENT ON COLUMN pgtrade.order_history.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.order_history.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.order_history.strategy_id IS
	'The strategy that placed it, or NULL for a manual order.';
COMMENT ON COLUMN pgtrade.order_history.side IS 'buy or sell.';
COMMENT ON COLUMN pgtrade.order_history.quantity IS
	'Ordered quantity, always positive.';
COMMENT ON COLUMN pgtrade.order_history.filled_quantity IS
	'Sum of the order''s recorded fills.';
COMMENT ON COLUMN pgtrade.order_history.avg_fill_price IS
	'Average price of those fills.';
COMMENT ON COLUMN pgtrade.order_history.order_type IS
	'market, limit, stop or stop_limit.';
COMMENT ON COLUMN pgtrade.order_history.limit_price IS
	'Limit price of a limit or stop_limit order, else NULL.';
COMMENT ON COLUMN pgtrade.order_history.stop_price IS
	'Stop price of a stop or stop_limit order, else NULL.';
COMMENT ON COLUMN pgtrade.order_history.tif IS
	'Time in force: day, gtc or ioc.';
COMMENT ON COLUMN pgtrade.order_history.status IS
	'Where the order is in its state machine (pending, refused, '
	'submitting, working, filled, cancelled, expired, rejected, '
	'unknown, cancel_requested).';
COMMENT ON COLUMN pgtrade.order_history.risk_reason IS
	'The risk gate''s reason: why it passed or was refused.';
COMMENT ON COLUMN pgtrade.order_history.broker_order_id IS
	'The broker''s order id once the order was accepted.';
COMMENT ON COLUMN pgtrade.order_history.created_at IS
	'When the order was inserted.';
COMMENT ON COLUMN pgtrade.order_history.submitted_at IS
	'When a listener last claimed it for sending to the broker.';
COMMENT ON COLUMN pgtrade.order_history.updated_at IS
	'When the order row last changed.';

CREATE VIEW pgtrade.fills AS
	SELECT f.fill_id, f.execution_id, f.order_id, f.account_id, i.symbol,
		   f.side, f.quantity, f.price, f.trade_time,
		   pgtrade.fill_is_effective(f.execution_id) AS effective,
		   (SELECT sum(c.amount) FROM pgtrade.commission c
			WHERE c.execution_id = f.execution_id) AS commission
	FROM pgtrade.fill f JOIN pgtrade.instrument i USING (instrument_id)
	WHERE f.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.fills IS
	'Executions of the accounts the caller may see; effective is false '
	'for one a later correction replaced.';
COMMENT ON COLUMN pgtrade.fills.fill_id IS
	'Identifies the fill (fill.fill_id).';
COMMENT ON COLUMN pgtrade.fills.execution_id IS 'The broker''s execution id.';
COMMENT ON COLUMN pgtrade.fills.order_id IS
	'The pgtrade order it filled, or NULL for an execution without one.';
COMMENT ON COLUMN pgtrade.fills.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.fills.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.fills.side IS 'buy or sell.';
COMMENT ON COLUMN pgtrade.fills.quantity IS 'Executed quantity.';
COMMENT ON COLUMN pgtrade.fills.price IS 'Execution price.';
COMMENT ON COLUMN pgtrade.fills.trade_time IS 'When the broker executed it.';
COMMENT ON COLUMN pgtrade.fills.effective IS
	'False when a later correction of the same execution replaced it.';
COMMENT ON COLUMN pgtrade.fills.commission IS
	'Sum of the commissions reported for it, or NULL when none yet.';

CREATE VIEW pgtrade.strategies AS
	SELECT s.strategy_id, s.name, s.kind, i.symbol, s.account_id,
		   s.bar_size, s.schedule, s.time_zone, s.quantity, s.params,
		   s.active, s.next_run_at, s.market_hours, s.disabled_reason,
		   s.instrument_id
	FROM pgtrade.strategy s JOIN pgtrade.instrument i USING (instrument_id)
	WHERE s.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.strategies IS
	'Strategies of the accounts the caller may see; instrument_id tells '
	'apart instruments that share a symbol.';
COMMENT ON COLUMN pgtrade.strategies.strategy_id IS
	'Identifies the strategy.';
COMMENT ON COLUMN pgtrade.strategies.name IS 'The strategy''s unique name.';
COMMENT ON COLUMN pgtrade.strategies.kind IS
	'Its strategy kind (strategy_kind.name).';
COMMENT ON COLUMN pgtrade.strategies.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.strategies.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.strategies.bar_size IS
	'The bars it evaluates: 1 day, or a whole number of minutes under a '
	'day.';
COMMENT ON COLUMN pgtrade.strategies.schedule IS
	'Five-field cron expression of its runs, in time_zone.';
COMMENT ON COLUMN pgtrade.strategies.time_zone IS
	'The zone its schedule is read in.';
COMMENT ON COLUMN pgtrade.strategies.quantity IS
	'With sizing fixed: target position = evaluator target (1, 0 or -1) '
	'times this quantity.';
COMMENT ON COLUMN pgtrade.strategies.params IS 'The kind''s parameters.';
COMMENT ON COLUMN pgtrade.strategies.active IS
	'True while the scheduler runs it.';
COMMENT ON COLUMN pgtrade.strategies.next_run_at IS 'The next cron slot.';
COMMENT ON COLUMN pgtrade.strategies.market_hours IS
	'open, trading_day or always: when runs go ahead by the '
	'instrument''s calendar; NULL: the bar size decides.';
COMMENT ON COLUMN pgtrade.strategies.disabled_reason IS
	'Why pgtrade switched the strategy off, or NULL.';
COMMENT ON COLUMN pgtrade.strategies.instrument_id IS
	'The instrument (instrument.instrument_id): symbols may repeat.';

CREATE VIEW pgtrade.upcoming_runs AS
	SELECT s.strategy_id, s.name AS strategy, s.kind, i.symbol, s.account_id,
		   s.schedule, s.time_zone, s.next_run_at,
		   s.next_run_at AT TIME ZONE s.time_zone AS next_run_local
	FROM pgtrade.strategy s JOIN pgtrade.instrument i USING (instrument_id)
	WHERE s.active
		AND s.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.upcoming_runs IS
	'Active strategies of the accounts the caller may see, with their next '
	'scheduled run (in UTC and in the strategy''s own zone).';
COMMENT ON COLUMN pgtrade.upcoming_runs.strategy_id IS
	'Identifies the strategy.';
COMMENT ON COLUMN pgtrade.upcoming_runs.strategy IS 'The strategy''s name.';
COMMENT ON COLUMN pgtrade.upcoming_runs.kind IS 'Its strategy kind.';
COMMENT ON COLUMN pgtrade.upcoming_runs.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.upcoming_runs.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.upcoming_runs.schedule IS
	'Five-field cron expression, in time_zone.';
COMMENT ON COLUMN pgtrade.upcoming_runs.time_zone IS
	'The zone the schedule is read in.';
COMMENT ON COLUMN pgtrade.upcoming_runs.next_run_at IS 'The next cron slot.';
COMMENT ON COLUMN pgtrade.upcoming_runs.next_run_local IS
	'The same instant as local time in time_zone.';

CREATE VIEW pgtrade.recent_runs AS
	SELECT r.run_id, s.name AS strategy, s.account_id, i.symbol, r.trigger,
		   r.slot, r.as_of, r.status, r.started_at, r.finished_at,
		   r.finished_at - r.started_at AS took, d.action, d.quantity,
		   o.order_id, o.status AS order_status,
		   coalesce(d.reason, r.error) AS reason
	FROM pgtrade.workflow_run r
	JOIN pgtrade.strategy s USING (strategy_id)
	JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
	LEFT JOIN pgtrade.decision d ON d.run_id = r.run_id
	LEFT JOIN pgtrade.orders o ON o.order_id = d.order_id
	WHERE s.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.recent_runs IS
	'Every run of the strategies of the accounts the caller may see, with '
	'its outcome: status, decision, order, and the reason or error.';
COMMENT ON COLUMN pgtrade.recent_runs.run_id IS
	'Identifies the run (workflow_run.run_id).';
COMMENT ON COLUMN pgtrade.recent_runs.strategy IS 'The strategy''s name.';
COMMENT ON COLUMN pgtrade.recent_runs.account_id IS
	'The strategy''s account.';
COMMENT ON COLUMN pgtrade.recent_runs.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.recent_runs.trigger IS
	'What started the run: cron, manual, replay or external.';
COMMENT ON COLUMN pgtrade.recent_runs.slot IS
	'The scheduled instant the run covers.';
COMMENT ON COLUMN pgtrade.recent_runs.as_of IS
	'The instant the run decided as of.';
COMMENT ON COLUMN pgtrade.recent_runs.status IS
	'running, succeeded, failed, skipped or missed.';
COMMENT ON COLUMN pgtrade.recent_runs.started_at IS 'When the run started.';
COMMENT ON COLUMN pgtrade.recent_runs.finished_at IS
	'When it finished, or NULL while running.';
COMMENT ON COLUMN pgtrade.recent_runs.took IS 'finished_at - started_at.';
COMMENT ON COLUMN pgtrade.recent_runs.action IS
	'The decision''s action (buy, sell, hold), or NULL without a '
	'decision.';
COMMENT ON COLUMN pgtrade.recent_runs.quantity IS
	'The decision''s order quantity.';
COMMENT ON COLUMN pgtrade.recent_runs.order_id IS
	'The order it placed, or NULL.';
COMMENT ON COLUMN pgtrade.recent_runs.order_status IS
	'That order''s status now.';
COMMENT ON COLUMN pgtrade.recent_runs.reason IS
	'The decision''s reason, or the run''s error when it made none.';

/* readers see views only; traders and admins read tables as well */
REVOKE SELECT ON ALL TABLES IN SCHEMA pgtrade FROM pgtrade_reader;
/* exchange calendars are reference data, readable by every role */
GRANT SELECT ON pgtrade.market_calendar, pgtrade.market_special_day
	TO pgtrade_reader, pgtrade_listener, pgtrade_scheduler;
/* admins keep them: a closure announced at short notice, a new market */
GRANT INSERT, UPDATE, DELETE ON pgtrade.market_calendar,
	pgtrade.market_special_day TO pgtrade_admin;
GRANT SELECT ON pgtrade.open_orders, pgtrade.positions,
	pgtrade.decisions_explained, pgtrade.listener_health, pgtrade.open_drift,
	pgtrade.bars, pgtrade.instruments,
	pgtrade.order_history, pgtrade.fills, pgtrade.strategies,
	pgtrade.upcoming_runs, pgtrade.recent_runs
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin;
GRANT EXECUTE ON FUNCTION pgtrade.caller_role(), pgtrade.acting_role(),
	pgtrade.visible_accounts(name),
	pgtrade.sees_all_accounts(name)
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin, pgtrade_listener,
	pgtrade_scheduler;
GRANT EXECUTE ON FUNCTION pgtrade.grant_account(name, text),
	pgtrade.revoke_account(name, text)
	TO pgtrade_admin;
/* what the functions traders call with their own rights call in turn */
GRANT EXECUTE ON FUNCTION pgtrade.require_account(text),
	pgtrade.account_today(text), pgtrade.account_day_start(text)
	TO pgtrade_trader, pgtrade_admin;
/*
 * 92_unlinked_fills.sql: executions that belong to no pgtrade order.
 *
 * The listener records every execution of the accounts it serves.  One
 * whose order_ref names no pgtrade order (a trade placed by hand in TWS
 * or the mobile app), or whose account, side or contract differ from
 * the order it names, is kept with order_id NULL: it moves the position
 * but no order.  Operators see such trades here.
 */

CREATE VIEW pgtrade.unlinked_fills AS
	SELECT f.fill_id, f.execution_id, f.account_id, i.symbol, f.side,
		   f.quantity, f.price, f.trade_time, f.order_ref,
		   (SELECT c.amount FROM pgtrade.commission c
			WHERE c.execution_id = f.execution_id
			ORDER BY c.commission_id LIMIT 1) AS commission,
		   f.recorded_at
	FROM pgtrade.fill f JOIN pgtrade.instrument i USING (instrument_id)
	WHERE f.order_id IS NULL
		AND pgtrade.fill_is_effective(f.execution_id)
		AND f.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.unlinked_fills IS
	'Executions recorded without a pgtrade order (manual trades at the '
	'broker, or an order_ref that does not match its order).';
COMMENT ON COLUMN pgtrade.unlinked_fills.fill_id IS
	'Identifies the fill (fill.fill_id).';
COMMENT ON COLUMN pgtrade.unlinked_fills.execution_id IS
	'The broker''s execution id.';
COMMENT ON COLUMN pgtrade.unlinked_fills.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.unlinked_fills.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.unlinked_fills.side IS 'buy or sell.';
COMMENT ON COLUMN pgtrade.unlinked_fills.quantity IS 'Executed quantity.';
COMMENT ON COLUMN pgtrade.unlinked_fills.price IS 'Execution price.';
COMMENT ON COLUMN pgtrade.unlinked_fills.trade_time IS
	'When the broker executed it.';
COMMENT ON COLUMN pgtrade.unlinked_fills.order_ref IS
	'The order reference the broker reported, which matched no pgtrade '
	'order.';
COMMENT ON COLUMN pgtrade.unlinked_fills.commission IS
	'The first commission reported for it, or NULL.';
COMMENT ON COLUMN pgtrade.unlinked_fills.recorded_at IS
	'When pgtrade recorded it.';

GRANT SELECT ON pgtrade.unlinked_fills TO pgtrade_reader, pgtrade_trader,
	pgtrade_admin;

/*
 * Every view that filters rows by account is a security barrier: without
 * it the planner may run a caller's cheap function on rows the filter
 * would drop, and a function can print what it is given.
 */
ALTER VIEW pgtrade.open_orders SET (security_barrier = true);
ALTER VIEW pgtrade.positions SET (security_barrier = true);
ALTER VIEW pgtrade.decisions_explained SET (security_barrier = true);
ALTER VIEW pgtrade.open_drift SET (security_barrier = true);
ALTER VIEW pgtrade.unlinked_fills SET (security_barrier = true);
ALTER VIEW pgtrade.order_history SET (security_barrier = true);
ALTER VIEW pgtrade.fills SET (security_barrier = true);
ALTER VIEW pgtrade.strategies SET (security_barrier = true);
ALTER VIEW pgtrade.upcoming_runs SET (security_barrier = true);
ALTER VIEW pgtrade.recent_runs SET (security_barrier = true);
/*
 * 93_append_only.sql: the audit trail cannot be rewritten.
 *
 * order_event, fill, commission, risk_limit_history and
 * position_adjustment are what an operator or an auditor reconstructs
 * the past from.  No role but the owner holds UPDATE, DELETE or TRUNCATE
 * on them, and triggers refuse all three to the owner and to pgtrade's
 * own functions as well, so that a defect cannot quietly rewrite history
 * either: fill and position_adjustment have their own row triggers
 * (60_fills.sql, 72_drift.sql), the others this one, and all five refuse
 * TRUNCATE here.  A superuser can still disable the triggers
 * (see the README's threat model); removing the extension drops the
 * tables without firing them.
 */
CREATE FUNCTION pgtrade.refuse_rewrite()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA,
		TG_TABLE_NAME, TG_OP
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  HINT = 'Its rows are the audit trail; record a correction as a new row.';
END
$$;
COMMENT ON FUNCTION pgtrade.refuse_rewrite() IS
	'Trigger that refuses UPDATE, DELETE and TRUNCATE on an append-only '
	'audit table.';

DO $append_only$
DECLARE
	v_table text;
BEGIN
	FOREACH v_table IN ARRAY ARRAY['order_event', 'fill', 'commission',
		'risk_limit_history', 'position_adjustment']
	LOOP
		IF v_table NOT IN ('fill', 'position_adjustment') THEN
			EXECUTE pg_catalog.format(
				'CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON pgtrade.%I '
				'FOR EACH ROW EXECUTE FUNCTION pgtrade.refuse_rewrite()', v_table);
		END IF;
		EXECUTE pg_catalog.format(
			'CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON pgtrade.%I '
			'FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.refuse_rewrite()',
			v_table);
	END LOOP;
END
$append_only$;
REVOKE ALL ON FUNCTION pgtrade.refuse_rewrite() FROM PUBLIC;
/*
 * Plans of the listener's calls.
 *
 * The listener's calls find orders, fills and events by key, one order
 * at a time, from sessions that last for weeks.  PL/pgSQL keeps the plan
 * of each statement for the session; a plan made while a table was
 * nearly empty (a fresh install, the first orders after a purge) is a
 * sequential scan, and it stays one, slower with every order, until
 * autovacuum next analyzes the table: on a fresh database that cost a
 * claim 5 to 90 ms instead of well under one for the first minute of a
 * 200-orders-a-second stream.  With sequential scans disabled inside
 * these functions their statements use the indexes from the first
 * call; a statement that has no index to use still scans.
 *
 * Disabling only makes a scan look dear to the planner, dear enough to
 * pass jit_above_cost: JIT compilation, some 150 ms, is turned off with
 * it (these statements touch a few rows).  Planning each call afresh
 * (plan_cache_mode = force_custom_plan) would fix the plans as well, at
 * a cost measured at 0.3 ms of database time an order.  The settings
 * hold for the call and what it calls (triggers included), nothing
 * else.
 *
 * claim_orders also has sorting disabled.  It takes the oldest pending
 * orders of its accounts, a few at a time; read in order along
 * orders_pending, that stops after those few.  The planner preferred
 * orders_unsettled, whose account key looks selective, but which holds
 * every order of the account in flight as well: each claim then read
 * and sorted all of them, 4 ms a claim with 3,000 queued, and the
 * claims of a deep queue cost its square.
 */
ALTER FUNCTION pgtrade.claim_orders(bigint, text[], integer)
	SET enable_seqscan = off SET jit = off SET enable_sort = off;
ALTER FUNCTION pgtrade.claim_resend(bigint, bigint, integer)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_submission(bigint, text, text, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_submissions(bigint[], text[], text[], jsonb[])
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_rejection(bigint, text, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_status(bigint, text, numeric, numeric, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.release_unsent(bigint, bigint, text)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_unknown(bigint, text)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_cancel_sent(bigint, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_fill(text, text, text, bigint, text, numeric,
	numeric, timestamptz, numeric, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_fills(text[], text[], text[], bigint[], text[],
	numeric[], numeric[], timestamptz[], numeric[], jsonb[])
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_conid(bigint, bigint, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.orders_in_flight(text[])
	SET enable_seqscan = off SET jit = off;
/*
 * 95_housekeeping.sql: the jobs that keep a running installation tidy
 * and watched, and the one function that schedules them with pg_cron.
 *
 * - performance: one row per strategy and day, rolled up daily from the
 *   fills and daily bars (strategy_performance computes the same live).
 * - alert: what an operator must look at: orders stuck in a state that
 *   should be brief, and strategies switched off after failing.  Each is
 *   also logged as one WARNING line and sent as a NOTIFY on channel
 *   pgtrade_alert.
 * - retention: pg_cron's run details of pgtrade's jobs after 14 days,
 *   and the inputs and outputs of run steps after a configurable time.
 *   Runs, decisions, orders, fills and positions are never deleted.
 */

CREATE TABLE pgtrade.performance (
	strategy_id			bigint NOT NULL REFERENCES pgtrade.strategy,
	day					date NOT NULL,
	trades				integer NOT NULL,
	net_position		numeric NOT NULL,
	realized_pnl		numeric NOT NULL,
	cumulative_realized	numeric NOT NULL,
	unrealized_pnl		numeric,
	equity				numeric,
	drawdown			numeric,
	computed_at			timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (strategy_id, day)
);
COMMENT ON TABLE pgtrade.performance IS
	'A strategy''s performance by session day, as strategy_performance '
	'computes it, stored by the daily rollup (rollup_performance); '
	'unrealized P&L, equity and drawdown are NULL on a day without a '
	'daily bar to mark the position to.';
SELECT pg_catalog.pg_extension_config_dump('pgtrade.performance', '');

CREATE TABLE pgtrade.alert (
	alert_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	raised_at		timestamptz NOT NULL DEFAULT now(),
	kind			text NOT NULL
					CHECK (kind IN ('stuck_order', 'strategy_disabled',
									'calendar_ended')),
	account_id		text NOT NULL REFERENCES pgtrade.account,
	strategy_id		bigint REFERENCES pgtrade.strategy,
	order_id		bigint REFERENCES pgtrade.orders,
	order_status	text,
	message			text NOT NULL,
	acknowledged_at	timestamptz,
	acknowledged_by	name,
	CHECK ((kind = 'stuck_order')
		   = (order_id IS NOT NULL AND order_status IS NOT NULL))
);
CREATE UNIQUE INDEX alert_stuck_order_once
	ON pgtrade.alert (order_id, order_status) WHERE kind = 'stuck_order';
CREATE INDEX alert_open ON pgtrade.alert (raised_at)
	WHERE acknowledged_at IS NULL;
COMMENT ON TABLE pgtrade.alert IS
	'Things an operator must look at; an order stuck in one state is '
	'alerted once per state.  Acknowledge with acknowledge_alert.';
SELECT pg_catalog.pg_extension_config_dump('pgtrade.alert', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.alert_alert_id_seq', '');

ALTER TABLE pgtrade.alert ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.alert
	USING (account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]));
ALTER TABLE pgtrade.performance ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.performance
	USING (EXISTS (SELECT 1 FROM pgtrade.strategy s
				   WHERE s.strategy_id = performance.strategy_id));

CREATE FUNCTION pgtrade.raise_alert(p_kind text, p_account text,
	p_strategy bigint, p_order bigint, p_order_status text, p_message text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
BEGIN
	INSERT INTO pgtrade.alert (kind, account_id, strategy_id, order_id,
		order_status, message)
	VALUES (p_kind, p_account, p_strategy, p_order, p_order_status, p_message)
	ON CONFLICT (order_id, order_status) WHERE kind = 'stuck_order'
	DO NOTHING
	RETURNING alert_id INTO v_id;
	IF v_id IS NOT NULL THEN
		RAISE WARNING 'alert %: % account=% %', v_id, p_kind, p_account,
			p_message;
		PERFORM pg_notify('pgtrade_alert', json_build_object('alert_id', v_id,
			'kind', p_kind, 'account_id', p_account, 'strategy_id', p_strategy,
			'order_id', p_order, 'message', p_message)::text);
	END IF;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.raise_alert(text, text, bigint, bigint, text,
	text) IS
	'Internal: records an alert (once per stuck order and state), logs it '
	'as a WARNING and sends it on channel pgtrade_alert; NULL when it was '
	'already raised.';

/*
 * An order is stuck when it has sat in a state longer than that state
 * should last: pending (no listener claims it), submitting (no answer
 * from the broker), cancel_requested (no answer to the cancel), unknown
 * (an operator must resolve it: alerted at once), or a day order still
 * working older_than after the first close of its market after it was
 * placed (a day after, for an instrument without a calendar): its expiry
 * was never reported.
 */
CREATE FUNCTION pgtrade.check_stuck_orders(older_than interval
	DEFAULT '10 minutes')
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o record;
	v_n integer := 0;
BEGIN
	IF older_than IS NULL OR older_than < interval '1 minute' THEN
		RAISE EXCEPTION 'an order is stuck after a minute or more, not %',
			coalesce(older_than::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR v_o IN
		SELECT o.order_id, o.account_id, o.strategy_id, o.status,
			   o.client_order_id, i.symbol, o.side, o.quantity,
			   now() - o.updated_at AS age
		FROM pgtrade.orders o JOIN pgtrade.instrument i USING (instrument_id)
		WHERE (o.status IN ('pending', 'submitting', 'cancel_requested')
			   AND o.updated_at < now() - older_than)
		   OR o.status = 'unknown'
		   OR (o.status = 'working' AND o.tif = 'day'
			   AND now() - older_than > coalesce(
				   CASE WHEN i.calendar IS NOT NULL THEN
					   pgtrade.market_next_close(i.calendar, o.created_at)
				   END,
				   o.created_at + interval '1 day'))
		ORDER BY o.order_id
	LOOP
		IF pgtrade.raise_alert('stuck_order', v_o.account_id, v_o.strategy_id,
			v_o.order_id, v_o.status,
			format('order %s (%s, %s %s %s) has been %s for %s',
				   v_o.order_id, v_o.client_order_id, v_o.side, v_o.quantity,
				   v_o.symbol, v_o.status,
				   date_trunc('second', v_o.age))) IS NOT NULL THEN
			v_n := v_n + 1;
		END IF;
	END LOOP;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION pgtrade.check_stuck_orders(interval) IS
	'Raises an alert for each order stuck in pending, submitting or '
	'cancel_requested longer than older_than, in unknown at all, or (a '
	'day order) working older_than past its market''s first close after '
	'it was placed; returns how many new alerts it raised.';

CREATE FUNCTION pgtrade.acknowledge_alert(alert_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_a pgtrade.alert;
BEGIN
	SELECT * INTO v_a FROM pgtrade.alert a
	WHERE a.alert_id = acknowledge_alert.alert_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert % does not exist', alert_id
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_a.account_id);
	UPDATE pgtrade.alert a
	SET acknowledged_at = coalesce(a.acknowledged_at, now()),
		acknowledged_by = coalesce(a.acknowledged_by, pgtrade.caller_role())
	WHERE a.alert_id = v_a.alert_id;
END
$$;
COMMENT ON FUNCTION pgtrade.acknowledge_alert(bigint) IS
	'Marks an alert seen (the first acknowledgement is kept).';

/*
 * rollup_performance stores strategy_performance's rows for every
 * strategy (or the one named) that has traded; a day already stored is
 * overwritten only when a figure changed (a late fill, a corrected one).
 */
CREATE FUNCTION pgtrade.rollup_performance(strategy text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_s record;
	v_n integer;
	v_total integer := 0;
BEGIN
	IF strategy IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.strategy s WHERE s.name = rollup_performance.strategy) THEN
		RAISE EXCEPTION 'strategy "%" does not exist', strategy
			USING ERRCODE = 'undefined_object';
	END IF;
	FOR v_s IN
		SELECT s.strategy_id, s.name, s.account_id FROM pgtrade.strategy s
		WHERE (s.name = rollup_performance.strategy
			   OR (rollup_performance.strategy IS NULL
				   AND s.account_id = ANY (pgtrade.visible_accounts())))
			AND EXISTS (SELECT 1 FROM pgtrade.fill f
						WHERE f.account_id = s.account_id
							AND f.instrument_id = s.instrument_id)
		ORDER BY s.strategy_id
	LOOP
		PERFORM pgtrade.require_account(v_s.account_id);
		INSERT INTO pgtrade.performance AS p (strategy_id, day, trades,
			net_position, realized_pnl, cumulative_realized, unrealized_pnl,
			equity, drawdown)
		SELECT v_s.strategy_id, x.day, x.trades, x.net_position,
			   x.realized_pnl, x.cumulative_realized, x.unrealized_pnl,
			   x.equity, x.drawdown
		FROM pgtrade.strategy_performance(v_s.name) x
		ON CONFLICT (strategy_id, day) DO UPDATE
		SET trades = EXCLUDED.trades, net_position = EXCLUDED.net_position,
			realized_pnl = EXCLUDED.realized_pnl,
			cumulative_realized = EXCLUDED.cumulative_realized,
			unrealized_pnl = EXCLUDED.unrealized_pnl,
			equity = EXCLUDED.equity, drawdown = EXCLUDED.drawdown,
			computed_at = now()
		WHERE (p.trades, p.net_position, p.realized_pnl,
			   p.cumulative_realized, p.unrealized_pnl, p.equity, p.drawdown)
			IS DISTINCT FROM
			  (EXCLUDED.trades, EXCLUDED.net_position, EXCLUDED.realized_pnl,
			   EXCLUDED.cumulative_realized, EXCLUDED.unrealized_pnl,
			   EXCLUDED.equity, EXCLUDED.drawdown);
		GET DIAGNOSTICS v_n = ROW_COUNT;
		v_total := v_total + v_n;
	END LOOP;
	RETURN v_total;
END
$$;
COMMENT ON FUNCTION pgtrade.rollup_performance(text) IS
	'Stores the daily performance of every strategy that has traded in '
	'the accounts the caller may see (or of the one named) in '
	'pgtrade.performance; returns the rows written or changed.';

CREATE FUNCTION pgtrade.purge_step_details(keep interval DEFAULT '90 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n bigint;
BEGIN
	IF keep IS NULL OR keep < interval '1 day' THEN
		RAISE EXCEPTION 'keep at least a day of run steps, not %',
			coalesce(keep::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	DELETE FROM pgtrade.workflow_step st
	USING pgtrade.workflow_run r
	WHERE r.run_id = st.run_id AND r.finished_at < now() - keep;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION pgtrade.purge_step_details(interval) IS
	'Deletes the steps (inputs, outputs, timings) of runs that finished '
	'longer than keep ago; the runs themselves, their decisions and '
	'orders stay.  Returns the steps deleted.';

CREATE FUNCTION pgtrade.purge_run_details(keep interval DEFAULT '14 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n bigint;
BEGIN
	IF keep IS NULL OR keep < interval '1 day' THEN
		RAISE EXCEPTION 'keep at least a day of run details, not %',
			coalesce(keep::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	EXECUTE 'DELETE FROM cron.job_run_details d USING cron.job j
			 WHERE d.jobid = j.jobid AND j.jobname LIKE ''pgtrade-%''
			   AND d.end_time < now() - $1'
		USING keep;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION pgtrade.purge_run_details(interval) IS
	'Deletes pg_cron''s run details of pgtrade''s own jobs older than '
	'keep (pg_cron keeps them forever; run_due adds one a minute).  '
	'pgtrade''s own workflow_run history is never purged.';

/*
 * install_jobs schedules pgtrade's pg_cron jobs, as the given role, and
 * may be called again at any time: each job is replaced by name, and a
 * job switched off (step_retention NULL) is removed.  pg_cron schedules
 * in UTC.
 */
CREATE FUNCTION pgtrade.install_jobs(run_as name DEFAULT 'pgtrade_cron',
	step_retention interval DEFAULT '90 days',
	stuck_after interval DEFAULT '10 minutes')
RETURNS TABLE (jobid bigint, jobname text, schedule text, command text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_job record;
	v_id bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension
				   WHERE extname = 'pg_cron') THEN
		RAISE EXCEPTION 'extension "pg_cron" is not installed in this database'
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
				   WHERE r.rolname = run_as AND r.rolcanlogin
					 AND NOT r.rolsuper
					 AND pg_has_role(r.oid, 'pgtrade_scheduler', 'MEMBER')) THEN
		RAISE EXCEPTION 'role "%" must exist, log in, be a member of '
			'pgtrade_scheduler and not be a superuser', run_as
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'CREATE ROLE pgtrade_cron LOGIN IN ROLE pgtrade_scheduler';
	END IF;
	IF step_retention < interval '1 day' THEN
		RAISE EXCEPTION 'keep at least a day of run steps, not %', step_retention
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF stuck_after IS NULL OR stuck_after < interval '1 minute' THEN
		RAISE EXCEPTION 'an order is stuck after a minute or more, not %',
			coalesce(stuck_after::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR v_job IN
		SELECT * FROM (VALUES
			('pgtrade-run-due', '* * * * *', 'CALL pgtrade.run_due()'),
			('pgtrade-stuck-orders', '* * * * *',
			 format('SELECT pgtrade.check_stuck_orders(%L)', stuck_after)),
			('pgtrade-performance', '30 22 * * *',
			 'SELECT pgtrade.rollup_performance()'),
			('pgtrade-purge-run-details', '17 3 * * *',
			 'SELECT pgtrade.purge_run_details()'),
			('pgtrade-purge-step-details', '27 3 * * *',
			 CASE WHEN step_retention IS NOT NULL THEN
				 format('SELECT pgtrade.purge_step_details(%L)', step_retention)
			 END)) j(name, schedule, command)
	LOOP
		EXECUTE 'SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = $1'
			USING v_job.name;
		CONTINUE WHEN v_job.command IS NULL;
		EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4, $5, true)'
			INTO v_id
			USING v_job.name, v_job.schedule, v_job.command,
				  current_database(), run_as::text;
		jobid := v_id;
		jobname := v_job.name;
		schedule := v_job.schedule;
		command := v_job.command;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.install_jobs(name, interval, interval) IS
	'Schedules (again) pgtrade''s pg_cron jobs as the given non-superuser '
	'login role: run_due every minute, stuck-order alerts every minute, '
	'the performance rollup daily at 22:30 UTC, and the daily purges of '
	'pg_cron''s run details (14 days) and of run steps (step_retention; '
	'NULL keeps them).  Returns the jobs.  Superuser only.';

/* functions are created executable by PUBLIC: not pgtrade's */
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgtrade FROM PUBLIC;
/* the scheduler runs pgtrade's jobs and nothing else */
GRANT EXECUTE ON FUNCTION pgtrade.check_stuck_orders(interval),
	pgtrade.purge_run_details(interval),
	pgtrade.rollup_performance(text),
	pgtrade.purge_step_details(interval)
	TO pgtrade_scheduler;
REVOKE ALL ON FUNCTION pgtrade.raise_alert(text, text, bigint, bigint, text,
	text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgtrade.acknowledge_alert(bigint),
	pgtrade.rollup_performance(text)
	TO pgtrade_trader, pgtrade_admin;
GRANT SELECT ON pgtrade.performance, pgtrade.alert
	TO pgtrade_trader, pgtrade_admin;

CREATE VIEW pgtrade.alerts WITH (security_barrier) AS
	SELECT a.alert_id, a.raised_at, a.kind, a.account_id, s.name AS strategy,
		   a.order_id, a.order_status, o.status AS order_status_now,
		   a.message, a.acknowledged_at, a.acknowledged_by
	FROM pgtrade.alert a
	LEFT JOIN pgtrade.strategy s USING (strategy_id)
	LEFT JOIN pgtrade.orders o USING (order_id)
	WHERE a.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.alerts IS
	'Alerts of the accounts the caller may see, with the order''s state '
	'now; open ones have no acknowledged_at.';
COMMENT ON COLUMN pgtrade.alerts.alert_id IS
	'Identifies the alert; pass it to acknowledge_alert.';
COMMENT ON COLUMN pgtrade.alerts.raised_at IS 'When it was raised.';
COMMENT ON COLUMN pgtrade.alerts.kind IS
	'stuck_order, strategy_disabled or calendar_ended.';
COMMENT ON COLUMN pgtrade.alerts.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.alerts.strategy IS
	'The strategy concerned, or NULL.';
COMMENT ON COLUMN pgtrade.alerts.order_id IS
	'The order concerned (stuck_order), or NULL.';
COMMENT ON COLUMN pgtrade.alerts.order_status IS
	'The order''s status when the alert was raised.';
COMMENT ON COLUMN pgtrade.alerts.order_status_now IS
	'The order''s status now.';
COMMENT ON COLUMN pgtrade.alerts.message IS 'What happened, in plain words.';
COMMENT ON COLUMN pgtrade.alerts.acknowledged_at IS
	'When it was first acknowledged; NULL while open.';
COMMENT ON COLUMN pgtrade.alerts.acknowledged_by IS
	'The role that first acknowledged it.';

CREATE VIEW pgtrade.strategy_daily WITH (security_barrier) AS
	SELECT s.name AS strategy, s.account_id, i.symbol, p.day, p.trades,
		   p.net_position, p.realized_pnl, p.cumulative_realized,
		   p.unrealized_pnl, p.equity, p.drawdown, p.computed_at
	FROM pgtrade.performance p
	JOIN pgtrade.strategy s USING (strategy_id)
	JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
	WHERE s.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.strategy_daily IS
	'Daily performance of the strategies of the accounts the caller may '
	'see, as the rollup stored it.';
COMMENT ON COLUMN pgtrade.strategy_daily.strategy IS 'The strategy''s name.';
COMMENT ON COLUMN pgtrade.strategy_daily.account_id IS
	'The strategy''s account.';
COMMENT ON COLUMN pgtrade.strategy_daily.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.strategy_daily.day IS 'The session day.';
COMMENT ON COLUMN pgtrade.strategy_daily.trades IS
	'Fills of the account in the instrument that day.';
COMMENT ON COLUMN pgtrade.strategy_daily.net_position IS
	'Position at the end of the day.';
COMMENT ON COLUMN pgtrade.strategy_daily.realized_pnl IS
	'Realized P&L of the day, before commissions.';
COMMENT ON COLUMN pgtrade.strategy_daily.cumulative_realized IS
	'Realized P&L to date, before commissions.';
COMMENT ON COLUMN pgtrade.strategy_daily.unrealized_pnl IS
	'Unrealized P&L at the day''s close; NULL without a daily bar.';
COMMENT ON COLUMN pgtrade.strategy_daily.equity IS
	'cumulative_realized + unrealized_pnl; NULL without a daily bar.';
COMMENT ON COLUMN pgtrade.strategy_daily.drawdown IS
	'equity less its running peak (0 or negative); NULL without a daily '
	'bar.';
COMMENT ON COLUMN pgtrade.strategy_daily.computed_at IS
	'When the rollup stored the row.';
GRANT SELECT ON pgtrade.alerts, pgtrade.strategy_daily
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin;
/*
 * 96_monitoring.sql: the figures an operator watches, as two views a
 * dashboard or a Prometheus exporter reads.
 *
 * monitor_accounts holds one row per account the caller may see;
 * monitor adds them up into one row and adds the listeners' figures,
 * which belong to no account.  Every figure is a number (flags are 0 or
 * 1, ages are seconds) so that each column is a metric as it stands;
 * monitoring/postgres-exporter-queries.yaml maps them.
 *
 * "Today" is the account's trading day: from local midnight in
 * account.time_zone (America/New_York unless set), the day the risk
 * gate counts max_orders_per_day and the daily loss from.  The total
 * row adds each account's own day.
 *
 * Like every view, these run with their owner's rights, so row-level
 * security does not filter them: each filters by visible_accounts for
 * the caller, and is a security barrier, since the aggregates would
 * otherwise let a caller's function see accounts before the filter.
 * The listeners are everybody's to see, as in listener_health.
 *
 * A scrape should cost index probes, not scans of the history tables:
 * the indexes below serve the figures that look back (today, 24 hours)
 * and are small, each holding only the rows those figures count.
 */

/* fills of an account since the start of its day */
CREATE INDEX fill_account_trade_time
	ON pgtrade.fill (account_id, trade_time);
/* the one event that rejected each order; order_note's repeats are out */
CREATE INDEX order_event_rejected ON pgtrade.order_event (at)
	WHERE to_status = 'rejected' AND from_status <> 'rejected';
/* the runs that went wrong, per strategy and time */
CREATE INDEX workflow_run_trouble
	ON pgtrade.workflow_run (strategy_id, started_at)
	WHERE status IN ('failed', 'missed');

CREATE VIEW pgtrade.monitor_accounts WITH (security_barrier) AS
	SELECT a.account_id, a.time_zone, d.trading_day, d.day_start,
		   a.halted::integer AS halted,
		   ks.kill_switch,
		   o.pending_orders, o.oldest_pending_order_age_seconds,
		   o.submitting_orders, o.working_orders, o.cancel_requested_orders,
		   o.unknown_orders, o.open_orders, o.oldest_open_order_age_seconds,
		   f.fills_today, f.fills_today_notional,
		   rj.rejects_today, rf.refusals_today,
		   dr.drifts_blocking, dr.drifts_unresolved,
		   r.runs_failed_24h, r.runs_missed_24h,
		   al.alerts_unacknowledged,
		   l.listener_heartbeat_age_seconds, l.gateway_state,
		   l.gateway_ready
	FROM pgtrade.account a
	CROSS JOIN LATERAL (
		SELECT x.day AS trading_day,
			   x.day::timestamp AT TIME ZONE a.time_zone AS day_start
		FROM (SELECT (now() AT TIME ZONE a.time_zone)::date AS day) x) d
	/* a switch on for all accounts or this one; strategies' are apart */
	CROSS JOIN LATERAL (
		SELECT count(*)::integer AS kill_switch FROM (
			SELECT 1 FROM pgtrade.risk_limit k
			WHERE k.kill_switch AND k.strategy_id IS NULL
				AND (k.account_id IS NULL OR k.account_id = a.account_id)
			LIMIT 1) x) ks
	/* the WHERE clause is orders_unsettled's first arm: that index serves */
	CROSS JOIN LATERAL (
		SELECT count(*) FILTER (WHERE o.status = 'pending') AS pending_orders,
			   coalesce(extract(epoch FROM now() - min(o.created_at)
					FILTER (WHERE o.status = 'pending')), 0)
				   AS oldest_pending_order_age_seconds,
			   count(*) FILTER (WHERE o.status = 'submitting')
				   AS submitting_orders,
			   count(*) FILTER (WHERE o.status = 'working') AS working_orders,
			   count(*) FILTER (WHERE o.status = 'cancel_requested')
				   AS cancel_requested_orders,
			   count(*) FILTER (WHERE o.status = 'unknown') AS unknown_orders,
			   count(*) AS open_orders,
			   coalesce(extract(epoch FROM now() - min(o.created_at)), 0)
				   AS oldest_open_order_age_seconds
		FROM pgtrade.orders o
		WHERE o.account_id = a.account_id
			AND o.status IN ('pending', 'submitting', 'working',
							 'cancel_requested', 'unknown')) o
	/* effective executions only: a correction replaces, not adds */
	CROSS JOIN LATERAL (
		SELECT count(*) AS fills_today,
			   coalesce(sum(fl.quantity * fl.price), 0) AS fills_today_notional
		FROM pgtrade.fill fl
		WHERE fl.account_id = a.account_id AND fl.trade_time >= d.day_start
			AND NOT EXISTS (
				SELECT 1 FROM pgtrade.fill_correction c
				WHERE c.corrected_execution_id = fl.execution_id)) f
	CROSS JOIN LATERAL (
		SELECT count(*) AS rejects_today
		FROM pgtrade.order_event e
		JOIN pgtrade.orders ro ON ro.order_id = e.order_id
		WHERE e.to_status = 'rejected' AND e.from_status <> 'rejected'
			AND e.at >= d.day_start AND ro.account_id = a.account_id) rj
	CROSS JOIN LATERAL (
		SELECT count(*) AS refusals_today
		FROM pgtrade.orders fo
		WHERE fo.account_id = a.account_id AND fo.created_at >= d.day_start
			AND fo.status = 'refused') rf
	CROSS JOIN LATERAL (
		SELECT count(*) FILTER (WHERE pd.status = 'open') AS drifts_blocking,
			   count(*) AS drifts_unresolved
		FROM pgtrade.position_drift pd
		WHERE pd.account_id = a.account_id AND pd.status <> 'resolved') dr
	CROSS JOIN LATERAL (
		SELECT count(*) FILTER (WHERE w.status = 'failed') AS runs_failed_24h,
			   count(*) FILTER (WHERE w.status = 'missed') AS runs_missed_24h
		FROM pgtrade.strategy s
		JOIN pgtrade.workflow_run w ON w.strategy_id = s.strategy_id
		WHERE s.account_id = a.account_id
			AND w.status IN ('failed', 'missed')
			AND w.started_at > now() - interval '24 hours') r
	CROSS JOIN LATERAL (
		SELECT count(*) AS alerts_unacknowledged
		FROM pgtrade.alert k
		WHERE k.account_id = a.account_id AND k.acknowledged_at IS NULL) al
	/* the listener that last held the account's lease */
	LEFT JOIN LATERAL (
		SELECT extract(epoch FROM now() - li.heartbeat_at)
				   AS listener_heartbeat_age_seconds,
			   CASE WHEN li.stopped_at IS NOT NULL THEN 'stopped'
					ELSE li.gateway_state END AS gateway_state,
			   (li.stopped_at IS NULL AND li.gateway_state
				IN ('authenticated', 'paper'))::integer AS gateway_ready
		FROM pgtrade.listener li
		WHERE a.account_id = ANY (li.accounts)
		ORDER BY li.heartbeat_at DESC, li.listener_id DESC
		LIMIT 1) l ON true
	WHERE a.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.monitor_accounts IS
	'One row per account the caller may see, with what an operator '
	'watches: halted and kill_switch (0 or 1), orders by open state with '
	'the oldest pending and open order''s age in seconds, fills (effective '
	'executions) and their notional, broker rejections and risk gate '
	'refusals today (the account''s trading day), blocking (open) and '
	'unresolved position drift, runs failed and missed in the last 24 '
	'hours, unacknowledged alerts, and the heartbeat age and gateway state '
	'of the listener that last held the account''s lease.';
COMMENT ON COLUMN pgtrade.monitor_accounts.account_id IS
	'The account.';
COMMENT ON COLUMN pgtrade.monitor_accounts.time_zone IS
	'The account''s time zone, which defines its trading day.';
COMMENT ON COLUMN pgtrade.monitor_accounts.submitting_orders IS
	'Orders being sent to the broker now.';
COMMENT ON COLUMN pgtrade.monitor_accounts.working_orders IS
	'Orders the broker holds, unfilled or part filled.';
COMMENT ON COLUMN pgtrade.monitor_accounts.cancel_requested_orders IS
	'Orders whose cancel was asked for and not yet confirmed.';
COMMENT ON COLUMN pgtrade.monitor_accounts.unknown_orders IS
	'Orders whose state at the broker is unknown: the account halts until '
	'an operator settles them.';
COMMENT ON COLUMN pgtrade.monitor_accounts.trading_day IS
	'The account''s trading day now, in its time_zone: what "today" means '
	'in this row.';
COMMENT ON COLUMN pgtrade.monitor_accounts.day_start IS
	'When the trading day began: local midnight in time_zone.';
COMMENT ON COLUMN pgtrade.monitor_accounts.halted IS
	'1 while the account is halted (an order in an unknown state): the gate '
	'refuses its new orders.';
COMMENT ON COLUMN pgtrade.monitor_accounts.kill_switch IS
	'1 while a kill switch for all accounts or for this one is on; '
	'switches of single strategies are not counted.';
COMMENT ON COLUMN pgtrade.monitor_accounts.pending_orders IS
	'Queue depth: orders accepted by the gate and waiting to be claimed and '
	'sent.';
COMMENT ON COLUMN pgtrade.monitor_accounts.oldest_pending_order_age_seconds IS
	'Seconds since the oldest pending order was placed; 0 when none waits.';
COMMENT ON COLUMN pgtrade.monitor_accounts.open_orders IS
	'Orders in a state that is not final: pending, submitting, working, '
	'cancel_requested and unknown (the sum of the five counts).';
COMMENT ON COLUMN pgtrade.monitor_accounts.oldest_open_order_age_seconds IS
	'Seconds since the oldest open order was placed; 0 when none is open.  '
	'GTC orders may rightly be old.';
COMMENT ON COLUMN pgtrade.monitor_accounts.fills_today IS
	'Effective executions (not replaced by a correction) whose trade time '
	'is in the trading day.';
COMMENT ON COLUMN pgtrade.monitor_accounts.fills_today_notional IS
	'Sum of quantity x price of those executions (numeric), in the '
	'instruments'' currencies, added as they are.';
COMMENT ON COLUMN pgtrade.monitor_accounts.rejects_today IS
	'Orders the broker rejected during the trading day.';
COMMENT ON COLUMN pgtrade.monitor_accounts.refusals_today IS
	'Orders the risk gate refused during the trading day.';
COMMENT ON COLUMN pgtrade.monitor_accounts.drifts_blocking IS
	'Open position drift: while any, no new order of the account is claimed.';
COMMENT ON COLUMN pgtrade.monitor_accounts.drifts_unresolved IS
	'Open and acknowledged position drift.';
COMMENT ON COLUMN pgtrade.monitor_accounts.runs_failed_24h IS
	'Runs of the account''s strategies that failed and started in the last '
	'24 hours.';
COMMENT ON COLUMN pgtrade.monitor_accounts.runs_missed_24h IS
	'Cron slots of the account''s strategies recorded as missed in the last '
	'24 hours.';
COMMENT ON COLUMN pgtrade.monitor_accounts.alerts_unacknowledged IS
	'Alerts of the account not acknowledged yet.';
COMMENT ON COLUMN pgtrade.monitor_accounts.listener_heartbeat_age_seconds IS
	'Seconds since the last heartbeat of the listener that last held the '
	'account''s lease (a clean stop writes a last one); NULL when none ever '
	'held it.';
COMMENT ON COLUMN pgtrade.monitor_accounts.gateway_state IS
	'That listener''s gateway state, or stopped when it has stopped.';
COMMENT ON COLUMN pgtrade.monitor_accounts.gateway_ready IS
	'1 when that listener runs and its gateway state is authenticated (or '
	'paper, which needs no gateway), else 0; NULL when none ever held the '
	'lease.';

CREATE VIEW pgtrade.monitor WITH (security_barrier) AS
	SELECT t.accounts, t.halted_accounts, t.kill_switched_accounts,
		   t.pending_orders, t.oldest_pending_order_age_seconds,
		   t.submitting_orders, t.working_orders, t.cancel_requested_orders,
		   t.unknown_orders, t.open_orders, t.oldest_open_order_age_seconds,
		   t.fills_today, t.fills_today_notional, t.rejects_today,
		   t.refusals_today, t.drifts_blocking, t.drifts_unresolved,
		   t.runs_failed_24h, t.runs_missed_24h, t.alerts_unacknowledged,
		   l.listeners_alive, f.listener_heartbeat_age_seconds,
		   f.gateway_state, coalesce(f.gateway_ready, 0) AS gateway_ready
	FROM (
		SELECT count(*) AS accounts,
			   coalesce(sum(m.halted), 0) AS halted_accounts,
			   coalesce(sum(m.kill_switch), 0) AS kill_switched_accounts,
			   coalesce(sum(m.pending_orders), 0)::bigint AS pending_orders,
			   coalesce(max(m.oldest_pending_order_age_seconds), 0)
				   AS oldest_pending_order_age_seconds,
			   coalesce(sum(m.submitting_orders), 0)::bigint
				   AS submitting_orders,
			   coalesce(sum(m.working_orders), 0)::bigint AS working_orders,
			   coalesce(sum(m.cancel_requested_orders), 0)::bigint
				   AS cancel_requested_orders,
			   coalesce(sum(m.unknown_orders), 0)::bigint AS unknown_orders,
			   coalesce(sum(m.open_orders), 0)::bigint AS open_orders,
			   coalesce(max(m.oldest_open_order_age_seconds), 0)
				   AS oldest_open_order_age_seconds,
			   coalesce(sum(m.fills_today), 0)::bigint AS fills_today,
			   coalesce(sum(m.fills_today_notional), 0)
				   AS fills_today_notional,
			   coalesce(sum(m.rejects_today), 0)::bigint AS rejects_today,
			   coalesce(sum(m.refusals_today), 0)::bigint AS refusals_today,
			   coalesce(sum(m.drifts_blocking), 0)::bigint AS drifts_blocking,
			   coalesce(sum(m.drifts_unresolved), 0)::bigint
				   AS drifts_unresolved,
			   coalesce(sum(m.runs_failed_24h), 0)::bigint AS runs_failed_24h,
			   coalesce(sum(m.runs_missed_24h), 0)::bigint AS runs_missed_24h,
			   coalesce(sum(m.alerts_unacknowledged), 0)::bigint
				   AS alerts_unacknowledged
		FROM pgtrade.monitor_accounts m) t
	CROSS JOIN (
		SELECT count(*) AS listeners_alive FROM pgtrade.listener li
		WHERE li.stopped_at IS NULL
			AND li.heartbeat_at > now() - interval '1 minute') l
	/* the freshest listener of all: a clean stop writes a last heartbeat */
	LEFT JOIN LATERAL (
		SELECT extract(epoch FROM now() - li.heartbeat_at)
				   AS listener_heartbeat_age_seconds,
			   CASE WHEN li.stopped_at IS NOT NULL THEN 'stopped'
					ELSE li.gateway_state END AS gateway_state,
			   (li.stopped_at IS NULL AND li.gateway_state
				IN ('authenticated', 'paper'))::integer AS gateway_ready
		FROM pgtrade.listener li
		ORDER BY li.heartbeat_at DESC, li.listener_id DESC
		LIMIT 1) f ON true;
COMMENT ON VIEW pgtrade.monitor IS
	'One row: monitor_accounts added up over the accounts the caller may '
	'see (counts summed, ages the oldest), with the listeners alive '
	'(running, heartbeat within a minute) and the heartbeat age and '
	'gateway state of the freshest listener.';
COMMENT ON COLUMN pgtrade.monitor.halted_accounts IS
	'Sum of monitor_accounts.halted over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.kill_switched_accounts IS
	'Sum of monitor_accounts.kill_switch over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.pending_orders IS
	'Sum of monitor_accounts.pending_orders over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.submitting_orders IS
	'Sum of monitor_accounts.submitting_orders over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.working_orders IS
	'Sum of monitor_accounts.working_orders over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.cancel_requested_orders IS
	'Sum of monitor_accounts.cancel_requested_orders over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.unknown_orders IS
	'Sum of monitor_accounts.unknown_orders over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.open_orders IS
	'Sum of monitor_accounts.open_orders over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.fills_today IS
	'Sum of monitor_accounts.fills_today over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.fills_today_notional IS
	'Sum of monitor_accounts.fills_today_notional over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.rejects_today IS
	'Sum of monitor_accounts.rejects_today over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.refusals_today IS
	'Sum of monitor_accounts.refusals_today over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.drifts_blocking IS
	'Sum of monitor_accounts.drifts_blocking over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.drifts_unresolved IS
	'Sum of monitor_accounts.drifts_unresolved over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.runs_failed_24h IS
	'Sum of monitor_accounts.runs_failed_24h over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.runs_missed_24h IS
	'Sum of monitor_accounts.runs_missed_24h over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.alerts_unacknowledged IS
	'Sum of monitor_accounts.alerts_unacknowledged over the accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.oldest_pending_order_age_seconds IS
	'Largest monitor_accounts.oldest_pending_order_age_seconds of the '
	'accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.oldest_open_order_age_seconds IS
	'Largest monitor_accounts.oldest_open_order_age_seconds of the '
	'accounts the caller may see.';
COMMENT ON COLUMN pgtrade.monitor.accounts IS
	'Accounts the caller may see: 0 means the figures cover nothing.';
COMMENT ON COLUMN pgtrade.monitor.listeners_alive IS
	'Listeners running whose heartbeat is less than a minute old.';
COMMENT ON COLUMN pgtrade.monitor.listener_heartbeat_age_seconds IS
	'Seconds since the freshest heartbeat of any listener (a clean stop '
	'writes a last one); NULL when no listener ever started.';
COMMENT ON COLUMN pgtrade.monitor.gateway_state IS
	'The freshest listener''s gateway state, or stopped when it has '
	'stopped; NULL when no listener ever started.';
COMMENT ON COLUMN pgtrade.monitor.gateway_ready IS
	'1 when the freshest listener runs and its gateway state is '
	'authenticated or paper, else 0.';

GRANT SELECT ON pgtrade.monitor, pgtrade.monitor_accounts
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin;
/*
 * 97_report.sql: pages that picture a kept backtest or a strategy's
 * trading: prices with the kind's indicators, buy and sell markers at
 * the fills, equity and drawdown, the summary and the trades.
 *
 * A page is one text value of HTML with inline CSS and SVG: no script,
 * no font, no image and no address to fetch, and a Content-Security-
 * Policy that forbids loading any.  The charts are drawn here, each
 * series a path whose points are scaled to the chart's box.  Every text
 * that comes from the database goes through report_escape.
 *
 * The functions run with the caller's rights (SECURITY INVOKER): they
 * read the views and tables under the same privileges and row-level
 * security as any query of the caller's, so a page shows only what its
 * caller may see, and an id the caller may not see is reported as
 * missing.  Kept backtests are for traders and admins, as the tables
 * are; a strategy's page reads only views, so readers may draw it too.
 */

/*
 * report_escape makes a text safe inside HTML elements and quoted
 * attributes; NULL becomes the empty string, so that a missing value
 * cannot blank a page built by concatenation.
 */
CREATE FUNCTION pgtrade.report_escape(value text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(replace(replace(replace(replace(replace(value,
		'&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'),
		'''', '&#39;'), '');
$$;
COMMENT ON FUNCTION pgtrade.report_escape(text) IS
	'Internal: a text escaped for HTML (& < > " and quote); NULL gives an '
	'empty string.';

/*
 * report_number formats a number with thousands separated by commas and
 * the given decimals (at least that many, up to 4 more when the value
 * has them); NULL becomes a dash.
 */
CREATE FUNCTION pgtrade.report_number(value numeric, decimals integer,
	extra integer DEFAULT 0)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN value IS NULL THEN '–'
		WHEN value = 'NaN' THEN 'NaN'
		ELSE rtrim(to_char(round(value, decimals + extra),
			'FM999,999,999,999,999,999,990'
			|| CASE WHEN decimals + extra > 0 THEN '.'
				|| repeat('0', decimals) || repeat('9', extra) ELSE '' END),
			'.') END;
$$;
COMMENT ON FUNCTION pgtrade.report_number(numeric, integer, integer) IS
	'Internal: a number for a page: 1,234.50 with decimals 2; extra more '
	'decimals shown only when not zero; NULL as a dash.';

/*
 * report_percent formats a fraction as a percentage with two decimals.
 */
CREATE FUNCTION pgtrade.report_percent(value numeric)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN value IS NULL THEN '–'
		ELSE pgtrade.report_number(value * 100, 2) || ' %' END;
$$;
COMMENT ON FUNCTION pgtrade.report_percent(numeric) IS
	'Internal: a fraction as a percentage for a page (-0.0512 is -5.12 %).';

/*
 * report_time formats an instant in a zone: the date alone for daily
 * bars, the date and the minute otherwise.
 */
CREATE FUNCTION pgtrade.report_time(value timestamptz, time_zone text,
	daily boolean)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(to_char(value AT TIME ZONE time_zone,
		CASE WHEN daily THEN 'YYYY-MM-DD' ELSE 'YYYY-MM-DD HH24:MI' END),
		'–');
$$;
COMMENT ON FUNCTION pgtrade.report_time(timestamptz, text, boolean) IS
	'Internal: an instant for a page, in a time zone: a date for daily '
	'bars, a date and time otherwise.';

/*
 * report_indicators lists the lines a strategy kind decides by, computed
 * over the closes (and highs and lows) given: panel price for lines
 * drawn over the prices, indicator for those drawn in a chart of their
 * own.  Defaults of the params are the kinds' own.  A kind it does not
 * know (a user's) has no lines.
 */
CREATE FUNCTION pgtrade.report_indicators(kind text, params jsonb,
	high float8[], low float8[], close float8[])
RETURNS TABLE (panel text, label text, series float8[])
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_p jsonb := coalesce(params, '{}');
	v_a integer;
	v_b integer;
	v_c integer;
	v_k float8;
	v_n integer := coalesce(cardinality(close), 0);
BEGIN
	IF v_n = 0 THEN
		RETURN;
	END IF;
	CASE kind
	WHEN 'sma_cross', 'ema_cross' THEN
		v_a := coalesce((v_p ->> 'fast')::integer,
						CASE kind WHEN 'ema_cross' THEN 12 END);
		v_b := coalesce((v_p ->> 'slow')::integer,
						CASE kind WHEN 'ema_cross' THEN 26 END);
		IF v_a IS NULL OR v_b IS NULL THEN
			RETURN;
		END IF;
		RETURN QUERY
			SELECT 'price', format('%s(%s)', upper(left(kind, 3)), x.n),
				CASE kind WHEN 'sma_cross' THEN pgtrade.sma(close, x.n)
					ELSE pgtrade.ema(close, x.n) END
			FROM unnest(ARRAY[v_a, v_b]) WITH ORDINALITY x(n, o)
			ORDER BY x.o;
	WHEN 'bollinger_breakout' THEN
		v_a := coalesce((v_p ->> 'period')::integer, 20);
		v_k := coalesce((v_p ->> 'k')::float8, 2);
		RETURN QUERY
			SELECT 'price', x.l, x.s
			FROM pgtrade.bollinger(close, v_a, v_k) b,
				LATERAL (VALUES
					(1, format('upper band (%s, %s)', v_a, v_k), b.upper),
					(2, format('SMA(%s)', v_a), b.middle),
					(3, format('lower band (%s, %s)', v_a, v_k), b.lower))
				x(o, l, s)
			ORDER BY x.o;
	WHEN 'confirmations' THEN
		v_a := coalesce((v_p ->> 'sma')::integer, 20);
		v_b := coalesce((v_p ->> 'supertrend_period')::integer, 10);
		v_k := coalesce((v_p ->> 'supertrend_multiplier')::float8, 3);
		RETURN QUERY
			SELECT 'price', format('SMA(%s)', v_a), pgtrade.sma(close, v_a);
		RETURN QUERY
			SELECT 'price', format('SuperTrend(%s, %s)', v_b, v_k),
				(pgtrade.supertrend(high, low, close, v_b, v_k)).supertrend;
	WHEN 'macd_cross' THEN
		v_a := coalesce((v_p ->> 'fast')::integer, 12);
		v_b := coalesce((v_p ->> 'slow')::integer, 26);
		v_c := coalesce((v_p ->> 'signal')::integer, 9);
		RETURN QUERY
			SELECT 'indicator', x.l, x.s
			FROM pgtrade.macd(close, v_a, v_b, v_c) m,
				LATERAL (VALUES
					(1, format('MACD(%s, %s)', v_a, v_b), m.macd),
					(2, format('signal(%s)', v_c), m.signal)) x(o, l, s)
			ORDER BY x.o;
	WHEN 'rsi_reversion' THEN
		v_a := coalesce((v_p ->> 'period')::integer, 14);
		RETURN QUERY
			SELECT 'indicator', format('RSI(%s)', v_a), pgtrade.rsi(close, v_a);
		/* the thresholds, as flat lines */
		RETURN QUERY
			SELECT 'indicator', format('%s %s', x.l, x.v),
				array_fill(x.v, ARRAY[v_n])
			FROM (VALUES
					(1, 'low', coalesce((v_p ->> 'low')::float8, 30)),
					(2, 'high', coalesce((v_p ->> 'high')::float8, 70)))
				x(o, l, v)
			ORDER BY x.o;
	ELSE
		RETURN;
	END CASE;
END
$$;
COMMENT ON FUNCTION pgtrade.report_indicators(text, jsonb, float8[],
	float8[], float8[]) IS
	'Internal: the lines a built-in strategy kind decides by, for its '
	'charts (moving averages, bands and SuperTrend over the prices; MACD '
	'and RSI apart).';

/*
 * report_step rounds a tick interval up to 1, 2 or 5 times a power of
 * ten, so that axis labels are round numbers.
 */
CREATE FUNCTION pgtrade.report_step(raw float8)
RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m * CASE WHEN raw / m <= 1 THEN 1 WHEN raw / m <= 2 THEN 2
					WHEN raw / m <= 5 THEN 5 ELSE 10 END
	FROM (SELECT 10 ^ floor(log(raw)) AS m) x;
$$;
COMMENT ON FUNCTION pgtrade.report_step(float8) IS
	'Internal: an axis step of 1, 2 or 5 times a power of ten, at least '
	'raw (which must be above 0).';

/*
 * report_chart draws one chart as inline SVG.  ts holds the instants of
 * the points, oldest first; series is a two-dimensional array with one
 * row per line, as long as ts (NULL leaves a gap); labels and classes
 * name each line for the legend and the style sheet.  marks is a JSON
 * array of {"ts", "y", "class", "shape" (up, down or dot), "title"}.
 * With area the first line is filled down to zero.  Each line's path
 * carries its count of points and its first, last, lowest and highest
 * values as data- attributes, for whoever reads the page by program.  The axes fit every
 * point and mark; times are labelled in time_zone.  Without a point it
 * returns a paragraph that says so.
 */
CREATE FUNCTION pgtrade.report_chart(id text, ts timestamptz[],
	series float8[], labels text[], classes text[], time_zone text,
	height integer DEFAULT 300, marks jsonb DEFAULT '[]',
	area boolean DEFAULT false, unit text DEFAULT '')
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c_w constant float8 := 960;
	c_left constant float8 := 80;
	c_right constant float8 := 16;
	c_top constant float8 := 26;
	c_bottom constant float8 := 26;
	v_pw float8 := c_w - c_left - c_right;
	v_ph float8 := height - c_top - c_bottom;
	v_rows integer := coalesce(array_length(series, 1), 0);
	v_n integer := coalesce(array_length(series, 2), 0);
	v_marks jsonb := coalesce(marks, '[]');
	v_e0 float8;
	v_e1 float8;
	v_lo float8;
	v_hi float8;
	v_pad float8;
	v_step float8;
	v_dec integer;
	v_y float8;
	v_x float8;
	v_fmt text;
	v_d text;
	v_data text;
	v_body text := '';
	v_grid text := '';
	v_legend text := '';
	v_lx float8 := c_left;
	i integer;
BEGIN
	SELECT min(extract(epoch FROM t)), max(extract(epoch FROM t))
	INTO v_e0, v_e1
	FROM (SELECT unnest(ts) AS t
		  UNION ALL
		  SELECT (m ->> 'ts')::timestamptz FROM jsonb_array_elements(v_marks) m) x;
	SELECT min(v), max(v) INTO v_lo, v_hi
	FROM (SELECT unnest(series) AS v
		  UNION ALL
		  SELECT (m ->> 'y')::float8 FROM jsonb_array_elements(v_marks) m) x
	WHERE v <> 'NaN';
	IF v_e0 IS NULL OR v_lo IS NULL THEN
		RETURN format('<p class="empty" id="%s">Nothing to chart.</p>',
					  pgtrade.report_escape(id));
	END IF;

	/* the value axis: a margin around the data, zero in an area chart */
	IF area THEN
		v_lo := least(v_lo, 0);
		v_hi := greatest(v_hi, 0);
	END IF;
	v_pad := CASE WHEN v_hi > v_lo THEN (v_hi - v_lo) * 0.05
				  ELSE greatest(abs(v_hi) * 0.05, 1) END;
	v_lo := v_lo - v_pad;
	v_hi := v_hi + v_pad;
	v_step := pgtrade.report_step((v_hi - v_lo) / 8);
	v_dec := greatest(0, -floor(log(v_step))::integer);
	FOR i IN ceil(v_lo / v_step)::integer .. floor(v_hi / v_step)::integer LOOP
		v_y := c_top + (v_hi - i * v_step) / (v_hi - v_lo) * v_ph;
		v_grid := v_grid || format('<line class="grid" x1="%s" y1="%s" '
			'x2="%s" y2="%s"/><text class="tick y" x="%s" y="%s">%s%s</text>',
			c_left, round(v_y::numeric, 1), c_w - c_right,
			round(v_y::numeric, 1), c_left - 6, round(v_y::numeric + 4, 1),
			pgtrade.report_number((i * v_step)::numeric, v_dec),
			pgtrade.report_escape(unit));
	END LOOP;

	/* the time axis: six instants, dates unless it spans under 3 days */
	v_fmt := CASE WHEN v_e1 - v_e0 >= 3 * 86400 THEN 'YYYY-MM-DD'
				  ELSE 'MM-DD HH24:MI' END;
	FOR i IN 0 .. CASE WHEN v_e1 > v_e0 THEN 5 ELSE 0 END LOOP
		v_x := c_left + CASE WHEN v_e1 > v_e0 THEN i * v_pw / 5
							 ELSE v_pw / 2 END;
		v_grid := v_grid || format('<text class="tick x" x="%s" y="%s" '
			'text-anchor="%s">%s</text>', round(v_x::numeric, 1), height - 8,
			CASE WHEN v_e1 = v_e0 THEN 'middle' WHEN i = 0 THEN 'start'
				 WHEN i = 5 THEN 'end' ELSE 'middle' END,
			to_char(to_timestamp(round(v_e0 + i * (v_e1 - v_e0) / 5))
					AT TIME ZONE time_zone, v_fmt));
	END LOOP;

	/* each line: M at the first point and after a gap, L otherwise */
	FOR i IN 1 .. v_rows LOOP
		SELECT string_agg(CASE WHEN p.gap THEN 'M' ELSE 'L' END
						  || p.x || ',' || p.y, ' ' ORDER BY p.j),
			   format('data-points="%s" data-first="%s" data-last="%s" '
				'data-min="%s" data-max="%s"', count(*),
				round((array_agg(p.v ORDER BY p.j))[1]::numeric, 6),
				round((array_agg(p.v ORDER BY p.j DESC))[1]::numeric, 6),
				round(min(p.v)::numeric, 6), round(max(p.v)::numeric, 6))
		INTO v_d, v_data
		FROM (SELECT u.j, u.v,
				round((c_left + coalesce((extract(epoch FROM u.t) - v_e0)
					/ nullif(v_e1 - v_e0, 0) * v_pw, v_pw / 2))::numeric,
					1) AS x,
				round((c_top + (v_hi - u.v) / (v_hi - v_lo) * v_ph)::numeric,
					1) AS y,
				coalesce(lag(u.v) OVER (ORDER BY u.j) IS NULL, true) AS gap
			  FROM unnest(ts, series[i:i][1:v_n]) WITH ORDINALITY u(t, v, j)) p
		WHERE p.v IS NOT NULL AND p.v <> 'NaN';
		CONTINUE WHEN v_d IS NULL;
		IF area AND i = 1 THEN
			v_y := c_top + v_hi / (v_hi - v_lo) * v_ph;
			v_body := v_body || format('<path class="area %s" d="%s L%s,%s '
				'L%s,%s Z"/>', pgtrade.report_escape(classes[i]), v_d,
				substring(v_d FROM '([0-9.-]+),[0-9.-]+$'),
				round(v_y::numeric, 1),
				substring(v_d FROM '^M([0-9.-]+),'), round(v_y::numeric, 1));
		END IF;
		v_body := v_body || format('<path class="line %s" d="%s" %s/>',
			pgtrade.report_escape(classes[i]), v_d, v_data);
		v_legend := v_legend || format('<line class="line %s" x1="%s" '
			'y1="12" x2="%s" y2="12"/><text class="legend" x="%s" y="16">%s'
			'</text>', pgtrade.report_escape(classes[i]), v_lx, v_lx + 18,
			v_lx + 23, pgtrade.report_escape(labels[i]));
		v_lx := v_lx + 40 + 7 * length(coalesce(labels[i], ''));
	END LOOP;

	/* markers: a triangle under a buy, over a sell, or a dot */
	SELECT v_body || coalesce(string_agg(format(
		'<path class="%s" d="%s"><title>%s</title></path>',
		pgtrade.report_escape(m.v ->> 'class'),
		CASE m.v ->> 'shape'
			WHEN 'up' THEN format('M%s,%s l-5,10 h10 z', m.x, m.y + 2)
			WHEN 'down' THEN format('M%s,%s l-5,-10 h10 z', m.x, m.y - 2)
			ELSE format('M%s,%s a3,3 0 1,0 6,0 a3,3 0 1,0 -6,0', m.x - 3, m.y)
			END,
		pgtrade.report_escape(m.v ->> 'title')), '' ORDER BY m.o), '')
	INTO v_body
	FROM (SELECT e.v, e.o,
			round((c_left + coalesce((extract(epoch FROM (e.v ->> 'ts')::timestamptz)
				- v_e0) / nullif(v_e1 - v_e0, 0) * v_pw, v_pw / 2))::numeric,
				1) AS x,
			round((c_top + (v_hi - (e.v ->> 'y')::float8) / (v_hi - v_lo)
				* v_ph)::numeric, 1) AS y
		  FROM jsonb_array_elements(v_marks) WITH ORDINALITY e(v, o)) m;

	RETURN format('<svg id="%s" class="chart" viewBox="0 0 %s %s" width="%s" '
		'height="%s" role="img" preserveAspectRatio="xMinYMin meet">'
		'<rect class="frame" x="%s" y="%s" width="%s" height="%s"/>%s%s%s'
		'</svg>', pgtrade.report_escape(id), c_w, height, c_w, height,
		c_left, c_top, v_pw, v_ph, v_grid, v_body, v_legend);
END
$$;
COMMENT ON FUNCTION pgtrade.report_chart(text, timestamptz[], float8[],
	text[], text[], text, integer, jsonb, boolean, text) IS
	'Internal: one chart of a page as inline SVG: lines over time, '
	'scaled to the chart''s box, with axes, a legend and markers.';

/*
 * report_page wraps a page's body in the document: its title, the style
 * sheet, and a policy that lets the page load nothing.
 */
CREATE FUNCTION pgtrade.report_page(title text, body text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format($html$<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="generator" content="pgtrade">
<title>%s</title>
<style>
body { font: 14px/1.4 sans-serif; color: #1f2937; margin: 24px; max-width: 980px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
p.sub { color: #6b7280; margin: 0 0 16px; }
p.empty { color: #6b7280; font-style: italic; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e5e7eb; text-align: right; }
th { background: #f3f4f6; }
td.text, th.text { text-align: left; }
table.figures th { text-align: left; font-weight: normal; color: #6b7280; }
tr.buy td.side { color: #15803d; }
tr.sell td.side { color: #b91c1c; }
svg.chart { display: block; width: 100%%; height: auto; background: #fff; }
svg .frame { fill: none; stroke: #d1d5db; }
svg .grid { stroke: #f3f4f6; }
svg text { font: 11px sans-serif; fill: #6b7280; }
svg text.tick.y { text-anchor: end; }
svg text.legend { fill: #374151; }
svg .line { fill: none; stroke-width: 1.5; }
svg .line.close { stroke: #374151; stroke-width: 1.2; }
svg .line.ind-1 { stroke: #2563eb; }
svg .line.ind-2 { stroke: #d97706; }
svg .line.ind-3 { stroke: #7c3aed; }
svg .line.ind-4 { stroke: #0891b2; }
svg .line.equity { stroke: #0f766e; }
svg .line.drawdown { stroke: #b91c1c; }
svg .area.drawdown { fill: #fecaca; stroke: none; }
svg .marker.buy { fill: #16a34a; }
svg .marker.sell { fill: #dc2626; }
svg .decision { fill: none; stroke-width: 1.2; }
svg .decision.buy { stroke: #16a34a; }
svg .decision.sell { stroke: #dc2626; }
</style>
</head>
<body>
%s
</body>
</html>
$html$, pgtrade.report_escape(title), body);
$$;
COMMENT ON FUNCTION pgtrade.report_page(text, text) IS
	'Internal: a page''s document around its body: title, style sheet '
	'and a Content-Security-Policy that loads nothing.';

/*
 * report_figures lays out label and value pairs as a two-column table;
 * the values are HTML already, the labels are escaped.
 */
CREATE FUNCTION pgtrade.report_figures(id text, labels text[], cells text[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format('<table id="%s" class="figures">%s</table>',
		pgtrade.report_escape(id),
		string_agg(format('<tr><th>%s</th><td class="text">%s</td></tr>',
			pgtrade.report_escape(f.l), coalesce(f.c, '–')), '' ORDER BY f.o))
	FROM unnest(labels, cells) WITH ORDINALITY f(l, c, o);
$$;
COMMENT ON FUNCTION pgtrade.report_figures(text, text[], text[]) IS
	'Internal: a table of figures for a page, one label and value a row.';

/*
 * report_bars loads the bars of an instrument that close within
 * [from_ts, to_ts], and before them up to warm bars more, so that the
 * indicators drawn over the first bars shown have warmed up as they had
 * when the decisions were made.  shown is the number of bars within.
 */
CREATE FUNCTION pgtrade.report_bars(instrument_id bigint, bar_size interval,
	time_zone text, session_close time, from_ts timestamptz,
	to_ts timestamptz, warm integer,
	OUT ts timestamptz[], OUT high float8[], OUT low float8[],
	OUT close float8[], OUT shown integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_first timestamptz;
BEGIN
	/* a bar starts at most a day and a bar before it ends: the index */
	SELECT min(b.ts), count(*) INTO v_first, shown
	FROM pgtrade.bars b
	WHERE b.instrument_id = instrument_id AND b.bar_size = bar_size
		AND b.ts >= from_ts - bar_size - interval '1 day' AND b.ts <= to_ts
		AND pgtrade.bar_end(b.ts, bar_size, time_zone, session_close)
			BETWEEN from_ts AND to_ts;
	IF shown = 0 THEN
		RETURN;
	END IF;
	SELECT array_agg(x.ts ORDER BY x.ts), array_agg(x.high ORDER BY x.ts),
		   array_agg(x.low ORDER BY x.ts), array_agg(x.close ORDER BY x.ts)
	INTO ts, high, low, close
	FROM ((SELECT b.ts, b.high, b.low, b.close FROM pgtrade.bars b
		   WHERE b.instrument_id = instrument_id AND b.bar_size = bar_size
			   AND b.ts < v_first
		   ORDER BY b.ts DESC LIMIT greatest(warm, 0))
		  UNION ALL
		  (SELECT b.ts, b.high, b.low, b.close FROM pgtrade.bars b
		   WHERE b.instrument_id = instrument_id AND b.bar_size = bar_size
			   AND b.ts >= v_first AND b.ts <= to_ts
			   AND pgtrade.bar_end(b.ts, bar_size, time_zone, session_close)
				   <= to_ts)) x;
END
$$;
COMMENT ON FUNCTION pgtrade.report_bars(bigint, interval, text, time,
	timestamptz, timestamptz, integer) IS
	'Internal: the bars a page draws, those closing in [from_ts, to_ts] '
	'with up to warm bars before them to warm the indicators up.';

/*
 * report_warmup is how many bars before the first one drawn an
 * indicator of params needs: three times the longest period among them
 * (an EMA still moves after one), and at least 100 for the kinds'
 * defaults.
 */
CREATE FUNCTION pgtrade.report_warmup(params jsonb)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT greatest(100, 3 * coalesce(max(p.value::numeric), 0))::integer
	FROM jsonb_each_text(coalesce(params, '{}')) p
	WHERE p.value ~ '^[0-9]{1,5}$';
$$;
COMMENT ON FUNCTION pgtrade.report_warmup(jsonb) IS
	'Internal: bars to load before a chart''s first so that its '
	'indicators have warmed up.';

/*
 * report_price_charts draws the price chart (closes, the kind's lines
 * over them, and marks) and, for a kind whose lines are not prices,
 * the indicator chart under it.  Bars and lines come whole, warm-up
 * included; warm is how many bars lead the ones to draw.
 */
CREATE FUNCTION pgtrade.report_price_charts(symbol text, kind text,
	params jsonb, ts timestamptz[], high float8[], low float8[],
	close float8[], warm integer, time_zone text, marks jsonb)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_n integer := cardinality(ts);
	v_ts timestamptz[] := ts[warm + 1:v_n];
	v_price float8[] := ARRAY[close[warm + 1:v_n]];
	v_plabels text[] := ARRAY[symbol || ' close'];
	v_pclasses text[] := ARRAY['close'];
	v_ind float8[];
	v_ilabels text[] := '{}';
	v_iclasses text[] := '{}';
	v_line record;
	v_out text;
BEGIN
	FOR v_line IN
		SELECT r.panel, r.label, r.series[warm + 1:v_n] AS s
		FROM pgtrade.report_indicators(kind, params, high, low, close) r
	LOOP
		IF v_line.panel = 'price' THEN
			v_price := v_price || v_line.s;
			v_plabels := v_plabels || v_line.label;
			v_pclasses := v_pclasses || ('ind-' || cardinality(v_pclasses));
		ELSE
			v_ind := CASE WHEN v_ind IS NULL THEN ARRAY[v_line.s]
						  ELSE v_ind || v_line.s END;
			v_ilabels := v_ilabels || v_line.label;
			v_iclasses := v_iclasses || ('ind-' || (cardinality(v_iclasses) + 1));
		END IF;
	END LOOP;
	v_out := '<h2>Price</h2>' || pgtrade.report_chart('price-chart', v_ts,
		v_price, v_plabels, v_pclasses, time_zone, 340, marks);
	IF v_ind IS NOT NULL THEN
		v_out := v_out || '<h2>Indicator</h2>'
			|| pgtrade.report_chart('indicator-chart', v_ts, v_ind,
				v_ilabels, v_iclasses, time_zone, 180);
	END IF;
	RETURN v_out;
END
$$;
COMMENT ON FUNCTION pgtrade.report_price_charts(text, text, jsonb,
	timestamptz[], float8[], float8[], float8[], integer, text, jsonb) IS
	'Internal: a page''s price chart with the kind''s lines and the '
	'markers, and its indicator chart when the kind has one.';

/*
 * report_backtest draws the page of a kept backtest: its summary, the
 * closes of its period with the kind's lines and a marker at each fill,
 * the equity at each close (cash plus the position at the close, as the
 * backtest counted it) and its drawdown from the running peak (the
 * capital at first), and the fills.
 */
CREATE FUNCTION pgtrade.report_backtest(backtest_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_b pgtrade.backtest;
	v_s record;
	v_i record;
	v_bars record;
	v_daily boolean;
	v_warm integer;
	v_ts timestamptz[];
	v_eq float8[];
	v_dd float8[];
	v_marks jsonb;
	v_title text;
	v_body text;
	v_rows text;
BEGIN
	IF backtest_id IS NULL THEN
		RAISE EXCEPTION 'a backtest report needs a backtest id'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT has_table_privilege('pgtrade.backtest', 'SELECT') THEN
		RAISE EXCEPTION 'role "%" may not read kept backtests', current_user
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Traders and admins may; pgtrade.report_strategy() '
					|| 'draws a strategy''s own trading.';
	END IF;
	SELECT * INTO v_b FROM pgtrade.backtest b
	WHERE b.backtest_id = report_backtest.backtest_id;
	IF FOUND THEN
		SELECT * INTO v_s FROM pgtrade.strategies s
		WHERE s.strategy_id = v_b.strategy_id;
	END IF;
	IF v_s IS NULL THEN
		RAISE EXCEPTION 'backtest % does not exist', backtest_id
			USING ERRCODE = 'no_data_found',
				  HINT = 'Backtests are kept by pgtrade.backtest() with '
					|| 'store => true; those of accounts you may not see '
					|| 'are not shown.';
	END IF;
	SELECT * INTO STRICT v_i FROM pgtrade.instruments i
	WHERE i.instrument_id = v_s.instrument_id;
	v_daily := v_s.bar_size >= interval '1 day';
	v_warm := pgtrade.report_warmup(v_b.params);
	v_bars := pgtrade.report_bars(v_s.instrument_id, v_s.bar_size,
		v_i.time_zone, v_i.session_close, v_b.from_ts, v_b.to_ts, v_warm);
	v_warm := coalesce(cardinality(v_bars.ts), 0) - v_bars.shown;
	v_title := format('Backtest %s: %s on %s', v_b.backtest_id, v_s.name,
					  v_s.symbol);

	v_body := format('<header><h1>%s</h1><p class="sub">%s %s, %s bars of %s '
		'to %s (%s), account %s</p></header>',
		pgtrade.report_escape(v_title), pgtrade.report_escape(v_b.kind),
		pgtrade.report_escape(v_b.params::text),
		pgtrade.report_escape(v_s.bar_size::text),
		pgtrade.report_time(v_b.from_ts, v_i.time_zone, false),
		pgtrade.report_time(v_b.to_ts, v_i.time_zone, false),
		pgtrade.report_escape(v_i.time_zone),
		pgtrade.report_escape(v_s.account_id));
	v_body := v_body || '<h2>Summary</h2>' || pgtrade.report_figures('summary',
		ARRAY['Bars', 'Trades', 'Orders refused', 'Capital', 'Final equity',
			  'Total return',
			  'CAGR', 'Sharpe', 'Sortino', 'Max drawdown', 'Win rate',
			  'Profit factor', 'Exposure', 'Commission a unit', 'Slippage',
			  'Sizing', 'Kept by'],
		ARRAY[pgtrade.report_number(v_b.bars, 0),
			  pgtrade.report_number(v_b.trades, 0),
			  pgtrade.report_number(v_b.refused, 0) || CASE WHEN v_b.risk
				THEN ' (by the account''s risk limits)'
				ELSE ' (risk limits not applied)' END,
			  pgtrade.report_number(v_b.capital, 2),
			  pgtrade.report_number(v_b.final_equity, 2),
			  pgtrade.report_percent(v_b.total_return),
			  pgtrade.report_percent(v_b.cagr),
			  pgtrade.report_number(v_b.sharpe::numeric, 2),
			  pgtrade.report_number(v_b.sortino::numeric, 2),
			  pgtrade.report_percent(v_b.max_drawdown) || CASE
				WHEN v_b.drawdown_trough IS NOT NULL
					AND v_b.max_drawdown < 0 THEN format(' (%s to %s)',
					pgtrade.report_time(v_b.drawdown_peak, v_i.time_zone,
						v_daily),
					pgtrade.report_time(v_b.drawdown_trough, v_i.time_zone,
						v_daily)) ELSE '' END,
			  pgtrade.report_percent(v_b.win_rate),
			  pgtrade.report_number(v_b.profit_factor, 2),
			  pgtrade.report_percent(v_b.exposure),
			  pgtrade.report_number(v_b.commission, 2, 4),
			  pgtrade.report_number(v_b.slippage_bps, 0, 2) || ' bps',
			  pgtrade.report_escape(v_b.sizing),
			  pgtrade.report_escape(v_b.created_by) || ' at '
				|| pgtrade.report_time(v_b.created_at, v_i.time_zone, false)]);

	IF v_bars.shown = 0 THEN
		v_body := v_body || format('<p class="empty" id="no-bars">No %s bar '
			'of %s closes between %s and %s: there is nothing to chart.</p>',
			pgtrade.report_escape(v_s.bar_size::text),
			pgtrade.report_escape(v_s.symbol),
			pgtrade.report_time(v_b.from_ts, v_i.time_zone, false),
			pgtrade.report_time(v_b.to_ts, v_i.time_zone, false));
	ELSE
		v_ts := v_bars.ts[v_warm + 1:];
		SELECT jsonb_agg(jsonb_build_object('ts', t.filled_at, 'y', t.price,
			'class', 'marker ' || t.side,
			'shape', CASE t.side WHEN 'buy' THEN 'up' ELSE 'down' END,
			'title', format('%s %s at %s on %s (decided %s)', t.side,
				pgtrade.report_number(t.quantity, 0, 8),
				pgtrade.report_number(t.price, 2, 4),
				pgtrade.report_time(t.filled_at, v_i.time_zone, v_daily),
				pgtrade.report_time(t.decided_at, v_i.time_zone, v_daily)))
			ORDER BY t.trade_no)
		INTO v_marks
		FROM pgtrade.backtest_trade t
		WHERE t.backtest_id = v_b.backtest_id;
		v_body := v_body || pgtrade.report_price_charts(v_s.symbol, v_b.kind,
			v_b.params, v_bars.ts, v_bars.high, v_bars.low, v_bars.close,
			v_warm, v_i.time_zone, v_marks);

		/* equity at each close: what the fills by then left, marked */
		SELECT array_agg(p.equity::float8 ORDER BY p.j),
			   array_agg(((p.equity / p.peak - 1) * 100)::float8 ORDER BY p.j)
		INTO v_eq, v_dd
		FROM (SELECT e.j, e.equity, greatest(v_b.capital,
					 max(e.equity) OVER (ORDER BY e.j)) AS peak
			  FROM (SELECT u.j, v_b.capital - coalesce(f.flow, 0)
						   + coalesce(f.pos, 0) * u.c::numeric AS equity
					FROM unnest(v_ts, v_bars.close[v_warm + 1:])
						 WITH ORDINALITY u(t, c, j)
					LEFT JOIN LATERAL (
					  SELECT sum(CASE t.side WHEN 'buy' THEN t.quantity
						  ELSE -t.quantity END * t.price + t.commission)
						  AS flow,
						  (array_agg(t.position ORDER BY t.trade_no
							  DESC))[1] AS pos
					  FROM pgtrade.backtest_trade t
					  WHERE t.backtest_id = v_b.backtest_id
						  AND t.filled_at <= u.t) f ON true) e) p;
		v_body := v_body || '<h2>Equity</h2>' || pgtrade.report_chart(
			'equity-chart', v_ts, ARRAY[v_eq], ARRAY['equity'],
			ARRAY['equity'], v_i.time_zone, 240)
			|| '<h2>Drawdown</h2>' || pgtrade.report_chart('drawdown-chart',
			v_ts, ARRAY[v_dd], ARRAY['drawdown from the peak'],
			ARRAY['drawdown'], v_i.time_zone, 180, area => true,
			unit => ' %');
	END IF;

	SELECT string_agg(format('<tr class="%s"><td>%s</td><td class="text">%s'
		'</td><td class="text">%s</td><td class="text side">%s</td><td>%s</td>'
		'<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>',
		t.side, t.trade_no,
		pgtrade.report_time(t.decided_at, v_i.time_zone, v_daily),
		pgtrade.report_time(t.filled_at, v_i.time_zone, v_daily), t.side,
		pgtrade.report_number(t.quantity, 0, 8),
		pgtrade.report_number(t.price, 2, 4),
		pgtrade.report_number(t.commission, 2, 4),
		pgtrade.report_number(t.position, 0, 8),
		pgtrade.report_number(t.realized_pnl, 2)), '' ORDER BY t.trade_no)
	INTO v_rows
	FROM pgtrade.backtest_trade t
	WHERE t.backtest_id = v_b.backtest_id;
	v_body := v_body || '<h2>Trades</h2>' || CASE WHEN v_rows IS NULL
		THEN CASE WHEN v_b.refused > 0
			THEN format('<p class="empty" id="no-trades">No trades: the risk '
				'limits refused all %s orders the strategy placed.</p>',
				v_b.refused)
			ELSE '<p class="empty" id="no-trades">No trades: the strategy '
				 'never changed its position in this period.</p>' END
		ELSE '<table id="trades"><thead><tr><th>#</th><th class="text">'
			 'decided</th><th class="text">filled</th><th class="text">side'
			 '</th><th>quantity</th><th>price</th><th>commission</th>'
			 '<th>position</th><th>realized P&amp;L</th></tr></thead><tbody>'
			 || v_rows || '</tbody></table>' END;
	RETURN pgtrade.report_page(v_title, v_body);
END
$$;
COMMENT ON FUNCTION pgtrade.report_backtest(bigint) IS
	'A kept backtest as a self-contained HTML page: summary, prices with '
	'the kind''s indicators and the fills marked, equity, drawdown and '
	'the trades.';

/*
 * report_strategy draws the page of a strategy's own trading, live or
 * paper, between from_ts and to_ts (instants compared with the bars'
 * closes, the decisions' bars and the fills' times): the closes with
 * the kind's lines, a marker at each fill of the strategy's orders and
 * a ring at each decision to buy or sell, its daily P&L (realized plus
 * unrealized at the close, before commissions, as strategy_performance
 * computes it) with its drawdown, and its decisions, orders and fills.
 * from_ts defaults to the bar of the strategy's first decision or its
 * first order (a fill follows an order), whichever is earlier, or
 * without either to the close of its 250th newest bar; to_ts to none.
 */
CREATE FUNCTION pgtrade.report_strategy(strategy_id bigint,
	from_ts timestamptz DEFAULT NULL, to_ts timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_s record;
	v_i record;
	v_bars record;
	v_daily boolean;
	v_from timestamptz := from_ts;
	v_to timestamptz := coalesce(to_ts, 'infinity');
	v_warm integer;
	v_marks jsonb;
	v_perf record;
	v_body text;
	v_title text;
	v_rows text;
	v_counts record;
BEGIN
	IF strategy_id IS NULL THEN
		RAISE EXCEPTION 'a strategy report needs a strategy id'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_from > v_to THEN
		RAISE EXCEPTION 'a strategy report needs from_ts <= to_ts, not % > %',
			from_ts, to_ts
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v_s FROM pgtrade.strategies s
	WHERE s.strategy_id = report_strategy.strategy_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy % does not exist', strategy_id
			USING ERRCODE = 'no_data_found',
				  HINT = 'Strategies of accounts you may not see are not '
					|| 'shown; see pgtrade.strategies.';
	END IF;
	SELECT * INTO STRICT v_i FROM pgtrade.instruments i
	WHERE i.instrument_id = v_s.instrument_id;
	v_daily := v_s.bar_size >= interval '1 day';

	/* by default, from the strategy's first decision or order */
	IF v_from IS NULL THEN
		SELECT least(
			(SELECT min(coalesce(d.last_bar_ts, d.as_of))
			 FROM pgtrade.decisions_explained d WHERE d.strategy = v_s.name),
			(SELECT min(o.created_at) FROM pgtrade.order_history o
			 WHERE o.strategy_id = v_s.strategy_id))
		INTO v_from;
	END IF;
	IF v_from IS NULL THEN
		SELECT pgtrade.bar_end(min(x.ts), v_s.bar_size, v_i.time_zone,
							   v_i.session_close)
		INTO v_from
		FROM (SELECT b.ts FROM pgtrade.bars b
			  WHERE b.instrument_id = v_s.instrument_id
				  AND b.bar_size = v_s.bar_size AND b.ts <= v_to
			  ORDER BY b.ts DESC LIMIT 250) x;
	END IF;
	v_from := coalesce(v_from, '-infinity');
	SELECT * INTO v_counts FROM
		(SELECT count(*) FILTER (WHERE d.action = 'hold') AS holds,
				count(*) FILTER (WHERE d.action <> 'hold') AS trades
		 FROM pgtrade.decisions_explained d
		 WHERE d.strategy = v_s.name
			 AND coalesce(d.last_bar_ts, d.as_of) BETWEEN v_from AND v_to) d,
		(SELECT count(*) AS orders FROM pgtrade.order_history o
		 WHERE o.strategy_id = v_s.strategy_id
			 AND o.created_at BETWEEN v_from AND v_to) o,
		(SELECT count(*) AS fills FROM pgtrade.fills f
		 JOIN pgtrade.order_history o USING (order_id)
		 WHERE o.strategy_id = v_s.strategy_id AND f.effective
			 AND f.trade_time BETWEEN v_from AND v_to) f;
	SELECT * INTO v_perf FROM pgtrade.strategy_performance(v_s.name) p
	WHERE (p.day::timestamp AT TIME ZONE v_i.time_zone) <= v_to
	ORDER BY p.day DESC LIMIT 1;

	v_title := format('Strategy %s on %s', v_s.name, v_s.symbol);
	v_body := format('<header><h1>%s</h1><p class="sub">%s %s, %s bars, '
		'account %s, %s; from %s to %s (%s)</p></header>',
		pgtrade.report_escape(v_title), pgtrade.report_escape(v_s.kind),
		pgtrade.report_escape(v_s.params::text),
		pgtrade.report_escape(v_s.bar_size::text),
		pgtrade.report_escape(v_s.account_id),
		CASE WHEN v_s.active THEN 'active' ELSE 'inactive' END,
		CASE WHEN isfinite(v_from) THEN
			pgtrade.report_time(v_from, v_i.time_zone, false)
			ELSE 'the first bar' END,
		CASE WHEN isfinite(v_to) THEN
			pgtrade.report_time(v_to, v_i.time_zone, false)
			ELSE 'the last' END,
		pgtrade.report_escape(v_i.time_zone));
	v_body := v_body || '<h2>Summary</h2>' || pgtrade.report_figures('summary',
		ARRAY['Decisions to trade', 'Decisions to hold', 'Orders', 'Fills',
			  'Position', 'Realized P&L', 'Unrealized P&L', 'P&L',
			  'Quantity a unit of target'],
		ARRAY[pgtrade.report_number(v_counts.trades, 0),
			  pgtrade.report_number(v_counts.holds, 0),
			  pgtrade.report_number(v_counts.orders, 0),
			  pgtrade.report_number(v_counts.fills, 0),
			  pgtrade.report_number(v_perf.net_position, 0, 8),
			  pgtrade.report_number(v_perf.cumulative_realized, 2),
			  pgtrade.report_number(v_perf.unrealized_pnl, 2),
			  pgtrade.report_number(v_perf.equity, 2)
				|| ' (before commissions, at the last close)',
			  pgtrade.report_number(v_s.quantity, 0, 8)]);

	v_warm := pgtrade.report_warmup(v_s.params);
	v_bars := pgtrade.report_bars(v_s.instrument_id, v_s.bar_size,
		v_i.time_zone, v_i.session_close, v_from, v_to, v_warm);
	IF v_bars.shown = 0 THEN
		v_body := v_body || format('<p class="empty" id="no-bars">No %s bar '
			'of %s closes in this period: there are no prices to chart.</p>',
			pgtrade.report_escape(v_s.bar_size::text),
			pgtrade.report_escape(v_s.symbol));
	ELSE
		SELECT jsonb_agg(m.v ORDER BY m.t, m.o) INTO v_marks
		FROM (SELECT f.trade_time AS t, 1 AS o, jsonb_build_object(
				'ts', f.trade_time, 'y', f.price, 'class', 'marker ' || f.side,
				'shape', CASE f.side WHEN 'buy' THEN 'up' ELSE 'down' END,
				'title', format('%s %s at %s on %s (order %s)', f.side,
					pgtrade.report_number(f.quantity, 0, 8),
					pgtrade.report_number(f.price, 2, 4),
					pgtrade.report_time(f.trade_time, v_i.time_zone, false),
					f.order_id)) AS v
			  FROM pgtrade.fills f
			  JOIN pgtrade.order_history o USING (order_id)
			  WHERE o.strategy_id = v_s.strategy_id AND f.effective
				  AND f.trade_time BETWEEN v_from AND v_to
			  UNION ALL
			  SELECT d.last_bar_ts, 0, jsonb_build_object('ts', d.last_bar_ts,
				'y', d.last_close, 'class', 'decision ' || d.action,
				'shape', 'dot',
				'title', format('decided to %s %s: %s', d.action,
					pgtrade.report_number(d.quantity, 0, 8), d.reason))
			  FROM pgtrade.decisions_explained d
			  WHERE d.strategy = v_s.name AND d.action <> 'hold'
				  AND d.last_close IS NOT NULL
				  AND d.last_bar_ts BETWEEN v_from AND v_to) m;
		v_body := v_body || pgtrade.report_price_charts(v_s.symbol, v_s.kind,
			v_s.params, v_bars.ts, v_bars.high, v_bars.low, v_bars.close,
			coalesce(cardinality(v_bars.ts), 0) - v_bars.shown,
			v_i.time_zone, v_marks);
	END IF;

	/* P&L by session day, at the day's start in the exchange's zone */
	SELECT '<h2>P&amp;L</h2>' || pgtrade.report_chart('equity-chart',
			array_agg(p.t ORDER BY p.t),
			ARRAY[array_agg(p.equity::float8 ORDER BY p.t)],
			ARRAY['P&L: realized + unrealized at the close'], ARRAY['equity'],
			v_i.time_zone, 240)
		|| '<h2>Drawdown</h2>' || pgtrade.report_chart('drawdown-chart',
			array_agg(p.t ORDER BY p.t),
			ARRAY[array_agg(p.drawdown::float8 ORDER BY p.t)],
			ARRAY['drawdown from the peak of P&L'], ARRAY['drawdown'],
			v_i.time_zone, 180, area => true)
	INTO v_rows
	FROM (SELECT p.day::timestamp AT TIME ZONE v_i.time_zone AS t, p.equity,
				 p.drawdown
		  FROM pgtrade.strategy_performance(v_s.name) p) p
	WHERE p.t BETWEEN v_from - interval '1 day' AND v_to
	HAVING count(*) > 0;
	v_body := v_body || coalesce(v_rows, '<h2>P&amp;L</h2><p class="empty" '
		'id="no-equity">No fills: there is no P&amp;L to chart.</p>');

	/* the decisions that traded, the orders and the fills */
	SELECT string_agg(format('<tr class="%s"><td class="text">%s</td>'
		'<td class="text">%s</td><td class="text side">%s</td><td>%s</td>'
		'<td>%s</td><td class="text">%s</td><td class="text">%s</td></tr>',
		d.action, pgtrade.report_time(d.as_of, v_i.time_zone, false),
		pgtrade.report_escape(d.trigger), d.action,
		pgtrade.report_number(d.quantity, 0, 8),
		pgtrade.report_number(d.target_position, 0, 8),
		pgtrade.report_escape(coalesce(d.order_status, 'no order')),
		pgtrade.report_escape(d.reason)), '' ORDER BY d.as_of, d.decision_id)
	INTO v_rows
	FROM pgtrade.decisions_explained d
	WHERE d.strategy = v_s.name AND d.action <> 'hold'
		AND coalesce(d.last_bar_ts, d.as_of) BETWEEN v_from AND v_to;
	v_body := v_body || '<h2>Decisions to trade</h2>' || CASE
		WHEN v_rows IS NULL THEN '<p class="empty" id="no-decisions">No '
			'decision to buy or sell in this period.</p>'
		ELSE '<table id="decisions"><thead><tr><th class="text">as of</th>'
			'<th class="text">trigger</th><th class="text">action</th>'
			'<th>quantity</th><th>target</th><th class="text">order</th>'
			'<th class="text">reason</th></tr></thead><tbody>' || v_rows
			|| '</tbody></table>' END
		|| format('<p class="sub">%s decisions to hold are not listed.</p>',
				  v_counts.holds);

	SELECT string_agg(format('<tr class="%s"><td>%s</td><td class="text">%s'
		'</td><td class="text side">%s</td><td>%s</td><td class="text">%s</td>'
		'<td>%s</td><td class="text">%s</td><td>%s</td><td>%s</td>'
		'<td class="text">%s</td></tr>',
		o.side, o.order_id,
		pgtrade.report_time(o.created_at, v_i.time_zone, false), o.side,
		pgtrade.report_number(o.quantity, 0, 8),
		pgtrade.report_escape(o.order_type),
		pgtrade.report_number(coalesce(o.limit_price, o.stop_price), 2, 4),
		pgtrade.report_escape(o.status),
		pgtrade.report_number(o.filled_quantity, 0, 8),
		pgtrade.report_number(o.avg_fill_price, 2, 4),
		pgtrade.report_escape(o.risk_reason)), '' ORDER BY o.order_id)
	INTO v_rows
	FROM pgtrade.order_history o
	WHERE o.strategy_id = v_s.strategy_id
		AND o.created_at BETWEEN v_from AND v_to;
	v_body := v_body || '<h2>Orders</h2>' || CASE
		WHEN v_rows IS NULL THEN '<p class="empty" id="no-orders">No orders '
			'in this period.</p>'
		ELSE '<table id="orders"><thead><tr><th>order</th><th class="text">'
			'created</th><th class="text">side</th><th>quantity</th>'
			'<th class="text">type</th><th>limit or stop</th>'
			'<th class="text">status</th><th>filled</th><th>average price</th>'
			'<th class="text">risk gate</th></tr></thead><tbody>' || v_rows
			|| '</tbody></table>' END;

	SELECT string_agg(format('<tr class="%s"><td class="text">%s</td>'
		'<td class="text side">%s</td><td>%s</td><td>%s</td><td>%s</td>'
		'<td>%s</td><td class="text">%s</td></tr>',
		f.side, pgtrade.report_time(f.trade_time, v_i.time_zone, false),
		f.side, pgtrade.report_number(f.quantity, 0, 8),
		pgtrade.report_number(f.price, 2, 4),
		pgtrade.report_number(f.commission, 2, 4), f.order_id,
		pgtrade.report_escape(f.execution_id)),
		'' ORDER BY f.trade_time, f.fill_id)
	INTO v_rows
	FROM pgtrade.fills f
	JOIN pgtrade.order_history o USING (order_id)
	WHERE o.strategy_id = v_s.strategy_id AND f.effective
		AND f.trade_time BETWEEN v_from AND v_to;
	v_body := v_body || '<h2>Fills</h2>' || CASE
		WHEN v_rows IS NULL THEN '<p class="empty" id="no-fills">No fills in '
			'this period.</p>'
		ELSE '<table id="fills"><thead><tr><th class="text">time</th>'
			'<th class="text">side</th><th>quantity</th><th>price</th>'
			'<th>commission</th><th>order</th><th class="text">execution</th>'
			'</tr></thead><tbody>' || v_rows || '</tbody></table>' END;
	RETURN pgtrade.report_page(v_title, v_body);
END
$$;
COMMENT ON FUNCTION pgtrade.report_strategy(bigint, timestamptz,
	timestamptz) IS
	'A strategy''s trading as a self-contained HTML page: prices with the '
	'kind''s indicators, its fills and decisions marked, its daily P&L '
	'and drawdown, and its decisions, orders and fills.';

/*
 * The pages run with the caller's rights, so EXECUTE on them lets a
 * role see nothing it could not query itself: readers draw strategies
 * (through the views), traders and admins kept backtests as well.  The
 * helpers they call run with the caller's rights too, and only compute.
 */
DO $grants$
DECLARE
	v_fn regprocedure;
BEGIN
	FOR v_fn IN
		SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
		WHERE p.pronamespace = 'pgtrade'::regnamespace
			AND p.proname IN ('report_escape', 'report_number',
				'report_percent', 'report_time', 'report_indicators',
				'report_step', 'report_chart', 'report_page', 'report_figures',
				'report_bars', 'report_warmup', 'report_price_charts',
				'report_backtest', 'report_strategy')
	LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC',
								  v_fn);
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO '
			'pgtrade_reader, pgtrade_trader, pgtrade_admin', v_fn);
	END LOOP;
END
$grants$;
