/*
 * 75_resend.sql: sending a submitting order again with the same cOID.
 *
 * A listener that claimed an order may die before the POST, while it is
 * in flight, or before the answer is recorded.  The order then stays
 * submitting.  The listener that reconciles it (the same process or a
 * later one) asks the broker by cOID first; when the broker has
 * nothing, the order may be sent again with the SAME cOID, which the
 * broker refuses as a duplicate if the first POST did land after all.
 * claim_resend is the gate for that second send, and it is durable:
 * every resend counts in orders.attempts and writes an order_event
 * before anything leaves, so a listener that keeps crashing cannot send
 * an order without bound.  It refuses once the attempts are used up,
 * the broker's 24-hour cOID window may have closed, the order is past
 * valid_until, or a kill switch or halt covers it; the listener then
 * marks the order unknown.
 */

CREATE FUNCTION pgtrade.claim_resend(listener_id bigint,
	resend_order_id bigint, max_attempts integer)
RETURNS TABLE (order_id bigint, client_order_id text, account_id text,
	conid bigint, symbol text, side text, quantity numeric,
	order_type text, limit_price numeric, stop_price numeric, tif text,
	outside_rth boolean, attempts integer, refused text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(claim_resend.resend_order_id);
	v_why text;
BEGIN
	IF v_o.status <> 'submitting' THEN
		RAISE EXCEPTION 'cannot send order % again: it is %', v_o.order_id,
			v_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	/*
	 * A cancel was asked while it was being submitted, and the broker
	 * does not have it: it is cancelled rather than sent again.  Should
	 * the lost request reach the broker after all, its fills are still
	 * recorded, with an order_mismatch alert.
	 */
	IF v_o.cancel_asked IS NOT NULL THEN
		PERFORM pgtrade.order_move(v_o.order_id, 'cancelled',
			'listener ' || claim_resend.listener_id,
			format('not found at the broker and not sent again: %s',
				   v_o.cancel_asked));
		RETURN QUERY SELECT v_o.order_id, v_o.client_order_id,
			v_o.account_id, NULL::bigint, NULL::text, v_o.side, v_o.quantity,
			v_o.order_type, v_o.limit_price, v_o.stop_price, v_o.tif,
			v_o.outside_rth, v_o.attempts,
			'cancelled: ' || v_o.cancel_asked;
		RETURN;
	END IF;
	/* the first POST came after the claim: submitted_at is on the safe
	   side of the broker's cOID window, with an hour to spare */
	IF v_o.attempts >= claim_resend.max_attempts THEN
		v_why := format('%s attempts used', v_o.attempts);
	ELSIF v_o.submitted_at < clock_timestamp() - interval '23 hours' THEN
		v_why := format('first sent at %s, near the end of the broker''s '
						'24-hour cOID window', v_o.submitted_at);
	ELSIF v_o.valid_until < clock_timestamp() THEN
		v_why := format('valid until %s', v_o.valid_until);
	ELSE
		v_why := pgtrade.kill_switch_reason(v_o.account_id, v_o.strategy_id);
	END IF;
	IF v_why IS NOT NULL THEN
		RETURN QUERY SELECT v_o.order_id, v_o.client_order_id,
			v_o.account_id, NULL::bigint, NULL::text, v_o.side, v_o.quantity,
			v_o.order_type, v_o.limit_price, v_o.stop_price, v_o.tif,
			v_o.outside_rth, v_o.attempts, 'not sent again: ' || v_why;
		RETURN;
	END IF;

	UPDATE pgtrade.orders o
	SET attempts = o.attempts + 1, claimed_by = claim_resend.listener_id
	WHERE o.order_id = v_o.order_id;
	PERFORM pgtrade.order_note(v_o.order_id, 'submitting',
		'listener ' || claim_resend.listener_id,
		format('not found at the broker; sending again with the same cOID '
			   '%s (attempt %s)', v_o.client_order_id, v_o.attempts + 1));

	RETURN QUERY
		SELECT o.order_id, o.client_order_id, o.account_id, i.conid,
			   i.symbol, o.side, o.quantity, o.order_type, o.limit_price,
			   o.stop_price, o.tif, o.outside_rth, o.attempts, NULL::text
		FROM pgtrade.orders o
		JOIN pgtrade.instrument i USING (instrument_id)
		WHERE o.order_id = v_o.order_id;
END
$$;
COMMENT ON FUNCTION pgtrade.claim_resend(bigint, bigint, integer) IS
	'Listener: before sending a submitting order again with the same cOID, '
	'counts the attempt and records it, and returns the order''s terms; '
	'returns only a reason in refused when attempts reach max_attempts, '
	'the cOID window may have closed, the order is past valid_until or a '
	'kill switch covers it.';

/* only the listener sends orders */
GRANT EXECUTE ON FUNCTION pgtrade.claim_resend(bigint, bigint, integer)
	TO pgtrade_listener;
