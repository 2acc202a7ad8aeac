/*-------------------------------------------------------------------------
 *
 * acting_role.c
 *	  The role a user-defined strategy kind's code runs as, kept where
 *	  that code cannot change it.
 *
 * A kind's evaluator and validator are SECURITY DEFINER functions of the
 * role that registered the kind.  While one runs, pgtrade's own SECURITY
 * DEFINER functions that it calls see the extension's owner as
 * current_user and the session's role as the caller, and would answer
 * with the session's rights (a superuser's, or the pg_cron job's).  So
 * before calling a kind's code pgtrade notes its role here, and
 * pgtrade.caller_role() answers with it until the call returns.
 *
 * The note lives in this backend's memory, not in a setting: the kind's
 * code runs as a role without EXECUTE on the functions that set and
 * clear it, so it can neither clear it nor forge one.  A note is cleared
 * by kind_call_end, and by the abort of the transaction or
 * subtransaction it was made in (an error out of the kind's code); the
 * abort of a subtransaction the kind's code opened itself (an exception
 * block) leaves it in place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pgtrade_kind_call_begin);
PG_FUNCTION_INFO_V1(pgtrade_kind_call_end);
PG_FUNCTION_INFO_V1(pgtrade_acting_role);

void _PG_init(void);

static char acting_role[NAMEDATALEN];
static bool acting = false;
/* transaction nesting level at kind_call_begin */
static int	acting_level = 0;
static bool callbacks_registered = false;

static void
acting_clear(void)
{
	acting = false;
	acting_role[0] = '\0';
	acting_level = 0;
}

static void
acting_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		acting_clear();
}

static void
acting_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	/* the aborting subtransaction is at the current nesting level */
	if (event == SUBXACT_EVENT_ABORT_SUB && acting &&
		GetCurrentTransactionNestLevel() <= acting_level)
		acting_clear();
}

void
_PG_init(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(acting_xact_callback, NULL);
	RegisterSubXactCallback(acting_subxact_callback, NULL);
	callbacks_registered = true;
}

/*
 * kind_call_begin(role name): note the role a kind's code runs as.  A
 * call while one is noted is refused: kinds do not call kinds.
 */
Datum
pgtrade_kind_call_begin(PG_FUNCTION_ARGS)
{
	Name role = PG_GETARG_NAME(0);

	if (acting)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a strategy kind's code cannot run another kind's")));
	strlcpy(acting_role, NameStr(*role), sizeof(acting_role));
	acting_level = GetCurrentTransactionNestLevel();
	acting = true;
	PG_RETURN_VOID();
}

/* kind_call_end(): the kind's code returned. */
Datum
pgtrade_kind_call_end(PG_FUNCTION_ARGS)
{
	acting_clear();
	PG_RETURN_VOID();
}

/* acting_role(): the role noted, or NULL outside a kind's code. */
Datum
pgtrade_acting_role(PG_FUNCTION_ARGS)
{
	Name result;

	if (!acting)
		PG_RETURN_NULL();
	result = (Name) palloc0(NAMEDATALEN);
	strlcpy(NameStr(*result), acting_role, NAMEDATALEN);
	PG_RETURN_NAME(result);
}
