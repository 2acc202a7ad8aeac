-- modify.sql: pgtrade.modify_order and the listener's side of
-- modifications: the states an order must be in, the risk gate on the
-- new quantity, the request's life (requested, sent, applied or
-- refused), and how an open request counts toward position limits.
-- Every expected figure is worked out by hand next to its case.
\ir preamble.psql
SELECT plan(40);

-- A working order: placed, claimed and acknowledged as the listener
-- would.  The fixture account's limit is 1000000; cases set their own.
CREATE FUNCTION pg_temp.working(p_side text, p_qty numeric,
	p_type text DEFAULT 'limit', p_limit numeric DEFAULT 50,
	p_stop numeric DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
BEGIN
	v_id := (pgtrade.place_order('TAPACCT1', 'TAPX', p_side, p_qty,
		order_type => p_type,
		limit_price => CASE WHEN p_type IN ('limit', 'stop_limit')
							THEN p_limit END,
		stop_price => p_stop)).order_id;
	PERFORM pgtrade.claim_order(1, ARRAY['TAPACCT1']);
	PERFORM pgtrade.record_submission(v_id, 'B' || v_id, 'Submitted');
	RETURN v_id;
END $$;
CREATE TEMP TABLE tap_m (name text PRIMARY KEY, id bigint);

-- errors: what cannot be modified, by SQLSTATE and message
SELECT throws_ok($$SELECT pgtrade.modify_order(-1, quantity => 5)$$,
	'42704', 'order -1 does not exist', 'an unknown order is refused');
INSERT INTO tap_m VALUES ('pend', (pgtrade.place_order('TAPACCT1', 'TAPX',
	'buy', 10, order_type => 'limit', limit_price => 50)).order_id);
SELECT throws_like(format('SELECT pgtrade.modify_order(%s, quantity => 5)',
	(SELECT id FROM tap_m WHERE name = 'pend')),
	'cannot modify order % it is pending', 'a pending order is refused');
SELECT pgtrade.cancel_order(id) FROM tap_m WHERE name = 'pend' \g /dev/null
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, quantity => 5)',
	(SELECT id FROM tap_m WHERE name = 'pend')), '55000',
	format('cannot modify order %s: it is cancelled',
		(SELECT id FROM tap_m WHERE name = 'pend')),
	'a cancelled order is refused with 55000');

INSERT INTO tap_m VALUES ('w', pg_temp.working('buy', 10));
SELECT pgtrade.record_fill('tap-mod-1', (SELECT client_order_id FROM
	pgtrade.orders WHERE order_id = (SELECT id FROM tap_m WHERE name = 'w')),
	'TAPACCT1', 990001, 'B', 4, 49.50, now()) \g /dev/null
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, quantity => 3)',
	(SELECT id FROM tap_m WHERE name = 'w')), '22023',
	format('cannot modify order %s: quantity 3 is not above the filled quantity 4',
		(SELECT id FROM tap_m WHERE name = 'w')),
	'a quantity below the filled 4 is refused with 22023');
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, quantity => 4)',
	(SELECT id FROM tap_m WHERE name = 'w')), '22023', NULL,
	'a quantity equal to the filled 4 is refused too');
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, stop_price => 40)',
	(SELECT id FROM tap_m WHERE name = 'w')), '22023',
	format('cannot modify order %s: a limit order has no stop price',
		(SELECT id FROM tap_m WHERE name = 'w')),
	'a stop price on a limit order is refused');
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, limit_price => 50)',
	(SELECT id FROM tap_m WHERE name = 'w')), '22023', NULL,
	'a modification that changes nothing is refused');
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, quantity => -2)',
	(SELECT id FROM tap_m WHERE name = 'w')), '22023', NULL,
	'a negative quantity is refused');
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, limit_price => ''NaN'')',
	(SELECT id FROM tap_m WHERE name = 'w')), '22023', NULL,
	'a NaN price is refused');

-- a valid modification: requested, an event, a notification
SELECT is((pgtrade.modify_order(id, quantity => 12, limit_price => 50.257)).status,
	'requested', 'quantity 10 -> 12 and limit 50 -> 50.257 is requested')
	FROM tap_m WHERE name = 'w';
SELECT is((SELECT row(quantity, limit_price, old_quantity, old_limit_price)::text
		   FROM pgtrade.order_modification m JOIN tap_m t ON t.id = m.order_id
		   WHERE t.name = 'w'),
	'(12,50.25,10,50.00)',
	'the request keeps old and new terms; a buy limit rounds down to 50.25');
SELECT is((SELECT row(quantity, limit_price, status)::text FROM pgtrade.orders
		   WHERE order_id = (SELECT id FROM tap_m WHERE name = 'w')),
	'(10,50.00,working)', 'the order keeps its terms until the broker answers');
