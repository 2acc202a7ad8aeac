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
