-- claim_batch.sql: claiming several orders in one call (claim_orders)
-- and recording several acknowledgements in one (record_submissions),
-- as the listener does under a backlog.  Expected orders, counts and
-- texts are worked out from the fixture below, not read back from the
-- functions under test.
\ir preamble.psql
SELECT plan(44);

-- nothing else of the fixture account may be pending
UPDATE pgtrade.orders SET status = 'cancelled'
WHERE status = 'pending' AND account_id = 'TAPACCT1';

-- five orders, oldest first: a (expired before the claim), b, c, d, e
CREATE TEMP TABLE tap_o (name text PRIMARY KEY, id bigint);
INSERT INTO tap_o
SELECT n, (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', q)).order_id
FROM (VALUES ('a', 1), ('b', 2), ('c', 3), ('d', 4), ('e', 5)) v(n, q)
ORDER BY n;
CREATE FUNCTION pg_temp.id(p text) RETURNS bigint LANGUAGE sql AS
	$$SELECT id FROM tap_o WHERE name = p$$;
CREATE FUNCTION pg_temp.st(p text) RETURNS text LANGUAGE sql AS
	$$SELECT status FROM pgtrade.orders WHERE order_id = pg_temp.id(p)$$;
ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
UPDATE pgtrade.orders SET valid_until = now() - interval '1 second'
WHERE order_id = pg_temp.id('a');
ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;

SELECT throws_ok($$SELECT * FROM pgtrade.claim_orders(1, ARRAY['TAPACCT1'], 0)$$,
	'22023', 'max_orders must be at least 1, not 0',
	'a batch of no orders is refused');
SELECT is(pg_temp.st('b'), 'pending', 'the refused call claimed nothing');

-- two wanted: the expired one does not take a place
CREATE TEMP TABLE tap_c AS
SELECT * FROM pgtrade.claim_orders(7, ARRAY['TAPACCT1'], 2);
SELECT results_eq($$SELECT order_id, quantity, attempts, children
	FROM tap_c ORDER BY order_id$$,
	$$VALUES (pg_temp.id('b'), 2::numeric, 1, 0),
		(pg_temp.id('c'), 3::numeric, 1, 0)$$,
	'the two oldest sendable orders, each at its first attempt, no children');
SELECT is((SELECT client_order_id FROM tap_c WHERE order_id = pg_temp.id('b')),
	(SELECT client_order_id FROM pgtrade.orders WHERE order_id = pg_temp.id('b')),
	'a claimed row carries the order''s cOID');
SELECT is((SELECT conid FROM tap_c WHERE order_id = pg_temp.id('b')), 990001::bigint,
	'a claimed row carries the instrument''s conid');
SELECT is(pg_temp.st('a'), 'expired', 'the order past valid_until is expired');
SELECT is((SELECT detail FROM pgtrade.order_event
		   WHERE order_id = pg_temp.id('a') AND to_status = 'expired'),
	(SELECT format('not sent: valid until %s', valid_until)
	 FROM pgtrade.orders WHERE order_id = pg_temp.id('a')),
	'its event says why it was not sent');
SELECT results_eq($$SELECT status, claimed_by FROM pgtrade.orders
	WHERE order_id IN (pg_temp.id('b'), pg_temp.id('c')) ORDER BY order_id$$,
	$$VALUES ('submitting'::text, 7::bigint), ('submitting', 7)$$,
	'both are submitting, claimed by listener 7');
SELECT results_eq($$SELECT from_status, to_status, source, detail
	FROM pgtrade.order_event
	WHERE order_id = pg_temp.id('b') AND to_status = 'submitting'$$,
	$$VALUES ('pending'::text, 'submitting'::text, 'listener 7'::text,
		'claimed for submission'::text)$$,
	'one claim event per order, with who and why');
SELECT is(pg_temp.st('d'), 'pending', 'the third sendable order waits');

-- a kill switch on the account cancels what is pending, once checked
SELECT pgtrade.set_trading_enabled(false, 'TAPACCT1') \g /dev/null
SELECT is((SELECT count(*)::int FROM pgtrade.claim_orders(7, ARRAY['TAPACCT1'], 16)),
	0, 'under a kill switch nothing is claimed');
SELECT results_eq($$SELECT status FROM pgtrade.orders
	WHERE order_id IN (pg_temp.id('d'), pg_temp.id('e')) ORDER BY order_id$$,
	$$VALUES ('cancelled'::text), ('cancelled')$$,
	'both pending orders are cancelled, not sent');
SELECT ok((SELECT bool_and(detail LIKE 'not sent: kill switch is on for account TAPACCT1%')
		   FROM pgtrade.order_event
		   WHERE order_id IN (pg_temp.id('d'), pg_temp.id('e'))
			 AND to_status = 'cancelled'),
	'each cancellation names the kill switch');
SELECT pgtrade.set_trading_enabled(true, 'TAPACCT1') \g /dev/null

-- a bracket parent comes with its two children, counted
SELECT pgtrade.place_bracket('TAPACCT1', 'TAPX', 'buy', 2, 50, 55, 45)
\g /dev/null
CREATE TEMP TABLE tap_k AS
SELECT * FROM pgtrade.claim_orders(7, ARRAY['TAPACCT1'], 16);
SELECT is((SELECT count(*)::int FROM tap_k), 1,
	'only the parent of a bracket is returned');
SELECT is((SELECT children FROM tap_k), 2, 'with its two children counted');
SELECT is((SELECT count(*)::int FROM pgtrade.orders
		   WHERE parent_order_id = (SELECT order_id FROM tap_k)
			 AND status = 'submitting' AND claimed_by = 7),
	2, 'the children are claimed with it');

-- claim_order is the batch of one, without the count
SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 1) \g /dev/null
SELECT is((SELECT count(*)::int FROM pgtrade.claim_order(7, ARRAY['TAPACCT1'])),
	1, 'claim_order claims one order');

