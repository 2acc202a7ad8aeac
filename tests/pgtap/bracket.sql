-- bracket.sql: pgtrade.place_bracket, the risk gate's OCA counting,
-- claiming a parent with its children, and what becomes of the children
-- when the parent ends.  Figures are worked out by hand per case.
\ir preamble.psql
SELECT plan(47);

CREATE TEMP TABLE tap_b (name text PRIMARY KEY, p bigint, tp bigint,
	sl bigint);
CREATE FUNCTION pg_temp.bracket(p_name text, p_qty numeric,
	p_entry numeric DEFAULT 50, p_valid interval DEFAULT '15 minutes')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_ids bigint[];
BEGIN
	SELECT array_agg(order_id ORDER BY order_id) INTO v_ids
	FROM pgtrade.place_bracket('TAPACCT1', 'TAPX', 'buy', p_qty, p_entry,
		55, 45, valid_for => p_valid);
	INSERT INTO tap_b VALUES (p_name, v_ids[1], v_ids[2], v_ids[3]);
END $$;
CREATE FUNCTION pg_temp.st(p_id bigint) RETURNS text LANGUAGE sql AS
	$$SELECT status FROM pgtrade.orders WHERE order_id = p_id$$;

-- argument errors
SELECT throws_ok($$SELECT pgtrade.place_bracket('TAPACCT1', 'TAPX', 'buy',
	10, 50, 45, 55)$$, '22023', NULL,
	'a buy with the take-profit below the stop-loss is refused');
SELECT throws_ok($$SELECT pgtrade.place_bracket('TAPACCT1', 'TAPX', 'buy',
	10, 56, 55, 45)$$, '22023', NULL,
	'a buy entry above the take-profit is refused');
SELECT throws_ok($$SELECT pgtrade.place_bracket('TAPACCT1', 'TAPX', 'sell',
	10, 50, 55, 45)$$, '22023', NULL,
	'a sell needs take-profit < entry < stop-loss');
SELECT throws_ok($$SELECT pgtrade.place_bracket('TAPACCT1', 'TAPX', 'buy',
	10, 50, NULL, 45)$$, '22004',
	'a bracket needs a take-profit and a stop-loss price',
	'a missing take-profit is refused');

-- the three rows.  Limit 10 and no position: the parent's worst long is
-- 10, the take-profit's worst short -10, and the stop-loss adds nothing
-- because its OCA group already counts 10 (else -20 would be refused).
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 10) \g /dev/null
SELECT pg_temp.bracket('a', 10) \g /dev/null
SELECT results_eq(
	$$SELECT o.status, o.side, o.quantity, o.order_type, o.limit_price,
			 o.stop_price, o.tif, o.bracket_role,
			 o.parent_order_id IS NOT DISTINCT FROM b.p
				 OR o.order_id = b.p
		FROM pgtrade.orders o JOIN tap_b b ON o.order_id IN (b.p, b.tp, b.sl)
		WHERE b.name = 'a' ORDER BY o.order_id$$,
	$$VALUES ('pending', 'buy', 10::numeric, 'limit', 50::numeric,
			  NULL::numeric, 'day', 'entry', true),
			 ('pending', 'sell', 10, 'limit', 55, NULL, 'gtc', 'take_profit',
			  true),
			 ('pending', 'sell', 10, 'stop', NULL, 45, 'gtc', 'stop_loss',
			  true)$$,
	'a buy bracket: entry limit, sell take-profit limit, sell stop-loss '
	'stop, all pending');
SELECT is((SELECT count(DISTINCT oca_group)::int || ' ' || min(oca_group)
		   FROM pgtrade.orders o JOIN tap_b b ON o.order_id IN (b.tp, b.sl)
		   WHERE b.name = 'a'),
	'1 ' || (SELECT client_order_id || '-oca' FROM pgtrade.orders o
			 JOIN tap_b b ON o.order_id = b.p WHERE b.name = 'a'),
	'the children share one OCA group named after the parent''s cOID');
SELECT is((SELECT oca_group FROM pgtrade.orders o JOIN tap_b b
		   ON o.order_id = b.p WHERE b.name = 'a'), NULL,
	'the parent is in no OCA group');
