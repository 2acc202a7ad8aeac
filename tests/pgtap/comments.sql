-- comments.sql: every object the extension owns carries a COMMENT ON
-- text, which doc/reference.md is generated from.  One assertion per
-- class of object lists the ones without a comment, so the plan does not
-- change as objects come and go and a failure names each culprit.
\ir preamble.psql
SET search_path = public;
SELECT plan(15);

-- The library defines its server settings (if any) when it is loaded.
LOAD 'pgtrade';

-- uncommented(kinds): pg_describe_object of each extension member whose
-- class is one of kinds and that has no comment, sorted.  Kinds: the
-- relkind of a relation ('r', 'v', 'S', ...), the prokind of a routine
-- prefixed with 'proc:', or 'type'.  A sequence that belongs to an
-- identity or serial column is its column's business and is left out.
CREATE FUNCTION pg_temp.uncommented(kinds text[]) RETURNS text[]
LANGUAGE sql STABLE AS $$
	SELECT coalesce(array_agg(pg_describe_object(d.classid, d.objid, 0)
							  ORDER BY 1), '{}')
	FROM pg_depend d
	LEFT JOIN pg_class c
		ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
	LEFT JOIN pg_proc p
		ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgtrade')
	  AND coalesce(obj_description(d.objid, d.classid::regclass::name), '')
		  = ''
	  AND (c.relkind::text = ANY (kinds)
		   OR 'proc:' || p.prokind::text = ANY (kinds)
		   OR (d.classid = 'pg_type'::regclass AND 'type' = ANY (kinds)))
	  AND NOT EXISTS (SELECT 1 FROM pg_depend o
					  WHERE c.relkind = 'S'
						AND o.classid = 'pg_class'::regclass
						AND o.objid = c.oid AND o.deptype IN ('a', 'i')
						AND o.refclassid = 'pg_class'::regclass)
$$;

-- members(kinds): how many extension members the same kinds cover.
CREATE FUNCTION pg_temp.members(kinds text[]) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT count(*)
	FROM pg_depend d
	LEFT JOIN pg_class c
		ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
	LEFT JOIN pg_proc p
		ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgtrade')
	  AND (c.relkind::text = ANY (kinds)
		   OR 'proc:' || p.prokind::text = ANY (kinds)
		   OR (d.classid = 'pg_type'::regclass AND 'type' = ANY (kinds)))
$$;

SELECT is(pg_temp.uncommented('{r,p}'), '{}', 'every table has a comment');
SELECT is(pg_temp.uncommented('{v,m}'), '{}', 'every view has a comment');
SELECT is(pg_temp.uncommented('{S}'), '{}',
	'every sequence of its own has a comment');
SELECT is(pg_temp.uncommented('{proc:f,proc:w}'), '{}',
	'every function has a comment');
SELECT is(pg_temp.uncommented('{proc:p}'), '{}',
	'every procedure has a comment');
SELECT is(pg_temp.uncommented('{proc:a}'), '{}',
	'every aggregate has a comment');
SELECT is(pg_temp.uncommented('{type}'), '{}', 'every type has a comment');

SELECT is(
	(SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM pg_settings
	 WHERE name LIKE 'pgtrade.%' AND coalesce(short_desc, '') = ''),
	'{}', 'every pgtrade.* server setting has a description');

-- The user's window on the data: each column of each view says what it
-- holds (the tables' columns are commented where not obvious).
SELECT is(
	(SELECT coalesce(array_agg(c.relname || '.' || a.attname
							   ORDER BY c.relname, a.attnum), '{}')
	 FROM pg_depend d
	 JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
	 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgtrade')
	   AND c.relkind = 'v' AND NOT a.attisdropped
	   AND coalesce(col_description(c.oid, a.attnum), '') = ''),
	'{}', 'every column of every view has a comment');

-- The assertions above look at real objects: each class is populated ...
SELECT cmp_ok(pg_temp.members('{r,p}'), '>', 0::bigint,
	'the extension owns tables');
SELECT cmp_ok(pg_temp.members('{v,m}'), '>', 0::bigint,
	'the extension owns views');
SELECT cmp_ok(pg_temp.members('{proc:f,proc:w}'), '>', 0::bigint,
	'the extension owns functions');

-- ... and a comment taken away, or left empty, is reported by name.
COMMENT ON TABLE pgtrade.installation IS NULL;
COMMENT ON FUNCTION pgtrade.caller_role() IS '';
SELECT ok(pg_temp.uncommented('{r,p}') @> '{"table pgtrade.installation"}',
	'a table without a comment is named');
SELECT ok(pg_temp.uncommented('{proc:f,proc:w}')
		  @> '{"function pgtrade.caller_role()"}',
	'a function whose comment is emptied is named');
SELECT ok(NOT pg_temp.uncommented('{v,m,proc:a,proc:p,type}')
		  && '{"table pgtrade.installation","function pgtrade.caller_role()"}',
	'a missing comment is reported in its own class only');

SELECT * FROM finish();
ROLLBACK;
