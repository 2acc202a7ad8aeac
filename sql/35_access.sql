/*
 * 35_access.sql: which accounts a role may see and trade.
 *
 * An analyst or trader sees and touches only the accounts granted to a
 * role they are a member of (account_grant, set with grant_account).
 * Members of pgtrade_admin, pgtrade_listener and pgtrade_scheduler, the
 * owner and superusers see every account: they run the whole book.
 *
 * The caller is the role a session set with SET ROLE, else its login
 * role: inside a SECURITY DEFINER function current_user is the owner,
 * so it cannot tell who asked.  Row-level security on the tables
 * (91_row_security.sql) filters what traders read directly; views
 * filter for readers, who see only views; the risk gate refuses an
 * order for an account the caller may not trade, and the functions
 * that act on an order or a strategy check its account.
 */
CREATE TABLE pgtrade.account_grant (
	role_name	name NOT NULL,
	account_id	text NOT NULL REFERENCES pgtrade.account ON DELETE CASCADE,
	granted_by	text NOT NULL DEFAULT session_user,
	granted_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (role_name, account_id)
);
COMMENT ON TABLE pgtrade.account_grant IS
	'Accounts a role (and its members) may see and trade; set with '
	'pgtrade.grant_account and pgtrade.revoke_account.';
SELECT pg_catalog.pg_extension_config_dump('pgtrade.account_grant', '');

/* a user kind's code, called as its role (acting_role.c) */
CREATE FUNCTION pgtrade.kind_validate_as(role name, fn regprocedure,
	params jsonb)
RETURNS integer
AS 'MODULE_PATHNAME', 'pgtrade_kind_call_as'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pgtrade.kind_validate_as(name, regprocedure, jsonb) IS
	'Internal: calls a strategy kind''s validator as the kind''s role.';
