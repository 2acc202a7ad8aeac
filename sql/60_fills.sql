/*
 * 60_fills.sql: fills move orders and positions.
 *
 * An execution is inserted with ON CONFLICT (execution_id) DO NOTHING; the
 * AFTER INSERT trigger below is what moves the order's filled quantity
 * and the position, and it fires only for a row that was really inserted.
 * A fill recorded twice therefore changes nothing.  Arithmetic is numeric
 * throughout; average prices are exact quotients, not rounded.
 */

/*
 * position_step is the arithmetic of one execution against a position:
 * it extends the position at a new average cost, or closes part of it
 * and realizes profit and loss at the average cost, or flips it through
 * zero.  Pure, so positions and performance reports share it.
 *
 * A position may hold shares of unknown cost (an adjustment opened it or
 * flipped it: avg_cost NULL with a quantity).  Closing part of those
 * realizes nothing, as there is nothing to measure against; adding to
 * them gives the whole position the execution's price as its cost, so
 * no profit is made up from a cost of zero.
 */
CREATE FUNCTION pgtrade.position_step(INOUT quantity numeric,
	INOUT avg_cost numeric, INOUT realized_pnl numeric, side text,
	fill_quantity numeric, fill_price numeric)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
	v_signed numeric := CASE side WHEN 'buy' THEN fill_quantity
								  ELSE -fill_quantity END;
	v_new numeric := quantity + v_signed;
BEGIN
	IF quantity = 0 OR sign(quantity) = sign(v_signed) THEN
		/* opening or adding: weighted average cost */
		IF quantity <> 0 AND avg_cost IS NULL THEN
			avg_cost := fill_price;
		ELSE
			avg_cost := (abs(quantity) * coalesce(avg_cost, 0)
						 + fill_quantity * fill_price) / abs(v_new);
		END IF;
	ELSE
		/* reducing, closing or flipping; shares of unknown cost realize 0 */
		realized_pnl := realized_pnl + coalesce(least(abs(quantity),
			fill_quantity) * (fill_price - avg_cost) * sign(quantity), 0);
		IF v_new = 0 THEN
			avg_cost := NULL;
		ELSIF sign(v_new) <> sign(quantity) THEN
			avg_cost := fill_price;
		END IF;
	END IF;
	quantity := v_new;
END
$$;
COMMENT ON FUNCTION pgtrade.position_step(numeric, numeric, numeric, text,
	numeric, numeric) IS
	'The arithmetic of one execution against a position: new quantity, '
	'average cost and realized P&L.';

/*
 * position_day_roll keeps position.day_start_realized: the first change
 * of a position on a new trading day of its account (account.time_zone)
 * records the realized P&L that day began with, so that the day's own
 * is realized_pnl less it.
 */
CREATE FUNCTION pgtrade.position_day_roll()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_today date := pgtrade.account_today(NEW.account_id);
BEGIN
	IF OLD.day IS DISTINCT FROM v_today THEN
		NEW.day_start_realized := OLD.realized_pnl;
		NEW.day := v_today;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgtrade.position_day_roll() IS
	'BEFORE UPDATE on position: notes the realized P&L a trading day '
	'began with.';
CREATE TRIGGER position_day_roll BEFORE UPDATE ON pgtrade.position
	FOR EACH ROW EXECUTE FUNCTION pgtrade.position_day_roll();

/*
 * position_apply adds one execution to a stored position.
 */
CREATE FUNCTION pgtrade.position_apply(p_account text, p_instrument bigint,
	p_side text, p_quantity numeric, p_price numeric)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_pos pgtrade.position;
	v_step record;
