-- append_only.sql: the audit trail (order_event, fill, commission,
-- risk_limit_history, position_adjustment) cannot be rewritten.  Every
-- pgtrade role meets a privilege error (42501) for UPDATE, DELETE and
-- TRUNCATE; the owner meets the tables' triggers (55000), with rows
-- present so that row triggers fire.  Only disabling triggers, a
-- superuser's power, gets around them.
\ir preamble.psql
SELECT plan(93);

-- one row in each table
SELECT pgtrade.place_order('TAPACCT1', 'TAPX', 'buy', 1) \g /dev/null
SELECT pgtrade.record_fill('TAPAO-1', NULL, 'TAPACCT1', 990001, 'buy', 1, 10,
	now(), 1.25) \g /dev/null
SELECT pgtrade.set_risk_limit('TAPACCT1', max_order_quantity => 50) \g /dev/null
INSERT INTO pgtrade.position_adjustment (account_id, instrument_id, quantity,
	reason) VALUES ('TAPACCT1', pgtrade.instrument_id('TAPX'),
	1, 'pgTAP fixture');
CREATE TEMP TABLE tap_t (t text, col text);
INSERT INTO tap_t VALUES ('order_event', 'detail'), ('fill', 'order_ref'),
	('commission', 'currency'), ('risk_limit_history', 'operation'),
	('position_adjustment', 'reason');
GRANT SELECT ON tap_t TO PUBLIC;
CREATE FUNCTION pg_temp.tap_rows(t text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM pgtrade.%I', t) INTO n;
	RETURN n;
END $$;
SELECT ok((SELECT bool_and(pg_temp.tap_rows(t) > 0) FROM tap_t),
	'each audit table holds a row');

-- the owner (this superuser session) meets the triggers
SELECT throws_ok(format('UPDATE pgtrade.%I SET %I = %I', t, col, col), '55000',
	NULL, format('the owner cannot update %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('DELETE FROM pgtrade.%I', t), '55000', NULL,
	format('the owner cannot delete from %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('TRUNCATE pgtrade.%I CASCADE', t), '55000', NULL,
	format('the owner cannot truncate %s', t)) FROM tap_t ORDER BY t;

-- every pgtrade role lacks the privilege
SET ROLE pgtrade_reader;
SELECT throws_ok(format('UPDATE pgtrade.%I SET %I = %I', t, col, col), '42501',
	NULL, format('pgtrade_reader cannot update %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('DELETE FROM pgtrade.%I', t), '42501', NULL,
	format('pgtrade_reader cannot delete from %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('TRUNCATE pgtrade.%I', t), '42501', NULL,
	format('pgtrade_reader cannot truncate %s', t)) FROM tap_t ORDER BY t;
RESET ROLE;
SET ROLE pgtrade_trader;
SELECT throws_ok(format('UPDATE pgtrade.%I SET %I = %I', t, col, col), '42501',
	NULL, format('pgtrade_trader cannot update %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('DELETE FROM pgtrade.%I', t), '42501', NULL,
	format('pgtrade_trader cannot delete from %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('TRUNCATE pgtrade.%I', t), '42501', NULL,
	format('pgtrade_trader cannot truncate %s', t)) FROM tap_t ORDER BY t;
RESET ROLE;
SET ROLE pgtrade_admin;
SELECT throws_ok(format('UPDATE pgtrade.%I SET %I = %I', t, col, col), '42501',
	NULL, format('pgtrade_admin cannot update %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('DELETE FROM pgtrade.%I', t), '42501', NULL,
	format('pgtrade_admin cannot delete from %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('TRUNCATE pgtrade.%I', t), '42501', NULL,
	format('pgtrade_admin cannot truncate %s', t)) FROM tap_t ORDER BY t;
RESET ROLE;
SET ROLE pgtrade_listener;
SELECT throws_ok(format('UPDATE pgtrade.%I SET %I = %I', t, col, col), '42501',
	NULL, format('pgtrade_listener cannot update %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('DELETE FROM pgtrade.%I', t), '42501', NULL,
	format('pgtrade_listener cannot delete from %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('TRUNCATE pgtrade.%I', t), '42501', NULL,
	format('pgtrade_listener cannot truncate %s', t)) FROM tap_t ORDER BY t;
RESET ROLE;
SET ROLE pgtrade_scheduler;
SELECT throws_ok(format('UPDATE pgtrade.%I SET %I = %I', t, col, col), '42501',
	NULL, format('pgtrade_scheduler cannot update %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('DELETE FROM pgtrade.%I', t), '42501', NULL,
	format('pgtrade_scheduler cannot delete from %s', t)) FROM tap_t ORDER BY t;
SELECT throws_ok(format('TRUNCATE pgtrade.%I', t), '42501', NULL,
	format('pgtrade_scheduler cannot truncate %s', t)) FROM tap_t ORDER BY t;
RESET ROLE;

-- what was refused left the rows as they were
SELECT ok((SELECT bool_and(pg_temp.tap_rows(t) > 0) FROM tap_t),
	'each audit table still holds its row');
SELECT is((SELECT amount FROM pgtrade.commission WHERE execution_id = 'TAPAO-1'),
	1.25::numeric, 'the commission is unchanged');

SELECT * FROM finish();
ROLLBACK;
