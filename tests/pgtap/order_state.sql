-- order_state.sql: the order state machine, broker status mapping,
-- claiming, exactly-once fills and position arithmetic.  The allowed
-- moves below are DESIGN.md's table, typed in here, not read from the
-- extension; position figures are worked out by hand next to each case.
\ir preamble.psql
SELECT plan(85);

-- Every (from, to) pair: force the from status with triggers off, then
-- try the move as a plain UPDATE with the state machine trigger on.
CREATE TEMP TABLE tap_moves (from_status text, to_status text, ok boolean);
CREATE FUNCTION pg_temp.try_moves() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_all text[] := ARRAY['pending', 'refused', 'submitting', 'working',
		'filled', 'cancelled', 'expired', 'rejected', 'unknown',
		'cancel_requested'];
	v_from text;
	v_to text;
	v_id bigint;
BEGIN
	v_id := (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1)).order_id;
	FOREACH v_from IN ARRAY v_all LOOP
		FOREACH v_to IN ARRAY v_all LOOP
			CONTINUE WHEN v_from = v_to;
			ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
			UPDATE pgtrade.orders SET status = v_from WHERE order_id = v_id;
			ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;
			BEGIN
				UPDATE pgtrade.orders SET status = v_to WHERE order_id = v_id;
				INSERT INTO tap_moves VALUES (v_from, v_to, true);
			EXCEPTION WHEN object_not_in_prerequisite_state THEN
				INSERT INTO tap_moves VALUES (v_from, v_to, false);
			END;
		END LOOP;
	END LOOP;
END $$;
SELECT pg_temp.try_moves();
SELECT set_eq(
	$$SELECT from_status, to_status FROM tap_moves WHERE ok$$,
	$$VALUES ('pending', 'submitting'), ('pending', 'cancelled'),
		('pending', 'expired'),
		('submitting', 'working'), ('submitting', 'filled'),
		('submitting', 'rejected'), ('submitting', 'unknown'),
		('submitting', 'cancelled'),
		('working', 'filled'), ('working', 'cancelled'),
		('working', 'rejected'), ('working', 'cancel_requested'),
		('cancel_requested', 'cancelled'), ('cancel_requested', 'filled'),
		('cancel_requested', 'working'),
		('unknown', 'working'), ('unknown', 'filled'),
		('unknown', 'cancelled'), ('unknown', 'rejected')$$,
	'exactly the state machine''s moves are allowed');
SELECT is((SELECT count(*)::int FROM tap_moves WHERE NOT ok), 71,
	'the other 71 of 90 moves are refused');
SELECT throws_ok($$UPDATE pgtrade.orders SET quantity = 2
	WHERE order_id = (SELECT max(order_id) FROM pgtrade.orders)$$,
	'55000', NULL, 'an order''s quantity cannot change');

-- claim: oldest pending first; expired and kill-switched ones are not sent
CREATE TEMP TABLE tap_o AS
SELECT (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 100)).order_id AS a,
	   NULL::bigint AS b, NULL::bigint AS c;
UPDATE tap_o SET b = (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 7)).order_id;
UPDATE pgtrade.orders SET status = 'cancelled'
WHERE status = 'pending' AND order_id NOT IN (SELECT a FROM tap_o UNION SELECT b FROM tap_o);
ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
UPDATE pgtrade.orders SET valid_until = now() - interval '1 second'
WHERE order_id = (SELECT a FROM tap_o);
ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;
SELECT is((SELECT order_id FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])),
	(SELECT b FROM tap_o), 'claim skips the expired order and returns the next');
SELECT is((SELECT status FROM pgtrade.orders WHERE order_id = (SELECT a FROM tap_o)),
	'expired', 'order past valid_until is expired at claim time');
SELECT is((SELECT status FROM pgtrade.orders WHERE order_id = (SELECT b FROM tap_o)),
	'submitting', 'claimed order is submitting');
SELECT is((SELECT attempts FROM pgtrade.orders WHERE order_id = (SELECT b FROM tap_o)),
	1, 'claim counts the attempt');
