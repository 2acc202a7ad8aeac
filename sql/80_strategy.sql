/*
 * 80_strategy.sql: strategies, runs, decisions and scheduling.
 *
 * A run loads the bars that had ended by its as_of time (no look-ahead,
 * live and replay alike), calls the strategy kind's evaluator, nets the
 * evaluator's target against the position and the open orders, records
 * the decision and, when the target changes, inserts the order through
 * the risk gate.  Each step is a workflow_step row.  A failing evaluator
 * fails its run, which is recorded; it never takes other strategies down.
 *
 * run_due is a procedure that commits after each strategy: pg_cron calls
 * it every minute.  A cron slot has at most one run, enforced by a unique
 * index, whatever pg_cron does.
 */

INSERT INTO pgtrade.strategy_kind (name, evaluator, validator, builtin,
								   description)
VALUES ('sma_cross',
	'pgtrade.sma_cross_eval(jsonb, timestamptz[], float8[], float8[], float8[], float8[], float8[])',
	'pgtrade.sma_cross_validate(jsonb)', true,
	'Long while the fast SMA of closes is above the slow SMA, flat while '
	'it is below; params {"fast": int, "slow": int}.'),
	('ema_cross',
	 'pgtrade.ema_cross_eval(jsonb, timestamptz[], float8[], float8[], '
	 'float8[], float8[], float8[])',
	 'pgtrade.ema_cross_validate(jsonb)', true,
	 'Long while the fast EMA of closes is above the slow EMA, flat while '
	 'it is below; params {"fast": 12, "slow": 26}.'),
	('macd_cross',
	 'pgtrade.macd_cross_eval(jsonb, timestamptz[], float8[], float8[], '
	 'float8[], float8[], float8[])',
	 'pgtrade.macd_cross_validate(jsonb)', true,
	 'Long while the MACD line is above its signal, flat while it is below; '
	 'params {"fast": 12, "slow": 26, "signal": 9}.'),
	('rsi_reversion',
	 'pgtrade.rsi_reversion_eval(jsonb, timestamptz[], float8[], float8[], '
	 'float8[], float8[], float8[])',
	 'pgtrade.rsi_reversion_validate(jsonb)', true,
	 'Buys when RSI falls below a low threshold, sells when it rises above '
	 'a high one; params {"period": 14, "low": 30, "high": 70}.'),
	('bollinger_breakout',
	 'pgtrade.bollinger_breakout_eval(jsonb, timestamptz[], float8[], float8[], '
	 'float8[], float8[], float8[])',
	 'pgtrade.bollinger_breakout_validate(jsonb)', true,
	 'Long on a close above the upper Bollinger band, flat on a close below '
	 'the lower band; params {"period": 20, "k": 2}.'),
	('confirmations',
	 'pgtrade.confirmations_eval(jsonb, timestamptz[], float8[], float8[], '
	 'float8[], float8[], float8[])',
	 'pgtrade.confirmations_validate(jsonb)', true,
	 'Long when at least k of four indicators say up (SuperTrend up, close '
	 'above SMA(20), MACD above its signal, RSI above 50), flat when at '
	 'least k say down; k defaults to 3.');

/*
 * A user kind's code (its validator here, its evaluator in run_steps)
 * is called as its role whatever the function says of itself, in a
 * security-restricted operation, with that role noted as the caller
 * (kind_validate_as, kind_evaluate_as: acting_role.c), in a
 * subtransaction that is read-only and is always rolled back, keeping
 * only the value returned in a variable.  So
 * nothing the code leaves behind survives it: no row, no deferred
 * trigger or WITH HOLD cursor to fire later with another role's rights,
 * no notification, no setting changed for the session.  It also checks,
 * right after the code returns, that search_path is as it was (a plain
 * SET outlives the function's own SET clause): code that changed it
 * fails its run, saying so (kind_path_check).
 */