SELECT is((SELECT row(buys, sells)::text FROM pgtrade.open_side_quantities(
		   'TAPACCT1', pgtrade.instrument_id('TAPX'))), '(10,10)',
	'open sides: buys 10 (the entry), sells 10 (the group, once)');
SELECT is(pgtrade.oca_open_quantity(o.oca_group, 'sell', o.order_id),
	10::numeric, 'oca_open_quantity without the stop-loss is the 10 of '
	'the take-profit')
	FROM pgtrade.orders o JOIN tap_b b ON o.order_id = b.sl WHERE b.name = 'a';
CREATE TEMP TABLE tap_s1 AS
	SELECT * FROM pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 11);
SELECT is((SELECT status FROM tap_s1), 'refused',
	'a further sell of 11 is refused: worst short 0 - 11 (the exits only '
	'close what the entry opens)');
SELECT is((SELECT risk_verdict ->> 'reason' FROM tap_s1),
	'projected position -11 (position 0, open buys 10, open sells 0, this '
	'sell 11) exceeds the limit of 10',
	'the verdict counts the pending exits as no open sells');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1)).status,
	'refused', 'a further buy of 1 is refused: worst long 10 + 1');

-- an exit must rest: ioc would be cancelled at once, leaving the entry
-- unguarded, whether asked of place_bracket or written as a child; and a
-- gtc entry's exits must be gtc
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 100) \g /dev/null
INSERT INTO tap_b SELECT 'g', min(order_id) FROM pgtrade.place_bracket(
	'TAPACCT1', 'TAPX', 'buy', 1, 50, 55, 45, tif => 'gtc');
SELECT throws_ok($$SELECT pgtrade.place_bracket('TAPACCT1', 'TAPX', 'buy',
	10, 50, 55, 45, exit_tif => 'IOC')$$, '22023',
	'exit_tif must be day or gtc, not IOC',
	'place_bracket refuses an ioc take-profit and stop-loss');
SELECT throws_ok(format($$INSERT INTO pgtrade.orders (account_id,
	instrument_id, side, quantity, order_type, stop_price, tif,
	parent_order_id, bracket_role) VALUES ('TAPACCT1',
	pgtrade.instrument_id('TAPX'), 'sell', 10, 'stop', 45, 'ioc', %s,
	'stop_loss')$$, (SELECT p FROM tap_b WHERE name = 'a')), '22023',
	'a bracket''s stop_loss must rest until it fills or is cancelled: '
	'time in force day or gtc, not ioc',
	'the gate refuses an ioc child of a pending entry');
SELECT throws_ok($$SELECT pgtrade.place_bracket('TAPACCT1', 'TAPX', 'buy',
	10, 50, 55, 45, tif => 'GTC', exit_tif => 'day')$$, '22023',
	'exit_tif must be gtc when tif is gtc, not day',
	'a gtc entry''s exits must be gtc: a day exit expires before it may fill');
SELECT throws_ok(format($$INSERT INTO pgtrade.orders (account_id,
	instrument_id, side, quantity, order_type, limit_price, tif,
	parent_order_id, bracket_role) VALUES ('TAPACCT1',
	pgtrade.instrument_id('TAPX'), 'sell', 1, 'limit', 55, 'day', %s,
	'take_profit')$$, (SELECT p FROM tap_b WHERE name = 'g')), '22023',
	'a bracket''s take_profit must be gtc when its entry is gtc, not day',
	'the gate refuses a day child of a gtc entry');
UPDATE pgtrade.orders SET status = 'cancelled'
	WHERE (SELECT p FROM tap_b WHERE name = 'g') IN (order_id, parent_order_id)
	\g /dev/null
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 10) \g /dev/null

-- claiming: the parent and its children move together; children are
-- never claimed alone
SELECT is((SELECT order_id FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])),
	(SELECT p FROM tap_b WHERE name = 'a'),
	'claim_order returns the parent');
SELECT is(ARRAY[pg_temp.st(p), pg_temp.st(tp), pg_temp.st(sl)],
	ARRAY['submitting', 'submitting', 'submitting'],
	'the parent and both children are submitting')
	FROM tap_b WHERE name = 'a';
SELECT is((SELECT count(*)::int FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])),
	0, 'nothing else is claimed: the children went with the parent');