CREATE FUNCTION pgtrade.kind_evaluate_as(role name, fn regprocedure,
	params jsonb, ts timestamptz[], open float8[], high float8[],
	low float8[], close float8[], volume float8[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_kind_call_as'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pgtrade.kind_evaluate_as(name, regprocedure, jsonb,
	timestamptz[], float8[], float8[], float8[], float8[], float8[]) IS
	'Internal: calls a strategy kind''s evaluator as the kind''s role.';
CREATE FUNCTION pgtrade.kind_evaluate(fn regprocedure, params jsonb,
	ts timestamptz[], open float8[], high float8[], low float8[],
	close float8[], volume float8[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pgtrade_kind_call'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pgtrade.kind_evaluate(regprocedure, jsonb, timestamptz[],
	float8[], float8[], float8[], float8[], float8[]) IS
	'Internal: calls a built-in strategy kind''s evaluator directly.';
CREATE FUNCTION pgtrade.acting_role()
RETURNS name
AS 'MODULE_PATHNAME', 'pgtrade_acting_role'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pgtrade.acting_role() IS
	'The role whose strategy kind code is running, or NULL.';

CREATE FUNCTION pgtrade.caller_role()
RETURNS name
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(pgtrade.acting_role(),
					nullif(current_setting('role'), 'none')::name,
					session_user::name);
$$;
COMMENT ON FUNCTION pgtrade.caller_role() IS
	'The role a request comes from: while a user kind''s code runs, its '
	'role; else the one set with SET ROLE, else the login role '
	'(current_user is the owner inside SECURITY DEFINER functions).';

/*
 * sees_all_accounts: superusers, the owner of pgtrade's tables, and
 * members of the admin, listener and scheduler roles.
 */
CREATE FUNCTION pgtrade.sees_all_accounts(p_role name)
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_role oid := (SELECT r.oid FROM pg_catalog.pg_roles r
				   WHERE r.rolname = p_role);
BEGIN
	IF v_role IS NULL THEN
		RETURN false;
	END IF;
	RETURN (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = v_role)
		OR pg_has_role(v_role,
			(SELECT c.relowner FROM pg_catalog.pg_class c
			 WHERE c.oid = 'pgtrade.account'::regclass), 'MEMBER')
		OR pg_has_role(v_role, 'pgtrade_admin', 'MEMBER')
		OR pg_has_role(v_role, 'pgtrade_listener', 'MEMBER')
		OR pg_has_role(v_role, 'pgtrade_scheduler', 'MEMBER');
END
$$;
COMMENT ON FUNCTION pgtrade.sees_all_accounts(name) IS
	'True for roles that see every account: superusers, the owner, and '
	'members of pgtrade_admin, pgtrade_listener or pgtrade_scheduler.';

/*
 * visible_accounts lists the accounts a role may see, the caller by
 * default.  Row-level security and the views ask it for current_user:
 * there current_user is the role whose rights the query runs with,
 * which inside a user's SECURITY DEFINER function (a strategy kind's
 * evaluator) is that function's owner, not the session.
 */
CREATE FUNCTION pgtrade.visible_accounts(p_role name DEFAULT NULL)
RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_caller name := pgtrade.caller_role();
	v_for name := coalesce(p_role, v_caller);
	v_list text[];
BEGIN
	IF pgtrade.sees_all_accounts(v_for) THEN
		v_list := ARRAY(SELECT a.account_id FROM pgtrade.account a);
	ELSE
		v_list := ARRAY(
			SELECT DISTINCT g.account_id FROM pgtrade.account_grant g
			WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
						  WHERE r.rolname = g.role_name
							AND pg_has_role(v_for, r.oid, 'MEMBER')));
	END IF;
	/* asked for another role: no more than the caller may see either */
	IF v_for <> v_caller AND NOT pgtrade.sees_all_accounts(v_caller) THEN
		v_list := ARRAY(
			SELECT unnest(v_list)
			INTERSECT SELECT unnest(pgtrade.visible_accounts(v_caller)));
	END IF;
	RETURN v_list;
END
$$;
COMMENT ON FUNCTION pgtrade.visible_accounts(name) IS
	'The accounts a role (by default the caller) may see and trade.';

CREATE FUNCTION pgtrade.require_account(p_account text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_caller name := pgtrade.caller_role();
BEGIN
	IF p_account IS NULL OR pgtrade.sees_all_accounts(v_caller) THEN
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pgtrade.account_grant g
				   JOIN pg_catalog.pg_roles r ON r.rolname = g.role_name
				   WHERE g.account_id = p_account
					 AND pg_has_role(v_caller, r.oid, 'MEMBER')) THEN
		RAISE EXCEPTION 'role "%" may not trade or see account "%"',
			pgtrade.caller_role(), p_account
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'An admin grants it with pgtrade.grant_account().';
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.require_account(text) IS
	'Raises insufficient_privilege unless the caller may see the account.';

CREATE FUNCTION pgtrade.grant_account(role_name name, account_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
				   WHERE r.rolname = role_name) THEN
		RAISE EXCEPTION 'role "%" does not exist', role_name
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pgtrade.account a
				   WHERE a.account_id = grant_account.account_id) THEN
		RAISE EXCEPTION 'account "%" does not exist', account_id
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	INSERT INTO pgtrade.account_grant AS g (role_name, account_id, granted_by)
	VALUES (role_name, account_id, pgtrade.caller_role())
	ON CONFLICT ON CONSTRAINT account_grant_pkey DO NOTHING;
END
$$;
COMMENT ON FUNCTION pgtrade.grant_account(name, text) IS
	'Lets a role and its members see and trade an account.';

CREATE FUNCTION pgtrade.revoke_account(role_name name, account_id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	DELETE FROM pgtrade.account_grant g
	WHERE g.role_name = revoke_account.role_name
		AND g.account_id = revoke_account.account_id;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION pgtrade.revoke_account(name, text) IS
	'Takes an account from a role; returns false when it had no grant.';
