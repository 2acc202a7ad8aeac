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

CREATE VIEW pgtrade.instruments AS
	SELECT i.instrument_id, i.symbol, i.conid, i.sec_type, i.exchange,
		   i.currency, i.time_zone, i.session_open, i.session_close,
		   i.tick_size, i.lot_size
	FROM pgtrade.instrument i;
COMMENT ON VIEW pgtrade.instruments IS 'Registered instruments.';

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