SELECT is((SELECT count(*)::int FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])),
	0, 'nothing left to claim');
UPDATE tap_o SET c = (pgtrade.place_order('TAPACCT1', 'TAPX', 'sell', 3)).order_id;
SELECT pgtrade.set_trading_enabled(false, 'TAPACCT1');
SELECT is((SELECT count(*)::int FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])),
	0, 'kill switch turned on after insert stops the claim');
SELECT is((SELECT status FROM pgtrade.orders WHERE order_id = (SELECT c FROM tap_o)),
	'cancelled', 'order under a kill switch at claim time is cancelled');
SELECT pgtrade.set_trading_enabled(true, 'TAPACCT1');
SELECT is((SELECT count(*)::int FROM pgtrade.claim_order(1, ARRAY['OTHER'])),
	0, 'claim serves only the accounts asked for');

-- broker reports map onto the state machine and never move backwards
SELECT is(pgtrade.record_submission((SELECT b FROM tap_o), '1001',
	'PreSubmitted', '{}'), 'working', 'PreSubmitted acknowledgement -> working');
SELECT is(pgtrade.cancel_order((SELECT b FROM tap_o)), 'cancel_requested',
	'cancelling a working order asks the broker');
SELECT is((SELECT broker_order_id FROM pgtrade.orders_to_cancel(
	ARRAY['TAPACCT1'])), '1001', 'the listener is asked to send the cancel');
SELECT lives_ok($$SELECT pgtrade.record_cancel_sent((SELECT b FROM tap_o),
	'{"msg": "Request was submitted"}')$$, 'the listener records it sent it');
SELECT is((SELECT count(*)::int FROM pgtrade.orders_to_cancel(
	ARRAY['TAPACCT1'])), 0, 'a sent cancel is not sent again at once');
SELECT is((SELECT count(*)::int FROM pgtrade.orders_to_cancel(
	ARRAY['TAPACCT1'], '0 seconds')), 1,
	'an unanswered cancel is sent again after the resend interval');
SELECT is(pgtrade.record_status((SELECT b FROM tap_o), 'PendingCancel'),
	'cancel_requested', 'PendingCancel keeps cancel_requested');
SELECT is(pgtrade.record_status((SELECT b FROM tap_o), 'Submitted'),
	'cancel_requested',
	'Submitted while a cancel is pending does not drop the cancel');
SELECT throws_ok($$SELECT pgtrade.record_status((SELECT b FROM tap_o),
	'Submitted', 'NaN')$$, '23514', NULL,
	'a NaN filled quantity from the broker is refused');
SELECT is(pgtrade.record_status((SELECT b FROM tap_o), 'Filled', 7, 10),
	'filled', 'Filled -> filled');
SELECT is(pgtrade.record_status((SELECT b FROM tap_o), 'Submitted'),
	'filled', 'Submitted after Filled leaves the order filled');
SELECT is((SELECT detail FROM pgtrade.order_event
		   WHERE order_id = (SELECT b FROM tap_o) ORDER BY event_id DESC LIMIT 1),
	'broker status Submitted recorded; order stays filled',
	'the backward report is kept as an event');
SELECT is(pgtrade.broker_status_target('Inactive'), 'rejected',
	'Inactive maps to rejected');
SELECT is(pgtrade.broker_status_target('Pending Submit'), 'working',
	'"Pending Submit" with a space maps to working');
SELECT throws_ok($$SELECT pgtrade.record_unknown((SELECT b FROM tap_o), 'x')$$,
	'55000', NULL, 'only a submitting order can become unknown');

-- no broker order is recorded for an order no listener claimed
CREATE TEMP TABLE tap_nc AS
SELECT (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1)).order_id AS id;
SELECT throws_ok(format($$SELECT pgtrade.record_submission(%s, '2015',
	'Submitted')$$, (SELECT id FROM tap_nc)), '55000',
	format('order %s was never claimed (it is pending): no broker order can '
		   'be recorded for it', (SELECT id FROM tap_nc)),
	'an acknowledgement for a pending order is refused');
