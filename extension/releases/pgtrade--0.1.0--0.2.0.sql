/*
 * pgtrade--0.1.0--0.2.0.sql: from release 0.1.0 to 0.2.0.
 *
 * Every change to sql/ after 0.1.0 is made here too, so that
 * ALTER EXTENSION pgtrade UPDATE gives the catalog a fresh install of
 * 0.2.0 gives (tests/e2e/test_upgrade.py compares the two).
 */
\echo Use "ALTER EXTENSION pgtrade UPDATE TO '0.2.0'" to load this file. \quit

/*
 * next_run_at moves by HOT updates: no index on it, room in each page.
 * Pages already full get the room as rows move to new ones over the next
 * ticks; VACUUM FULL pgtrade.strategy makes it at once.
 */
DROP INDEX pgtrade.strategy_due;
ALTER TABLE pgtrade.strategy SET (fillfactor = 50);

/*
 * A kept backtest's decisions are keyed by their close's place: two bars
 * can close at the same instant (two daily bars of one session date),
 * and keying them by as_of refused to keep such a backtest.  The
 * decisions kept so far closed at distinct instants, in bar order.
 */
ALTER TABLE pgtrade.backtest_decision ADD COLUMN close_no integer;
UPDATE pgtrade.backtest_decision d
SET close_no = x.n
FROM (SELECT b.backtest_id, b.as_of,
			 row_number() OVER (PARTITION BY b.backtest_id
								ORDER BY b.as_of)::integer AS n
	  FROM pgtrade.backtest_decision b) x
WHERE x.backtest_id = d.backtest_id AND x.as_of = d.as_of;
ALTER TABLE pgtrade.backtest_decision ALTER COLUMN close_no SET NOT NULL,
	DROP CONSTRAINT backtest_decision_pkey,
	ADD PRIMARY KEY (backtest_id, close_no);
COMMENT ON COLUMN pgtrade.backtest_decision.close_no IS
	'The close''s place among the backtest''s closes, from 1, in the '
	'order of the bars (two bars can close at the same as_of: two daily '
	'bars of one session date).';

/*
 * The name's check, without a counted repeat in its regular expression:
 * the same names, at a sixth of the cost, paid at each tick's move of
 * next_run_at.
 */
ALTER TABLE pgtrade.strategy DROP CONSTRAINT strategy_name_check,
	ADD CONSTRAINT strategy_name_check
		CHECK (name ~ '^[A-Za-z0-9_.-]+$' AND length(name) <= 63);

/* bar_end in C: the same expression, without a query run at each call */
CREATE OR REPLACE FUNCTION pgtrade.bar_end(ts timestamptz, bar_size interval,
	time_zone text, session_close time)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pgtrade_bar_end'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/* bars_ended_by is taken into the queries that call it: STABLE, as its
   expression is */
ALTER FUNCTION pgtrade.bars_ended_by(timestamptz, interval, text, time)
	STABLE;

/*
 * bars_floor gives a time before which every bar of the size has ended
 * before from_ts: from_ts less the size (each part at its longest) and
 * two days.  Internal: a backtest looks for its first close from there,
 * and reads back only a window before it.
 */
CREATE FUNCTION pgtrade.bars_floor(from_ts timestamptz, bar_size interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pgtrade_bars_floor_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION pgtrade.bars_floor(timestamptz, interval) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bars_floor(timestamptz, interval) IS
	'Internal: a time before which every bar of the size ended before '
	'from_ts.';

/*
 * period_bars reads the bars a backtest of from_ts to to_ts looks at, as
 * recent_bars gives them: every bar that starts by to_ts, back to
 * bars_window bars before the first that could end at or after from_ts.
 * A backtest decides each close over the window a live run loads, so
 * the bars before that change nothing.  Internal: a sweep reads its bars
 * with it once for all its combinations.
 */
CREATE FUNCTION pgtrade.period_bars(instrument_id bigint, bar_size interval,
	from_ts timestamptz, to_ts timestamptz, bars_window integer,
	OUT ts timestamptz[], OUT open double precision[],
	OUT high double precision[], OUT low double precision[],
	OUT close double precision[], OUT volume double precision[],
	OUT bars integer)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtrade_period_bars'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION pgtrade.period_bars(bigint, interval, timestamptz,
	timestamptz, integer) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.period_bars(bigint, interval, timestamptz,
	timestamptz, integer) IS
	'Internal: the bars a backtest from from_ts to to_ts looks at, back to '
	'bars_window bars before its first close, as arrays.';

/*
 * The engines return one composite type, with the trade list built in C
 * (a sweep asks for none), and take the bar size, zone and close that
 * give each trade's decided_at; they read the bars where a caller's
 * expanded arrays lie.
 */
DROP FUNCTION pgtrade.backtest_sma_cross_engine(pgtrade.strategy, integer,
	integer, integer, timestamptz[], double precision[], double precision[],
	integer, integer, numeric, numeric, numeric, numeric, numeric,
	double precision, boolean, text);
DROP FUNCTION pgtrade.backtest_kind_engine(pgtrade.strategy, text, jsonb,
	integer, timestamptz[], double precision[], double precision[],
	double precision[], double precision[], integer, integer, numeric,
	numeric, numeric, numeric, numeric, double precision, boolean, text);
CREATE TYPE pgtrade.backtest_engine_result AS (
	bars			integer,
	in_market		integer,
	refused			integer,
	final_equity	numeric,
	max_drawdown	numeric,
	peak_at			integer,
	trough_at		integer,
	sharpe			double precision,
	sortino			double precision,
	wins			integer,
	closes			integer,
	gain			numeric,
	loss			numeric,
	trades			integer,
	trade_list		jsonb
);
COMMENT ON TYPE pgtrade.backtest_engine_result IS
	'Internal to backtest: what its C engines return.';

CREATE FUNCTION pgtrade.backtest_sma_cross_engine(p_s pgtrade.strategy,
	fast integer, slow integer, bars_window integer, ts timestamptz[],
	open double precision[], high double precision[],
	low double precision[], close double precision[], first integer,
	last integer, capital numeric, quantity numeric, commission numeric,
	slippage_bps numeric, tick_size numeric,
	periods_per_year double precision, risk boolean, account_zone text,
	bar_size interval, time_zone text, session_close time, trades boolean)
