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
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
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
	/* after each fill, in order: its session day and the position */
	v_fday date[] := '{}';
	v_freal numeric[] := '{}';
	v_fqty numeric[] := '{}';
	v_fcost numeric[] := '{}';
	v_order integer[];
	v_n integer := 0;
	v_j integer := 0;
	v_k integer := 0;
	v_before numeric := 0;
	v_close double precision;	/* the last close known by the day */
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

	/* the fills replayed in memory: no table, so it runs read-only too */
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
			v_pos.realized_pnl, v_f.side, v_f.quantity, v_f.price);
		v_n := v_n + 1;
		v_fday[v_n] := v_f.day;
		v_freal[v_n] := v_pos.realized_pnl;
		v_fqty[v_n] := v_pos.quantity;
		v_fcost[v_n] := v_pos.avg_cost;
	END LOOP;
	IF v_n = 0 THEN
		RETURN;
	END IF;

	/*
	 * Every session with a daily bar from the first fill's day on, and
	 * every fill's day, each marked with the position after the last
	 * fill (in the order they arrived) among those traded by that day.
	 * A late report can bring a fill of an earlier day, so the fills are
	 * walked in the order of their days, keeping the latest arrival.
	 */
	SELECT array_agg(k ORDER BY v_fday[k], k) INTO v_order
	FROM generate_subscripts(v_fday, 1) k;
	/*
	 * A day without a bar (a fill on a weekend, in paper trading) is
	 * marked at the last close before it, as the positions view marks a
	 * position.
	 */
	SELECT b.close INTO v_close FROM pgtrade.bar b
	WHERE b.instrument_id = v_s.instrument_id
		AND b.bar_size = interval '1 day'
		AND (b.ts AT TIME ZONE v_tz)::date < v_fday[v_order[1]]
	ORDER BY b.ts DESC LIMIT 1;
	v_peak := NULL;
	FOR v_day IN
		SELECT d.day, max(d.close) AS close
		FROM (SELECT (b.ts AT TIME ZONE v_tz)::date AS day, b.close
			  FROM pgtrade.bar b
			  WHERE b.instrument_id = v_s.instrument_id
				AND b.bar_size = interval '1 day'
				AND (b.ts AT TIME ZONE v_tz)::date >= v_fday[v_order[1]]
			  UNION ALL
			  SELECT u.day, NULL FROM unnest(v_fday) u(day)) d
		GROUP BY d.day
		ORDER BY d.day
	LOOP
		trades := 0;
		WHILE v_j < v_n AND v_fday[v_order[v_j + 1]] <= v_day.day LOOP
			v_j := v_j + 1;
			v_k := greatest(v_k, v_order[v_j]);
			IF v_fday[v_order[v_j]] = v_day.day THEN
				trades := trades + 1;
			END IF;
		END LOOP;
		day := v_day.day;
		net_position := v_fqty[v_k];
		cumulative_realized := v_freal[v_k];
		realized_pnl := cumulative_realized - v_before;
		v_before := cumulative_realized;
		v_close := coalesce(v_day.close, v_close);
		unrealized_pnl := CASE WHEN net_position = 0 THEN 0
			ELSE net_position * (v_close::numeric - v_fcost[v_k]) END;
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
	'unrealized P&L at the close (the last one before a day without a '
	'bar), equity (realized + unrealized, before commissions) and '
	'drawdown from the running peak.';