SELECT pgtrade.cancel_order((SELECT id FROM tap_nc)) \g /dev/null

-- a cancel asked while the order is being submitted waits for the
-- broker's order id, then goes out
CREATE TEMP TABLE tap_ca AS
SELECT (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 2)).order_id AS id;
SELECT is((SELECT order_id FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])),
	(SELECT id FROM tap_ca), 'fixture: the order is claimed');
SELECT is(pgtrade.cancel_order((SELECT id FROM tap_ca), 'changed my mind'),
	'submitting', 'cancelling a submitting order is asked, not refused');
SELECT is((SELECT cancel_asked FROM pgtrade.orders
		   WHERE order_id = (SELECT id FROM tap_ca)),
	'user ' || session_user || ': changed my mind',
	'the order keeps who asked and why');
SELECT is((SELECT count(*)::int FROM pgtrade.orders_to_cancel(
	ARRAY['TAPACCT1']) c WHERE c.order_id = (SELECT id FROM tap_ca)), 0,
	'no cancel goes out before the broker''s order id is known');
SELECT pgtrade.record_submission((SELECT id FROM tap_ca), '1077', 'Submitted')
	\g /dev/null
SELECT results_eq($$SELECT status, cancel_asked FROM pgtrade.orders
	WHERE order_id = (SELECT id FROM tap_ca)$$,
	$$VALUES ('cancel_requested', NULL::text)$$,
	'once acknowledged the order moves on to cancel_requested');
SELECT is((SELECT broker_order_id FROM pgtrade.orders_to_cancel(
	ARRAY['TAPACCT1']) c WHERE c.order_id = (SELECT id FROM tap_ca)), '1077',
	'and the listener is asked to send the cancel');
SELECT is(ARRAY(SELECT to_status FROM pgtrade.order_event
				WHERE order_id = (SELECT id FROM tap_ca) ORDER BY event_id),
	ARRAY['pending', 'submitting', 'submitting', 'working', 'cancel_requested'],
	'its events: placed, claimed, the cancel asked, acknowledged, cancel');
SELECT pgtrade.record_status((SELECT id FROM tap_ca), 'Cancelled')
	\g /dev/null
-- one the broker never got, with a cancel asked, is not sent again
CREATE TEMP TABLE tap_cr AS
SELECT (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 2)).order_id AS id;
SELECT pgtrade.claim_order(1, ARRAY['TAPACCT1']) \g /dev/null
SELECT pgtrade.cancel_order((SELECT id FROM tap_cr), 'not any more')
	\g /dev/null
SELECT is((SELECT refused FROM pgtrade.claim_resend(1, (SELECT id FROM tap_cr),
	4)), 'cancelled: user ' || session_user || ': not any more',
	'a resend of an order a cancel was asked for is refused');
SELECT is((SELECT status FROM pgtrade.orders
		   WHERE order_id = (SELECT id FROM tap_cr)), 'cancelled',
	'and the order is cancelled, not sent again');

-- an order the broker no longer shows is ended by an operator, with a note
SELECT throws_ok($$SELECT pgtrade.resolve_vanished((SELECT b FROM tap_o),
	'gone')$$, '55000',
	format('order %s is filled, not working or cancel_requested',
		   (SELECT b FROM tap_o)),
	'a filled order cannot be ended as vanished');
CREATE TEMP TABLE tap_v AS
SELECT (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 2)).order_id AS id;
SELECT is((SELECT order_id FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])),
	(SELECT id FROM tap_v), 'a new order is claimed');
SELECT pgtrade.record_submission((SELECT id FROM tap_v), '1009', 'Submitted',
	'{}') \g /dev/null
SELECT pgtrade.cancel_order((SELECT id FROM tap_v)) \g /dev/null
SELECT throws_ok($$SELECT pgtrade.resolve_vanished((SELECT id FROM tap_v),
	' ')$$, '22023', NULL, 'ending a vanished order needs a note');
