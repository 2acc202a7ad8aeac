/*
 * Plans of the listener's calls.
 *
 * The listener's calls find orders, fills and events by key, one order
 * at a time, from sessions that last for weeks.  PL/pgSQL keeps the plan
 * of each statement for the session; a plan made while a table was
 * nearly empty (a fresh install, the first orders after a purge) is a
 * sequential scan, and it stays one, slower with every order, until
 * autovacuum next analyzes the table: on a fresh database that cost a
 * claim 5 to 90 ms instead of well under one for the first minute of a
 * 200-orders-a-second stream.  With sequential scans disabled inside
 * these functions their statements use the indexes from the first
 * call; a statement that has no index to use still scans.
 *
 * Disabling only makes a scan look dear to the planner, dear enough to
 * pass jit_above_cost: JIT compilation, some 150 ms, is turned off with
 * it (these statements touch a few rows).  Planning each call afresh
 * (plan_cache_mode = force_custom_plan) would fix the plans as well, at
 * a cost measured at 0.3 ms of database time an order.  The settings
 * hold for the call and what it calls (triggers included), nothing
 * else.
 *
 * claim_orders also has sorting disabled.  It takes the oldest pending
 * orders of its accounts, a few at a time; read in order along
 * orders_pending, that stops after those few.  The planner preferred
 * orders_unsettled, whose account key looks selective, but which holds
 * every order of the account in flight as well: each claim then read
 * and sorted all of them, 4 ms a claim with 3,000 queued, and the
 * claims of a deep queue cost its square.
 */
ALTER FUNCTION pgtrade.claim_orders(bigint, text[], integer)
	SET enable_seqscan = off SET jit = off SET enable_sort = off;
ALTER FUNCTION pgtrade.claim_resend(bigint, bigint, integer)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_submission(bigint, text, text, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_submissions(bigint[], text[], text[], jsonb[])
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_rejection(bigint, text, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_status(bigint, text, numeric, numeric, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.release_unsent(bigint, bigint, text)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_declined(bigint, bigint, text, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_unknown(bigint, text)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_cancel_sent(bigint, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_fill(text, text, text, bigint, text, numeric,
	numeric, timestamptz, numeric, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_fills(text[], text[], text[], bigint[], text[],
	numeric[], numeric[], timestamptz[], numeric[], jsonb[])
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.record_conid(bigint, bigint, jsonb)
	SET enable_seqscan = off SET jit = off;
ALTER FUNCTION pgtrade.orders_in_flight(text[])
	SET enable_seqscan = off SET jit = off;