RETURNS pgtrade.backtest_engine_result
AS 'MODULE_PATHNAME', 'pgtrade_backtest_sma_cross_engine'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION pgtrade.backtest_sma_cross_engine(pgtrade.strategy,
	integer, integer, integer, timestamptz[], double precision[],
	double precision[], double precision[], double precision[], integer,
	integer, numeric, numeric, numeric, numeric, numeric, double precision,
	boolean, text, interval, text, time, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.backtest_sma_cross_engine(pgtrade.strategy,
	integer, integer, integer, timestamptz[], double precision[],
	double precision[], double precision[], double precision[], integer,
	integer, numeric, numeric, numeric, numeric, numeric, double precision,
	boolean, text, interval, text, time, boolean) IS
	'Internal to backtest: its loop for sma_cross with fixed sizing, in C.';

CREATE FUNCTION pgtrade.backtest_kind_engine(p_s pgtrade.strategy,
	kind text, params jsonb, bars_window integer, ts timestamptz[],
	open double precision[], high double precision[],
	low double precision[], close double precision[], first integer,
	last integer, capital numeric, quantity numeric, commission numeric,
	slippage_bps numeric, tick_size numeric,
	periods_per_year double precision, risk boolean, account_zone text,
	bar_size interval, time_zone text, session_close time, trades boolean)
RETURNS pgtrade.backtest_engine_result
AS 'MODULE_PATHNAME', 'pgtrade_backtest_kind_engine'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION pgtrade.backtest_kind_engine(pgtrade.strategy, text,
	jsonb, integer, timestamptz[], double precision[], double precision[],
	double precision[], double precision[], integer, integer, numeric,
	numeric, numeric, numeric, numeric, double precision, boolean, text,
	interval, text, time, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.backtest_kind_engine(pgtrade.strategy, text,
	jsonb, integer, timestamptz[], double precision[], double precision[],
	double precision[], double precision[], integer, integer, numeric,
	numeric, numeric, numeric, numeric, double precision, boolean, text,
	interval, text, time, boolean) IS
	'Internal to backtest: its loop for the other built-in kinds with '
	'fixed sizing, in C.';

/*
 * backtest_engine_read is either engine over the bars it reads itself,
 * straight from the table into the engine (backtest_sql.c): the bars of
 * the instrument starting by to_ts, back to the window a live run loads
 * at the period's first close (the earlier ones decide nothing), without
 * the arrays' copies.  It finds the closes within the period as backtest
 * does, and returns the drawdown's ends and the first and last closes
 * tested as times.  NULL when there is no bar, when pgtrade.bar is not a
 * plain table, or when the closes are too large for it: backtest then
 * reads the bars itself.  With trades, its trade list is not in its row
 * but kept for backtest_trade_list, which hands it to backtest's result
 * row as it lies: through PL/pgSQL's record and variables it would be
 * copied three times more (megabytes for a long history).
 */
CREATE TYPE pgtrade.backtest_read_result AS (
	bars			integer,
	in_market		integer,
	refused			integer,
	final_equity	numeric,
	max_drawdown	numeric,
	drawdown_peak	timestamptz,
	drawdown_trough	timestamptz,
	sharpe			double precision,
	sortino			double precision,
	wins			integer,
	closes			integer,
	gain			numeric,
	loss			numeric,
	trades			integer,
	trade_list		jsonb,
	first_close		timestamptz,
	last_close		timestamptz
);
COMMENT ON TYPE pgtrade.backtest_read_result IS
	'Internal to backtest: what backtest_engine_read returns.';

CREATE FUNCTION pgtrade.backtest_engine_read(p_s pgtrade.strategy,
	instrument_id bigint, kind text, params jsonb, fast integer,
	slow integer, bars_window integer, from_ts timestamptz,
	to_ts timestamptz, capital numeric, quantity numeric,
	commission numeric, slippage_bps numeric, tick_size numeric,
	periods_per_year double precision, risk boolean, account_zone text,
	bar_size interval, time_zone text, session_close time, trades boolean)
RETURNS pgtrade.backtest_read_result
AS 'MODULE_PATHNAME', 'pgtrade_backtest_engine_read'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION pgtrade.backtest_engine_read(pgtrade.strategy, bigint,
	text, jsonb, integer, integer, integer, timestamptz, timestamptz,
	numeric, numeric, numeric, numeric, numeric, double precision, boolean,
	text, interval, text, time, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.backtest_engine_read(pgtrade.strategy, bigint,
	text, jsonb, integer, integer, integer, timestamptz, timestamptz,
	numeric, numeric, numeric, numeric, numeric, double precision, boolean,
	text, interval, text, time, boolean) IS
	'Internal to backtest: an engine over the bars it reads from the '
	'table itself.';

CREATE FUNCTION pgtrade.backtest_trade_list()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_backtest_trade_list'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION pgtrade.backtest_trade_list() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.backtest_trade_list() IS
	'Internal to backtest: takes the trade list the transaction''s last '
	'backtest_engine_read kept (the caller''s from then on).';

/* backtests read their bars once, into their own arguments, uncopied; the
   engine reads them itself when nothing is kept */
CREATE OR REPLACE FUNCTION pgtrade.backtest_run(strategy text, from_ts timestamptz,
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
SET work_mem = '256MB'
AS $$
#variable_conflict use_variable
DECLARE
	v_s pgtrade.strategy;
	v_inst pgtrade.instrument;
	v_kind pgtrade.strategy_kind;
	/* the bars are read into bar_ts .. bar_volume unless a sweep gave them */
	v_swept boolean := bar_ts IS NOT NULL;
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
	v_dd_equity numeric; /* the deepest drawdown's equity and peak */
	v_dd_peak numeric;
	v_first timestamptz;
	v_last timestamptz;
	v_returns float8[] := '{}';
	v_ret numeric;
	v_beyond boolean := false;
	v_in_market integer := 0;
	v_bars integer := 0;
	v_pnl numeric;
	v_wins integer := 0;
	v_closes integer := 0;
	v_gain numeric := 0;
	v_loss numeric := 0;
	v_trades jsonb[] := '{}';
	v_trade_list jsonb; /* the engine's, built in C */
	v_kept boolean := false; /* ... and kept for backtest_trade_list */
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
	v_e pgtrade.backtest_engine_result;
	v_r pgtrade.backtest_read_result;
	v_engine boolean := false;
	v_read boolean := false; /* the engine read the bars itself */
	v_own boolean;
	v_lo_i integer;
	v_hi_i integer;
	v_mid integer;
	v_first_i integer;
	v_last_i integer;
	v_floor timestamptz;
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
	IF from_ts IS NULL OR to_ts IS NULL THEN
		RAISE EXCEPTION 'a backtest needs from_ts and to_ts, not %',
			CASE WHEN from_ts IS NULL THEN 'a NULL from_ts'
				 ELSE 'a NULL to_ts' END
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(from_ts) OR NOT isfinite(to_ts) OR from_ts > to_ts THEN
		RAISE EXCEPTION 'a backtest needs finite from_ts <= to_ts'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* NOT (...) also refuses NaN, which no comparison holds for */
	IF NOT coalesce(commission >= 0 AND commission < 1e6, false) THEN
		RAISE EXCEPTION 'a backtest''s commission must be from 0 to below 1e6 '
			'a unit, not %', coalesce(commission::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT coalesce(slippage_bps >= 0 AND slippage_bps <= 1000, false) THEN
		RAISE EXCEPTION 'a backtest''s slippage_bps must be from 0 to 1000 '
			'basis points, not %', coalesce(slippage_bps::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT coalesce(capital > 0 AND capital < 1e15, capital IS NULL) THEN
		RAISE EXCEPTION 'a backtest''s capital must be above 0 and below 1e15, '
			'not %', capital
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

	v_window := v_s.bars_needed * 2;
	/* periods a year, for Sharpe and Sortino: sessions, or bars in them */
	v_ppy := CASE WHEN v_s.bar_size >= interval '1 day' THEN 252
		ELSE 252 * extract(epoch FROM v_inst.session_close - v_inst.session_open)
			 / extract(epoch FROM v_s.bar_size) END;
	/*
	 * The built-in kinds run in C when nothing is kept, as long as the
	 * kind's evaluator is still its own (and but for sma_cross with risk
	 * sizing given a sweep's bars: that engine takes no highs and lows);
	 * the loop below is left to the rest.  Unless a sweep gave the bars, the engine
	 * reads them itself, straight from the table (NULL when it cannot,
	 * and the bars are read below).
	 */
	v_own := v_kind.builtin AND v_kind.evaluator = to_regprocedure(format(
		'pgtrade.%s_eval(jsonb, timestamptz[], float8[], float8[], float8[], '
		'float8[], float8[])', v_s.kind));
	IF NOT v_swept AND NOT store AND v_own THEN
		v_r := pgtrade.backtest_engine_read(v_s, v_s.instrument_id, v_s.kind,
			v_s.params,
			CASE WHEN v_s.kind = 'sma_cross'
				THEN (v_s.params ->> 'fast')::numeric::integer ELSE 0 END,
			CASE WHEN v_s.kind = 'sma_cross'
				THEN (v_s.params ->> 'slow')::numeric::integer ELSE 0 END,
			v_window, from_ts, to_ts, v_s.capital, v_s.quantity, commission,
			slippage_bps, v_inst.tick_size, v_ppy, risk, v_acct_tz,
			v_s.bar_size, v_inst.time_zone, v_inst.session_close, want_trades);
		IF NOT (v_r IS NULL) THEN
			v_engine := true;
			v_read := true;
			v_bars := v_r.bars;
			v_in_market := v_r.in_market;
			v_refused := v_r.refused;
			IF v_bars > 0 THEN
				v_prev_equity := v_r.final_equity;
				v_first := v_r.first_close;
				v_last := v_r.last_close;
				max_drawdown := v_r.max_drawdown;
				drawdown_peak := v_r.drawdown_peak;
				drawdown_trough := v_r.drawdown_trough;
			END IF;
			v_wins := v_r.wins;
			v_closes := v_r.closes;
			v_gain := v_r.gain;
			v_loss := v_r.loss;
			v_ntrades := v_r.trades;
			v_kept := want_trades;
			sharpe := v_r.sharpe;
			sortino := v_r.sortino;
		END IF;
	END IF;

	/*
	 * every bar up to to_ts, by one scan of the key (or as a sweep read
	 * them once for all its backtests): those before from_ts warm the
	 * indicators
	 */
	IF NOT v_swept AND NOT v_read THEN
		/*
		 * Called in the select list, not in FROM: a function in FROM
		 * hands its row over through a tuplestore, which writes a long
		 * history's arrays out to a temporary file and reads them back.
		 */
		SELECT (b.r).ts, (b.r).open, (b.r).high, (b.r).low, (b.r).close,
			   (b.r).volume
		INTO bar_ts, bar_open, bar_high, bar_low, bar_close, bar_volume
		FROM (SELECT pgtrade.recent_bars(v_s.instrument_id, v_s.bar_size,
				to_ts + interval '1 microsecond', 2147483647) AS r
			  OFFSET 0) b;
	END IF;
	v_n := coalesce(cardinality(bar_ts), 0);
	v_cash := v_s.capital;
	v_peak := v_s.capital;

	/*
	 * The closes within the period, found by bisection (a bar's end grows
	 * with its start): v_first_i the first bar ending at or after from_ts,
	 * v_last_i the last ending by to_ts.  The search starts at the first
	 * bar starting at or after bars_floor: every bar before it ends
	 * before from_ts, and from there it looks at the same bars however
	 * far back they were read (a sweep and the engine read back only to
	 * the window before the first close), even where a bar's end does not
	 * grow with its start (a zone whose local date once went back).
	 */
	v_floor := pgtrade.bars_floor(from_ts, v_s.bar_size);
	v_lo_i := 1;
	v_hi_i := v_n + 1;
	WHILE v_lo_i < v_hi_i LOOP
		v_mid := (v_lo_i + v_hi_i) / 2;
		IF bar_ts[v_mid] < v_floor THEN
			v_lo_i := v_mid + 1;
		ELSE
			v_hi_i := v_mid;
		END IF;
	END LOOP;
	v_hi_i := v_n + 1;
	WHILE v_lo_i < v_hi_i LOOP
		v_mid := (v_lo_i + v_hi_i) / 2;
		IF pgtrade.bar_end(bar_ts[v_mid], v_s.bar_size, v_inst.time_zone,
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
		IF pgtrade.bar_end(bar_ts[v_mid], v_s.bar_size, v_inst.time_zone,
						   v_inst.session_close) <= to_ts THEN
			v_lo_i := v_mid + 1;
		ELSE
			v_hi_i := v_mid;
		END IF;
	END LOOP;
	v_last_i := v_lo_i - 1;

	/* the engines over the bars as arrays (a sweep's, or read above) */
	IF NOT v_read AND NOT store AND v_n > 0 AND v_own
		AND v_s.kind <> 'sma_cross' THEN
		v_e := pgtrade.backtest_kind_engine(v_s, v_s.kind, v_s.params,
			v_window, bar_ts, bar_open, bar_high, bar_low, bar_close,
			v_first_i, v_last_i, v_s.capital, v_s.quantity, commission, slippage_bps,
			v_inst.tick_size, v_ppy, risk, v_acct_tz, v_s.bar_size,
			v_inst.time_zone, v_inst.session_close, want_trades);
		/* NULL (closes too large for it): the loop below says so */
		v_engine := NOT (v_e IS NULL);
	END IF;
	IF NOT v_read AND NOT store AND v_s.kind = 'sma_cross'
		AND v_n > 0 AND v_own THEN
		v_e := pgtrade.backtest_sma_cross_engine(v_s,
			(v_s.params ->> 'fast')::numeric::integer,
			(v_s.params ->> 'slow')::numeric::integer,
			v_window, bar_ts, bar_open, bar_high, bar_low, bar_close, v_first_i,
			v_last_i, v_s.capital,
			v_s.quantity, commission, slippage_bps, v_inst.tick_size, v_ppy,
			risk, v_acct_tz, v_s.bar_size, v_inst.time_zone,
			v_inst.session_close, want_trades);
		/* NULL (closes too large for it): the loop below says so */
		v_engine := NOT (v_e IS NULL);
	END IF;
	IF v_engine AND NOT v_read THEN
		v_bars := v_e.bars;
		v_in_market := v_e.in_market;
		v_refused := v_e.refused;
		IF v_bars > 0 THEN
			v_prev_equity := v_e.final_equity;
			v_first := pgtrade.bar_end(bar_ts[v_first_i], v_s.bar_size,
				v_inst.time_zone, v_inst.session_close);
			v_last := pgtrade.bar_end(bar_ts[v_first_i + v_bars - 1],
				v_s.bar_size, v_inst.time_zone, v_inst.session_close);
			max_drawdown := v_e.max_drawdown;
			drawdown_peak := pgtrade.bar_end(bar_ts[v_e.peak_at], v_s.bar_size,
				v_inst.time_zone, v_inst.session_close);
			drawdown_trough := pgtrade.bar_end(bar_ts[v_e.trough_at],
				v_s.bar_size, v_inst.time_zone, v_inst.session_close);
		END IF;
		v_wins := v_e.wins;
		v_closes := v_e.closes;
		v_gain := v_e.gain;
		v_loss := v_e.loss;
		v_ntrades := v_e.trades;
		v_trade_list := v_e.trade_list;
		sharpe := v_e.sharpe;
		sortino := v_e.sortino;
		/* the loop below has nothing left to do */
		v_n := 0;
		v_last_i := 0;
	END IF;

	/*
	 * The loop starts at the first close: before it nothing is decided,
	 * so nothing fills.  The window a live run would load moves with it,
	 * a bar in and a bar out at each close: slicing the whole series
	 * each time would copy all of it, as PL/pgSQL keeps arrays expanded.
	 */
	IF v_first_i <= v_n THEN
		/* a slice flattens the whole series: only when the loop runs */
		v_lo := greatest(1, v_first_i - v_window + 1);
		v_w_ts := bar_ts[v_lo:v_first_i - 1];
		v_w_o := bar_open[v_lo:v_first_i - 1];
		v_w_h := bar_high[v_lo:v_first_i - 1];
		v_w_l := bar_low[v_lo:v_first_i - 1];
		v_w_c := bar_close[v_lo:v_first_i - 1];
		v_w_v := bar_volume[v_lo:v_first_i - 1];
	END IF;
	FOR i IN v_first_i .. v_last_i LOOP
		/* a long backtest says how far it is (a sweep, per combination) */
		IF NOT v_swept AND (i - v_first_i) % 256 = 255 THEN
			v_noted := pgtrade.note_progress('backtest', i - v_first_i + 1,
				v_last_i - v_first_i + 1, 'closes', v_started, v_noted);
		END IF;
		/*
		 * The closes are the bisection's, as the engines take them: a bar
		 * after v_last_i, which closes after to_ts, is outside, and
		 * nothing fills in it.
		 */
		v_end := pgtrade.bar_end(bar_ts[i], v_s.bar_size, v_inst.time_zone,
								 v_inst.session_close);
		/* what was decided at the last close fills at this open */
		IF v_pending <> 0 THEN
			v_side := CASE WHEN v_pending > 0 THEN 'buy' ELSE 'sell' END;
			v_price := pgtrade.paper_price(v_side, bar_open[i]::numeric,
				slippage_bps, v_inst.tick_size);
			v_fee := abs(v_pending) * commission;
			/* the day's realized P&L starts over on a new trading day */
			v_fill_day := (bar_ts[i] AT TIME ZONE v_acct_tz)::date;
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
					v_pending_at, 'filled_at', bar_ts[i], 'side', v_side,
					'quantity', abs(v_pending), 'price', v_price,
					'commission', v_fee, 'position', v_pos,
					'realized_pnl', v_pnl);
			END IF;
			v_pending := 0;
		END IF;


		/* the close: equity, drawdown, exposure */
		v_bars := v_bars + 1;
		v_equity := v_cash + v_pos * bar_close[i]::numeric;
		/*
		 * The change over the equity before: numeric divides to 16
		 * significant digits of the quotient, so a return taken as a
		 * quotient less 1 (1.000000001234... for a small position in a
		 * large account) would keep 7 of them.
		 */
		IF v_prev_equity IS NOT NULL AND v_prev_equity > 0 THEN
			v_ret := (v_equity - v_prev_equity) / v_prev_equity;
			/*
			 * A return beyond double precision (from an equity next to
			 * nothing) leaves Sharpe and Sortino undefined, as in the
			 * engine; one below its smallest normal value counts as 0.
			 */
			IF abs(v_ret) > 1.7976931348623157e308 THEN
				v_beyond := true;
			ELSIF abs(v_ret) < 2.2250738585072014e-308 THEN
				v_returns := v_returns || 0::float8;
			ELSE
				v_returns := v_returns || v_ret::float8;
			END IF;
		END IF;
		v_prev_equity := v_equity;
		v_first := coalesce(v_first, v_end);
		v_last := v_end;
		/* the peak's time is the last close at it */
		IF v_equity >= v_peak THEN
			v_peak := v_equity;
			v_peak_at := v_end;
		END IF;
		/*
		 * Deeper compared exactly (peaks are above 0), not as quotients
		 * rounded at each equity's scale: equal drawdowns (a flat
		 * account's equity, its scale that of each close) keep the first.
		 */
		IF max_drawdown IS NULL
			OR v_equity * v_dd_peak < v_dd_equity * v_peak THEN
			v_dd_equity := v_equity;
			v_dd_peak := v_peak;
			max_drawdown := v_equity / v_peak - 1;
			drawdown_peak := coalesce(v_peak_at, v_first);
			drawdown_trough := v_end;
		END IF;
		v_in_market := v_in_market + (v_pos <> 0)::integer;

		/* the decision, as a live run makes it at this close */
		v_w_ts := v_w_ts || bar_ts[i];
		v_w_o := v_w_o || bar_open[i];
		v_w_h := v_w_h || bar_high[i];
		v_w_l := v_w_l || bar_low[i];
		v_w_c := v_w_c || bar_close[i];
		v_w_v := v_w_v || bar_volume[i];
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
			FROM pgtrade.size_target(v_s, v_target, bar_close[i],
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
				abs(v_tpos - v_pos), bar_close[i], v_pos, v_avg, v_real, v_day,
				v_day_real, v_order_day, v_day_orders, bar_ts[i]);
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
	/*
	 * NULL when the yearly growth is beyond double precision (equity from
	 * almost nothing to a great deal in a short time): the power would
	 * overflow and fail the backtest.
	 */
	IF v_years > 0 AND final_equity > 0
		AND abs(ln(final_equity / v_s.capital)) / v_years < 700 THEN
		cagr := ((final_equity / v_s.capital)::float8 ^ (1 / v_years) - 1)::numeric;
	END IF;
	IF NOT v_engine THEN
		/*
		 * In numeric: the squares of returns far from 1 (equity from
		 * almost nothing to a great deal) would overflow or underflow
		 * double precision, which raises an error.
		 */
		SELECT (avg(x.r) / nullif(stddev_samp(x.r), 0))::float8 * sqrt(v_ppy),
			   (avg(x.r) / nullif(sqrt(avg(least(x.r, 0) * least(x.r, 0))),
								  0))::float8 * sqrt(v_ppy)
		INTO sharpe, sortino
		FROM (SELECT r::numeric AS r FROM unnest(v_returns) r) x
		WHERE NOT v_beyond;
	END IF;
	max_drawdown := coalesce(max_drawdown, 0);
	win_rate := v_wins::numeric / nullif(v_closes, 0);
	profit_factor := v_gain / nullif(v_loss, 0);
	exposure := v_in_market::numeric / nullif(bars, 0);
	exposure := coalesce(exposure, 0);
	trade_list := CASE WHEN want_trades AND NOT v_kept
		THEN coalesce(v_trade_list, to_jsonb(v_trades)) END;

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
			target_position, position, evaluation, risk_verdict, close_no)
		SELECT backtest_id, d.*
		FROM unnest(v_d_as_of, v_d_target, v_d_tpos, v_d_pos, v_d_eval,
					v_d_verdict) WITH ORDINALITY d;
	END IF;
	/*
	 * A fall of all the equity or more: the account went to zero or
	 * below (positions too large for the capital), and the returns,
	 * ratios and drawdown after that mean little.  Said of a backtest,
	 * not of each combination of a sweep (which wants no trade list).
	 */
	IF want_trades AND max_drawdown <= -1 THEN
		RAISE NOTICE 'backtest of "%": the equity fell to zero or below '
			'(max drawdown %, lowest at %); returns after that are not '
			'meaningful', backtest_run.strategy, round(max_drawdown, 4),
			drawdown_trough
			USING HINT = 'Give it more capital, or size positions to the '
						 'equity.';
	END IF;
	IF v_kept THEN
		RETURN QUERY SELECT backtest_id, bars, trades, refused, final_equity,
			total_return, cagr, sharpe, sortino, max_drawdown, drawdown_peak,
			drawdown_trough, win_rate, profit_factor, exposure,
			pgtrade.backtest_trade_list();
	ELSE
		RETURN NEXT;
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrade.backtest_sweep(strategy text, from_ts timestamptz,
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
	v_kind text;
	v_sizing text;
	v_atr integer;
	v_need integer;
	v_window integer := 1;
BEGIN
	SELECT s.params, s.instrument_id, s.bar_size, s.kind, s.sizing,
		   s.atr_period
	INTO v_base, v_instrument, v_size, v_kind, v_sizing, v_atr
	FROM pgtrade.strategy s
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
	/*
	 * The bars, read once for every combination (backtest_run checks the
	 * rest), back to the longest window a combination's live run would
	 * load at the first close: backtest_run's, bars_needed twice over.
	 */
	IF isfinite(from_ts) AND isfinite(to_ts) AND from_ts <= to_ts THEN
		FOREACH v_c IN ARRAY v_combos LOOP
			v_need := pgtrade.strategy_kind_validate(v_kind, v_base || v_c);
			IF v_sizing = 'risk' THEN
				v_need := greatest(v_need, v_atr + 1);
			END IF;
			v_window := greatest(v_window, 2 * v_need);
		END LOOP;
		/* in the select list, for the reason backtest_run gives */
		SELECT (b.r).ts, (b.r).open, (b.r).high, (b.r).low, (b.r).close,
			   (b.r).volume
		INTO v_ts, v_o, v_h, v_l, v_cl, v_vol
		FROM (SELECT pgtrade.period_bars(v_instrument, v_size, from_ts,
				to_ts, v_window) AS r
			  OFFSET 0) b;
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

/*
 * pgtrade.progress_interval is a server setting of the library, checked
 * by SET once the library is loaded; note_progress reads it through
 * progress_interval(), which loads the library.
 */
CREATE FUNCTION pgtrade.progress_interval()
RETURNS double precision
AS 'MODULE_PATHNAME', 'pgtrade_progress_interval'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION pgtrade.progress_interval() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.progress_interval() IS
	'Internal to note_progress: pgtrade.progress_interval in seconds; '
	'calling it loads the library, which defines the setting.';
GRANT EXECUTE ON FUNCTION pgtrade.progress_interval() TO pgtrade_admin;
CREATE OR REPLACE FUNCTION pgtrade.note_progress(caller text, done bigint,
	total bigint, unit text, started timestamptz, noted timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_now timestamptz := pg_catalog.clock_timestamp();
	v_every double precision := pgtrade.progress_interval();
BEGIN
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

/*
 * The bar key carries the prices and the volume, so that recent_bars
 * reads bars on all-visible pages from the key alone; a vacuum after
 * every thousand new bars keeps the newest pages all-visible.  The key
 * is built again, under its own name (a table partitioned as
 * doc/scale.md shows may have another), clustered on again if it was;
 * the table is locked while it is.  A key that other objects depend on
 * (a foreign key to it, a view grouping by it) is left as it was, with
 * a warning: recent_bars then reads every bar from the heap, as before.
 * A partitioned table takes no autovacuum settings; its partitions do.
 */
DO $$
DECLARE
	v_kind "char";
	v_key name;
	v_clustered boolean;
BEGIN
	SELECT c.relkind INTO v_kind FROM pg_catalog.pg_class c
	WHERE c.oid = 'pgtrade.bar'::pg_catalog.regclass;
	SELECT con.conname, i.indisclustered INTO v_key, v_clustered
	FROM pg_catalog.pg_constraint con
	JOIN pg_catalog.pg_index i ON i.indexrelid = con.conindid
	WHERE con.conrelid = 'pgtrade.bar'::pg_catalog.regclass
		AND con.contype = 'p';
	IF v_key IS NOT NULL THEN
		BEGIN
			EXECUTE pg_catalog.format('ALTER TABLE pgtrade.bar '
				'DROP CONSTRAINT %1$I, ADD CONSTRAINT %1$I PRIMARY KEY '
				'(instrument_id, bar_size, ts) '
				'INCLUDE (open, high, low, close, volume)', v_key);
			IF v_clustered THEN
				EXECUTE pg_catalog.format(
					'ALTER TABLE pgtrade.bar CLUSTER ON %I', v_key);
			END IF;
		EXCEPTION WHEN dependent_objects_still_exist THEN
			RAISE WARNING 'the primary key of pgtrade.bar is left without '
				'the prices: other objects depend on it'
				USING DETAIL = SQLERRM,
					HINT = 'recent_bars reads the bars from the table until '
						'the key is built with INCLUDE (open, high, low, '
						'close, volume), as a fresh install has it.';
		END;
	END IF;
	IF v_kind = 'r' THEN
		ALTER TABLE pgtrade.bar SET (autovacuum_vacuum_insert_threshold = 1000,
			autovacuum_vacuum_insert_scale_factor = 0);
	ELSE
		RAISE WARNING 'pgtrade.bar is partitioned: give its partitions '
			'autovacuum_vacuum_insert_threshold = 1000 and '
			'autovacuum_vacuum_insert_scale_factor = 0';
	END IF;
END
$$;

/*
 * run_probe's query is planned in the order it is written; run_due_bulk
 * writes each decision and its decide step in one statement.
 */
ALTER FUNCTION pgtrade.run_probe(bigint[], text, timestamptz, jsonb)
	SET join_collapse_limit = 1 SET from_collapse_limit = 1;
CREATE OR REPLACE FUNCTION pgtrade.run_due_bulk(p_now timestamptz, p_limit integer)
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

		/*
		 * The decisions, netted as run_decide nets them, and their step
		 * 3, decide, made from the decisions as written.
		 */
		WITH d AS (
			INSERT INTO pgtrade.decision (decision_id, run_id, strategy_id, as_of,
				action, signal, target_position, position, open_quantity,
				quantity, last_close, confidence, reason, indicators,
				last_bar_ts, bars_used, kind, params)
			OVERRIDING SYSTEM VALUE
			SELECT p.decision_id, p.run_id, p.strategy_id, p_now,
				CASE WHEN n.delta > 0 THEN 'buy' WHEN n.delta < 0 THEN 'sell'
					 ELSE 'hold' END,
				p.output ->> 'signal', p.target, p.pos, p.open_qty,
				abs(n.delta),
				p.last_close, NULL,
				pgtrade.decision_reason(p.output ->> 'reason', p.target, p.pos,
					p.open_qty, p.place),
				p.output -> 'values', p.last_ts, p.bars, p.kind, p.params
			FROM unnest(v_rows) p
			CROSS JOIN LATERAL (
				SELECT coalesce(p.target - p.pos - p.open_qty, 0) AS delta) n
			WHERE p.outcome = 'decide'
			RETURNING decision_id, run_id, action, target_position, position,
				open_quantity, quantity, reason)
		INSERT INTO pgtrade.workflow_step (run_id, step_no, name, started_at,
			finished_at, input, output)
		SELECT d.run_id, 3, 'decide', v_t1, clock_timestamp(),
			jsonb_build_object('target_position', d.target_position,
				'position', d.position, 'open_orders', d.open_quantity),
			jsonb_build_object('decision_id', d.decision_id,
				'action', d.action, 'quantity', d.quantity,
				'reason', d.reason)
		FROM d;

		/*
		 * The steps of run_steps: 0 market_hours, 1 load_bars, 2 evaluate,
		 * each step's objects built only for the runs that have it.
		 */
		INSERT INTO pgtrade.workflow_step (run_id, step_no, name, started_at,
			finished_at, input, output)
		SELECT p.run_id, st.no, st.name, v_t0, v_t1, st.input, st.output
		FROM unnest(v_rows) p
		CROSS JOIN LATERAL (
			SELECT 0, 'market_hours',
				jsonb_build_object('calendar', p.calendar,
					'market_hours', p.hours, 'as_of', p_now),
				jsonb_build_object('open', p.market -> 'is_open',
					'trading_day', p.market -> 'trading_day',
					'opens', p.market -> 'opens',
					'closes', p.market -> 'closes',
					'reason', p.market -> 'reason')
			WHERE p.market IS NOT NULL AND p.outcome IN ('closed', 'decide')
			UNION ALL
			SELECT 1, 'load_bars',
				jsonb_build_object('symbol', p.symbol, 'bar_size',
					p.bar_size::text, 'as_of', p_now,
					'bars_wanted', p.bars_wanted),
				jsonb_build_object('bars', p.bars, 'first_ts', p.first_ts,
					'last_ts', p.last_ts, 'last_close', p.last_close)
			WHERE p.outcome = 'decide'
			UNION ALL
			SELECT 2, 'evaluate',
				jsonb_build_object('kind', p.kind, 'params', p.params,
					'bars', p.bars),
				p.output
			WHERE p.outcome = 'decide') st(no, name, input, output);

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

/*
 * PostgreSQL reads a zone's name without regard to case; pgtrade keeps
 * the spelling pg_timezone_names gives it, so that equal zones compare
 * equal as text.  pg_timezone_names reads every zone file: this is for
 * a zone being set, not for every run.
 */
CREATE FUNCTION pgtrade.time_zone_name(zone text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_name text;
BEGIN
	IF zone IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT z.name INTO v_name
	FROM pg_catalog.pg_timezone_names z
	WHERE lower(z.name) = lower(zone)
	ORDER BY z.name = zone DESC, z.name
	LIMIT 1;
	IF v_name IS NULL THEN
		RAISE EXCEPTION 'time zone "%" not recognized', zone
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN v_name;
END
$$;
COMMENT ON FUNCTION pgtrade.time_zone_name(text) IS
	'The name of a time zone as pg_timezone_names spells it, given in any '
	'case; an error for a zone PostgreSQL does not know.';
REVOKE ALL ON FUNCTION pgtrade.time_zone_name(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgtrade.time_zone_name(text) TO pgtrade_reader,
	pgtrade_trader, pgtrade_admin, pgtrade_listener, pgtrade_scheduler;

/*
 * Zones are kept as pg_timezone_names spells them, given in any case;
 * a strategy's NULL schedule or zone, and market_status's NULL time,
 * are refused as NULLs.
 */
CREATE OR REPLACE FUNCTION pgtrade.add_account(account_id text, description text DEFAULT NULL,
	time_zone text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF account_id IS NULL THEN
		RAISE EXCEPTION 'add_account needs an account_id, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	ELSIF account_id !~ '^[A-Za-z0-9_-]{1,32}$' THEN
		RAISE EXCEPTION 'account id "%" is not 1 to 32 letters, digits, _ or -',
			account_id
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'IBKR account ids look like DU1234567 or U1234567.';
	END IF;
	time_zone := pgtrade.time_zone_name(time_zone);
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
CREATE OR REPLACE FUNCTION pgtrade.add_instrument(symbol text, conid bigint DEFAULT NULL,
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
	v_other pgtrade.instrument;
	v_c pgtrade.market_calendar;
BEGIN
	time_zone := pgtrade.time_zone_name(time_zone);
	IF calendar IS NOT NULL THEN
		calendar := (pgtrade.market_check_calendar(calendar)).calendar;
	END IF;
	/* IBKR's security types, as its contract searches name them */
	IF sec_type IS NULL OR sec_type NOT IN ('STK', 'OPT', 'FUT', 'FOP',
		'CASH', 'CFD', 'BOND', 'WAR', 'IND', 'FUND', 'CMDTY', 'CRYPTO') THEN
		RAISE EXCEPTION 'sec_type must be an IBKR security type such as STK, '
			'not %', coalesce('"' || sec_type || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'STK, OPT, FUT, FOP, CASH, CFD, BOND, WAR, IND, FUND, '
					  || 'CMDTY or CRYPTO, in capitals.';
	END IF;
	IF currency IS NULL OR currency !~ '^[A-Z]{3}$' THEN
		RAISE EXCEPTION 'currency must be an ISO 4217 code such as USD, not %',
			coalesce('"' || currency || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v_i FROM pgtrade.instrument i
	WHERE i.symbol = add_instrument.symbol
		AND i.sec_type = add_instrument.sec_type
		AND i.exchange = add_instrument.exchange
		AND i.currency = add_instrument.currency
	FOR UPDATE;
	IF NOT FOUND THEN
		/*
		 * Functions name an instrument by its symbol alone: a second
		 * instrument with the same symbol would make every one of them
		 * refuse both as ambiguous.
		 */
		SELECT * INTO v_other FROM pgtrade.instrument i
		WHERE i.symbol = add_instrument.symbol
		ORDER BY i.instrument_id LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'symbol "%" is already registered, as % on % in %',
				symbol, v_other.sec_type, v_other.exchange, v_other.currency
				USING ERRCODE = 'unique_violation',
					  DETAIL = 'pgtrade''s functions name an instrument by its '
						 || 'symbol alone; a second one with it would make '
						 || 'them refuse both as ambiguous.',
					  HINT = 'Give the other contract a symbol of its own '
						 || '(its local symbol, say).';
		END IF;
		/* the same stock under another case would get limits of its own */
		SELECT * INTO v_other FROM pgtrade.instrument i
		WHERE upper(i.symbol) = upper(add_instrument.symbol)
		ORDER BY i.instrument_id LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'symbol "%" differs only in case from "%", already '
				'registered',
				symbol, v_other.symbol
				USING ERRCODE = 'unique_violation',
					  DETAIL = 'Risk limits and positions are kept per '
						 || 'instrument: one stock under two spellings '
						 || 'would have two of each.',
					  HINT = pg_catalog.format('Use "%s".', v_other.symbol);
		END IF;
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
		IF sec_type <> 'STK' THEN
			RAISE NOTICE 'instrument "%" has sec_type %: its bars, indicators '
				'and backtests work, but the risk gate refuses its orders',
				symbol, sec_type
				USING DETAIL = 'pgtrade-listener sends stock (STK) orders only.';
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
				  HINT = 'A conid names a contract; orders follow it, so it '
					  || 'is never changed silently.';
	END IF;
	IF v_i.time_zone <> coalesce(time_zone, v_i.time_zone)
		OR v_i.session_open <> coalesce(session_open, v_i.session_open)
		OR v_i.session_close <> coalesce(session_close, v_i.session_close) THEN
		RAISE EXCEPTION 'instrument "%" is already registered with time '
			'zone % and session %-%',
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
CREATE OR REPLACE FUNCTION pgtrade.market_calendar_before_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	NEW.time_zone := pgtrade.time_zone_name(NEW.time_zone);
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
CREATE OR REPLACE FUNCTION pgtrade.market_status(calendar text, at timestamptz,
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
	IF at IS NULL THEN
		RAISE EXCEPTION 'market_status needs a time, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(at) THEN
		RAISE EXCEPTION 'market_status needs a finite time, not %', at
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
		reason := format('%s opens at %s %s on %s%s', v_c.calendar,
						 to_char(v_d.opens AT TIME ZONE v_c.time_zone,
								 'HH24:MI'), v_c.time_zone, v_day,
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
CREATE OR REPLACE FUNCTION pgtrade.strategy_before_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_null text;
	v_bad text;
BEGIN
	/*
	 * The table's own checks print the whole row; these say which column
	 * is wrong and why, first.
	 */
	v_null := CASE
		WHEN NEW.name IS NULL THEN 'name'
		WHEN NEW.kind IS NULL THEN 'kind'
		WHEN NEW.params IS NULL THEN 'params'
		WHEN NEW.instrument_id IS NULL THEN 'instrument'
		WHEN NEW.account_id IS NULL THEN 'account'
		WHEN NEW.quantity IS NULL THEN 'quantity'
		WHEN NEW.bar_size IS NULL THEN 'bar_size'
		WHEN NEW.active IS NULL THEN 'active'
		WHEN NEW.order_type IS NULL THEN 'order_type'
		WHEN NEW.limit_offset IS NULL THEN 'limit_offset'
		WHEN NEW.tif IS NULL THEN 'tif'
		WHEN NEW.order_valid_for IS NULL THEN 'order_valid_for'
		WHEN NEW.grace IS NULL THEN 'grace'
		WHEN NEW.catch_up IS NULL THEN 'catch_up'
		WHEN NEW.sizing IS NULL THEN 'sizing'
		WHEN NEW.atr_period IS NULL THEN 'atr_period'
		WHEN NEW.atr_multiple IS NULL THEN 'atr_multiple' END;
	IF v_null IS NOT NULL THEN
		RAISE EXCEPTION 'a strategy''s % must not be NULL', v_null
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	v_bad := CASE
		WHEN NOT (NEW.name ~ '^[A-Za-z0-9_.-]+$' AND length(NEW.name) <= 63)
			THEN format('strategy name %s must be 1 to 63 of A-Z a-z 0-9 _ . -',
						quote_literal(NEW.name))
		WHEN NOT (NEW.bar_size = interval '1 day'
				  OR (NEW.bar_size > interval '0'
					  AND NEW.bar_size < interval '1 day'
					  AND extract(epoch FROM NEW.bar_size) % 60 = 0))
			THEN format('bar size must be 1 day or whole minutes under a day, '
						'not %s', NEW.bar_size)
		WHEN NEW.order_type NOT IN ('market', 'limit')
			THEN format('order type must be market or limit, not %s',
						quote_literal(NEW.order_type))
		WHEN NEW.tif NOT IN ('day', 'gtc', 'ioc')
			THEN format('time in force must be day, gtc or ioc, not %s',
						quote_literal(NEW.tif))
		WHEN NEW.market_hours NOT IN ('open', 'trading_day', 'always')
			THEN format('market_hours must be open, trading_day or always, '
						'not %s', quote_literal(NEW.market_hours))
		WHEN NEW.sizing NOT IN ('fixed', 'equity_fraction', 'risk')
			THEN format('sizing must be fixed, equity_fraction or risk, not %s',
						quote_literal(NEW.sizing))
		/* NaN sorts above every number: it is not >= 0's business */
		WHEN NOT (NEW.limit_offset >= 0 AND NEW.limit_offset < 'Infinity')
			THEN format('limit offset must be a finite number, not negative, '
						'not %s', NEW.limit_offset)
		WHEN NEW.order_valid_for <= interval '0'
			THEN format('order_valid_for must be above 0, not %s',
						NEW.order_valid_for)
		/*
		 * pg_cron starts a run some milliseconds after its minute: a
		 * shorter grace would record every run as missed
		 */
		WHEN NEW.grace < interval '1 minute'
			AND (TG_OP = 'INSERT' OR NEW.grace IS DISTINCT FROM OLD.grace)
			THEN format('grace must be at least 1 minute, not %s: pg_cron '
						'starts a run a little after its slot', NEW.grace)
		WHEN NEW.max_bar_age <= interval '0'
			THEN format('max_bar_age must be above 0, not %s', NEW.max_bar_age)
		WHEN NEW.disable_after_failures <= 0
			THEN format('disable_after_failures must be above 0, not %s',
						NEW.disable_after_failures)
		WHEN NOT (NEW.capital > 0 AND NEW.capital < 1e15)
			THEN format('capital must be above 0 and below 1e15, not %s',
						NEW.capital)
		WHEN NOT (NEW.sizing_fraction > 0 AND NEW.sizing_fraction <= 10)
			THEN format('sizing_fraction must be above 0 and at most 10, not %s',
						NEW.sizing_fraction)
		WHEN NOT (NEW.atr_period BETWEEN 1 AND 10000)
			THEN format('atr_period must be 1 to 10000, not %s', NEW.atr_period)
		WHEN NOT (NEW.atr_multiple > 0 AND NEW.atr_multiple <= 100)
			THEN format('atr_multiple must be above 0 and at most 100, not %s',
						NEW.atr_multiple)
		WHEN NEW.sizing <> 'fixed'
			AND (NEW.capital IS NULL OR NEW.sizing_fraction IS NULL)
			THEN format('sizing %s needs capital and sizing_fraction',
						NEW.sizing)
		WHEN NEW.sizing = 'risk' AND NEW.sizing_fraction > 1
			THEN format('sizing risk puts at most all of the equity at risk: '
						'sizing_fraction at most 1, not %s',
						NEW.sizing_fraction) END;
	IF v_bad IS NOT NULL THEN
		RAISE EXCEPTION '%', v_bad USING ERRCODE = 'check_violation';
	END IF;
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
	IF NEW.schedule IS NULL OR NEW.time_zone IS NULL THEN
		RAISE EXCEPTION 'a strategy''s % must not be NULL',
			CASE WHEN NEW.schedule IS NULL THEN 'schedule' ELSE 'time_zone' END
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM pgtrade.cron_validate(NEW.schedule);
	/* pg_timezone_names reads every zone file: only for a new zone */
	IF TG_OP = 'INSERT' OR NEW.time_zone IS DISTINCT FROM OLD.time_zone THEN
		NEW.time_zone := pgtrade.time_zone_name(NEW.time_zone);
	END IF;
	IF NOT (NEW.quantity > 0 AND NEW.quantity < 1e12) THEN
		RAISE EXCEPTION 'strategy quantity must be a positive number below '
			'1e12, not %',
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
	/* its runs would decide, and the gate refuse every order they place */
	IF NEW.active AND (TG_OP = 'INSERT' OR NOT OLD.active
					   OR NEW.instrument_id <> OLD.instrument_id)
		AND EXISTS (SELECT 1 FROM pgtrade.instrument i
					WHERE i.instrument_id = NEW.instrument_id
					  AND i.sec_type <> 'STK') THEN
		RAISE WARNING 'strategy "%" is active on an instrument that is not a '
			'stock: the risk gate will refuse every order its runs place',
			NEW.name
			USING HINT = 'Backtest it inactive; pgtrade-listener sends stock '
						 '(STK) orders only.';
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

/* the engines size positions as size_target does */
COMMENT ON FUNCTION pgtrade.backtest_sma_cross_engine(pgtrade.strategy,
	integer, integer, integer, timestamptz[], double precision[],
	double precision[], double precision[], double precision[], integer,
	integer, numeric, numeric, numeric, numeric, numeric, double precision,
	boolean, text, interval, text, time, boolean) IS
	'Internal to backtest: its loop for sma_cross, in C.';
COMMENT ON FUNCTION pgtrade.backtest_kind_engine(pgtrade.strategy, text,
	jsonb, integer, timestamptz[], double precision[], double precision[],
	double precision[], double precision[], integer, integer, numeric,
	numeric, numeric, numeric, numeric, double precision, boolean, text,
	interval, text, time, boolean) IS
	'Internal to backtest: its loop for the other built-in kinds, in C.';

/*
 * paper_modify carries out a modification of a paper order, as a broker
 * answers one: marked sent, then applied, or refused when it would leave
 * less to the order than has already filled.  The gate checked it when
 * it was asked for (modify_order); the order's next paper_step prices
 * with what it changed.
 */
CREATE FUNCTION pgtrade.paper_modify(modification_id bigint,
	listener_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_m pgtrade.order_modification;
	v_o pgtrade.orders;
	v_payload jsonb := jsonb_build_object('paper', true);
BEGIN
	SELECT * INTO v_m FROM pgtrade.order_modification m
	WHERE m.modification_id = paper_modify.modification_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'modification % does not exist', modification_id
			USING ERRCODE = 'undefined_object';
	END IF;
	v_o := pgtrade.lock_order(v_m.order_id);
	IF v_o.broker_order_id IS DISTINCT FROM 'PAPER-' || v_o.client_order_id THEN
		RAISE EXCEPTION 'order % is not a paper order', v_o.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Its broker order id is %s.',
					coalesce(v_o.broker_order_id, 'not known'));
	END IF;
	IF v_m.status = 'requested' AND NOT pgtrade.record_modification_sent(
			v_m.modification_id, listener_id) THEN
		RETURN (SELECT m.status FROM pgtrade.order_modification m
				WHERE m.modification_id = v_m.modification_id);
	END IF;
	IF v_m.quantity < v_o.filled_quantity THEN
		RETURN pgtrade.record_modification(v_m.modification_id, false,
			pg_catalog.format('paper: %s already filled, more than the '
				'new quantity %s', v_o.filled_quantity, v_m.quantity),
			NULL, v_payload);
	END IF;
	RETURN pgtrade.record_modification(v_m.modification_id, true, NULL, NULL,
		v_payload);
END
$$;
COMMENT ON FUNCTION pgtrade.paper_modify(bigint, bigint) IS
	'Paper listener: carries out a requested modification of a paper '
	'order (applied, or refused below the filled quantity).';
REVOKE ALL ON FUNCTION pgtrade.paper_modify(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgtrade.paper_modify(bigint, bigint)
	TO pgtrade_listener;

/* import_bars names a NULL source or a missing column */
CREATE OR REPLACE FUNCTION pgtrade.import_bars(source regclass,
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
	v_changed bigint;
	v_new bigint := 0;
	v_replaced bigint := 0;
	v_total bigint;
	v_checks text;
	v_blocks integer;
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_noted timestamptz := v_started;
	v_missing text;
BEGIN
	IF source IS NULL THEN
		RAISE EXCEPTION 'import_bars needs a source table, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT c.col INTO v_missing
	FROM unnest(ARRAY['symbol', 'ts', 'open', 'high', 'low', 'close',
					  'volume']) WITH ORDINALITY c(col, n)
	WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
					  WHERE a.attrelid = source AND a.attname = c.col
						AND a.attnum > 0 AND NOT a.attisdropped)
	ORDER BY c.n LIMIT 1;
	IF v_missing IS NOT NULL THEN
		RAISE EXCEPTION '% has no column %', source, v_missing
			USING ERRCODE = 'undefined_column',
				  HINT = 'A source of bars has the columns symbol, ts, '
					  'open, high, low, close and volume (and line, '
					  'optionally).';
	END IF;
	IF NOT pgtrade.bar_size_supported(bar_size) THEN
		RAISE EXCEPTION 'bar size % is not supported', coalesce(bar_size::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Bars are daily (1 day) or a whole number of '
					  'minutes under a day.';
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
			   ELSE ts_text !~ ('^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}'
				   '(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$')
		  END
	ORDER BY line LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'bar on line % has time "%", not %', v_bad.line,
			v_bad.ts_text,
			CASE WHEN bar_size >= interval '1 day'
				 THEN 'a date (YYYY-MM-DD) as daily bars need'
				 ELSE 'a timestamp with its offset '
					  '(YYYY-MM-DDTHH:MM:SS+HH:MM) as intraday bars need'
			END
			USING ERRCODE = 'invalid_datetime_format',
				  HINT = 'Check the bar size: daily files load with '
					  '''1 day'', minute files with ''1 minute''.';
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
	/*
	 * A bar already stored with the same values is left as it is (no
	 * new row version); one with other values is replaced, and a notice
	 * at the end says how many were (a vendor's correction, or a wrong
	 * file).
	 */
	FOR v_from IN 0 .. v_blocks BY 1024 LOOP
		WITH w AS (
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
					volume = EXCLUDED.volume
				WHERE (b.open, b.high, b.low, b.close, b.volume)
					IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high,
						EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)
			RETURNING b.xmax = 0 AS inserted)
		SELECT count(*) FILTER (WHERE w.inserted),
			   count(*) FILTER (WHERE NOT w.inserted)
		INTO v_rows, v_changed
		FROM w;
		v_new := v_new + v_rows;
		v_replaced := v_replaced + v_changed;
		v_n := least(v_total, (v_from + 1024)::bigint * v_total
			/ greatest(v_blocks, 1));
		v_noted := pgtrade.note_progress('import_bars', v_n, v_total,
			'rows written', v_started, v_noted);
	END LOOP;
	DROP TABLE pgtrade_import_sorted;
	IF v_replaced > 0 THEN
		RAISE NOTICE 'import_bars: % of % bars replaced stored bars with '
			'other values (% new, % unchanged)', v_replaced, v_total, v_new,
			v_total - v_new - v_replaced;
	END IF;
	RETURN v_total;
END
$$;
COMMENT ON FUNCTION pgtrade.import_bars(regclass, interval) IS
	'Validates and upserts a batch of bars from a table (symbol, ts, '
	'open, high, low, close, volume, and optionally line for error '
	'messages); all or nothing.  Returns the bars in the batch; a notice '
	'says how many replaced stored bars with other values.';

/* backtest is backtest_run's result as it comes, its trade list kept in
   memory on its way out (87_backtest.sql) */
CREATE OR REPLACE FUNCTION pgtrade.backtest(strategy text, from_ts timestamptz,
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
AS 'MODULE_PATHNAME', 'pgtrade_backtest'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

/* a bracket's exits must rest: day or gtc, never ioc */
CREATE OR REPLACE FUNCTION pgtrade.bracket_child_group(p_o pgtrade.orders)
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
	/*
	 * An exit must rest as long as its entry may fill: one the broker
	 * cancels at once (ioc), or at today's close while a gtc entry may
	 * fill on a later day, would leave the position unguarded.
	 */
	IF p_o.tif IS DISTINCT FROM 'day' AND p_o.tif IS DISTINCT FROM 'gtc' THEN
		RAISE EXCEPTION 'a bracket''s % must rest until it fills or is '
			'cancelled: time in force day or gtc, not %', p_o.bracket_role,
			coalesce(p_o.tif, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'An ioc exit is cancelled by the broker as soon as it '
					 || 'is not filled, which would leave the position it '
					 || 'protects without its take-profit or stop-loss.';
	END IF;
	IF v_p.tif = 'gtc' AND p_o.tif <> 'gtc' THEN
		RAISE EXCEPTION 'a bracket''s % must be gtc when its entry is gtc, '
			'not %', p_o.bracket_role, p_o.tif
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A day exit expires at the close, and the entry may '
					 || 'fill on a later day without it.';
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

/* place_bracket says so before it writes anything */
CREATE OR REPLACE FUNCTION pgtrade.place_bracket(account_id text, symbol text,
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
		RAISE EXCEPTION 'bracket prices out of order for a %: stop-loss %, '
			'entry %, take-profit %',
			v_side, stop_loss, coalesce(entry_price::text, 'market'), take_profit
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'A buy needs stop-loss < entry < take-profit; '
					  || 'a sell the reverse.';
	END IF;
	IF valid_for IS NULL OR valid_for <= interval '0' THEN
		RAISE EXCEPTION 'valid_for must be a positive interval'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF lower(exit_tif) IS DISTINCT FROM 'day'
		AND lower(exit_tif) IS DISTINCT FROM 'gtc' THEN
		RAISE EXCEPTION 'exit_tif must be day or gtc, not %',
			coalesce(exit_tif, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The take-profit and stop-loss rest until one fills; '
					 || 'an ioc exit would be cancelled at once.';
	END IF;
	IF lower(tif) = 'gtc' AND lower(exit_tif) <> 'gtc' THEN
		RAISE EXCEPTION 'exit_tif must be gtc when tif is gtc, not %', exit_tif
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A day exit expires at the close, and a gtc entry '
					 || 'may fill on a later day without it.';
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
			'user ' || pgtrade.caller_role(),
			'bracket not placed: a child order was refused by the risk gate');
	END IF;
	RETURN QUERY SELECT * FROM pgtrade.orders o
		WHERE o.order_id IN (v_parent.order_id, v_tp.order_id, v_sl.order_id)
		ORDER BY o.order_id;
END
$$;

/* removing a limit that is not set changes and records nothing */
CREATE OR REPLACE FUNCTION pgtrade.remove_risk_limit(limit_name text,
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
	remove_risk_limit.account_id := pgtrade.limit_scope_account(
		remove_risk_limit.account_id, remove_risk_limit.strategy_id);
	/* the name is one of the list above: safe as a column name */
	EXECUTE format('UPDATE pgtrade.risk_limit l
					SET %I = NULL, updated_by = pgtrade.caller_role(),
						updated_at = now()
					WHERE coalesce(l.account_id, '''') = coalesce($1, '''')
						AND coalesce(l.strategy_id, 0) = coalesce($2, 0)
						AND l.%I IS NOT NULL',
				   limit_name, limit_name)
		USING account_id, strategy_id;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n > 0;
END
$$;
COMMENT ON FUNCTION pgtrade.remove_risk_limit(text, text, bigint) IS
	'Removes one limit of a scope (its column becomes NULL); returns false, '
	'and changes and records nothing, when the scope had no such limit.  '
	'Without any max_position the gate refuses every order of the account.';

/*
 * sec_type_refusal is why an instrument's live orders may not go out, or
 * NULL: pgtrade-listener sends every order as a stock's and looks
 * contracts up as stocks, so an order for any other kind of instrument
 * would reach the broker as something else.  The gate and the claim
 * say it alike.
 */
CREATE FUNCTION pgtrade.sec_type_refusal(p_instrument bigint,
	p_sec_type text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CASE WHEN p_sec_type IS DISTINCT FROM 'STK'
		THEN pg_catalog.format('instrument %s has sec_type %s: '
			'pgtrade-listener sends stock (STK) orders only', p_instrument,
			coalesce(p_sec_type, 'NULL')) END;
$$;
REVOKE ALL ON FUNCTION pgtrade.sec_type_refusal(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.sec_type_refusal(bigint, text) IS
	'Internal: why orders of an instrument that is not a stock may not be '
	'sent, or NULL for a stock.';

/* the gate refuses live orders for instruments other than stocks */
CREATE OR REPLACE FUNCTION pgtrade.risk_check(p_order pgtrade.orders, p_halted boolean,
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
	v_grp numeric;
	v_par numeric;
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
	v_sec_type text;
BEGIN
	v_checks := v_checks || jsonb_build_object('check', 'account_halted',
		'passed', NOT p_halted, 'detail', p_halt_reason);
	IF p_halted THEN
		v_reason := format('account %s is halted: %s', p_order.account_id,
						   coalesce(p_halt_reason, 'no reason given'));
	END IF;
	/* only stocks go out (sec_type_refusal); a simulation sends nothing */
	IF p_state IS NULL THEN
		SELECT i.sec_type INTO v_sec_type FROM pgtrade.instrument i
		WHERE i.instrument_id = p_order.instrument_id;
		v_checks := v_checks || jsonb_build_object('check', 'sec_type',
			'passed', v_sec_type IS NOT DISTINCT FROM 'STK',
			'detail', v_sec_type);
		v_reason := coalesce(v_reason, pgtrade.sec_type_refusal(
			p_order.instrument_id, v_sec_type));
	END IF;

	IF p_state IS NULL THEN
		v_pos := pgtrade.position_quantity(p_order.account_id,
			p_order.instrument_id);
		SELECT q.buys - x.buys AS buys, q.sells - x.sells AS sells
		INTO v_open
		FROM pgtrade.open_side_quantities(p_order.account_id,
				p_order.instrument_id, p_order.order_id) q,
			pgtrade.bracket_exit_offsets(p_order.account_id,
				p_order.instrument_id, p_order.order_id) x;
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
		v_grp := pgtrade.oca_open_quantity(p_order.oca_group, p_order.side,
			p_order.order_id);
		/*
		 * A bracket's exits work only once their entry has filled (a
		 * cancelled entry takes them with it): what the entry has yet to
		 * fill they only close again, as open_side_quantities counts
		 */
		v_par := CASE WHEN p_state IS NULL
						   AND p_order.parent_order_id IS NOT NULL THEN
			coalesce((SELECT greatest(o.quantity - o.filled_quantity, 0)
					  FROM pgtrade.orders o
					  WHERE o.order_id = p_order.parent_order_id
						  AND o.side <> p_order.side
						  AND pgtrade.order_is_open(o.status)), 0)
			ELSE 0 END;
		v_add := greatest(greatest(v_add, v_grp) - v_par, 0)
			- greatest(v_grp - v_par, 0);
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
					'projected position %s (position %s, open buys %s, '
					'open sells %s, this %s %s) exceeds the limit of %s',
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
			'no max_position limit covers account %s; set one with '
			'pgtrade.set_risk_limit()',
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

/* an order for an instrument that is not a stock is not sent */
CREATE OR REPLACE FUNCTION pgtrade.claim_orders(listener_id bigint, accounts text[],
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
	v_not_stocks jsonb;	/* instrument id -> sec_type, of those not STK */
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
	/* read once a claim, not once an order: there are seldom any */
	SELECT jsonb_object_agg(i.instrument_id, i.sec_type) INTO v_not_stocks
	FROM pgtrade.instrument i WHERE i.sec_type <> 'STK';
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
			/* an order not sent is a line of the listener's log too */
			IF v_o.valid_until < clock_timestamp() THEN
				PERFORM pgtrade.order_move(v_o.order_id, 'expired', v_source,
					format('not sent: valid until %s', v_o.valid_until));
				RAISE WARNING 'order % (%) expired, not sent: valid until %',
					v_o.order_id, v_o.client_order_id, v_o.valid_until;
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
			/*
			 * The gate refuses orders for instruments that are not
			 * stocks; one placed before that rule, or before its
			 * instrument's type was changed, is not sent either.
			 */
			IF v_why IS NULL THEN
				v_why := pgtrade.sec_type_refusal(v_o.instrument_id,
					coalesce(v_not_stocks ->> v_o.instrument_id::text, 'STK'));
			END IF;
			IF v_why IS NOT NULL THEN
				PERFORM pgtrade.order_move(v_o.order_id, 'cancelled', v_source,
					'not sent: ' || v_why);
				RAISE WARNING 'order % (%) cancelled, not sent: %',
					v_o.order_id, v_o.client_order_id, v_why;
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
/* CREATE OR REPLACE reset its settings (94_listener_plans.sql) */
ALTER FUNCTION pgtrade.claim_orders(bigint, text[], integer)
	SET enable_seqscan = off SET jit = off SET enable_sort = off;

/*
 * 0.1.0 took any sec_type and sent every order as a stock's; 0.2.0
 * refuses live orders for instruments that are not stocks, and does not
 * send those already pending.  Say which instruments that touches.
 */
DO $$
DECLARE
	v_list text;
BEGIN
	SELECT string_agg(pg_catalog.format('%s (%s)', i.symbol, i.sec_type),
					  ', ' ORDER BY i.symbol)
	INTO v_list
	FROM pgtrade.instrument i WHERE i.sec_type <> 'STK';
	IF v_list IS NOT NULL THEN
		RAISE WARNING 'pgtrade now refuses live orders for instruments that '
			'are not stocks (sec_type STK), and cancels their pending ones at '
			'the claim: %', v_list
			USING HINT = 'An instrument that is a stock but was registered '
				'with another sec_type (such as stk) can be corrected by '
				'its owner: UPDATE pgtrade.instrument SET sec_type = ''STK'' '
				'WHERE ...';
	END IF;
END
$$;

/*
 * resolve_vanished ends an order the broker no longer shows: one it
 * ended while nothing was listening (a day order that expired during an
 * outage, which a restarted gateway leaves out of its live orders), or
 * one it lost.  The listener cannot tell such an order from one it has
 * yet to see, so it keeps it working (and a cancel of it is answered
 * that the order does not exist, again and again); an operator who has
 * checked the broker ends it here.
 */
CREATE FUNCTION pgtrade.resolve_vanished(order_id bigint, note text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(resolve_vanished.order_id);
BEGIN
	PERFORM pgtrade.require_account(v_o.account_id);
	IF v_o.status = 'unknown' THEN
		RAISE EXCEPTION 'order % is unknown, not working or cancel_requested',
			v_o.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'An unknown order is settled with resolve_unknown.';
	ELSIF v_o.status NOT IN ('working', 'cancel_requested') THEN
		RAISE EXCEPTION 'order % is %, not working or cancel_requested',
			v_o.order_id, v_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF coalesce(btrim(note), '') = '' THEN
		RAISE EXCEPTION 'ending a vanished order needs a note saying what '
			'the broker shows'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, 'cancelled',
		'operator ' || pgtrade.caller_role(), 'vanished from the broker: ' || note);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.resolve_vanished(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.resolve_vanished(bigint, text) IS
	'Operator: cancels a working or cancel_requested order the broker no '
	'longer shows (ended while nothing listened, or lost), with a note; '
	'fills it had still come from the listener.';
GRANT EXECUTE ON FUNCTION pgtrade.resolve_vanished(bigint, text)
	TO pgtrade_admin;

/* set_risk_limit that changes nothing writes nothing */
CREATE OR REPLACE FUNCTION pgtrade.set_risk_limit(account_id text DEFAULT NULL,
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
	account_id := pgtrade.limit_scope_account(account_id, strategy_id);
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
		updated_by = pgtrade.caller_role(), updated_at = now()
	WHERE coalesce(l.account_id, '') = coalesce(set_risk_limit.account_id, '')
		AND coalesce(l.strategy_id, 0) = coalesce(set_risk_limit.strategy_id, 0)
		/* a call that changes nothing writes nothing, nor its history */
		AND (l.max_position, l.max_order_quantity, l.max_order_notional,
			 l.max_position_notional, l.max_open_orders, l.max_orders_per_day,
			 l.max_daily_loss, l.price_collar_pct, l.allow_short, l.note)
			IS DISTINCT FROM
			(coalesce(set_risk_limit.max_position, l.max_position),
			 coalesce(set_risk_limit.max_order_quantity, l.max_order_quantity),
			 coalesce(set_risk_limit.max_order_notional, l.max_order_notional),
			 coalesce(set_risk_limit.max_position_notional,
					  l.max_position_notional),
			 coalesce(set_risk_limit.max_open_orders, l.max_open_orders),
			 coalesce(set_risk_limit.max_orders_per_day, l.max_orders_per_day),
			 coalesce(set_risk_limit.max_daily_loss, l.max_daily_loss),
			 coalesce(set_risk_limit.price_collar_pct, l.price_collar_pct),
			 coalesce(set_risk_limit.allow_short, l.allow_short),
			 coalesce(set_risk_limit.note, l.note))
	RETURNING l.limit_id INTO v_id;
	IF NOT FOUND THEN
		SELECT l.limit_id INTO v_id FROM pgtrade.risk_limit l
		WHERE coalesce(l.account_id, '') = coalesce(set_risk_limit.account_id, '')
			AND coalesce(l.strategy_id, 0) = coalesce(set_risk_limit.strategy_id, 0);
	END IF;
	IF v_id IS NULL THEN
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
			set_risk_limit.allow_short, set_risk_limit.note,
			pgtrade.caller_role())
		RETURNING limit_id INTO v_id;
	END IF;
	RETURN v_id;
END
$$;

/*
 * A strategy's limits and kill switch are those of the strategy on its
 * own account, however the call names it: set_risk_limit(strategy_id =>
 * 7) and set_risk_limit('DU1', 7) address one row, so that the one can
 * be changed or removed through the other.
 */
CREATE FUNCTION pgtrade.limit_scope_account(p_account text, p_strategy bigint)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN p_account IS NOT NULL OR p_strategy IS NULL THEN p_account
		ELSE (SELECT s.account_id FROM pgtrade.strategy s
			  WHERE s.strategy_id = p_strategy) END
$$;
REVOKE ALL ON FUNCTION pgtrade.limit_scope_account(text, bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.limit_scope_account(text, bigint) IS
	'Internal: the account of a risk limit''s scope; a strategy''s own '
	'when only the strategy is named.';


/*
 * A strategy's scope used to be kept as named: set_risk_limit(NULL, 7)
 * and set_risk_limit('DU1', 7) made two rows, and neither call could
 * change or remove the other's.  Rows named by the strategy alone move
 * to its account; where the account's row exists too, both stay (the
 * gate applies both, the stricter wins) and a warning names them.
 */
DO $scope$
DECLARE
	v_r record;
BEGIN
	FOR v_r IN
		SELECT l.limit_id, l.strategy_id, s.account_id,
			   EXISTS (SELECT 1 FROM pgtrade.risk_limit o
					   WHERE o.strategy_id = l.strategy_id
						 AND o.account_id = s.account_id) AS both
		FROM pgtrade.risk_limit l
		JOIN pgtrade.strategy s ON s.strategy_id = l.strategy_id
		WHERE l.account_id IS NULL
	LOOP
		IF v_r.both THEN
			RAISE WARNING 'strategy % has two rows of risk limits (% and the '
				'one of account %): both apply; merge them by hand',
				v_r.strategy_id, v_r.limit_id, v_r.account_id;
		ELSE
			UPDATE pgtrade.risk_limit SET account_id = v_r.account_id
			WHERE limit_id = v_r.limit_id;
		END IF;
	END LOOP;
END
$scope$;

/* a strategy's kill switch is kept on its account */
CREATE OR REPLACE FUNCTION pgtrade.set_trading_enabled(enabled boolean,
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
	set_trading_enabled.account_id := pgtrade.limit_scope_account(
		set_trading_enabled.account_id, set_trading_enabled.strategy_id);
	UPDATE pgtrade.risk_limit l
	SET kill_switch = NOT enabled, note = coalesce(set_trading_enabled.note, l.note),
		updated_by = pgtrade.caller_role(), updated_at = now()
	WHERE coalesce(l.account_id, '') = coalesce(set_trading_enabled.account_id, '')
		AND coalesce(l.strategy_id, 0) = coalesce(set_trading_enabled.strategy_id, 0);
	IF NOT FOUND THEN
		INSERT INTO pgtrade.risk_limit (account_id, strategy_id, kill_switch,
										note, updated_by)
		VALUES (set_trading_enabled.account_id, set_trading_enabled.strategy_id,
				NOT enabled, set_trading_enabled.note, pgtrade.caller_role());
	END IF;
END
$$;

/*
 * A zone changed by hand, by an UPDATE of an instrument or an account
 * (the functions that add them check their own), is held to the same
 * rules: a zone PostgreSQL knows, kept as pg_timezone_names spells it,
 * and for an instrument the clock of the calendar it follows.  A zone
 * PostgreSQL does not know would otherwise surface later, as an error
 * in every run of the instrument's strategies or at the gate of every
 * order of the account.
 */
CREATE FUNCTION pgtrade.zone_before_update()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_zone text;
BEGIN
	NEW.time_zone := pgtrade.time_zone_name(NEW.time_zone);
	IF TG_TABLE_NAME <> 'instrument' THEN
		RETURN NEW;
	END IF;
	/* an account's row has no calendar: read only an instrument's */
	v_zone := (SELECT c.time_zone FROM pgtrade.market_calendar c
			   WHERE c.calendar = NEW.calendar);
	IF NOT pgtrade.same_time_zone(NEW.time_zone, v_zone) THEN
		RAISE EXCEPTION 'instrument "%" in time zone % cannot follow '
			'calendar %, which is in %',
			NEW.symbol, NEW.time_zone, NEW.calendar, v_zone
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.zone_before_update() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.zone_before_update() IS
	'BEFORE UPDATE of an instrument''s or account''s time zone (or an '
	'instrument''s calendar): a zone PostgreSQL knows, in the calendar''s '
	'clock.';
CREATE TRIGGER instrument_zone
	BEFORE UPDATE OF time_zone, calendar ON pgtrade.instrument
	FOR EACH ROW
	WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone
		  OR OLD.calendar IS DISTINCT FROM NEW.calendar)
	EXECUTE FUNCTION pgtrade.zone_before_update();
CREATE TRIGGER account_zone
	BEFORE UPDATE OF time_zone ON pgtrade.account
	FOR EACH ROW
	WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
	EXECUTE FUNCTION pgtrade.zone_before_update();

/*
 * A grace under a minute recorded every run pg_cron started as missed
 * (it starts them a little after the minute); such strategies get the
 * smallest grace now allowed, and a warning names them.
 */
DO $grace$
DECLARE
	v_names text;
BEGIN
	SELECT string_agg(s.name || ' (' || s.grace || ')', ', ' ORDER BY s.name)
	INTO v_names
	FROM pgtrade.strategy s WHERE s.grace < interval '1 minute';
	IF v_names IS NOT NULL THEN
		UPDATE pgtrade.strategy SET grace = interval '1 minute'
		WHERE grace < interval '1 minute';
		RAISE WARNING 'strategies with a grace under a minute now have 1 '
			'minute: %', v_names;
	END IF;
END
$grace$;

/* calendar names are taken in any case */
CREATE OR REPLACE FUNCTION pgtrade.market_check_calendar(p_calendar text)
RETURNS pgtrade.market_calendar
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_c pgtrade.market_calendar;
BEGIN
	/* a name in any case, as zones are taken; its own spelling first */
	SELECT * INTO v_c FROM pgtrade.market_calendar c
	WHERE upper(c.calendar) = upper(p_calendar)
	ORDER BY c.calendar = p_calendar DESC, c.calendar
	LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'market calendar "%" does not exist', p_calendar
			USING ERRCODE = 'undefined_object',
				  HINT = 'See SELECT calendar FROM pgtrade.market_calendar.';
	END IF;
	RETURN v_c;
END
$$;
COMMENT ON FUNCTION pgtrade.market_check_calendar(text) IS
	'Internal: the calendar of that name, given in any case, or an error.';

/*
 * A bar size as messages name it: "1 day", "5 minute", "1 hour" (an
 * interval's own text says 00:05:00).
 */
CREATE FUNCTION pgtrade.bar_size_label(bar_size interval)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN bar_size >= interval '1 day' THEN bar_size::text
		WHEN extract(epoch FROM bar_size)::numeric % 3600 = 0
			THEN (extract(epoch FROM bar_size)::numeric / 3600)::int || ' hour'
		WHEN extract(epoch FROM bar_size)::numeric % 60 = 0
			THEN (extract(epoch FROM bar_size)::numeric / 60)::int || ' minute'
		ELSE bar_size::text END
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_size_label(interval) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_size_label(interval) IS
	'Internal: a bar size as messages name it (5 minute, 1 hour, 1 day).';

/*
 * A bar named in its exchange's clock, for messages, whatever the
 * session's zone (pg_cron's is UTC): a daily bar by its session date, an
 * intraday one by its local start and the zone.
 */
CREATE FUNCTION pgtrade.bar_label(ts timestamptz, bar_size interval,
	time_zone text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN bar_size >= interval '1 day'
		THEN 'is of session ' || to_char(ts AT TIME ZONE time_zone, 'YYYY-MM-DD')
		ELSE 'started ' || to_char(ts AT TIME ZONE time_zone, 'YYYY-MM-DD HH24:MI ')
			 || time_zone END
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_label(timestamptz, interval, text)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_label(timestamptz, interval, text) IS
	'Internal: a bar as messages name it, in its exchange''s clock.';

/* a stale bar is named in the exchange's clock */
CREATE OR REPLACE FUNCTION pgtrade.run_steps(p_run bigint, p_s pgtrade.strategy,
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
		SET error = CASE WHEN v_n = 0 THEN format('stale bars: %s has no '
				'%s bar that ended by %s; a run needs one that ended within %s',
				v_inst.symbol, pgtrade.bar_size_label(p_s.bar_size), p_as_of,
				v_age)
			ELSE format('stale bars: the last %s bar of %s %s; a run '
				'needs one that ended within %s',
				pgtrade.bar_size_label(p_s.bar_size), v_inst.symbol,
				pgtrade.bar_label(v_ts[v_n], p_s.bar_size, v_inst.time_zone),
				v_age) END
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

/*
 * What the broker reports must be finite: NaN compares above every
 * number in numeric, so a NaN fill quantity passed "> 0", made the
 * position NaN and let the gate's position limit pass every order.
 * Rows already stored are checked too; where one is not finite the
 * constraint stays NOT VALID (new rows are checked all the same) and a
 * warning names it.
 */
ALTER TABLE pgtrade.fill DROP CONSTRAINT fill_quantity_check,
	DROP CONSTRAINT fill_price_check,
	ADD CONSTRAINT fill_quantity_check
		CHECK (quantity > 0 AND quantity < 'Infinity') NOT VALID,
	ADD CONSTRAINT fill_price_check
		CHECK (price > 0 AND price < 'Infinity') NOT VALID;
ALTER TABLE pgtrade.commission ADD CONSTRAINT commission_amount_check
	CHECK (amount > '-Infinity' AND amount < 'Infinity') NOT VALID;
ALTER TABLE pgtrade.orders ADD CONSTRAINT orders_broker_filled_quantity_check
	CHECK (broker_filled_quantity >= 0
		   AND broker_filled_quantity < 'Infinity') NOT VALID;
ALTER TABLE pgtrade.position_drift
	ADD CONSTRAINT position_drift_broker_quantity_check
	CHECK (broker_quantity > '-Infinity' AND broker_quantity < 'Infinity')
	NOT VALID;
DO $finite$
DECLARE
	v_c record;
BEGIN
	FOR v_c IN
		SELECT * FROM (VALUES ('fill', 'fill_quantity_check'),
			('fill', 'fill_price_check'),
			('commission', 'commission_amount_check'),
			('orders', 'orders_broker_filled_quantity_check'),
			('position_drift', 'position_drift_broker_quantity_check')) t(tab, con)
	LOOP
		BEGIN
			EXECUTE pg_catalog.format(
				'ALTER TABLE pgtrade.%I VALIDATE CONSTRAINT %I', v_c.tab, v_c.con);
		EXCEPTION WHEN check_violation THEN
			RAISE WARNING 'pgtrade.% holds values that are not finite: % is '
				'left NOT VALID (new rows are checked)', v_c.tab, v_c.con
				USING HINT = 'Correct those rows, then ALTER TABLE ... '
							 'VALIDATE CONSTRAINT.';
		END;
	END LOOP;
END
$finite$;

/*
 * A trader's direct INSERT into orders names only what is asked for: an
 * explicit order_id below the sequence took an id never drawn and put
 * the order ahead of older ones in the claim.
 */
REVOKE INSERT ON pgtrade.orders FROM pgtrade_trader;
GRANT INSERT (account_id, instrument_id, side, quantity, order_type,
	limit_price, stop_price, tif, outside_rth, valid_until, strategy_id,
	decision_id, parent_order_id, oca_group, bracket_role)
	ON pgtrade.orders TO pgtrade_trader;

/* a limit's history names who asked, not pgtrade's owner */
CREATE OR REPLACE FUNCTION pgtrade.risk_limit_audit()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	/*
	 * who asked, not current_user: inside the SECURITY DEFINER functions
	 * that change limits that is always pgtrade's owner
	 */
	INSERT INTO pgtrade.risk_limit_history (limit_id, operation,
		old_row, new_row, changed_by)
	VALUES (coalesce(NEW.limit_id, OLD.limit_id), TG_OP,
			CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
			CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
			pgtrade.caller_role());
	RETURN NULL;
END
$$;

/* a kind's bars needed are at most 100,000 */
CREATE OR REPLACE FUNCTION pgtrade.strategy_kind_validate(p_kind text, p_params jsonb)
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
	/*
	 * A run reads twice the bars needed, at most 200,000 as the
	 * indicators' longest period is 100,000: more would fail every run
	 * later (twice it overflows an integer), not here.
	 */
	IF v_n IS NULL OR v_n < 1 OR v_n > 100000 THEN
		RAISE EXCEPTION 'validator of strategy kind "%" returned % bars needed',
			p_kind, coalesce(v_n::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'A kind needs from 1 to 100000 bars.';
	END IF;
	RETURN v_n;
END
$$;

/* a target that is not a number is refused, not read as none */
CREATE OR REPLACE FUNCTION pgtrade.kind_target(p_kind text, p_out jsonb)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_target numeric;
BEGIN
	IF jsonb_typeof(p_out -> 'target') = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(p_out -> 'target') <> 'number' THEN
		RAISE EXCEPTION 'evaluator of strategy kind "%" returned target %, '
			'a %, not -1, 0, 1 or null', p_kind, p_out -> 'target',
			jsonb_typeof(p_out -> 'target')
			USING ERRCODE = 'data_exception';
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

/* the bulk path leaves a target that is not a number to the run that refuses it */
CREATE OR REPLACE FUNCTION pgtrade.run_probe(p_ids bigint[], p_zone text,
	p_now timestamptz, p_markets jsonb)
RETURNS SETOF pgtrade.run_probe
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET join_collapse_limit = 1
SET from_collapse_limit = 1
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
					ELSE jsonb_typeof(e.output -> 'target') = 'null' END,
				false) AS valid,
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

/* a decision's target is finite and a whole number of lots */
CREATE OR REPLACE FUNCTION pgtrade.submit_decision(strategy text,
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
	/* NaN compares above every number: "< Infinity" refuses it too */
	IF NOT (target_position > '-Infinity' AND target_position < 'Infinity') THEN
		RAISE EXCEPTION 'target position must be a finite number, not %',
			target_position
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF target_position % v_inst.lot_size <> 0 THEN
		RAISE EXCEPTION 'target position % is not a whole number of lots of %',
			target_position, v_inst.lot_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
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
		jsonb_build_object('submitted_by', pgtrade.caller_role(), 'target_position',
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
		'external', format('decision by %s: %s', pgtrade.caller_role(), explanation),
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

/* a broker position must be finite */
CREATE OR REPLACE FUNCTION pgtrade.record_positions(listener_id bigint,
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
	v_bad jsonb;
	v_recent timestamptz := clock_timestamp() - interval '5 minutes';
BEGIN
	IF jsonb_typeof(positions) IS DISTINCT FROM 'array' THEN
		RAISE EXCEPTION 'broker positions must be a JSON array'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* NaN compares above every number: a quantity must be finite */
	SELECT e INTO v_bad FROM jsonb_array_elements(positions) e
	WHERE NOT ((e ->> 'position')::numeric > '-Infinity'
			   AND (e ->> 'position')::numeric < 'Infinity')
	LIMIT 1;
	IF v_bad IS NOT NULL THEN
		RAISE EXCEPTION 'broker position % of conid % is not a finite number',
			v_bad ->> 'position', v_bad ->> 'conid'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO pgtrade.account (account_id) VALUES (v_acct)
	ON CONFLICT DO NOTHING;
	SELECT * INTO v_prev FROM pgtrade.position_check c
	WHERE c.account_id = v_acct FOR UPDATE;
	/*
	 * An order resting unchanged at the broker (a GTC limit, a bracket's
	 * exits) does not postpone: a fill of it at the broker that pgtrade
	 * has not seen yet shows as a difference only once, as its recording
	 * breaks the chain of snapshots.  An order that ended with fills the
	 * broker reported but the trades have not shown yet postpones for
	 * five minutes after its last change; fills later than that are
	 * missing, and the difference they leave is drift.
	 */
	IF EXISTS (SELECT 1 FROM pgtrade.orders o
			   WHERE o.account_id = v_acct
				 AND (o.status IN ('submitting', 'cancel_requested', 'unknown')
					  OR (o.status = 'working'
						  AND o.broker_filled_quantity
							  > o.filled_quantity)
					  OR (o.status = 'filled'
						  AND o.filled_quantity < o.quantity
						  AND o.updated_at > v_recent)
					  OR (o.status IN ('cancelled', 'rejected')
						  AND o.broker_filled_quantity > o.filled_quantity
						  AND o.updated_at > v_recent)))
	THEN
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
			UPDATE pgtrade.position_drift d SET last_seen = clock_timestamp()
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
				broker_quantity, first_seen, last_seen, listener_id)
			VALUES (v_acct, v_d.instrument_id, v_d.conid, v_d.symbol,
				v_d.pgtrade_quantity, v_d.broker_quantity,
				v_prev.suspected_since, clock_timestamp(), v_lid)
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

/* an order traded after it ended, or beyond its quantity, is said out loud */
CREATE OR REPLACE FUNCTION pgtrade.fill_after_insert()
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
	/*
	 * The fill counts either way (it happened); an alert when the broker
	 * and pgtrade disagree on the order: one that traded after it ended
	 * otherwise, or beyond its quantity
	 */
	IF v_order.status IN ('rejected', 'cancelled', 'expired', 'refused') THEN
		PERFORM pgtrade.raise_alert('order_mismatch', v_order.account_id,
			v_order.strategy_id, v_order.order_id, v_order.status,
			format('order %s (%s) is %s, yet execution %s fills %s of it: '
				   'the broker traded it; check the order there (the fill '
				   'counts in the position)', NEW.order_id,
				   v_order.client_order_id, v_order.status, NEW.execution_id,
				   NEW.quantity));
	ELSIF v_filled > v_order.quantity THEN
		PERFORM pgtrade.raise_alert('order_mismatch', v_order.account_id,
			v_order.strategy_id, v_order.order_id, v_order.status,
			format('order %s (%s) is filled %s of its %s: the broker''s order '
				   'is larger than pgtrade''s, a modification it applied that '
				   'pgtrade did not record perhaps; check the order there '
				   '(the fills count in the position)', NEW.order_id,
				   v_order.client_order_id, v_filled, v_order.quantity));
	END IF;
	IF v_order.parent_order_id IS NOT NULL THEN
		PERFORM pgtrade.bracket_check_exits(v_order.parent_order_id);
	END IF;
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

/* a cancel sent three times without an outcome is said out loud */
CREATE OR REPLACE FUNCTION pgtrade.record_cancel_sent(order_id bigint,
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
	/*
	 * A cancel sent again and again without an outcome: the broker may no
	 * longer have the order.  Said once, at the third sending.
	 */
	IF (SELECT count(*) FROM pgtrade.order_event e
		WHERE e.order_id = v_o.order_id AND e.source = 'listener'
			AND e.detail LIKE 'cancel sent to the broker%') = 3 THEN
		RAISE WARNING 'order % (%): its cancel was sent 3 times and the '
			'broker has reported no outcome', v_o.order_id,
			v_o.client_order_id
			USING HINT = pg_catalog.format('If the broker no longer has the '
				'order, cancel it here with pgtrade.resolve_vanished(%s, '
				'note).', v_o.order_id);
	END IF;
END
$$;
ALTER FUNCTION pgtrade.record_cancel_sent(bigint, jsonb)
	SET enable_seqscan = off SET jit = off;

/* records name the role that asked (caller_role), as the gate's asked_by does */
CREATE OR REPLACE FUNCTION pgtrade.grant_account(role_name name, account_id text)
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
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	INSERT INTO pgtrade.account_grant AS g (role_name, account_id, granted_by)
	VALUES (role_name, account_id, pgtrade.caller_role())
	ON CONFLICT ON CONSTRAINT account_grant_pkey DO NOTHING;
END
$$;

/* records name the role that asked (caller_role), as the gate's asked_by does */
CREATE OR REPLACE FUNCTION pgtrade.cancel_order(order_id bigint,
	reason text DEFAULT 'cancelled by user')
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_status text;
	v_account text;
	v_entry bigint;
BEGIN
	SELECT o.status, o.account_id INTO v_status, v_account FROM pgtrade.orders o
	WHERE o.order_id = cancel_order.order_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', cancel_order.order_id
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_account);
	/* no entry without both protections */
	SELECT p.order_id INTO v_entry FROM pgtrade.orders c
	JOIN pgtrade.orders p ON p.order_id = c.parent_order_id
	WHERE c.order_id = cancel_order.order_id
		AND pgtrade.order_is_open(p.status);
	IF FOUND AND pgtrade.order_is_open(v_status) THEN
		RAISE EXCEPTION 'cannot cancel order % alone: it is an exit of bracket '
			'entry %, which is still open',
			cancel_order.order_id, v_entry
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = pg_catalog.format('Cancel the entry (order %s): its '
					  || 'exits go with it.', v_entry);
	END IF;
	IF v_status = 'pending' THEN
		PERFORM pgtrade.order_move(cancel_order.order_id, 'cancelled',
			'user ' || pgtrade.caller_role(), reason);
		RETURN 'cancelled';
	ELSIF v_status = 'working' THEN
		PERFORM pgtrade.order_move(cancel_order.order_id, 'cancel_requested',
			'user ' || pgtrade.caller_role(), reason);
		PERFORM pg_notify('pgtrade_order', 'cancel ' || cancel_order.order_id);
		RETURN 'cancel_requested';
	ELSIF v_status = 'submitting' THEN
		/*
		 * The broker's order id is not known yet: the cancel waits for the
		 * acknowledgement (orders_cancel_asked), and is not lost if the
		 * order is found by its cOID instead.
		 */
		UPDATE pgtrade.orders o
		SET cancel_asked = coalesce(o.cancel_asked, pg_catalog.format(
			'user %s: %s', pgtrade.caller_role(), reason))
		WHERE o.order_id = cancel_order.order_id;
		PERFORM pgtrade.order_note(cancel_order.order_id, v_status,
			'user ' || pgtrade.caller_role(), pg_catalog.format(
				'cancel asked while the order is being submitted: sent once '
				'the broker acknowledges it (%s)', reason));
		RETURN v_status;
	ELSIF v_status = 'cancel_requested' THEN
		RETURN v_status;
	END IF;
	RAISE EXCEPTION 'cannot cancel order %: it is %', cancel_order.order_id,
		v_status
		USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;

/* records name the role that asked (caller_role), as the gate's asked_by does */
CREATE OR REPLACE FUNCTION pgtrade.modify_order(order_id bigint,
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
	/*
	 * A bracket's exits close what its entry fills: a smaller entry would
	 * leave them closing more than it opened, a larger one part of it
	 * unprotected, and a larger exit would close more than was opened.
	 */
	IF v_t.quantity <> v_o.quantity AND v_o.bracket_role = 'entry'
		AND EXISTS (SELECT 1 FROM pgtrade.orders c
					WHERE c.parent_order_id = v_o.order_id
						AND pgtrade.order_is_open(c.status)) THEN
		RAISE EXCEPTION 'cannot change the quantity of order %: it is the entry '
			'of a bracket',
			v_o.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Its exits close what it fills; cancel the entry, '
					  || 'which cancels them, and place a new bracket.';
	END IF;
	IF v_t.quantity > v_o.quantity AND v_o.parent_order_id IS NOT NULL THEN
		RAISE EXCEPTION 'cannot raise the quantity of order %: it is an exit of '
			'bracket entry %',
			v_o.order_id, v_o.parent_order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'An exit closes only what its entry opened.';
	END IF;
	IF v_t.quantity = v_o.quantity
		AND v_t.limit_price IS NOT DISTINCT FROM v_o.limit_price
		AND v_t.stop_price IS NOT DISTINCT FROM v_o.stop_price THEN
		RAISE EXCEPTION 'cannot modify order %: the new terms equal the current ones',
			v_o.order_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN pgtrade.modify_request(v_o, v_t.quantity, v_t.limit_price,
		v_t.stop_price, 'user ' || pgtrade.caller_role());
END
$$;

/* records name the role that asked (caller_role), as the gate's asked_by does */
CREATE OR REPLACE FUNCTION pgtrade.resolve_unknown(order_id bigint, status text,
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
		RAISE EXCEPTION 'an unknown order resolves to working, filled, '
			'cancelled or rejected, not "%"',
			status
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF coalesce(btrim(note), '') = '' THEN
		RAISE EXCEPTION 'resolving an unknown order needs a note saying what '
			'the broker shows'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, status,
		'operator ' || pgtrade.caller_role(), note);
END
$$;

/* records name the role that asked (caller_role), as the gate's asked_by does */
CREATE OR REPLACE FUNCTION pgtrade.unhalt_account(account_id text, note text)
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
	IF EXISTS (SELECT 1 FROM pgtrade.account a
			   WHERE a.account_id = unhalt_account.account_id
				 AND NOT a.halted) THEN
		RAISE NOTICE 'account % is not halted: nothing to lift', account_id;
		RETURN;
	END IF;
	UPDATE pgtrade.account a SET halted = false,
		halt_reason = pg_catalog.format('halt lifted by %s: %s', pgtrade.caller_role(),
										 note)
	WHERE a.account_id = unhalt_account.account_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'account "%" does not exist', account_id
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;

/* records name the role that asked (caller_role), as the gate's asked_by does */
CREATE OR REPLACE FUNCTION pgtrade.acknowledge_drift(drift_id bigint, note text)
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
	SET status = 'acknowledged', acknowledged_by = pgtrade.caller_role(),
		acknowledged_at = now(), note = acknowledge_drift.note
	WHERE d.drift_id = v_d.drift_id;
	/* the account's pending orders may go now */
	PERFORM pg_notify('pgtrade_order', '');
END
$$;

/* records name the role that asked (caller_role), as the gate's asked_by does */
CREATE OR REPLACE FUNCTION pgtrade.resolve_drift(drift_id bigint, note text)
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
				  HINT = 'Register it with pgtrade.add_instrument() first, or '
						 'acknowledge the drift.';
	END IF;
	/*
	 * The difference holds as of the comparison that last saw it: a fill
	 * or adjustment of the contract since (a late fill, say) may have
	 * closed it, and adding it then would open a difference of its own.
	 */
	IF EXISTS (SELECT 1 FROM pgtrade.fill f
			   WHERE f.account_id = v_d.account_id
				 AND f.instrument_id = v_instrument
				 AND f.recorded_at > v_d.last_seen)
		OR EXISTS (SELECT 1 FROM pgtrade.position_adjustment a
				   WHERE a.account_id = v_d.account_id
					 AND a.instrument_id = v_instrument
					 AND a.created_at > v_d.last_seen) THEN
		RAISE EXCEPTION 'position drift % is out of date: pgtrade''s position in % '
			'changed since the broker''s was last compared',
			v_d.drift_id, coalesce(v_d.symbol, v_d.conid::text)
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('pgtrade holds %s now; the drift was '
					  || 'last seen at %s.', pgtrade.position_quantity(
						  v_d.account_id, v_instrument), v_d.last_seen),
				  HINT = 'Wait for the listener''s next comparison: it closes '
					  || 'the drift if the positions agree now, or sees the '
					  || 'difference again.';
	END IF;
	INSERT INTO pgtrade.position_adjustment (account_id, instrument_id,
		quantity, drift_id, reason, created_by)
	VALUES (v_d.account_id, v_instrument, v_d.difference, v_d.drift_id,
		resolve_drift.note, pgtrade.caller_role())
	RETURNING adjustment_id INTO v_id;
	UPDATE pgtrade.position_drift d
	SET status = 'resolved', resolution = 'adjusted',
		resolved_by = pgtrade.caller_role(), resolved_at = now(),
		note = resolve_drift.note
	WHERE d.drift_id = v_d.drift_id;
	PERFORM pg_notify('pgtrade_order', '');
	RETURN v_id;
END
$$;

/*
 * the paper broker cancels a bracket's other exit, and elects a stop by
 * no price traded before the order
 */
CREATE OR REPLACE FUNCTION pgtrade.paper_step(order_id bigint, slippage_bps numeric,
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
	v_test pgtrade.bar;	/* the bar as it may elect a stop */
	v_ended timestamptz;
	v_age interval;
	v_elected boolean;
	v_payload jsonb;
	v_sib pgtrade.orders;
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
	/*
	 * A bar that ended before the order was placed elects a stop by its
	 * close alone, the price when the order came: not by a high or low
	 * traded before the order existed.
	 */
	v_test := v_bar;
	IF v_ended <= v_o.created_at THEN
		v_test.high := v_bar.close;
		v_test.low := v_bar.close;
	END IF;
	price := pgtrade.paper_fill_price(v_o, v_test, v_elected, slippage_bps,
									  v_i.tick_size);
	IF NOT v_elected AND v_o.order_type IN ('stop', 'stop_limit')
		AND (price IS NOT NULL
			 OR (v_o.side = 'buy' AND v_test.high >= v_o.stop_price)
			 OR (v_o.side = 'sell' AND v_test.low <= v_o.stop_price)) THEN
		PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'paper',
			pg_catalog.format('paper: stop elected by the %s bar of %s (high '
				'%s, low %s)', pgtrade.bar_size_label(v_bar.bar_size),
				v_bar.ts, v_test.high, v_test.low),
			v_payload);
	END IF;
	IF price IS NULL THEN
		IF v_o.tif = 'ioc' THEN
			RETURN QUERY SELECT 'cancelled', pgtrade.paper_end(v_o,
				'IOC order not filled on the last bar', v_payload),
				NULL::numeric, v_bar.ts, 'IOC order not filled on the last bar';
		ELSE
			RETURN QUERY SELECT 'working', v_o.status, NULL::numeric,
				v_bar.ts, pg_catalog.format(
					'not fillable on the bar of %s (close %s)', v_bar.ts,
					v_bar.close);
		END IF;
		RETURN;
	END IF;

	PERFORM pgtrade.record_fill('PAPER-' || v_o.client_order_id || '-1',
		v_o.client_order_id, v_o.account_id, v_i.conid, v_o.side,
		v_o.quantity - v_o.filled_quantity, price, now(), NULL,
		v_payload || jsonb_build_object('symbol', v_i.symbol));
	/*
	 * A bracket's exits are one group at the broker: a fill of one
	 * cancels the other.  The paper broker does the same.
	 */
	IF v_o.oca_group IS NOT NULL THEN
		FOR v_sib IN
			SELECT o.* FROM pgtrade.orders o
			WHERE o.oca_group = v_o.oca_group AND o.order_id <> v_o.order_id
				AND o.status IN ('working', 'cancel_requested')
			ORDER BY o.order_id
			FOR UPDATE
		LOOP
			PERFORM pgtrade.paper_end(v_sib, pg_catalog.format(
				'one-cancels-other: order %s of its group filled',
				v_o.order_id), v_payload);
		END LOOP;
	END IF;
	RETURN QUERY SELECT 'filled',
		(SELECT o.status FROM pgtrade.orders o WHERE o.order_id = v_o.order_id),
		price, v_bar.ts,
		pg_catalog.format('%s %s at %s from the close %s of the %s bar of %s',
			v_o.side, v_o.quantity - v_o.filled_quantity, price, v_bar.close,
			pgtrade.bar_size_label(v_bar.bar_size), v_bar.ts);
END
$$;

/*
 * The scheduler's heartbeat: when run_due last finished a call.  A
 * pg_cron that stopped scheduling (its scheduler shuts down when its
 * database is dropped and restored, say) leaves strategies unrun with no
 * error anywhere; pgtrade.monitor shows the heartbeat's age, to alert on.
 */
CREATE TABLE pgtrade.scheduler_tick (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	ticked_at	timestamptz NOT NULL
);
COMMENT ON TABLE pgtrade.scheduler_tick IS
	'One row: when run_due last finished a call (the scheduler''s '
	'heartbeat).';
SELECT pg_catalog.pg_extension_config_dump('pgtrade.scheduler_tick', '');

CREATE FUNCTION pgtrade.scheduler_ticked(p_at timestamptz)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO pgtrade.scheduler_tick AS t (singleton, ticked_at)
	VALUES (true, p_at)
	ON CONFLICT (singleton) DO UPDATE
		SET ticked_at = greatest(t.ticked_at, EXCLUDED.ticked_at);
$$;
REVOKE ALL ON FUNCTION pgtrade.scheduler_ticked(timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.scheduler_ticked(timestamptz) IS
	'Internal to run_due: records its heartbeat.';
GRANT SELECT ON pgtrade.scheduler_tick TO pgtrade_trader, pgtrade_admin;
GRANT EXECUTE ON FUNCTION pgtrade.scheduler_ticked(timestamptz)
	TO pgtrade_scheduler;

/* run_due records its heartbeat; monitor shows its age */
CREATE OR REPLACE PROCEDURE pgtrade.run_due(now timestamptz DEFAULT NULL)
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
	/* the heartbeat, in a transaction that need not wait for its WAL */
	PERFORM pgtrade.scheduler_ticked(pg_catalog.clock_timestamp());
	PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
END
$$;

CREATE OR REPLACE VIEW pgtrade.monitor WITH (security_barrier) AS
	SELECT t.accounts, t.halted_accounts, t.kill_switched_accounts,
		   t.pending_orders, t.oldest_pending_order_age_seconds,
		   t.submitting_orders, t.working_orders, t.cancel_requested_orders,
		   t.unknown_orders, t.open_orders, t.oldest_open_order_age_seconds,
		   t.fills_today, t.fills_today_notional, t.rejects_today,
		   t.refusals_today, t.drifts_blocking, t.drifts_unresolved,
		   t.runs_failed_24h, t.runs_missed_24h, t.alerts_unacknowledged,
		   l.listeners_alive, f.listener_heartbeat_age_seconds,
		   f.gateway_state, coalesce(f.gateway_ready, 0) AS gateway_ready,
		   (SELECT extract(epoch FROM now() - st.ticked_at)
			FROM pgtrade.scheduler_tick st) AS scheduler_tick_age_seconds
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
COMMENT ON COLUMN pgtrade.monitor.scheduler_tick_age_seconds IS
	'Seconds since run_due last finished a call (pg_cron calls it every '
	'minute); NULL before the first.';

/* a day without a bar is marked at the last close before it */
CREATE OR REPLACE FUNCTION pgtrade.strategy_performance(strategy text)
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
	v_close double precision;	/* the last close known by the day */
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
			v_pos.realized_pnl, v_f.side, v_f.quantity, v_f.price);
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
	/*
	 * A day without a bar (a fill on a weekend, in paper trading) is
	 * marked at the last close before it, as the positions view marks a
	 * position.
	 */
	SELECT b.close INTO v_close FROM pgtrade.bar b
	WHERE b.instrument_id = v_s.instrument_id
		AND b.bar_size = interval '1 day'
		AND (b.ts AT TIME ZONE v_tz)::date < v_fday[v_order[1]]
	ORDER BY b.ts DESC LIMIT 1;
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
		v_close := coalesce(v_day.close, v_close);
		unrealized_pnl := CASE WHEN net_position = 0 THEN 0
			ELSE net_position * (v_close::numeric - v_fcost[v_k]) END;
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
	'unrealized P&L at the close (the last one before a day without a '
	'bar), equity (realized + unrealized, before commissions) and '
	'drawdown from the running peak.';

/* an order the broker traded otherwise than pgtrade holds it is an alert */
ALTER TABLE pgtrade.alert DROP CONSTRAINT alert_kind_check,
	DROP CONSTRAINT alert_check,
	ADD CONSTRAINT alert_kind_check
		CHECK (kind IN ('stuck_order', 'strategy_disabled', 'calendar_ended',
						'order_mismatch')),
	ADD CONSTRAINT alert_check
		CHECK ((kind IN ('stuck_order', 'order_mismatch'))
			   = (order_id IS NOT NULL AND order_status IS NOT NULL));

-- An order resting unchanged at the broker no longer breaks the chain of position snapshots
CREATE OR REPLACE FUNCTION pgtrade.position_activity_since(p_account text,
	p_since timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM pgtrade.orders o
				   WHERE o.account_id = p_account
					 AND (o.submitted_at > p_since
						  OR o.status IN ('submitting', 'cancel_requested',
										  'unknown')
						  OR (o.status = 'working'
							  AND (o.updated_at > p_since
								   OR o.broker_filled_quantity
									  > o.filled_quantity))))
		OR EXISTS (SELECT 1 FROM pgtrade.fill f
				   WHERE f.account_id = p_account
					 AND f.recorded_at > p_since)
		OR EXISTS (SELECT 1 FROM pgtrade.position_adjustment a
				   WHERE a.account_id = p_account
					 AND a.created_at > p_since);
$$;
COMMENT ON FUNCTION pgtrade.position_activity_since(text, timestamptz) IS
	'Internal: true when an order of the account was claimed, a fill or '
	'adjustment recorded or a working order changed after the time, or '
	'an order is being sent, cancelled or is unknown now.';

-- Shares of unknown cost (opened or flipped by an adjustment) realize
-- nothing and take the next adding fill's price
CREATE OR REPLACE FUNCTION pgtrade.position_step(INOUT quantity numeric,
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
		IF quantity <> 0 AND avg_cost IS NULL THEN
			avg_cost := fill_price;
		ELSE
			avg_cost := (abs(quantity) * coalesce(avg_cost, 0)
						 + fill_quantity * fill_price) / abs(v_new);
		END IF;
	ELSE
		/* reducing, closing or flipping; shares of unknown cost realize 0 */
		realized_pnl := realized_pnl + coalesce(least(abs(quantity),
			fill_quantity) * (fill_price - avg_cost) * sign(quantity), 0);
		IF v_new = 0 THEN
			avg_cost := NULL;
		ELSIF sign(v_new) <> sign(quantity) THEN
			avg_cost := fill_price;
		END IF;
	END IF;
	quantity := v_new;
END
$$;

-- An adjustment that opens or flips a position leaves it without a cost
CREATE OR REPLACE FUNCTION pgtrade.position_adjust(p_account text, p_instrument bigint,
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
		avg_cost = CASE WHEN sign(p.quantity + p_quantity) = sign(p.quantity)
						THEN p.avg_cost END,
		updated_at = now()
	WHERE p.account_id = p_account AND p.instrument_id = p_instrument;
END
$$;
COMMENT ON FUNCTION pgtrade.position_adjust(text, bigint, numeric) IS
	'Internal: adds an adjustment''s quantity to a position, keeping its '
	'average cost unless it opens or flips the position.';

/*
 * Positions with adjustments were computed with the earlier arithmetic:
 * recompute them from their fills and adjustments.  What that changes in
 * realized P&L belongs to no trading day: the day each position last
 * changed and the realized P&L that day began with are kept as they were,
 * moved by the change, so the daily loss limit sees no trade that did
 * not happen.
 */
DO $$
DECLARE
	v_p record;
BEGIN
	FOR v_p IN
		SELECT p.account_id, p.instrument_id, p.realized_pnl, p.day,
			   p.day_start_realized
		FROM pgtrade.position p
		WHERE EXISTS (SELECT 1 FROM pgtrade.position_adjustment a
					  WHERE a.account_id = p.account_id
						AND a.instrument_id = p.instrument_id)
	LOOP
		PERFORM pgtrade.position_rebuild(v_p.account_id, v_p.instrument_id);
		UPDATE pgtrade.position p
		SET day = v_p.day,
			day_start_realized = p.realized_pnl
				- (v_p.realized_pnl - v_p.day_start_realized)
		WHERE p.account_id = v_p.account_id
			AND p.instrument_id = v_p.instrument_id;
	END LOOP;
END
$$;

-- The rows pgtrade ships in its calendars change only by a superuser,
-- and admins no longer set the builtin flag that pg_dump relies on
CREATE FUNCTION pgtrade.calendar_shipped_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r
				 WHERE r.rolname = current_user), false) THEN
		NULL;
	ELSIF TG_TABLE_NAME = 'market_special_day' THEN
		RAISE EXCEPTION '% % is a day pgtrade ships: it cannot be changed or deleted',
			OLD.calendar, pg_catalog.to_jsonb(OLD) ->> 'day'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A new release of pgtrade extends the shipped '
					  || 'calendars; add a calendar of your own for other '
					  || 'sessions.';
	ELSE
		RAISE EXCEPTION 'calendar % is shipped with pgtrade: it cannot be changed '
			'or deleted',
			OLD.calendar
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A new release of pgtrade extends the shipped '
					  || 'calendars; add a calendar of your own for other '
					  || 'sessions.';
	END IF;
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.calendar_shipped_guard() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.calendar_shipped_guard() IS
	'BEFORE UPDATE OR DELETE on market_calendar and market_special_day: '
	'the rows pgtrade ships change only by a superuser.';
CREATE TRIGGER market_calendar_shipped
	BEFORE UPDATE OR DELETE ON pgtrade.market_calendar
	FOR EACH ROW WHEN (OLD.builtin)
	EXECUTE FUNCTION pgtrade.calendar_shipped_guard();
CREATE TRIGGER market_special_day_shipped
	BEFORE UPDATE OR DELETE ON pgtrade.market_special_day
	FOR EACH ROW WHEN (OLD.builtin)
	EXECUTE FUNCTION pgtrade.calendar_shipped_guard();
REVOKE INSERT, UPDATE ON pgtrade.market_calendar, pgtrade.market_special_day
	FROM pgtrade_admin;
GRANT INSERT (calendar, description, time_zone, regular_open, regular_close,
		weekend, first_day, last_day),
	UPDATE (calendar, description, time_zone, regular_open, regular_close,
		weekend, first_day, last_day)
	ON pgtrade.market_calendar TO pgtrade_admin;
GRANT INSERT (calendar, day, opens, closes, note),
	UPDATE (calendar, day, opens, closes, note)
	ON pgtrade.market_special_day TO pgtrade_admin;

-- Traders and admins tune a strategy's orders and timing as well
GRANT UPDATE (order_type, limit_offset, tif, order_valid_for, grace,
	catch_up, max_bar_age) ON pgtrade.strategy
	TO pgtrade_trader, pgtrade_admin;

-- rollup_performance of a strategy the caller may not see is refused
CREATE OR REPLACE FUNCTION pgtrade.rollup_performance(strategy text DEFAULT NULL)
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
	/* a strategy of an account the caller may not see is refused */
	PERFORM pgtrade.require_account(s.account_id) FROM pgtrade.strategy s
	WHERE s.name = rollup_performance.strategy;
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

-- account_day_pnl of an account the caller may not see is refused
CREATE OR REPLACE FUNCTION pgtrade.account_day_pnl(account_id text,
	instrument_id bigint DEFAULT NULL, OUT realized numeric,
	OUT unrealized numeric, OUT unmarked text[])
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_today date := pgtrade.account_today(account_day_pnl.account_id);
	v_p record;
	v_mark numeric;
BEGIN
	/* an account the caller may not see would read as flat: refused */
	PERFORM pgtrade.require_account(account_day_pnl.account_id);
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




-- The stuck-order check expires pending orders past valid_until
CREATE OR REPLACE FUNCTION pgtrade.check_stuck_orders(older_than interval
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
	/* a bracket's children go with their parent, as when claimed */
	FOR v_o IN
		SELECT o.order_id, o.client_order_id, o.valid_until
		FROM pgtrade.orders o
		WHERE o.status = 'pending' AND o.parent_order_id IS NULL
			AND o.valid_until < clock_timestamp()
		ORDER BY o.order_id
		FOR UPDATE SKIP LOCKED
	LOOP
		PERFORM pgtrade.order_move(v_o.order_id, 'expired', 'housekeeping',
			format('not sent: valid until %s, and no listener claimed it',
				   v_o.valid_until));
		RAISE LOG 'pgtrade: order % (%) expired, not sent: valid until %',
			v_o.order_id, v_o.client_order_id, v_o.valid_until;
	END LOOP;
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
	'Expires pending orders past valid_until that no listener claimed; '
	'raises an alert for each order stuck in pending, submitting or '
	'cancel_requested longer than older_than, in unknown at all, or (a '
	'day order) working older_than past its market''s first close after '
	'it was placed; returns how many new alerts it raised.';

COMMENT ON FUNCTION pgtrade.tick_price(text, text, numeric, numeric) IS
	'An order''s limit or stop price rounded to the tick on the less '
	'aggressive side (a buy limit down, a sell limit up, a buy stop up, '
	'a sell stop down), as the risk gate rounds it.';

-- Comment wording
CREATE OR REPLACE FUNCTION pgtrade.backtest_order_check(p_s pgtrade.strategy,
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
	/* the limit price as the gate rounds it: to the less aggressive side */
	IF p_s.order_type = 'limit' THEN
		v_order.limit_price := v_mark + CASE p_side
			WHEN 'buy' THEN p_s.limit_offset ELSE -p_s.limit_offset END;
		/* a sell's limit past the price floored at a tick, as live */
		IF p_side = 'sell' THEN
			v_order.limit_price := greatest(v_order.limit_price, v_tick);
		END IF;
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

-- The gate counts a bracket's exits only beyond what their open entry has
-- yet to fill
/*
 * bracket_exit_offsets returns, per side, what of open_side_quantities
 * the gate does not count against a position: a bracket's exits work
 * only once their entry has filled (a cancelled entry takes them with
 * it), so of what their group may add, the part their open entry has
 * yet to fill only closes the entry again.  Strategies net their
 * decisions against open orders without it.  SQL without a SET clause,
 * so that the gate's query takes it in: it costs the gate an index probe
 * rather than a call.  One row.
 */
CREATE FUNCTION pgtrade.bracket_exit_offsets(p_account text,
	p_instrument bigint, p_except bigint DEFAULT NULL)
RETURNS TABLE (buys numeric, sells numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(sum(least(g.q, g.par)) FILTER (WHERE g.side = 'buy'), 0),
	   coalesce(sum(least(g.q, g.par)) FILTER (WHERE g.side = 'sell'), 0)
FROM (SELECT c.side, max(greatest(greatest(c.quantity,
				 coalesce(m.quantity, 0)) - c.filled_quantity, 0)) AS q,
			 max(greatest(p.quantity - p.filled_quantity, 0)) AS par
	  FROM pgtrade.orders c
	  JOIN pgtrade.orders p ON p.order_id = c.parent_order_id
	  LEFT JOIN pgtrade.order_modification m
		  ON m.order_id = c.order_id AND m.status IN ('requested', 'sent')
	  WHERE c.account_id = p_account AND c.instrument_id = p_instrument
		  AND c.status IN ('pending', 'submitting', 'working',
						   'cancel_requested', 'unknown')
		  AND c.parent_order_id IS NOT NULL
		  AND c.order_id IS DISTINCT FROM p_except
		  AND p.side <> c.side
		  AND p.status IN ('pending', 'submitting', 'working',
						   'cancel_requested', 'unknown')
	  GROUP BY c.side, c.oca_group) g
$$;
REVOKE ALL ON FUNCTION pgtrade.bracket_exit_offsets(text, bigint, bigint)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bracket_exit_offsets(text, bigint, bigint) IS
	'Internal to the risk gate: per side, the part of open bracket exits '
	'that only closes what their open entry has yet to fill.';
GRANT EXECUTE ON FUNCTION pgtrade.bracket_exit_offsets(text, bigint, bigint)
	TO pgtrade_trader, pgtrade_admin;

-- place_order names a NULL argument (22004)
CREATE OR REPLACE FUNCTION pgtrade.place_order(account_id text, symbol text, side text,
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
	v_null text;
BEGIN
	/* what names the order (the rest have their own messages) */
	v_null := CASE WHEN account_id IS NULL THEN 'account_id'
				   WHEN symbol IS NULL THEN 'symbol'
				   WHEN quantity IS NULL THEN 'quantity' END;
	IF v_null IS NOT NULL THEN
		RAISE EXCEPTION 'place_order needs %, not NULL', v_null
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
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

-- An unknown symbol that differs from a known one only in case is pointed out
CREATE OR REPLACE FUNCTION pgtrade.instrument_id(symbol text)
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
		/* symbols are as the broker spells them: say so for a near miss */
		RAISE EXCEPTION 'instrument "%" does not exist', symbol
			USING ERRCODE = 'undefined_object',
				  HINT = coalesce((
					  SELECT pg_catalog.format('Symbols match case: did you '
						  || 'mean "%s"?', min(i.symbol))
					  FROM pgtrade.instrument i
					  WHERE upper(i.symbol) = upper(instrument_id.symbol)
					  HAVING count(*) > 0),
					  'Add it with pgtrade.add_instrument().');
	ELSIF v_n > 1 THEN
		RAISE EXCEPTION 'instrument symbol "%" is ambiguous', symbol
			USING ERRCODE = 'ambiguous_parameter',
				  DETAIL = pg_catalog.format('%s instruments share the symbol.',
											 v_n);
	END IF;
	RETURN v_id;
END
$$;




-- A cancel asked while an order is being submitted waits for the broker's
-- acknowledgement instead of being refused
ALTER TABLE pgtrade.orders ADD COLUMN cancel_asked text;
COMMENT ON COLUMN pgtrade.orders.cancel_asked IS
	'A cancel asked while the order was being submitted (who and why): '
	'it goes out once the broker acknowledges the order.';
/*
 * A cancel asked while the order was being submitted goes out once the
 * broker has acknowledged the order, whichever way that became known (its
 * answer, or the order found by cOID after a lost answer or an unknown
 * state settled).  Asked once: a broker that keeps the order working
 * after the cancel does not have it sent again by this.
 */
CREATE FUNCTION pgtrade.orders_cancel_asked()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM set_config('pgtrade.event_source', 'pgtrade', true);
	PERFORM set_config('pgtrade.event_detail', format('the cancel asked '
		'while the order was being submitted (%s)', NEW.cancel_asked), true);
	UPDATE pgtrade.orders o SET status = 'cancel_requested', cancel_asked = NULL
	WHERE o.order_id = NEW.order_id;
	PERFORM pg_notify('pgtrade_order', 'cancel ' || NEW.order_id);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.orders_cancel_asked() IS
	'AFTER UPDATE on orders: an order acknowledged as working with a '
	'cancel asked meanwhile moves on to cancel_requested.';
REVOKE ALL ON FUNCTION pgtrade.orders_cancel_asked() FROM PUBLIC;
CREATE TRIGGER orders_cancel_asked AFTER UPDATE ON pgtrade.orders
	FOR EACH ROW WHEN (NEW.status = 'working' AND NEW.cancel_asked IS NOT NULL)
	EXECUTE FUNCTION pgtrade.orders_cancel_asked();

-- The gate clears a cancel asked on a new order
CREATE OR REPLACE FUNCTION pgtrade.orders_gate()
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
	NEW.cancel_asked := NULL;
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

-- modify_request takes a verdict from its caller: pgtrade's own resize of a
-- bracket's exits, which only takes risk off, passes kill switches
DROP FUNCTION pgtrade.modify_request(pgtrade.orders, numeric, numeric,
	numeric, text);
CREATE FUNCTION pgtrade.modify_request(p_o pgtrade.orders, p_quantity numeric,
	p_limit numeric, p_stop numeric, p_source text,
	p_verdict jsonb DEFAULT NULL)
RETURNS pgtrade.order_modification
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_verdict jsonb := coalesce(p_verdict,
		pgtrade.modify_gate(p_o, p_quantity, p_limit, p_stop));
	v_m pgtrade.order_modification;
	v_passed boolean;
BEGIN
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
				 THEN format(', limit %s -> %s', p_o.limit_price, p_limit)
				 ELSE '' END,
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
	numeric, numeric, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.modify_request(pgtrade.orders, numeric, numeric,
	numeric, text, jsonb) IS
	'Internal: gates and records a modification of a locked order.';
-- Exits that filled beyond a partly filled entry raise an alert
CREATE OR REPLACE FUNCTION pgtrade.bracket_parent_ended()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
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
		ELSIF v_c.status = 'submitting' AND NEW.status = 'cancelled'
			AND OLD.status = 'submitting' THEN
			/*
			 * the request that carried them both never placed the parent
			 * (not sent, not found and not sent again, or its prompt
			 * declined): nor them
			 */
			PERFORM pgtrade.order_move(v_c.order_id, 'cancelled', 'bracket',
				format('parent order %s was cancelled before the broker '
					   'placed it', NEW.order_id));
		END IF;
	END LOOP;
	PERFORM pgtrade.bracket_resize_children(NEW);
	/* an exit that filled at its full size before it could be resized */
	PERFORM pgtrade.bracket_check_exits(NEW.order_id);
	RETURN NULL;
END
$$;

-- A bracket's exits filled beyond its entry raise an alert
/*
 * bracket_check_exits raises an alert when a bracket's exits together
 * have filled more than their entry: more than its quantity while it is
 * open, more than it filled once it ended.  The broker filled both exits
 * (their group lost), or an exit at its full size before it was resized
 * to a partly filled entry: the position went past flat.  Once per entry
 * until the alert is acknowledged.
 */
CREATE FUNCTION pgtrade.bracket_check_exits(p_entry bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_e pgtrade.orders;
	v_cap numeric;
	v_exits numeric;
BEGIN
	SELECT * INTO v_e FROM pgtrade.orders o WHERE o.order_id = p_entry;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	v_cap := CASE WHEN pgtrade.order_is_open(v_e.status) THEN v_e.quantity
		ELSE greatest(v_e.filled_quantity, v_e.broker_filled_quantity) END;
	SELECT sum(o.filled_quantity) INTO v_exits FROM pgtrade.orders o
	WHERE o.parent_order_id = p_entry;
	IF v_exits > v_cap AND NOT EXISTS (
		SELECT 1 FROM pgtrade.alert a
		WHERE a.kind = 'order_mismatch' AND a.order_id = p_entry
			AND a.acknowledged_at IS NULL
			AND a.message LIKE 'the exits of entry order %') THEN
		PERFORM pgtrade.raise_alert('order_mismatch', v_e.account_id,
			v_e.strategy_id, v_e.order_id, v_e.status,
			format('the exits of entry order %s are filled %s together, more '
				   'than the %s it %s: the position went past flat (both '
				   'exits filled, or one before it was resized); check it at '
				   'the broker (the fills count in it)', p_entry, v_exits,
				   v_cap, CASE WHEN pgtrade.order_is_open(v_e.status)
							   THEN 'is for' ELSE 'filled' END));
	END IF;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bracket_check_exits(bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bracket_check_exits(bigint) IS
	'Internal: alerts when a bracket''s exits filled more than its entry.';

-- A sell's limit past the price is floored at a tick
CREATE OR REPLACE FUNCTION pgtrade.run_decide(p_run bigint, p_step integer,
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
	v_pos numeric := pgtrade.position_quantity(p_s.account_id, p_s.instrument_id);
	v_open numeric := pgtrade.open_quantity(p_s.account_id, p_s.instrument_id);
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
		/*
		 * A sell's limit below a tick (an offset past the price) is
		 * floored at one tick, as a backtest floors it: any price will do
		 */
		v_limit := p_last_close::numeric + CASE v_action WHEN 'buy'
			THEN p_s.limit_offset ELSE -p_s.limit_offset END;
		IF v_action = 'sell' THEN
			v_limit := greatest(v_limit, (SELECT i.tick_size
				FROM pgtrade.instrument i
				WHERE i.instrument_id = p_s.instrument_id));
		END IF;
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

-- and rename a strategy, or change its kind or bar size (validated again)
GRANT UPDATE (name, kind, bar_size) ON pgtrade.strategy
	TO pgtrade_trader, pgtrade_admin;

-- Admins insert orders directly as traders do
GRANT INSERT (account_id, instrument_id, side, quantity, order_type,
	limit_price, stop_price, tif, outside_rth, valid_until, strategy_id,
	decision_id, parent_order_id, oca_group, bracket_role)
	ON pgtrade.orders TO pgtrade_admin;

-- No broker order is recorded for an order never claimed
CREATE OR REPLACE FUNCTION pgtrade.record_submission(order_id bigint,
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
	/* only an order a listener claimed can have been sent */
	IF v_o.status IN ('pending', 'refused', 'expired')
		OR (v_o.status = 'cancelled' AND v_o.submitted_at IS NULL) THEN
		RAISE EXCEPTION 'order % was never claimed (it is %): no broker order can '
			'be recorded for it',
			v_o.order_id, v_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
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
ALTER FUNCTION pgtrade.record_submission(bigint, text, text, jsonb)
	SET enable_seqscan = off SET jit = off;

-- An order a cancel was asked for is not sent again
CREATE OR REPLACE FUNCTION pgtrade.claim_resend(listener_id bigint,
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
	/*
	 * A cancel was asked while it was being submitted, and the broker
	 * does not have it: it is cancelled rather than sent again.  Should
	 * the lost request reach the broker after all, its fills are still
	 * recorded, with an order_mismatch alert.
	 */
	IF v_o.cancel_asked IS NOT NULL THEN
		PERFORM pgtrade.order_move(v_o.order_id, 'cancelled',
			'listener ' || claim_resend.listener_id,
			format('not found at the broker and not sent again: %s',
				   v_o.cancel_asked));
		RETURN QUERY SELECT v_o.order_id, v_o.client_order_id,
			v_o.account_id, NULL::bigint, NULL::text, v_o.side, v_o.quantity,
			v_o.order_type, v_o.limit_price, v_o.stop_price, v_o.tif,
			v_o.outside_rth, v_o.attempts,
			'cancelled: ' || v_o.cancel_asked;
		RETURN;
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

-- A bracket exit left alone while a modification was open is resized once it is answered
CREATE OR REPLACE FUNCTION pgtrade.record_modification(modification_id bigint,
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
	/*
	 * A bracket's exit whose entry ended partly filled while this
	 * modification was open was left as it was: resize it now
	 */
	IF v_o.parent_order_id IS NOT NULL THEN
		PERFORM pgtrade.bracket_resize_children(p)
		FROM pgtrade.orders p WHERE p.order_id = v_o.parent_order_id;
	END IF;
	RETURN CASE WHEN applied THEN 'applied' ELSE 'refused' END;
END
$$;

-- Resizing a bracket's exits, also after a modification was open or a late fill
/*
 * bracket_resize_children brings the working children of a bracket's
 * parent that ended partly filled to the quantity it filled, which is
 * all they have to protect: down after a partial fill, up after a fill
 * reported late.  A child with a modification still open is left for
 * when that one is answered (record_modification asks again).  The
 * caller holds the children's parent row.
 */
CREATE FUNCTION pgtrade.bracket_resize_children(p_parent pgtrade.orders)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_filled numeric := greatest(p_parent.filled_quantity,
		p_parent.broker_filled_quantity);
	v_c pgtrade.orders;
BEGIN
	IF p_parent.status NOT IN ('cancelled', 'expired', 'rejected')
		OR v_filled <= 0 THEN
		RETURN;
	END IF;
	FOR v_c IN
		SELECT * FROM pgtrade.orders o
		WHERE o.parent_order_id = p_parent.order_id AND o.status = 'working'
			AND o.quantity <> v_filled AND o.filled_quantity < v_filled
			AND NOT EXISTS (
				SELECT 1 FROM pgtrade.order_modification m
				WHERE m.order_id = o.order_id
					AND m.status IN ('requested', 'sent'))
		ORDER BY o.order_id FOR UPDATE
	LOOP
		UPDATE pgtrade.account a SET gate_seq = a.gate_seq + 1
		WHERE a.account_id = v_c.account_id;
		/*
		 * Down, it only takes risk off: no limit applies, and a kill
		 * switch or a halt must not leave the exit closing more than was
		 * opened.  Up (a late fill), it meets the gate.
		 */
		PERFORM pgtrade.modify_request(v_c, v_filled, v_c.limit_price,
			v_c.stop_price, format(
				'bracket: parent order %s ended %s with %s filled',
				p_parent.order_id, p_parent.status, v_filled),
			CASE WHEN v_filled < v_c.quantity THEN jsonb_build_object(
				'at', clock_timestamp(), 'passed', true,
				'checks', '[]'::jsonb,
				'reason', 'passed: an exit resized to what its entry filled '
					|| 'takes risk off; no limit applies') END);
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bracket_resize_children(pgtrade.orders)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bracket_resize_children(pgtrade.orders) IS
	'Internal: resizes the working children of an ended, partly filled '
	'bracket parent to what it filled.';
ALTER FUNCTION pgtrade.claim_resend(bigint, bigint, integer)
	SET enable_seqscan = off SET jit = off;

/*
 * Packed bars for backtests (41_bar_pack.sql).  The first pack_bars()
 * packs the bars already stored: their series have no pack.
 */
CREATE TABLE pgtrade.bar_pack (
	instrument_id	bigint NOT NULL,
	bar_size		interval NOT NULL,
	lo				timestamptz NOT NULL,
	hi				timestamptz NOT NULL,
	n				integer NOT NULL CHECK (n BETWEEN 1 AND 160),
	ts				timestamptz[] NOT NULL,
	open			double precision[] NOT NULL,
	high			double precision[] NOT NULL,
	low				double precision[] NOT NULL,
	close			double precision[] NOT NULL,
	volume			double precision[] NOT NULL,
	CHECK (lo < hi),
	/* packs of a series tile its history: each ends where the next begins */
	PRIMARY KEY (instrument_id, bar_size, hi)
);
/*
 * Stored in the row as they are: a pack of 160 bars (7.7 kB of arrays)
 * fits in a page, and a reader copies its arrays straight from the
 * buffer; compressed or out of line, each would be decompressed or
 * fetched first.
 */
ALTER TABLE pgtrade.bar_pack
	ALTER ts SET STORAGE PLAIN, ALTER open SET STORAGE PLAIN,
	ALTER high SET STORAGE PLAIN, ALTER low SET STORAGE PLAIN,
	ALTER close SET STORAGE PLAIN, ALTER volume SET STORAGE PLAIN;
COMMENT ON TABLE pgtrade.bar_pack IS
	'Bars of a series packed 160 to a row, a column an array (ts ascending), '
	'that backtests read instead of pgtrade.bar where no later change '
	'touches them; written only by pack_bars.  pgtrade.bar is the record.';
COMMENT ON COLUMN pgtrade.bar_pack.lo IS
	'The pack holds every bar of its series with lo <= ts < hi, as '
	'pack_bars saw them.';

CREATE TABLE pgtrade.bar_change (
	instrument_id	bigint NOT NULL,
	bar_size		interval NOT NULL,
	lo				timestamptz NOT NULL,
	hi				timestamptz NOT NULL,
	CHECK (lo <= hi)
);
CREATE INDEX bar_change_series ON pgtrade.bar_change (instrument_id, bar_size, lo);
COMMENT ON TABLE pgtrade.bar_change IS
	'For each statement that wrote bars, the range of ts it touched in each '
	'series (lo and hi inclusive); packs it meets are not read until '
	'pack_bars has packed the series again and deleted the row.';
/* readable as every table is by traders and admins; readers see bars */
GRANT SELECT ON pgtrade.bar_pack, pgtrade.bar_change
	TO pgtrade_trader, pgtrade_admin;

/*
 * The triggers note the ranges written.  A statement-level trigger sees
 * a batch's rows at once: one row of bar_change per series a statement
 * touched, however many bars.  It fires once the statement has written
 * them all, so until then (a RETURNING clause, another trigger) a read
 * could see new bars and no change: while a statement that writes bars
 * runs, pgtrade.bar_writes counts it, and readers use no pack while it
 * is above 0.
 */
CREATE FUNCTION pgtrade.bar_note_begin()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM set_config('pgtrade.bar_writes', (coalesce(nullif(
		current_setting('pgtrade.bar_writes', true), ''), '0')::integer
		+ 1)::text, true);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_note_begin() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_note_begin() IS
	'Trigger: counts a statement writing bars in pgtrade.bar_writes until '
	'bar_note_change notes what it wrote; reads use no pack meanwhile.';
CREATE TRIGGER bar_note_begin BEFORE INSERT OR UPDATE OR DELETE ON pgtrade.bar
	FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.bar_note_begin();
ALTER TABLE pgtrade.bar ENABLE ALWAYS TRIGGER bar_note_begin;

CREATE FUNCTION pgtrade.bar_note_change()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP <> 'TRUNCATE' THEN
		PERFORM set_config('pgtrade.bar_writes', greatest(coalesce(nullif(
			current_setting('pgtrade.bar_writes', true), ''), '0')::integer - 1,
			0)::text, true);
	END IF;
	IF TG_OP = 'TRUNCATE' THEN
		DELETE FROM pgtrade.bar_pack;
		DELETE FROM pgtrade.bar_change;
	ELSIF TG_OP = 'INSERT' THEN
		INSERT INTO pgtrade.bar_change (instrument_id, bar_size, lo, hi)
		SELECT b.instrument_id, b.bar_size, min(b.ts), max(b.ts)
		FROM bar_new b GROUP BY b.instrument_id, b.bar_size;
	ELSIF TG_OP = 'DELETE' THEN
		INSERT INTO pgtrade.bar_change (instrument_id, bar_size, lo, hi)
		SELECT b.instrument_id, b.bar_size, min(b.ts), max(b.ts)
		FROM bar_old b GROUP BY b.instrument_id, b.bar_size;
	ELSE
		INSERT INTO pgtrade.bar_change (instrument_id, bar_size, lo, hi)
		SELECT b.instrument_id, b.bar_size, min(b.ts), max(b.ts)
		FROM (SELECT o.instrument_id, o.bar_size, o.ts FROM bar_old o
			  UNION ALL
			  SELECT n.instrument_id, n.bar_size, n.ts FROM bar_new n) b
		GROUP BY b.instrument_id, b.bar_size;
	END IF;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_note_change() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_note_change() IS
	'Trigger: notes in bar_change the range of ts each statement wrote in '
	'each series; a TRUNCATE of pgtrade.bar empties the packs.';

CREATE TRIGGER bar_note_insert AFTER INSERT ON pgtrade.bar
	REFERENCING NEW TABLE AS bar_new
	FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.bar_note_change();
CREATE TRIGGER bar_note_update AFTER UPDATE ON pgtrade.bar
	REFERENCING OLD TABLE AS bar_old NEW TABLE AS bar_new
	FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.bar_note_change();
CREATE TRIGGER bar_note_delete AFTER DELETE ON pgtrade.bar
	REFERENCING OLD TABLE AS bar_old
	FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.bar_note_change();
CREATE TRIGGER bar_note_truncate AFTER TRUNCATE ON pgtrade.bar
	FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.bar_note_change();
/*
 * A session in replica mode fires no statement trigger of these, and
 * logical replication's apply worker fires only row triggers (in that
 * mode): bars written so, by a subscriber applying a bar feed's changes
 * or a restore run as a replica, are noted a row at a time instead.
 */
CREATE FUNCTION pgtrade.bar_note_row()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		INSERT INTO pgtrade.bar_change (instrument_id, bar_size, lo, hi)
		VALUES (OLD.instrument_id, OLD.bar_size, OLD.ts, OLD.ts);
	END IF;
	IF TG_OP IN ('UPDATE', 'INSERT') THEN
		INSERT INTO pgtrade.bar_change (instrument_id, bar_size, lo, hi)
		VALUES (NEW.instrument_id, NEW.bar_size, NEW.ts, NEW.ts);
	END IF;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_note_row() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_note_row() IS
	'Trigger: notes in bar_change each bar written in replica mode (by '
	'logical replication''s apply worker, say), where bar_note_change does '
	'not fire.';
CREATE TRIGGER bar_note_replica AFTER INSERT OR UPDATE OR DELETE ON pgtrade.bar
	FOR EACH ROW EXECUTE FUNCTION pgtrade.bar_note_row();
ALTER TABLE pgtrade.bar ENABLE REPLICA TRIGGER bar_note_replica;
ALTER TABLE pgtrade.bar ENABLE ALWAYS TRIGGER bar_note_truncate;

/* packers take turns on this row; last_packed says when one last ran */
CREATE TABLE pgtrade.bar_packer (
	only_row	boolean PRIMARY KEY DEFAULT true CHECK (only_row),
	last_packed	timestamptz
);
INSERT INTO pgtrade.bar_packer (only_row) VALUES (true);
COMMENT ON TABLE pgtrade.bar_packer IS
	'One row: pack_bars updates it first, so that packers take turns, and '
	'records when it last ran.';
GRANT SELECT ON pgtrade.bar_packer TO pgtrade_trader, pgtrade_admin;

/*
 * The series of pgtrade.bar, an instrument and a bar size each, read by
 * skipping through the bar key (one probe a series, not a bar).
 */
CREATE FUNCTION pgtrade.bar_series()
RETURNS TABLE (instrument_id bigint, bar_size interval)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH RECURSIVE s AS (
		(SELECT b.instrument_id, b.bar_size FROM pgtrade.bar b
		 ORDER BY b.instrument_id, b.bar_size LIMIT 1)
		UNION ALL
		SELECT n.instrument_id, n.bar_size
		FROM s CROSS JOIN LATERAL (
			SELECT b.instrument_id, b.bar_size FROM pgtrade.bar b
			WHERE (b.instrument_id, b.bar_size) > (s.instrument_id, s.bar_size)
			ORDER BY b.instrument_id, b.bar_size LIMIT 1) n)
	SELECT s.instrument_id, s.bar_size FROM s
$$;
REVOKE ALL ON FUNCTION pgtrade.bar_series() FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bar_series() IS
	'Internal: each instrument and bar size of pgtrade.bar, by skipping '
	'through its key.';

/*
 * pack_bars packs the series named (a symbol, a bar size, or both),
 * or every series with bars written since it last ran or with 160 bars
 * or more and no pack.  For each: the
 * changes it can see are deleted, every pack from the first one they
 * meet onward is dropped, and the bars from the end of the packs kept
 * are packed again, 160 to a pack; fewer than 160 left at the end stay
 * in pgtrade.bar alone until more come.  With rebuild every pack of the
 * series is made again.  Returns a row per series looked at.
 *
 * One packer at a time: each first updates the row of bar_packer, which
 * makes a second wait for the first to end and lets readers and writers
 * of bars through.  At READ COMMITTED the second then sees what the
 * first wrote (each statement has a snapshot of its own); at REPEATABLE
 * READ or SERIALIZABLE its snapshot may not, and the update fails it
 * with 40001 instead of letting it pack over the first's packs.
 */
CREATE FUNCTION pgtrade.pack_bars(symbol text DEFAULT NULL,
	size interval DEFAULT NULL, rebuild boolean DEFAULT false)
RETURNS TABLE (instrument_id bigint, bar_size interval, packs_dropped integer,
	packs_added integer, bars_unpacked integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_series record;
	v_from timestamptz;
	v_start timestamptz;
	v_instrument bigint;
BEGIN
	IF rebuild IS NULL THEN
		RAISE EXCEPTION 'rebuild must be true or false, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF symbol IS NOT NULL THEN
		v_instrument := pgtrade.instrument_id(symbol);
	END IF;
	IF size IS NOT NULL AND NOT pgtrade.bar_size_supported(size) THEN
		RAISE EXCEPTION 'pgtrade.bar holds no bars of size %', size
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Bar sizes are 1 day or whole minutes below a day.';
	END IF;
	UPDATE pgtrade.bar_packer SET last_packed = clock_timestamp();
	FOR v_series IN
		SELECT DISTINCT c.instrument_id, c.bar_size FROM pgtrade.bar_change c
		WHERE (v_instrument IS NULL OR c.instrument_id = v_instrument)
			AND (size IS NULL OR c.bar_size = size)
		UNION
		SELECT DISTINCT b.instrument_id, b.bar_size FROM pgtrade.bar_pack b
		WHERE rebuild
			AND (v_instrument IS NULL OR b.instrument_id = v_instrument)
			AND (size IS NULL OR b.bar_size = size)
		UNION
		SELECT v_instrument, size
		WHERE v_instrument IS NOT NULL AND size IS NOT NULL
		UNION
		/*
		 * Series of 160 bars or more without a pack: bars written with
		 * the triggers disabled (a restore), or noted changes deleted.
		 * One probe of the bar key a series.
		 */
		SELECT s.instrument_id, s.bar_size FROM pgtrade.bar_series() s
		WHERE (v_instrument IS NULL OR s.instrument_id = v_instrument)
			AND (size IS NULL OR s.bar_size = size)
			AND NOT EXISTS (SELECT 1 FROM pgtrade.bar_pack p
							WHERE p.instrument_id = s.instrument_id
								AND p.bar_size = s.bar_size)
			AND EXISTS (SELECT 1 FROM pgtrade.bar b
						WHERE b.instrument_id = s.instrument_id
							AND b.bar_size = s.bar_size OFFSET 159)
		ORDER BY 1, 2
	LOOP
		instrument_id := v_series.instrument_id;
		bar_size := v_series.bar_size;
		/* a series that fails is left as it was; the others are packed */
		BEGIN
			/*
			 * The changes packed now, taken and deleted in one statement:
			 * every statement after it sees at least those bars.
			 */
			WITH gone AS (
				DELETE FROM pgtrade.bar_change c
				WHERE c.instrument_id = v_series.instrument_id
					AND c.bar_size = v_series.bar_size
				RETURNING c.lo)
			SELECT min(g.lo) INTO v_from FROM gone g;
			IF rebuild THEN
				v_from := '-infinity';
			END IF;
			WITH gone AS (
				DELETE FROM pgtrade.bar_pack p
				WHERE p.instrument_id = v_series.instrument_id
					AND p.bar_size = v_series.bar_size AND p.hi > v_from
				RETURNING 1)
			SELECT count(*) INTO packs_dropped FROM gone;
			SELECT coalesce(max(p.hi), '-infinity') INTO v_start
			FROM pgtrade.bar_pack p
			WHERE p.instrument_id = v_series.instrument_id
				AND p.bar_size = v_series.bar_size;
			/*
			 * Full packs of 160 from v_start on; each begins a microsecond
			 * after the last bar of the one before (the first at v_start) and
			 * ends a microsecond after its own last bar.
			 */
			WITH b AS (
				SELECT b.*, (row_number() OVER (ORDER BY b.ts) - 1) / 160 AS g
				FROM pgtrade.bar b
				WHERE b.instrument_id = v_series.instrument_id
					AND b.bar_size = v_series.bar_size AND b.ts >= v_start
					AND b.ts < '294276-12-31 23:59:59.999999+00'),
			packs AS (
				SELECT b.g, count(*)::integer AS n, max(b.ts) AS last_ts,
					array_agg(b.ts ORDER BY b.ts) AS ts,
					array_agg(b.open ORDER BY b.ts) AS open,
					array_agg(b.high ORDER BY b.ts) AS high,
					array_agg(b.low ORDER BY b.ts) AS low,
					array_agg(b.close ORDER BY b.ts) AS close,
					array_agg(b.volume ORDER BY b.ts) AS volume
				FROM b GROUP BY b.g),
			added AS (
				INSERT INTO pgtrade.bar_pack (instrument_id, bar_size, lo, hi,
					n, ts, open, high, low, close, volume)
				SELECT v_series.instrument_id, v_series.bar_size,
					coalesce(lag(p.last_ts) OVER (ORDER BY p.g)
							 + interval '1 microsecond', v_start),
					p.last_ts + interval '1 microsecond', p.n, p.ts, p.open,
					p.high, p.low, p.close, p.volume
				FROM packs p
				WHERE p.n = 160
				RETURNING n)
			SELECT count(*) INTO packs_added FROM added;
			SELECT coalesce(max(p.hi), '-infinity') INTO v_start
			FROM pgtrade.bar_pack p
			WHERE p.instrument_id = v_series.instrument_id
				AND p.bar_size = v_series.bar_size;
			SELECT count(*) INTO bars_unpacked
			FROM pgtrade.bar b
			WHERE b.instrument_id = v_series.instrument_id
				AND b.bar_size = v_series.bar_size AND b.ts >= v_start;
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'pack_bars: instrument % bars of %: %, left unpacked',
				v_series.instrument_id, v_series.bar_size, SQLERRM;
			CONTINUE;
		END;
		RETURN NEXT;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.pack_bars(text, interval, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgtrade.pack_bars(text, interval, boolean)
	TO pgtrade_admin, pgtrade_scheduler;
COMMENT ON FUNCTION pgtrade.pack_bars(text, interval, boolean) IS
	'Packs bars for backtests: the series named, or every series with bars '
	'written since it last ran or none packed; rebuild makes every pack of '
	'them again.  '
	'Returns, per series, the packs dropped and added and the bars left '
	'after the last pack.  One packer at a time: another waits for it.';

/* install_jobs schedules the packing of bars */
CREATE OR REPLACE FUNCTION pgtrade.install_jobs(run_as name DEFAULT 'pgtrade_cron',
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
			 END),
			('pgtrade-pack-bars', '37 3 * * *',
			 'SELECT count(*) FROM pgtrade.pack_bars()')) j(name, schedule, command)
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
	'NULL keeps them), and the daily packing of new bars for backtests.  '
	'Returns the jobs.  Superuser only.';

/* a cancel asked during a confirmation prompt declines it */
/*
 * A cancel asked while an order is being submitted (orders.cancel_asked)
 * can still stop it while the broker asks a confirmation question: the
 * listener asks cancel_asked_for before it confirms, declines the
 * question when a cancel is asked, and records that with
 * record_declined.  A declined question places nothing (ibkr-cpapi.md
 * 6.2), so the order is cancelled, and a bracket's children sent in the
 * same request with it (bracket_parent_ended).  A modification's
 * question is declined the same way once the order's cancel is
 * requested (the modification is refused).
 */
CREATE FUNCTION pgtrade.cancel_asked_for(listener_id bigint, order_id bigint)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN o.status = 'submitting' AND o.claimed_by = $1 THEN o.cancel_asked
		WHEN o.status = 'cancel_requested' THEN coalesce((
			SELECT 'cancel requested: ' || e.detail
			FROM pgtrade.order_event e
			WHERE e.order_id = o.order_id AND e.to_status = 'cancel_requested'
			ORDER BY e.event_id DESC LIMIT 1), 'cancel requested')
		END
	FROM pgtrade.orders o WHERE o.order_id = $2
$$;
REVOKE ALL ON FUNCTION pgtrade.cancel_asked_for(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.cancel_asked_for(bigint, bigint) IS
	'Listener: the cancel asked for an order it claimed and is submitting, '
	'or requested for one working; NULL if none.  Asked before it confirms '
	'a prompt of a placement or a modification.';

CREATE FUNCTION pgtrade.record_declined(listener_id bigint, order_id bigint,
	question text, payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_declined.order_id);
BEGIN
	IF v_o.status <> 'submitting'
		OR v_o.claimed_by IS DISTINCT FROM record_declined.listener_id
		OR v_o.cancel_asked IS NULL THEN
		RAISE EXCEPTION 'listener % cannot record order % as declined: it is '
			'%, claimed by %, %', record_declined.listener_id, v_o.order_id,
			v_o.status, coalesce('listener ' || v_o.claimed_by, 'no listener'),
			CASE WHEN v_o.cancel_asked IS NULL THEN 'no cancel asked'
				 ELSE 'a cancel asked' END
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, 'cancelled',
		'listener ' || record_declined.listener_id,
		format('confirmation declined (%s), never placed: %s',
			   coalesce(nullif(regexp_replace(question, '\s+', ' ', 'g'), ''),
						'no text'), v_o.cancel_asked),
		payload);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.record_declined(bigint, bigint, text, jsonb)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.record_declined(bigint, bigint, text, jsonb) IS
	'Listener: cancels an order it claimed whose confirmation prompt it '
	'declined because a cancel was asked meanwhile.';
GRANT EXECUTE ON FUNCTION pgtrade.cancel_asked_for(bigint, bigint),
	pgtrade.record_declined(bigint, bigint, text, jsonb)
	TO pgtrade_listener;
ALTER FUNCTION pgtrade.record_declined(bigint, bigint, text, jsonb)
	SET enable_seqscan = off SET jit = off;

/* order_move puts back the event settings of an outer move */
CREATE OR REPLACE FUNCTION pgtrade.order_move(p_order_id bigint, p_status text,
	p_source text, p_detail text, p_payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	/*
	 * A move made from a trigger of another order's update (a bracket's
	 * children moved with their parent) comes before that order's own
	 * event is written from these settings: they are put back after.
	 */
	v_source text := current_setting('pgtrade.event_source', true);
	v_detail text := current_setting('pgtrade.event_detail', true);
	v_payload text := current_setting('pgtrade.event_payload', true);
BEGIN
	PERFORM set_config('pgtrade.event_source', coalesce(p_source, ''), true);
	PERFORM set_config('pgtrade.event_detail', coalesce(p_detail, ''), true);
	PERFORM set_config('pgtrade.event_payload',
					   coalesce(p_payload::text, ''), true);
	UPDATE pgtrade.orders SET status = p_status,
		last_error = CASE WHEN p_status IN ('rejected', 'unknown')
						  THEN p_detail ELSE last_error END
	WHERE order_id = p_order_id;
	PERFORM set_config('pgtrade.event_source', coalesce(v_source, ''), true);
	PERFORM set_config('pgtrade.event_detail', coalesce(v_detail, ''), true);
	PERFORM set_config('pgtrade.event_payload', coalesce(v_payload, ''), true);
END
$$;

/* a bar at an infinite time, which nothing can read, is refused
   (30_schema.sql); an update fails here if the table holds one */
ALTER TABLE pgtrade.bar
	ADD CONSTRAINT bar_ts_finite CHECK (isfinite(ts));
