/*
 * 50_orders.sql: the risk gate, the order state machine and the order API.
 *
 * Every order row enters through the BEFORE INSERT trigger, which runs
 * the risk gate under a per-account row lock (an UPDATE of the account
 * row, so concurrent inserts for one account queue behind each other and,
 * under REPEATABLE READ or SERIALIZABLE, fail rather than both pass a
 * limit).  The gate decides the status (pending or refused): whatever the
 * inserting role wrote into status, broker or fill columns is overwritten.
 * Only the functions below move an order afterwards; the BEFORE UPDATE
 * trigger refuses any move outside the state machine and the AFTER UPDATE
 * trigger writes an order_event for every status change.
 */

/*
 * Allowed status moves.  DESIGN's table plus two moves the broker can
 * force: submitting -> cancelled (an IOC order that does not fill is
 * acknowledged as Cancelled) and the moves out of unknown, which an
 * operator or a later reconciliation makes once the truth is known.
 */
CREATE TABLE pgtrade.order_transition (
	from_status	text NOT NULL,
	to_status	text NOT NULL,
	PRIMARY KEY (from_status, to_status)
);
INSERT INTO pgtrade.order_transition VALUES
	('pending', 'submitting'), ('pending', 'cancelled'),
	('pending', 'expired'),
	('submitting', 'working'), ('submitting', 'filled'),
	('submitting', 'rejected'), ('submitting', 'unknown'),
	('submitting', 'cancelled'),
	('working', 'filled'), ('working', 'cancelled'),
	('working', 'rejected'), ('working', 'cancel_requested'),
	('cancel_requested', 'cancelled'), ('cancel_requested', 'filled'),
	('cancel_requested', 'working'),
	('unknown', 'working'), ('unknown', 'filled'),
	('unknown', 'cancelled'), ('unknown', 'rejected');
COMMENT ON TABLE pgtrade.order_transition IS
	'The order state machine: every allowed status move.  Read-only.';