SELECT is((SELECT count(*)::int FROM pgtrade.order_event e JOIN tap_m t
		   ON t.id = e.order_id WHERE t.name = 'w'
		   AND e.detail LIKE 'modification % requested: quantity 10 -> 12, limit 50.00 -> 50.25'),
	1, 'an order event records the request');
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, quantity => 11)',
	(SELECT id FROM tap_m WHERE name = 'w')), '55006', NULL,
	'a second modification while one is pending is refused with 55006');
SELECT is(pgtrade.open_quantity('TAPACCT1', pgtrade.instrument_id('TAPX')),
	8::numeric,
	'while open it counts with the larger quantity: 12 - 4 filled = 8');

-- the listener: due, sent (once), applied
SELECT is((SELECT count(*)::int FROM pgtrade.modifications_due(
		   ARRAY['TAPACCT1']) d JOIN tap_m t ON t.id = d.order_id
		   WHERE t.name = 'w' AND d.status = 'requested'
			 AND d.quantity = 12 AND d.limit_price = 50.25),
	1, 'the request is due with its new terms');
SELECT ok(pgtrade.record_modification_sent(m.modification_id, 1),
	'marking it sent succeeds')
	FROM pgtrade.order_modification m JOIN tap_m t ON t.id = m.order_id
	WHERE t.name = 'w';
SELECT ok(NOT pgtrade.record_modification_sent(m.modification_id, 1),
	'marking it sent a second time does not')
	FROM pgtrade.order_modification m JOIN tap_m t ON t.id = m.order_id
	WHERE t.name = 'w';
SELECT is((SELECT count(*)::int FROM pgtrade.modifications_due(
		   ARRAY['TAPACCT1']) d JOIN tap_m t ON t.id = d.order_id
		   WHERE t.name = 'w'),
	0, 'a sent request is not due again within resend_after');
SELECT is((SELECT count(*)::int FROM pgtrade.modifications_due(
		   ARRAY['TAPACCT1'], '-1 second') d JOIN tap_m t ON t.id = d.order_id
		   WHERE t.name = 'w' AND d.status = 'sent'),
	1, 'after resend_after it is due, as sent, for reconciliation');
SELECT is(pgtrade.record_modification(m.modification_id, true, NULL,
	'Submitted', '{"order_status": "Submitted"}'), 'applied',
	'the broker''s acceptance is recorded as applied')
	FROM pgtrade.order_modification m JOIN tap_m t ON t.id = m.order_id
	WHERE t.name = 'w';
SELECT is((SELECT row(quantity, limit_price, status, filled_quantity)::text
		   FROM pgtrade.orders
		   WHERE order_id = (SELECT id FROM tap_m WHERE name = 'w')),
	'(12,50.25,working,4)', 'the order now has quantity 12 and limit 50.25');
SELECT is(pgtrade.record_modification(m.modification_id, false, 'late'),
	'applied', 'a later answer does not change an answered request')
	FROM pgtrade.order_modification m JOIN tap_m t ON t.id = m.order_id
	WHERE t.name = 'w';
SELECT is(pgtrade.open_quantity('TAPACCT1', pgtrade.instrument_id('TAPX')),
	8::numeric, 'open quantity is now 12 - 4 = 8 from the order itself');

-- refused by the broker: the order is unchanged, the reason kept
SELECT pgtrade.modify_order(id, quantity => 20) FROM tap_m WHERE name = 'w' \g /dev/null
SELECT is(pgtrade.record_modification(m.modification_id, false,
	'OrderID 1 cannot be modified'), 'refused', 'a refusal is recorded')
	FROM pgtrade.order_modification m JOIN tap_m t ON t.id = m.order_id
	WHERE t.name = 'w' AND m.status = 'requested';
SELECT is((SELECT row(o.quantity, m.reason)::text FROM pgtrade.orders o
		   JOIN pgtrade.order_modification m USING (order_id)
		   WHERE o.order_id = (SELECT id FROM tap_m WHERE name = 'w')
			 AND m.quantity = 20),
	'(12,"OrderID 1 cannot be modified")',
	'the order keeps quantity 12; the request keeps the reason');
SELECT is((SELECT count(*)::int FROM pgtrade.order_event e JOIN tap_m t
		   ON t.id = e.order_id WHERE t.name = 'w'
		   AND e.detail LIKE 'modification % refused: OrderID 1 cannot be modified'),
	1, 'an order event records the refusal');

-- a cancel pending: refused; the order ending closes an open request
SELECT pgtrade.modify_order(id, quantity => 14) FROM tap_m WHERE name = 'w' \g /dev/null
SELECT pgtrade.cancel_order(id) FROM tap_m WHERE name = 'w' \g /dev/null
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, quantity => 15)',
	(SELECT id FROM tap_m WHERE name = 'w')), '55000',
	format('cannot modify order %s: a cancel is pending',
		(SELECT id FROM tap_m WHERE name = 'w')),
	'a modification while a cancel is pending is refused with 55000');
