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
COMMENT ON VIEW pgtrade.monitor IS
	'One row: monitor_accounts added up over the accounts the caller may '
	'see (counts summed, ages the oldest), with the listeners alive '
	'(running, heartbeat within a minute) and the heartbeat age and '
	'gateway state of the freshest listener.';
COMMENT ON COLUMN pgtrade.monitor.scheduler_tick_age_seconds IS
	'Seconds since run_due last finished a call (pg_cron calls it every '
	'minute); NULL before the first.';
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