CREATE FUNCTION pgtrade.kind_path_check(p_kind text, p_path text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $$
/*
 * No SET clause, unlike every other function here: it must see the
 * session's search_path, not one of its own; every name is qualified.
 */
BEGIN
	IF NOT pg_catalog.texteq(pg_catalog.current_setting('search_path'),
							 p_path) THEN
		RAISE EXCEPTION 'strategy kind "%" changed search_path; '
			'its run is refused', p_kind
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A kind''s code must not change session settings.';
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.kind_path_check(text, text) IS
	'Internal: refuses the result of a kind''s code that changed '
	'search_path.';

CREATE FUNCTION pgtrade.strategy_kind_validate(p_kind text, p_params jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_validator regprocedure;
	v_n integer;
	v_why text;
	v_owner name;
	v_path text;
BEGIN
	SELECT k.validator INTO v_validator FROM pgtrade.strategy_kind k
	WHERE k.name = p_kind;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy kind "%" does not exist', p_kind
			USING ERRCODE = 'undefined_object',
				  HINT = 'See pgtrade.strategy_kind for the kinds available.';
	END IF;
	v_why := pgtrade.kind_refusal((SELECT k FROM pgtrade.strategy_kind k
								   WHERE k.name = p_kind));
	IF v_why IS NOT NULL THEN
		RAISE EXCEPTION 'strategy kind "%" may not run: %', p_kind, v_why
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	/* a user's kind: its code runs as its role, watched (kind_call) */
	v_owner := (SELECT k.owner_role FROM pgtrade.strategy_kind k
				WHERE k.name = p_kind AND NOT k.builtin);
	v_path := pg_catalog.current_setting('search_path');
	IF v_owner IS NULL THEN
		EXECUTE format('SELECT %s($1)', pgtrade.proc_call_name(v_validator))
			INTO v_n USING p_params;
	ELSE
		/* read-only, and rolled back: see "A user kind's code" above */
		BEGIN
			PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
			v_n := pgtrade.kind_validate_as(v_owner, v_validator, p_params);
			PERFORM pgtrade.kind_path_check(p_kind, v_path);
			RAISE EXCEPTION 'done' USING ERRCODE = 'PGK00';
		EXCEPTION WHEN SQLSTATE 'PGK00' THEN
			NULL;
		END;
	END IF;
	/*
	 * A run reads twice the bars needed, at most 200,000 as the
	 * indicators' longest period is 100,000: more would fail every run
	 * later (twice it overflows an integer), not here.
	 */
	IF v_n IS NULL OR v_n < 1 OR v_n > 100000 THEN
		RAISE EXCEPTION 'validator of strategy kind "%" returned % bars needed',
			p_kind, coalesce(v_n::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'A kind needs from 1 to 100000 bars.';
	END IF;
	RETURN v_n;
END
$$;
COMMENT ON FUNCTION pgtrade.strategy_kind_validate(text, jsonb) IS
	'Validates params against a strategy kind and returns the bars it '
	'needs; raises for an unknown kind or bad params.';

/*
 * role_may_write says how a role could change pgtrade's data, or NULL
 * when it can only read: a superuser, the owner of pgtrade's tables, a
 * member of pgtrade_trader, pgtrade_admin, pgtrade_listener or
 * pgtrade_scheduler, or a role holding a write privilege on a pgtrade
 * table or EXECUTE on a pgtrade function that writes.
 */
CREATE FUNCTION pgtrade.role_may_write(p_role name)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_role oid := (SELECT r.oid FROM pg_catalog.pg_roles r
				   WHERE r.rolname = p_role);
	v_group text;
	v_what text;
BEGIN
	IF v_role IS NULL THEN
		RETURN 'does not exist';
	END IF;
	IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = v_role) THEN
		RETURN 'is a superuser';
	END IF;
	IF pg_has_role(v_role,
		(SELECT c.relowner FROM pg_catalog.pg_class c
		 WHERE c.oid = 'pgtrade.orders'::regclass), 'MEMBER') THEN
		RETURN 'owns pgtrade''s tables';
	END IF;
	IF (SELECT r.rolcreaterole FROM pg_catalog.pg_roles r WHERE r.oid = v_role) THEN
		RETURN 'may create roles (and grant itself others)';
	END IF;
	IF (SELECT r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.oid = v_role) THEN
		RETURN 'bypasses row-level security';
	END IF;
	IF has_schema_privilege(v_role, 'pgtrade', 'CREATE') THEN
		RETURN 'may create objects in schema pgtrade';
	END IF;
	FOREACH v_group IN ARRAY ARRAY['pgtrade_trader', 'pgtrade_admin',
		'pgtrade_listener', 'pgtrade_scheduler']
	LOOP
		IF pg_has_role(v_role, v_group, 'MEMBER') THEN
			RETURN 'is a member of ' || v_group;
		END IF;
	END LOOP;
	FOREACH v_group IN ARRAY ARRAY['pg_execute_server_program',
		'pg_write_server_files', 'pg_signal_backend']
	LOOP
		IF pg_has_role(v_role, v_group, 'MEMBER') THEN
			RETURN 'is a member of ' || v_group;
		END IF;
	END LOOP;
	/* a trigger of its own on a table would run as whoever writes it */
	SELECT format('may write %s', c.oid::regclass) INTO v_what
	FROM pg_catalog.pg_class c
	WHERE c.relnamespace = 'pgtrade'::regnamespace
		AND ((c.relkind IN ('r', 'p')
			  AND (has_table_privilege(v_role, c.oid,
						'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER')
				   OR has_any_column_privilege(v_role, c.oid, 'INSERT, UPDATE')))
			 OR (c.relkind = 'S'
				 AND has_sequence_privilege(v_role, c.oid, 'USAGE, UPDATE')))
	LIMIT 1;
	IF v_what IS NOT NULL THEN
		RETURN v_what;
	END IF;
	/*
	 * A function that runs with the caller's rights writes no more than
	 * the table privileges above allow; one that writes with the owner's
	 * is SECURITY DEFINER and VOLATILE.  Of those a reader has,
	 * strategy_performance and backtest_sweep only read, register_kind
	 * writes only a kind of its own, which trades nothing until a trader
	 * uses it, and backtest only a backtest's own rows, which trade
	 * nothing.
	 */
	SELECT format('may call %s', p.oid::regprocedure) INTO v_what
	FROM pg_catalog.pg_proc p
	WHERE p.pronamespace = 'pgtrade'::regnamespace AND p.provolatile = 'v'
		AND p.prosecdef AND p.prokind IN ('f', 'p')
		AND p.oid NOT IN ('pgtrade.strategy_performance(text)'::regprocedure,
			'pgtrade.register_kind(text, regprocedure, regprocedure, '
			'text)'::regprocedure,
			'pgtrade.backtest(text, timestamptz, timestamptz, numeric, '
			'numeric, numeric, jsonb, boolean, boolean)'::regprocedure,
			'pgtrade.backtest_sweep(text, timestamptz, timestamptz, jsonb, '
			'numeric, numeric, numeric, boolean)'::regprocedure)
		AND has_function_privilege(v_role, p.oid, 'EXECUTE')
	LIMIT 1;
	RETURN v_what;
END
$$;
COMMENT ON FUNCTION pgtrade.role_may_write(name) IS
	'How a role could change pgtrade''s data, or NULL when it can only read.';

/*
 * kind_refusal says why a strategy kind may not run now, or NULL.  A
 * built-in kind always may.  Any other runs with the rights of the role
 * that registered it (register_kind), never with those of the caller,
 * of run_due's owner or of the pg_cron job: its evaluator and validator
 * must be SECURITY DEFINER functions owned by that role with their
 * search_path pinned, and the role must be one that can only read (an
 * evaluator decides, pgtrade acts on the decision).  This is asked
 * again at every use, so that a privilege granted to the role after
 * registration, or a function altered since, stops the kind.
 */
CREATE FUNCTION pgtrade.kind_refusal(p_kind pgtrade.strategy_kind)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_role oid;
	v_why text;
	v_fn regprocedure;
	v_p record;
BEGIN
	IF p_kind.builtin THEN
		RETURN NULL;
	END IF;
	IF p_kind.owner_role IS NULL THEN
		RETURN 'it was not registered with pgtrade.register_kind()';
	END IF;
	v_why := pgtrade.role_may_write(p_kind.owner_role);
	IF v_why IS NOT NULL THEN
		RETURN format('its role %s %s; a kind''s role may only read',
					  p_kind.owner_role, v_why);
	END IF;
	v_role := (SELECT r.oid FROM pg_catalog.pg_roles r
			   WHERE r.rolname = p_kind.owner_role);
	FOREACH v_fn IN ARRAY ARRAY[p_kind.evaluator, p_kind.validator] LOOP
		SELECT p.prosecdef, p.proowner, p.proconfig INTO v_p
		FROM pg_catalog.pg_proc p WHERE p.oid = v_fn;
		IF NOT FOUND THEN
			RETURN format('function %s no longer exists', v_fn::oid);
		ELSIF NOT v_p.prosecdef THEN
			RETURN format('%s is not SECURITY DEFINER', v_fn);
		ELSIF v_p.proowner <> v_role THEN
			RETURN format('%s is not owned by %s', v_fn, p_kind.owner_role);
		ELSIF NOT EXISTS (SELECT 1 FROM unnest(v_p.proconfig) c
						  WHERE c LIKE 'search_path=%') THEN
			RETURN format('%s does not set search_path', v_fn);
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.kind_refusal(pgtrade.strategy_kind) IS
	'Why a strategy kind may not run now, or NULL when it may.';

/*
 * register_kind adds a strategy kind whose code runs with the rights of
 * the caller (SET ROLE, else the login role).  Registering a name again
 * replaces its functions, for the role that registered it only.
 */
CREATE FUNCTION pgtrade.register_kind(name text, evaluator regprocedure,
	validator regprocedure, description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_caller name := pgtrade.caller_role();
	v_old pgtrade.strategy_kind;
	v_new pgtrade.strategy_kind;
	v_why text;
BEGIN
	IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
		RAISE EXCEPTION 'a strategy kind name is a lower-case identifier of '
			'up to 63 characters, not %', coalesce('"' || name || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF evaluator IS NULL OR validator IS NULL THEN
		RAISE EXCEPTION 'a strategy kind needs an evaluator and a validator'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF (SELECT p.prorettype <> 'jsonb'::regtype
			OR string_to_array(p.proargtypes::text, ' ')::oid[]
			   <> ARRAY['jsonb'::regtype, 'timestamptz[]'::regtype,
				'float8[]'::regtype, 'float8[]'::regtype, 'float8[]'::regtype,
				'float8[]'::regtype, 'float8[]'::regtype]::oid[]
		FROM pg_catalog.pg_proc p WHERE p.oid = evaluator) THEN
		RAISE EXCEPTION 'evaluator % must take (jsonb, timestamptz[], '
			'float8[], float8[], float8[], float8[], float8[]) and return '
			'jsonb', evaluator
			USING ERRCODE = 'invalid_function_definition';
	END IF;
	IF (SELECT p.prorettype <> 'integer'::regtype
			OR string_to_array(p.proargtypes::text, ' ')::oid[]
			   <> ARRAY['jsonb'::regtype]::oid[]
		FROM pg_catalog.pg_proc p WHERE p.oid = validator) THEN
		RAISE EXCEPTION 'validator % must take (jsonb) and return integer', validator
			USING ERRCODE = 'invalid_function_definition';
	END IF;
	SELECT * INTO v_old FROM pgtrade.strategy_kind k WHERE k.name = register_kind.name;
	IF FOUND AND (v_old.builtin OR v_old.owner_role IS DISTINCT FROM v_caller) THEN
		RAISE EXCEPTION 'strategy kind "%" is registered by %', name,
			CASE WHEN v_old.builtin THEN 'pgtrade'
				 ELSE coalesce(v_old.owner_role, 'the owner') END
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	v_new.name := name;
	v_new.evaluator := evaluator;
	v_new.validator := validator;
	v_new.builtin := false;
	v_new.owner_role := v_caller;
	v_why := pgtrade.kind_refusal(v_new);
	IF v_why IS NOT NULL THEN
		RAISE EXCEPTION 'strategy kind "%" cannot be registered: %', name, v_why
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Register it as a role that only reads (a member '
					|| 'of pgtrade_reader), owning SECURITY DEFINER '
					|| 'functions that SET search_path.';
	END IF;
	INSERT INTO pgtrade.strategy_kind AS k (name, evaluator, validator,
		builtin, description, owner_role)
	VALUES (name, evaluator, validator, false, description, v_caller)
	ON CONFLICT ON CONSTRAINT strategy_kind_pkey DO UPDATE
		SET evaluator = EXCLUDED.evaluator, validator = EXCLUDED.validator,
			description = EXCLUDED.description, registered_at = now();
END
$$;
COMMENT ON FUNCTION pgtrade.register_kind(text, regprocedure, regprocedure,
	text) IS
	'Registers a user-defined strategy kind that runs with the rights of '
	'the role registering it, which must be one that can only read.';

CREATE FUNCTION pgtrade.proc_call_name(p_proc regprocedure)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT quote_ident(n.nspname) || '.' || quote_ident(p.proname)
	FROM pg_catalog.pg_proc p
	JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
	WHERE p.oid = $1;
$$;
COMMENT ON FUNCTION pgtrade.proc_call_name(regprocedure) IS
	'Schema-qualified, quoted name of a function, for dynamic calls.';

CREATE FUNCTION pgtrade.strategy_before_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_null text;
	v_bad text;
BEGIN
	/*
	 * The table's own checks print the whole row; these say which column
	 * is wrong and why, first.
	 */
	v_null := CASE
		WHEN NEW.name IS NULL THEN 'name'
		WHEN NEW.kind IS NULL THEN 'kind'
		WHEN NEW.params IS NULL THEN 'params'
		WHEN NEW.instrument_id IS NULL THEN 'instrument'
		WHEN NEW.account_id IS NULL THEN 'account'
		WHEN NEW.quantity IS NULL THEN 'quantity'
		WHEN NEW.bar_size IS NULL THEN 'bar_size'
		WHEN NEW.active IS NULL THEN 'active'
		WHEN NEW.order_type IS NULL THEN 'order_type'
		WHEN NEW.limit_offset IS NULL THEN 'limit_offset'
		WHEN NEW.tif IS NULL THEN 'tif'
		WHEN NEW.order_valid_for IS NULL THEN 'order_valid_for'
		WHEN NEW.grace IS NULL THEN 'grace'
		WHEN NEW.catch_up IS NULL THEN 'catch_up'
		WHEN NEW.sizing IS NULL THEN 'sizing'
		WHEN NEW.atr_period IS NULL THEN 'atr_period'
		WHEN NEW.atr_multiple IS NULL THEN 'atr_multiple' END;
	IF v_null IS NOT NULL THEN
		RAISE EXCEPTION 'a strategy''s % must not be NULL', v_null
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	v_bad := CASE
		WHEN NOT (NEW.name ~ '^[A-Za-z0-9_.-]+$' AND length(NEW.name) <= 63)
			THEN format('strategy name %s must be 1 to 63 of A-Z a-z 0-9 _ . -',
						quote_literal(NEW.name))
		WHEN NOT (NEW.bar_size = interval '1 day'
				  OR (NEW.bar_size > interval '0'
					  AND NEW.bar_size < interval '1 day'
					  AND extract(epoch FROM NEW.bar_size) % 60 = 0))
			THEN format('bar size must be 1 day or whole minutes under a day, '
						'not %s', NEW.bar_size)
		WHEN NEW.order_type NOT IN ('market', 'limit')
			THEN format('order type must be market or limit, not %s',
						quote_literal(NEW.order_type))
		WHEN NEW.tif NOT IN ('day', 'gtc', 'ioc')
			THEN format('time in force must be day, gtc or ioc, not %s',
						quote_literal(NEW.tif))
		WHEN NEW.market_hours NOT IN ('open', 'trading_day', 'always')
			THEN format('market_hours must be open, trading_day or always, '
						'not %s', quote_literal(NEW.market_hours))
		WHEN NEW.sizing NOT IN ('fixed', 'equity_fraction', 'risk')
			THEN format('sizing must be fixed, equity_fraction or risk, not %s',
						quote_literal(NEW.sizing))
		/* NaN sorts above every number: it is not >= 0's business */
		WHEN NOT (NEW.limit_offset >= 0 AND NEW.limit_offset < 'Infinity')
			THEN format('limit offset must be a finite number, not negative, '
						'not %s', NEW.limit_offset)
		WHEN NEW.order_valid_for <= interval '0'
			THEN format('order_valid_for must be above 0, not %s',
						NEW.order_valid_for)
		/*
		 * pg_cron starts a run some milliseconds after its minute: a
		 * shorter grace would record every run as missed
		 */
		WHEN NEW.grace < interval '1 minute'
			AND (TG_OP = 'INSERT' OR NEW.grace IS DISTINCT FROM OLD.grace)
			THEN format('grace must be at least 1 minute, not %s: pg_cron '
						'starts a run a little after its slot', NEW.grace)
		WHEN NEW.max_bar_age <= interval '0'
			THEN format('max_bar_age must be above 0, not %s', NEW.max_bar_age)
		WHEN NEW.disable_after_failures <= 0
			THEN format('disable_after_failures must be above 0, not %s',
						NEW.disable_after_failures)
		WHEN NOT (NEW.capital > 0 AND NEW.capital < 1e15)
			THEN format('capital must be above 0 and below 1e15, not %s',
						NEW.capital)
		WHEN NOT (NEW.sizing_fraction > 0 AND NEW.sizing_fraction <= 10)
			THEN format('sizing_fraction must be above 0 and at most 10, not %s',
						NEW.sizing_fraction)
		WHEN NOT (NEW.atr_period BETWEEN 1 AND 10000)
			THEN format('atr_period must be 1 to 10000, not %s', NEW.atr_period)
		WHEN NOT (NEW.atr_multiple > 0 AND NEW.atr_multiple <= 100)
			THEN format('atr_multiple must be above 0 and at most 100, not %s',
						NEW.atr_multiple)
		WHEN NEW.sizing <> 'fixed'
			AND (NEW.capital IS NULL OR NEW.sizing_fraction IS NULL)
			THEN format('sizing %s needs capital and sizing_fraction',
						NEW.sizing)
		WHEN NEW.sizing = 'risk' AND NEW.sizing_fraction > 1
			THEN format('sizing risk puts at most all of the equity at risk: '
						'sizing_fraction at most 1, not %s',
						NEW.sizing_fraction) END;
	IF v_bad IS NOT NULL THEN
		RAISE EXCEPTION '%', v_bad USING ERRCODE = 'check_violation';
	END IF;
	/* a strategy only for an account the caller may trade */
	PERFORM pgtrade.require_account(NEW.account_id);
	/*
	 * The kind's validator, only when kind, params or the sizing's need
	 * of bars change: switching a strategy on or off, or the scheduler
	 * moving next_run_at, must not run (or be stopped by) a user kind's
	 * code.
	 */
	IF TG_OP = 'INSERT' OR NEW.kind IS DISTINCT FROM OLD.kind
		OR NEW.params IS DISTINCT FROM OLD.params
		OR NEW.sizing IS DISTINCT FROM OLD.sizing
		OR NEW.atr_period IS DISTINCT FROM OLD.atr_period THEN
		NEW.bars_needed := pgtrade.strategy_kind_validate(NEW.kind, NEW.params);
		/* risk sizing reads ATR(atr_period) on the last bar */
		IF NEW.sizing = 'risk' THEN
			NEW.bars_needed := greatest(NEW.bars_needed, NEW.atr_period + 1);
		END IF;
	END IF;
	IF NEW.schedule IS NULL OR NEW.time_zone IS NULL THEN
		RAISE EXCEPTION 'a strategy''s % must not be NULL',
			CASE WHEN NEW.schedule IS NULL THEN 'schedule' ELSE 'time_zone' END
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM pgtrade.cron_validate(NEW.schedule);
	/* pg_timezone_names reads every zone file: only for a new zone */
	IF TG_OP = 'INSERT' OR NEW.time_zone IS DISTINCT FROM OLD.time_zone THEN
		NEW.time_zone := pgtrade.time_zone_name(NEW.time_zone);
	END IF;
	IF NOT (NEW.quantity > 0 AND NEW.quantity < 1e12) THEN
		RAISE EXCEPTION 'strategy quantity must be a positive number below '
			'1e12, not %',
			NEW.quantity
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.quantity % (SELECT i.lot_size FROM pgtrade.instrument i
					   WHERE i.instrument_id = NEW.instrument_id) <> 0 THEN
		RAISE EXCEPTION 'strategy quantity % is not a multiple of the lot size',
			NEW.quantity
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM pgtrade.strategy s
			   WHERE s.account_id = NEW.account_id
				 AND s.instrument_id = NEW.instrument_id
				 AND s.strategy_id <> NEW.strategy_id) THEN
		RAISE EXCEPTION 'account % already has a strategy on this instrument',
			NEW.account_id
			USING ERRCODE = 'unique_violation',
				  DETAIL = 'Positions are kept per account and instrument; two '
				     || 'strategies on one would net against each other''s '
				     || 'position.';
	END IF;
	IF NEW.active AND (TG_OP = 'INSERT' OR NOT OLD.active) THEN
		NEW.disabled_reason := NULL;
		NEW.activated_at := clock_timestamp();
	END IF;
	/* its runs would decide, and the gate refuse every order they place */
	IF NEW.active AND (TG_OP = 'INSERT' OR NOT OLD.active
					   OR NEW.instrument_id <> OLD.instrument_id)
		AND EXISTS (SELECT 1 FROM pgtrade.instrument i
					WHERE i.instrument_id = NEW.instrument_id
					  AND i.sec_type <> 'STK') THEN
		RAISE WARNING 'strategy "%" is active on an instrument that is not a '
			'stock: the risk gate will refuse every order its runs place',
			NEW.name
			USING HINT = 'Backtest it inactive; pgtrade-listener sends stock '
						 '(STK) orders only.';
	END IF;
	IF TG_OP = 'INSERT' OR NEW.schedule <> OLD.schedule
		OR NEW.time_zone <> OLD.time_zone
		OR (NEW.active AND NOT OLD.active) OR NEW.next_run_at IS NULL THEN
		NEW.next_run_at := pgtrade.cron_next(NEW.schedule, now(),
			NEW.time_zone);
		IF NEW.next_run_at IS NULL THEN
			RAISE EXCEPTION 'cron expression "%" never matches', NEW.schedule
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgtrade.strategy_before_write() IS
	'BEFORE INSERT OR UPDATE on strategy: validates kind, params, '
	'schedule and time zone, and sets next_run_at.';
CREATE TRIGGER strategy_before_write BEFORE INSERT ON pgtrade.strategy
	FOR EACH ROW EXECUTE FUNCTION pgtrade.strategy_before_write();
/*
 * The scheduler moving next_run_at changes nothing to check (and no role
 * but the owner may write that column); every tick does it, so such an
 * update does not call the trigger at all: it fires for every other
 * column (tests/pgtap/schema.sql checks that the list names them all),
 * and for next_run_at only when it is cleared, to compute it again.
 */
CREATE TRIGGER strategy_before_update
	BEFORE UPDATE OF strategy_id, name, kind, params, instrument_id,
		account_id, bar_size, schedule, time_zone, quantity, order_type,
		limit_offset, tif, order_valid_for, active, grace, catch_up,
		bars_needed, max_bar_age, market_hours, disable_after_failures,
		disabled_reason, activated_at, sizing, capital, sizing_fraction,
		atr_period, atr_multiple, created_at
	ON pgtrade.strategy
	FOR EACH ROW EXECUTE FUNCTION pgtrade.strategy_before_write();
CREATE TRIGGER strategy_next_run_cleared
	BEFORE UPDATE OF next_run_at ON pgtrade.strategy
	FOR EACH ROW WHEN (NEW.next_run_at IS NULL)
	EXECUTE FUNCTION pgtrade.strategy_before_write();

CREATE FUNCTION pgtrade.create_strategy(name text, kind text, symbol text,
	account_id text, params jsonb, quantity numeric,
	schedule text DEFAULT '35 16 * * 1-5',
	time_zone text DEFAULT 'America/New_York',
	bar_size interval DEFAULT '1 day', active boolean DEFAULT false,
	max_bar_age interval DEFAULT NULL, market_hours text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pgtrade.account a
				   WHERE a.account_id = create_strategy.account_id) THEN
		RAISE EXCEPTION 'account "%" does not exist', create_strategy.account_id
			USING ERRCODE = 'foreign_key_violation',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	INSERT INTO pgtrade.strategy (name, kind, params, instrument_id,
		account_id, quantity, schedule, time_zone, bar_size, active,
		max_bar_age, market_hours, bars_needed)
	VALUES (create_strategy.name, create_strategy.kind,
		create_strategy.params, pgtrade.instrument_id(symbol),
		create_strategy.account_id, create_strategy.quantity,
		create_strategy.schedule, create_strategy.time_zone,
		create_strategy.bar_size, create_strategy.active,
		create_strategy.max_bar_age, create_strategy.market_hours, 1)
	RETURNING strategy_id INTO v_id;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.create_strategy(text, text, text, text, jsonb,
	numeric, text, text, interval, boolean, interval, text) IS
	'Creates a strategy (inactive unless asked) and returns its id; the '
	'default schedule runs at 16:35 New York time on weekdays.';

/* PL/pgSQL rather than SQL: its INSERT is planned once per session */
CREATE FUNCTION pgtrade.record_step(p_run bigint, p_no integer, p_name text,
	p_started timestamptz, p_input jsonb, p_output jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO pgtrade.workflow_step (run_id, step_no, name, started_at,
		finished_at, input, output)
	VALUES (p_run, p_no, p_name, p_started, clock_timestamp(), p_input,
		p_output);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.record_step(bigint, integer, text,
	timestamptz, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.record_step(bigint, integer, text, timestamptz,
	jsonb, jsonb) IS
	'Internal: records one step of a run.';

/*
 * decision_reason puts the evaluator's reason together with the netting:
 * the target against the position and the open orders, and what follows
 * (a hold, an order, or in a dry run the order it would have been).
 * One expression, so that a query calling it takes it in (inlined).
 */
CREATE FUNCTION pgtrade.decision_reason(p_reason text, p_target numeric,
	p_pos numeric, p_open numeric, p_place boolean)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE
	WHEN p_target IS NULL THEN p_reason || '; no target: hold'
	WHEN p_target - p_pos - p_open = 0 THEN pg_catalog.format('%s; target '
		'position %s already held or on order (position %s, open orders %s): '
		'hold', p_reason, p_target, p_pos, p_open)
	ELSE pg_catalog.format('%s; target position %s, position %s, '
		'open orders %s: %s%s %s%s', p_reason, p_target, p_pos, p_open,
		CASE WHEN p_place THEN '' ELSE 'would ' END,
		CASE WHEN p_target - p_pos - p_open > 0 THEN 'buy' ELSE 'sell' END,
		pg_catalog.abs(p_target - p_pos - p_open),
		CASE WHEN p_place THEN '' ELSE ' (dry run: no order placed)' END)
	END
$$;
REVOKE ALL ON FUNCTION pgtrade.decision_reason(text, numeric, numeric,
	numeric, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.decision_reason(text, numeric, numeric, numeric,
	boolean) IS
	'Internal: the reason a decision records, from the evaluator''s reason '
	'and the netting of its target.';

/*
 * size_target turns an evaluator's target (1, 0, -1 or NULL) into a
 * target position by the strategy's sizing.  fixed: target x quantity.
 * equity_fraction and risk size a position only when the target opens
 * or reverses one: a position (with its open orders) already on the
 * target's side is kept as it is, so a strategy does not trade a little
 * every run as its equity moves.  Equity is the capital plus the
 * position's realized P&L and its unrealized P&L at the last close; the
 * size is rounded down to the instrument's lot size, in numeric.  A
 * size it cannot compute (no ATR yet, equity not positive) keeps the
 * position as it is, and says why.  Returns the target position, a note
 * for the decision's reason (NULL for fixed) and the sizing's inputs for
 * the decide step (NULL for fixed, or for no target or a flat one).  A
 * backtest gives its own equity (p_equity) instead of the position's.
 */
CREATE FUNCTION pgtrade.size_target(p_s pgtrade.strategy, p_target numeric,
	p_last_close double precision, p_atr double precision, p_pos numeric,
	p_open numeric, p_equity numeric DEFAULT NULL,
	OUT target_position numeric, OUT note text, OUT detail jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_held numeric := p_pos + p_open;
	v_lot numeric;
	v_p pgtrade.position;
	v_equity numeric;
	v_close numeric := p_last_close::numeric;
	v_per numeric;
	v_size numeric;
	v_how text;
BEGIN
	IF p_s.sizing = 'fixed' OR p_target IS NULL OR p_target = 0 THEN
		target_position := p_target * p_s.quantity;
		RETURN;
	END IF;
	detail := jsonb_build_object('sizing', p_s.sizing, 'capital', p_s.capital,
		'fraction', p_s.sizing_fraction);
	IF sign(v_held) = sign(p_target) THEN
		target_position := v_held;
		note := format('%s already held or on order: not resized', v_held);
		RETURN;
	END IF;
	SELECT i.lot_size INTO STRICT v_lot FROM pgtrade.instrument i
	WHERE i.instrument_id = p_s.instrument_id;
	IF p_equity IS NOT NULL THEN
		v_equity := p_equity;
	ELSE
		SELECT * INTO v_p FROM pgtrade.position ps
		WHERE ps.account_id = p_s.account_id
			AND ps.instrument_id = p_s.instrument_id;
		v_equity := p_s.capital + coalesce(v_p.realized_pnl, 0)
			+ coalesce(v_p.quantity * (v_close - v_p.avg_cost), 0);
	END IF;
	detail := detail || jsonb_build_object('equity', v_equity,
		'last_close', v_close, 'lot_size', v_lot);
	IF v_equity <= 0 THEN
		target_position := v_held;
		note := format('equity %s is not positive: no new position', v_equity);
		RETURN;
	END IF;
	IF p_s.sizing = 'equity_fraction' THEN
		v_per := v_close;
		v_how := format('equity %s x %s / close %s', round(v_equity, 2),
						p_s.sizing_fraction, v_close);
	ELSE
		IF p_atr IS NULL OR p_atr <= 0 THEN
			target_position := v_held;
			note := format('cannot size: ATR(%s) needs %s bars and a range',
						   p_s.atr_period, p_s.atr_period + 1);
			RETURN;
		END IF;
		v_per := p_s.atr_multiple * p_atr::numeric;
		v_how := format('equity %s x %s / stop %s (%s x ATR(%s) %s)',
						round(v_equity, 2), p_s.sizing_fraction,
						round(v_per, 4), p_s.atr_multiple, p_s.atr_period,
						round(p_atr::numeric, 4));
		detail := detail || jsonb_build_object('atr', p_atr,
			'atr_period', p_s.atr_period, 'atr_multiple', p_s.atr_multiple,
			'stop_distance', v_per);
	END IF;
	v_size := floor(v_equity * p_s.sizing_fraction / v_per / v_lot) * v_lot;
	target_position := p_target * v_size;
	detail := detail || jsonb_build_object('size', v_size);
	note := format('sized %s: %s, in lots of %s', v_size, v_how, v_lot);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.size_target(pgtrade.strategy, numeric,
	double precision, double precision, numeric, numeric, numeric)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.size_target(pgtrade.strategy, numeric,
	double precision, double precision, numeric, numeric, numeric) IS
	'Internal: the target position an evaluator''s target asks for, by '
	'the strategy''s sizing.';

/*
 * run_decide nets a target position against the position and the open
 * orders, records the decision (step p_step) and, when the target
 * changes, inserts the order through the risk gate (step p_step + 1).
 * A NULL target means no opinion: the decision is a hold.
 */
CREATE FUNCTION pgtrade.run_decide(p_run bigint, p_step integer,
	p_s pgtrade.strategy, p_as_of timestamptz, p_target_pos numeric,
	p_signal text, p_reason text, p_confidence numeric, p_values jsonb,
	p_last_close double precision, p_last_ts timestamptz, p_bars integer,
	p_place boolean, p_sizing jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_t timestamptz := clock_timestamp();
	v_pos numeric := pgtrade.position_quantity(p_s.account_id, p_s.instrument_id);
	v_open numeric := pgtrade.open_quantity(p_s.account_id, p_s.instrument_id);
	v_delta numeric := coalesce(p_target_pos - v_pos - v_open, 0);
	v_action text;
	v_reason text := pgtrade.decision_reason(p_reason, p_target_pos, v_pos,
		v_open, p_place);
	v_decision bigint;
	v_order pgtrade.orders;
	v_limit numeric;
BEGIN
	v_action := CASE WHEN v_delta > 0 THEN 'buy'
					 WHEN v_delta < 0 THEN 'sell' ELSE 'hold' END;
	INSERT INTO pgtrade.decision (run_id, strategy_id, as_of, action, signal,
		target_position, position, open_quantity, quantity, last_close,
		confidence, reason, indicators, last_bar_ts, bars_used, kind, params)
	VALUES (p_run, p_s.strategy_id, p_as_of, v_action, p_signal,
		p_target_pos, v_pos, v_open, abs(v_delta), p_last_close,
		p_confidence, v_reason, p_values, p_last_ts, p_bars, p_s.kind,
		p_s.params)
	RETURNING decision_id INTO v_decision;
	PERFORM pgtrade.record_step(p_run, p_step, 'decide', v_t,
		jsonb_build_object('target_position', p_target_pos,
			'position', v_pos, 'open_orders', v_open)
			|| CASE WHEN p_sizing IS NULL THEN '{}'::jsonb
					ELSE jsonb_build_object('sizing', p_sizing) END,
		jsonb_build_object('decision_id', v_decision, 'action', v_action,
			'quantity', abs(v_delta), 'reason', v_reason));
	IF v_action = 'hold' OR NOT p_place THEN
		RETURN;
	END IF;

	v_t := clock_timestamp();
	IF p_s.order_type = 'limit' THEN
		/*
		 * A sell's limit below a tick (an offset past the price) is
		 * floored at one tick, as a backtest floors it: any price will do
		 */
		v_limit := p_last_close::numeric + CASE v_action WHEN 'buy'
			THEN p_s.limit_offset ELSE -p_s.limit_offset END;
		IF v_action = 'sell' THEN
			v_limit := greatest(v_limit, (SELECT i.tick_size
				FROM pgtrade.instrument i
				WHERE i.instrument_id = p_s.instrument_id));
		END IF;
	END IF;
	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
		order_type, limit_price, tif, valid_until, strategy_id, decision_id)
	VALUES (p_s.account_id, p_s.instrument_id, v_action, abs(v_delta),
		p_s.order_type, v_limit, p_s.tif, now() + p_s.order_valid_for,
		p_s.strategy_id, v_decision)
	RETURNING * INTO v_order;
	UPDATE pgtrade.decision
	SET order_id = v_order.order_id, risk_verdict = v_order.risk_verdict
	WHERE decision_id = v_decision;
	PERFORM pgtrade.record_step(p_run, p_step + 1, 'order', v_t,
		jsonb_build_object('side', v_action, 'quantity', abs(v_delta),
			'order_type', p_s.order_type, 'limit_price', v_limit),
		jsonb_build_object('order_id', v_order.order_id,
			'client_order_id', v_order.client_order_id,
			'status', v_order.status, 'risk_verdict', v_order.risk_verdict));
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_decide(bigint, integer, pgtrade.strategy,
	timestamptz, numeric, text, text, numeric, jsonb, double precision,
	timestamptz, integer, boolean, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_decide(bigint, integer, pgtrade.strategy,
	timestamptz, numeric, text, text, numeric, jsonb, double precision,
	timestamptz, integer, boolean, jsonb) IS
	'Internal: nets a target against position and open orders, records '
	'the decision and inserts any order through the risk gate.';

/*
 * run_market_step records a run's step p_step: whether the instrument's
 * market lets the run go ahead at p_as_of by the strategy's market_hours
 * (NULL: trading_day for daily bars, open for intraday).  Returns NULL
 * when it does, else the reason.  A time the calendar has no data for is
 * a closed market (fail closed); for a run of today that raises an
 * alert, once until it is acknowledged: every run will stop there.
 */
CREATE FUNCTION pgtrade.run_market_step(p_run bigint, p_step integer,
	p_s pgtrade.strategy, p_calendar text, p_as_of timestamptz)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_hours text := coalesce(p_s.market_hours,
		CASE WHEN p_s.bar_size >= interval '1 day' THEN 'trading_day'
			 ELSE 'open' END);
	v_t timestamptz := clock_timestamp();
	v_m record;
	v_go boolean;
BEGIN
	IF p_calendar IS NULL OR v_hours = 'always' THEN
		RETURN NULL;
	END IF;
	v_m := pgtrade.market_status(p_calendar, p_as_of);
	PERFORM pgtrade.record_step(p_run, p_step, 'market_hours', v_t,
		jsonb_build_object('calendar', p_calendar, 'market_hours', v_hours,
			'as_of', p_as_of),
		jsonb_build_object('open', v_m.is_open,
			'trading_day', v_m.trading_day, 'opens', v_m.opens,
			'closes', v_m.closes, 'reason', v_m.reason));
	v_go := CASE v_hours WHEN 'open' THEN v_m.is_open ELSE v_m.trading_day END;
	IF v_go IS NULL AND p_as_of >= clock_timestamp() - interval '1 day'
		AND NOT EXISTS (
		SELECT 1 FROM pgtrade.alert a
		WHERE a.kind = 'calendar_ended' AND a.strategy_id = p_s.strategy_id
			AND a.acknowledged_at IS NULL) THEN
		PERFORM pgtrade.raise_alert('calendar_ended', p_s.account_id,
			p_s.strategy_id, NULL, NULL,
			format('strategy "%s" skips every run: %s', p_s.name, v_m.reason));
	END IF;
	IF coalesce(v_go, false) THEN
		RETURN NULL;
	END IF;
	RETURN 'market closed: ' || v_m.reason;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_market_step(bigint, integer,
	pgtrade.strategy, text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_market_step(bigint, integer,
	pgtrade.strategy, text, timestamptz) IS
	'Internal: records whether the market lets a run go ahead; NULL when '
	'it does, else why not.';

/*
 * evaluate_kind calls a kind's evaluator on bars, oldest first, under
 * the exchange's time zone p_zone so that the dates it writes into its
 * reason are session dates, and checks its answer: what every run and
 * every bar of a backtest does.  A built-in kind's C evaluator is called
 * directly; a user's runs as its role, read-only, in a subtransaction
 * always rolled back (see strategy_kind_validate).  Raises when the kind
 * may not run or its answer lacks a target and a reason.
 */
CREATE FUNCTION pgtrade.evaluate_kind(p_kind pgtrade.strategy_kind,
	p_params jsonb, p_zone text, p_ts timestamptz[], p_o float8[],
	p_h float8[], p_l float8[], p_c float8[], p_v float8[])
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_why text := pgtrade.kind_refusal(p_kind);
	v_tz text := current_setting('timezone');
	v_path text := current_setting('search_path');
	v_out jsonb;
	v_msg text;
BEGIN
	IF v_why IS NOT NULL THEN
		RAISE EXCEPTION 'strategy kind "%" may not run: %', p_kind.name, v_why
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	PERFORM set_config('timezone', p_zone, true);
	IF p_kind.builtin THEN
		v_out := pgtrade.kind_evaluate(p_kind.evaluator, p_params, p_ts, p_o,
			p_h, p_l, p_c, p_v);
	ELSE
		BEGIN
			PERFORM set_config('transaction_read_only', 'on', true);
			v_out := pgtrade.kind_evaluate_as(p_kind.owner_role,
				p_kind.evaluator, p_params, p_ts, p_o, p_h, p_l, p_c, p_v);
			PERFORM pgtrade.kind_path_check(p_kind.name, v_path);
			RAISE EXCEPTION 'done' USING ERRCODE = 'PGK00';
		EXCEPTION
			WHEN SQLSTATE 'PGK00' THEN
				NULL;
			/*
			 * The two errors WHEN OTHERS does not catch, from a kind's
			 * code, would stop run_due for every strategy after this
			 * one: each becomes this run's failure.
			 */
			WHEN assert_failure OR query_canceled THEN
				GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT;
				RAISE EXCEPTION 'evaluator of strategy kind "%" stopped: %',
					p_kind.name, v_msg
					USING ERRCODE = 'external_routine_exception';
		END;
	END IF;
	PERFORM set_config('timezone', v_tz, true);
	IF v_out IS NULL OR jsonb_typeof(v_out) <> 'object'
		OR NOT v_out ? 'target' OR NOT v_out ? 'reason' THEN
		RAISE EXCEPTION 'evaluator of strategy kind "%" returned no target and reason',
			p_kind.name
			USING ERRCODE = 'data_exception', DETAIL = coalesce(v_out::text, 'NULL');
	END IF;
	RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.evaluate_kind(pgtrade.strategy_kind, jsonb,
	text, timestamptz[], float8[], float8[], float8[], float8[], float8[])
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.evaluate_kind(pgtrade.strategy_kind, jsonb, text,
	timestamptz[], float8[], float8[], float8[], float8[], float8[]) IS
	'Internal: a kind''s evaluator on bars, under the exchange''s time '
	'zone, with its answer checked; live runs and backtests alike.';

/*
 * kind_target reads an evaluator's target: -1, 0 or 1, or NULL when it
 * gives none (JSON null); any other number, and a target that is not a
 * number (a string "1" would otherwise read as no opinion), is refused.
 */
CREATE FUNCTION pgtrade.kind_target(p_kind text, p_out jsonb)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_target numeric;
BEGIN
	IF jsonb_typeof(p_out -> 'target') = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(p_out -> 'target') <> 'number' THEN
		RAISE EXCEPTION 'evaluator of strategy kind "%" returned target %, '
			'a %, not -1, 0, 1 or null', p_kind, p_out -> 'target',
			jsonb_typeof(p_out -> 'target')
			USING ERRCODE = 'data_exception';
	END IF;
	v_target := (p_out ->> 'target')::numeric;
	IF v_target NOT IN (-1, 0, 1) THEN
		RAISE EXCEPTION 'evaluator of strategy kind "%" returned target %, not -1, 0 or 1',
			p_kind, v_target
			USING ERRCODE = 'data_exception';
	END IF;
	RETURN v_target;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.kind_target(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.kind_target(text, jsonb) IS
	'Internal: an evaluator''s target, -1, 0, 1 or NULL; anything else is '
	'refused.';

/*
 * run_steps does the work of one run: load bars, evaluate, decide, order.
 * It raises on any failure; run_execute catches that and fails the run.
 */
CREATE FUNCTION pgtrade.run_steps(p_run bigint, p_s pgtrade.strategy,
	p_as_of timestamptz, p_place boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_inst pgtrade.instrument;
	v_kind pgtrade.strategy_kind;
	v_t timestamptz;
	v_ts timestamptz[];
	v_o float8[];
	v_h float8[];
	v_l float8[];
	v_c float8[];
	v_v float8[];
	v_n integer;
	v_out jsonb;
	v_target numeric;
	v_age interval;
	v_why text;
	v_last_end timestamptz;
	v_tpos numeric;
	v_note text;
	v_sizing jsonb;
BEGIN
	SELECT * INTO STRICT v_inst FROM pgtrade.instrument
	WHERE instrument_id = p_s.instrument_id;
	SELECT * INTO STRICT v_kind FROM pgtrade.strategy_kind
	WHERE name = p_s.kind;

	/* step 0: the market's hours by the instrument's calendar */
	v_why := pgtrade.run_market_step(p_run, 0, p_s, v_inst.calendar, p_as_of);
	IF v_why IS NOT NULL THEN
		UPDATE pgtrade.workflow_run r SET error = v_why WHERE r.run_id = p_run;
		RETURN 'closed';
	END IF;

	/*
	 * step 1: the bars that had ended by as_of (bars_ended_by), oldest
	 * first; recent_bars takes the newest by one scan of the key
	 */
	v_t := clock_timestamp();
	SELECT b.ts, b.open, b.high, b.low, b.close, b.volume, b.bars
	INTO v_ts, v_o, v_h, v_l, v_c, v_v, v_n
	FROM pgtrade.recent_bars(p_s.instrument_id, p_s.bar_size,
		pgtrade.bars_ended_by(p_as_of, p_s.bar_size, v_inst.time_zone,
							  v_inst.session_close),
		p_s.bars_needed * 2) b;
	PERFORM pgtrade.record_step(p_run, 1, 'load_bars', v_t,
		jsonb_build_object('symbol', v_inst.symbol, 'bar_size',
			p_s.bar_size::text, 'as_of', p_as_of, 'bars_wanted',
			p_s.bars_needed * 2),
		jsonb_build_object('bars', v_n, 'first_ts', v_ts[1],
			'last_ts', v_ts[v_n], 'last_close', v_c[v_n]));

	/* stale bars: the market data stopped, or the run is far too late */
	v_age := coalesce(p_s.max_bar_age,
		CASE WHEN p_s.bar_size >= interval '1 day' THEN interval '5 days'
			 ELSE greatest(interval '15 minutes', 3 * p_s.bar_size) END);
	/* bar_end of the newest bar, written out: a call costs more here */
	v_last_end := CASE WHEN p_s.bar_size >= interval '1 day'
		THEN ((v_ts[v_n] AT TIME ZONE v_inst.time_zone)::date
			  + v_inst.session_close) AT TIME ZONE v_inst.time_zone
		ELSE v_ts[v_n] + p_s.bar_size END;
	IF v_n = 0 OR v_last_end < p_as_of - v_age THEN
		UPDATE pgtrade.workflow_run r
		SET error = CASE WHEN v_n = 0 THEN format('stale bars: %s has no '
				'%s bar that ended by %s; a run needs one that ended within %s',
				v_inst.symbol, pgtrade.bar_size_label(p_s.bar_size), p_as_of,
				v_age)
			ELSE format('stale bars: the last %s bar of %s %s; a run '
				'needs one that ended within %s',
				pgtrade.bar_size_label(p_s.bar_size), v_inst.symbol,
				pgtrade.bar_label(v_ts[v_n], p_s.bar_size, v_inst.time_zone),
				v_age) END
		WHERE r.run_id = p_run;
		RETURN 'skipped';
	END IF;

	/*
	 * step 2: the kind's evaluator, under the exchange's time zone so the
	 * dates it writes into its reason are session dates
	 */
	v_t := clock_timestamp();
	v_out := pgtrade.evaluate_kind(v_kind, p_s.params, v_inst.time_zone,
		coalesce(v_ts, '{}'), coalesce(v_o, '{}'), coalesce(v_h, '{}'),
		coalesce(v_l, '{}'), coalesce(v_c, '{}'), coalesce(v_v, '{}'));
	PERFORM pgtrade.record_step(p_run, 2, 'evaluate', v_t,
		jsonb_build_object('kind', p_s.kind, 'params', p_s.params,
			'bars', v_n), v_out);

	/* steps 3 and 4: net the target, decide, order */
	v_target := pgtrade.kind_target(p_s.kind, v_out);
	/* step 3 with the size: see size_target */
	v_tpos := v_target * p_s.quantity;
	IF p_s.sizing <> 'fixed' AND v_target <> 0 THEN
		SELECT z.target_position, z.note, z.detail
		INTO v_tpos, v_note, v_sizing
		FROM pgtrade.size_target(p_s, v_target, v_c[v_n],
			CASE WHEN p_s.sizing = 'risk'
				THEN (pgtrade.atr(v_h, v_l, v_c, p_s.atr_period))[v_n] END,
			pgtrade.position_quantity(p_s.account_id, p_s.instrument_id),
			pgtrade.open_quantity(p_s.account_id, p_s.instrument_id)) z;
	END IF;
	PERFORM pgtrade.run_decide(p_run, 3, p_s, p_as_of, v_tpos,
		v_out->>'signal', concat_ws('; ', v_out->>'reason', v_note), NULL,
		v_out->'values', v_c[v_n], v_ts[v_n], v_n, p_place, v_sizing);
	RETURN 'succeeded';
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_steps(bigint, pgtrade.strategy,
	timestamptz, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_steps(bigint, pgtrade.strategy, timestamptz,
	boolean) IS
	'Internal: the steps of one run (load bars, evaluate, decide, order).';

/*
 * A strategy whose last disable_after_failures scheduled runs since it
 * was switched on (those that got as far as running: skipped and missed
 * slots do not count) all failed is switched off, with the reason kept
 * and an alert raised.
 */
CREATE FUNCTION pgtrade.disable_failing_strategy(p_s pgtrade.strategy)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_failed bigint;
	v_runs bigint;
	v_why text;
BEGIN
	IF p_s.disable_after_failures IS NULL OR NOT p_s.active THEN
		RETURN false;
	END IF;
	SELECT count(*) FILTER (WHERE r.status = 'failed'), count(*)
	INTO v_failed, v_runs
	FROM (SELECT r.status FROM pgtrade.workflow_run r
		  WHERE r.strategy_id = p_s.strategy_id AND r.trigger = 'cron'
			AND r.status IN ('succeeded', 'failed')
			AND r.started_at >= coalesce(p_s.activated_at, '-infinity')
		  ORDER BY r.slot DESC
		  LIMIT p_s.disable_after_failures) r;
	IF v_failed < p_s.disable_after_failures THEN
		RETURN false;
	END IF;
	v_why := format('switched off at %s after %s scheduled runs failed in a row; the last: %s',
					now(), v_failed,
					(SELECT r.error FROM pgtrade.workflow_run r
					 WHERE r.strategy_id = p_s.strategy_id
						AND r.trigger = 'cron' AND r.status = 'failed'
					 ORDER BY r.slot DESC LIMIT 1));
	UPDATE pgtrade.strategy s SET active = false, disabled_reason = v_why
	WHERE s.strategy_id = p_s.strategy_id;
	PERFORM pgtrade.raise_alert('strategy_disabled', p_s.account_id,
		p_s.strategy_id, NULL, NULL,
		format('strategy "%s" %s', p_s.name, v_why));
	RETURN true;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.disable_failing_strategy(pgtrade.strategy)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.disable_failing_strategy(pgtrade.strategy) IS
	'Internal: switches a strategy off once its last '
	'disable_after_failures scheduled runs have all failed.';

/*
 * run_execute records a run of a strategy and performs it; a failure in
 * any step is caught, undone and recorded on the run.  Returns the run id,
 * or NULL when a cron slot already had its run.
 */
CREATE FUNCTION pgtrade.run_execute(p_strategy bigint, p_trigger text,
	p_slot timestamptz, p_as_of timestamptz, p_place boolean)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_s pgtrade.strategy;
	v_run bigint;
	v_msg text;
	v_state text;
	v_status text;
BEGIN
	SELECT * INTO STRICT v_s FROM pgtrade.strategy
	WHERE strategy_id = p_strategy;
	INSERT INTO pgtrade.workflow_run (strategy_id, trigger, slot, as_of)
	VALUES (p_strategy, p_trigger, p_slot, p_as_of)
	ON CONFLICT (strategy_id, slot) WHERE trigger = 'cron' DO NOTHING
	RETURNING run_id INTO v_run;
	IF v_run IS NULL THEN
		RETURN NULL;
	END IF;
	BEGIN
		v_status := pgtrade.run_steps(v_run, v_s, p_as_of, p_place);
		/* a closed market is routine: logged, not warned about */
		UPDATE pgtrade.workflow_run SET status = CASE v_status
				WHEN 'closed' THEN 'skipped' ELSE v_status END,
			finished_at = clock_timestamp()
		WHERE run_id = v_run
		RETURNING error INTO v_msg;
		IF v_status = 'skipped' THEN
			RAISE WARNING 'run % of strategy "%" skipped: %', v_run, v_s.name,
				v_msg;
		ELSIF v_status = 'closed' THEN
			RAISE LOG 'run % of strategy "%" skipped: %', v_run, v_s.name,
				v_msg;
		END IF;
	EXCEPTION WHEN OTHERS OR assert_failure THEN
		GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE;
		UPDATE pgtrade.workflow_run SET status = 'failed',
			finished_at = clock_timestamp(), error = v_msg, sqlstate = v_state
		WHERE run_id = v_run;
		RAISE WARNING 'run % of strategy "%" failed: %', v_run, v_s.name, v_msg;
		IF p_trigger = 'cron' THEN
			PERFORM pgtrade.disable_failing_strategy(v_s);
		END IF;
	END;
	RETURN v_run;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_execute(bigint, text, timestamptz,
	timestamptz, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_execute(bigint, text, timestamptz,
	timestamptz, boolean) IS
	'Internal: records and performs one run; failures are recorded on the '
	'run, not raised.';

CREATE FUNCTION pgtrade.run_strategy(name text, as_of timestamptz DEFAULT now(),
	trigger text DEFAULT 'manual', place_orders boolean DEFAULT NULL)
RETURNS TABLE (run_id bigint, status text, action text, quantity numeric,
	order_id bigint, order_status text, reason text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_id bigint;
	v_run bigint;
BEGIN
	IF trigger NOT IN ('manual', 'replay') THEN
		RAISE EXCEPTION 'trigger must be manual or replay, not "%"', trigger
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF as_of IS NULL OR NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be a finite time'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF as_of > now() THEN
		RAISE EXCEPTION 'as_of must not be in the future'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('as_of %s, now %s.', as_of, now());
	END IF;
	SELECT s.strategy_id INTO v_id FROM pgtrade.strategy s
	WHERE s.name = run_strategy.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy "%" does not exist', run_strategy.name
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(
		(SELECT s.account_id FROM pgtrade.strategy s WHERE s.strategy_id = v_id));
	/*
	 * A run as of the past is a dry run unless asked: its decision is
	 * recorded, but an order placed now on an old picture of the market
	 * would be a live order on stale information.
	 */
	v_run := pgtrade.run_execute(v_id, trigger, as_of, as_of,
		coalesce(place_orders, as_of >= now() - (SELECT s.grace
			FROM pgtrade.strategy s WHERE s.strategy_id = v_id)));
	RETURN QUERY
		SELECT r.run_id, r.status, d.action, d.quantity, o.order_id,
			   o.status, coalesce(d.reason, r.error)
		FROM pgtrade.workflow_run r
		LEFT JOIN pgtrade.decision d ON d.run_id = r.run_id
		LEFT JOIN pgtrade.orders o ON o.order_id = d.order_id
		WHERE r.run_id = v_run;
END
$$;
COMMENT ON FUNCTION pgtrade.run_strategy(text, timestamptz, text, boolean) IS
	'Runs one strategy now or as of a past time (replay), using only bars '
	'that had ended by then; records the run, its steps, the decision and '
	'any order, and returns a summary.  A run as of more than the '
	'strategy''s grace ago places no order unless place_orders is true.';

/*
 * submit_decision lets an outside decider (a model, an agent, a person)
 * set a strategy's target position.  It is recorded as a run with
 * trigger 'external' and meets the same netting and risk gate as the
 * strategy's own evaluator; any error is raised and nothing is kept.
 */
CREATE FUNCTION pgtrade.submit_decision(strategy text,
	target_position numeric, explanation text,
	confidence numeric DEFAULT NULL, indicators jsonb DEFAULT NULL)
RETURNS TABLE (run_id bigint, action text, quantity numeric,
	order_id bigint, order_status text, status text, reason text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_s pgtrade.strategy;
	v_inst pgtrade.instrument;
	v_run bigint;
	v_bar record;
	v_why text;
BEGIN
	SELECT * INTO v_s FROM pgtrade.strategy s
	WHERE s.name = submit_decision.strategy;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy "%" does not exist', submit_decision.strategy
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_s.account_id);
	IF target_position IS NULL THEN
		RAISE EXCEPTION 'target position must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF coalesce(btrim(explanation), '') = '' THEN
		RAISE EXCEPTION 'a decision needs an explanation'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF confidence < 0 OR confidence > 1 THEN
		RAISE EXCEPTION 'confidence must be between 0 and 1, not %', confidence
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO STRICT v_inst FROM pgtrade.instrument i
	WHERE i.instrument_id = v_s.instrument_id;
	/* NaN compares above every number: "< Infinity" refuses it too */
	IF NOT (target_position > '-Infinity' AND target_position < 'Infinity') THEN
		RAISE EXCEPTION 'target position must be a finite number, not %',
			target_position
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF target_position % v_inst.lot_size <> 0 THEN
		RAISE EXCEPTION 'target position % is not a whole number of lots of %',
			target_position, v_inst.lot_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT b.ts, b.close INTO v_bar FROM pgtrade.bar b
	WHERE b.instrument_id = v_s.instrument_id AND b.bar_size = v_s.bar_size
		AND b.ts <= now()
		AND pgtrade.bar_end(b.ts, b.bar_size, v_inst.time_zone,
							v_inst.session_close) <= now()
	ORDER BY b.ts DESC LIMIT 1;

	INSERT INTO pgtrade.workflow_run (strategy_id, trigger, slot, as_of)
	VALUES (v_s.strategy_id, 'external', now(), now())
	RETURNING workflow_run.run_id INTO v_run;
	PERFORM pgtrade.record_step(v_run, 1, 'external_decision',
		clock_timestamp(),
		jsonb_build_object('submitted_by', pgtrade.caller_role(), 'target_position',
			target_position, 'confidence', confidence,
			'explanation', explanation, 'indicators', indicators),
		NULL);
	/* a closed market skips an outside decision as it skips a run */
	v_why := pgtrade.run_market_step(v_run, 0, v_s, v_inst.calendar, now());
	IF v_why IS NOT NULL THEN
		UPDATE pgtrade.workflow_run r SET status = 'skipped',
			finished_at = clock_timestamp(), error = v_why
		WHERE r.run_id = v_run;
		RETURN QUERY SELECT v_run, NULL::text, NULL::numeric, NULL::bigint,
			NULL::text, 'skipped'::text, v_why;
		RETURN;
	END IF;
	PERFORM pgtrade.run_decide(v_run, 2, v_s, now(), target_position,
		'external', format('decision by %s: %s', pgtrade.caller_role(), explanation),
		confidence, indicators, v_bar.close, v_bar.ts,
		CASE WHEN v_bar.ts IS NULL THEN 0 ELSE 1 END, true);
	UPDATE pgtrade.workflow_run r SET status = 'succeeded',
		finished_at = clock_timestamp()
	WHERE r.run_id = v_run;
	RETURN QUERY
		SELECT v_run, d.action, d.quantity, o.order_id, o.status,
			'succeeded'::text, d.reason
		FROM pgtrade.decision d
		LEFT JOIN pgtrade.orders o ON o.order_id = d.order_id
		WHERE d.run_id = v_run;
END
$$;
COMMENT ON FUNCTION pgtrade.submit_decision(text, numeric, text, numeric,
	jsonb) IS
	'Lets an outside decider set a strategy''s target position (in units '
	'of the instrument); recorded as an external run, netted against '
	'position and open orders, and gated like any other order; skipped, '
	'with the reason, while the market is closed by the strategy''s '
	'market_hours.';

/*
 * run_next_due runs the strategy whose slot is oldest among those due
 * (or, given p_strategy, that strategy if it is due and no other session
 * holds it), advancing its next_run_at; returns false when none is due.
 * Each call is meant to be its own transaction (run_due commits after
 * each).
 */
CREATE FUNCTION pgtrade.run_next_due(p_now timestamptz,
	p_strategy bigint DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_s pgtrade.strategy;
	v_slot timestamptz;
BEGIN
	/* slots are taken as they come, never ahead of the clock (as run_due) */
	IF p_now IS NULL OR p_now > pg_catalog.clock_timestamp() THEN
		RAISE EXCEPTION 'run_next_due takes the time now or earlier, not %', p_now
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_strategy IS NULL THEN
		SELECT * INTO v_s FROM pgtrade.strategy s
		WHERE s.active AND s.next_run_at <= p_now
		ORDER BY s.next_run_at, s.strategy_id
		LIMIT 1
		FOR UPDATE SKIP LOCKED;
	ELSE
		SELECT * INTO v_s FROM pgtrade.strategy s
		WHERE s.strategy_id = p_strategy AND s.active
			AND s.next_run_at <= p_now
		FOR UPDATE SKIP LOCKED;
	END IF;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	v_slot := v_s.next_run_at;
	UPDATE pgtrade.strategy s
	SET next_run_at = coalesce(pgtrade.cron_next(s.schedule,
						greatest(p_now, v_slot), s.time_zone), 'infinity')
	WHERE s.strategy_id = v_s.strategy_id;

	IF p_now - v_slot > v_s.grace AND NOT v_s.catch_up THEN
		INSERT INTO pgtrade.workflow_run (strategy_id, trigger, slot, as_of,
			status, finished_at, error)
		VALUES (v_s.strategy_id, 'cron', v_slot, p_now, 'missed',
			clock_timestamp(), format('started %s after its slot, past the grace period of %s',
								   p_now - v_slot, v_s.grace))
		ON CONFLICT (strategy_id, slot) WHERE trigger = 'cron' DO NOTHING;
	ELSE
		/*
		 * A time older than the grace makes a dry run, as run_strategy
		 * does: no live order on an old picture of the market.
		 */
		PERFORM pgtrade.run_execute(v_s.strategy_id, 'cron', v_slot, p_now,
			p_now >= pg_catalog.clock_timestamp() - v_s.grace);
	END IF;
	/*
	 * A transaction that placed no order may commit without waiting for
	 * its WAL to reach disk: lost in a crash, it is the run and the
	 * slot's move that are lost, and the slot simply runs again.  One in
	 * which any order went pending (orders_after_insert notes it) commits
	 * synchronously, before the listener can see the order, even for a
	 * role whose default is not to.
	 */
	IF coalesce(pg_catalog.current_setting('pgtrade.order_placed', true), '')
		<> 'on' THEN
		PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
	ELSIF pg_catalog.current_setting('synchronous_commit') = 'off' THEN
		PERFORM pg_catalog.set_config('synchronous_commit', 'on', true);
	END IF;
	RETURN true;
END
$$;
COMMENT ON FUNCTION pgtrade.run_next_due(timestamptz, bigint) IS
	'Scheduler: runs (or records as missed) the most overdue active '
	'strategy, or the one given if it is due, and advances its '
	'next_run_at; false when none is due.';

/*
 * run_probe is one due strategy as the bulk scheduler sees it: what
 * becomes of its slot (outcome: missed, taken, closed, decide or left),
 * what its run read and evaluated, and the ids its records will have.
 */
CREATE TYPE pgtrade.run_probe AS (
	strategy_id	bigint,
	slot		timestamptz,
	outcome		text,
	run_id		bigint,
	decision_id	bigint,
	error		text,
	calendar	text,
	hours		text,
	market		jsonb,
	symbol		text,
	bar_size	interval,
	bars_wanted	integer,
	bars		integer,
	first_ts	timestamptz,
	last_ts		timestamptz,
	last_close	double precision,
	output		jsonb,
	target		numeric,
	pos			numeric,
	open_qty	numeric,
	place		boolean,
	kind		text,
	params		jsonb
);
COMMENT ON TYPE pgtrade.run_probe IS
	'Internal: one due strategy as the bulk scheduler saw it.';

/*
 * run_probe looks at the due strategies p_ids whose exchange is in zone
 * p_zone (the caller has set the session's zone to it, for the
 * evaluators) and says what each run would record, without recording
 * anything.  p_markets holds each calendar's market_status at p_now.
 * It decides as run_next_due and run_steps do, step for step:
 *   missed	 later than the grace (and no catch-up): a missed run
 *   taken	 the slot already has its run: nothing but the slot's move
 *   closed	 the market is closed by the strategy's market_hours
 *   decide	 a decision that places no order (a hold, or a dry run)
 *   left	 anything else, for run_next_due: an order, a kind of a
 *			 user's, stale bars, an answer it must refuse, a calendar run
 *			 out on a live run, a position to size (size_target)
 * The positions and open orders are read as position_quantity and
 * open_quantity read them.  The ids of the run and the decision are
 * drawn here so that the caller can write its rows without joins.
 * Its query is planned in the order it is written (the collapse limits):
 * each lateral step needs the ones before it, and every tick, in a new
 * session, plans it again; searching join orders took a fifth of that.
 */
CREATE FUNCTION pgtrade.run_probe(p_ids bigint[], p_zone text,
	p_now timestamptz, p_markets jsonb)
RETURNS SETOF pgtrade.run_probe
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET join_collapse_limit = 1
SET from_collapse_limit = 1
AS $$
#variable_conflict use_column
DECLARE
	v_live boolean := p_now >= clock_timestamp() - interval '1 day';
BEGIN
	RETURN QUERY
	SELECT s.strategy_id, s.next_run_at, o.outcome,
		CASE WHEN o.outcome IN ('missed', 'closed', 'decide')
			THEN nextval('pgtrade.workflow_run_run_id_seq') END,
		CASE WHEN o.outcome = 'decide'
			THEN nextval('pgtrade.decision_decision_id_seq') END,
		CASE o.outcome
			WHEN 'missed' THEN format('started %s after its slot, past the '
				'grace period of %s', p_now - s.next_run_at, s.grace)
			WHEN 'closed' THEN 'market closed: ' || (m.market ->> 'reason') END,
		i.calendar, h.hours, m.market, i.symbol, s.bar_size,
		s.bars_needed * 2, b.n, b.ts[1], b.ts[b.n], b.c[b.n], e.output,
		v.target, pq.pos, pq.open_qty, v.place, s.kind, s.params
	FROM pgtrade.strategy s
	JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
	JOIN pgtrade.strategy_kind k ON k.name = s.kind
	CROSS JOIN LATERAL (
		SELECT coalesce(s.market_hours,
			CASE WHEN s.bar_size >= interval '1 day' THEN 'trading_day'
				 ELSE 'open' END) AS hours) h
	CROSS JOIN LATERAL (
		SELECT CASE WHEN i.calendar IS NOT NULL AND h.hours <> 'always'
			THEN p_markets -> i.calendar END AS market) m
	/*
	 * OFFSET 0 keeps a subquery whole, so that what it computes is
	 * computed once a row, not again wherever its columns are used.
	 *
	 * May it go ahead: the order of run_next_due and run_market_step.
	 */
	CROSS JOIN LATERAL (
		SELECT CASE
			WHEN EXISTS (
				SELECT 1 FROM pgtrade.workflow_run w
				WHERE w.strategy_id = s.strategy_id
					AND w.slot = s.next_run_at AND w.trigger = 'cron')
				THEN 'taken'
			WHEN p_now - s.next_run_at > s.grace AND NOT s.catch_up
				THEN 'missed'
			WHEN m.market IS NULL THEN 'run'
			ELSE CASE CASE h.hours
						  WHEN 'open' THEN m.market -> 'is_open'
						  ELSE m.market -> 'trading_day' END
				WHEN 'true' THEN 'run'
				WHEN 'false' THEN 'closed'
				/* the calendar has run out: run_market_step alerts */
				ELSE CASE WHEN v_live THEN 'left' ELSE 'closed' END
				END
			END AS pre
		OFFSET 0) a
	CROSS JOIN LATERAL (
		SELECT r.ts, r.open AS o, r.high AS h, r.low AS l, r.close AS c,
			   r.volume AS v, r.bars AS n
		/* the bars that had ended by now, as run_steps reads them */
		FROM pgtrade.recent_bars(s.instrument_id, s.bar_size,
			pgtrade.bars_ended_by(p_now, s.bar_size, i.time_zone,
								  i.session_close),
			CASE WHEN a.pre = 'run' AND k.builtin
				THEN s.bars_needed * 2 ELSE 0 END) r) b
	CROSS JOIN LATERAL (
		SELECT coalesce(s.max_bar_age,
			CASE WHEN s.bar_size >= interval '1 day' THEN interval '5 days'
				 ELSE greatest(interval '15 minutes', 3 * s.bar_size) END)
			AS allowed) g
	CROSS JOIN LATERAL (
		SELECT b.n = 0 OR
			CASE WHEN s.bar_size >= interval '1 day'
				THEN ((b.ts[b.n] AT TIME ZONE i.time_zone)::date
					  + i.session_close) AT TIME ZONE i.time_zone
				ELSE b.ts[b.n] + s.bar_size END < p_now - g.allowed
			AS stale) st
	CROSS JOIN LATERAL (
		SELECT CASE WHEN a.pre = 'run' AND k.builtin AND NOT st.stale
			THEN pgtrade.kind_evaluate(k.evaluator, s.params, b.ts, b.o, b.h,
				b.l, b.c, b.v) END AS output
		OFFSET 0) e
	/* run_steps' checks of the answer, without raising */
	CROSS JOIN LATERAL (
		SELECT jsonb_typeof(e.output -> 'target') = 'number' AS numeric_target) t
	CROSS JOIN LATERAL (
		SELECT coalesce(jsonb_typeof(e.output) = 'object'
				AND e.output ? 'target' AND e.output ? 'reason'
				AND CASE WHEN t.numeric_target
					THEN (e.output ->> 'target')::numeric IN (-1, 0, 1)
					ELSE jsonb_typeof(e.output -> 'target') = 'null' END,
				false) AS valid,
			   CASE WHEN t.numeric_target
				   THEN (e.output ->> 'target')::numeric * s.quantity END AS target,
			   p_now >= clock_timestamp() - s.grace AS place) v
	/* position_quantity and open_quantity, taken in */
	CROSS JOIN LATERAL (
		SELECT CASE WHEN v.valid THEN coalesce((
				SELECT ps.quantity FROM pgtrade.position ps
				WHERE ps.account_id = s.account_id
					AND ps.instrument_id = s.instrument_id), 0) END AS pos,
			   CASE WHEN v.valid THEN (
				SELECT coalesce(sum(q.q) FILTER (WHERE q.side = 'buy'), 0)
					   - coalesce(sum(q.q) FILTER (WHERE q.side = 'sell'), 0)
				FROM (SELECT x.side, max(x.q) AS q
					  FROM pgtrade.open_order_rests(s.account_id,
						s.instrument_id, NULL) x
					  GROUP BY x.side, x.grp) q) END AS open_qty
		OFFSET 0) pq
	CROSS JOIN LATERAL (
		SELECT CASE
			WHEN a.pre <> 'run' THEN a.pre
			WHEN NOT k.builtin OR st.stale OR NOT v.valid THEN 'left'
			/* a position to size: run_steps and size_target */
			WHEN s.sizing <> 'fixed' AND coalesce(v.target, 0) <> 0 THEN 'left'
			WHEN coalesce(v.target - pq.pos - pq.open_qty, 0) <> 0 AND v.place
				THEN 'left'
			ELSE 'decide' END AS outcome) o
	WHERE s.strategy_id = ANY (p_ids) AND i.time_zone = p_zone;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_probe(bigint[], text, timestamptz, jsonb)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_probe(bigint[], text, timestamptz, jsonb) IS
	'Internal: what the runs of due strategies of one time zone would '
	'record, recorded nowhere.';

/*
 * run_due_bulk takes up to p_limit due strategies, oldest slot first,
 * and records in a handful of statements the runs that place no order:
 * missed slots, closed markets, and the decisions of built-in kinds that
 * hold (or, in a dry run, would have traded).  What it records is what
 * run_next_due would have recorded, step for step, except that the runs
 * share their timings: each step's times are those of the work done for
 * all of them together.
 *
 * It returns the strategies it took but left, oldest slot first, for
 * run_next_due to run one by one (see run_probe); NULL means none was
 * due.  If anything fails it records nothing and leaves them all, so
 * one strategy's error reaches no other's run.  No order is placed here,
 * so the transaction may commit without waiting for its WAL.  Bitmap
 * scans are off for the reason open_side_quantities gives.
 */
CREATE FUNCTION pgtrade.run_due_bulk(p_now timestamptz, p_limit integer)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
DECLARE
	v_ids bigint[];
	v_rows pgtrade.run_probe[] := '{}';
	v_markets jsonb;
	v_tz text := current_setting('timezone');
	v_zone text;
	v_t0 timestamptz;
	v_t1 timestamptz;
	v_closed bigint;
	v_msg text;
BEGIN
	IF p_now IS NULL OR p_now > clock_timestamp() THEN
		RAISE EXCEPTION 'run_due_bulk takes the time now or earlier, not %', p_now
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT array_agg(p.strategy_id ORDER BY p.next_run_at, p.strategy_id)
	INTO v_ids
	FROM (SELECT s.strategy_id, s.next_run_at FROM pgtrade.strategy s
		  WHERE s.active AND s.next_run_at <= p_now
		  ORDER BY s.next_run_at, s.strategy_id
		  LIMIT p_limit
		  FOR UPDATE SKIP LOCKED) p;
	IF v_ids IS NULL THEN
		RETURN NULL;
	END IF;

	BEGIN
		v_t0 := clock_timestamp();
		/* each calendar's answer for now, asked once */
		SELECT jsonb_object_agg(c.calendar, to_jsonb(m)) INTO v_markets
		FROM (SELECT DISTINCT i.calendar
			  FROM pgtrade.strategy s
			  JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
			  WHERE s.strategy_id = ANY (v_ids) AND i.calendar IS NOT NULL) c
		CROSS JOIN LATERAL pgtrade.market_status(c.calendar, p_now) m;
		/* the evaluators run under their exchange's zone, as in run_steps */
		FOR v_zone IN
			SELECT DISTINCT i.time_zone
			FROM pgtrade.strategy s
			JOIN pgtrade.instrument i ON i.instrument_id = s.instrument_id
			WHERE s.strategy_id = ANY (v_ids)
		LOOP
			PERFORM set_config('timezone', v_zone, true);
			v_rows := v_rows || ARRAY(
				SELECT p FROM pgtrade.run_probe(v_ids, v_zone, p_now,
					v_markets) p);
		END LOOP;
		PERFORM set_config('timezone', v_tz, true);
		v_t1 := clock_timestamp();

		/* the runs; a missed one is finished when recorded */
		INSERT INTO pgtrade.workflow_run (run_id, strategy_id, trigger, slot,
			as_of, status, started_at, finished_at, error)
		OVERRIDING SYSTEM VALUE
		SELECT p.run_id, p.strategy_id, 'cron', p.slot, p_now,
			CASE p.outcome WHEN 'decide' THEN 'succeeded'
						   WHEN 'closed' THEN 'skipped' ELSE 'missed' END,
			CASE p.outcome WHEN 'missed' THEN clock_timestamp() ELSE v_t0 END,
			clock_timestamp(), p.error
		FROM unnest(v_rows) p
		WHERE p.run_id IS NOT NULL;

		/*
		 * The decisions, netted as run_decide nets them, and their step
		 * 3, decide, made from the decisions as written.
		 */
		WITH d AS (
			INSERT INTO pgtrade.decision (decision_id, run_id, strategy_id, as_of,
				action, signal, target_position, position, open_quantity,
				quantity, last_close, confidence, reason, indicators,
				last_bar_ts, bars_used, kind, params)
			OVERRIDING SYSTEM VALUE
			SELECT p.decision_id, p.run_id, p.strategy_id, p_now,
				CASE WHEN n.delta > 0 THEN 'buy' WHEN n.delta < 0 THEN 'sell'
					 ELSE 'hold' END,
				p.output ->> 'signal', p.target, p.pos, p.open_qty,
				abs(n.delta),
				p.last_close, NULL,
				pgtrade.decision_reason(p.output ->> 'reason', p.target, p.pos,
					p.open_qty, p.place),
				p.output -> 'values', p.last_ts, p.bars, p.kind, p.params
			FROM unnest(v_rows) p
			CROSS JOIN LATERAL (
				SELECT coalesce(p.target - p.pos - p.open_qty, 0) AS delta) n
			WHERE p.outcome = 'decide'
			RETURNING decision_id, run_id, action, target_position, position,
				open_quantity, quantity, reason)
		INSERT INTO pgtrade.workflow_step (run_id, step_no, name, started_at,
			finished_at, input, output)
		SELECT d.run_id, 3, 'decide', v_t1, clock_timestamp(),
			jsonb_build_object('target_position', d.target_position,
				'position', d.position, 'open_orders', d.open_quantity),
			jsonb_build_object('decision_id', d.decision_id,
				'action', d.action, 'quantity', d.quantity,
				'reason', d.reason)
		FROM d;

		/*
		 * The steps of run_steps: 0 market_hours, 1 load_bars, 2 evaluate,
		 * each step's objects built only for the runs that have it.
		 */
		INSERT INTO pgtrade.workflow_step (run_id, step_no, name, started_at,
			finished_at, input, output)
		SELECT p.run_id, st.no, st.name, v_t0, v_t1, st.input, st.output
		FROM unnest(v_rows) p
		CROSS JOIN LATERAL (
			SELECT 0, 'market_hours',
				jsonb_build_object('calendar', p.calendar,
					'market_hours', p.hours, 'as_of', p_now),
				jsonb_build_object('open', p.market -> 'is_open',
					'trading_day', p.market -> 'trading_day',
					'opens', p.market -> 'opens',
					'closes', p.market -> 'closes',
					'reason', p.market -> 'reason')
			WHERE p.market IS NOT NULL AND p.outcome IN ('closed', 'decide')
			UNION ALL
			SELECT 1, 'load_bars',
				jsonb_build_object('symbol', p.symbol, 'bar_size',
					p.bar_size::text, 'as_of', p_now,
					'bars_wanted', p.bars_wanted),
				jsonb_build_object('bars', p.bars, 'first_ts', p.first_ts,
					'last_ts', p.last_ts, 'last_close', p.last_close)
			WHERE p.outcome = 'decide'
			UNION ALL
			SELECT 2, 'evaluate',
				jsonb_build_object('kind', p.kind, 'params', p.params,
					'bars', p.bars),
				p.output
			WHERE p.outcome = 'decide') st(no, name, input, output);

		UPDATE pgtrade.strategy s
		SET next_run_at = coalesce(pgtrade.cron_next(s.schedule,
			greatest(p_now, p.slot), s.time_zone), 'infinity')
		FROM unnest(v_rows) p
		WHERE s.strategy_id = p.strategy_id AND p.outcome <> 'left';
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT;
		RAISE LOG 'pgtrade: % due strategies could not be run together (%); '
			'running them one by one', cardinality(v_ids), v_msg;
		RETURN v_ids;
	END;

	/* a closed market is routine: one line per tick, not per run */
	v_closed := (SELECT count(*) FROM unnest(v_rows) p
				 WHERE p.outcome = 'closed');
	IF v_closed > 0 THEN
		RAISE LOG 'pgtrade: % runs skipped at %: market closed', v_closed, p_now;
	END IF;
	PERFORM set_config('synchronous_commit', 'off', true);
	RETURN (SELECT coalesce(array_agg(p.strategy_id ORDER BY p.slot,
								p.strategy_id), '{}')
			FROM unnest(v_rows) p WHERE p.outcome = 'left');
END
$$;
REVOKE ALL ON FUNCTION pgtrade.run_due_bulk(timestamptz, integer) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.run_due_bulk(timestamptz, integer) IS
	'Internal: records together the due runs that place no order, and '
	'returns the strategies left to run one by one.';

/*
 * The scheduler's heartbeat: when run_due last finished a call.  A
 * pg_cron that stopped scheduling (its scheduler shuts down when its
 * database is dropped and restored, say) leaves strategies unrun with no
 * error anywhere; pgtrade.monitor shows the heartbeat's age, to alert on.
 */
CREATE TABLE pgtrade.scheduler_tick (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	ticked_at	timestamptz NOT NULL
);
COMMENT ON TABLE pgtrade.scheduler_tick IS
	'One row: when run_due last finished a call (the scheduler''s '
	'heartbeat).';
SELECT pg_catalog.pg_extension_config_dump('pgtrade.scheduler_tick', '');

CREATE FUNCTION pgtrade.scheduler_ticked(p_at timestamptz)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO pgtrade.scheduler_tick AS t (singleton, ticked_at)
	VALUES (true, p_at)
	ON CONFLICT (singleton) DO UPDATE
		SET ticked_at = greatest(t.ticked_at, EXCLUDED.ticked_at);
$$;
REVOKE ALL ON FUNCTION pgtrade.scheduler_ticked(timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.scheduler_ticked(timestamptz) IS
	'Internal to run_due: records its heartbeat.';

/*
 * run_due carries no SET clause: a procedure with one cannot commit.
 * Everything it calls is schema-qualified instead.
 */
CREATE PROCEDURE pgtrade.run_due(now timestamptz DEFAULT NULL)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
	v_now timestamptz := coalesce(run_due.now, pg_catalog.clock_timestamp());
	v_started timestamptz := pg_catalog.clock_timestamp();
	v_left bigint[];
	v_id bigint;
BEGIN
	/*
	 * A time ahead of the clock would run slots early, on bars that have
	 * not ended, and use them up: refused.
	 */
	IF v_now > pg_catalog.clock_timestamp() THEN
		RAISE EXCEPTION 'run_due cannot run ahead of the clock'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('now %s, clock %s.', v_now,
						pg_catalog.clock_timestamp());
	END IF;
	/*
	 * Every strategy due, however many, for up to 50 seconds; what is
	 * left then waits for the next call, oldest slot first.  The runs
	 * that place no order are recorded 500 at a time; the rest, one by
	 * one straight after, each committed on its own.
	 */
	WHILE pg_catalog.clock_timestamp() < v_started + interval '50 seconds'
	LOOP
		v_left := pgtrade.run_due_bulk(v_now, 500);
		COMMIT;
		EXIT WHEN v_left IS NULL;
		FOREACH v_id IN ARRAY v_left LOOP
			PERFORM pgtrade.run_next_due(v_now, v_id);
			COMMIT;
		END LOOP;
	END LOOP;
	/* the heartbeat, in a transaction that need not wait for its WAL */
	PERFORM pgtrade.scheduler_ticked(pg_catalog.clock_timestamp());
	PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
END
$$;
COMMENT ON PROCEDURE pgtrade.run_due(timestamptz) IS
	'pg_cron''s entry point: runs every strategy due at now (default: the '
	'clock), committing after each so one strategy''s failure or slowness '
	'cannot undo another''s orders.';