SELECT lives_ok($$SELECT pgtrade.resolve_vanished((SELECT id FROM tap_v),
	'not in live orders nor in a week of trades')$$,
	'an operator ends a cancel_requested order the broker does not show');
SELECT results_eq($$SELECT o.status, e.source, e.detail
	FROM pgtrade.orders o JOIN pgtrade.order_event e USING (order_id)
	WHERE o.order_id = (SELECT id FROM tap_v) AND e.to_status = 'cancelled'$$,
	$$VALUES ('cancelled'::text, ('operator ' || session_user) COLLATE "default",
		'vanished from the broker: not in live orders nor in a week of '
		'trades'::text)$$,
	'it is cancelled, saying who and why');

-- fills: exactly once, positions by hand
--   buy 60 @ 10 + buy 40 @ 12.5: qty 100, avg (600 + 500) / 100 = 11
SELECT ok(pgtrade.record_fill('tap.e1.01.01', (SELECT client_order_id
	FROM pgtrade.orders WHERE order_id = (SELECT b FROM tap_o)), 'TAPACCT1',
	990001, 'B', 60, 10, now(), 1.25, '{}'), 'first fill is inserted');
SELECT ok(NOT pgtrade.record_fill('tap.e1.01.01', (SELECT client_order_id
	FROM pgtrade.orders WHERE order_id = (SELECT b FROM tap_o)), 'TAPACCT1',
	990001, 'B', 60, 10, now(), 1.25, '{}'), 'the same execution again is not');
SELECT is((SELECT quantity FROM pgtrade.position WHERE account_id = 'TAPACCT1'),
	60::numeric, 'a repeated fill does not move the position');
SELECT ok(pgtrade.record_fill('tap.e2.01.01', NULL, 'TAPACCT1', 990001,
	'BUY', 40, 12.5, now(), NULL, '{"symbol": "TAPX"}'),
	'an execution of no pgtrade order is recorded');
SELECT is((SELECT order_id FROM pgtrade.fill WHERE execution_id = 'tap.e2.01.01'),
	NULL, 'it is kept unlinked');
SELECT ok((SELECT (quantity, avg_cost, realized_pnl) = (100::numeric, 11::numeric, 0::numeric)
		   FROM pgtrade.position
		   WHERE account_id = 'TAPACCT1'),
	'buy 60 @ 10 + 40 @ 12.5 = 100 @ 11');
--   sell 150 @ 13: closes 100, realized 100 * (13 - 11) = 200, flips to -50 @ 13
SELECT ok(pgtrade.record_fill('tap.e3.01.01', 'manual-1', 'TAPACCT1', 990001,
	'S', 150, 13, now(), NULL, '{}'), 'a flipping sell is recorded');
SELECT ok((SELECT (quantity, avg_cost, realized_pnl) = (-50::numeric, 13::numeric, 200::numeric)
		   FROM pgtrade.position
		   WHERE account_id = 'TAPACCT1'),
	'sell 150 @ 13 realizes 200 and leaves -50 @ 13');
--   buy 20 @ 14: short loses 20 * (14 - 13) = 20, realized 180, -30 @ 13
SELECT ok(pgtrade.record_fill('tap.e4.01.01', 'manual-2', 'TAPACCT1', 990001,
	'BOT', 20, 14, now(), NULL, '{}'), 'a covering buy is recorded');
SELECT ok((SELECT (quantity, avg_cost, realized_pnl) = (-30::numeric, 13::numeric, 180::numeric)
		   FROM pgtrade.position
		   WHERE account_id = 'TAPACCT1'),
	'buy 20 @ 14 against -50 @ 13 realizes -20');
SELECT is((SELECT sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END)
		   FROM pgtrade.fill WHERE account_id = 'TAPACCT1'),
	(SELECT quantity FROM pgtrade.position WHERE account_id = 'TAPACCT1'),
	'position equals the sum of fills');
SELECT ok((SELECT (filled_quantity, avg_fill_price) = (60::numeric, 10::numeric)
		   FROM pgtrade.orders WHERE order_id = (SELECT b FROM tap_o)),
	'order totals count only its own fill');
