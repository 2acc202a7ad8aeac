/*
 * 93_append_only.sql: the audit trail cannot be rewritten.
 *
 * order_event, fill, commission, risk_limit_history and
 * position_adjustment are what an operator or an auditor reconstructs
 * the past from.  No role but the owner holds UPDATE, DELETE or TRUNCATE
 * on them, and triggers refuse all three to the owner and to pgtrade's
 * own functions as well, so that a defect cannot quietly rewrite history
 * either: fill and position_adjustment have their own row triggers
 * (60_fills.sql, 72_drift.sql), the others this one, and all five refuse
 * TRUNCATE here.  A superuser can still disable the triggers
 * (see the README's threat model); removing the extension drops the
 * tables without firing them.
 */
CREATE FUNCTION pgtrade.refuse_rewrite()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA,
		TG_TABLE_NAME, TG_OP
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  HINT = 'Its rows are the audit trail; record a correction as a new row.';
END
$$;
COMMENT ON FUNCTION pgtrade.refuse_rewrite() IS
	'Trigger that refuses UPDATE, DELETE and TRUNCATE on an append-only '
	'audit table.';

DO $append_only$
DECLARE
	v_table text;
BEGIN
	FOREACH v_table IN ARRAY ARRAY['order_event', 'fill', 'commission',
		'risk_limit_history', 'position_adjustment']
	LOOP
		IF v_table NOT IN ('fill', 'position_adjustment') THEN
			EXECUTE pg_catalog.format(
				'CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON pgtrade.%I '
				'FOR EACH ROW EXECUTE FUNCTION pgtrade.refuse_rewrite()', v_table);
		END IF;
		EXECUTE pg_catalog.format(
			'CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON pgtrade.%I '
			'FOR EACH STATEMENT EXECUTE FUNCTION pgtrade.refuse_rewrite()',
			v_table);
	END LOOP;
END
$append_only$;
REVOKE ALL ON FUNCTION pgtrade.refuse_rewrite() FROM PUBLIC;
