/*
 * 56_bracket.sql: bracket orders.
 *
 * pgtrade.place_bracket makes three orders in one transaction: the entry
 * (parent), a take-profit limit and a stop-loss stop on the other side
 * (children), each through the risk gate.  The children carry the
 * parent's id and share an OCA group, so the broker cancels one when the
 * other fills and the gate counts the group once.  They are never
 * claimed alone: claim_orders claims a parent together with its pending
 * children, and the listener sends the three order bodies in one request.
 *
 * When the parent ends without filling, pending children are cancelled;
 * when it ends partially filled, both children are modified (through
 * order_modification, like pgtrade.modify_order) to the parent's filled
 * quantity.  Every move writes an order_event.
 */

/*
 * oca_open_quantity returns the largest open rest among the members of
 * an OCA group on one side, leaving one order out: what the group
 * already counts for in open_side_quantities.
 */
CREATE FUNCTION pgtrade.oca_open_quantity(oca_group text, side text,
	except_order bigint DEFAULT NULL)
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(max(greatest(greatest(o.quantity, coalesce(m.quantity, 0))
								 - o.filled_quantity, 0)), 0)
	FROM pgtrade.orders o
	LEFT JOIN pgtrade.order_modification m
		ON m.order_id = o.order_id AND m.status IN ('requested', 'sent')
	WHERE o.oca_group = $1 AND o.side = $2
		AND o.order_id IS DISTINCT FROM $3
		AND (pgtrade.order_is_open(o.status)
			 OR (o.status = 'filled' AND o.filled_quantity < o.quantity));
$$;
COMMENT ON FUNCTION pgtrade.oca_open_quantity(text, text, bigint) IS
	'Largest open rest among an OCA group''s orders on one side (the '
	'group counts once toward position limits).';

/*
 * bracket_child_group checks a bracket child against its parent at the
 * gate and returns its OCA group; NULL for an order that is no child.
 * The parent must be a pending entry of the same account and
 * instrument, on the other side, at least as large.
 */
CREATE FUNCTION pgtrade.bracket_child_group(p_o pgtrade.orders)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_p pgtrade.orders;
	v_type text;
