-- record_fills.sql: recording several executions in one call, as the
-- listener does with what one read of the trades brought.  Expected
-- quantities, prices and P&L are worked out by hand from the fixture
-- below, not read back from the functions under test.
\ir preamble.psql
SELECT plan(18);

-- an account of its own, so that no other suite's position is in play
SELECT pgtrade.add_account('TAPFILLS', 'pgTAP record_fills') \g /dev/null
SELECT pgtrade.set_risk_limit('TAPFILLS', max_position => 1000000) \g /dev/null

-- one order of 10 TAPX, claimed and acknowledged: working
CREATE TEMP TABLE tap_o AS
SELECT (pgtrade.place_order('TAPFILLS', 'TAPX', 'buy', 10)).*;
SELECT pgtrade.claim_order(7, ARRAY['TAPFILLS']) \g /dev/null
SELECT pgtrade.record_submission((SELECT order_id FROM tap_o), '7001',
	'Submitted') \g /dev/null

-- the listener's arrays, built from rows for readability
CREATE FUNCTION pg_temp.fills(p_rows jsonb)
RETURNS TABLE (execution_id text, inserted boolean)
LANGUAGE sql AS $$
	SELECT f.* FROM pgtrade.record_fills(
		ARRAY(SELECT e->>'id' FROM jsonb_array_elements(p_rows) e),
		ARRAY(SELECT e->>'ref' FROM jsonb_array_elements(p_rows) e),
		ARRAY(SELECT 'TAPFILLS' FROM jsonb_array_elements(p_rows) e),
		ARRAY(SELECT 990001::bigint FROM jsonb_array_elements(p_rows) e),
		ARRAY(SELECT e->>'side' FROM jsonb_array_elements(p_rows) e),
		ARRAY(SELECT (e->>'qty')::numeric FROM jsonb_array_elements(p_rows) e),
		ARRAY(SELECT (e->>'px')::numeric FROM jsonb_array_elements(p_rows) e),
		ARRAY(SELECT timestamptz '2026-12-01 15:00:00+00'
			  FROM jsonb_array_elements(p_rows) e),
		ARRAY(SELECT (e->>'comm')::numeric FROM jsonb_array_elements(p_rows) e),
		ARRAY(SELECT e FROM jsonb_array_elements(p_rows) e)) f;
$$;
CREATE TEMP TABLE tap_batch AS
SELECT format('[
	{"id": "TAPE1.01", "ref": "%1$s", "side": "B", "qty": 4, "px": 100.00},
	{"id": "TAPE2.01", "ref": "%1$s", "side": "BOT", "qty": 6, "px": 101.00,
	 "comm": 1.25},
	{"id": "TAPE1.01", "ref": "%1$s", "side": "B", "qty": 4, "px": 100.00,
	 "comm": 0.50},
	{"id": "TAPM1.01", "ref": null, "side": "S", "qty": 3, "px": 99.50}
]', (SELECT client_order_id FROM pgtrade.orders
	  WHERE order_id = (SELECT order_id FROM tap_o)))::jsonb AS rows;

SELECT results_eq($$SELECT * FROM pg_temp.fills((SELECT rows FROM tap_batch))$$,
	$$VALUES ('TAPE1.01'::text, true), ('TAPE2.01', true),
		('TAPE1.01', false), ('TAPM1.01', true)$$,
	'each execution in array order: the repeated one is not a new row');
SELECT results_eq($$SELECT filled_quantity, avg_fill_price, status
	FROM pgtrade.orders WHERE order_id = (SELECT order_id FROM tap_o)$$,
	$$VALUES (10::numeric, 100.6::numeric, 'filled'::text)$$,
	'the order is filled: 4 at 100 and 6 at 101 average 100.6');
SELECT results_eq($$SELECT execution_id, amount FROM pgtrade.commission
	WHERE execution_id IN ('TAPE1.01', 'TAPE2.01') ORDER BY execution_id$$,
	$$VALUES ('TAPE1.01'::text, 0.50::numeric), ('TAPE2.01', 1.25)$$,
	'the commission of the later report is a row of its own');
SELECT is((SELECT order_id FROM pgtrade.fill WHERE execution_id = 'TAPM1.01'),
	NULL, 'the execution without an order is kept unlinked');
