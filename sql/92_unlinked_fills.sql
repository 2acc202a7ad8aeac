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