BEGIN
	IF p_o.parent_order_id IS NULL THEN
		IF p_o.bracket_role IN ('take_profit', 'stop_loss') THEN
			RAISE EXCEPTION 'a % order needs a parent order', p_o.bracket_role
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		RETURN NULL;
	END IF;
	SELECT * INTO v_p FROM pgtrade.orders o
	WHERE o.order_id = p_o.parent_order_id;
	IF NOT FOUND OR v_p.bracket_role IS DISTINCT FROM 'entry'
		OR v_p.status <> 'pending' OR v_p.account_id <> p_o.account_id
		OR v_p.instrument_id <> p_o.instrument_id OR v_p.side = p_o.side
		OR p_o.quantity > v_p.quantity
		OR p_o.bracket_role IS NULL OR p_o.bracket_role = 'entry' THEN
		RAISE EXCEPTION 'order % cannot be a child of order %',
			p_o.order_id, p_o.parent_order_id
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A bracket child is a take_profit or stop_loss of a '
				     || 'pending entry order of the same account and instrument, '
				     || 'on the other side, no larger than it.';
	END IF;
	/*
	 * One of each, of its own type: the gate counts an OCA group once,
	 * as the broker fills one member and cancels the rest, so a third
	 * member would go out uncounted.
	 */
	v_type := CASE p_o.bracket_role WHEN 'take_profit' THEN 'limit'
				   ELSE 'stop' END;
	IF p_o.order_type IS DISTINCT FROM v_type THEN
		RAISE EXCEPTION 'a bracket''s % is a % order, not %', p_o.bracket_role,
			v_type, coalesce(p_o.order_type, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/*
	 * An exit must rest as long as its entry may fill: one the broker
	 * cancels at once (ioc), or at today's close while a gtc entry may
	 * fill on a later day, would leave the position unguarded.
	 */
	IF p_o.tif IS DISTINCT FROM 'day' AND p_o.tif IS DISTINCT FROM 'gtc' THEN
		RAISE EXCEPTION 'a bracket''s % must rest until it fills or is '
			'cancelled: time in force day or gtc, not %', p_o.bracket_role,
			coalesce(p_o.tif, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'An ioc exit is cancelled by the broker as soon as it '
					 || 'is not filled, which would leave the position it '
					 || 'protects without its take-profit or stop-loss.';
	END IF;
	IF v_p.tif = 'gtc' AND p_o.tif <> 'gtc' THEN
		RAISE EXCEPTION 'a bracket''s % must be gtc when its entry is gtc, '
			'not %', p_o.bracket_role, p_o.tif
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A day exit expires at the close, and the entry may '
					 || 'fill on a later day without it.';
	END IF;
	IF EXISTS (SELECT 1 FROM pgtrade.orders o
			   WHERE o.parent_order_id = p_o.parent_order_id
				 AND o.bracket_role = p_o.bracket_role) THEN
		RAISE EXCEPTION 'order % already has a %', p_o.parent_order_id,
			p_o.bracket_role
			USING ERRCODE = 'unique_violation',
				  DETAIL = 'A bracket has one take_profit and one stop_loss.';
	END IF;
	RETURN format('%s-oca', v_p.client_order_id);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bracket_child_group(pgtrade.orders)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bracket_child_group(pgtrade.orders) IS
	'Internal to the risk gate: checks a bracket child against its '
	'parent and returns its OCA group.';

CREATE FUNCTION pgtrade.place_bracket(account_id text, symbol text,
	side text, quantity numeric, entry_price numeric, take_profit numeric,
	stop_loss numeric, tif text DEFAULT 'day', exit_tif text DEFAULT 'gtc',
	valid_for interval DEFAULT '15 minutes', outside_rth boolean DEFAULT false)
RETURNS SETOF pgtrade.orders
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_side text := lower(place_bracket.side);
	v_exit text;
	v_sign integer;
	v_parent pgtrade.orders;
	v_tp pgtrade.orders;
	v_sl pgtrade.orders;
	v_instrument bigint := pgtrade.instrument_id(symbol);
BEGIN
	IF v_side IS NULL OR v_side NOT IN ('buy', 'sell') THEN
		RAISE EXCEPTION 'order side must be buy or sell, not "%"',
			place_bracket.side
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_exit := CASE v_side WHEN 'buy' THEN 'sell' ELSE 'buy' END;
	v_sign := CASE v_side WHEN 'buy' THEN 1 ELSE -1 END;
	IF take_profit IS NULL OR stop_loss IS NULL THEN
		RAISE EXCEPTION 'a bracket needs a take-profit and a stop-loss price'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF v_sign * (take_profit - stop_loss) <= 0
		OR v_sign * (coalesce(entry_price, stop_loss + v_sign) - stop_loss) <= 0
		OR v_sign * (take_profit - coalesce(entry_price, take_profit - v_sign)) <= 0
	THEN
		RAISE EXCEPTION 'bracket prices out of order for a %: stop-loss %, '
			'entry %, take-profit %',
			v_side, stop_loss, coalesce(entry_price::text, 'market'), take_profit
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'A buy needs stop-loss < entry < take-profit; '
					  || 'a sell the reverse.';
	END IF;
	IF valid_for IS NULL OR valid_for <= interval '0' THEN
		RAISE EXCEPTION 'valid_for must be a positive interval'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF lower(exit_tif) IS DISTINCT FROM 'day'
		AND lower(exit_tif) IS DISTINCT FROM 'gtc' THEN
		RAISE EXCEPTION 'exit_tif must be day or gtc, not %',
			coalesce(exit_tif, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The take-profit and stop-loss rest until one fills; '
					 || 'an ioc exit would be cancelled at once.';
	END IF;
	IF lower(tif) = 'gtc' AND lower(exit_tif) <> 'gtc' THEN
		RAISE EXCEPTION 'exit_tif must be gtc when tif is gtc, not %', exit_tif
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A day exit expires at the close, and a gtc entry '
					 || 'may fill on a later day without it.';
	END IF;

	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
		order_type, limit_price, tif, outside_rth, valid_until, bracket_role)
	VALUES (place_bracket.account_id, v_instrument, v_side, quantity,
		CASE WHEN entry_price IS NULL THEN 'market' ELSE 'limit' END,
		entry_price, lower(tif), outside_rth, now() + valid_for, 'entry')
	RETURNING * INTO v_parent;
	IF v_parent.status <> 'pending' THEN
		RETURN NEXT v_parent;
		RETURN;
	END IF;
	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
		order_type, limit_price, tif, outside_rth, valid_until,
		parent_order_id, bracket_role)
	VALUES (place_bracket.account_id, v_instrument, v_exit, quantity, 'limit',
		take_profit, lower(exit_tif), outside_rth, v_parent.valid_until,
		v_parent.order_id, 'take_profit')
	RETURNING * INTO v_tp;
	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
		order_type, stop_price, tif, outside_rth, valid_until,
		parent_order_id, bracket_role)
	VALUES (place_bracket.account_id, v_instrument, v_exit, quantity, 'stop',
		stop_loss, lower(exit_tif), outside_rth, v_parent.valid_until,
		v_parent.order_id, 'stop_loss')
	RETURNING * INTO v_sl;
	IF v_tp.status <> 'pending' OR v_sl.status <> 'pending' THEN
		/* no entry without both protections: cancelling it cancels them */
		PERFORM pgtrade.order_move(v_parent.order_id, 'cancelled',
			'user ' || pgtrade.caller_role(),
			'bracket not placed: a child order was refused by the risk gate');
	END IF;
	RETURN QUERY SELECT * FROM pgtrade.orders o
		WHERE o.order_id IN (v_parent.order_id, v_tp.order_id, v_sl.order_id)
		ORDER BY o.order_id;
