/*
 * pgtrade--0.1.0--0.2.0.sql: from release 0.1.0 to 0.2.0.
 *
 * Every change to sql/ after 0.1.0 is made here too, so that
 * ALTER EXTENSION pgtrade UPDATE gives the catalog a fresh install of
 * 0.2.0 gives (tests/e2e/test_upgrade.py compares the two).
 */
\echo Use "ALTER EXTENSION pgtrade UPDATE TO '0.2.0'" to load this file. \quit

/* next_run_at moves by HOT updates: no index on it, room in each page */
DROP INDEX pgtrade.strategy_due;
ALTER TABLE pgtrade.strategy SET (fillfactor = 80);
