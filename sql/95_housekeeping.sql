/*
 * 95_housekeeping.sql: the jobs that keep a running installation tidy
 * and watched, and the one function that schedules them with pg_cron.
 *
 * - performance: one row per strategy and day, rolled up daily from the
 *   fills and daily bars (strategy_performance computes the same live).
 * - alert: what an operator must look at: orders stuck in a state that
 *   should be brief, and strategies switched off after failing.  Each is
 *   also logged as one WARNING line and sent as a NOTIFY on channel
 *   pgtrade_alert.
 * - retention: pg_cron's run details of pgtrade's jobs after 14 days,
 *   and the inputs and outputs of run steps after a configurable time.
 *   Runs, decisions, orders, fills and positions are never deleted.
 */

CREATE TABLE pgtrade.performance (
	strategy_id			bigint NOT NULL REFERENCES pgtrade.strategy,
	day					date NOT NULL,
	trades				integer NOT NULL,
	net_position		numeric NOT NULL,
	realized_pnl		numeric NOT NULL,
	cumulative_realized	numeric NOT NULL,
	unrealized_pnl		numeric,
	equity				numeric,
	drawdown			numeric,
	computed_at			timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (strategy_id, day)
);
COMMENT ON TABLE pgtrade.performance IS
	'A strategy''s performance by session day, as strategy_performance '
	'computes it, stored by the daily rollup (rollup_performance); '
	'unrealized P&L, equity and drawdown are NULL on a day without a '
	'daily bar to mark the position to.';
SELECT pg_catalog.pg_extension_config_dump('pgtrade.performance', '');

CREATE TABLE pgtrade.alert (
	alert_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	raised_at		timestamptz NOT NULL DEFAULT now(),
	kind			text NOT NULL
					CHECK (kind IN ('stuck_order', 'strategy_disabled',
						'calendar_ended', 'order_mismatch')),
	account_id		text NOT NULL REFERENCES pgtrade.account,
	strategy_id		bigint REFERENCES pgtrade.strategy,
	order_id		bigint REFERENCES pgtrade.orders,
	order_status	text,
	message			text NOT NULL,
	acknowledged_at	timestamptz,
	acknowledged_by	name,
	CHECK ((kind IN ('stuck_order', 'order_mismatch'))
		   = (order_id IS NOT NULL AND order_status IS NOT NULL))
);
CREATE UNIQUE INDEX alert_stuck_order_once
	ON pgtrade.alert (order_id, order_status) WHERE kind = 'stuck_order';
CREATE INDEX alert_open ON pgtrade.alert (raised_at)
	WHERE acknowledged_at IS NULL;
COMMENT ON TABLE pgtrade.alert IS
	'Things an operator must look at; an order stuck in one state is '
	'alerted once per state.  Acknowledge with acknowledge_alert.';
SELECT pg_catalog.pg_extension_config_dump('pgtrade.alert', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.alert_alert_id_seq', '');

ALTER TABLE pgtrade.alert ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.alert
	USING (account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]));
ALTER TABLE pgtrade.performance ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_scope ON pgtrade.performance
	USING (EXISTS (SELECT 1 FROM pgtrade.strategy s
				   WHERE s.strategy_id = performance.strategy_id));

