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
				'confirmations_eval', 'confirmations_validate',
				'time_zone_name')
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
	pgtrade.bracket_exit_offsets(text, bigint, bigint),
	pgtrade.open_order_rests(text, bigint, bigint),
	pgtrade.account_day_pnl(text, bigint),
	pgtrade.latest_close(bigint)
	TO pgtrade_trader, pgtrade_admin;

/*
 * traders run strategies and place orders; both meet the gate.  A direct
 * INSERT names what is asked for, never the order's id (the sequence's:
 * an unused lower id would put a new order ahead of older ones) nor what
 * pgtrade and the broker fill in.
 */
GRANT INSERT (account_id, instrument_id, side, quantity, order_type,
	limit_price, stop_price, tif, outside_rth, valid_until, strategy_id,
	decision_id, parent_order_id, oca_group, bracket_role)
	ON pgtrade.orders TO pgtrade_trader, pgtrade_admin;
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
GRANT UPDATE (name, kind, params, bar_size, active, schedule, time_zone,
	market_hours, disable_after_failures, sizing, capital, sizing_fraction,
	atr_period, atr_multiple, order_type, limit_offset, tif, order_valid_for,
	grace, catch_up, max_bar_age) ON pgtrade.strategy
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
	pgtrade.progress_interval(),
	pgtrade.bar_size_supported(interval),
	pgtrade.remove_risk_limit(text, text, bigint),
	pgtrade.resolve_unknown(bigint, text, text),
	pgtrade.resolve_vanished(bigint, text),
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
GRANT EXECUTE ON FUNCTION pgtrade.scheduler_ticked(timestamptz)
	TO pgtrade_scheduler;
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
	pgtrade.cancel_asked_for(bigint, bigint),
	pgtrade.record_declined(bigint, bigint, text, jsonb),
	pgtrade.orders_in_flight(text[]),
	pgtrade.orders_to_cancel(text[], interval),
	pgtrade.record_cancel_sent(bigint, jsonb),
	pgtrade.record_conid(bigint, bigint, jsonb)
	TO pgtrade_listener;
GRANT SELECT ON pgtrade.instrument, pgtrade.account TO pgtrade_listener;
