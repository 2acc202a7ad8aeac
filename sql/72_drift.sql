/*
 * 72_drift.sql: broker position reconciliation.
 *
 * The listener reads the broker's positions of an account when nothing
 * of that account is in flight and hands them to record_positions, which
 * compares them with pgtrade.position by conid.  A difference counts as
 * drift only when two consecutive snapshots show it with the same
 * quantities and no order of the account was claimed, no fill recorded
 * and no adjustment made in between; until then it is "suspected".
 * Confirmed drift is a row of position_drift with status open: the
 * listener claims no new order for that account until an operator
 * acknowledges it (keep trading, difference noted), resolves it (an
 * audited position_adjustment makes pgtrade's position the broker's) or
 * a later comparison agrees again.
 *
 * position_adjustment is append-only; a position is the sum of its
 * effective fills plus its adjustments, and position_rebuild replays
 * both.  position_check keeps one row per account (the latest
 * comparison), overwritten each time, so it needs no purge; drift and
 * adjustments are trading records and are never purged.
 */

CREATE TABLE pgtrade.position_drift (
	drift_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id			text NOT NULL REFERENCES pgtrade.account,
	instrument_id		bigint REFERENCES pgtrade.instrument,
	conid				bigint,
	symbol				text,
	pgtrade_quantity	numeric NOT NULL,
	broker_quantity		numeric NOT NULL
						CHECK (broker_quantity > '-Infinity'
							   AND broker_quantity < 'Infinity'),
	difference			numeric NOT NULL
						GENERATED ALWAYS AS (broker_quantity - pgtrade_quantity)
						STORED,
	first_seen			timestamptz NOT NULL,
	confirmed_at		timestamptz NOT NULL DEFAULT now(),
	last_seen			timestamptz NOT NULL DEFAULT now(),
	listener_id			bigint,
	status				text NOT NULL DEFAULT 'open'
						CHECK (status IN ('open', 'acknowledged', 'resolved')),
	acknowledged_by		text,
	acknowledged_at		timestamptz,
	resolved_by			text,
	resolved_at			timestamptz,
	resolution			text
						CHECK (resolution IN ('adjusted', 'agreed',
											  'superseded')),
	note				text,
	CHECK (conid IS NOT NULL OR instrument_id IS NOT NULL),
	CHECK ((status = 'resolved') = (resolution IS NOT NULL))
);
/* at most one unresolved drift per account and contract */
CREATE UNIQUE INDEX position_drift_unresolved ON pgtrade.position_drift
	(account_id, coalesce(conid, -instrument_id)) WHERE status <> 'resolved';
COMMENT ON TABLE pgtrade.position_drift IS
	'Differences between the broker''s positions and pgtrade''s seen in '
	'two consecutive comparisons.  Open drift stops the listener from '
	'claiming new orders for the account until it is acknowledged, '
	'resolved, or a later comparison agrees.  Never purged by pgtrade.';
COMMENT ON COLUMN pgtrade.position_drift.instrument_id IS
	'NULL when pgtrade does not know the broker''s conid (its quantity '
	'counts as 0).';
COMMENT ON COLUMN pgtrade.position_drift.difference IS
	'broker_quantity - pgtrade_quantity: what resolve_drift adds to '
	'pgtrade''s position.';
COMMENT ON COLUMN pgtrade.position_drift.first_seen IS
	'When the first of the two comparisons that confirmed it was made.';
COMMENT ON COLUMN pgtrade.position_drift.resolution IS
	'adjusted (resolve_drift), agreed (a later comparison agreed) or '
	'superseded (a different difference was confirmed for the same '
	'contract).';