END
$$;
COMMENT ON FUNCTION pgtrade.place_bracket(text, text, text, numeric, numeric,
	numeric, numeric, text, text, interval, boolean) IS
	'Places a bracket: an entry (limit, or market when entry_price is '
	'NULL), a take-profit limit and a stop-loss stop on the other side in '
	'one OCA group, all through the risk gate; returns the three rows.';

/*
 * bracket_claim_children moves the pending children of a parent that
 * claim_orders just claimed to submitting, in the same transaction, and
 * returns how many it claimed.
 */
CREATE FUNCTION pgtrade.bracket_claim_children(p_parent bigint,
	p_listener bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
	v_n integer := 0;
BEGIN
	FOR v_id IN
		SELECT o.order_id FROM pgtrade.orders o
		WHERE o.parent_order_id = p_parent AND o.status = 'pending'
		ORDER BY o.order_id FOR UPDATE
	LOOP
		UPDATE pgtrade.orders o
		SET attempts = o.attempts + 1, claimed_by = p_listener,
			submitted_at = clock_timestamp()
		WHERE o.order_id = v_id;
		PERFORM pgtrade.order_move(v_id, 'submitting',
			'listener ' || p_listener,
			format('claimed with its parent order %s', p_parent));
		v_n := v_n + 1;
	END LOOP;
	RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bracket_claim_children(bigint, bigint)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bracket_claim_children(bigint, bigint) IS
	'Internal to claim_orders: claims a parent''s pending children with '
	'it; returns how many.';

CREATE FUNCTION pgtrade.bracket_children(parent_order_id bigint)
RETURNS TABLE (order_id bigint, client_order_id text, side text,
	quantity numeric, order_type text, limit_price numeric,
	stop_price numeric, tif text, outside_rth boolean, status text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.order_id, o.client_order_id, o.side, o.quantity, o.order_type,
		   o.limit_price, o.stop_price, o.tif, o.outside_rth, o.status
	FROM pgtrade.orders o
	WHERE o.parent_order_id = $1
	ORDER BY o.order_id;
$$;
COMMENT ON FUNCTION pgtrade.bracket_children(bigint) IS
	'Listener: the children of a bracket''s parent order, take-profit '
	'first.';

/*
 * bracket_resize_children brings the working children of a bracket's
 * parent that ended partly filled to the quantity it filled, which is
 * all they have to protect: down after a partial fill, up after a fill
 * reported late.  A child with a modification still open is left for
 * when that one is answered (record_modification asks again).  The
 * caller holds the children's parent row.
 */
CREATE FUNCTION pgtrade.bracket_resize_children(p_parent pgtrade.orders)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_filled numeric := greatest(p_parent.filled_quantity,
		p_parent.broker_filled_quantity);
	v_c pgtrade.orders;
BEGIN
	IF p_parent.status NOT IN ('cancelled', 'expired', 'rejected')
		OR v_filled <= 0 THEN
		RETURN;
	END IF;
	FOR v_c IN
		SELECT * FROM pgtrade.orders o
		WHERE o.parent_order_id = p_parent.order_id AND o.status = 'working'
			AND o.quantity <> v_filled AND o.filled_quantity < v_filled
			AND NOT EXISTS (
				SELECT 1 FROM pgtrade.order_modification m
				WHERE m.order_id = o.order_id
					AND m.status IN ('requested', 'sent'))
		ORDER BY o.order_id FOR UPDATE
	LOOP
		UPDATE pgtrade.account a SET gate_seq = a.gate_seq + 1
		WHERE a.account_id = v_c.account_id;
		/*
		 * Down, it only takes risk off: no limit applies, and a kill
		 * switch or a halt must not leave the exit closing more than was
		 * opened.  Up (a late fill), it meets the gate.
		 */
		PERFORM pgtrade.modify_request(v_c, v_filled, v_c.limit_price,
			v_c.stop_price, format(
				'bracket: parent order %s ended %s with %s filled',
				p_parent.order_id, p_parent.status, v_filled),
			CASE WHEN v_filled < v_c.quantity THEN jsonb_build_object(
				'at', clock_timestamp(), 'passed', true,
				'checks', '[]'::jsonb,
				'reason', 'passed: an exit resized to what its entry filled '
					|| 'takes risk off; no limit applies') END);
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.bracket_resize_children(pgtrade.orders)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bracket_resize_children(pgtrade.orders) IS
	'Internal: resizes the working children of an ended, partly filled '
	'bracket parent to what it filled.';

/*
 * bracket_parent_ended follows a bracket's parent once it has ended
 * cancelled, expired or rejected: children still pending are cancelled
 * with it, children sent with a rejected parent are rejected with it,
 * and cancelled with a parent cancelled before the broker placed it;
 * when some of it filled, working children are resized to the filled
 * quantity (bracket_resize_children).
 */
CREATE FUNCTION pgtrade.bracket_parent_ended()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_c pgtrade.orders;
BEGIN
	FOR v_c IN
		SELECT * FROM pgtrade.orders o
		WHERE o.parent_order_id = NEW.order_id
		ORDER BY o.order_id FOR UPDATE
	LOOP
		IF v_c.status = 'pending' THEN
			PERFORM pgtrade.order_move(v_c.order_id, 'cancelled', 'bracket',
				format('parent order %s is %s', NEW.order_id, NEW.status));
		ELSIF v_c.status = 'submitting' AND NEW.status = 'rejected' THEN
			/* sent in the same request: refused with it */
			PERFORM pgtrade.order_move(v_c.order_id, 'rejected', 'bracket',
				format('parent order %s was rejected: %s', NEW.order_id,
					   coalesce(NEW.last_error, 'no reason given')));
		ELSIF v_c.status = 'submitting' AND NEW.status = 'cancelled'
			AND OLD.status = 'submitting' THEN
			/*
			 * the request that carried them both never placed the parent
			 * (not sent, not found and not sent again, or its prompt
			 * declined): nor them
			 */
			PERFORM pgtrade.order_move(v_c.order_id, 'cancelled', 'bracket',
				format('parent order %s was cancelled before the broker '
					   'placed it', NEW.order_id));
		END IF;
	END LOOP;
	PERFORM pgtrade.bracket_resize_children(NEW);
	/* an exit that filled at its full size before it could be resized */
	PERFORM pgtrade.bracket_check_exits(NEW.order_id);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.bracket_parent_ended() IS
	'AFTER UPDATE on orders: cancels the pending children of a bracket '
	'parent that ended, or resizes them to what the parent filled.';
CREATE TRIGGER bracket_parent_ended AFTER UPDATE ON pgtrade.orders
	FOR EACH ROW WHEN (NEW.bracket_role = 'entry'
		AND NEW.status IN ('cancelled', 'expired', 'rejected')
		AND (OLD.status IS DISTINCT FROM NEW.status
			 OR OLD.filled_quantity IS DISTINCT FROM NEW.filled_quantity
			 OR OLD.broker_filled_quantity
				IS DISTINCT FROM NEW.broker_filled_quantity))
	EXECUTE FUNCTION pgtrade.bracket_parent_ended();

GRANT EXECUTE ON FUNCTION
	pgtrade.place_bracket(text, text, text, numeric, numeric, numeric,
		numeric, text, text, interval, boolean)
	TO pgtrade_trader, pgtrade_admin;
GRANT EXECUTE ON FUNCTION pgtrade.oca_open_quantity(text, text, bigint)
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin;
CREATE FUNCTION pgtrade.bracket_parent_of(order_id bigint)
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.parent_order_id FROM pgtrade.orders o WHERE o.order_id = $1;
$$;
COMMENT ON FUNCTION pgtrade.bracket_parent_of(bigint) IS
	'Listener: the parent of a bracket child, NULL for other orders.';

GRANT EXECUTE ON FUNCTION pgtrade.bracket_children(bigint),
	pgtrade.bracket_parent_of(bigint)
	TO pgtrade_listener;