SELECT results_eq($$SELECT quantity, avg_cost, realized_pnl
	FROM pgtrade.position p JOIN pgtrade.instrument i USING (instrument_id)
	WHERE p.account_id = 'TAPFILLS' AND i.symbol = 'TAPX'$$,
	$$VALUES (7::numeric, 100.6::numeric, -3.3::numeric)$$,
	'position: bought 10 at 100.6, sold 3 at 99.5 realizes 3 x -1.1');

-- the same batch again (an answer lost on the way): nothing moves
SELECT results_eq($$SELECT bool_or(inserted)
	FROM pg_temp.fills((SELECT rows FROM tap_batch))$$,
	$$VALUES (false)$$, 'a batch recorded again inserts nothing');
SELECT is((SELECT quantity FROM pgtrade.position p
		   JOIN pgtrade.instrument i USING (instrument_id)
		   WHERE p.account_id = 'TAPFILLS' AND i.symbol = 'TAPX'),
	7::numeric, 'and leaves the position as it was');
SELECT is((SELECT count(*)::int FROM pgtrade.commission
		   WHERE execution_id IN ('TAPE1.01', 'TAPE2.01')),
	2, 'and adds no commission');

-- all or nothing: a bad element records none of the batch
SELECT throws_ok($$SELECT * FROM pg_temp.fills('[
	{"id": "TAPE5.01", "ref": null, "side": "B", "qty": 1, "px": 100},
	{"id": "TAPE6.01", "ref": null, "side": "X", "qty": 1, "px": 100}]')$$,
	'22023', 'unknown execution side "X"',
	'an execution of an unknown side fails the call');
SELECT is((SELECT count(*)::int FROM pgtrade.fill
		   WHERE execution_id IN ('TAPE5.01', 'TAPE6.01')),
	0, 'and the good execution before it is not recorded either');
SELECT throws_ok($$SELECT * FROM pgtrade.record_fills(ARRAY['E1'], ARRAY[NULL],
	ARRAY['TAPFILLS'], ARRAY[990001::bigint], ARRAY['B'], ARRAY[1::numeric],
	ARRAY[1::numeric], ARRAY[now()], ARRAY[]::numeric[], ARRAY[NULL::jsonb])$$,
	'22023', 'record_fills needs arrays of one length',
	'arrays of different lengths are refused');
SELECT throws_ok($$SELECT * FROM pgtrade.record_fills(ARRAY[''], ARRAY[NULL],
	ARRAY['TAPFILLS'], ARRAY[990001::bigint], ARRAY['B'], ARRAY[1::numeric],
	ARRAY[1::numeric], ARRAY[now()], ARRAY[NULL::numeric],
	ARRAY[NULL::jsonb])$$,
	'22004', 'execution id must not be empty',
	'an empty execution id is refused as record_fill refuses it');
SELECT is((SELECT count(*)::int FROM pgtrade.record_fills('{}', '{}', '{}',
	'{}', '{}', '{}', '{}', '{}', '{}', '{}')),
	0, 'empty arrays record nothing');
SELECT is((SELECT count(*)::int FROM pgtrade.record_fills(NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL)),
	0, 'NULL arrays record nothing');

-- two sessions reporting one late commission at once keep one row
SELECT index_is_unique('pgtrade', 'commission', 'commission_execution',
	'an execution has at most one commission row');

-- who may call it
SELECT ok(has_function_privilege('pgtrade_listener',
	'pgtrade.record_fills(text[], text[], text[], bigint[], text[], numeric[], '
	'numeric[], timestamptz[], numeric[], jsonb[])',
	'EXECUTE'), 'the listener may record fills in batches');
SELECT ok(NOT has_function_privilege('public',
	'pgtrade.record_fills(text[], text[], text[], bigint[], text[], numeric[], '
	'numeric[], timestamptz[], numeric[], jsonb[])',
	'EXECUTE'), 'PUBLIC may not');
SELECT ok(NOT has_function_privilege('pgtrade_trader',
	'pgtrade.record_fills(text[], text[], text[], bigint[], text[], numeric[], '
	'numeric[], timestamptz[], numeric[], jsonb[])',
	'EXECUTE'), 'nor may a trader');

SELECT * FROM finish();
ROLLBACK;
