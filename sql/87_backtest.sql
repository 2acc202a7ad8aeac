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
	close_no		integer NOT NULL,
	PRIMARY KEY (backtest_id, close_no)
);
COMMENT ON TABLE pgtrade.backtest_decision IS
	'A kept backtest''s decisions, one per bar close: the evaluator''s '
	'answer as a live run records it in its evaluate step.';
COMMENT ON COLUMN pgtrade.backtest_decision.close_no IS
	'The close''s place among the backtest''s closes, from 1, in the '
	'order of the bars (two bars can close at the same as_of: two daily '
	'bars of one session date).';
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
 * What both C engines return (backtest_sql.c): the closes, the figures
 * with the drawdown's two ends as 1-based bar indexes, the tallies of
 * closing fills, and the trades, counted and listed.
 */
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

/*
 * backtest_sma_cross_engine is backtest's loop for sma_cross, in C
 * (backtest_sql.c): the same decisions, sizes, fills, checks and figures,
 * Sharpe and Sortino to rounding; the highs and lows serve risk sizing's
 * ATR.  first and last are the 1-based indexes of the closes within the
 * period; the trades come back counted and, unless trades is false (a
 * sweep keeps none), as the trade list backtest returns, built in C;
 * bar_size, time_zone and session_close give each trade's decided_at.
 * NULL when the closes are too large for it, for the PL/pgSQL loop to
 * take over.
 */
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
	'Internal to backtest: its loop for sma_cross, in C.';

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
	'Internal to backtest: its loop for the other built-in kinds, in C.';

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
REVOKE ALL ON FUNCTION pgtrade.backtest_order_check(pgtrade.strategy, text,
	numeric, double precision, numeric, numeric, numeric, date, numeric,
	date, integer, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.backtest_order_check(pgtrade.strategy, text,
	numeric, double precision, numeric, numeric, numeric, date, numeric,
	date, integer, timestamptz) IS
	'Internal to backtests: the risk checks'' verdict on the order a '
	'backtest would place, against its simulated account.';

/*
 * A backtest's result is one row, whose trade list is one value that may
 * be tens of megabytes (about 240 bytes a trade).  PL/pgSQL hands a set
 * over in a tuplestore, which writes what passes work_mem to a temporary
 * file; the list is already in memory, so backtest and backtest_run keep
 * their tuplestores there up to 256MB rather than write it out and read
 * it back (17 ms of 197 for 39,162 trades).  Nothing else they run holds
 * more than a few rows.
 *
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

/*
 * backtest is backtest_run without bars given, trade list wanted, in C
 * (backtest_sql.c): it calls backtest_run with its own caller's result
 * set, so that backtest_run's result is backtest's as it is, not copied
 * into another by a RETURN QUERY.  backtest_run checks the arguments
 * with its own rights (it is SECURITY DEFINER) and settings.
 */
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
AS 'MODULE_PATHNAME', 'pgtrade_backtest'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
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
