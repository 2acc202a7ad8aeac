/*
 * 76_paper.sql: paper trading, orders filled from stored bars by a
 * listener started with --paper instead of being sent to a broker.
 *
 * A paper listener claims orders with claim_order like a live one (same
 * leases, kill switch and valid_until checks), then calls paper_accept,
 * which records the acknowledgement through record_submission with the
 * broker order id 'PAPER-<cOID>'; paper_step fills a working paper order
 * from the instrument's latest ended bar through record_fill, with the
 * execution id 'PAPER-<cOID>-1', or leaves it working, or cancels it
 * (IOC left unfilled, DAY past its session close) through record_status.
 * Everything a paper listener writes carries "paper": true in its event
 * or fill payload, and its ids start with PAPER-, so positions,
 * performance and the views work unchanged and paper rows can be told
 * apart.
 *
 * Each function does its whole step in one transaction under the
 * order's row lock, so a fill and the order's move are never apart.
 */

/*
 * paper_price returns the price of a paper fill: the reference moved by
 * slippage_bps against the trader, then rounded to the tick against the
 * trader too (buys up, sells down).
 */
CREATE FUNCTION pgtrade.paper_price(side text, reference numeric,
	slippage_bps numeric, tick_size numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE $1
		WHEN 'buy' THEN ceil($2 * (1 + $3 / 10000) / $4) * $4
		WHEN 'sell' THEN floor($2 * (1 - $3 / 10000) / $4) * $4
		END;
$$;
COMMENT ON FUNCTION pgtrade.paper_price(text, numeric, numeric, numeric) IS
	'Paper fill price: buys pay reference x (1 + bps/10000) rounded up to '
	'the tick, sells get reference x (1 - bps/10000) rounded down.';

/*
 * paper_latest_bar returns the instrument's bar that ended last (of any
 * bar size; the shorter size on a tie), or NULL.
 */
CREATE FUNCTION pgtrade.paper_latest_bar(p_instrument pgtrade.instrument)
RETURNS pgtrade.bar
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT x.b
	FROM (SELECT DISTINCT s.bar_size FROM pgtrade.bar s
		  WHERE s.instrument_id = $1.instrument_id) z
	CROSS JOIN LATERAL (
		SELECT b, pgtrade.bar_end(b.ts, b.bar_size, $1.time_zone,
								  $1.session_close) AS ended
		FROM pgtrade.bar b
		WHERE b.instrument_id = $1.instrument_id AND b.bar_size = z.bar_size
			AND pgtrade.bar_end(b.ts, b.bar_size, $1.time_zone,
								$1.session_close) <= now()
		ORDER BY b.ts DESC LIMIT 1) x
	ORDER BY x.ended DESC, z.bar_size LIMIT 1;
$$;
REVOKE ALL ON FUNCTION pgtrade.paper_latest_bar(pgtrade.instrument)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.paper_latest_bar(pgtrade.instrument) IS
	'Internal to paper_step: the instrument''s bar that ended last.';

/*
 * paper_day_close returns when a DAY order submitted at submitted_at
 * expires: the first session close after it in the exchange zone.
 * Weekends and holidays are not skipped.
 */
CREATE FUNCTION pgtrade.paper_day_close(submitted_at timestamptz,
	time_zone text, session_close time)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE WHEN c > $1 THEN c
				ELSE ((($1 AT TIME ZONE $2)::date + 1) + $3) AT TIME ZONE $2
		   END
	FROM (SELECT ((($1 AT TIME ZONE $2)::date) + $3) AT TIME ZONE $2 AS c) d;
$$;
COMMENT ON FUNCTION pgtrade.paper_day_close(timestamptz, text, time) IS
	'When a paper DAY order expires: the first session close after its '
	'submission, in the exchange zone (weekends and holidays not '
	'skipped).';

CREATE FUNCTION pgtrade.paper_accept(order_id bigint, listener_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(paper_accept.order_id);
BEGIN
	IF v_o.status <> 'submitting' THEN
		RETURN v_o.status;
	END IF;
	IF v_o.claimed_by IS DISTINCT FROM paper_accept.listener_id THEN
		/* another process claimed it and may have sent it anywhere */
		PERFORM pgtrade.record_unknown(v_o.order_id, pg_catalog.format(
			'claimed by listener %s, which never recorded an answer; a paper '
			'listener cannot ask a broker', v_o.claimed_by));
		RETURN 'unknown';
	END IF;
	RETURN pgtrade.record_submission(v_o.order_id,
		'PAPER-' || v_o.client_order_id, 'Submitted',
		jsonb_build_object('paper', true,
						   'listener_id', paper_accept.listener_id));
END
$$;
COMMENT ON FUNCTION pgtrade.paper_accept(bigint, bigint) IS
	'Paper listener: acknowledges an order it claimed as paper order '
	'PAPER-<cOID> (working); an order claimed by another listener process '
	'becomes unknown instead.';

/*
 * paper_fill_price decides the fill price of a working paper order on
 * one bar, or NULL when the order does not fill on it.  A stop is
 * elected by a bar whose high (buy) or low (sell) reaches the stop, or
 * was elected earlier (p_elected); an elected stop fills from the worse
 * of close and stop.  Limits fill when the price is at or better than
 * the limit.
 */
CREATE FUNCTION pgtrade.paper_fill_price(p_o pgtrade.orders,
	p_bar pgtrade.bar, p_elected boolean, p_slippage_bps numeric,
	p_tick numeric)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_close numeric := p_bar.close::numeric;
	v_ref numeric := v_close;
	v_price numeric;
BEGIN
	IF p_o.order_type IN ('stop', 'stop_limit') THEN
		IF NOT (p_elected
				OR (p_o.side = 'buy' AND p_bar.high >= p_o.stop_price)
				OR (p_o.side = 'sell' AND p_bar.low <= p_o.stop_price)) THEN
			RETURN NULL;
		END IF;
		v_ref := CASE p_o.side WHEN 'buy' THEN greatest(v_close, p_o.stop_price)
							   ELSE least(v_close, p_o.stop_price) END;
	END IF;
	v_price := pgtrade.paper_price(p_o.side, v_ref, p_slippage_bps, p_tick);
	IF v_price <= 0 THEN
		RETURN NULL;
	END IF;
	IF p_o.order_type IN ('limit', 'stop_limit')
		AND ((p_o.side = 'buy' AND v_price > p_o.limit_price)
			 OR (p_o.side = 'sell' AND v_price < p_o.limit_price)) THEN
		RETURN NULL;
	END IF;
	RETURN v_price;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.paper_fill_price(pgtrade.orders, pgtrade.bar,
	boolean, numeric, numeric) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.paper_fill_price(pgtrade.orders, pgtrade.bar,
	boolean, numeric, numeric) IS
	'Internal to paper_step: the price a paper order fills at on a bar, '
	'or NULL when it does not fill.';

/*
 * paper_end ends a working paper order without a fill (IOC left
 * unfilled, DAY past its close) as the broker would: status Cancelled.
 */
CREATE FUNCTION pgtrade.paper_end(p_o pgtrade.orders, p_why text,
	p_payload jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pgtrade.order_note(p_o.order_id, p_o.status, 'paper',
		'paper: ' || p_why, p_payload);
	RETURN pgtrade.record_status(p_o.order_id, 'Cancelled',
		p_o.filled_quantity, NULL, p_payload);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.paper_end(pgtrade.orders, text, jsonb)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.paper_end(pgtrade.orders, text, jsonb) IS
	'Internal to paper_step: cancels a paper order that cannot fill any '
	'more, with the reason.';

CREATE FUNCTION pgtrade.paper_step(order_id bigint, slippage_bps numeric,
	max_bar_age interval DEFAULT NULL)
RETURNS TABLE (outcome text, status text, price numeric,
	bar_ts timestamptz, detail text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(paper_step.order_id);
	v_i pgtrade.instrument;
	v_bar pgtrade.bar;
	v_test pgtrade.bar;	/* the bar as it may elect a stop */
	v_ended timestamptz;
	v_age interval;
	v_elected boolean;
	v_payload jsonb;
	v_sib pgtrade.orders;
BEGIN
	IF v_o.status <> 'working' OR v_o.broker_order_id IS NULL
		OR v_o.broker_order_id <> 'PAPER-' || v_o.client_order_id THEN
		RETURN QUERY SELECT 'ignored', v_o.status, NULL::numeric,
			NULL::timestamptz, 'not a working paper order'::text;
		RETURN;
	END IF;
	IF slippage_bps IS NULL OR slippage_bps < 0 THEN
		RAISE EXCEPTION 'slippage must be zero or more basis points'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v_i FROM pgtrade.instrument i
	WHERE i.instrument_id = v_o.instrument_id;
	v_bar := pgtrade.paper_latest_bar(v_i);
	v_ended := pgtrade.bar_end(v_bar.ts, v_bar.bar_size, v_i.time_zone,
							   v_i.session_close);
	v_payload := jsonb_build_object('paper', true, 'bar_ts', v_bar.ts,
		'bar_size', v_bar.bar_size, 'close', v_bar.close,
		'slippage_bps', slippage_bps, 'tick_size', v_i.tick_size);

	IF v_o.tif = 'day' AND now() >= pgtrade.paper_day_close(
			v_o.submitted_at, v_i.time_zone, v_i.session_close) THEN
		RETURN QUERY SELECT 'cancelled', pgtrade.paper_end(v_o,
			'DAY order expired at the session close', v_payload),
			NULL::numeric, v_bar.ts, 'DAY order expired at the session close';
		RETURN;
	END IF;

	/* the strategy's staleness rule, as run_strategy applies it */
	SELECT coalesce(paper_step.max_bar_age, s.max_bar_age,
		CASE WHEN v_bar.bar_size >= interval '1 day' THEN interval '5 days'
			 ELSE greatest(interval '15 minutes', 3 * v_bar.bar_size) END)
	INTO v_age
	FROM (SELECT NULL) one
	LEFT JOIN pgtrade.strategy s ON s.strategy_id = v_o.strategy_id;
	IF v_ended IS NULL OR v_ended < now() - v_age THEN
		detail := CASE WHEN v_ended IS NULL
			THEN pg_catalog.format('no ended bar of %s', v_i.symbol)
			ELSE pg_catalog.format('the last bar of %s ended %s, longer than %s ago',
								   v_i.symbol, v_ended, v_age) END;
		IF v_o.tif = 'ioc' THEN
			RETURN QUERY SELECT 'cancelled', pgtrade.paper_end(v_o,
				'IOC order not filled: ' || detail, v_payload),
				NULL::numeric, v_bar.ts, detail;
		ELSE
			RETURN QUERY SELECT 'stale', v_o.status, NULL::numeric,
				v_bar.ts, detail;
		END IF;
		RETURN;
	END IF;

	v_elected := EXISTS (SELECT 1 FROM pgtrade.order_event e
		WHERE e.order_id = v_o.order_id AND e.source = 'paper'
			AND e.detail LIKE 'paper: stop elected%');
	/*
	 * A bar that ended before the order was placed elects a stop by its
	 * close alone, the price when the order came: not by a high or low
	 * traded before the order existed.
	 */
	v_test := v_bar;
	IF v_ended <= v_o.created_at THEN
		v_test.high := v_bar.close;
		v_test.low := v_bar.close;
	END IF;
	price := pgtrade.paper_fill_price(v_o, v_test, v_elected, slippage_bps,
									  v_i.tick_size);
	IF NOT v_elected AND v_o.order_type IN ('stop', 'stop_limit')
		AND (price IS NOT NULL
			 OR (v_o.side = 'buy' AND v_test.high >= v_o.stop_price)
			 OR (v_o.side = 'sell' AND v_test.low <= v_o.stop_price)) THEN
		PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'paper',
			pg_catalog.format('paper: stop elected by the %s bar of %s (high '
				'%s, low %s)', pgtrade.bar_size_label(v_bar.bar_size),
				v_bar.ts, v_test.high, v_test.low),
			v_payload);
	END IF;
	IF price IS NULL THEN
		IF v_o.tif = 'ioc' THEN
			RETURN QUERY SELECT 'cancelled', pgtrade.paper_end(v_o,
				'IOC order not filled on the last bar', v_payload),
				NULL::numeric, v_bar.ts, 'IOC order not filled on the last bar';
		ELSE
			RETURN QUERY SELECT 'working', v_o.status, NULL::numeric,
				v_bar.ts, pg_catalog.format(
					'not fillable on the bar of %s (close %s)', v_bar.ts,
					v_bar.close);
		END IF;
		RETURN;
	END IF;

	PERFORM pgtrade.record_fill('PAPER-' || v_o.client_order_id || '-1',
		v_o.client_order_id, v_o.account_id, v_i.conid, v_o.side,
		v_o.quantity - v_o.filled_quantity, price, now(), NULL,
		v_payload || jsonb_build_object('symbol', v_i.symbol));
	/*
	 * A bracket's exits are one group at the broker: a fill of one
	 * cancels the other.  The paper broker does the same.
	 */
	IF v_o.oca_group IS NOT NULL THEN
		FOR v_sib IN
			SELECT o.* FROM pgtrade.orders o
			WHERE o.oca_group = v_o.oca_group AND o.order_id <> v_o.order_id
				AND o.status IN ('working', 'cancel_requested')
			ORDER BY o.order_id
			FOR UPDATE
		LOOP
			PERFORM pgtrade.paper_end(v_sib, pg_catalog.format(
				'one-cancels-other: order %s of its group filled',
				v_o.order_id), v_payload);
		END LOOP;
	END IF;
	RETURN QUERY SELECT 'filled',
		(SELECT o.status FROM pgtrade.orders o WHERE o.order_id = v_o.order_id),
		price, v_bar.ts,
		pg_catalog.format('%s %s at %s from the close %s of the %s bar of %s',
			v_o.side, v_o.quantity - v_o.filled_quantity, price, v_bar.close,
			pgtrade.bar_size_label(v_bar.bar_size), v_bar.ts);
END
$$;
COMMENT ON FUNCTION pgtrade.paper_step(bigint, numeric, interval) IS
	'Paper listener: fills a working paper order from the latest ended '
	'bar (close with slippage, rounded to the tick against the trader), '
	'or leaves it working (limit not reached, stop not elected, bar too '
	'old), or cancels it (IOC not filled, DAY past its close).';

CREATE FUNCTION pgtrade.paper_cancel(order_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(paper_cancel.order_id);
	v_payload jsonb := jsonb_build_object('paper', true);
BEGIN
	IF v_o.broker_order_id IS DISTINCT FROM 'PAPER-' || v_o.client_order_id THEN
		RAISE EXCEPTION 'order % is not a paper order', v_o.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Its broker order id is %s.',
					coalesce(v_o.broker_order_id, 'not known'));
	END IF;
	IF v_o.status <> 'cancel_requested' THEN
		RETURN v_o.status;
	END IF;
	PERFORM pgtrade.record_cancel_sent(v_o.order_id, v_payload);
	RETURN pgtrade.record_status(v_o.order_id, 'Cancelled',
		v_o.filled_quantity, NULL, v_payload);
END
$$;
COMMENT ON FUNCTION pgtrade.paper_cancel(bigint) IS
	'Paper listener: carries out the cancel of a paper order in '
	'cancel_requested (it becomes cancelled).';

GRANT EXECUTE ON FUNCTION
	pgtrade.paper_accept(bigint, bigint),
	pgtrade.paper_step(bigint, numeric, interval),
	pgtrade.paper_cancel(bigint)
	TO pgtrade_listener;

/*
 * paper_modify carries out a modification of a paper order, as a broker
 * answers one: marked sent, then applied, or refused when it would leave
 * less to the order than has already filled.  The gate checked it when
 * it was asked for (modify_order); the order's next paper_step prices
 * with what it changed.
 */
CREATE FUNCTION pgtrade.paper_modify(modification_id bigint,
	listener_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_m pgtrade.order_modification;
	v_o pgtrade.orders;
	v_payload jsonb := jsonb_build_object('paper', true);
BEGIN
	SELECT * INTO v_m FROM pgtrade.order_modification m
	WHERE m.modification_id = paper_modify.modification_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'modification % does not exist', modification_id
			USING ERRCODE = 'undefined_object';
	END IF;
	v_o := pgtrade.lock_order(v_m.order_id);
	IF v_o.broker_order_id IS DISTINCT FROM 'PAPER-' || v_o.client_order_id THEN
		RAISE EXCEPTION 'order % is not a paper order', v_o.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Its broker order id is %s.',
					coalesce(v_o.broker_order_id, 'not known'));
	END IF;
	IF v_m.status = 'requested' AND NOT pgtrade.record_modification_sent(
			v_m.modification_id, listener_id) THEN
		RETURN (SELECT m.status FROM pgtrade.order_modification m
				WHERE m.modification_id = v_m.modification_id);
	END IF;
	IF v_m.quantity < v_o.filled_quantity THEN
		RETURN pgtrade.record_modification(v_m.modification_id, false,
			pg_catalog.format('paper: %s already filled, more than the '
				'new quantity %s', v_o.filled_quantity, v_m.quantity),
			NULL, v_payload);
	END IF;
	RETURN pgtrade.record_modification(v_m.modification_id, true, NULL, NULL,
		v_payload);
END
$$;
COMMENT ON FUNCTION pgtrade.paper_modify(bigint, bigint) IS
	'Paper listener: carries out a requested modification of a paper '
	'order (applied, or refused below the filled quantity).';
REVOKE ALL ON FUNCTION pgtrade.paper_modify(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgtrade.paper_modify(bigint, bigint)
	TO pgtrade_listener;