SELECT is((SELECT array_agg(order_id ORDER BY order_id)
		   FROM pgtrade.bracket_children(b.p)), ARRAY[b.tp, b.sl],
	'bracket_children lists the take-profit and the stop-loss')
	FROM tap_b b WHERE b.name = 'a';
SELECT is(pgtrade.bracket_parent_of(b.sl), b.p,
	'bracket_parent_of names the parent') FROM tap_b b WHERE b.name = 'a';

-- a rejected parent takes the children sent with it along
SELECT pgtrade.record_rejection(p, 'No trading permissions.')
	FROM tap_b WHERE name = 'a' \g /dev/null
SELECT is(ARRAY[pg_temp.st(p), pg_temp.st(tp), pg_temp.st(sl)],
	ARRAY['rejected', 'rejected', 'rejected'],
	'the broker rejecting the parent rejects its children')
	FROM tap_b WHERE name = 'a';
SELECT matches((SELECT last_error FROM pgtrade.orders o JOIN tap_b b
				ON o.order_id = b.tp WHERE b.name = 'a'),
	'^parent order \d+ was rejected: No trading permissions\.$',
	'the child''s reason names the parent and its reason');

-- an expired parent cancels its pending children
SELECT pg_temp.bracket('x', 10, 50, '1 microsecond') \g /dev/null
SELECT pg_sleep(0.01) \g /dev/null
SELECT is((SELECT count(*)::int FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])),
	0, 'an expired bracket is not claimed');
SELECT is(ARRAY[pg_temp.st(p), pg_temp.st(tp), pg_temp.st(sl)],
	ARRAY['expired', 'cancelled', 'cancelled'],
	'its entry expires and its children are cancelled')
	FROM tap_b WHERE name = 'x';

-- a child the gate refuses: no bracket.  Orders worth 520 at most: the
-- entry is 10 at 50 = 500, the take-profit 10 at 55 = 550, the stop-loss
-- 10 at 45 = 450 (no bar: the order's own price)
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 10,
	max_order_notional => 520) \g /dev/null
SELECT pg_temp.bracket('r', 10) \g /dev/null
SELECT is(ARRAY[pg_temp.st(p), pg_temp.st(tp), pg_temp.st(sl)],
	ARRAY['cancelled', 'refused', 'cancelled'],
	'a refused child cancels the entry, and the other child with it: no '
	'entry without protection')
	FROM tap_b WHERE name = 'r';
SELECT pgtrade.remove_risk_limit('max_order_notional', 'TAPACCT1') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 10) \g /dev/null
-- an exit closes only what its entry opens: with an open sell of 5, the
-- take-profit's worst is 0 - 5 + 10 (the entry) - 10 = -5, within 10
SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 5) \g /dev/null
SELECT pg_temp.bracket('r2', 10) \g /dev/null
SELECT is(ARRAY[pg_temp.st(p), pg_temp.st(tp), pg_temp.st(sl)],
	ARRAY['pending', 'pending', 'pending'],
	'the exits count from the position their entry makes')
	FROM tap_b WHERE name = 'r2';
UPDATE pgtrade.orders SET status = 'cancelled'
	WHERE status = 'pending' AND account_id = 'TAPACCT1' \g /dev/null

-- children cannot be forged: a child of an order that is not a pending
-- entry, or a parent id changed later
SELECT throws_ok(format($$INSERT INTO pgtrade.orders (account_id,
	instrument_id, side, quantity, order_type, limit_price, parent_order_id,
	bracket_role) VALUES ('TAPACCT1', pgtrade.instrument_id('TAPX'), 'sell',
	1, 'limit', 60, %s, 'take_profit')$$, (SELECT p FROM tap_b WHERE name = 'a')),
	'22023', NULL, 'a child of a rejected order is refused');
SELECT throws_ok(format($$UPDATE pgtrade.orders SET parent_order_id = NULL
	WHERE order_id = %s$$, (SELECT tp FROM tap_b WHERE name = 'a')),
	'55000', NULL, 'a child''s parent cannot change');

