-- kinds.sql: a user-defined strategy kind runs with the rights of the
-- role that registered it, never with the caller's, run_due's owner's or
-- the pg_cron job's.  A kind registered by a role that only reads tries,
-- from inside its evaluator, to read another account, read a table,
-- change a limit, flip the kill switch, grant itself an account and
-- place orders two ways; every attempt must fail while a superuser runs
-- it.  Roles that could write cannot register a kind, and a kind whose
-- role gains such a privilege later stops running.
\ir preamble.psql
SELECT plan(38);

SELECT pgtrade.add_account('TAPKA') \g /dev/null
SELECT pgtrade.add_account('TAPKB') \g /dev/null
SELECT pgtrade.set_risk_limit(max_position => 1000) \g /dev/null
SELECT pgtrade.place_order('TAPKB', 'TAPX', 'buy', 1) \g /dev/null
SELECT pgtrade.create_strategy('tap_b_cross', 'sma_cross', 'TAPX', 'TAPKB',
	'{"fast": 2, "slow": 3}', 10, market_hours => 'always') \g /dev/null
INSERT INTO pgtrade.bar VALUES (pgtrade.instrument_id('TAPX'), '1 day',
	date_trunc('day', now()) - interval '1 day', 10, 11, 9, 10, 100);
CREATE ROLE tap_quant IN ROLE pgtrade_reader;
CREATE SCHEMA tap_q AUTHORIZATION tap_quant;

SET ROLE tap_quant;
CREATE FUNCTION tap_q.snoop_eval(p jsonb, ts timestamptz[], o float8[],
	h float8[], l float8[], c float8[], v float8[])
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r text;
	n bigint;
BEGIN
	SELECT count(*) INTO n FROM pgtrade.order_history WHERE account_id = 'TAPKB';
	r := 'view:' || n;
	BEGIN
		PERFORM 1 FROM pgtrade.orders LIMIT 1;
		r := r || ' table:read';
	EXCEPTION WHEN OTHERS THEN r := r || ' table:' || SQLSTATE;
	END;
	BEGIN
		PERFORM pgtrade.set_risk_limit('TAPKB', max_position => 1e9);
		r := r || ' limit:changed';
	EXCEPTION WHEN OTHERS THEN r := r || ' limit:' || SQLSTATE;
	END;
	BEGIN
		PERFORM pgtrade.set_trading_enabled(false);
		r := r || ' kill:flipped';
	EXCEPTION WHEN OTHERS THEN r := r || ' kill:' || SQLSTATE;
	END;
	BEGIN
		PERFORM pgtrade.grant_account('tap_quant', 'TAPKB');
		r := r || ' grant:granted';
	EXCEPTION WHEN OTHERS THEN r := r || ' grant:' || SQLSTATE;
	END;
	BEGIN
		PERFORM pgtrade.place_order('TAPKB', 'TAPX', 'buy', 1);
		r := r || ' place:placed';
	EXCEPTION WHEN OTHERS THEN r := r || ' place:' || SQLSTATE;
	END;
	BEGIN
		INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity)
		VALUES ('TAPKB', pgtrade.instrument_id('TAPX'), 'buy', 1);
		r := r || ' insert:inserted';
	EXCEPTION WHEN OTHERS THEN r := r || ' insert:' || SQLSTATE;
	END;
	BEGIN
		PERFORM pgtrade.strategy_performance('tap_b_cross');
		r := r || ' perf:read';
	EXCEPTION WHEN OTHERS THEN r := r || ' perf:' || SQLSTATE;
	END;
	r := r || ' sees:' || cardinality(pgtrade.visible_accounts());
	RETURN jsonb_build_object('target', 0, 'reason', r || ' as:' || current_user);
