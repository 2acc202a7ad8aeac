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
/*
 * Admins keep them: a closure announced at short notice, a new market.
 * Not the builtin flag, which says what pg_dump leaves to CREATE
 * EXTENSION: a shipped row marked as added would be restored twice (and
 * fail the restore of the whole table), an added row marked as shipped
 * would be lost.  Shipped rows themselves are guarded by
 * calendar_shipped_guard.
 */
GRANT INSERT (calendar, description, time_zone, regular_open, regular_close,
		weekend, first_day, last_day),
	UPDATE (calendar, description, time_zone, regular_open, regular_close,
		weekend, first_day, last_day),
	DELETE ON pgtrade.market_calendar TO pgtrade_admin;
GRANT INSERT (calendar, day, opens, closes, note),
	UPDATE (calendar, day, opens, closes, note),
	DELETE ON pgtrade.market_special_day TO pgtrade_admin;
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