-- the parent ends partly filled: working children are modified to the
-- filled quantity.  Limit 100 again; entry 10, 4 of it filled.
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 100) \g /dev/null
SELECT pg_temp.bracket('f', 10) \g /dev/null
SELECT pgtrade.claim_order(1, ARRAY['TAPACCT1']) \g /dev/null
SELECT pgtrade.record_submission(o.order_id, 'B' || o.order_id,
	CASE WHEN o.order_id = b.p THEN 'Submitted' ELSE 'PreSubmitted' END)
	FROM pgtrade.orders o JOIN tap_b b ON o.order_id IN (b.p, b.tp, b.sl)
	WHERE b.name = 'f' \g /dev/null
SELECT pgtrade.record_fill('tap-brk-1', o.client_order_id, 'TAPACCT1',
	990001, 'B', 4, 49.90, now())
	FROM pgtrade.orders o JOIN tap_b b ON o.order_id = b.p
	WHERE b.name = 'f' \g /dev/null
SELECT pgtrade.cancel_order(p) FROM tap_b WHERE name = 'f' \g /dev/null
SELECT is((SELECT count(*)::int FROM pgtrade.order_modification m
		   JOIN tap_b b ON m.order_id IN (b.tp, b.sl) WHERE b.name = 'f'),
	0, 'nothing is resized while the cancel is only requested');
SELECT pgtrade.record_status(p, 'Cancelled', 4) FROM tap_b
	WHERE name = 'f' \g /dev/null
SELECT results_eq(
	$$SELECT m.order_id, m.status, m.quantity, m.old_quantity
	  FROM pgtrade.order_modification m JOIN tap_b b
		ON m.order_id IN (b.tp, b.sl)
	  WHERE b.name = 'f' ORDER BY m.order_id$$,
	$$SELECT b.tp, 'requested'::text, 4::numeric, 10::numeric
	  FROM tap_b b WHERE b.name = 'f'
	  UNION ALL
	  SELECT b.sl, 'requested', 4, 10 FROM tap_b b WHERE b.name = 'f'$$,
	'the cancelled entry with 4 filled asks both children down to 4');
SELECT is((SELECT min(source) FROM pgtrade.order_modification m
		   JOIN tap_b b ON m.order_id = b.tp WHERE b.name = 'f'),
	(SELECT format('bracket: parent order %s ended cancelled with 4 filled', p)
	 FROM tap_b WHERE name = 'f'),
	'the modification says why');
SELECT is((SELECT count(*)::int FROM pgtrade.modifications_due(
		   ARRAY['TAPACCT1']) d JOIN tap_b b ON d.order_id IN (b.tp, b.sl)
		   WHERE b.name = 'f' AND d.quantity = 4),
	2, 'both are due for the listener');

-- a long-only account protects the position a bracket opens: the exits
-- sell only what the entry buys, so they are not short sales
SELECT pgtrade.add_account('TAPBLONG', 'pgTAP bracket fixture') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPBLONG', max_position => 100,
	allow_short => false) \g /dev/null
SELECT results_eq($$SELECT bracket_role, status FROM pgtrade.place_bracket(
	'TAPBLONG', 'TAPX', 'buy', 5, 50, 55, 45) ORDER BY order_id$$,
	$$VALUES ('entry', 'pending'), ('take_profit', 'pending'),
		('stop_loss', 'pending')$$,
	'allow_short off: a buy bracket''s exits pass the gate (0 + 5 - 5 = 0)');
SELECT is((SELECT status FROM pgtrade.place_bracket('TAPBLONG', 'TAPX',
	'sell', 5, 50, 45, 55) WHERE bracket_role = 'entry'), 'refused',
	'a sell bracket''s entry is still a short sale');

-- both exits filled (the broker lost their group): an alert, as the
-- position went past flat; one exit filled alone raises none
CREATE TEMP TABLE tap_bl AS SELECT order_id, bracket_role, client_order_id
	FROM pgtrade.place_bracket('TAPBLONG', 'TAPX', 'buy', 5, 50, 55, 45);
UPDATE pgtrade.orders SET status = 'submitting'
WHERE order_id IN (SELECT order_id FROM tap_bl);
SELECT pgtrade.record_submission(order_id, 'tap-bl-' || order_id, 'Submitted')
FROM tap_bl \g /dev/null
SELECT pgtrade.record_fill('tapbl.' || bracket_role || '.01.01',
	client_order_id, 'TAPBLONG', 990001, CASE bracket_role WHEN 'entry'
	THEN 'B' ELSE 'S' END, 5, 50, '2026-01-07 15:00+00')
