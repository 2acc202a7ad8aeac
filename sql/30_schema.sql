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
	PRIMARY KEY (instrument_id, bar_size, ts)
		INCLUDE (open, high, low, close, volume),
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
	CONSTRAINT bar_volume_valid CHECK (volume >= 0 AND volume < 'Infinity'),
	CONSTRAINT bar_ts_finite CHECK (isfinite(ts))
)
/*
 * The key carries the prices so that recent_bars (and any query of a
 * few columns along the key) reads an instrument's bars from the key
 * alone where the visibility map says their pages are all-visible.  A
 * vacuum after every thousand new bars, whatever the table's size, keeps
 * that true of all but the newest: by default autovacuum would wait for
 * a fifth of the table, the very bars a run reads.
 */
WITH (autovacuum_vacuum_insert_threshold = 1000,
	  autovacuum_vacuum_insert_scale_factor = 0);
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
	/*
	 * Checked again at each update, as every check is (a tick moves
	 * every due strategy's next_run_at): a counted repeat, {1,63}, made
	 * the regular expression take six times as long.
	 */
	name			text NOT NULL UNIQUE
					CHECK (name ~ '^[A-Za-z0-9_.-]+$' AND length(name) <= 63),
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
/*
 * next_run_at has no index, on purpose: every run moves it, and a move
 * that touches no indexed column is a HOT update, which writes none of
 * the table's indexes, if the new row version fits in the old one's
 * page.  A tick moves every due strategy of a page in one transaction,
 * before any old version can be pruned: half of each page is left for
 * them.  The scheduler takes its due strategies 500 at a time, so
 * reading the table for them costs a scan per 500 runs.
 */
ALTER TABLE pgtrade.strategy SET (fillfactor = 50);
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
	broker_filled_quantity numeric
					CHECK (broker_filled_quantity >= 0
						   AND broker_filled_quantity < 'Infinity'),
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
	/*
	 * finite: NaN compares above every number in numeric, so a NaN
	 * quantity passed "> 0" and made the position NaN, which the gate's
	 * comparisons then let through
	 */
	quantity		numeric NOT NULL
					CHECK (quantity > 0 AND quantity < 'Infinity'),
	price			numeric NOT NULL CHECK (price > 0 AND price < 'Infinity'),
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
	amount			numeric NOT NULL
					CHECK (amount > '-Infinity' AND amount < 'Infinity'),
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
		CHECK (bracket_role IN ('entry', 'take_profit', 'stop_loss')),
	ADD COLUMN cancel_asked text;
COMMENT ON COLUMN pgtrade.orders.cancel_asked IS
	'A cancel asked while the order was being submitted (who and why): '
	'it goes out once the broker acknowledges the order.';
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