CREATE FUNCTION pgtrade.order_is_open(status text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT $1 IN ('pending', 'submitting', 'working', 'cancel_requested',
				  'unknown');
$$;
COMMENT ON FUNCTION pgtrade.order_is_open(text) IS
	'True for statuses whose remaining quantity may still trade (unknown '
	'counts: fail closed).';

/*
 * open_side_quantities returns, apart, the buys and the sells (both
 * positive) of an account's orders in an instrument that may still move
 * its position: the unfilled rest of open orders, and what the broker
 * reported filled but pgtrade has not recorded as fills yet.  The gate
 * needs the sides apart: opposite open orders must not make room for
 * each other, since either side may fill while the other is cancelled.
 * While a modification is open an order counts with the larger of its
 * old and new quantity (either may be in force at the broker); the
 * members of an OCA group count once, with the largest of them, since
 * the broker cancels the others when one fills.
 *
 * The gate calls it on every order, so its plan is kept (PL/pgSQL) and
 * bitmap scans are off: the scan reads orders_unsettled, which also
 * holds the entries of orders that have since settled, until vacuum.  A
 * plain index scan marks those dead as it passes them and skips them
 * from then on; a bitmap scan never does, and on a stream of orders that
 * settle at once each gate read every order of the account since the
 * last vacuum, 1.6 ms at 4,000 orders and growing.
 */
/*
 * open_order_rests lists those orders, one row each, with what each may
 * still add (q) and its OCA group (grp, the order itself when it has
 * none).  SQL without a SET clause, so that a caller's query takes it in
 * (inlined): the scheduler nets hundreds of strategies in one statement
 * with it.  The WHERE clause is orders_unsettled's predicate, so that
 * the index serves it.
 */
CREATE FUNCTION pgtrade.open_order_rests(p_account text, p_instrument bigint,
	p_except bigint)
RETURNS TABLE (side text, grp text, q numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT o.side, coalesce(o.oca_group, o.order_id::text),
	   CASE WHEN o.status IN ('pending', 'submitting', 'working',
							  'cancel_requested', 'unknown', 'filled')
			THEN greatest(greatest(o.quantity, coalesce(m.quantity, 0))
						  - o.filled_quantity, 0)
			ELSE greatest(o.broker_filled_quantity - o.filled_quantity, 0)
			END
FROM pgtrade.orders o
LEFT JOIN pgtrade.order_modification m
	ON m.order_id = o.order_id AND m.status IN ('requested', 'sent')
WHERE o.account_id = p_account AND o.instrument_id = p_instrument
	AND (o.status IN ('pending', 'submitting', 'working', 'cancel_requested',
					  'unknown')
		 OR (o.status = 'filled' AND o.filled_quantity < o.quantity)
		 OR (o.status IN ('cancelled', 'rejected')
			 AND o.broker_filled_quantity > o.filled_quantity))
	AND o.order_id IS DISTINCT FROM p_except
$$;
REVOKE ALL ON FUNCTION pgtrade.open_order_rests(text, bigint, bigint)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.open_order_rests(text, bigint, bigint) IS
	'Internal: the orders of an account in an instrument that may still '
	'move its position, with what each may add.';

CREATE FUNCTION pgtrade.open_side_quantities(account_id text,
	instrument_id bigint, except_order bigint DEFAULT NULL,
	OUT buys numeric, OUT sells numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
	SELECT coalesce(sum(g.q) FILTER (WHERE g.side = 'buy'), 0),
		   coalesce(sum(g.q) FILTER (WHERE g.side = 'sell'), 0)
	INTO buys, sells
	FROM (SELECT x.side, max(x.q) AS q
		  FROM pgtrade.open_order_rests(open_side_quantities.account_id,
				open_side_quantities.instrument_id,
				open_side_quantities.except_order) x
		  GROUP BY x.side, x.grp) g;
END
$$;
COMMENT ON FUNCTION pgtrade.open_side_quantities(text, bigint, bigint) IS
	'Open buys and open sells (both positive) of an account in an '
	'instrument, counted apart for the risk gate.';

/*
 * bracket_exit_offsets returns, per side, what of open_side_quantities
 * the gate does not count against a position: a bracket's exits work
 * only once their entry has filled (a cancelled entry takes them with
 * it), so of what their group may add, the part their open entry has
 * yet to fill only closes the entry again.  Strategies net their
 * decisions against open orders without it.  SQL without a SET clause,
 * so that the gate's query takes it in: it costs the gate an index probe
 * rather than a call.  One row.
 */
CREATE FUNCTION pgtrade.bracket_exit_offsets(p_account text,
	p_instrument bigint, p_except bigint DEFAULT NULL)
RETURNS TABLE (buys numeric, sells numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(sum(least(g.q, g.par)) FILTER (WHERE g.side = 'buy'), 0),
	   coalesce(sum(least(g.q, g.par)) FILTER (WHERE g.side = 'sell'), 0)
FROM (SELECT c.side, max(greatest(greatest(c.quantity,
				 coalesce(m.quantity, 0)) - c.filled_quantity, 0)) AS q,
			 max(greatest(p.quantity - p.filled_quantity, 0)) AS par
	  FROM pgtrade.orders c
	  JOIN pgtrade.orders p ON p.order_id = c.parent_order_id
	  LEFT JOIN pgtrade.order_modification m
		  ON m.order_id = c.order_id AND m.status IN ('requested', 'sent')
	  WHERE c.account_id = p_account AND c.instrument_id = p_instrument
		  AND c.status IN ('pending', 'submitting', 'working',
						   'cancel_requested', 'unknown')
		  AND c.parent_order_id IS NOT NULL
		  AND c.order_id IS DISTINCT FROM p_except
		  AND p.side <> c.side
		  AND p.status IN ('pending', 'submitting', 'working',
						   'cancel_requested', 'unknown')
	  GROUP BY c.side, c.oca_group) g
$$;
REVOKE ALL ON FUNCTION pgtrade.bracket_exit_offsets(text, bigint, bigint)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.bracket_exit_offsets(text, bigint, bigint) IS
	'Internal to the risk gate: per side, the part of open bracket exits '
	'that only closes what their open entry has yet to fill.';

/*
 * open_quantity returns the net of open_side_quantities (buys positive).
 * Counting fills the broker reported but pgtrade has not recorded (an
 * order acknowledged as Filled before its executions arrive) is what
 * keeps a strategy from buying again while its last buy is between the
 * broker's acknowledgement and the trades list.
 */
CREATE FUNCTION pgtrade.open_quantity(account_id text, instrument_id bigint,
	except_order bigint DEFAULT NULL)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_q record;
BEGIN
	/* PL/pgSQL, as position_quantity: every run and order calls it */
	v_q := pgtrade.open_side_quantities($1, $2, $3);
	RETURN v_q.buys - v_q.sells;
END
$$;
COMMENT ON FUNCTION pgtrade.open_quantity(text, bigint, bigint) IS
	'Signed quantity (buys positive) of an account''s orders in an '
	'instrument that may still move its position: open orders'' unfilled '
	'rest plus broker-reported fills not yet recorded.';

CREATE FUNCTION pgtrade.position_quantity(account_id text, instrument_id bigint)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	/* PL/pgSQL: the gate calls it on every order and its plan is kept */
	RETURN coalesce((SELECT p.quantity FROM pgtrade.position p
					 WHERE p.account_id = $1 AND p.instrument_id = $2), 0);
END
$$;
COMMENT ON FUNCTION pgtrade.position_quantity(text, bigint) IS
	'Current position of an account in an instrument (0 when none).';

/*
 * account_today returns the account's trading date now, in its
 * time_zone; account_day_start the instant that date began.
 */
CREATE FUNCTION pgtrade.account_today(account_id text)
RETURNS date
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT (now() AT TIME ZONE a.time_zone)::date
			FROM pgtrade.account a WHERE a.account_id = $1);
END
$$;
COMMENT ON FUNCTION pgtrade.account_today(text) IS
	'The account''s trading date now, in account.time_zone.';

CREATE FUNCTION pgtrade.account_day_start(account_id text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT (now() AT TIME ZONE a.time_zone)::date::timestamp
				   AT TIME ZONE a.time_zone
			FROM pgtrade.account a WHERE a.account_id = $1);
END
$$;
COMMENT ON FUNCTION pgtrade.account_day_start(text) IS
	'When the account''s current trading day began (local midnight in '
	'account.time_zone).';

/*
 * latest_close is the close of an instrument's most recent bar, of any
 * size (the shorter size wins a tie), as numeric; NULL without bars.
 * One index probe per bar size, so a long history costs nothing.
 */
CREATE FUNCTION pgtrade.latest_close(instrument_id bigint)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		WITH RECURSIVE sizes(bar_size) AS (
			SELECT min(b.bar_size) FROM pgtrade.bar b
			WHERE b.instrument_id = $1
			UNION ALL
			SELECT (SELECT min(b.bar_size) FROM pgtrade.bar b
					WHERE b.instrument_id = $1 AND b.bar_size > s.bar_size)
			FROM sizes s WHERE s.bar_size IS NOT NULL)
		SELECT l.close::numeric
		FROM sizes s
		CROSS JOIN LATERAL (
			SELECT b.ts, b.close FROM pgtrade.bar b
			WHERE b.instrument_id = $1 AND b.bar_size = s.bar_size
			ORDER BY b.ts DESC LIMIT 1) l
		WHERE s.bar_size IS NOT NULL
		ORDER BY l.ts DESC, s.bar_size
		LIMIT 1);
END
$$;
COMMENT ON FUNCTION pgtrade.latest_close(bigint) IS
	'Close of the instrument''s most recent bar of any size, or NULL.';

/*
 * account_day_pnl is an account's P&L for its current trading day, in
 * one instrument or all: realized is what closing trades realized since
 * the day began (position.day_start_realized); unrealized is each open
 * position marked at its instrument's latest close against its average
 * cost, so a loss carried from earlier days counts in full.  unmarked
 * names the instruments with a position but no bar to mark it at.
 */
CREATE FUNCTION pgtrade.account_day_pnl(account_id text,
	instrument_id bigint DEFAULT NULL, OUT realized numeric,
	OUT unrealized numeric, OUT unmarked text[])
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_today date := pgtrade.account_today(account_day_pnl.account_id);
	v_p record;
	v_mark numeric;
BEGIN
	/* an account the caller may not see would read as flat: refused */
	PERFORM pgtrade.require_account(account_day_pnl.account_id);
	realized := 0;
	unrealized := 0;
	unmarked := '{}';
	FOR v_p IN
		SELECT p.instrument_id, p.quantity, p.avg_cost, p.realized_pnl,
			   p.day, p.day_start_realized, i.symbol
		FROM pgtrade.position p
		JOIN pgtrade.instrument i ON i.instrument_id = p.instrument_id
		WHERE p.account_id = account_day_pnl.account_id
			AND (account_day_pnl.instrument_id IS NULL
				 OR p.instrument_id = account_day_pnl.instrument_id)
	LOOP
		IF v_p.day = v_today THEN
			realized := realized + v_p.realized_pnl - v_p.day_start_realized;
		END IF;
		IF v_p.quantity <> 0 THEN
			v_mark := pgtrade.latest_close(v_p.instrument_id);
			IF v_mark IS NULL OR v_p.avg_cost IS NULL THEN
				unmarked := unmarked || v_p.symbol;
			ELSE
				unrealized := unrealized + v_p.quantity * (v_mark - v_p.avg_cost);
			END IF;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrade.account_day_pnl(text, bigint) IS
	'P&L of the account''s current trading day (all instruments, or one): '
	'realized since the day began, unrealized at the latest bar close '
	'against average cost, and the instruments that could not be marked.';

/*
 * open_order_count counts an account's open orders (of one strategy,
 * when given), leaving out one order.  Plain index scans, for the reason
 * open_side_quantities gives.
 */
CREATE FUNCTION pgtrade.open_order_count(account_id text, strategy_id bigint,
	except_order bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET enable_bitmapscan = off
AS $$
BEGIN
	RETURN (SELECT count(*) FROM pgtrade.orders o
			WHERE o.account_id = $1
				AND o.status IN ('pending', 'submitting', 'working',
								 'cancel_requested', 'unknown')
				AND ($2 IS NULL OR o.strategy_id = $2)
				AND o.order_id IS DISTINCT FROM $3);
END
$$;
COMMENT ON FUNCTION pgtrade.open_order_count(text, bigint, bigint) IS
	'Open orders of an account (or of one of its strategies), leaving one '
	'order out.';

/*
 * day_order_count counts the orders of an account (of one strategy, when
 * given) that the gate accepted since its trading day began.
 */
CREATE FUNCTION pgtrade.day_order_count(account_id text, strategy_id bigint,
	except_order bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (SELECT count(*) FROM pgtrade.orders o
			WHERE o.account_id = $1
				AND o.created_at >= pgtrade.account_day_start($1)
				AND o.status <> 'refused'
				AND ($2 IS NULL OR o.strategy_id = $2)
				AND o.order_id IS DISTINCT FROM $3);
END
$$;
COMMENT ON FUNCTION pgtrade.day_order_count(text, bigint, bigint) IS
	'Orders of an account (or of one of its strategies) accepted by the '
	'gate since its trading day began, leaving one order out.';

/*
 * sec_type_refusal is why an instrument's live orders may not go out, or
 * NULL: pgtrade-listener sends every order as a stock's and looks
 * contracts up as stocks, so an order for any other kind of instrument
 * would reach the broker as something else.  The gate and the claim
 * say it alike.
 */
CREATE FUNCTION pgtrade.sec_type_refusal(p_instrument bigint,
	p_sec_type text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CASE WHEN p_sec_type IS DISTINCT FROM 'STK'
		THEN pg_catalog.format('instrument %s has sec_type %s: '
			'pgtrade-listener sends stock (STK) orders only', p_instrument,
			coalesce(p_sec_type, 'NULL')) END;
$$;
REVOKE ALL ON FUNCTION pgtrade.sec_type_refusal(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.sec_type_refusal(bigint, text) IS
	'Internal: why orders of an instrument that is not a stock may not be '
	'sent, or NULL for a stock.';

/*
 * risk_check evaluates every limit covering an order and returns the
 * verdict as jsonb: {"passed": bool, "reason": text, "checks": [...],
 * "asked_by": role, "at": time}.  The caller must hold the account's
 * gate lock.  p_modify: the order exists and is being modified, so the
 * counts of open orders and of the day's orders, which it is already
 * in, are not checked.
 *
 * Position limits look at each side's worst case: a buy is checked
 * against position + open buys + the buy, a sell against position - open
 * sells - the sell, so opposite open orders never make room for each
 * other.  An order passes when its side's worst case stays within the
 * limit, or when it moves that worst case toward zero without crossing
 * it (an order that reduces exposure always passes a position, position
 * value, daily loss or short-selling limit).  The gate fails closed: an
 * order no max_position limit covers is refused, and so is an order a
 * value or price limit covers when there is no price to check it with.
 * Values are numeric throughout; a bar's close enters as numeric.
 *
 * p_state, when given, is a simulated account for backtests: the checks
 * are the same, but what they read from the tables (position, open
 * orders, the latest close, the day's orders and P&L) comes from its
 * keys instead: position, open_buys, open_sells, mark, open_orders (the
 * open orders besides this one), orders_today (accepted today besides
 * this one), day_realized, day_unrealized, and at (the simulated time).
 * A kill switch is an operator's act on live trading, not a limit of the
 * strategy, so it is not applied to a simulation (the check says so).
 */
CREATE FUNCTION pgtrade.risk_check(p_order pgtrade.orders, p_halted boolean,
	p_halt_reason text, p_modify boolean DEFAULT false,
	p_state jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_checks jsonb := '[]';
	v_reason text;
	v_lim record;
	v_pos numeric;
	v_open record;
	v_worst numeric;
	v_before numeric;
	v_reduces boolean;
	v_add numeric;
	v_grp numeric;
	v_par numeric;
	v_has_position_limit boolean := false;
	v_symbol text;
	v_mark numeric;
	v_mark_known boolean := false;
	v_price numeric;
	v_value numeric;
	v_count bigint;
	v_pnl record;
	v_loss numeric;
	v_passed boolean;
	v_kind text;
	v_collar_price numeric;
	v_dev numeric;
	v_sec_type text;
BEGIN
	v_checks := v_checks || jsonb_build_object('check', 'account_halted',
		'passed', NOT p_halted, 'detail', p_halt_reason);
	IF p_halted THEN
		v_reason := format('account %s is halted: %s', p_order.account_id,
						   coalesce(p_halt_reason, 'no reason given'));
	END IF;
	/* only stocks go out (sec_type_refusal); a simulation sends nothing */
	IF p_state IS NULL THEN
		SELECT i.sec_type INTO v_sec_type FROM pgtrade.instrument i
		WHERE i.instrument_id = p_order.instrument_id;
		v_checks := v_checks || jsonb_build_object('check', 'sec_type',
			'passed', v_sec_type IS NOT DISTINCT FROM 'STK',
			'detail', v_sec_type);
		v_reason := coalesce(v_reason, pgtrade.sec_type_refusal(
			p_order.instrument_id, v_sec_type));
	END IF;

	IF p_state IS NULL THEN
		v_pos := pgtrade.position_quantity(p_order.account_id,
			p_order.instrument_id);
		SELECT q.buys - x.buys AS buys, q.sells - x.sells AS sells
		INTO v_open
		FROM pgtrade.open_side_quantities(p_order.account_id,
				p_order.instrument_id, p_order.order_id) q,
			pgtrade.bracket_exit_offsets(p_order.account_id,
				p_order.instrument_id, p_order.order_id) x;
	ELSE
		v_pos := coalesce((p_state ->> 'position')::numeric, 0);
		SELECT coalesce((p_state ->> 'open_buys')::numeric, 0) AS buys,
			   coalesce((p_state ->> 'open_sells')::numeric, 0) AS sells
		INTO v_open;
	END IF;
	/*
	 * What this order adds to its side: its unfilled rest (all of it for
	 * a new order; a modification's new quantity less its fills), and in
	 * an OCA group only what exceeds the group's other members.
	 */
	v_add := p_order.quantity - coalesce(p_order.filled_quantity, 0);
	IF p_order.oca_group IS NOT NULL THEN
		v_grp := pgtrade.oca_open_quantity(p_order.oca_group, p_order.side,
			p_order.order_id);
		/*
		 * A bracket's exits work only once their entry has filled (a
		 * cancelled entry takes them with it): what the entry has yet to
		 * fill they only close again, as open_side_quantities counts
		 */
		v_par := CASE WHEN p_state IS NULL
						   AND p_order.parent_order_id IS NOT NULL THEN
			coalesce((SELECT greatest(o.quantity - o.filled_quantity, 0)
					  FROM pgtrade.orders o
					  WHERE o.order_id = p_order.parent_order_id
						  AND o.side <> p_order.side
						  AND pgtrade.order_is_open(o.status)), 0)
			ELSE 0 END;
		v_add := greatest(greatest(v_add, v_grp) - v_par, 0)
			- greatest(v_grp - v_par, 0);
	END IF;
	/* the worst case of this order's side, as a long (+) or short (-) */
	v_before := CASE p_order.side
		WHEN 'buy' THEN v_pos + v_open.buys
		ELSE v_pos - v_open.sells END;
	v_worst := CASE p_order.side
		WHEN 'buy' THEN v_before + v_add
		ELSE v_before - v_add END;
	/*
	 * Not worsening: the side's worst case moves toward zero without
	 * crossing it, as a sell of 30 from a long of 100 does.  Such an order passes
	 * a position limit it cannot bring the position under, or a position
	 * already over a lowered limit could never be closed.
	 */
	v_reduces := abs(v_worst) <= abs(v_before)
		AND (v_worst = 0 OR sign(v_worst) = sign(v_before));

	FOR v_lim IN
		SELECT * FROM pgtrade.risk_limit l
		WHERE (l.account_id IS NULL OR l.account_id = p_order.account_id)
			AND (l.strategy_id IS NULL
				 OR l.strategy_id IS NOT DISTINCT FROM p_order.strategy_id)
		ORDER BY l.account_id NULLS FIRST, l.strategy_id NULLS FIRST
	LOOP
		/* the latest close, read once and only when a limit needs it */
		IF NOT v_mark_known AND (v_lim.max_order_notional IS NOT NULL
				OR v_lim.max_position_notional IS NOT NULL
				OR v_lim.price_collar_pct IS NOT NULL) THEN
			v_mark := CASE WHEN p_state IS NULL
				THEN pgtrade.latest_close(p_order.instrument_id)
				ELSE (p_state ->> 'mark')::numeric END;
			v_mark_known := true;
			SELECT i.symbol INTO v_symbol FROM pgtrade.instrument i
			WHERE i.instrument_id = p_order.instrument_id;
		END IF;
		IF v_lim.kill_switch AND p_state IS NOT NULL THEN
			v_checks := v_checks || jsonb_build_object('check', 'kill_switch',
				'passed', true, 'limit_id', v_lim.limit_id,
				'note', 'not applied to a simulation');
		ELSIF v_lim.kill_switch THEN
			v_checks := v_checks || jsonb_build_object('check', 'kill_switch',
				'passed', false, 'limit_id', v_lim.limit_id,
				'note', v_lim.note);
			v_reason := coalesce(v_reason, format(
				'kill switch is on for %s%s', coalesce('account ' ||
				v_lim.account_id, 'all accounts'),
				coalesce(' strategy ' || v_lim.strategy_id, '')));
		END IF;
		IF v_lim.max_order_quantity IS NOT NULL THEN
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_order_quantity', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_order_quantity,
				'quantity', p_order.quantity,
				'passed', p_order.quantity <= v_lim.max_order_quantity);
			IF p_order.quantity > v_lim.max_order_quantity THEN
				v_reason := coalesce(v_reason, format(
					'order quantity %s exceeds the limit of %s',
					p_order.quantity, v_lim.max_order_quantity));
			END IF;
		END IF;
		IF v_lim.max_order_notional IS NOT NULL THEN
			/*
			 * At its own price, but never below the latest close: a sell
			 * limit far under the market trades at the market.
			 */
			v_price := greatest(CASE p_order.order_type
				WHEN 'market' THEN NULL
				WHEN 'stop' THEN p_order.stop_price
				ELSE p_order.limit_price END, v_mark);
			v_value := p_order.quantity * v_price;
			v_passed := v_value IS NOT NULL
				AND v_value <= v_lim.max_order_notional;
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_order_notional', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_order_notional, 'quantity', p_order.quantity,
				'price', v_price, 'notional', v_value, 'passed', v_passed);
			IF v_price IS NULL THEN
				v_reason := coalesce(v_reason, format(
					'no price to value a market order in %s: it has no bars',
					v_symbol));
			ELSIF NOT v_passed THEN
				v_reason := coalesce(v_reason, format(
					'order value %s (%s at %s) exceeds the limit of %s',
					v_value, p_order.quantity, v_price,
					v_lim.max_order_notional));
			END IF;
		END IF;
		IF v_lim.max_position IS NOT NULL THEN
			v_has_position_limit := true;
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_position', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_position, 'position', v_pos,
				'open_buys', v_open.buys, 'open_sells', v_open.sells,
				'projected', v_worst, 'reduces', v_reduces,
				'passed', abs(v_worst) <= v_lim.max_position
						  OR v_reduces);
			IF abs(v_worst) > v_lim.max_position AND NOT v_reduces THEN
				v_reason := coalesce(v_reason, format(
					'projected position %s (position %s, open buys %s, '
					'open sells %s, this %s %s) exceeds the limit of %s',
					v_worst, v_pos, v_open.buys, v_open.sells, p_order.side,
					p_order.quantity, v_lim.max_position));
			END IF;
		END IF;
		IF v_lim.max_position_notional IS NOT NULL THEN
			/* marked at the latest close, else at the order's own price */
			v_price := coalesce(v_mark, CASE p_order.order_type
				WHEN 'stop' THEN p_order.stop_price
				ELSE p_order.limit_price END);
			v_value := abs(v_worst) * v_price;
			v_passed := v_reduces OR (v_value IS NOT NULL
				AND v_value <= v_lim.max_position_notional);
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_position_notional', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_position_notional, 'projected', v_worst,
				'price', v_price, 'notional', v_value, 'reduces', v_reduces,
				'passed', v_passed);
			IF NOT v_passed AND v_price IS NULL THEN
				v_reason := coalesce(v_reason, format(
					'no price to value the position in %s: it has no bars',
					v_symbol));
			ELSIF NOT v_passed THEN
				v_reason := coalesce(v_reason, format(
					'projected position value %s (%s at %s) '
					'exceeds the limit of %s',
					v_value, v_worst, v_price, v_lim.max_position_notional));
			END IF;
		END IF;
		IF v_lim.max_open_orders IS NOT NULL AND NOT p_modify THEN
			v_count := CASE WHEN p_state IS NULL
				THEN pgtrade.open_order_count(p_order.account_id,
					v_lim.strategy_id, p_order.order_id)
				ELSE coalesce((p_state ->> 'open_orders')::bigint, 0) END + 1;
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_open_orders', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_open_orders, 'open_orders', v_count,
				'passed', v_count <= v_lim.max_open_orders);
			IF v_count > v_lim.max_open_orders THEN
				v_reason := coalesce(v_reason, format(
					'%s open orders with this one exceed the limit of %s',
					v_count, v_lim.max_open_orders));
			END IF;
		END IF;
		IF v_lim.max_orders_per_day IS NOT NULL AND NOT p_modify THEN
			v_count := CASE WHEN p_state IS NULL
				THEN pgtrade.day_order_count(p_order.account_id,
					v_lim.strategy_id, p_order.order_id)
				ELSE coalesce((p_state ->> 'orders_today')::bigint, 0) END + 1;
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_orders_per_day', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_orders_per_day, 'orders_today', v_count,
				'passed', v_count <= v_lim.max_orders_per_day);
			IF v_count > v_lim.max_orders_per_day THEN
				v_reason := coalesce(v_reason, format(
					'%s orders today with this one exceed '
					'the limit of %s a day',
					v_count, v_lim.max_orders_per_day));
			END IF;
		END IF;
		IF v_lim.max_daily_loss IS NOT NULL THEN
			/* a strategy's scope is its instrument's position */
			IF p_state IS NULL THEN
				SELECT * INTO v_pnl FROM pgtrade.account_day_pnl(
					p_order.account_id,
					CASE WHEN v_lim.strategy_id IS NOT NULL
						 THEN p_order.instrument_id END);
			ELSE
				SELECT coalesce((p_state ->> 'day_realized')::numeric, 0)
						   AS realized,
					   coalesce((p_state ->> 'day_unrealized')::numeric, 0)
						   AS unrealized,
					   '{}'::text[] AS unmarked
				INTO v_pnl;
			END IF;
			v_pnl.realized := trim_scale(v_pnl.realized);
			v_pnl.unrealized := trim_scale(v_pnl.unrealized);
			v_loss := trim_scale(-(v_pnl.realized + v_pnl.unrealized));
			/* reached: a loss at the limit stops new risk; no loss never does */
			v_passed := v_reduces OR (cardinality(v_pnl.unmarked) = 0
				AND (v_loss <= 0 OR v_loss < v_lim.max_daily_loss));
			v_checks := v_checks || jsonb_build_object(
				'check', 'max_daily_loss', 'limit_id', v_lim.limit_id,
				'limit', v_lim.max_daily_loss, 'realized', v_pnl.realized,
				'unrealized', v_pnl.unrealized, 'loss', v_loss,
				'unmarked', to_jsonb(v_pnl.unmarked), 'reduces', v_reduces,
				'passed', v_passed);
			IF NOT v_passed AND cardinality(v_pnl.unmarked) > 0 THEN
				v_reason := coalesce(v_reason, format(
					'the day''s loss cannot be known: no bar to '
					'mark the position in %s',
					array_to_string(v_pnl.unmarked, ', ')));
			ELSIF NOT v_passed THEN
				v_reason := coalesce(v_reason, format(
					'the day''s loss %s (realized %s, unrealized %s) has '
					'reached the limit of %s; only orders that reduce '
					'exposure pass',
					v_loss, v_pnl.realized, v_pnl.unrealized,
					v_lim.max_daily_loss));
			END IF;
		END IF;
		IF v_lim.price_collar_pct IS NOT NULL THEN
			FOREACH v_kind IN ARRAY ARRAY['limit', 'stop'] LOOP
				v_collar_price := CASE v_kind
					WHEN 'limit' THEN p_order.limit_price
					ELSE p_order.stop_price END;
				CONTINUE WHEN v_collar_price IS NULL;
				v_dev := round(abs(v_collar_price - v_mark) / v_mark * 100, 4);
				v_passed := v_dev IS NOT NULL AND v_dev <= v_lim.price_collar_pct;
				v_checks := v_checks || jsonb_build_object(
					'check', 'price_collar', 'limit_id', v_lim.limit_id,
					'price_kind', v_kind, 'price', v_collar_price,
					'reference', v_mark, 'deviation_pct', v_dev,
					'limit', v_lim.price_collar_pct, 'passed', v_passed);
				IF v_mark IS NULL THEN
					v_reason := coalesce(v_reason, format(
						'no bar in %s to check the %s price against',
						v_symbol, v_kind));
				ELSIF NOT v_passed THEN
					v_reason := coalesce(v_reason, format(
						'%s price %s is %s%% from the latest close '
						'%s, beyond the collar of %s%%',
						v_kind, v_collar_price, v_dev, v_mark,
						v_lim.price_collar_pct));
				END IF;
			END LOOP;
		END IF;
		IF v_lim.allow_short IS NOT NULL AND NOT v_lim.allow_short THEN
			v_passed := v_worst >= 0 OR v_reduces;
			v_checks := v_checks || jsonb_build_object(
				'check', 'allow_short', 'limit_id', v_lim.limit_id,
				'projected', v_worst, 'reduces', v_reduces,
				'passed', v_passed);
			IF NOT v_passed THEN
				v_reason := coalesce(v_reason, format(
					'short selling is not allowed for %s: the '
					'projected position would be %s',
					coalesce('account ' || v_lim.account_id, 'any account'),
					v_worst));
			END IF;
		END IF;
	END LOOP;

	v_checks := v_checks || jsonb_build_object('check', 'position_limit_set',
		'passed', v_has_position_limit);
	IF NOT v_has_position_limit THEN
		v_reason := coalesce(v_reason, format(
			'no max_position limit covers account %s; set one with '
			'pgtrade.set_risk_limit()',
			p_order.account_id));
	END IF;

	RETURN jsonb_build_object('passed', v_reason IS NULL,
		'reason', coalesce(v_reason, 'all risk checks passed'),
		'checks', v_checks,
		'asked_by', CASE WHEN current_setting('role') = 'none' THEN session_user
						 ELSE current_setting('role') END,
		'at', coalesce((p_state ->> 'at')::timestamptz, clock_timestamp()))
		|| CASE WHEN p_state IS NULL THEN '{}'::jsonb
				ELSE '{"simulated": true}' END;
END
$$;
REVOKE ALL ON FUNCTION pgtrade.risk_check(pgtrade.orders, boolean,
	text, boolean, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.risk_check(pgtrade.orders, boolean, text,
	boolean, jsonb) IS
	'Internal to the risk gate and to backtests: evaluates every limit '
	'covering an order, against the tables or a simulated account.';

/*
 * tick_price rounds an order's price to the tick, always to the less
 * aggressive side: a buy limit down, a sell limit up; a buy stop up, a
 * sell stop down.  kind is 'limit' or 'stop'.
 */
CREATE FUNCTION pgtrade.tick_price(side text, kind text, price numeric,
	tick_size numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CASE WHEN ($1 = 'buy') = ($2 = 'limit') THEN floor($3 / $4)
				ELSE ceil($3 / $4) END * $4;
$$;
REVOKE ALL ON FUNCTION pgtrade.tick_price(text, text, numeric, numeric)
	FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.tick_price(text, text, numeric, numeric) IS
	'An order''s limit or stop price rounded to the tick on the less '
	'aggressive side (a buy limit down, a sell limit up, a buy stop up, '
	'a sell stop down), as the risk gate rounds it.';

CREATE FUNCTION pgtrade.orders_gate()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_halted boolean;
	v_halt_reason text;
	v_inst pgtrade.instrument;
	v_prefix text;
BEGIN
	/* only for an account the caller may trade (35_access.sql) */
	PERFORM pgtrade.require_account(NEW.account_id);
	/*
	 * Order ids come from the sequence.  An id a client picked ahead of
	 * it (OVERRIDING SYSTEM VALUE) would be drawn later by another
	 * order, whose insert would then fail.
	 */
	IF NEW.order_id IS NULL OR NEW.order_id < 1 OR NEW.order_id >
		coalesce(pg_catalog.pg_sequence_last_value('pgtrade.orders_order_id_seq'), 0) THEN
		RAISE EXCEPTION 'order ids are assigned by pgtrade, not %', NEW.order_id
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Leave order_id out of the INSERT.';
	END IF;
	/* the per-account lock: concurrent gates for one account queue here */
	UPDATE pgtrade.account a SET gate_seq = a.gate_seq + 1
	WHERE a.account_id = NEW.account_id
	RETURNING a.halted, a.halt_reason INTO v_halted, v_halt_reason;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'account "%" does not exist', NEW.account_id
			USING ERRCODE = 'foreign_key_violation',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	SELECT * INTO v_inst FROM pgtrade.instrument i
	WHERE i.instrument_id = NEW.instrument_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'instrument % does not exist', NEW.instrument_id
			USING ERRCODE = 'foreign_key_violation';
	END IF;

	/*
	 * The order's shape, with a message for each mistake: the table's
	 * constraints would refuse these too, but by constraint name.
	 */
	IF NEW.order_type IS NULL
		OR NEW.order_type NOT IN ('market', 'limit', 'stop', 'stop_limit') THEN
		RAISE EXCEPTION 'order type must be market, limit, stop or stop_limit, not %',
			coalesce('"' || NEW.order_type || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.tif IS NULL OR NEW.tif NOT IN ('day', 'gtc', 'ioc') THEN
		RAISE EXCEPTION 'time in force must be day, gtc or ioc, not %',
			coalesce('"' || NEW.tif || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.outside_rth IS NULL THEN
		RAISE EXCEPTION 'outside_rth must be true or false, not NULL'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (NEW.limit_price IS NULL) = (NEW.order_type IN ('limit', 'stop_limit'))
		OR (NEW.stop_price IS NULL) = (NEW.order_type IN ('stop', 'stop_limit'))
	THEN
		RAISE EXCEPTION 'a % order takes %', replace(NEW.order_type, '_', '-'),
			CASE NEW.order_type
				WHEN 'market' THEN 'neither a limit nor a stop price'
				WHEN 'limit' THEN 'a limit price and no stop price'
				WHEN 'stop' THEN 'a stop price and no limit price'
				ELSE 'a limit price and a stop price' END
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* NaN sorts above Infinity in numeric: both fail the second test */
	IF NOT (NEW.limit_price > 0 AND NEW.limit_price < 'Infinity') THEN
		RAISE EXCEPTION 'limit price must be a positive finite number, not %',
			NEW.limit_price
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (NEW.stop_price > 0 AND NEW.stop_price < 'Infinity') THEN
		RAISE EXCEPTION 'stop price must be a positive finite number, not %',
			NEW.stop_price
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.quantity IS NULL OR NEW.quantity <= 0
		OR NEW.quantity % v_inst.lot_size <> 0 THEN
		RAISE EXCEPTION 'order quantity % is not a positive multiple of the lot size %',
			NEW.quantity, v_inst.lot_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/*
	 * Only the prices pgtrade sends are rounded to the tick size, always
	 * to the less aggressive side (tick_price).
	 */
	NEW.limit_price := pgtrade.tick_price(NEW.side, 'limit',
		NEW.limit_price, v_inst.tick_size);
	NEW.stop_price := pgtrade.tick_price(NEW.side, 'stop', NEW.stop_price,
		v_inst.tick_size);
	IF NEW.limit_price <= 0 OR NEW.stop_price <= 0 THEN
		RAISE EXCEPTION 'order price rounds to zero at tick size %',
			v_inst.tick_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.valid_until > now() + interval '1 day' THEN
		RAISE EXCEPTION 'valid_until must be within a day of now'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A pending order not sent within a day is stale, and '
				     || 'IBKR keeps client order ids for 24 hours only.';
	END IF;
	IF NEW.strategy_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.strategy s
		WHERE s.strategy_id = NEW.strategy_id
			AND s.account_id = NEW.account_id
			AND s.instrument_id = NEW.instrument_id) THEN
		RAISE EXCEPTION 'strategy % does not trade this account and instrument',
			NEW.strategy_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.decision_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.decision d
		WHERE d.decision_id = NEW.decision_id
			AND d.strategy_id IS NOT DISTINCT FROM NEW.strategy_id
			AND d.order_id IS NULL) THEN
		RAISE EXCEPTION 'decision % is not an open decision of this order''s strategy',
			NEW.decision_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT coid_prefix INTO STRICT v_prefix FROM pgtrade.installation;
	NEW.client_order_id := format('pgt-%s-%s', v_prefix, NEW.order_id);
	/* a bracket child: checked against its parent, given its OCA group */
	NEW.oca_group := pgtrade.bracket_child_group(NEW);
	NEW.filled_quantity := 0;
	NEW.avg_fill_price := NULL;
	NEW.broker_order_id := NULL;
	NEW.broker_status := NULL;
	NEW.broker_filled_quantity := NULL;
	NEW.attempts := 0;
	NEW.claimed_by := NULL;
	NEW.cancel_sent_at := NULL;
	NEW.cancel_asked := NULL;
	NEW.last_error := NULL;
	NEW.submitted_at := NULL;
	NEW.created_at := now();
	NEW.updated_at := now();
	NEW.valid_until := coalesce(NEW.valid_until, now() + interval '15 minutes');

	NEW.risk_verdict := pgtrade.risk_check(NEW, v_halted, v_halt_reason);
	NEW.status := CASE WHEN (NEW.risk_verdict->>'passed')::boolean
					   THEN 'pending' ELSE 'refused' END;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgtrade.orders_gate() IS
	'The risk gate: BEFORE INSERT on orders; locks the account, checks '
	'every limit and sets status pending or refused.';

CREATE FUNCTION pgtrade.orders_after_insert()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	INSERT INTO pgtrade.order_event (order_id, from_status, to_status,
									 source, detail, payload)
	VALUES (NEW.order_id, NULL, NEW.status, 'risk_gate',
			NEW.risk_verdict->>'reason', NEW.risk_verdict);
	IF NEW.status = 'pending' THEN
		PERFORM pg_notify('pgtrade_order', NEW.order_id::text);
		/* the scheduler commits what placed an order synchronously */
		PERFORM pg_catalog.set_config('pgtrade.order_placed', 'on', true);
	ELSE
		RAISE WARNING 'order % refused by the risk gate: %', NEW.order_id,
			NEW.risk_verdict->>'reason';
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.orders_after_insert() IS
	'AFTER INSERT on orders: records the gate''s verdict as the first '
	'event and rings the listener for pending orders.';

CREATE FUNCTION pgtrade.orders_before_update()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	IF NEW.order_id <> OLD.order_id
		OR NEW.client_order_id IS DISTINCT FROM OLD.client_order_id
		OR NEW.account_id <> OLD.account_id
		OR NEW.instrument_id <> OLD.instrument_id
		OR NEW.side <> OLD.side
		OR (NEW.quantity <> OLD.quantity AND current_setting(
			'pgtrade.applying_modification', true) IS DISTINCT FROM 'on')
		OR NEW.order_type <> OLD.order_type
		OR NEW.parent_order_id IS DISTINCT FROM OLD.parent_order_id
		OR NEW.oca_group IS DISTINCT FROM OLD.oca_group
		OR NEW.created_at <> OLD.created_at THEN
		RAISE EXCEPTION 'cannot change the terms of order %', OLD.order_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'An order''s id, account, instrument, side, quantity '
				     || 'and type are fixed once it is inserted; the quantity '
				     || 'changes only through pgtrade.modify_order.';
	END IF;
	IF NEW.status <> OLD.status AND NOT EXISTS (
		SELECT 1 FROM pgtrade.order_transition t
		WHERE t.from_status = OLD.status AND t.to_status = NEW.status) THEN
		RAISE EXCEPTION 'cannot move order % from % to %', OLD.order_id,
			OLD.status, NEW.status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'See pgtrade.order_transition for the allowed moves.';
	END IF;
	NEW.updated_at := clock_timestamp();
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pgtrade.orders_before_update() IS
	'BEFORE UPDATE on orders: refuses status moves outside the state '
	'machine and changes to an order''s terms.';

CREATE FUNCTION pgtrade.orders_after_update()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_source text := nullif(current_setting('pgtrade.event_source', true), '');
	v_detail text := nullif(current_setting('pgtrade.event_detail', true), '');
	v_payload text := nullif(current_setting('pgtrade.event_payload', true), '');
BEGIN
	INSERT INTO pgtrade.order_event (order_id, from_status, to_status,
									 source, detail, payload)
	VALUES (NEW.order_id, OLD.status, NEW.status,
			coalesce(v_source, 'direct update by ' || current_user),
			v_detail, v_payload::jsonb);
	PERFORM set_config('pgtrade.event_source', '', true);
	PERFORM set_config('pgtrade.event_detail', '', true);
	PERFORM set_config('pgtrade.event_payload', '', true);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.orders_after_update() IS
	'AFTER UPDATE on orders: writes an order_event for every status change.';

/*
 * A cancel asked while the order was being submitted goes out once the
 * broker has acknowledged the order, whichever way that became known (its
 * answer, or the order found by cOID after a lost answer or an unknown
 * state settled).  Asked once: a broker that keeps the order working
 * after the cancel does not have it sent again by this.
 */
CREATE FUNCTION pgtrade.orders_cancel_asked()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM set_config('pgtrade.event_source', 'pgtrade', true);
	PERFORM set_config('pgtrade.event_detail', format('the cancel asked '
		'while the order was being submitted (%s)', NEW.cancel_asked), true);
	UPDATE pgtrade.orders o SET status = 'cancel_requested', cancel_asked = NULL
	WHERE o.order_id = NEW.order_id;
	PERFORM pg_notify('pgtrade_order', 'cancel ' || NEW.order_id);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.orders_cancel_asked() IS
	'AFTER UPDATE on orders: an order acknowledged as working with a '
	'cancel asked meanwhile moves on to cancel_requested.';

CREATE TRIGGER orders_gate BEFORE INSERT ON pgtrade.orders
	FOR EACH ROW EXECUTE FUNCTION pgtrade.orders_gate();
CREATE TRIGGER orders_after_insert AFTER INSERT ON pgtrade.orders
	FOR EACH ROW EXECUTE FUNCTION pgtrade.orders_after_insert();
CREATE TRIGGER orders_before_update BEFORE UPDATE ON pgtrade.orders
	FOR EACH ROW EXECUTE FUNCTION pgtrade.orders_before_update();
CREATE TRIGGER orders_after_update AFTER UPDATE ON pgtrade.orders
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION pgtrade.orders_after_update();
CREATE TRIGGER orders_cancel_asked AFTER UPDATE ON pgtrade.orders
	FOR EACH ROW WHEN (NEW.status = 'working' AND NEW.cancel_asked IS NOT NULL)
	EXECUTE FUNCTION pgtrade.orders_cancel_asked();

/*
 * order_move moves one order to a new status, recording who moved it and
 * why.  Internal: callers are pgtrade's own SECURITY DEFINER functions.
 */
CREATE FUNCTION pgtrade.order_move(p_order_id bigint, p_status text,
	p_source text, p_detail text, p_payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	/*
	 * A move made from a trigger of another order's update (a bracket's
	 * children moved with their parent) comes before that order's own
	 * event is written from these settings: they are put back after.
	 */
	v_source text := current_setting('pgtrade.event_source', true);
	v_detail text := current_setting('pgtrade.event_detail', true);
	v_payload text := current_setting('pgtrade.event_payload', true);
BEGIN
	PERFORM set_config('pgtrade.event_source', coalesce(p_source, ''), true);
	PERFORM set_config('pgtrade.event_detail', coalesce(p_detail, ''), true);
	PERFORM set_config('pgtrade.event_payload',
					   coalesce(p_payload::text, ''), true);
	UPDATE pgtrade.orders SET status = p_status,
		last_error = CASE WHEN p_status IN ('rejected', 'unknown')
						  THEN p_detail ELSE last_error END
	WHERE order_id = p_order_id;
	PERFORM set_config('pgtrade.event_source', coalesce(v_source, ''), true);
	PERFORM set_config('pgtrade.event_detail', coalesce(v_detail, ''), true);
	PERFORM set_config('pgtrade.event_payload', coalesce(v_payload, ''), true);
END
$$;
REVOKE ALL ON FUNCTION pgtrade.order_move(bigint, text, text, text,
	jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.order_move(bigint, text, text, text, jsonb) IS
	'Internal: moves an order to a status and records the event''s '
	'source, detail and payload.';

/*
 * order_note appends an event that is not a status change (a broker
 * report that would move the order backwards, a duplicate report).
 */
CREATE FUNCTION pgtrade.order_note(p_order_id bigint, p_status text,
	p_source text, p_detail text, p_payload jsonb DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO pgtrade.order_event (order_id, from_status, to_status,
									 source, detail, payload)
	VALUES ($1, $2, $2, $3, $4, $5);
$$;
REVOKE ALL ON FUNCTION pgtrade.order_note(bigint, text, text, text,
	jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.order_note(bigint, text, text, text, jsonb) IS
	'Internal: records an order event that does not change the status.';

CREATE FUNCTION pgtrade.place_order(account_id text, symbol text, side text,
	quantity numeric, order_type text DEFAULT 'market',
	limit_price numeric DEFAULT NULL, stop_price numeric DEFAULT NULL,
	tif text DEFAULT 'day', valid_for interval DEFAULT '15 minutes',
	outside_rth boolean DEFAULT false)
RETURNS pgtrade.orders
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_row pgtrade.orders;
	v_null text;
BEGIN
	/* what names the order (the rest have their own messages) */
	v_null := CASE WHEN account_id IS NULL THEN 'account_id'
				   WHEN symbol IS NULL THEN 'symbol'
				   WHEN quantity IS NULL THEN 'quantity' END;
	IF v_null IS NOT NULL THEN
		RAISE EXCEPTION 'place_order needs %, not NULL', v_null
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF side IS NULL OR lower(side) NOT IN ('buy', 'sell') THEN
		RAISE EXCEPTION 'order side must be buy or sell, not "%"', side
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF valid_for IS NULL OR valid_for <= interval '0' THEN
		RAISE EXCEPTION 'valid_for must be a positive interval'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO pgtrade.orders (account_id, instrument_id, side, quantity,
		order_type, limit_price, stop_price, tif, outside_rth, valid_until)
	VALUES (place_order.account_id, pgtrade.instrument_id(symbol),
		lower(side), quantity, lower(order_type), limit_price, stop_price,
		lower(tif), outside_rth, now() + valid_for)
	RETURNING * INTO v_row;
	RETURN v_row;
END
$$;
COMMENT ON FUNCTION pgtrade.place_order(text, text, text, numeric, text,
	numeric, numeric, text, interval, boolean) IS
	'Places an order by hand; it meets the same risk gate as a '
	'strategy''s and returns the row (status pending or refused).';

CREATE FUNCTION pgtrade.cancel_order(order_id bigint,
	reason text DEFAULT 'cancelled by user')
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_status text;
	v_account text;
	v_entry bigint;
BEGIN
	SELECT o.status, o.account_id INTO v_status, v_account FROM pgtrade.orders o
	WHERE o.order_id = cancel_order.order_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', cancel_order.order_id
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgtrade.require_account(v_account);
	/* no entry without both protections */
	SELECT p.order_id INTO v_entry FROM pgtrade.orders c
	JOIN pgtrade.orders p ON p.order_id = c.parent_order_id
	WHERE c.order_id = cancel_order.order_id
		AND pgtrade.order_is_open(p.status);
	IF FOUND AND pgtrade.order_is_open(v_status) THEN
		RAISE EXCEPTION 'cannot cancel order % alone: it is an exit of bracket '
			'entry %, which is still open',
			cancel_order.order_id, v_entry
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = pg_catalog.format('Cancel the entry (order %s): its '
					  || 'exits go with it.', v_entry);
	END IF;
	IF v_status = 'pending' THEN
		PERFORM pgtrade.order_move(cancel_order.order_id, 'cancelled',
			'user ' || pgtrade.caller_role(), reason);
		RETURN 'cancelled';
	ELSIF v_status = 'working' THEN
		PERFORM pgtrade.order_move(cancel_order.order_id, 'cancel_requested',
			'user ' || pgtrade.caller_role(), reason);
		PERFORM pg_notify('pgtrade_order', 'cancel ' || cancel_order.order_id);
		RETURN 'cancel_requested';
	ELSIF v_status = 'submitting' THEN
		/*
		 * The broker's order id is not known yet: the cancel waits for the
		 * acknowledgement (orders_cancel_asked), and is not lost if the
		 * order is found by its cOID instead.
		 */
		UPDATE pgtrade.orders o
		SET cancel_asked = coalesce(o.cancel_asked, pg_catalog.format(
			'user %s: %s', pgtrade.caller_role(), reason))
		WHERE o.order_id = cancel_order.order_id;
		PERFORM pgtrade.order_note(cancel_order.order_id, v_status,
			'user ' || pgtrade.caller_role(), pg_catalog.format(
				'cancel asked while the order is being submitted: sent once '
				'the broker acknowledges it (%s)', reason));
		RETURN v_status;
	ELSIF v_status = 'cancel_requested' THEN
		RETURN v_status;
	END IF;
	RAISE EXCEPTION 'cannot cancel order %: it is %', cancel_order.order_id,
		v_status
		USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;
COMMENT ON FUNCTION pgtrade.cancel_order(bigint, text) IS
	'Cancels a pending order at once, or asks the listener to cancel a '
	'working one; returns the new status.';

CREATE FUNCTION pgtrade.risk_limit_audit()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	/*
	 * who asked, not current_user: inside the SECURITY DEFINER functions
	 * that change limits that is always pgtrade's owner
	 */
	INSERT INTO pgtrade.risk_limit_history (limit_id, operation,
		old_row, new_row, changed_by)
	VALUES (coalesce(NEW.limit_id, OLD.limit_id), TG_OP,
			CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
			CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
			pgtrade.caller_role());
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrade.risk_limit_audit() IS
	'AFTER trigger on risk_limit: appends every change to risk_limit_history.';
CREATE TRIGGER risk_limit_audit AFTER INSERT OR UPDATE OR DELETE
	ON pgtrade.risk_limit FOR EACH ROW
	EXECUTE FUNCTION pgtrade.risk_limit_audit();

/*
 * set_risk_limit sets the limits of one scope (all accounts, an account,
 * or a strategy of an account).  A NULL argument leaves that limit as it
 * is; remove_risk_limit takes one away.  Every change lands in
 * risk_limit_history through the audit trigger.
 */
/*
 * A strategy's limits and kill switch are those of the strategy on its
 * own account, however the call names it: set_risk_limit(strategy_id =>
 * 7) and set_risk_limit('DU1', 7) address one row, so that the one can
 * be changed or removed through the other.
 */
CREATE FUNCTION pgtrade.limit_scope_account(p_account text, p_strategy bigint)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN p_account IS NOT NULL OR p_strategy IS NULL THEN p_account
		ELSE (SELECT s.account_id FROM pgtrade.strategy s
			  WHERE s.strategy_id = p_strategy) END
$$;
REVOKE ALL ON FUNCTION pgtrade.limit_scope_account(text, bigint) FROM PUBLIC;
COMMENT ON FUNCTION pgtrade.limit_scope_account(text, bigint) IS
	'Internal: the account of a risk limit''s scope; a strategy''s own '
	'when only the strategy is named.';

CREATE FUNCTION pgtrade.set_risk_limit(account_id text DEFAULT NULL,
	strategy_id bigint DEFAULT NULL, max_position numeric DEFAULT NULL,
	max_order_quantity numeric DEFAULT NULL, note text DEFAULT NULL,
	max_order_notional numeric DEFAULT NULL,
	max_position_notional numeric DEFAULT NULL,
	max_open_orders integer DEFAULT NULL,
	max_orders_per_day integer DEFAULT NULL,
	max_daily_loss numeric DEFAULT NULL,
	price_collar_pct numeric DEFAULT NULL,
	allow_short boolean DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_id bigint;
	v_bad text;
BEGIN
	/* NaN sorts above Infinity in numeric: it fails the finite test too */
	v_bad := CASE
		WHEN NOT (coalesce(max_position, 0) >= 0
				  AND coalesce(max_position, 0) < 'Infinity')
			THEN format('max_position must be a finite number of at least 0, not %s',
				max_position)
		WHEN NOT (coalesce(max_order_quantity, 1) > 0
				  AND coalesce(max_order_quantity, 1) < 'Infinity')
			THEN format('max_order_quantity must be a finite number above 0, not %s',
				max_order_quantity)
		WHEN NOT (coalesce(max_order_notional, 1) > 0
				  AND coalesce(max_order_notional, 1) < 'Infinity')
			THEN format('max_order_notional must be a finite number above 0, not %s',
				max_order_notional)
		WHEN NOT (coalesce(max_position_notional, 0) >= 0
				  AND coalesce(max_position_notional, 0) < 'Infinity')
			THEN format('max_position_notional must be a finite number of '
						'at least 0, not %s', max_position_notional)
		WHEN coalesce(max_open_orders, 0) < 0
			THEN format('max_open_orders must be at least 0, not %s', max_open_orders)
		WHEN coalesce(max_orders_per_day, 0) < 0
			THEN format('max_orders_per_day must be at least 0, not %s',
				max_orders_per_day)
		WHEN NOT (coalesce(max_daily_loss, 0) >= 0
				  AND coalesce(max_daily_loss, 0) < 'Infinity')
			THEN format('max_daily_loss must be a finite number of at least 0, not %s',
				max_daily_loss)
		WHEN NOT (coalesce(price_collar_pct, 1) > 0
				  AND coalesce(price_collar_pct, 1) < 'Infinity')
			THEN format('price_collar_pct must be a finite percentage above 0, not %s',
				price_collar_pct)
		END;
	IF v_bad IS NOT NULL THEN
		RAISE EXCEPTION '%', v_bad USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF account_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.account a WHERE a.account_id = set_risk_limit.account_id) THEN
		RAISE EXCEPTION 'account "%" does not exist', account_id
			USING ERRCODE = 'foreign_key_violation',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	IF strategy_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.strategy st
		WHERE st.strategy_id = set_risk_limit.strategy_id) THEN
		RAISE EXCEPTION 'strategy % does not exist', strategy_id
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	IF strategy_id IS NOT NULL AND account_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.strategy st
		WHERE st.strategy_id = set_risk_limit.strategy_id
			AND st.account_id = set_risk_limit.account_id) THEN
		RAISE EXCEPTION 'strategy % does not trade account "%": such a limit '
			'would never apply', strategy_id, account_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	account_id := pgtrade.limit_scope_account(account_id, strategy_id);
	UPDATE pgtrade.risk_limit l
	SET max_position = coalesce(set_risk_limit.max_position, l.max_position),
		max_order_quantity = coalesce(set_risk_limit.max_order_quantity,
									  l.max_order_quantity),
		max_order_notional = coalesce(set_risk_limit.max_order_notional,
									  l.max_order_notional),
		max_position_notional = coalesce(
			set_risk_limit.max_position_notional, l.max_position_notional),
		max_open_orders = coalesce(set_risk_limit.max_open_orders,
								   l.max_open_orders),
		max_orders_per_day = coalesce(set_risk_limit.max_orders_per_day,
									  l.max_orders_per_day),
		max_daily_loss = coalesce(set_risk_limit.max_daily_loss,
								  l.max_daily_loss),
		price_collar_pct = coalesce(set_risk_limit.price_collar_pct,
									l.price_collar_pct),
		allow_short = coalesce(set_risk_limit.allow_short, l.allow_short),
		note = coalesce(set_risk_limit.note, l.note),
		updated_by = pgtrade.caller_role(), updated_at = now()
	WHERE coalesce(l.account_id, '') = coalesce(set_risk_limit.account_id, '')
		AND coalesce(l.strategy_id, 0) = coalesce(set_risk_limit.strategy_id, 0)
		/* a call that changes nothing writes nothing, nor its history */
		AND (l.max_position, l.max_order_quantity, l.max_order_notional,
			 l.max_position_notional, l.max_open_orders, l.max_orders_per_day,
			 l.max_daily_loss, l.price_collar_pct, l.allow_short, l.note)
			IS DISTINCT FROM
			(coalesce(set_risk_limit.max_position, l.max_position),
			 coalesce(set_risk_limit.max_order_quantity, l.max_order_quantity),
			 coalesce(set_risk_limit.max_order_notional, l.max_order_notional),
			 coalesce(set_risk_limit.max_position_notional,
					  l.max_position_notional),
			 coalesce(set_risk_limit.max_open_orders, l.max_open_orders),
			 coalesce(set_risk_limit.max_orders_per_day, l.max_orders_per_day),
			 coalesce(set_risk_limit.max_daily_loss, l.max_daily_loss),
			 coalesce(set_risk_limit.price_collar_pct, l.price_collar_pct),
			 coalesce(set_risk_limit.allow_short, l.allow_short),
			 coalesce(set_risk_limit.note, l.note))
	RETURNING l.limit_id INTO v_id;
	IF NOT FOUND THEN
		SELECT l.limit_id INTO v_id FROM pgtrade.risk_limit l
		WHERE coalesce(l.account_id, '') = coalesce(set_risk_limit.account_id, '')
			AND coalesce(l.strategy_id, 0) = coalesce(set_risk_limit.strategy_id, 0);
	END IF;
	IF v_id IS NULL THEN
		INSERT INTO pgtrade.risk_limit (account_id, strategy_id, max_position,
			max_order_quantity, max_order_notional, max_position_notional,
			max_open_orders, max_orders_per_day, max_daily_loss,
			price_collar_pct, allow_short, note, updated_by)
		VALUES (set_risk_limit.account_id, set_risk_limit.strategy_id,
			set_risk_limit.max_position, set_risk_limit.max_order_quantity,
			set_risk_limit.max_order_notional,
			set_risk_limit.max_position_notional,
			set_risk_limit.max_open_orders, set_risk_limit.max_orders_per_day,
			set_risk_limit.max_daily_loss, set_risk_limit.price_collar_pct,
			set_risk_limit.allow_short, set_risk_limit.note,
			pgtrade.caller_role())
		RETURNING limit_id INTO v_id;
	END IF;
	RETURN v_id;
END
$$;
COMMENT ON FUNCTION pgtrade.set_risk_limit(text, bigint, numeric, numeric,
	text, numeric, numeric, integer, integer, numeric, numeric, boolean) IS
	'Sets the limits of a scope (all accounts, an account, or a strategy); '
	'a NULL argument leaves that limit as it is.';

CREATE FUNCTION pgtrade.remove_risk_limit(limit_name text,
	account_id text DEFAULT NULL, strategy_id bigint DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_n bigint;
BEGIN
	IF limit_name IS NULL OR limit_name NOT IN ('max_position',
		'max_order_quantity', 'max_order_notional', 'max_position_notional',
		'max_open_orders', 'max_orders_per_day', 'max_daily_loss',
		'price_collar_pct', 'allow_short') THEN
		RAISE EXCEPTION 'unknown limit %', coalesce('"' || limit_name || '"', 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Limits are max_position, max_order_quantity, '
					  || 'max_order_notional, max_position_notional, '
					  || 'max_open_orders, max_orders_per_day, '
					  || 'max_daily_loss, price_collar_pct and allow_short.';
	END IF;
	remove_risk_limit.account_id := pgtrade.limit_scope_account(
		remove_risk_limit.account_id, remove_risk_limit.strategy_id);
	/* the name is one of the list above: safe as a column name */
	EXECUTE format('UPDATE pgtrade.risk_limit l
					SET %I = NULL, updated_by = pgtrade.caller_role(),
						updated_at = now()
					WHERE coalesce(l.account_id, '''') = coalesce($1, '''')
						AND coalesce(l.strategy_id, 0) = coalesce($2, 0)
						AND l.%I IS NOT NULL',
				   limit_name, limit_name)
		USING account_id, strategy_id;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n > 0;
END
$$;
COMMENT ON FUNCTION pgtrade.remove_risk_limit(text, text, bigint) IS
	'Removes one limit of a scope (its column becomes NULL); returns false, '
	'and changes and records nothing, when the scope had no such limit.  '
	'Without any max_position the gate refuses every order of the account.';

CREATE FUNCTION pgtrade.set_trading_enabled(enabled boolean,
	account_id text DEFAULT NULL, strategy_id bigint DEFAULT NULL,
	note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled must be true or false'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF set_trading_enabled.account_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.account a
		WHERE a.account_id = set_trading_enabled.account_id) THEN
		RAISE EXCEPTION 'account "%" does not exist',
			set_trading_enabled.account_id
			USING ERRCODE = 'foreign_key_violation',
				  HINT = 'Add it with pgtrade.add_account().';
	END IF;
	IF set_trading_enabled.strategy_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pgtrade.strategy st
		WHERE st.strategy_id = set_trading_enabled.strategy_id) THEN
		RAISE EXCEPTION 'strategy % does not exist',
			set_trading_enabled.strategy_id
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	set_trading_enabled.account_id := pgtrade.limit_scope_account(
		set_trading_enabled.account_id, set_trading_enabled.strategy_id);
	UPDATE pgtrade.risk_limit l
	SET kill_switch = NOT enabled, note = coalesce(set_trading_enabled.note, l.note),
		updated_by = pgtrade.caller_role(), updated_at = now()
	WHERE coalesce(l.account_id, '') = coalesce(set_trading_enabled.account_id, '')
		AND coalesce(l.strategy_id, 0) = coalesce(set_trading_enabled.strategy_id, 0);
	IF NOT FOUND THEN
		INSERT INTO pgtrade.risk_limit (account_id, strategy_id, kill_switch,
										note, updated_by)
		VALUES (set_trading_enabled.account_id, set_trading_enabled.strategy_id,
				NOT enabled, set_trading_enabled.note, pgtrade.caller_role());
	END IF;
END
$$;
COMMENT ON FUNCTION pgtrade.set_trading_enabled(boolean, text, bigint, text) IS
	'The kill switch: false stops new orders for the scope (all accounts, '
	'an account, or a strategy) at the gate and at claim time; true lifts '
	'it.';