BEGIN
	INSERT INTO pgtrade.position (account_id, instrument_id)
	VALUES (p_account, p_instrument) ON CONFLICT DO NOTHING;
	SELECT * INTO STRICT v_pos FROM pgtrade.position
	WHERE account_id = p_account AND instrument_id = p_instrument FOR UPDATE;
	v_step := pgtrade.position_step(v_pos.quantity, v_pos.avg_cost,
									v_pos.realized_pnl, p_side, p_quantity,
									p_price);
	UPDATE pgtrade.position
	SET quantity = v_step.quantity, avg_cost = v_step.avg_cost,
		realized_pnl = v_step.realized_pnl, updated_at = now()
	WHERE account_id = p_account AND instrument_id = p_instrument;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.position_apply(text, bigint, text, numeric,
	numeric) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_apply(text, bigint, text, numeric,
	numeric) IS
	'Internal: applies one execution to a position (average cost, '
	'realized P&L).';

/*
 * fill_is_effective: true unless a correction replaced the execution.
 */
CREATE FUNCTION pgtrade.fill_is_effective(execution_id text)
RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT NOT EXISTS (SELECT 1 FROM pgtrade.fill_correction c
					   WHERE c.corrected_execution_id = $1);
$$;
COMMENT ON FUNCTION pgtrade.fill_is_effective(text) IS
	'True unless a later correction of the same execution replaced this one.';

/*
 * position_rebuild recomputes a position from its effective fills and
 * its adjustments (position_adjustment, 72_drift.sql), in the order they
 * first arrived (a correction takes the place of the execution it
 * corrects), so it matches what applying them one by one would have
 * given.
 */
