-- resend.sql: claim_resend, the gate for sending a submitting order
-- again with its cOID: counts and records each attempt, refuses past
-- the attempt bound, the cOID window, valid_until and a kill switch.
\ir preamble.psql
SELECT plan(12);

SELECT pgtrade.add_account('TAPRS1', 'pgTAP resend fixture') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPRS1', max_position => 1000) \g /dev/null
CREATE TEMP TABLE tap_r AS
SELECT (pgtrade.place_order('TAPRS1', 'TAPX', 'buy', 5)).order_id AS id;

SELECT throws_ok($$SELECT * FROM pgtrade.claim_resend(7,
	(SELECT id FROM tap_r), 4)$$, '55000',
	NULL, 'a pending order cannot be sent again');
SELECT order_id FROM pgtrade.claim_order(7, ARRAY['TAPRS1']) \g /dev/null

-- attempt 2 of at most 3: the order body, counted, recorded
SELECT is((SELECT row(client_order_id, conid, side, quantity, refused)::text
		   FROM pgtrade.claim_resend(7, (SELECT id FROM tap_r), 3)),
	row((SELECT client_order_id FROM pgtrade.orders
		 WHERE order_id = (SELECT id FROM tap_r)), 990001::bigint, 'buy',
		5::numeric, NULL::text)::text,
	'a resend returns the order body with the same cOID');
SELECT is((SELECT attempts FROM pgtrade.orders
		   WHERE order_id = (SELECT id FROM tap_r)), 2,
	'the resend is counted: claim 1, resend 2');
SELECT is((SELECT status FROM pgtrade.orders
		   WHERE order_id = (SELECT id FROM tap_r)), 'submitting',
	'the order stays submitting');
SELECT ok((SELECT detail FROM pgtrade.order_event
		   WHERE order_id = (SELECT id FROM tap_r)
		   ORDER BY event_id DESC LIMIT 1) LIKE
	'not found at the broker; sending again with the same cOID % (attempt 2)',
	'the resend is an order event');
SELECT is((SELECT attempts FROM pgtrade.claim_resend(7,
	(SELECT id FROM tap_r), 3)), 3, 'attempt 3 of 3 is allowed');

-- attempt 4 of 3: refused, nothing counted
SELECT is((SELECT refused FROM pgtrade.claim_resend(7,
	(SELECT id FROM tap_r), 3)), 'not sent again: 3 attempts used',
	'past max_attempts a resend is refused with the reason');
SELECT is((SELECT attempts FROM pgtrade.orders
		   WHERE order_id = (SELECT id FROM tap_r)), 3,
	'a refused resend is not counted');

-- the other refusals, each alone (triggers off to age the row)
ALTER TABLE pgtrade.orders DISABLE TRIGGER orders_before_update;
UPDATE pgtrade.orders SET valid_until = now() - interval '1 second'
WHERE order_id = (SELECT id FROM tap_r);
SELECT ok((SELECT refused FROM pgtrade.claim_resend(7,
	(SELECT id FROM tap_r), 9)) LIKE 'not sent again: valid until %',
	'past valid_until a resend is refused');
UPDATE pgtrade.orders SET valid_until = NULL,
	submitted_at = now() - interval '23 hours 1 minute'
WHERE order_id = (SELECT id FROM tap_r);
SELECT ok((SELECT refused FROM pgtrade.claim_resend(7,
	(SELECT id FROM tap_r), 9)) LIKE '%24-hour cOID window',
	'near the end of the cOID window a resend is refused');
UPDATE pgtrade.orders SET submitted_at = now()
WHERE order_id = (SELECT id FROM tap_r);
ALTER TABLE pgtrade.orders ENABLE TRIGGER orders_before_update;
SELECT pgtrade.set_trading_enabled(false, 'TAPRS1') \g /dev/null
SELECT ok((SELECT refused FROM pgtrade.claim_resend(7,
	(SELECT id FROM tap_r), 9)) LIKE 'not sent again: %',
	'under a kill switch a resend is refused');
SELECT pgtrade.set_trading_enabled(true, 'TAPRS1') \g /dev/null
SELECT ok(has_function_privilege('pgtrade_listener',
	'pgtrade.claim_resend(bigint, bigint, integer)', 'EXECUTE')
	AND NOT has_function_privilege('pgtrade_trader',
	'pgtrade.claim_resend(bigint, bigint, integer)', 'EXECUTE'),
	'only the listener may send an order again');

SELECT * FROM finish();
ROLLBACK;