-- record_submissions: three answers in one call
CREATE TEMP TABLE tap_s AS
SELECT * FROM pgtrade.record_submissions(
	ARRAY[pg_temp.id('b'), pg_temp.id('c'), (SELECT order_id FROM tap_k)],
	ARRAY['5001', '5002', '5003'],
	ARRAY['Submitted', 'Cancelled', 'Inactive'],
	ARRAY['{"request": {}, "responses": [[{"order_id": "5001"}]]}',
		  '{"request": {}, "responses": [[{"order_id": "5002"}]]}',
		  '{"request": {}, "responses": [[{"order_id": "5003", "text": "no locate"}]]}'
		 ]::jsonb[]);
SELECT results_eq($$SELECT order_id, status FROM tap_s$$,
	$$VALUES (pg_temp.id('b'), 'working'::text), (pg_temp.id('c'), 'cancelled'),
		((SELECT order_id FROM tap_k), 'rejected')$$,
	'each order''s new status, in the order given');
SELECT results_eq($$SELECT broker_order_id, broker_status FROM pgtrade.orders
	WHERE order_id IN (pg_temp.id('b'), pg_temp.id('c')) ORDER BY order_id$$,
	$$VALUES ('5001'::text, 'Submitted'::text), ('5002', 'Cancelled')$$,
	'broker ids and statuses are stored');
SELECT results_eq($$SELECT from_status, to_status, source, detail
	FROM pgtrade.order_event WHERE order_id = pg_temp.id('c')
	  AND from_status = 'submitting'$$,
	$$VALUES ('submitting'::text, 'cancelled'::text,
		'broker acknowledgement'::text, 'broker status Cancelled'::text)$$,
	'one event for the acknowledgement, from submitting');
SELECT is((SELECT payload->'responses'->0->0->>'order_id' FROM pgtrade.order_event
		   WHERE order_id = pg_temp.id('c') AND to_status = 'cancelled'),
	'5002', 'the event keeps the answer');
SELECT is((SELECT last_error FROM pgtrade.orders
		   WHERE order_id = (SELECT order_id FROM tap_k)),
	'broker status Inactive: no locate',
	'an Inactive acknowledgement carries the broker''s text');

-- all or nothing, and the arrays must line up
SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 6) \g /dev/null
CREATE TEMP TABLE tap_n AS
SELECT order_id FROM pgtrade.claim_orders(7, ARRAY['TAPACCT1'], 16);
SELECT throws_ok($$SELECT * FROM pgtrade.record_submissions(
	ARRAY[(SELECT order_id FROM tap_n)], ARRAY['6001', '6002'],
	ARRAY['Submitted'], ARRAY['{}']::jsonb[])$$,
	'22023', 'record_submissions needs arrays of one length',
	'arrays of different lengths are refused');
SELECT throws_ok($$SELECT * FROM pgtrade.record_submissions(
	ARRAY[(SELECT order_id FROM tap_n), pg_temp.id('b')],
	ARRAY['6001', '9999'], ARRAY['Submitted', 'Submitted'],
	ARRAY['{}', '{}']::jsonb[])$$,
	'23505', NULL,
	'another broker id for an order already acknowledged is refused');
SELECT is((SELECT status FROM pgtrade.orders
		   WHERE order_id = (SELECT order_id FROM tap_n)),
	'submitting', 'and the good element of that call is not recorded');
SELECT is((SELECT count(*)::int FROM pgtrade.record_submissions(
	'{}', '{}', '{}', '{}')), 0, 'an empty batch records nothing');

-- an acknowledgement whose status implies no allowed move still means
-- working, with the report kept as an event
SELECT is((SELECT status FROM pgtrade.record_submissions(
	ARRAY[(SELECT order_id FROM tap_n)], ARRAY['6001'],
	ARRAY['PendingCancel'], ARRAY['{}']::jsonb[])), 'working',
	'PendingCancel on acknowledgement leaves the order working');
SELECT results_eq($$SELECT to_status, detail FROM pgtrade.order_event
	WHERE order_id = (SELECT order_id FROM tap_n)
	  AND source = 'broker acknowledgement' ORDER BY event_id$$,
	$$VALUES ('submitting'::text,
		'broker status PendingCancel recorded; order stays submitting'::text),
		('working', 'broker order id 6001, status PendingCancel')$$,
	'the odd status is noted, then the order moves to working');