SELECT is((SELECT sum(amount) FROM pgtrade.commission
		   WHERE execution_id = 'tap.e1.01.01'), 1.25,
	'commission recorded once as its own row');
SELECT ok(NOT pgtrade.record_fill('tap.e1.01.01', NULL, 'TAPACCT1', 990001,
	'B', 60, 10, now(), 0.75), 'a late commission does not add a fill');
SELECT is((SELECT count(*)::int FROM pgtrade.commission
		   WHERE execution_id = 'tap.e2.01.01'), 0,
	'no commission came with the unlinked execution');
SELECT ok(NOT pgtrade.record_fill('tap.e2.01.01', NULL, 'TAPACCT1', 990001,
	'BUY', 40, 12.5, now(), 0.5), 'its commission arrives later');
SELECT is((SELECT amount FROM pgtrade.commission
		   WHERE execution_id = 'tap.e2.01.01'), 0.5,
	'the late commission is recorded as its own row');
SELECT ok(pgtrade.record_fill('tap.e6.01.01', (SELECT client_order_id
	FROM pgtrade.orders WHERE order_id = (SELECT b FROM tap_o)), 'TAPACCT1',
	990001, 'S', 1, 10, now()), 'an execution of the wrong side is recorded');
SELECT is((SELECT order_id FROM pgtrade.fill WHERE execution_id = 'tap.e6.01.01'),
	NULL, 'but not linked to the buy order whose cOID it names');
SELECT throws_ok($$UPDATE pgtrade.fill SET quantity = 1$$, '55000', NULL,
	'fills are append-only');
SELECT throws_ok($$SELECT pgtrade.record_fill('tap.e5', NULL, 'TAPACCT1',
	990001, 'X', 1, 1, now())$$, '22023', 'unknown execution side "X"',
	'an unknown side is refused');

-- unknown halts the account
UPDATE tap_o SET c = (pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1)).order_id;
SELECT is((SELECT order_id FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])),
	(SELECT c FROM tap_o), 'a new order is claimed');
SELECT lives_ok($$SELECT pgtrade.record_unknown((SELECT c FROM tap_o),
	'not found at the broker')$$, 'a submitting order can become unknown');
SELECT ok((SELECT halted FROM pgtrade.account WHERE account_id = 'TAPACCT1'),
	'an unknown order halts its account');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1)).status,
	'refused', 'a halted account refuses new orders');

-- the operator's way out: settle the unknown order, then lift the halt
SELECT throws_ok($$SELECT pgtrade.unhalt_account('TAPACCT1', 'checked')$$,
	'55000', 'account TAPACCT1 still has 1 unknown order(s)',
	'a halt is not lifted while an order is unknown');
SELECT lives_ok($$SELECT pgtrade.resolve_unknown((SELECT c FROM tap_o),
	'cancelled', 'not in the broker''s order list or trades')$$,
	'an operator settles the unknown order as cancelled');
SELECT lives_ok($$SELECT pgtrade.unhalt_account('TAPACCT1', 'broker checked')$$,
	'then the halt is lifted');
SELECT is((pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1)).status,
	'pending', 'and the account trades again');
SELECT lives_ok($$SELECT pgtrade.unhalt_account('TAPACCT1', 'again')$$,
	'lifting a halt that is not there is no error');
SELECT is((SELECT halt_reason FROM pgtrade.account
		   WHERE account_id = 'TAPACCT1'),
	'halt lifted by ' || session_user || ': broker checked',
	'and keeps the note of the halt that was lifted');

-- a contract lookup caches the conid once, and never changes it
SELECT count(pgtrade.cancel_order(order_id)) FROM pgtrade.orders
WHERE account_id = 'TAPACCT1' AND status = 'pending' \g /dev/null
SELECT pgtrade.add_instrument('TAPNC') \g /dev/null
UPDATE tap_o SET c = (pgtrade.place_order('TAPACCT1', 'TAPNC', 'buy', 1)).order_id;
SELECT is((SELECT conid FROM pgtrade.claim_order(1, ARRAY['TAPACCT1'])), NULL,
	'an instrument without a conid is claimed with conid NULL');
