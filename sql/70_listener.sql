/*
 * 70_listener.sql: the functions pgtrade-listener calls, and nothing else
 * may.
 *
 * The listener never touches tables directly.  claim_order moves one
 * order from pending to submitting in the caller's own transaction,
 * which the listener commits before any HTTP call: an order is claimed,
 * durably, before it can leave the machine.  Broker reports come back
 * through record_*; a report that would move an order backwards is kept
 * as an event and otherwise ignored.
 */

CREATE FUNCTION pgtrade.listener_register(name text, pid integer,
	version text)
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO pgtrade.listener (name, pid, version, db_user)
	VALUES ($1, $2, $3, session_user)
	RETURNING listener_id;
$$;
COMMENT ON FUNCTION pgtrade.listener_register(text, integer, text) IS
	'Records a listener start and returns its id.';

CREATE FUNCTION pgtrade.listener_heartbeat(listener_id bigint,
	gateway_state text, accounts text[], last_error text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pgtrade.listener
	SET heartbeat_at = now(), gateway_state = $2, accounts = $3,
		last_error = $4
	WHERE listener_id = $1;
$$;
COMMENT ON FUNCTION pgtrade.listener_heartbeat(bigint, text, text[], text) IS
	'Updates a listener''s heartbeat, gateway state, accounts served and '
	'last error.';

CREATE FUNCTION pgtrade.listener_stopped(listener_id bigint)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pgtrade.listener SET stopped_at = now(), heartbeat_at = now()
	WHERE listener_id = $1;
$$;
COMMENT ON FUNCTION pgtrade.listener_stopped(bigint) IS
	'Records a clean listener stop.';

/*
 * kill_switch_reason returns why a kill switch covers an order's scope,
 * or NULL when none does.
 */
CREATE FUNCTION pgtrade.kill_switch_reason(p_account text, p_strategy bigint)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	/* PL/pgSQL: every claim calls it, and its plan is kept */
	RETURN (SELECT format('kill switch is on for %s%s%s',
				  coalesce('account ' || l.account_id, 'all accounts'),
				  coalesce(' strategy ' || l.strategy_id, ''),
				  coalesce(': ' || l.note, ''))
	FROM pgtrade.risk_limit l
	WHERE l.kill_switch
		AND (l.account_id IS NULL OR l.account_id = p_account)
		AND (l.strategy_id IS NULL OR l.strategy_id = p_strategy)
	ORDER BY l.account_id NULLS FIRST, l.strategy_id NULLS FIRST
	LIMIT 1);
END
$$;
COMMENT ON FUNCTION pgtrade.kill_switch_reason(text, bigint) IS
	'Why a kill switch covers this account and strategy, or NULL when '
	'none does.';

/*
 * claim_orders claims up to max_orders pending orders of the given
 * accounts, oldest first, in the caller's transaction.  Each one moves
 * pending -> submitting in a single UPDATE (the claim and its event);
 * a bracket's pending children are claimed with their parent and are
 * counted in "children".  An order past valid_until is expired, and one
 * under a kill switch or of a halted account is cancelled; neither is
 * returned.  An account with open position drift is left out: its
 * orders stay pending until an operator settles the drift.  The kill
 * switches and the halt are read once per account
 * and strategy in a call: the caller commits before it sends anything,
 * and a switch flipped meanwhile waits on no lock of ours, so its order
 * takes effect from the next claim.
 */
CREATE FUNCTION pgtrade.claim_orders(listener_id bigint, accounts text[],
	max_orders integer)
RETURNS TABLE (order_id bigint, client_order_id text, account_id text,
	conid bigint, symbol text, side text, quantity numeric,
	order_type text, limit_price numeric, stop_price numeric, tif text,
	outside_rth boolean, attempts integer, children integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders;
	v_source text := 'listener ' || claim_orders.listener_id;
	v_why text;
	v_checked text[] := '{}';	/* "account strategy" pairs checked */
	v_blocked text[] := '{}';	/* the reason for each of them, or '' */
	v_key text;
	v_i integer;
	v_n integer := 0;
	v_skipped integer;
	v_children integer;
	v_accounts text[];
	v_not_stocks jsonb;	/* instrument id -> sec_type, of those not STK */
BEGIN
	IF max_orders IS NULL OR max_orders < 1 THEN
		RAISE EXCEPTION 'max_orders must be at least 1, not %',
			coalesce(max_orders::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/*
	 * Accounts with open drift are left out before the scan, so that
	 * their queued orders are not read and passed over on every claim;
	 * the scan checks again, for drift recorded meanwhile.
	 */
	v_accounts := ARRAY(
		SELECT unnest(claim_orders.accounts)
		EXCEPT
		SELECT unnest(pgtrade.drift_blocked_accounts(claim_orders.accounts)));
	/* read once a claim, not once an order: there are seldom any */
	SELECT jsonb_object_agg(i.instrument_id, i.sec_type) INTO v_not_stocks
	FROM pgtrade.instrument i WHERE i.sec_type <> 'STK';
	LOOP
		v_skipped := 0;
		FOR v_o IN
			SELECT * FROM pgtrade.orders o
			WHERE o.status = 'pending'
				AND o.account_id = ANY (v_accounts)
				AND o.parent_order_id IS NULL	/* children go with the parent */
				/* open position drift holds an account's claims */
				AND NOT EXISTS (SELECT 1 FROM pgtrade.position_drift d
								WHERE d.account_id = o.account_id
								  AND d.status = 'open')
			ORDER BY o.order_id
			LIMIT max_orders - v_n
			FOR UPDATE SKIP LOCKED
		LOOP
			/* an order not sent is a line of the listener's log too */
			IF v_o.valid_until < clock_timestamp() THEN
				PERFORM pgtrade.order_move(v_o.order_id, 'expired', v_source,
					format('not sent: valid until %s', v_o.valid_until));
				RAISE WARNING 'order % (%) expired, not sent: valid until %',
					v_o.order_id, v_o.client_order_id, v_o.valid_until;
				v_skipped := v_skipped + 1;
				CONTINUE;
			END IF;

			v_key := v_o.account_id || ' ' || coalesce(v_o.strategy_id::text, '');
			v_i := array_position(v_checked, v_key);
			IF v_i IS NULL THEN
				v_why := pgtrade.kill_switch_reason(v_o.account_id,
					v_o.strategy_id);
				IF v_why IS NULL AND (SELECT a.halted FROM pgtrade.account a
						WHERE a.account_id = v_o.account_id) THEN
					v_why := format('account %s is halted', v_o.account_id);
				END IF;
				v_checked := v_checked || v_key;
				v_blocked := v_blocked || coalesce(v_why, '');
			ELSE
				v_why := nullif(v_blocked[v_i], '');
			END IF;
			/*
			 * The gate refuses orders for instruments that are not
			 * stocks; one placed before that rule, or before its
			 * instrument's type was changed, is not sent either.
			 */
			IF v_why IS NULL THEN
				v_why := pgtrade.sec_type_refusal(v_o.instrument_id,
					coalesce(v_not_stocks ->> v_o.instrument_id::text, 'STK'));
			END IF;
			IF v_why IS NOT NULL THEN
				PERFORM pgtrade.order_move(v_o.order_id, 'cancelled', v_source,
					'not sent: ' || v_why);
				RAISE WARNING 'order % (%) cancelled, not sent: %',
					v_o.order_id, v_o.client_order_id, v_why;
				v_skipped := v_skipped + 1;
				CONTINUE;
			END IF;

			/* the claim and its event in one row version (see order_move) */
			PERFORM set_config('pgtrade.event_source', v_source, true);
			PERFORM set_config('pgtrade.event_detail', 'claimed for submission',
							   true);
			PERFORM set_config('pgtrade.event_payload', '', true);
			UPDATE pgtrade.orders o
			SET status = 'submitting', attempts = o.attempts + 1,
				claimed_by = claim_orders.listener_id,
				submitted_at = clock_timestamp()
			WHERE o.order_id = v_o.order_id;
			/* only a bracket's entry has children */
			v_children := CASE WHEN v_o.bracket_role = 'entry' THEN
				pgtrade.bracket_claim_children(v_o.order_id,
					claim_orders.listener_id) ELSE 0 END;
			v_n := v_n + 1;

			RETURN QUERY
				SELECT o.order_id, o.client_order_id, o.account_id, i.conid,
					   i.symbol, o.side, o.quantity, o.order_type,
					   o.limit_price, o.stop_price, o.tif, o.outside_rth,
					   o.attempts, v_children
				FROM pgtrade.orders o
				JOIN pgtrade.instrument i USING (instrument_id)
				WHERE o.order_id = v_o.order_id;
		END LOOP;
		/* orders expired or cancelled took places: look for more */
		EXIT WHEN v_skipped = 0 OR v_n >= max_orders;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.claim_orders(bigint, text[], integer) IS
	'Claims up to max_orders of the oldest pending orders of the given '
	'accounts (pending -> submitting, SKIP LOCKED), a bracket''s children '
	'with their parent; expires or cancels, instead of returning, orders '
	'past valid_until or under a kill switch; leaves accounts with open '
	'position drift alone.  The caller commits before sending.';

CREATE FUNCTION pgtrade.claim_order(listener_id bigint, accounts text[])
RETURNS TABLE (order_id bigint, client_order_id text, account_id text,
	conid bigint, symbol text, side text, quantity numeric,
	order_type text, limit_price numeric, stop_price numeric, tif text,
	outside_rth boolean, attempts integer)
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.order_id, c.client_order_id, c.account_id, c.conid, c.symbol,
		   c.side, c.quantity, c.order_type, c.limit_price, c.stop_price,
		   c.tif, c.outside_rth, c.attempts
	FROM pgtrade.claim_orders($1, $2, 1) c;
$$;
COMMENT ON FUNCTION pgtrade.claim_order(bigint, text[]) IS
	'Claims the oldest pending order of the given accounts, as '
	'claim_orders with max_orders 1.  The caller commits before sending.';

/*
 * broker_status_target maps an IBKR order status word to the pgtrade
 * status it implies, or NULL when it implies none.
 */
CREATE FUNCTION pgtrade.broker_status_target(broker_status text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE lower(replace($1, ' ', ''))
		WHEN 'pendingsubmit' THEN 'working'
		WHEN 'presubmitted' THEN 'working'
		WHEN 'submitted' THEN 'working'
		WHEN 'warnstate' THEN 'working'
		WHEN 'pendingcancel' THEN 'cancel_requested'
		WHEN 'precancelled' THEN 'cancel_requested'
		WHEN 'filled' THEN 'filled'
		WHEN 'cancelled' THEN 'cancelled'
		WHEN 'inactive' THEN 'rejected'
		ELSE NULL END;
$$;
COMMENT ON FUNCTION pgtrade.broker_status_target(text) IS
	'Maps an IBKR order status (PreSubmitted, Submitted, Filled, '
	'Cancelled, Inactive, ...) to a pgtrade status.';

/*
 * order_apply_broker_status moves an order as a broker status implies,
 * when the state machine allows it; otherwise it records the report as an
 * event and leaves the order alone.  Returns the order's status after.
 */
CREATE FUNCTION pgtrade.order_apply_broker_status(p_order pgtrade.orders,
	p_broker_status text, p_source text, p_payload jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_target text := pgtrade.broker_status_target(p_broker_status);
BEGIN
	/*
	 * "Still working" while a cancel is pending says nothing about the
	 * cancel: the broker may not have processed it yet.  Moving back to
	 * working would drop the cancel, so the order waits for Cancelled or
	 * Filled (the listener sends the cancel again meanwhile).
	 */
	IF p_order.status = 'cancel_requested' AND v_target = 'working' THEN
		v_target := NULL;
	END IF;
	IF v_target IS NOT NULL AND v_target <> p_order.status AND EXISTS (
		SELECT 1 FROM pgtrade.order_transition t
		WHERE t.from_status = p_order.status AND t.to_status = v_target) THEN
		/*
		 * An Inactive order's reason is the broker's "text": in a live
		 * order row, or in the last answer of a submission payload.
		 */
		PERFORM pgtrade.order_move(p_order.order_id, v_target, p_source,
			format('broker status %s', p_broker_status)
			|| CASE WHEN v_target = 'rejected' THEN
				coalesce(': ' || coalesce(p_payload->>'text',
					p_payload->'responses'->-1->0->>'text'), '')
			   ELSE '' END, p_payload);
		RETURN v_target;
	END IF;
	/*
	 * A report that would move the order is kept even when its word is
	 * the one stored: an order filled from its executions still has the
	 * Submitted it was last reported with, and a Submitted after that
	 * is news.
	 */
	IF p_broker_status IS DISTINCT FROM p_order.broker_status
		OR (v_target IS NOT NULL AND v_target <> p_order.status
			AND p_order.status IN ('filled', 'cancelled', 'rejected',
								   'expired')) THEN
		PERFORM pgtrade.order_note(p_order.order_id, p_order.status, p_source,
			format('broker status %s recorded; order stays %s',
				   p_broker_status, p_order.status), p_payload);
	END IF;
	RETURN p_order.status;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.order_apply_broker_status(pgtrade.orders,
	text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.order_apply_broker_status(pgtrade.orders, text,
	text, jsonb) IS
	'Internal: applies a broker status report to an order along the state '
	'machine.';

CREATE FUNCTION pgtrade.lock_order(p_order_id bigint)
RETURNS pgtrade.orders
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders;
BEGIN
	SELECT * INTO v_o FROM pgtrade.orders WHERE order_id = p_order_id
	FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', p_order_id
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN v_o;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.lock_order(bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.lock_order(bigint) IS
	'Internal: locks an order row and returns it; raises when it does not '
	'exist.';

CREATE FUNCTION pgtrade.record_submission(order_id bigint,
	broker_order_id text, broker_status text, payload jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_submission.order_id);
	v_status text;
	v_detail text;
BEGIN
	/* only an order a listener claimed can have been sent */
	IF v_o.status IN ('pending', 'refused', 'expired')
		OR (v_o.status = 'cancelled' AND v_o.submitted_at IS NULL) THEN
		RAISE EXCEPTION 'order % was never claimed (it is %): no broker order can '
			'be recorded for it',
			v_o.order_id, v_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF v_o.broker_order_id IS NOT NULL
		AND v_o.broker_order_id <> record_submission.broker_order_id THEN
		RAISE EXCEPTION 'order % already has broker order id %',
			v_o.order_id, v_o.broker_order_id
			USING ERRCODE = 'unique_violation',
				  DETAIL = pg_catalog.format('The broker now reports %s.',
					  record_submission.broker_order_id);
	END IF;
	/*
	 * The common case in one row version: a status that maps to a move
	 * the state machine allows, written with the broker's ids, with the
	 * event order_apply_broker_status would write.
	 */
	v_status := pgtrade.broker_status_target(
		coalesce(record_submission.broker_status, 'Submitted'));
	IF v_o.status IN ('submitting', 'unknown') AND EXISTS (
		SELECT 1 FROM pgtrade.order_transition t
		WHERE t.from_status = v_o.status AND t.to_status = v_status) THEN
		v_detail := pg_catalog.format('broker status %s',
			coalesce(record_submission.broker_status, 'Submitted'))
			|| CASE WHEN v_status = 'rejected' THEN
				coalesce(': ' || coalesce(record_submission.payload->>'text',
					record_submission.payload->'responses'->-1->0->>'text'), '')
			   ELSE '' END;
		PERFORM pg_catalog.set_config('pgtrade.event_source',
			'broker acknowledgement', true);
		PERFORM pg_catalog.set_config('pgtrade.event_detail', v_detail, true);
		PERFORM pg_catalog.set_config('pgtrade.event_payload',
			coalesce(record_submission.payload::text, ''), true);
		UPDATE pgtrade.orders o
		SET status = v_status,
			broker_order_id = record_submission.broker_order_id,
			broker_status = record_submission.broker_status,
			last_error = CASE WHEN v_status = 'rejected' THEN v_detail
							  ELSE o.last_error END
		WHERE o.order_id = v_o.order_id;
		RETURN v_status;
	END IF;
	UPDATE pgtrade.orders o
	SET broker_order_id = record_submission.broker_order_id,
		broker_status = record_submission.broker_status
	WHERE o.order_id = v_o.order_id;
	IF v_o.status = 'submitting' OR v_o.status = 'unknown' THEN
		v_status := pgtrade.order_apply_broker_status(v_o,
			coalesce(record_submission.broker_status, 'Submitted'),
			'broker acknowledgement', record_submission.payload);
		IF v_status IN ('submitting', 'unknown') THEN
			/* an acknowledgement with an odd status still means working */
			PERFORM pgtrade.order_move(v_o.order_id, 'working',
				'broker acknowledgement',
				pg_catalog.format('broker order id %s, status %s',
					record_submission.broker_order_id,
					record_submission.broker_status),
				record_submission.payload);
			v_status := 'working';
		END IF;
		RETURN v_status;
	END IF;
	PERFORM pgtrade.order_note(v_o.order_id, v_o.status,
		'broker acknowledgement',
		pg_catalog.format('acknowledged as %s (broker order id %s); order stays %s',
			record_submission.broker_status, record_submission.broker_order_id,
			v_o.status), record_submission.payload);
	RETURN v_o.status;
END
$$;
COMMENT ON FUNCTION pgtrade.record_submission(bigint, text, text, jsonb) IS
	'Listener: records the broker''s acknowledgement of a submitted order '
	'(broker order id and status); returns the new status.';

/*
 * record_submissions records several acknowledgements at once, element
 * by element of its arrays, as record_submission would one by one: the
 * listener sends a batch of claimed orders and records their answers in
 * one transaction.  All or nothing: an error in one element records
 * none of them.
 */
CREATE FUNCTION pgtrade.record_submissions(order_ids bigint[],
	broker_order_ids text[], broker_statuses text[], payloads jsonb[])
RETURNS TABLE (order_id bigint, status text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n integer := coalesce(cardinality(order_ids), 0);
	v_i integer;
BEGIN
	IF coalesce(cardinality(broker_order_ids), 0) <> v_n
		OR coalesce(cardinality(broker_statuses), 0) <> v_n
		OR coalesce(cardinality(payloads), 0) <> v_n THEN
		RAISE EXCEPTION 'record_submissions needs arrays of one length'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('%s order ids, %s broker order ids, '
					  || '%s statuses and %s payloads.', v_n,
					  coalesce(cardinality(broker_order_ids), 0),
					  coalesce(cardinality(broker_statuses), 0),
					  coalesce(cardinality(payloads), 0));
	END IF;
	FOR v_i IN 1 .. v_n LOOP
		order_id := order_ids[v_i];
		status := pgtrade.record_submission(order_ids[v_i],
			broker_order_ids[v_i], broker_statuses[v_i], payloads[v_i]);
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.record_submissions(bigint[], text[], text[],
	jsonb[]) IS
	'Listener: records several acknowledgements, as record_submission '
	'does each, all or nothing; returns each order''s new status.';

CREATE FUNCTION pgtrade.record_rejection(order_id bigint, reason text,
	payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_rejection.order_id);
BEGIN
	IF v_o.status NOT IN ('submitting', 'working', 'unknown') THEN
		PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'broker',
			pg_catalog.format('rejection ignored, order is %s: %s', v_o.status,
							  reason), payload);
		RETURN;
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, 'rejected', 'broker',
		coalesce(reason, 'rejected without a reason'), payload);
END
$$;
COMMENT ON FUNCTION pgtrade.record_rejection(bigint, text, jsonb) IS
	'Listener: records that the broker refused an order (error reply, or '
	'a confirmation prompt not on the allow list).';

CREATE FUNCTION pgtrade.record_status(order_id bigint, broker_status text,
	filled_quantity numeric DEFAULT NULL, avg_price numeric DEFAULT NULL,
	payload jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_status.order_id);
	v_status text;
BEGIN
	v_status := pgtrade.order_apply_broker_status(v_o,
		record_status.broker_status, 'broker status', record_status.payload);
	UPDATE pgtrade.orders o
	SET broker_status = record_status.broker_status,
		broker_filled_quantity = coalesce(record_status.filled_quantity,
										  o.broker_filled_quantity)
	WHERE o.order_id = v_o.order_id;
	RETURN v_status;
END
$$;
COMMENT ON FUNCTION pgtrade.record_status(bigint, text, numeric, numeric,
	jsonb) IS
	'Listener: records a broker status report; moves the order when the '
	'state machine allows, otherwise keeps the report as an event.  '
	'Returns the status after.';

/*
 * release_unsent settles an order a listener claimed and knows it never
 * sent (its batch stopped before it), when it may not be sent now
 * either (valid_until passed, a kill switch, the cOID window closed):
 * it is cancelled with the reason, as claim_orders would have done had
 * it looked then.  Only the listener that claimed it may.
 */
CREATE FUNCTION pgtrade.release_unsent(listener_id bigint, order_id bigint,
	reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(release_unsent.order_id);
BEGIN
	IF v_o.status <> 'submitting'
		OR v_o.claimed_by IS DISTINCT FROM release_unsent.listener_id THEN
		RAISE EXCEPTION 'listener % cannot release order %: it is %, claimed by %',
			release_unsent.listener_id, v_o.order_id, v_o.status,
			coalesce('listener ' || v_o.claimed_by, 'no listener')
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, 'cancelled',
		'listener ' || release_unsent.listener_id,
		'not sent: ' || coalesce(nullif(reason, ''), 'no reason given'));
END
$$;
COMMENT ON FUNCTION pgtrade.release_unsent(bigint, bigint, text) IS
	'Listener: cancels an order it claimed and never sent, which may not '
	'be sent now either; only the claiming listener may.';

/*
 * A cancel asked while an order is being submitted (orders.cancel_asked)
 * can still stop it while the broker asks a confirmation question: the
 * listener asks cancel_asked_for before it confirms, declines the
 * question when a cancel is asked, and records that with
 * record_declined.  A declined question places nothing (ibkr-cpapi.md
 * 6.2), so the order is cancelled, and a bracket's children sent in the
 * same request with it (bracket_parent_ended).  A modification's
 * question is declined the same way once the order's cancel is
 * requested (the modification is refused).
 */
CREATE FUNCTION pgtrade.cancel_asked_for(listener_id bigint, order_id bigint)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN o.status = 'submitting' AND o.claimed_by = $1 THEN o.cancel_asked
		WHEN o.status = 'cancel_requested' THEN coalesce((
			SELECT 'cancel requested: ' || e.detail
			FROM pgtrade.order_event e
			WHERE e.order_id = o.order_id AND e.to_status = 'cancel_requested'
			ORDER BY e.event_id DESC LIMIT 1), 'cancel requested')
		END
	FROM pgtrade.orders o WHERE o.order_id = $2
$$;
REVOKE ALL ON FUNCTION pgtrade.cancel_asked_for(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.cancel_asked_for(bigint, bigint) IS
	'Listener: the cancel asked for an order it claimed and is submitting, '
	'or requested for one working; NULL if none.  Asked before it confirms '
	'a prompt of a placement or a modification.';

CREATE FUNCTION pgtrade.record_declined(listener_id bigint, order_id bigint,
	question text, payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_declined.order_id);
BEGIN
	IF v_o.status <> 'submitting'
		OR v_o.claimed_by IS DISTINCT FROM record_declined.listener_id
		OR v_o.cancel_asked IS NULL THEN
		RAISE EXCEPTION 'listener % cannot record order % as declined: it is '
			'%, claimed by %, %', record_declined.listener_id, v_o.order_id,
			v_o.status, coalesce('listener ' || v_o.claimed_by, 'no listener'),
			CASE WHEN v_o.cancel_asked IS NULL THEN 'no cancel asked'
				 ELSE 'a cancel asked' END
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, 'cancelled',
		'listener ' || record_declined.listener_id,
		format('confirmation declined (%s), never placed: %s',
			   coalesce(nullif(regexp_replace(question, '\s+', ' ', 'g'), ''),
						'no text'), v_o.cancel_asked),
		payload);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.record_declined(bigint, bigint, text, jsonb)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.record_declined(bigint, bigint, text, jsonb) IS
	'Listener: cancels an order it claimed whose confirmation prompt it '
	'declined because a cancel was asked meanwhile.';

CREATE FUNCTION pgtrade.record_unknown(order_id bigint, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_unknown.order_id);
BEGIN
	IF v_o.status <> 'submitting' THEN
		RAISE EXCEPTION 'cannot mark order % unknown: it is %', v_o.order_id,
			v_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, 'unknown', 'listener', reason);
	UPDATE pgtrade.account a
	SET halted = true,
		halt_reason = pg_catalog.format('order %s (%s) is unknown: %s',
			v_o.order_id, v_o.client_order_id, reason)
	WHERE a.account_id = v_o.account_id;
END
$$;
COMMENT ON FUNCTION pgtrade.record_unknown(bigint, text) IS
	'Listener: an order sent without an answer was not found at the '
	'broker; it becomes unknown and its account halts until an operator '
	'resolves it.';

CREATE FUNCTION pgtrade.side_from_broker(side text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT CASE upper($1)
		WHEN 'B' THEN 'buy' WHEN 'BUY' THEN 'buy' WHEN 'BOT' THEN 'buy'
		WHEN 'S' THEN 'sell' WHEN 'SELL' THEN 'sell' WHEN 'SLD' THEN 'sell'
		ELSE NULL END;
$$;
COMMENT ON FUNCTION pgtrade.side_from_broker(text) IS
	'Maps IBKR side spellings (B, BUY, BOT, S, SELL, SLD) to buy or sell.';

CREATE FUNCTION pgtrade.record_fill(execution_id text, order_ref text,
	account_id text, conid bigint, side text, quantity numeric,
	price numeric, trade_time timestamptz, commission numeric DEFAULT NULL,
	payload jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_side text := pgtrade.side_from_broker(record_fill.side);
	v_order pgtrade.orders;
	v_instrument bigint;
	v_fill_id bigint;
BEGIN
	IF execution_id IS NULL OR execution_id = '' THEN
		RAISE EXCEPTION 'execution id must not be empty'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF v_side IS NULL THEN
		RAISE EXCEPTION 'unknown execution side "%"', record_fill.side
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM pgtrade.fill f
			   WHERE f.execution_id = record_fill.execution_id) THEN
		/* a commission reported after the execution is its own row */
		IF commission IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM pgtrade.commission c
			WHERE c.execution_id = record_fill.execution_id) THEN
			INSERT INTO pgtrade.commission (execution_id, amount)
			VALUES (record_fill.execution_id, record_fill.commission)
			ON CONFLICT (execution_id) DO NOTHING;
		END IF;
		RETURN false;
	END IF;

	/*
	 * Join by order_ref = cOID, but only when the execution matches the
	 * order's account, side and contract: an execution that merely
	 * reuses one of our cOIDs must not fill our order.
	 */
	SELECT * INTO v_order FROM pgtrade.orders o
	WHERE o.client_order_id = record_fill.order_ref;
	IF FOUND AND (v_order.account_id <> record_fill.account_id
		OR v_order.side <> v_side
		OR (SELECT i.conid FROM pgtrade.instrument i
			WHERE i.instrument_id = v_order.instrument_id)
		   IS DISTINCT FROM record_fill.conid) THEN
		RAISE WARNING 'execution % names order % but does not match its account, side or contract: recorded unlinked',
			execution_id, order_ref
			USING DETAIL = pg_catalog.format(
				'Execution: account %s, %s, conid %s.  Order: account %s, %s.',
				record_fill.account_id, v_side, record_fill.conid,
				v_order.account_id, v_order.side);
		v_order := NULL;
	END IF;

	IF v_order.order_id IS NOT NULL THEN
		v_instrument := v_order.instrument_id;
	ELSE
		SELECT i.instrument_id INTO v_instrument FROM pgtrade.instrument i
		WHERE i.conid = record_fill.conid;
		IF NOT FOUND THEN
			v_instrument := pgtrade.add_instrument(
				coalesce(payload->>'symbol', 'conid:' || record_fill.conid),
				record_fill.conid);
		END IF;
	END IF;
	/*
	 * Look before inserting: the risk gate updates the account row as its
	 * per-account lock, and INSERT ... ON CONFLICT would wait for each
	 * order being placed on the account to commit.
	 */
	IF NOT EXISTS (SELECT 1 FROM pgtrade.account a
				   WHERE a.account_id = record_fill.account_id) THEN
		INSERT INTO pgtrade.account (account_id)
		VALUES (record_fill.account_id)
		ON CONFLICT DO NOTHING;
	END IF;

	INSERT INTO pgtrade.fill (execution_id, order_id, order_ref, account_id,
		instrument_id, side, quantity, price, trade_time, payload)
	VALUES (record_fill.execution_id, v_order.order_id, record_fill.order_ref,
		record_fill.account_id, v_instrument, v_side, record_fill.quantity,
		record_fill.price, record_fill.trade_time, record_fill.payload)
	ON CONFLICT ON CONSTRAINT fill_execution_id_key DO NOTHING
	RETURNING fill_id INTO v_fill_id;
	IF v_fill_id IS NULL THEN
		RETURN false;
	END IF;
	IF commission IS NOT NULL THEN
		INSERT INTO pgtrade.commission (execution_id, amount)
		VALUES (record_fill.execution_id, record_fill.commission)
		ON CONFLICT (execution_id) DO NOTHING;
	END IF;
	RETURN true;
END
$$;
COMMENT ON FUNCTION pgtrade.record_fill(text, text, text, bigint, text,
	numeric, numeric, timestamptz, numeric, jsonb) IS
	'Listener: records a broker execution once (by execution id), joined '
	'to its order through order_ref = cOID; executions matching no order '
	'are kept unlinked.  True only when the row was really inserted.';

/*
 * record_fills records several executions at once, element by element
 * of its arrays, as record_fill would one by one and in that order (a
 * late commission or a correction after its execution): the listener
 * records what one read of the trades brought in one transaction.  All
 * or nothing: an error in one element records none of them.
 */
CREATE FUNCTION pgtrade.record_fills(execution_ids text[], order_refs text[],
	account_ids text[], conids bigint[], sides text[], quantities numeric[],
	prices numeric[], trade_times timestamptz[], commissions numeric[],
	payloads jsonb[])
RETURNS TABLE (execution_id text, inserted boolean)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n integer := coalesce(cardinality(execution_ids), 0);
	v_i integer;
BEGIN
	IF coalesce(cardinality(order_refs), 0) <> v_n
		OR coalesce(cardinality(account_ids), 0) <> v_n
		OR coalesce(cardinality(conids), 0) <> v_n
		OR coalesce(cardinality(sides), 0) <> v_n
		OR coalesce(cardinality(quantities), 0) <> v_n
		OR coalesce(cardinality(prices), 0) <> v_n
		OR coalesce(cardinality(trade_times), 0) <> v_n
		OR coalesce(cardinality(commissions), 0) <> v_n
		OR coalesce(cardinality(payloads), 0) <> v_n THEN
		RAISE EXCEPTION 'record_fills needs arrays of one length'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('%s execution ids; the other '
					  || 'arrays hold %s.', v_n, pg_catalog.concat_ws(', ',
					  coalesce(cardinality(order_refs), 0),
					  coalesce(cardinality(account_ids), 0),
					  coalesce(cardinality(conids), 0),
					  coalesce(cardinality(sides), 0),
					  coalesce(cardinality(quantities), 0),
					  coalesce(cardinality(prices), 0),
					  coalesce(cardinality(trade_times), 0),
					  coalesce(cardinality(commissions), 0),
					  coalesce(cardinality(payloads), 0)));
	END IF;
	/*
	 * Lock the batch's orders first, in order_id order: record_submissions
	 * (on another session of the listener) takes its batch's orders in
	 * the order they were claimed, which is order_id order within one
	 * pass of claim_orders, so two batches touching the same orders mostly
	 * wait for each other instead of deadlocking.  A deadlock that is
	 * left is detected by PostgreSQL; the listener keeps the batch and
	 * sends it again a second later.
	 */
	PERFORM 1 FROM pgtrade.orders o
	WHERE o.client_order_id = ANY (order_refs)
	ORDER BY o.order_id
	FOR UPDATE;
	FOR v_i IN 1 .. v_n LOOP
		execution_id := execution_ids[v_i];
		inserted := pgtrade.record_fill(execution_ids[v_i], order_refs[v_i],
			account_ids[v_i], conids[v_i], sides[v_i], quantities[v_i],
			prices[v_i], trade_times[v_i], commissions[v_i], payloads[v_i]);
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.record_fills(text[], text[], text[], bigint[],
	text[], numeric[], numeric[], timestamptz[], numeric[], jsonb[]) IS
	'Listener: records several executions, as record_fill does each and '
	'in array order, all or nothing; returns for each whether its row '
	'was really inserted.';

CREATE FUNCTION pgtrade.orders_to_cancel(accounts text[],
	resend_after interval DEFAULT '30 seconds')
RETURNS TABLE (order_id bigint, client_order_id text, account_id text,
	broker_order_id text)
LANGUAGE sql VOLATILE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.order_id, o.client_order_id, o.account_id, o.broker_order_id
	FROM pgtrade.orders o
	WHERE o.status = 'cancel_requested' AND o.broker_order_id IS NOT NULL
		AND o.account_id = ANY ($1)
		AND (o.cancel_sent_at IS NULL
			 OR o.cancel_sent_at <= clock_timestamp() - $2)
	ORDER BY o.order_id;
$$;
COMMENT ON FUNCTION pgtrade.orders_to_cancel(text[], interval) IS
	'Listener: orders whose cancel must be sent to the broker: '
	'cancel_requested with a broker order id, not sent within '
	'resend_after.';

CREATE FUNCTION pgtrade.record_cancel_sent(order_id bigint,
	payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_cancel_sent.order_id);
BEGIN
	UPDATE pgtrade.orders o SET cancel_sent_at = clock_timestamp()
	WHERE o.order_id = v_o.order_id;
	PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'listener',
		pg_catalog.format('cancel sent to the broker for broker order %s',
						  v_o.broker_order_id), payload);
	/*
	 * A cancel sent again and again without an outcome: the broker may no
	 * longer have the order.  Said once, at the third sending.
	 */
	IF (SELECT count(*) FROM pgtrade.order_event e
		WHERE e.order_id = v_o.order_id AND e.source = 'listener'
			AND e.detail LIKE 'cancel sent to the broker%') = 3 THEN
		RAISE WARNING 'order % (%): its cancel was sent 3 times and the '
			'broker has reported no outcome', v_o.order_id,
			v_o.client_order_id
			USING HINT = pg_catalog.format('If the broker no longer has the '
				'order, cancel it here with pgtrade.resolve_vanished(%s, '
				'note).', v_o.order_id);
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.record_cancel_sent(bigint, jsonb) IS
	'Listener: records that a cancel was sent to the broker (the order '
	'stays cancel_requested until the broker reports the outcome).';

CREATE FUNCTION pgtrade.record_conid(order_id bigint, conid bigint,
	payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(record_conid.order_id);
	v_i pgtrade.instrument;
BEGIN
	SELECT * INTO STRICT v_i FROM pgtrade.instrument i
	WHERE i.instrument_id = v_o.instrument_id FOR UPDATE;
	IF v_i.conid IS NOT NULL AND v_i.conid <> conid THEN
		RAISE EXCEPTION 'instrument "%" already has conid %', v_i.symbol,
			v_i.conid
			USING ERRCODE = 'unique_violation',
				  DETAIL = pg_catalog.format('The lookup found conid %s.', conid);
	END IF;
	IF conid IS NULL OR conid <= 0 THEN
		RAISE EXCEPTION 'conid must be a positive number'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE pgtrade.instrument i SET conid = record_conid.conid
	WHERE i.instrument_id = v_i.instrument_id AND i.conid IS NULL;
	PERFORM pgtrade.order_note(v_o.order_id, v_o.status, 'listener',
		pg_catalog.format('contract lookup: %s is conid %s', v_i.symbol,
						  conid), payload);
END
$$;
COMMENT ON FUNCTION pgtrade.record_conid(bigint, bigint, jsonb) IS
	'Listener: caches the conid a contract lookup found for an order''s '
	'instrument; never changes a known conid.';

CREATE FUNCTION pgtrade.orders_in_flight(accounts text[])
RETURNS TABLE (order_id bigint, client_order_id text, account_id text,
	status text, broker_order_id text, attempts integer,
	updated_at timestamptz, conid bigint, side text, quantity numeric)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.order_id, o.client_order_id, o.account_id, o.status,
		   o.broker_order_id, o.attempts, o.updated_at, i.conid, o.side,
		   o.quantity
	FROM pgtrade.orders o
	JOIN pgtrade.instrument i ON i.instrument_id = o.instrument_id
	WHERE o.status IN ('submitting', 'working', 'cancel_requested', 'unknown')
		AND o.account_id = ANY ($1)
	ORDER BY o.order_id;
$$;
COMMENT ON FUNCTION pgtrade.orders_in_flight(text[]) IS
	'Listener: orders that have left or may have left for the broker and '
	'are not final yet, with the contract, side and quantity a broker '
	'order under the same cOID must match.';

CREATE FUNCTION pgtrade.resolve_unknown(order_id bigint, status text,
	note text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(resolve_unknown.order_id);
BEGIN
	IF v_o.status <> 'unknown' THEN
		RAISE EXCEPTION 'order % is %, not unknown', v_o.order_id, v_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF status NOT IN ('working', 'filled', 'cancelled', 'rejected') THEN
		RAISE EXCEPTION 'an unknown order resolves to working, filled, '
			'cancelled or rejected, not "%"',
			status
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF coalesce(btrim(note), '') = '' THEN
		RAISE EXCEPTION 'resolving an unknown order needs a note saying what '
			'the broker shows'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, status,
		'operator ' || pgtrade.caller_role(), note);
END
$$;
COMMENT ON FUNCTION pgtrade.resolve_unknown(bigint, text, text) IS
	'Operator: settles an unknown order after checking the broker '
	'(working, filled, cancelled or rejected), with a note.  Fills still '
	'come from the listener.';

/*
 * resolve_vanished ends an order the broker no longer shows: one it
 * ended while nothing was listening (a day order that expired during an
 * outage, which a restarted gateway leaves out of its live orders), or
 * one it lost.  The listener cannot tell such an order from one it has
 * yet to see, so it keeps it working (and a cancel of it is answered
 * that the order does not exist, again and again); an operator who has
 * checked the broker ends it here.
 */
CREATE FUNCTION pgtrade.resolve_vanished(order_id bigint, note text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_o pgtrade.orders := pgtrade.lock_order(resolve_vanished.order_id);
BEGIN
	PERFORM pgtrade.require_account(v_o.account_id);
	IF v_o.status = 'unknown' THEN
		RAISE EXCEPTION 'order % is unknown, not working or cancel_requested',
			v_o.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'An unknown order is settled with resolve_unknown.';
	ELSIF v_o.status NOT IN ('working', 'cancel_requested') THEN
		RAISE EXCEPTION 'order % is %, not working or cancel_requested',
			v_o.order_id, v_o.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF coalesce(btrim(note), '') = '' THEN
		RAISE EXCEPTION 'ending a vanished order needs a note saying what '
			'the broker shows'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pgtrade.order_move(v_o.order_id, 'cancelled',
		'operator ' || pgtrade.caller_role(), 'vanished from the broker: ' || note);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.resolve_vanished(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.resolve_vanished(bigint, text) IS
	'Operator: cancels a working or cancel_requested order the broker no '
	'longer shows (ended while nothing listened, or lost), with a note; '
	'fills it had still come from the listener.';

CREATE FUNCTION pgtrade.unhalt_account(account_id text, note text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n integer;
BEGIN
	SELECT count(*) INTO v_n FROM pgtrade.orders o
	WHERE o.account_id = unhalt_account.account_id AND o.status = 'unknown';
	IF v_n > 0 THEN
		RAISE EXCEPTION 'account % still has % unknown order(s)', account_id, v_n
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Settle them with pgtrade.resolve_unknown() first.';
	END IF;
	IF coalesce(btrim(note), '') = '' THEN
		RAISE EXCEPTION 'lifting a halt needs a note'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM pgtrade.account a
			   WHERE a.account_id = unhalt_account.account_id
				 AND NOT a.halted) THEN
		RAISE NOTICE 'account % is not halted: nothing to lift', account_id;
		RETURN;
	END IF;
	UPDATE pgtrade.account a SET halted = false,
		halt_reason = pg_catalog.format('halt lifted by %s: %s', pgtrade.caller_role(),
										 note)
	WHERE a.account_id = unhalt_account.account_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'account "%" does not exist', account_id
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.unhalt_account(text, text) IS
	'Operator: lifts an account''s halt once it has no unknown orders '
	'left; the note is kept in halt_reason.';