CREATE FUNCTION pgtrade.position_rebuild(p_account text, p_instrument bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_f record;
BEGIN
	UPDATE pgtrade.position
	SET quantity = 0, avg_cost = NULL, realized_pnl = 0, updated_at = now()
	WHERE account_id = p_account AND instrument_id = p_instrument;
	FOR v_f IN
		SELECT x.side, x.quantity, x.price FROM (
			SELECT f.side, f.quantity, f.price,
				   (SELECT min(g.recorded_at) FROM pgtrade.fill g
					WHERE g.execution_base = f.execution_base) AS at,
				   (SELECT min(g.fill_id) FROM pgtrade.fill g
					WHERE g.execution_base = f.execution_base) AS first_id,
				   f.fill_id AS id
			FROM pgtrade.fill f
			WHERE f.account_id = p_account AND f.instrument_id = p_instrument
				AND pgtrade.fill_is_effective(f.execution_id)
			UNION ALL
			SELECT NULL, a.quantity, NULL, a.created_at, 0, a.adjustment_id
			FROM pgtrade.position_adjustment a
			WHERE a.account_id = p_account AND a.instrument_id = p_instrument
		) x
		ORDER BY x.at, x.first_id, x.id
	LOOP
		IF v_f.side IS NULL THEN
			PERFORM pgtrade.position_adjust(p_account, p_instrument,
											v_f.quantity);
		ELSE
			PERFORM pgtrade.position_apply(p_account, p_instrument,
										   v_f.side, v_f.quantity,
										   v_f.price);
		END IF;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.position_rebuild(text, bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_rebuild(text, bigint) IS
	'Internal: recomputes a position from its effective fills and its '
	'adjustments.';

/*
 * fill_correct settles the executions sharing one base id: the one with
 * the highest last segment counts, the others are recorded as corrected,
 * and the positions and orders they touch are recomputed.  A correction
 * that arrives before the execution it corrects is handled the same way.
 */
CREATE FUNCTION pgtrade.fill_correct(p_base text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_win pgtrade.fill;
	v_r record;
	v_o pgtrade.orders;
	v_q numeric;
	v_avg numeric;
BEGIN
	SELECT * INTO STRICT v_win FROM pgtrade.fill f
	WHERE f.execution_base = p_base
	ORDER BY CASE WHEN substring(f.execution_id from '[^.]*$') ~ '^\d+$'
				  THEN substring(f.execution_id from '[^.]*$')::numeric END
				 DESC NULLS LAST,
			 substring(f.execution_id from '[^.]*$') DESC, f.fill_id DESC
	LIMIT 1;
	DELETE FROM pgtrade.fill_correction c
	WHERE c.corrected_execution_id = v_win.execution_id;
	INSERT INTO pgtrade.fill_correction (corrected_execution_id,
										 by_execution_id)
	SELECT f.execution_id, v_win.execution_id FROM pgtrade.fill f
	WHERE f.execution_base = p_base AND f.fill_id <> v_win.fill_id
	ON CONFLICT (corrected_execution_id) DO UPDATE
		SET by_execution_id = EXCLUDED.by_execution_id;

	FOR v_r IN SELECT DISTINCT f.account_id, f.instrument_id
			   FROM pgtrade.fill f WHERE f.execution_base = p_base LOOP
		PERFORM pgtrade.position_rebuild(v_r.account_id, v_r.instrument_id);
	END LOOP;

	FOR v_o IN SELECT o.* FROM pgtrade.orders o
			   WHERE o.order_id IN (SELECT f.order_id FROM pgtrade.fill f
									WHERE f.execution_base = p_base)
			   FOR UPDATE LOOP
		SELECT coalesce(sum(f.quantity), 0),
			   sum(f.quantity * f.price) / nullif(sum(f.quantity), 0)
		INTO v_q, v_avg
		FROM pgtrade.fill f
		WHERE f.order_id = v_o.order_id
			AND pgtrade.fill_is_effective(f.execution_id);
		UPDATE pgtrade.orders SET filled_quantity = v_q, avg_fill_price = v_avg
		WHERE order_id = v_o.order_id;
		PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'fill',
			format('execution %s counts in place of its corrections: filled %s at average %s',
				   v_win.execution_id, v_q, v_avg), v_win.payload);
		IF v_q >= v_o.quantity AND v_o.status IN ('submitting', 'working',
			'cancel_requested', 'unknown') THEN
			PERFORM pgtrade.order_move(v_o.order_id, 'filled', 'fill',
				format('filled %s at average %s', v_q, v_avg));
		END IF;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.fill_correct(text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.fill_correct(text) IS
	'Internal: lets the latest correction of an execution count and '
	'recomputes the positions and orders it touches.';

/*
 * bracket_check_exits raises an alert when a bracket's exits together
 * have filled more than their entry: more than its quantity while it is
 * open, more than it filled once it ended.  The broker filled both exits
 * (their group lost), or an exit at its full size before it was resized
 * to a partly filled entry: the position went past flat.  Once per entry
 * until the alert is acknowledged.
 */
CREATE FUNCTION pgtrade.bracket_check_exits(p_entry bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_e pgtrade.orders;
	v_cap numeric;
	v_exits numeric;
BEGIN
	SELECT * INTO v_e FROM pgtrade.orders o WHERE o.order_id = p_entry;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	v_cap := CASE WHEN pgtrade.order_is_open(v_e.status) THEN v_e.quantity
		ELSE greatest(v_e.filled_quantity, v_e.broker_filled_quantity) END;
	SELECT sum(o.filled_quantity) INTO v_exits FROM pgtrade.orders o
	WHERE o.parent_order_id = p_entry;
	IF v_exits > v_cap AND NOT EXISTS (
		SELECT 1 FROM pgtrade.alert a
		WHERE a.kind = 'order_mismatch' AND a.order_id = p_entry
			AND a.acknowledged_at IS NULL
			AND a.message LIKE 'the exits of entry order %') THEN
		PERFORM pgtrade.raise_alert('order_mismatch', v_e.account_id,
			v_e.strategy_id, v_e.order_id, v_e.status,
			format('the exits of entry order %s are filled %s together, more '
				   'than the %s it %s: the position went past flat (both '
				   'exits filled, or one before it was resized); check it at '
				   'the broker (the fills count in it)', p_entry, v_exits,
				   v_cap, CASE WHEN pgtrade.order_is_open(v_e.status)
							   THEN 'is for' ELSE 'filled' END));
	END IF;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bracket_check_exits(bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bracket_check_exits(bigint) IS
	'Internal: alerts when a bracket''s exits filled more than its entry.';

CREATE FUNCTION pgtrade.fill_after_insert()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_order pgtrade.orders;
	v_filled numeric;
BEGIN
	IF EXISTS (SELECT 1 FROM pgtrade.fill f
			   WHERE f.execution_base = NEW.execution_base
				 AND f.fill_id <> NEW.fill_id) THEN
		PERFORM pgtrade.fill_correct(NEW.execution_base);
		RETURN NULL;
	END IF;
	PERFORM pgtrade.position_apply(NEW.account_id, NEW.instrument_id,
		NEW.side, NEW.quantity, NEW.price);
	IF NEW.order_id IS NULL THEN
		RETURN NULL;
	END IF;

	SELECT * INTO STRICT v_order FROM pgtrade.orders
	WHERE order_id = NEW.order_id FOR UPDATE;
	v_filled := v_order.filled_quantity + NEW.quantity;
	UPDATE pgtrade.orders
	SET filled_quantity = v_filled,
		avg_fill_price = (v_order.filled_quantity
						  * coalesce(v_order.avg_fill_price, 0)
						  + NEW.quantity * NEW.price) / v_filled
	WHERE order_id = NEW.order_id;

	PERFORM pgtrade.order_note(NEW.order_id, v_order.status, 'fill',
		format('execution %s: %s %s at %s (filled %s of %s)',
			   NEW.execution_id, NEW.side, NEW.quantity, NEW.price,
			   v_filled, v_order.quantity), NEW.payload);
	/*
	 * The fill counts either way (it happened); an alert when the broker
	 * and pgtrade disagree on the order: one that traded after it ended
	 * otherwise, or beyond its quantity
	 */
	IF v_order.status IN ('rejected', 'cancelled', 'expired', 'refused') THEN
		PERFORM pgtrade.raise_alert('order_mismatch', v_order.account_id,
			v_order.strategy_id, v_order.order_id, v_order.status,
			format('order %s (%s) is %s, yet execution %s fills %s of it: '
				   'the broker traded it; check the order there (the fill '
				   'counts in the position)', NEW.order_id,
				   v_order.client_order_id, v_order.status, NEW.execution_id,
				   NEW.quantity));
	ELSIF v_filled > v_order.quantity THEN
		PERFORM pgtrade.raise_alert('order_mismatch', v_order.account_id,
			v_order.strategy_id, v_order.order_id, v_order.status,
			format('order %s (%s) is filled %s of its %s: the broker''s order '
				   'is larger than pgtrade''s, a modification it applied that '
				   'pgtrade did not record perhaps; check the order there '
				   '(the fills count in the position)', NEW.order_id,
				   v_order.client_order_id, v_filled, v_order.quantity));
	END IF;
	IF v_order.parent_order_id IS NOT NULL THEN
		PERFORM pgtrade.bracket_check_exits(v_order.parent_order_id);
	END IF;
	IF v_filled >= v_order.quantity
		AND v_order.status IN ('submitting', 'working', 'cancel_requested',
							   'unknown') THEN
		PERFORM pgtrade.order_move(NEW.order_id, 'filled', 'fill',
			format('filled %s at average %s', v_filled,
				   (SELECT avg_fill_price FROM pgtrade.orders
					WHERE order_id = NEW.order_id)));
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.fill_after_insert() IS
	'AFTER INSERT on fill: moves the position and the order''s filled '
	'quantity and average price; fires only for rows really inserted.';
CREATE TRIGGER fill_after_insert AFTER INSERT ON pgtrade.fill
	FOR EACH ROW EXECUTE FUNCTION pgtrade.fill_after_insert();

CREATE FUNCTION pgtrade.fill_immutable()
RETURNS trigger
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
	RAISE EXCEPTION 'fills are append-only'
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  DETAIL = 'Positions are the sum of fills; a changed or deleted '
			     || 'fill would break that.';
END
$$;
COMMENT ON FUNCTION pgtrade.fill_immutable() IS
	'Refuses UPDATE and DELETE on fill: positions are the sum of fills.';
CREATE TRIGGER fill_immutable BEFORE UPDATE OR DELETE ON pgtrade.fill
	FOR EACH ROW EXECUTE FUNCTION pgtrade.fill_immutable();