-- the same acknowledgement again changes nothing but an event
SELECT is(pgtrade.record_submission((SELECT order_id FROM tap_n), '6001',
	'Submitted', '{}'), 'working', 'a repeated acknowledgement keeps the status');
SELECT is((SELECT count(*)::int FROM pgtrade.order_event
		   WHERE order_id = (SELECT order_id FROM tap_n)
			 AND to_status = 'working'
			 AND from_status IS DISTINCT FROM 'working'), 1,
	'and moves the order no further');

-- an order claimed and never sent, which may not go now: released
SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 8) \g /dev/null
CREATE TEMP TABLE tap_u AS
SELECT order_id FROM pgtrade.claim_orders(7, ARRAY['TAPACCT1'], 16);
SELECT throws_ok($$SELECT pgtrade.release_unsent(8, (SELECT order_id FROM tap_u),
	'x')$$, '55000', NULL,
	'only the listener that claimed an order may release it');
SELECT throws_ok($$SELECT pgtrade.release_unsent(7, (SELECT order_id FROM tap_n),
	'x')$$, '55000', NULL, 'a working order cannot be released');
SELECT lives_ok($$SELECT pgtrade.release_unsent(7, (SELECT order_id FROM tap_u),
	'valid until passed')$$, 'the claiming listener releases it');
SELECT results_eq($$SELECT o.status, e.source, e.detail
	FROM pgtrade.orders o JOIN pgtrade.order_event e USING (order_id)
	WHERE o.order_id = (SELECT order_id FROM tap_u)
	  AND e.from_status = 'submitting'$$,
	$$VALUES ('cancelled'::text, 'listener 7'::text,
		'not sent: valid until passed'::text)$$,
	'it is cancelled, with who and why');

-- a confirmation prompt declined for a cancel asked while submitting
SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 9) \g /dev/null
CREATE TEMP TABLE tap_d AS
SELECT order_id FROM pgtrade.claim_orders(7, ARRAY['TAPACCT1'], 16);
SELECT is(pgtrade.cancel_asked_for(7, (SELECT order_id FROM tap_d)), NULL,
	'no cancel asked yet');
SELECT throws_ok($$SELECT pgtrade.record_declined(7, (SELECT order_id FROM tap_d),
	'o354: a question')$$, '55000', NULL,
	'a prompt is not recorded as declined without a cancel asked');
SELECT is(pgtrade.cancel_order((SELECT order_id FROM tap_d), 'changed my mind'),
	'submitting', 'a cancel is asked while it is submitting');
SELECT is(pgtrade.cancel_asked_for(8, (SELECT order_id FROM tap_d)), NULL,
	'another listener is not told');
SELECT ok(pgtrade.cancel_asked_for(7, (SELECT order_id FROM tap_d))
	LIKE '%changed my mind', 'the claiming listener is');
SELECT throws_ok($$SELECT pgtrade.record_declined(8, (SELECT order_id FROM tap_d),
	'o354: a question')$$, '55000', NULL,
	'only the claiming listener records it declined');
SELECT lives_ok($$SELECT pgtrade.record_declined(7, (SELECT order_id FROM tap_d),
	E'o354: a\n question')$$, 'the claiming listener does');
SELECT results_eq($$SELECT o.status, e.source, e.detail
	FROM pgtrade.orders o JOIN pgtrade.order_event e USING (order_id)
	WHERE o.order_id = (SELECT order_id FROM tap_d)
	  AND e.to_status = 'cancelled'$$,
	$$VALUES ('cancelled'::text, 'listener 7'::text,
		'confirmation declined (o354: a question), never placed: '
		|| 'user postgres: changed my mind')$$,
	'it is cancelled, the question on one line');

-- an order that passed the gate for a stock whose instrument has since
-- become something else (the owner's change) is not sent as a stock's
UPDATE pgtrade.orders SET status = 'cancelled'
WHERE status = 'pending' AND account_id = 'TAPACCT1';
CREATE TEMP TABLE tap_f AS
SELECT (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1)).order_id;
UPDATE pgtrade.instrument SET sec_type = 'FUT' WHERE symbol = 'TAPX';
SELECT is((SELECT count(*)::int FROM pgtrade.claim_orders(7,
	ARRAY['TAPACCT1'], 5)), 0, 'an order for a future is not claimed');
SELECT results_eq($$SELECT o.status, e.detail
	FROM pgtrade.orders o JOIN pgtrade.order_event e USING (order_id)
	WHERE o.order_id = (SELECT order_id FROM tap_f)
	  AND e.to_status = 'cancelled'$$,
	$$VALUES ('cancelled'::text, format('not sent: instrument %s has '
		'sec_type FUT: pgtrade-listener sends stock (STK) orders only',
		pgtrade.instrument_id('TAPX')))$$,
	'it is cancelled, saying why');

SELECT * FROM finish();
ROLLBACK;