SELECT pgtrade.record_status(id, 'Cancelled') FROM tap_m WHERE name = 'w' \g /dev/null
SELECT is((SELECT row(status, reason)::text FROM pgtrade.order_modification m
		   JOIN tap_m t ON t.id = m.order_id WHERE t.name = 'w'
			 AND m.quantity = 14),
	'(refused,"the order became cancelled before the broker applied it")',
	'the open request is refused once the order is cancelled');
SELECT is((SELECT count(*)::int FROM pgtrade.order_event e JOIN tap_m t
		   ON t.id = e.order_id WHERE t.name = 'w'
		   AND e.detail LIKE 'modification % refused: the order became cancelled before the broker applied it'),
	1, 'an order event records that refusal too');
SELECT throws_ok(format('SELECT pgtrade.modify_order(%s, quantity => 15)',
	(SELECT id FROM tap_m WHERE name = 'w')), '55000', NULL,
	'a cancelled order cannot be modified');

-- the risk gate on the new quantity.  Limit 100; TAPACCT1 holds 4
-- (the fill above); a working buy of 50 (nothing filled).
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 100) \g /dev/null
INSERT INTO tap_m VALUES ('g', pg_temp.working('buy', 50));
-- to 96: worst long 4 + 96 = 100, passes
SELECT is((pgtrade.modify_order(id, quantity => 96)).status, 'requested',
	'buy 50 -> 96 passes: worst long 4 + 96 = 100') FROM tap_m WHERE name = 'g';
SELECT pgtrade.record_modification(m.modification_id, false, 'test')
	FROM pgtrade.order_modification m JOIN tap_m t ON t.id = m.order_id
	WHERE t.name = 'g' AND m.status = 'requested' \g /dev/null
-- to 97: 4 + 97 = 101, refused
SELECT is((pgtrade.modify_order(id, quantity => 97)).status, 'refused',
	'buy 50 -> 97 is refused: worst long 4 + 97 = 101') FROM tap_m WHERE name = 'g';
SELECT matches((SELECT reason FROM pgtrade.order_modification m JOIN tap_m t
				ON t.id = m.order_id WHERE t.name = 'g' AND m.quantity = 97),
	'^refused by the risk gate: projected position 101 ',
	'the refusal keeps the gate''s reason');
SELECT is((SELECT quantity FROM pgtrade.orders o JOIN tap_m t
		   ON t.id = o.order_id WHERE t.name = 'g'), 50::numeric,
	'the refused modification leaves the order at 50');
-- an open request blocks room: 50 -> 90 requested, then a new buy of
-- 7 sees worst long 4 + 90 + 7 = 101
SELECT pgtrade.modify_order(id, quantity => 90) FROM tap_m WHERE name = 'g' \g /dev/null
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 7)).status,
	'refused', 'a new buy of 7 is refused while 50 -> 90 is open (4 + 90 + 7)');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 6)).status,
	'pending', 'a new buy of 6 passes (4 + 90 + 6 = 100)');
-- lowering the limit below the position: a smaller quantity still
-- passes, a larger one does not
SELECT pgtrade.record_modification(m.modification_id, false, 'test')
	FROM pgtrade.order_modification m JOIN tap_m t ON t.id = m.order_id
	WHERE t.name = 'g' AND m.status = 'requested' \g /dev/null
SELECT pgtrade.set_risk_limit('TAPACCT1', max_position => 20) \g /dev/null
SELECT is((pgtrade.modify_order(id, quantity => 40)).status, 'requested',
	'with the limit at 20, 50 -> 40 still passes: it takes risk off')
	FROM tap_m WHERE name = 'g';
SELECT is((SELECT count(*)::int FROM pgtrade.order_modification m
		   JOIN tap_m t ON t.id = m.order_id WHERE t.name = 'g'
			 AND m.quantity = 40 AND m.risk_verdict->>'reason' LIKE
			 'passed: the modification does not add to the order%'),
	1, 'its verdict says why it passed');
SELECT pgtrade.record_modification(m.modification_id, false, 'test')
	FROM pgtrade.order_modification m JOIN tap_m t ON t.id = m.order_id
	WHERE t.name = 'g' AND m.status = 'requested' \g /dev/null
SELECT pgtrade.set_trading_enabled(false, 'TAPACCT1') \g /dev/null
SELECT is((pgtrade.modify_order(id, quantity => 30)).status, 'refused',
	'under a kill switch even a smaller quantity is refused')
	FROM tap_m WHERE name = 'g';

SELECT * FROM finish();
ROLLBACK;