FROM tap_bl WHERE bracket_role IN ('entry', 'take_profit') \g /dev/null
SELECT is((SELECT count(*)::int FROM pgtrade.alert a JOIN tap_bl b
		   ON a.order_id = b.order_id WHERE a.kind = 'order_mismatch'), 0,
	'the entry and one exit filled: no alert');
SELECT pgtrade.record_fill('tapbl.stop_loss.01.01', client_order_id,
	'TAPBLONG', 990001, 'S', 5, 45, '2026-01-07 15:01+00')
FROM tap_bl WHERE bracket_role = 'stop_loss' \g /dev/null
SELECT matches((SELECT a.message FROM pgtrade.alert a JOIN tap_bl b
		   ON a.order_id = b.order_id AND b.bracket_role = 'entry'
		   WHERE a.kind = 'order_mismatch'),
	'^the exits of entry order [0-9]+ are filled 10 together, more than the '
	'5 it filled: the position went past flat',
	'the other exit filling too raises an order_mismatch alert on the entry');

-- a bracket's quantities move together: neither the entry's quantity nor
-- a larger exit is asked alone, nor an exit cancelled while the entry is
-- open; pgtrade's own resize of the exits passes a kill switch
SELECT pgtrade.add_account('TAPBK', 'pgTAP bracket fixture') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPBK', max_position => 100) \g /dev/null
CREATE TEMP TABLE tap_bk AS SELECT order_id, bracket_role, client_order_id
	FROM pgtrade.place_bracket('TAPBK', 'TAPX', 'buy', 10, 50, 55, 45);
SELECT throws_ok(format('SELECT pgtrade.cancel_order(%s)', (SELECT order_id
	FROM tap_bk WHERE bracket_role = 'stop_loss')), '55000',
	format('cannot cancel order %s alone: it is an exit of bracket entry %s, '
		   'which is still open',
		   (SELECT order_id FROM tap_bk WHERE bracket_role = 'stop_loss'),
		   (SELECT order_id FROM tap_bk WHERE bracket_role = 'entry')),
	'an exit is not cancelled alone while its entry is open');
UPDATE pgtrade.orders SET status = 'submitting'
WHERE order_id IN (SELECT order_id FROM tap_bk);
SELECT pgtrade.record_submission(order_id, 'tap-bk-' || order_id, 'Submitted')
FROM tap_bk \g /dev/null
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, quantity => 6)',
	(SELECT order_id FROM tap_bk WHERE bracket_role = 'entry')), '55000',
	NULL, 'the entry''s quantity does not change alone');
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, quantity => 12)',
	(SELECT order_id FROM tap_bk WHERE bracket_role = 'take_profit')), '55000',
	NULL, 'nor does an exit grow');
SELECT is((pgtrade.modify_order((SELECT order_id FROM tap_bk
	WHERE bracket_role = 'stop_loss'), stop_price => 46)).status, 'requested',
	'an exit''s price still may change');
UPDATE pgtrade.order_modification SET status = 'refused',
	answered_at = clock_timestamp(), reason = 'tap: not sent'
WHERE status = 'requested' AND order_id IN (SELECT order_id FROM tap_bk);
SELECT pgtrade.record_fill('tapbk.entry.01.01', client_order_id, 'TAPBK',
	990001, 'B', 4, 50, '2026-01-08 15:00+00')
FROM tap_bk WHERE bracket_role = 'entry' \g /dev/null
SELECT pgtrade.set_trading_enabled(false, 'TAPBK', note => 'tap: emergency')
	\g /dev/null
SELECT pgtrade.record_status(order_id, 'Cancelled', 4) FROM tap_bk
WHERE bracket_role = 'entry' \g /dev/null
SELECT results_eq($$SELECT m.status, m.quantity FROM pgtrade.order_modification m
	JOIN tap_bk b USING (order_id) WHERE m.status <> 'refused'
	ORDER BY m.order_id$$,
	$$VALUES ('requested', 4::numeric), ('requested', 4::numeric)$$,
	'under a kill switch the exits are still resized to the 4 filled');
