/*
 * 85_performance.sql: a strategy's daily performance, computed from its
 * fills and the daily bars.
 *
 * A strategy owns its account's position in its instrument (one strategy
 * per account and instrument), so its P&L is that position's: the fills
 * that count (corrections settled), replayed in the order they first
 * arrived with position_step, grouped by session date in the exchange's
 * time zone, and marked to each session's close.
 */

CREATE FUNCTION pgtrade.strategy_performance(strategy text)
RETURNS TABLE (day date, trades integer, net_position numeric,
	realized_pnl numeric, cumulative_realized numeric,
	unrealized_pnl numeric, equity numeric, drawdown numeric)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
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
	v_seq bigint := 0;
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

	/*
	 * A table of this name made earlier in the session by another role
	 * (a strategy kind's code, say) could carry triggers or rules, and
	 * this function writes it with the owner's rights: such a table is
	 * dropped, one of our own is emptied and used again.
	 */
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
			   WHERE c.oid = pg_catalog.to_regclass('pg_temp.pgtrade_perf_fill')
				 AND (c.relowner <> (SELECT r.oid FROM pg_catalog.pg_roles r
									 WHERE r.rolname = current_user)
					  OR c.relhastriggers OR c.relhasrules
					  OR c.relkind <> 'r')) THEN
		DROP TABLE pg_temp.pgtrade_perf_fill;
	END IF;
	CREATE TEMP TABLE IF NOT EXISTS pgtrade_perf_fill (
		day date, realized numeric, quantity numeric, avg_cost numeric,
		seq bigint) ON COMMIT DROP;
	TRUNCATE pg_temp.pgtrade_perf_fill;
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
									   v_pos.realized_pnl, v_f.side,
									   v_f.quantity, v_f.price);
		v_seq := v_seq + 1;
		INSERT INTO pgtrade_perf_fill
		VALUES (v_f.day, v_pos.realized_pnl, v_pos.quantity, v_pos.avg_cost,
				v_seq);
	END LOOP;

	v_peak := NULL;
	FOR v_day IN
		WITH days AS (
			SELECT (b.ts AT TIME ZONE v_tz)::date AS day, b.close
			FROM pgtrade.bar b
			WHERE b.instrument_id = v_s.instrument_id
				AND b.bar_size = interval '1 day'
				AND (b.ts AT TIME ZONE v_tz)::date >=
					(SELECT min(p.day) FROM pgtrade_perf_fill p)
			UNION
			SELECT p.day, NULL FROM pgtrade_perf_fill p
			WHERE NOT EXISTS (
				SELECT 1 FROM pgtrade.bar b
				WHERE b.instrument_id = v_s.instrument_id
					AND b.bar_size = interval '1 day'
					AND (b.ts AT TIME ZONE v_tz)::date = p.day))
		/*
		 * Columns, not the temporary table's whole row: that row type is
		 * dropped with the table at commit, and a later call in the same
		 * session would still look for it.
		 */
		SELECT d.day, d.close,
			   (SELECT count(*) FROM pgtrade_perf_fill p
				WHERE p.day = d.day)::integer AS trades,
			   l.quantity AS last_quantity, l.realized AS last_realized,
			   l.avg_cost AS last_avg_cost
		FROM days d
		LEFT JOIN LATERAL (
			SELECT p.quantity, p.realized, p.avg_cost
			FROM pgtrade_perf_fill p WHERE p.day <= d.day
			ORDER BY p.seq DESC LIMIT 1) l ON true
		ORDER BY d.day
	LOOP
		day := v_day.day;
		trades := v_day.trades;
		net_position := v_day.last_quantity;
		cumulative_realized := v_day.last_realized;
		realized_pnl := cumulative_realized - coalesce((
			SELECT p.realized FROM pgtrade_perf_fill p WHERE p.day < v_day.day
			ORDER BY p.seq DESC LIMIT 1), 0);
		unrealized_pnl := CASE WHEN net_position = 0 THEN 0
			ELSE net_position * (v_day.close::numeric - v_day.last_avg_cost) END;
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
	'unrealized P&L at the close, equity (realized + unrealized, before '
	'commissions) and drawdown from the running peak.';
