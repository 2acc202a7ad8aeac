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