SELECT pgtrade.set_trading_enabled(true, 'TAPBK', note => 'tap: over')
	\g /dev/null
-- the take-profit fills its 10 before the resize reaches the broker
SELECT pgtrade.record_fill('tapbk.tp.01.01', client_order_id, 'TAPBK',
	990001, 'S', 10, 55, '2026-01-08 15:01+00')
FROM tap_bk WHERE bracket_role = 'take_profit' \g /dev/null
SELECT matches((SELECT a.message FROM pgtrade.alert a JOIN tap_bk b
		   ON a.order_id = b.order_id AND b.bracket_role = 'entry'
		   WHERE a.kind = 'order_mismatch'),
	'^the exits of entry order [0-9]+ are filled 10 together, more than the '
	'4 it filled',
	'an exit filling beyond what the entry filled raises the alert');

-- the entry ends partly filled while a modification of an exit is open:
-- that exit is resized once the modification is answered; a fill that
-- comes late to the ended entry sizes the exits up to it
CREATE TEMP TABLE tap_bm AS SELECT order_id, bracket_role, client_order_id
	FROM pgtrade.place_bracket('TAPBK', 'TAPX', 'buy', 10, 50, 55, 45);
UPDATE pgtrade.orders SET status = 'submitting'
WHERE order_id IN (SELECT order_id FROM tap_bm);
SELECT pgtrade.record_submission(order_id, 'tap-bm-' || order_id, 'Submitted')
FROM tap_bm \g /dev/null
SELECT pgtrade.record_fill('tapbm.entry.01.01', client_order_id, 'TAPBK',
	990001, 'B', 3, 50, '2026-01-09 15:00+00')
FROM tap_bm WHERE bracket_role = 'entry' \g /dev/null
CREATE TEMP TABLE tap_bmm AS SELECT (pgtrade.modify_order(order_id,
	stop_price => 44)).modification_id AS id
FROM tap_bm WHERE bracket_role = 'stop_loss';
SELECT pgtrade.record_status(order_id, 'Cancelled', 3) FROM tap_bm
WHERE bracket_role = 'entry' \g /dev/null
SELECT results_eq($$SELECT b.bracket_role, m.quantity FROM pgtrade.order_modification m
	JOIN tap_bm b USING (order_id) WHERE m.source LIKE 'bracket:%'
	ORDER BY b.order_id$$,
	$$VALUES ('take_profit', 3::numeric)$$,
	'the exit without an open modification is resized at once');
SELECT pgtrade.record_modification((SELECT id FROM tap_bmm), false,
	'tap: no answer') \g /dev/null
SELECT results_eq($$SELECT b.bracket_role, m.quantity FROM pgtrade.order_modification m
	JOIN tap_bm b USING (order_id) WHERE m.source LIKE 'bracket:%'
	ORDER BY b.order_id$$,
	$$VALUES ('take_profit', 3::numeric), ('stop_loss', 3::numeric)$$,
	'the other once its modification is answered');

-- the entry's own event keeps who cancelled it and why, though its
-- children are moved (and their events written) before it
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 1000) \g /dev/null
SELECT pg_temp.bracket('ev', 2) \g /dev/null
SELECT pgtrade.cancel_order(p, 'trader: changed my mind') FROM tap_b
	WHERE name = 'ev' \g /dev/null
SELECT results_eq($$SELECT e.source, e.detail FROM pgtrade.order_event e
	JOIN tap_b b ON e.order_id = b.p
	WHERE b.name = 'ev' AND e.to_status = 'cancelled'$$,
	$$VALUES ('user postgres'::text, 'trader: changed my mind'::text)$$,
	'a cancelled entry''s event names its user and reason');
SELECT results_eq($$SELECT e.source FROM pgtrade.order_event e
	JOIN tap_b b ON e.order_id IN (b.tp, b.sl)
	WHERE b.name = 'ev' AND e.to_status = 'cancelled' ORDER BY e.order_id$$,
	$$VALUES ('bracket'::text), ('bracket')$$,
	'its exits'' events name the bracket');

SELECT * FROM finish();
ROLLBACK;
