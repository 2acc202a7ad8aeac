/*
 * 55_modify.sql: changing a working order's quantity or prices.
 *
 * pgtrade.modify_order records a request in order_modification (after
 * the risk gate passed the new quantity) and notifies the listener; the
 * order row keeps the terms the broker has confirmed until the broker
 * answers.  The listener sends the request through the same queue as
 * cancels: it marks the request sent (committed before the POST), posts
 * the full order body, and records applied (the order row takes the new
 * terms) or refused (the order is unchanged, the reason is kept).  An
 * answer that was lost is settled from the broker's live orders, never
 * by sending the request again.
 *
 * Locks: modify_order takes the account's gate lock (the same UPDATE of
 * the account row as the gate on INSERT), then the order row.  While a
 * request is open the order counts toward the position limits with the
 * larger of its old and new quantity (open_side_quantities).  Every step
 * writes an order_event.
 */

/*
 * modify_target returns the order's terms after a modification: each
 * NULL argument keeps the current value; prices are rounded to the tick
 * size toward the less aggressive side, as the gate rounds them.
 * Raises on values the order type cannot take.
 */
CREATE FUNCTION pgtrade.modify_target(p_o pgtrade.orders, p_quantity numeric,
	p_limit numeric, p_stop numeric, OUT quantity numeric,
	OUT limit_price numeric, OUT stop_price numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_inst pgtrade.instrument;
	v_up boolean := p_o.side = 'buy';
BEGIN
	SELECT * INTO STRICT v_inst FROM pgtrade.instrument i
	WHERE i.instrument_id = p_o.instrument_id;
	IF p_limit IS NOT NULL AND p_o.order_type NOT IN ('limit', 'stop_limit')
		OR p_stop IS NOT NULL AND p_o.order_type NOT IN ('stop', 'stop_limit') THEN
		RAISE EXCEPTION 'cannot modify order %: a % order has no %',
			p_o.order_id, replace(p_o.order_type, '_', '-'),
			CASE WHEN p_limit IS NOT NULL
					  AND p_o.order_type NOT IN ('limit', 'stop_limit')
				 THEN 'limit price' ELSE 'stop price' END
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (coalesce(p_quantity, 1) > 0 AND coalesce(p_quantity, 1) < 'Infinity'
			AND coalesce(p_limit, 1) > 0 AND coalesce(p_limit, 1) < 'Infinity'
			AND coalesce(p_stop, 1) > 0 AND coalesce(p_stop, 1) < 'Infinity') THEN
		RAISE EXCEPTION 'cannot modify order %: quantity and prices must be positive finite numbers',
			p_o.order_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_quantity % v_inst.lot_size <> 0 THEN
		RAISE EXCEPTION 'cannot modify order %: quantity % is not a multiple of the lot size %',
			p_o.order_id, p_quantity, v_inst.lot_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	quantity := coalesce(p_quantity, p_o.quantity);
	limit_price := coalesce(CASE WHEN v_up
		THEN floor(p_limit / v_inst.tick_size) * v_inst.tick_size
		ELSE ceil(p_limit / v_inst.tick_size) * v_inst.tick_size END,
		p_o.limit_price);
	stop_price := coalesce(CASE WHEN v_up
		THEN ceil(p_stop / v_inst.tick_size) * v_inst.tick_size
		ELSE floor(p_stop / v_inst.tick_size) * v_inst.tick_size END,
		p_o.stop_price);
	IF limit_price <= 0 OR stop_price <= 0 THEN
		RAISE EXCEPTION 'cannot modify order %: price rounds to zero at tick size %',
			p_o.order_id, v_inst.tick_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.modify_target(pgtrade.orders, numeric,
	numeric, numeric) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.modify_target(pgtrade.orders, numeric, numeric,
	numeric) IS
	'Internal: an order''s terms after a modification, prices rounded to '
	'the tick size as the gate rounds them.';

/*
 * modify_check_state raises unless the order may be modified now: it is
 * working, no modification is open, and the new quantity stays above
 * what has filled.
 */
CREATE FUNCTION pgtrade.modify_check_state(p_o pgtrade.orders,
	p_quantity numeric)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_open bigint;
BEGIN
	IF p_o.status = 'cancel_requested' THEN
		RAISE EXCEPTION 'cannot modify order %: a cancel is pending',
			p_o.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	ELSIF p_o.status <> 'working' THEN
		RAISE EXCEPTION 'cannot modify order %: it is %', p_o.order_id,
			p_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = CASE WHEN p_o.status = 'pending'
					THEN 'An order not sent yet is cancelled with pgtrade.cancel_order and placed again.'
					ELSE 'Only working orders can be modified.' END;
	END IF;
	SELECT m.modification_id INTO v_open FROM pgtrade.order_modification m
	WHERE m.order_id = p_o.order_id AND m.status IN ('requested', 'sent');
	IF FOUND THEN
		RAISE EXCEPTION 'cannot modify order %: modification % is still pending',
			p_o.order_id, v_open
			USING ERRCODE = 'object_in_use',
				  HINT = 'Wait until the broker has answered it.';
	END IF;
	IF p_quantity <= p_o.filled_quantity THEN
		RAISE EXCEPTION 'cannot modify order %: quantity % is not above the filled quantity %',
			p_o.order_id, p_quantity, p_o.filled_quantity
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'To stop the rest, cancel the order.';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.modify_check_state(pgtrade.orders,
	numeric) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.modify_check_state(pgtrade.orders, numeric) IS
	'Internal: raises unless an order can be modified now.';

/*
 * modify_gate runs the risk gate for an order with its new quantity and
 * prices and returns the verdict.  A modification that adds nothing to
 * the order's size (a smaller quantity, or prices only) passes the
 * quantity, position, daily loss and short-selling limits it would fail
 * anyway, since it takes no risk on; the order value limit too when the
 * price it is valued at does not rise either; and the price collar for
 * a price it leaves as it was.  Kill switches and halts still refuse
 * it.  The counts of open orders and of the day's orders are not
 * checked: the order is in them already.  The caller holds the
 * account's gate lock.
 */
CREATE FUNCTION pgtrade.modify_gate(p_o pgtrade.orders, p_quantity numeric,
	p_limit numeric, p_stop numeric)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_a pgtrade.account;
	v_new pgtrade.orders := p_o;
	v_verdict jsonb;
	v_no_more boolean;
	v_value_same boolean;
BEGIN
	SELECT * INTO STRICT v_a FROM pgtrade.account a
	WHERE a.account_id = p_o.account_id;
	v_new.quantity := p_quantity;
	v_new.limit_price := p_limit;
	v_new.stop_price := p_stop;
	v_verdict := pgtrade.risk_check(v_new, v_a.halted, v_a.halt_reason, true);
	v_no_more := p_quantity <= p_o.quantity;
	v_value_same := v_no_more AND CASE p_o.order_type
		WHEN 'market' THEN true
		WHEN 'stop' THEN p_stop <= p_o.stop_price
		ELSE p_limit <= p_o.limit_price END;
	IF NOT (v_verdict->>'passed')::boolean AND v_no_more
		AND NOT EXISTS (
			SELECT 1 FROM jsonb_array_elements(v_verdict->'checks') c
			WHERE NOT (c->>'passed')::boolean
				AND NOT (c->>'check' IN ('max_position',
						'max_order_quantity', 'max_position_notional',
						'max_daily_loss', 'allow_short')
					OR (c->>'check' = 'max_order_notional' AND v_value_same)
					OR (c->>'check' = 'price_collar'
						AND (c->>'price')::numeric IS NOT DISTINCT FROM
							CASE c->>'price_kind'
								WHEN 'limit' THEN p_o.limit_price
								ELSE p_o.stop_price END)))
	THEN
		v_verdict := v_verdict || jsonb_build_object('passed', true,
			'reason', 'passed: the modification does not add to the order '
			|| '(' || (v_verdict->>'reason') || ')');
	END IF;
	RETURN v_verdict;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.modify_gate(pgtrade.orders, numeric, numeric,
	numeric) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.modify_gate(pgtrade.orders, numeric, numeric,
	numeric) IS
	'Internal: the risk gate''s verdict on an order''s new quantity and '
	'prices.';

/*
 * modify_request records a modification of a locked, checked order and
 * rings the listener; or records it refused when the gate refuses.  The
 * verdict is modify_gate's unless the caller brings its own (pgtrade's
 * resize of a bracket's exits, which only takes risk off).  The caller
 * holds the account's gate lock and the order's row lock.
 */
CREATE FUNCTION pgtrade.modify_request(p_o pgtrade.orders, p_quantity numeric,
	p_limit numeric, p_stop numeric, p_source text,
	p_verdict jsonb DEFAULT NULL)
RETURNS pgtrade.order_modification
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_verdict jsonb := coalesce(p_verdict,
		pgtrade.modify_gate(p_o, p_quantity, p_limit, p_stop));
	v_m pgtrade.order_modification;
	v_passed boolean;
BEGIN
	v_passed := (v_verdict->>'passed')::boolean;
	INSERT INTO pgtrade.order_modification (order_id, status, old_quantity,
		old_limit_price, old_stop_price, quantity, limit_price, stop_price,
		source, risk_verdict, answered_at, reason)
	VALUES (p_o.order_id, CASE WHEN v_passed THEN 'requested' ELSE 'refused' END,
		p_o.quantity, p_o.limit_price, p_o.stop_price, p_quantity, p_limit,
		p_stop, p_source, v_verdict,
		CASE WHEN NOT v_passed THEN clock_timestamp() END,
		CASE WHEN NOT v_passed THEN 'refused by the risk gate: '
			 || (v_verdict->>'reason') END)
	RETURNING * INTO v_m;
	PERFORM pgtrade.order_note(p_o.order_id, p_o.status, p_source,
		format('modification %s %s: quantity %s -> %s%s%s%s',
			v_m.modification_id,
			CASE WHEN v_passed THEN 'requested' ELSE 'refused by the risk gate' END,
			p_o.quantity, p_quantity,
			CASE WHEN p_o.limit_price IS NOT NULL
				 THEN format(', limit %s -> %s', p_o.limit_price, p_limit)
				 ELSE '' END,
			CASE WHEN p_o.stop_price IS NOT NULL
				 THEN format(', stop %s -> %s', p_o.stop_price, p_stop) ELSE '' END,
			CASE WHEN v_passed THEN '' ELSE ': ' || (v_verdict->>'reason') END),
		v_verdict);
	IF v_passed THEN
		PERFORM pg_notify('pgtrade_order', 'modify ' || p_o.order_id);
	ELSE
		RAISE WARNING 'modification of order % refused by the risk gate: %',
			p_o.order_id, v_verdict->>'reason';
	END IF;
	RETURN v_m;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.modify_request(pgtrade.orders, numeric,
	numeric, numeric, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.modify_request(pgtrade.orders, numeric, numeric,
	numeric, text, jsonb) IS
	'Internal: gates and records a modification of a locked order.';

CREATE FUNCTION pgtrade.modify_order(order_id bigint,
	quantity numeric DEFAULT NULL, limit_price numeric DEFAULT NULL,
	stop_price numeric DEFAULT NULL)
RETURNS pgtrade.order_modification
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders;
	v_t record;
BEGIN
	SELECT * INTO v_o FROM pgtrade.orders o
	WHERE o.order_id = modify_order.order_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', modify_order.order_id
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_o.account_id);
	/* the gate lock first, as the gate on INSERT takes it, then the row */
	UPDATE pgtrade.account a SET gate_seq = a.gate_seq + 1
	WHERE a.account_id = v_o.account_id;
	v_o := pgtrade.lock_order(modify_order.order_id);
	SELECT * INTO v_t FROM pgtrade.modify_target(v_o, modify_order.quantity,
		modify_order.limit_price, modify_order.stop_price) t;
	PERFORM pgtrade.modify_check_state(v_o, v_t.quantity);
	/*
	 * A bracket's exits close what its entry fills: a smaller entry would
	 * leave them closing more than it opened, a larger one part of it
	 * unprotected, and a larger exit would close more than was opened.
	 */
	IF v_t.quantity <> v_o.quantity AND v_o.bracket_role = 'entry'
		AND EXISTS (SELECT 1 FROM pgtrade.orders c
					WHERE c.parent_order_id = v_o.order_id
						AND pgtrade.order_is_open(c.status)) THEN
		RAISE EXCEPTION 'cannot change the quantity of order %: it is the entry '
			'of a bracket',
			v_o.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Its exits close what it fills; cancel the entry, '
					  || 'which cancels them, and place a new bracket.';
	END IF;
	IF v_t.quantity > v_o.quantity AND v_o.parent_order_id IS NOT NULL THEN
		RAISE EXCEPTION 'cannot raise the quantity of order %: it is an exit of '
			'bracket entry %',
			v_o.order_id, v_o.parent_order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'An exit closes only what its entry opened.';
	END IF;
	IF v_t.quantity = v_o.quantity
		AND v_t.limit_price IS NOT DISTINCT FROM v_o.limit_price
		AND v_t.stop_price IS NOT DISTINCT FROM v_o.stop_price THEN
		RAISE EXCEPTION 'cannot modify order %: the new terms equal the current ones',
			v_o.order_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN pgtrade.modify_request(v_o, v_t.quantity, v_t.limit_price,
		v_t.stop_price, 'user ' || pgtrade.caller_role());
END
$$;
COMMENT ON FUNCTION pgtrade.modify_order(bigint, numeric, numeric, numeric) IS
	'Asks the broker to change a working order''s quantity or prices (NULL '
	'keeps a value); the new quantity meets the risk gate.  Returns the '
	'modification: requested, or refused by the gate.';

/*
 * modifications_due lists the modifications the listener must act on:
 * requested ones, to send; and sent ones whose answer was not recorded
 * within resend_after, to settle from the broker's live orders.  Only
 * orders still working qualify; the others are closed by the trigger
 * below.
 */
CREATE FUNCTION pgtrade.modifications_due(accounts text[],
	resend_after interval DEFAULT '30 seconds')
RETURNS TABLE (modification_id bigint, status text, order_id bigint,
	client_order_id text, account_id text, broker_order_id text,
	conid bigint, side text, order_type text, quantity numeric,
	limit_price numeric, stop_price numeric, tif text, outside_rth boolean,
	old_quantity numeric, old_limit_price numeric, old_stop_price numeric)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.modification_id, m.status, o.order_id, o.client_order_id,
		   o.account_id, o.broker_order_id, i.conid, o.side, o.order_type,
		   m.quantity, m.limit_price, m.stop_price, o.tif, o.outside_rth,
		   m.old_quantity, m.old_limit_price, m.old_stop_price
	FROM pgtrade.order_modification m
	JOIN pgtrade.orders o USING (order_id)
	JOIN pgtrade.instrument i USING (instrument_id)
	WHERE o.account_id = ANY ($1) AND o.status = 'working'
		AND o.broker_order_id IS NOT NULL
		AND (m.status = 'requested'
			 OR (m.status = 'sent' AND m.sent_at <= clock_timestamp() - $2))
	ORDER BY m.modification_id;
$$;
COMMENT ON FUNCTION pgtrade.modifications_due(text[], interval) IS
	'Listener: modifications to send (requested) or to settle from the '
	'broker''s live orders (sent, unanswered for resend_after).';

CREATE FUNCTION pgtrade.record_modification_sent(modification_id bigint,
	listener_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_m pgtrade.order_modification;
	v_o pgtrade.orders;
BEGIN
	SELECT * INTO v_m FROM pgtrade.order_modification m
	WHERE m.modification_id = record_modification_sent.modification_id
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'modification % does not exist', modification_id
			USING ERRCODE = 'undefined_object';
	END IF;
	v_o := pgtrade.lock_order(v_m.order_id);
	IF v_m.status <> 'requested' OR v_o.status <> 'working' THEN
		RETURN false;
	END IF;
	UPDATE pgtrade.order_modification m
	SET status = 'sent', sent_at = clock_timestamp(),
		attempts = m.attempts + 1
	WHERE m.modification_id = v_m.modification_id;
	PERFORM pgtrade.order_note(v_o.order_id, v_o.status,
		'listener ' || listener_id,
		format('modification %s sent to the broker for broker order %s',
			   v_m.modification_id, v_o.broker_order_id));
	RETURN true;
END
$$;
COMMENT ON FUNCTION pgtrade.record_modification_sent(bigint, bigint) IS
	'Listener: marks a requested modification sent, committed before the '
	'POST; false when it may no longer be sent.';

CREATE FUNCTION pgtrade.record_modification(modification_id bigint,
	applied boolean, reason text DEFAULT NULL,
	broker_status text DEFAULT NULL, payload jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_m pgtrade.order_modification;
	v_o pgtrade.orders;
BEGIN
	SELECT * INTO v_m FROM pgtrade.order_modification m
	WHERE m.modification_id = record_modification.modification_id
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'modification % does not exist', modification_id
			USING ERRCODE = 'undefined_object';
	END IF;
	v_o := pgtrade.lock_order(v_m.order_id);
	IF v_m.status NOT IN ('requested', 'sent') THEN
		PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'broker',
			format('answer to modification %s ignored: it is already %s',
				   v_m.modification_id, v_m.status), payload);
		RETURN v_m.status;
	END IF;
	UPDATE pgtrade.order_modification m
	SET status = CASE WHEN applied THEN 'applied' ELSE 'refused' END,
		answered_at = clock_timestamp(), reason = record_modification.reason,
		payload = record_modification.payload
	WHERE m.modification_id = v_m.modification_id;
	IF applied THEN
		PERFORM set_config('pgtrade.applying_modification', 'on', true);
		UPDATE pgtrade.orders o
		SET quantity = v_m.quantity, limit_price = v_m.limit_price,
			stop_price = v_m.stop_price
		WHERE o.order_id = v_o.order_id;
		PERFORM set_config('pgtrade.applying_modification', '', true);
	END IF;
	PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'broker',
		format('modification %s %s%s', v_m.modification_id,
			   CASE WHEN applied THEN 'applied: quantity ' || v_m.quantity
					|| coalesce(', limit ' || v_m.limit_price, '')
					|| coalesce(', stop ' || v_m.stop_price, '')
					ELSE 'refused' END,
			   coalesce(': ' || reason, '')), payload);
	IF broker_status IS NOT NULL THEN
		v_o := pgtrade.lock_order(v_m.order_id);
		PERFORM pgtrade.order_apply_broker_status(v_o, broker_status,
			'broker status', payload);
		UPDATE pgtrade.orders o SET broker_status = record_modification.broker_status
		WHERE o.order_id = v_o.order_id;
	END IF;
	/*
	 * A bracket's exit whose entry ended partly filled while this
	 * modification was open was left as it was: resize it now
	 */
	IF v_o.parent_order_id IS NOT NULL THEN
		PERFORM pgtrade.bracket_resize_children(p)
		FROM pgtrade.orders p WHERE p.order_id = v_o.parent_order_id;
	END IF;
	RETURN CASE WHEN applied THEN 'applied' ELSE 'refused' END;
END
$$;
COMMENT ON FUNCTION pgtrade.record_modification(bigint, boolean, text, text,
	jsonb) IS
	'Listener: records the broker''s answer to a modification: applied '
	'(the order takes the new quantity and prices) or refused (unchanged, '
	'with the reason).';

/*
 * order_modification_close refuses the open modification of an order
 * that left working for good (filled, cancelled, rejected): the broker
 * can no longer apply it.  A cancel_requested order keeps its request
 * (the cancel may be refused); it is not sent meanwhile.
 */
CREATE FUNCTION pgtrade.order_modification_close()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
	v_why text := format('the order became %s before the broker applied it',
						 NEW.status);
BEGIN
	UPDATE pgtrade.order_modification m
	SET status = 'refused', answered_at = clock_timestamp(), reason = v_why
	WHERE m.order_id = NEW.order_id AND m.status IN ('requested', 'sent')
	RETURNING m.modification_id INTO v_id;
	IF v_id IS NOT NULL THEN
		PERFORM pgtrade.order_note(NEW.order_id, NEW.status, 'pgtrade',
			format('modification %s refused: %s', v_id, v_why));
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.order_modification_close() IS
	'AFTER UPDATE on orders: refuses the open modification of an order '
	'that ended.';
CREATE TRIGGER order_modification_close AFTER UPDATE ON pgtrade.orders
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
		AND NEW.status IN ('filled', 'cancelled', 'rejected', 'expired'))
	EXECUTE FUNCTION pgtrade.order_modification_close();

GRANT EXECUTE ON FUNCTION
	pgtrade.modify_order(bigint, numeric, numeric, numeric)
	TO pgtrade_trader, pgtrade_admin;
GRANT EXECUTE ON FUNCTION
	pgtrade.modifications_due(text[], interval),
	pgtrade.record_modification_sent(bigint, bigint),
	pgtrade.record_modification(bigint, boolean, text, text, jsonb)
	TO pgtrade_listener;