CREATE TABLE pgtrade.position_adjustment (
	adjustment_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id		text NOT NULL REFERENCES pgtrade.account,
	instrument_id	bigint NOT NULL REFERENCES pgtrade.instrument,
	quantity		numeric NOT NULL
					CHECK (quantity <> 0 AND quantity > '-Infinity'
						   AND quantity < 'Infinity'),
	drift_id		bigint REFERENCES pgtrade.position_drift,
	reason			text NOT NULL,
	created_by		text NOT NULL DEFAULT session_user,
	created_at		timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX position_adjustment_position ON pgtrade.position_adjustment
	(account_id, instrument_id);
COMMENT ON TABLE pgtrade.position_adjustment IS
	'Audited position adjustments (signed quantities, no price): a '
	'position is the sum of its fills plus these.  Append-only, never '
	'purged.';

CREATE TABLE pgtrade.position_check (
	account_id		text PRIMARY KEY REFERENCES pgtrade.account,
	listener_id		bigint,
	checked_at		timestamptz NOT NULL,
	outcome			text NOT NULL
					CHECK (outcome IN ('agreed', 'suspected', 'drift',
									   'postponed')),
	suspected		jsonb,
	suspected_since	timestamptz,
	broker_positions jsonb
);
COMMENT ON TABLE pgtrade.position_check IS
	'The latest position comparison of each account: outcome, the '
	'differences still awaiting their confirming snapshot, and the '
	'broker''s positions as read.  One row per account, overwritten.';

SELECT pg_catalog.pg_extension_config_dump('pgtrade.position_drift', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.position_adjustment', '');
SELECT pg_catalog.pg_extension_config_dump('pgtrade.position_check', '');
SELECT pg_catalog.pg_extension_config_dump(
	'pgtrade.position_drift_drift_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump(
	'pgtrade.position_adjustment_adjustment_id_seq', '');

/*
 * position_adjust adds a signed quantity to a stored position.  The
 * average cost is kept (an adjustment has no price); a position that
 * reaches zero loses it, and one opened by an adjustment, or taken
 * through zero to the other side, has none: its shares are of unknown
 * cost (position_step).
 */
CREATE FUNCTION pgtrade.position_adjust(p_account text, p_instrument bigint,
	p_quantity numeric)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO pgtrade.position (account_id, instrument_id)
	VALUES (p_account, p_instrument) ON CONFLICT DO NOTHING;
	UPDATE pgtrade.position p
	SET quantity = p.quantity + p_quantity,
		avg_cost = CASE WHEN sign(p.quantity + p_quantity) = sign(p.quantity)
						THEN p.avg_cost END,
		updated_at = now()
	WHERE p.account_id = p_account AND p.instrument_id = p_instrument;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.position_adjust(text, bigint, numeric)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_adjust(text, bigint, numeric) IS
	'Internal: adds an adjustment''s quantity to a position, keeping its '
	'average cost unless it opens or flips the position.';

CREATE FUNCTION pgtrade.position_adjustment_after_insert()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pgtrade.position_adjust(NEW.account_id, NEW.instrument_id,
									NEW.quantity);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.position_adjustment_after_insert() IS
	'AFTER INSERT on position_adjustment: adds it to the position.';
CREATE TRIGGER position_adjustment_after_insert
	AFTER INSERT ON pgtrade.position_adjustment
	FOR EACH ROW EXECUTE FUNCTION pgtrade.position_adjustment_after_insert();

CREATE FUNCTION pgtrade.position_adjustment_immutable()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
	RAISE EXCEPTION 'position adjustments are append-only'
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  DETAIL = 'Positions are the sum of fills and adjustments; a '
			     || 'changed or deleted adjustment would break that.',
			  HINT = 'Add an adjustment of the opposite quantity instead.';
END
$$;
COMMENT ON FUNCTION pgtrade.position_adjustment_immutable() IS
	'Refuses UPDATE and DELETE on position_adjustment.';
CREATE TRIGGER position_adjustment_immutable
	BEFORE UPDATE OR DELETE ON pgtrade.position_adjustment
	FOR EACH ROW EXECUTE FUNCTION pgtrade.position_adjustment_immutable();

/*
 * position_differences compares an account's broker positions (a jsonb
 * array of {"conid", "symbol", "position"}, the quantity as decimal
 * text) with pgtrade.position, joined by conid.  It returns one row per
 * contract whose quantities differ; a broker conid pgtrade does not know
 * counts as pgtrade quantity 0, and a pgtrade position whose instrument
 * has no conid cannot be matched and counts as broker quantity 0.
 */
CREATE FUNCTION pgtrade.position_differences(p_account text,
	p_positions jsonb)
RETURNS TABLE (drift_key bigint, instrument_id bigint, conid bigint,
	symbol text, pgtrade_quantity numeric, broker_quantity numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH b AS (
		SELECT (e->>'conid')::bigint AS conid,
			   sum((e->>'position')::numeric) AS quantity,
			   max(e->>'symbol') AS symbol
		FROM jsonb_array_elements(p_positions) e
		GROUP BY 1),
	p AS (
		SELECT i.instrument_id, i.conid, i.symbol, p.quantity
		FROM pgtrade.position p
		JOIN pgtrade.instrument i USING (instrument_id)
		WHERE p.account_id = p_account AND p.quantity <> 0)
	SELECT coalesce(p.conid, b.conid, -p.instrument_id),
		   coalesce(p.instrument_id, i.instrument_id),
		   coalesce(p.conid, b.conid),
		   coalesce(p.symbol, i.symbol, b.symbol),
		   trim_scale(coalesce(p.quantity, 0)),
		   trim_scale(coalesce(b.quantity, 0))
	FROM p FULL JOIN b ON p.conid = b.conid
	LEFT JOIN pgtrade.instrument i ON i.conid = b.conid
	WHERE coalesce(p.quantity, 0) <> coalesce(b.quantity, 0)
	ORDER BY 1;
$$;
REVOKE ALL ON FUNCTION pgtrade.position_differences(text, jsonb)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_differences(text, jsonb) IS
	'Internal: contracts whose broker and pgtrade quantities differ for '
	'one account, joined by conid.';

/*
 * position_activity_since: true when an order of the account was
 * claimed, a fill of it recorded or an adjustment made after t, when an
 * order of it is being sent, cancelled or is unknown now, or when one
 * working at the broker changed after t (a status or filled quantity
 * reported, a modification) or has fills the broker reported that are
 * not recorded.  Such activity breaks the chain of consecutive
 * snapshots; an order resting unchanged at the broker does not.
 */
CREATE FUNCTION pgtrade.position_activity_since(p_account text,
	p_since timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM pgtrade.orders o
				   WHERE o.account_id = p_account
					 AND (o.submitted_at > p_since
						  OR o.status IN ('submitting', 'cancel_requested',
										  'unknown')
						  OR (o.status = 'working'
							  AND (o.updated_at > p_since
								   OR o.broker_filled_quantity
									  > o.filled_quantity))))
		OR EXISTS (SELECT 1 FROM pgtrade.fill f
				   WHERE f.account_id = p_account
					 AND f.recorded_at > p_since)
		OR EXISTS (SELECT 1 FROM pgtrade.position_adjustment a
				   WHERE a.account_id = p_account
					 AND a.created_at > p_since);
$$;
REVOKE ALL ON FUNCTION pgtrade.position_activity_since(text, timestamptz)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_activity_since(text, timestamptz) IS
	'Internal: true when an order of the account was claimed, a fill or '
	'adjustment recorded or a working order changed after the time, or '
	'an order is being sent, cancelled or is unknown now.';

/*
 * drift_close_agreed resolves, as agreed, an account's unresolved drift
 * in every contract whose key is not among the differences just found,
 * and returns those rows in record_positions' shape.
 */
CREATE FUNCTION pgtrade.drift_close_agreed(p_account text,
	p_listener bigint, p_keys bigint[], p_positions jsonb)
RETURNS TABLE (drift_id bigint, conid bigint, symbol text,
	pgtrade_quantity numeric, broker_quantity numeric, outcome text)
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pgtrade.position_drift d
	SET status = 'resolved', resolution = 'agreed',
		resolved_by = 'listener ' || p_listener, resolved_at = now()
	WHERE d.account_id = p_account AND d.status <> 'resolved'
		AND coalesce(d.conid, -d.instrument_id) <> ALL (p_keys)
	RETURNING d.drift_id, d.conid, d.symbol,
		(SELECT trim_scale(coalesce(max(p.quantity), 0))
		 FROM pgtrade.position p
		 WHERE p.account_id = p_account
			AND p.instrument_id = d.instrument_id),
		(SELECT trim_scale(coalesce(sum((e->>'position')::numeric), 0))
		 FROM jsonb_array_elements(p_positions) e
		 WHERE (e->>'conid')::bigint = d.conid),
		'agreed'::text;
$$;
REVOKE ALL ON FUNCTION pgtrade.drift_close_agreed(text, bigint, bigint[],
	jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.drift_close_agreed(text, bigint, bigint[],
	jsonb) IS
	'Internal: resolves as agreed the drift a comparison no longer shows.';

/*
 * position_check_save overwrites an account's latest comparison.
 * suspected is the array of differences awaiting confirmation, or NULL.
 */
CREATE FUNCTION pgtrade.position_check_save(p_account text,
	p_listener bigint, p_outcome text, p_suspected jsonb,
	p_positions jsonb)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO pgtrade.position_check AS c (account_id, listener_id,
		checked_at, outcome, suspected, suspected_since, broker_positions)
	VALUES (p_account, p_listener, clock_timestamp(), p_outcome,
		p_suspected, CASE WHEN p_suspected IS NOT NULL
						  THEN clock_timestamp() END,
		p_positions)
	ON CONFLICT ON CONSTRAINT position_check_pkey DO UPDATE
		SET listener_id = EXCLUDED.listener_id,
			checked_at = EXCLUDED.checked_at, outcome = EXCLUDED.outcome,
			suspected = EXCLUDED.suspected,
			suspected_since = EXCLUDED.suspected_since,
			broker_positions = EXCLUDED.broker_positions;
$$;
REVOKE ALL ON FUNCTION pgtrade.position_check_save(text, bigint, text,
	jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.position_check_save(text, bigint, text, jsonb,
	jsonb) IS
	'Internal: records an account''s latest position comparison.';

/*
 * record_positions is the listener's comparison of one account.  It
 * returns one row per difference or change:
 *	postponed		an order of the account is being sent, cancelled or is
 *					unknown, or has fills the broker reported that are not
 *					recorded (one ended: for five minutes): nothing compared
 *	suspected		seen for the first time (or changed): compare again
 *	drift			seen twice in a row: recorded as open drift
 *	open, acknowledged	the same difference as a recorded drift
 *	agreed			a recorded drift that this comparison no longer shows;
 *					it is resolved as agreed
 * No row at all means the positions agree.
 */
CREATE FUNCTION pgtrade.record_positions(listener_id bigint,
	account_id text, positions jsonb)
RETURNS TABLE (drift_id bigint, conid bigint, symbol text,
	pgtrade_quantity numeric, broker_quantity numeric, outcome text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_acct text := record_positions.account_id;
	v_lid bigint := record_positions.listener_id;
	v_prev pgtrade.position_check;
	v_chain boolean;
	v_d record;
	v_drift pgtrade.position_drift;
	v_suspected jsonb := '[]';
	v_on_record boolean := false;
	v_keys bigint[] := '{}';
	v_bad jsonb;
	v_recent timestamptz := clock_timestamp() - interval '5 minutes';
BEGIN
	IF jsonb_typeof(positions) IS DISTINCT FROM 'array' THEN
		RAISE EXCEPTION 'broker positions must be a JSON array'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* NaN compares above every number: a quantity must be finite */
	SELECT e INTO v_bad FROM jsonb_array_elements(positions) e
	WHERE NOT ((e ->> 'position')::numeric > '-Infinity'
			   AND (e ->> 'position')::numeric < 'Infinity')
	LIMIT 1;
	IF v_bad IS NOT NULL THEN
		RAISE EXCEPTION 'broker position % of conid % is not a finite number',
			v_bad ->> 'position', v_bad ->> 'conid'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO pgtrade.account (account_id) VALUES (v_acct)
	ON CONFLICT DO NOTHING;
	SELECT * INTO v_prev FROM pgtrade.position_check c
	WHERE c.account_id = v_acct FOR UPDATE;
	/*
	 * An order resting unchanged at the broker (a GTC limit, a bracket's
	 * exits) does not postpone: a fill of it at the broker that pgtrade
	 * has not seen yet shows as a difference only once, as its recording
	 * breaks the chain of snapshots.  An order that ended with fills the
	 * broker reported but the trades have not shown yet postpones for
	 * five minutes after its last change; fills later than that are
	 * missing, and the difference they leave is drift.
	 */
	IF EXISTS (SELECT 1 FROM pgtrade.orders o
			   WHERE o.account_id = v_acct
				 AND (o.status IN ('submitting', 'cancel_requested', 'unknown')
					  OR (o.status = 'working'
						  AND o.broker_filled_quantity
							  > o.filled_quantity)
					  OR (o.status = 'filled'
						  AND o.filled_quantity < o.quantity
						  AND o.updated_at > v_recent)
					  OR (o.status IN ('cancelled', 'rejected')
						  AND o.broker_filled_quantity > o.filled_quantity
						  AND o.updated_at > v_recent)))
	THEN
		PERFORM pgtrade.position_check_save(v_acct, v_lid, 'postponed',
											NULL, NULL);
		RETURN QUERY SELECT NULL::bigint, NULL::bigint, NULL::text,
			NULL::numeric, NULL::numeric, 'postponed'::text;
		RETURN;
	END IF;
	v_chain := v_prev.outcome = 'suspected' AND v_prev.listener_id = v_lid
		AND NOT pgtrade.position_activity_since(v_acct, v_prev.checked_at);

	FOR v_d IN SELECT * FROM pgtrade.position_differences(v_acct, positions)
	LOOP
		v_keys := v_keys || v_d.drift_key;
		SELECT * INTO v_drift FROM pgtrade.position_drift d
		WHERE d.account_id = v_acct
			AND coalesce(d.conid, -d.instrument_id) = v_d.drift_key
			AND d.status <> 'resolved'
		FOR UPDATE;
		IF FOUND AND v_drift.difference =
			v_d.broker_quantity - v_d.pgtrade_quantity THEN
			/* the difference already recorded */
			UPDATE pgtrade.position_drift d SET last_seen = clock_timestamp()
			WHERE d.drift_id = v_drift.drift_id;
			v_on_record := true;
			RETURN QUERY SELECT v_drift.drift_id, v_d.conid, v_d.symbol,
				v_d.pgtrade_quantity, v_d.broker_quantity, v_drift.status;
		ELSIF v_chain AND EXISTS (
			SELECT 1 FROM jsonb_array_elements(v_prev.suspected) s
			WHERE (s->>'drift_key')::bigint = v_d.drift_key
				AND (s->>'pgtrade_quantity')::numeric = v_d.pgtrade_quantity
				AND (s->>'broker_quantity')::numeric = v_d.broker_quantity)
		THEN
			/* seen twice in a row with nothing in between: drift */
			UPDATE pgtrade.position_drift d
			SET status = 'resolved', resolution = 'superseded',
				resolved_by = 'listener ' || v_lid, resolved_at = now()
			WHERE d.drift_id = v_drift.drift_id;
			INSERT INTO pgtrade.position_drift AS d (account_id,
				instrument_id, conid, symbol, pgtrade_quantity,
				broker_quantity, first_seen, last_seen, listener_id)
			VALUES (v_acct, v_d.instrument_id, v_d.conid, v_d.symbol,
				v_d.pgtrade_quantity, v_d.broker_quantity,
				v_prev.suspected_since, clock_timestamp(), v_lid)
			RETURNING * INTO v_drift;
			v_on_record := true;
			RETURN QUERY SELECT v_drift.drift_id, v_d.conid, v_d.symbol,
				v_d.pgtrade_quantity, v_d.broker_quantity, 'drift'::text;
		ELSE
			v_suspected := v_suspected || jsonb_build_object(
				'drift_key', v_d.drift_key, 'conid', v_d.conid,
				'symbol', v_d.symbol,
				'pgtrade_quantity', v_d.pgtrade_quantity,
				'broker_quantity', v_d.broker_quantity);
			RETURN QUERY SELECT NULL::bigint, v_d.conid, v_d.symbol,
				v_d.pgtrade_quantity, v_d.broker_quantity, 'suspected'::text;
		END IF;
	END LOOP;

	RETURN QUERY SELECT * FROM pgtrade.drift_close_agreed(v_acct, v_lid,
		v_keys, positions);

	PERFORM pgtrade.position_check_save(v_acct, v_lid,
		CASE WHEN jsonb_array_length(v_suspected) > 0 THEN 'suspected'
			 WHEN v_on_record THEN 'drift' ELSE 'agreed' END,
		nullif(v_suspected, '[]'), positions);
END
$$;
COMMENT ON FUNCTION pgtrade.record_positions(bigint, text, jsonb) IS
	'Listener: compares an account''s broker positions with pgtrade''s; a '
	'difference seen in two consecutive comparisons becomes open drift.  '
	'Returns the differences with their outcome.';

/*
 * drift_blocked_accounts returns those of the given accounts that have
 * open drift: the listener claims no new orders for them.
 */
CREATE FUNCTION pgtrade.drift_blocked_accounts(accounts text[])
RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	/* PL/pgSQL: every claim asks, and the plan is kept */
	RETURN (
		SELECT coalesce(array_agg(DISTINCT d.account_id ORDER BY d.account_id),
						'{}')
		FROM pgtrade.position_drift d
		WHERE d.status = 'open' AND d.account_id = ANY ($1));
END
$$;
COMMENT ON FUNCTION pgtrade.drift_blocked_accounts(text[]) IS
	'The given accounts that have open position drift: the listener '
	'claims no new orders for them.';

/* drift_lock returns a drift row locked for an operator's decision. */
CREATE FUNCTION pgtrade.drift_lock(p_drift_id bigint, p_note text)
RETURNS pgtrade.position_drift
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_d pgtrade.position_drift;
BEGIN
	SELECT * INTO v_d FROM pgtrade.position_drift d
	WHERE d.drift_id = p_drift_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'position drift % does not exist', p_drift_id
			USING ERRCODE = 'no_data_found';
	END IF;
	IF v_d.status = 'resolved' THEN
		RAISE EXCEPTION 'position drift % is already resolved (%)',
			p_drift_id, v_d.resolution
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF coalesce(btrim(p_note), '') = '' THEN
		RAISE EXCEPTION 'settling position drift needs a note saying what the broker shows'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN v_d;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.drift_lock(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.drift_lock(bigint, text) IS
	'Internal: locks an unresolved drift row and checks the operator''s '
	'note.';

CREATE FUNCTION pgtrade.acknowledge_drift(drift_id bigint, note text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_d pgtrade.position_drift := pgtrade.drift_lock(
		acknowledge_drift.drift_id, acknowledge_drift.note);
BEGIN
	IF v_d.status = 'acknowledged' THEN
		RAISE EXCEPTION 'position drift % is already acknowledged', v_d.drift_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	UPDATE pgtrade.position_drift d
	SET status = 'acknowledged', acknowledged_by = pgtrade.caller_role(),
		acknowledged_at = now(), note = acknowledge_drift.note
	WHERE d.drift_id = v_d.drift_id;
	/* the account's pending orders may go now */
	PERFORM pg_notify('pgtrade_order', '');
END
$$;
COMMENT ON FUNCTION pgtrade.acknowledge_drift(bigint, text) IS
	'Operator: accepts an open drift with a note; trading goes on with the '
	'difference noted until a comparison agrees or the drift is resolved.';

CREATE FUNCTION pgtrade.resolve_drift(drift_id bigint, note text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_d pgtrade.position_drift := pgtrade.drift_lock(
		resolve_drift.drift_id, resolve_drift.note);
	v_instrument bigint := v_d.instrument_id;
	v_id bigint;
BEGIN
	IF v_instrument IS NULL THEN
		SELECT i.instrument_id INTO v_instrument FROM pgtrade.instrument i
		WHERE i.conid = v_d.conid;
	END IF;
	IF v_instrument IS NULL THEN
		RAISE EXCEPTION 'position drift % is in conid %, which pgtrade does not know',
			v_d.drift_id, v_d.conid
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Register it with pgtrade.add_instrument() first, or '
						 'acknowledge the drift.';
	END IF;
	/*
	 * The difference holds as of the comparison that last saw it: a fill
	 * or adjustment of the contract since (a late fill, say) may have
	 * closed it, and adding it then would open a difference of its own.
	 */
	IF EXISTS (SELECT 1 FROM pgtrade.fill f
			   WHERE f.account_id = v_d.account_id
				 AND f.instrument_id = v_instrument
				 AND f.recorded_at > v_d.last_seen)
		OR EXISTS (SELECT 1 FROM pgtrade.position_adjustment a
				   WHERE a.account_id = v_d.account_id
					 AND a.instrument_id = v_instrument
					 AND a.created_at > v_d.last_seen) THEN
		RAISE EXCEPTION 'position drift % is out of date: pgtrade''s position in % '
			'changed since the broker''s was last compared',
			v_d.drift_id, coalesce(v_d.symbol, v_d.conid::text)
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('pgtrade holds %s now; the drift was '
					  || 'last seen at %s.', pgtrade.position_quantity(
						  v_d.account_id, v_instrument), v_d.last_seen),
				  HINT = 'Wait for the listener''s next comparison: it closes '
					  || 'the drift if the positions agree now, or sees the '
					  || 'difference again.';
	END IF;
	INSERT INTO pgtrade.position_adjustment (account_id, instrument_id,
		quantity, drift_id, reason, created_by)
	VALUES (v_d.account_id, v_instrument, v_d.difference, v_d.drift_id,
		resolve_drift.note, pgtrade.caller_role())
	RETURNING adjustment_id INTO v_id;
	UPDATE pgtrade.position_drift d
	SET status = 'resolved', resolution = 'adjusted',
		resolved_by = pgtrade.caller_role(), resolved_at = now(),
		note = resolve_drift.note
	WHERE d.drift_id = v_d.drift_id;
	PERFORM pg_notify('pgtrade_order', '');
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.resolve_drift(bigint, text) IS
	'Operator: resolves open or acknowledged drift by an audited position '
	'adjustment of its difference, so pgtrade''s position becomes the '
	'broker''s; returns the adjustment id.';

CREATE VIEW pgtrade.open_drift AS
	SELECT d.drift_id, d.account_id, d.symbol, d.conid,
		   d.pgtrade_quantity, d.broker_quantity, d.difference, d.status,
		   d.status = 'open' AS blocks_orders, d.first_seen, d.confirmed_at,
		   d.last_seen, d.acknowledged_by, d.note
	FROM pgtrade.position_drift d
	WHERE d.status <> 'resolved'
		AND d.account_id = ANY ((SELECT pgtrade.visible_accounts(current_user))::text[]);
COMMENT ON VIEW pgtrade.open_drift IS
	'Unresolved position drift: open (new orders of the account are held '
	'back) or acknowledged (trading goes on with the difference noted).';
COMMENT ON COLUMN pgtrade.open_drift.drift_id IS
	'Identifies the drift (position_drift.drift_id); pass it to '
	'acknowledge_drift or resolve_drift.';
COMMENT ON COLUMN pgtrade.open_drift.account_id IS
	'The account (account.account_id).';
COMMENT ON COLUMN pgtrade.open_drift.symbol IS
	'The contract''s symbol as the broker reported it.';
COMMENT ON COLUMN pgtrade.open_drift.conid IS 'The broker''s contract id.';
COMMENT ON COLUMN pgtrade.open_drift.pgtrade_quantity IS
	'pgtrade''s position when the drift was confirmed.';
COMMENT ON COLUMN pgtrade.open_drift.broker_quantity IS
	'The broker''s position when the drift was confirmed.';
COMMENT ON COLUMN pgtrade.open_drift.difference IS
	'broker_quantity - pgtrade_quantity: what resolve_drift adds to '
	'pgtrade''s position.';
COMMENT ON COLUMN pgtrade.open_drift.status IS
	'open (new orders of the account are held back) or acknowledged '
	'(trading goes on with the difference noted).';
COMMENT ON COLUMN pgtrade.open_drift.blocks_orders IS
	'True while the drift is open: the risk gate refuses the account''s '
	'new orders.';
COMMENT ON COLUMN pgtrade.open_drift.first_seen IS
	'When the first of the two comparisons that confirmed it was made.';
COMMENT ON COLUMN pgtrade.open_drift.confirmed_at IS
	'When the second comparison confirmed it.';
COMMENT ON COLUMN pgtrade.open_drift.last_seen IS
	'When a comparison last showed it.';
COMMENT ON COLUMN pgtrade.open_drift.acknowledged_by IS
	'The role that acknowledged it, or NULL.';
COMMENT ON COLUMN pgtrade.open_drift.note IS
	'The operator''s note given with acknowledge_drift or '
	'resolve_drift.';

GRANT EXECUTE ON FUNCTION
	pgtrade.acknowledge_drift(bigint, text),
	pgtrade.resolve_drift(bigint, text)
	TO pgtrade_admin;
/* analysts and the health view see which accounts drift holds back */
GRANT EXECUTE ON FUNCTION pgtrade.drift_blocked_accounts(text[])
	TO pgtrade_reader, pgtrade_trader, pgtrade_admin, pgtrade_listener;
/* the listener compares through its function, never by table */
GRANT EXECUTE ON FUNCTION pgtrade.record_positions(bigint, text, jsonb)
	TO pgtrade_listener;

COMMENT ON TABLE pgtrade.position IS
	'Positions per account and instrument, always the sum of the fills '
	'plus the audited adjustments: changed only when a fill or an '
	'adjustment row is really inserted.';