SELECT lives_ok($$SELECT pgtrade.record_conid((SELECT c FROM tap_o), 990777)$$,
	'the listener records the conid it looked up');
SELECT is((SELECT conid FROM pgtrade.instrument WHERE symbol = 'TAPNC'),
	990777::bigint, 'the conid is cached on the instrument');
SELECT throws_ok($$SELECT pgtrade.record_conid((SELECT c FROM tap_o), 990778)$$,
	'23505', 'instrument "TAPNC" already has conid 990777',
	'a second lookup cannot change it');

-- execution corrections: ids that differ only in the last segment are
-- one execution, and the highest last segment counts.  By hand:
-- buy 60 @ 10 corrected to 60 @ 10.5 leaves 60 @ 10.5, not 120.
SELECT pgtrade.add_account('TAPACCT9') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPACCT9', max_position => 1000) \g /dev/null
CREATE TEMP TABLE tap_c AS
SELECT (pgtrade.place_order('TAPACCT9', 'TAPX', 'buy', 60)).order_id AS id;
SELECT order_id FROM pgtrade.claim_order(1, ARRAY['TAPACCT9']) \g /dev/null
SELECT pgtrade.record_submission((SELECT id FROM tap_c), '2001', 'Submitted') \g /dev/null
SELECT ok(pgtrade.record_fill('corr.aa.01.01', (SELECT client_order_id FROM
	pgtrade.orders WHERE order_id = (SELECT id FROM tap_c)), 'TAPACCT9',
	990001, 'B', 60, 10, now()), 'the first report of an execution is recorded');
SELECT ok(pgtrade.record_fill('corr.aa.01.02', (SELECT client_order_id FROM
	pgtrade.orders WHERE order_id = (SELECT id FROM tap_c)), 'TAPACCT9',
	990001, 'B', 60, 10.5, now()), 'its correction is recorded too');
SELECT ok((SELECT (filled_quantity, avg_fill_price) = (60::numeric, 10.5::numeric)
		   FROM pgtrade.orders WHERE order_id = (SELECT id FROM tap_c)),
	'the order counts the correction only: 60 at 10.5');
SELECT ok((SELECT (quantity, avg_cost) = (60::numeric, 10.5::numeric)
		   FROM pgtrade.position WHERE account_id = 'TAPACCT9'),
	'the position counts the correction only: 60 at 10.5');
SELECT is((SELECT by_execution_id FROM pgtrade.fill_correction
		   WHERE corrected_execution_id = 'corr.aa.01.01'), 'corr.aa.01.02',
	'the first report is recorded as corrected by the second');
-- a correction that arrives before the execution it corrects still wins:
-- sell 5 reported as .02 at 20, then the original .01 at 19: 55 left,
-- realized 5 * (20 - 10.5) = 47.5
SELECT ok(pgtrade.record_fill('corr.bb.01.02', 'manual-9', 'TAPACCT9', 990001,
	'S', 5, 20, now()), 'a correction arriving first is recorded');
SELECT ok(pgtrade.record_fill('corr.bb.01.01', 'manual-9', 'TAPACCT9', 990001,
	'S', 5, 19, now()), 'the late original is recorded');
SELECT ok((SELECT (quantity, realized_pnl) = (55::numeric, 47.5::numeric)
		   FROM pgtrade.position WHERE account_id = 'TAPACCT9'),
	'the higher segment counts whatever the arrival order: 55 left, 47.5 realized');

-- every status change left an event
SELECT is((SELECT count(*)::int FROM pgtrade.orders o
		   WHERE o.status <> (SELECT e.to_status FROM pgtrade.order_event e
							  WHERE e.order_id = o.order_id
							  ORDER BY e.event_id DESC LIMIT 1)), 0,
	'each order''s last event names its status');

SELECT * FROM finish();
ROLLBACK;