CREATE FUNCTION pgtrade.raise_alert(p_kind text, p_account text,
	p_strategy bigint, p_order bigint, p_order_status text, p_message text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
BEGIN
	INSERT INTO pgtrade.alert (kind, account_id, strategy_id, order_id,
		order_status, message)
	VALUES (p_kind, p_account, p_strategy, p_order, p_order_status, p_message)
	ON CONFLICT (order_id, order_status) WHERE kind = 'stuck_order'
	DO NOTHING
	RETURNING alert_id INTO v_id;
	IF v_id IS NOT NULL THEN
		RAISE WARNING 'alert %: % account=% %', v_id, p_kind, p_account,
			p_message;
		PERFORM pg_notify('pgtrade_alert', json_build_object('alert_id', v_id,
			'kind', p_kind, 'account_id', p_account, 'strategy_id', p_strategy,
			'order_id', p_order, 'message', p_message)::text);
	END IF;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.raise_alert(text, text, bigint, bigint, text,
	text) IS
	'Internal: records an alert (once per stuck order and state), logs it '
	'as a WARNING and sends it on channel pgtrade_alert; NULL when it was '
	'already raised.';

/*
 * First, a pending order past its valid_until is expired: a listener
 * would expire it rather than send it when it claims, but none may serve
 * its account, and until then the gate counts it as open.
 *
 * An order is stuck when it has sat in a state longer than that state
 * should last: pending (no listener claims it), submitting (no answer
 * from the broker), cancel_requested (no answer to the cancel), unknown
 * (an operator must resolve it: alerted at once), or a day order still
 * working older_than after the first close of its market after it was
 * placed (a day after, for an instrument without a calendar): its expiry
 * was never reported.
 */
CREATE FUNCTION pgtrade.check_stuck_orders(older_than interval
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

CREATE FUNCTION pgtrade.acknowledge_alert(alert_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_a pgtrade.alert;
BEGIN
	SELECT * INTO v_a FROM pgtrade.alert a
	WHERE a.alert_id = acknowledge_alert.alert_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert % does not exist', alert_id
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_a.account_id);
	UPDATE pgtrade.alert a
	SET acknowledged_at = coalesce(a.acknowledged_at, now()),
		acknowledged_by = coalesce(a.acknowledged_by, pgtrade.caller_role())
	WHERE a.alert_id = v_a.alert_id;
END
$$;
COMMENT ON FUNCTION pgtrade.acknowledge_alert(bigint) IS
	'Marks an alert seen (the first acknowledgement is kept).';

/*
 * rollup_performance stores strategy_performance's rows for every
 * strategy (or the one named) that has traded; a day already stored is
 * overwritten only when a figure changed (a late fill, a corrected one).
 */
CREATE FUNCTION pgtrade.rollup_performance(strategy text DEFAULT NULL)
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
COMMENT ON FUNCTION pgtrade.rollup_performance(text) IS
	'Stores the daily performance of every strategy that has traded in '
	'the accounts the caller may see (or of the one named) in '
	'pgtrade.performance; returns the rows written or changed.';

CREATE FUNCTION pgtrade.purge_step_details(keep interval DEFAULT '90 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n bigint;
BEGIN
	IF keep IS NULL OR keep < interval '1 day' THEN
		RAISE EXCEPTION 'keep at least a day of run steps, not %',
			coalesce(keep::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	DELETE FROM pgtrade.workflow_step st
	USING pgtrade.workflow_run r
	WHERE r.run_id = st.run_id AND r.finished_at < now() - keep;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION pgtrade.purge_step_details(interval) IS
	'Deletes the steps (inputs, outputs, timings) of runs that finished '
	'longer than keep ago; the runs themselves, their decisions and '
	'orders stay.  Returns the steps deleted.';

CREATE FUNCTION pgtrade.purge_run_details(keep interval DEFAULT '14 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n bigint;
BEGIN
	IF keep IS NULL OR keep < interval '1 day' THEN
		RAISE EXCEPTION 'keep at least a day of run details, not %',
			coalesce(keep::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	EXECUTE 'DELETE FROM cron.job_run_details d USING cron.job j
			 WHERE d.jobid = j.jobid AND j.jobname LIKE ''pgtrade-%''
			   AND d.end_time < now() - $1'
		USING keep;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION pgtrade.purge_run_details(interval) IS
	'Deletes pg_cron''s run details of pgtrade''s own jobs older than '
	'keep (pg_cron keeps them forever; run_due adds one a minute).  '
	'pgtrade''s own workflow_run history is never purged.';

/*
 * install_jobs schedules pgtrade's pg_cron jobs, as the given role, and
 * may be called again at any time: each job is replaced by name, and a
 * job switched off (step_retention NULL) is removed.  pg_cron schedules
 * in UTC.
 */
CREATE FUNCTION pgtrade.install_jobs(run_as name DEFAULT 'pgtrade_cron',
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

/* functions are created executable by PUBLIC: not pgtrade's */
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgtrade FROM PUBLIC;
/* the scheduler runs pgtrade's jobs and nothing else */
GRANT EXECUTE ON FUNCTION pgtrade.check_stuck_orders(interval),
	pgtrade.purge_run_details(interval),
	pgtrade.rollup_performance(text),
	pgtrade.purge_step_details(interval)
	TO pgtrade_scheduler;
REVOKE ALL ON FUNCTION pgtrade.raise_alert(text, text, bigint, bigint, text,
	text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgtrade.acknowledge_alert(bigint),
	pgtrade.rollup_performance(text)
	TO pgtrade_trader, pgtrade_admin;
GRANT SELECT ON pgtrade.performance, pgtrade.alert
	TO pgtrade_trader, pgtrade_admin;

CREATE VIEW pgtrade.alerts WITH (security_barrier) AS
	SELECT a.alert_id, a.raised_at, a.kind, a.account_id, s.name AS strategy,
		   a.order_id, a.order_status, o.status AS order_status_now,
		   a.message, a.acknowledged_at, a.acknowledged_by
	FROM pgtrade.alert a
	LEFT JOIN pgtrade.strategy s USING (strategy_id)
	LEFT JOIN pgtrade.orders o USING (order_id)
	WHERE a.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.alerts IS
	'Alerts of the accounts the caller may see, with the order''s state '
	'now; open ones have no acknowledged_at.';
COMMENT ON COLUMN pgtrade.alerts.alert_id IS
	'Identifies the alert; pass it to acknowledge_alert.';
COMMENT ON COLUMN pgtrade.alerts.raised_at IS 'When it was raised.';
COMMENT ON COLUMN pgtrade.alerts.kind IS
	'stuck_order, strategy_disabled or calendar_ended.';
COMMENT ON COLUMN pgtrade.alerts.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.alerts.strategy IS
	'The strategy concerned, or NULL.';
COMMENT ON COLUMN pgtrade.alerts.order_id IS
	'The order concerned (stuck_order), or NULL.';
COMMENT ON COLUMN pgtrade.alerts.order_status IS
	'The order''s status when the alert was raised.';
COMMENT ON COLUMN pgtrade.alerts.order_status_now IS
	'The order''s status now.';
COMMENT ON COLUMN pgtrade.alerts.message IS 'What happened, in plain words.';
COMMENT ON COLUMN pgtrade.alerts.acknowledged_at IS
	'When it was first acknowledged; NULL while open.';
COMMENT ON COLUMN pgtrade.alerts.acknowledged_by IS
	'The role that first acknowledged it.';

CREATE VIEW pgtrade.strategy_daily WITH (security_barrier) AS
	SELECT s.name AS strategy, s.account_id, i.symbol, p.day, p.trades,
		   p.net_position, p.realized_pnl, p.cumulative_realized,
		   p.unrealized_pnl, p.equity, p.drawdown, p.computed_at
	FROM pgtrade.performance p
	JOIN pgtrade.strategy s USING (strategy_id)
	JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
	WHERE s.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.strategy_daily IS
	'Daily performance of the strategies of the accounts the caller may '
	'see, as the rollup stored it.';
COMMENT ON COLUMN pgtrade.strategy_daily.strategy IS 'The strategy''s name.';
COMMENT ON COLUMN pgtrade.strategy_daily.account_id IS
	'The strategy''s account.';
COMMENT ON COLUMN pgtrade.strategy_daily.symbol IS
	'The instrument''s symbol (instrument.symbol).';
COMMENT ON COLUMN pgtrade.strategy_daily.day IS 'The session day.';
COMMENT ON COLUMN pgtrade.strategy_daily.trades IS
	'Fills of the account in the instrument that day.';
COMMENT ON COLUMN pgtrade.strategy_daily.net_position IS
	'Position at the end of the day.';
COMMENT ON COLUMN pgtrade.strategy_daily.realized_pnl IS
	'Realized P&L of the day, before commissions.';
COMMENT ON COLUMN pgtrade.strategy_daily.cumulative_realized IS
	'Realized P&L to date, before commissions.';
COMMENT ON COLUMN pgtrade.strategy_daily.unrealized_pnl IS
	'Unrealized P&L at the day''s close; NULL without a daily bar.';
COMMENT ON COLUMN pgtrade.strategy_daily.equity IS
	'cumulative_realized + unrealized_pnl; NULL without a daily bar.';
COMMENT ON COLUMN pgtrade.strategy_daily.drawdown IS
	'equity less its running peak (0 or negative); NULL without a daily '
	'bar.';
COMMENT ON COLUMN pgtrade.strategy_daily.computed_at IS
	'When the rollup stored the row.';
GRANT SELECT ON pgtrade.alerts, pgtrade.strategy_daily
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin;