END $$;
CREATE FUNCTION tap_q.snoop_validate(jsonb) RETURNS integer LANGUAGE sql
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
-- shapes register_kind refuses
CREATE FUNCTION tap_q.invoker_eval(jsonb, timestamptz[], float8[], float8[],
	float8[], float8[], float8[]) RETURNS jsonb LANGUAGE sql
	SET search_path = pg_catalog, pg_temp AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION tap_q.open_path_eval(jsonb, timestamptz[], float8[], float8[],
	float8[], float8[], float8[]) RETURNS jsonb LANGUAGE sql
	SECURITY DEFINER AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION tap_q.wrong_eval(jsonb) RETURNS jsonb LANGUAGE sql
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ SELECT $1 $$;
SELECT lives_ok($$SELECT pgtrade.register_kind('tap_snoop',
	'tap_q.snoop_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'tap_q.snoop_validate(jsonb)')$$, 'a role that only reads registers a kind');
SELECT throws_ok($$SELECT pgtrade.register_kind('tap_inv',
	'tap_q.invoker_eval(jsonb, timestamptz[], float8[], '
	'float8[], float8[], float8[], float8[])',
	'tap_q.snoop_validate(jsonb)')$$, '42501', NULL,
	'an evaluator that is not SECURITY DEFINER is refused');
SELECT throws_ok($$SELECT pgtrade.register_kind('tap_open',
	'tap_q.open_path_eval(jsonb, timestamptz[], float8[], '
	'float8[], float8[], float8[], float8[])',
	'tap_q.snoop_validate(jsonb)')$$, '42501', NULL,
	'an evaluator that does not pin search_path is refused');
SELECT throws_ok($$SELECT pgtrade.register_kind('tap_wrong',
	'tap_q.wrong_eval(jsonb)', 'tap_q.snoop_validate(jsonb)')$$, '42P13', NULL,
	'an evaluator with the wrong signature is refused');
SELECT throws_ok($$SELECT pgtrade.register_kind('sma_cross',
	'tap_q.snoop_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'tap_q.snoop_validate(jsonb)')$$, '42501',
	'strategy kind "sma_cross" is registered by pgtrade',
	'a built-in kind cannot be replaced');
RESET ROLE;

SELECT is((SELECT owner_role::text FROM pgtrade.strategy_kind WHERE name = 'tap_snoop'),
	'tap_quant', 'the kind records the role it runs as');
SELECT pgtrade.create_strategy('tap_snoop_s', 'tap_snoop', 'TAPX', 'TAPKA', '{}',
	1, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null

-- run by a superuser, the evaluator still has tap_quant's rights only
CREATE TEMP TABLE tap_run AS
SELECT * FROM pgtrade.run_strategy('tap_snoop_s', place_orders => true);
SELECT is((SELECT status FROM tap_run), 'succeeded', 'the run completes');
SELECT matches((SELECT reason FROM tap_run),
	'^view:0 table:42501 limit:42501 kill:42501 grant:42501 '
	'place:42501 insert:25006 perf:42501 sees:0 as:tap_quant;',
	'inside the evaluator every attempt failed, as tap_quant');
SELECT is((SELECT count(*)::int FROM pgtrade.orders WHERE account_id = 'TAPKB'), 1,
	'no order reached TAPKB');
SELECT is((SELECT count(*)::int FROM pgtrade.risk_limit WHERE kill_switch), 0,
	'no kill switch was flipped');
SELECT is((SELECT count(*)::int FROM pgtrade.account_grant WHERE role_name = 'tap_quant'),
	0, 'no account was granted');

-- a role that could write cannot register a kind
CREATE ROLE tap_writer IN ROLE pgtrade_trader;
GRANT USAGE ON SCHEMA tap_q TO tap_writer;
GRANT CREATE ON SCHEMA tap_q TO tap_writer;
SET ROLE tap_writer;
CREATE FUNCTION tap_q.w_eval(jsonb, timestamptz[], float8[], float8[],
	float8[], float8[], float8[]) RETURNS jsonb LANGUAGE sql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION tap_q.w_validate(jsonb) RETURNS integer LANGUAGE sql
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
SELECT throws_ok($$SELECT pgtrade.register_kind('tap_w',
	'tap_q.w_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'tap_q.w_validate(jsonb)')$$, '42501',
	'strategy kind "tap_w" cannot be registered: its role '
	'tap_writer is a member of pgtrade_trader; a kind''s role may only read',
	'a trader cannot register a kind');
SELECT throws_ok($$SELECT pgtrade.register_kind('tap_borrow',
	'tap_q.snoop_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'tap_q.snoop_validate(jsonb)')$$, '42501', NULL,
	'nor a kind made of another role''s functions');
RESET ROLE;

-- code that changes the session's search_path, so that the owner's
-- unqualified calls after it would find functions of its own, fails
SET ROLE tap_quant;
CREATE FUNCTION tap_q.set_config(a text, b text, c boolean) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
		EXECUTE 'CREATE ROLE tap_evil SUPERUSER';
	END IF;
	RETURN pg_catalog.set_config(a, b, c);
END $$;
CREATE FUNCTION tap_q.path_eval(jsonb, timestamptz[], float8[], float8[],
	float8[], float8[], float8[]) RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM pg_catalog.set_config('search_path', 'tap_q, pg_catalog, pg_temp', false);
	RETURN '{"target": 0, "reason": "path changed"}';
END $$;
CREATE FUNCTION tap_q.path_validate(jsonb) RETURNS integer LANGUAGE plpgsql
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM pg_catalog.set_config('search_path', 'tap_q, pg_catalog, pg_temp', false);
	RETURN 1;
END $$;
SELECT pgtrade.register_kind('tap_path',
	'tap_q.path_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'tap_q.snoop_validate(jsonb)') \g /dev/null
SELECT pgtrade.register_kind('tap_pathv',
	'tap_q.snoop_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'tap_q.path_validate(jsonb)') \g /dev/null
RESET ROLE;
SELECT pgtrade.add_instrument('TAPKY', 990511) \g /dev/null
INSERT INTO pgtrade.bar VALUES (pgtrade.instrument_id('TAPKY'), '1 day',
	date_trunc('day', now()) - interval '1 day', 10, 11, 9, 10, 100);
SELECT pgtrade.create_strategy('tap_path_s', 'tap_path', 'TAPKY', 'TAPKA', '{}',
	1, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
CREATE TEMP TABLE tap_run3 AS
SELECT * FROM pgtrade.run_strategy('tap_path_s', place_orders => true);
SELECT is((SELECT status || ': ' || reason FROM tap_run3),
	'failed: strategy kind "tap_path" changed search_path; its run is refused',
	'an evaluator that changes search_path fails its run');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tap_evil'),
	'and its function never ran with the owner''s rights');
SELECT is(current_setting('search_path'), 'public, pgtrade',
	'the session''s search_path is as it was');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_pathv_s', 'tap_pathv',
	'TAPKY', 'TAPKB', '{}', 1)$$, '42501',
	'strategy kind "tap_pathv" changed search_path; its run is refused',
	'a validator that changes search_path is refused too');

-- nothing the code leaves behind outlives its call: a deferred trigger,
-- a held cursor, a session setting; it runs read-only, rolled back
SET ROLE tap_quant;
CREATE TABLE tap_q.trap (x int);
CREATE TABLE tap_q.flag (x int);
CREATE FUNCTION tap_q.trap_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
		EXECUTE 'CREATE ROLE tap_evil2 SUPERUSER';
	END IF;
	RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER trap AFTER INSERT ON tap_q.trap
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tap_q.trap_fn();
CREATE FUNCTION tap_q.inv() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
		EXECUTE 'CREATE ROLE tap_evil3 SUPERUSER';
	END IF;
	RETURN 1;
END $$;
CREATE FUNCTION tap_q.leave_eval(jsonb, timestamptz[], float8[], float8[],
	float8[], float8[], float8[]) RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r text := '';
BEGIN
	BEGIN
		INSERT INTO tap_q.trap VALUES (1);
		r := r || 'trap:queued';
	EXCEPTION WHEN OTHERS THEN r := r || 'trap:' || SQLSTATE;
	END;
	BEGIN
		EXECUTE 'DECLARE tap_qc CURSOR WITH HOLD FOR SELECT tap_q.inv()';
		r := r || ' cursor:declared';
	EXCEPTION WHEN OTHERS THEN r := r || ' cursor:' || SQLSTATE;
	END;
	PERFORM pg_catalog.set_config('statement_timeout', '1234', false);
	RETURN jsonb_build_object('target', 0, 'reason', r);
END $$;
CREATE FUNCTION tap_q.flag_validate(jsonb) RETURNS integer LANGUAGE plpgsql
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM tap_q.flag) THEN
		RAISE EXCEPTION 'the flag says no';
	END IF;
	RETURN 1;
END $$;
SELECT pgtrade.register_kind('tap_leave',
	'tap_q.leave_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'tap_q.flag_validate(jsonb)') \g /dev/null
RESET ROLE;
SELECT pgtrade.add_instrument('TAPKZ', 990512) \g /dev/null
INSERT INTO pgtrade.bar VALUES (pgtrade.instrument_id('TAPKZ'), '1 day',
	date_trunc('day', now()) - interval '1 day', 10, 11, 9, 10, 100);
SELECT pgtrade.create_strategy('tap_leave_s', 'tap_leave', 'TAPKZ', 'TAPKA', '{}',
	1, max_bar_age => '100 years',
	market_hours => 'always') \g /dev/null
CREATE TEMP TABLE tap_run4 AS
SELECT * FROM pgtrade.run_strategy('tap_leave_s', place_orders => true);
SELECT matches((SELECT status || ': ' || reason FROM tap_run4),
	'^succeeded: trap:25006 cursor:42501;',
	'the code could write nothing, nor hold a cursor');
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is((SELECT count(*)::int FROM pg_cursors WHERE name = 'tap_qc'), 0,
	'the held cursor did not outlive the call');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname IN ('tap_evil2', 'tap_evil3')),
	'no code of the kind''s role ran with the caller''s rights');
SELECT is(current_setting('statement_timeout'), '0',
	'a setting the code changed for the session was put back');
-- the validator runs on kind and params only: switching the strategy on
-- or moving its next run does not call it, nor is stopped by it
INSERT INTO tap_q.flag VALUES (1);
SELECT lives_ok($$UPDATE pgtrade.strategy SET active = true, next_run_at = now()
	WHERE name = 'tap_leave_s'$$,
	'a validator that now fails does not stop switching the strategy on');
SELECT throws_ok($$UPDATE pgtrade.strategy SET params = '{"x": 1}'
	WHERE name = 'tap_leave_s'$$, 'P0001', 'the flag says no',
	'new params still meet the validator');
SELECT throws_ok($$SELECT pgtrade.run_next_due('2031-01-01')$$, '22023', NULL,
	'the scheduler cannot take slots ahead of the clock');
CREATE ROLE tap_cr CREATEROLE IN ROLE pgtrade_reader;
SELECT is(pgtrade.role_may_write('tap_cr'), 'may create roles (and grant itself others)',
	'a role that may create roles is no kind''s role');
CREATE ROLE tap_col IN ROLE pgtrade_reader;
GRANT UPDATE (params) ON pgtrade.strategy TO tap_col;
CREATE ROLE tap_trg IN ROLE pgtrade_reader;
GRANT TRIGGER ON pgtrade.orders TO tap_trg;
CREATE ROLE tap_seq IN ROLE pgtrade_reader;
GRANT USAGE ON SEQUENCE pgtrade.orders_order_id_seq TO tap_seq;
SELECT is(ARRAY[pgtrade.role_may_write('tap_col'), pgtrade.role_may_write('tap_trg'),
		pgtrade.role_may_write('tap_seq')],
	ARRAY['may write pgtrade.strategy', 'may write pgtrade.orders',
		  'may write pgtrade.orders_order_id_seq'],
	'a column grant, a trigger grant or a sequence grant is a way to write');

-- the call itself switches to the kind's role: a function turned
-- SECURITY INVOKER between the check and the call (from another
-- session) still runs as that role, never as the owner
SET ROLE tap_quant;
CREATE FUNCTION tap_q.whoami(jsonb) RETURNS integer LANGUAGE sql
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT CASE WHEN current_user = 'tap_quant' THEN 1 ELSE 999 END $$;
RESET ROLE;
SELECT is(pgtrade.kind_validate_as('tap_quant', 'tap_q.whoami(jsonb)', '{}'), 1,
	'an invoker function called for a kind runs as the kind''s role');
SELECT throws_ok($$SELECT pgtrade.kind_validate_as('tap_quant',
	'tap_q.snoop_eval(jsonb, timestamptz[], float8[], float8[], '
	'float8[], float8[], float8[])', '{}')$$,
	'42P13', NULL, 'a function of another signature is not called');
SELECT throws_ok($$SELECT pgtrade.kind_validate_as('postgres', 'tap_q.whoami(jsonb)', '{}')$$,
	'42501', NULL, 'nor as a superuser');
SELECT is(pgtrade.kind_validate_as(NULL, 'tap_q.whoami(jsonb)', '{}'), NULL,
	'a NULL role calls nothing');

-- a kind whose code fails an ASSERT, or raises query_canceled, fails its
-- own run: neither reaches past run_execute to stop other strategies
SET ROLE tap_quant;
CREATE FUNCTION tap_q.assert_eval(p jsonb, ts timestamptz[], o float8[],
	h float8[], l float8[], c float8[], v float8[])
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF p ? 'cancel' THEN
		RAISE EXCEPTION 'pretending to be cancelled' USING ERRCODE = 'query_canceled';
	END IF;
	ASSERT cardinality(c) > 100000, 'not enough bars';
	RETURN '{"target": 0, "reason": "x"}';
END $$;
CREATE FUNCTION tap_q.assert_validate(jsonb) RETURNS integer LANGUAGE sql
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
SELECT pgtrade.register_kind('tap_assert',
	'tap_q.assert_eval(jsonb, timestamptz[], float8[], float8[], float8[], '
	'float8[], float8[])', 'tap_q.assert_validate(jsonb)') \g /dev/null
RESET ROLE;
SELECT pgtrade.add_instrument('TAPKS', 990513) \g /dev/null
INSERT INTO pgtrade.bar VALUES (pgtrade.instrument_id('TAPKS'), '1 day',
	date_trunc('day', now()) - interval '1 day', 10, 11, 9, 10, 100);
SELECT pgtrade.create_strategy('tap_assert_s', 'tap_assert', 'TAPKS', 'TAPKA',
	'{}', 1, max_bar_age => '100 years', market_hours => 'always')
\g /dev/null
UPDATE pgtrade.strategy SET active = (name = 'tap_assert_s');
UPDATE pgtrade.strategy SET next_run_at = now() - interval '1 minute'
WHERE name = 'tap_assert_s';
SELECT ok(pgtrade.run_next_due(now()), 'a failing ASSERT in a kind''s code is caught');
SELECT results_eq($$SELECT r.status, r.error, r.sqlstate FROM pgtrade.workflow_run r
	JOIN pgtrade.strategy s USING (strategy_id) WHERE s.name = 'tap_assert_s'$$,
	$$VALUES ('failed', 'evaluator of strategy kind "tap_assert" stopped: '
		'not enough bars', '38000')$$,
	'and recorded as that run''s failure');
UPDATE pgtrade.strategy SET params = '{"cancel": true}',
	next_run_at = now() - interval '30 seconds' WHERE name = 'tap_assert_s';
SELECT ok(pgtrade.run_next_due(now()), 'so is a query_canceled raised by it');
SELECT is((SELECT r.error FROM pgtrade.workflow_run r
	JOIN pgtrade.strategy s USING (strategy_id) WHERE s.name = 'tap_assert_s'
	ORDER BY r.run_id DESC LIMIT 1),
	'evaluator of strategy kind "tap_assert" stopped: pretending to be cancelled',
	'which fails that run alone');

-- a target that is not a number is refused, not read as no opinion; a
-- validator's count of bars beyond what a run can read is refused at once
SET ROLE tap_quant;
CREATE FUNCTION tap_q.str_eval(jsonb, timestamptz[], float8[], float8[],
	float8[], float8[], float8[]) RETURNS jsonb LANGUAGE sql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT '{"target": "1", "reason": "a string"}'::jsonb $$;
CREATE FUNCTION tap_q.huge_validate(jsonb) RETURNS integer LANGUAGE sql
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ SELECT 2147483647 $$;
SELECT pgtrade.register_kind('tap_str',
	'tap_q.str_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'tap_q.snoop_validate(jsonb)') \g /dev/null
SELECT pgtrade.register_kind('tap_huge',
	'tap_q.str_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'tap_q.huge_validate(jsonb)') \g /dev/null
RESET ROLE;
SELECT pgtrade.add_instrument('TAPKW', 990519) \g /dev/null
INSERT INTO pgtrade.bar VALUES (pgtrade.instrument_id('TAPKW'), '1 day',
	date_trunc('day', now()) - interval '1 day', 10, 11, 9, 10, 100);
SELECT pgtrade.create_strategy('tap_str_s', 'tap_str', 'TAPKW', 'TAPKA', '{}',
	1, max_bar_age => '100 years', market_hours => 'always') \g /dev/null
SELECT is((SELECT status || ': ' || reason FROM
		   pgtrade.run_strategy('tap_str_s', place_orders => true)),
	'failed: evaluator of strategy kind "tap_str" returned target "1", a '
	'string, not -1, 0, 1 or null',
	'a string target fails the run');
SELECT throws_ok($$SELECT pgtrade.create_strategy('tap_huge_s', 'tap_huge',
	'TAPKW', 'TAPKB', '{}', 1)$$, '22023',
	'validator of strategy kind "tap_huge" returned 2147483647 bars needed',
	'a validator''s count of bars beyond 100000 is refused');

-- a privilege granted after registration stops the kind
GRANT pgtrade_trader TO tap_quant;
CREATE TEMP TABLE tap_run2 AS
SELECT * FROM pgtrade.run_strategy('tap_snoop_s', place_orders => true);
SELECT is((SELECT status FROM tap_run2), 'failed',
	'once its role may write, the kind''s run fails');
SELECT is((SELECT reason FROM tap_run2),
	'strategy kind "tap_snoop" may not run: its role tap_quant '
	'is a member of pgtrade_trader; a kind''s role may only read',
	'and says why');

SELECT * FROM finish();
ROLLBACK;
