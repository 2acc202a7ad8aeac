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
 * pgtrade calls a kind's code through kind_call_as, which notes its role
 * here, and pgtrade.caller_role() answers with it until the call
 * returns.
 *
 * The note lives in this backend's memory, not in a setting, so the
 * kind's code can neither clear it nor forge one.  It is cleared when
 * the call returns or fails, and by the abort of the transaction or
 * subtransaction it was made in; the abort of a subtransaction the
 * kind's code opened itself (an exception block) leaves it in place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "catalog/pg_type.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "acting_role.h"

PG_FUNCTION_INFO_V1(pgtrade_acting_role);
PG_FUNCTION_INFO_V1(pgtrade_kind_call_as);
PG_FUNCTION_INFO_V1(pgtrade_kind_call);

static char acting_role[NAMEDATALEN];
static bool acting = false;
/* transaction nesting level when the role was noted */
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

/* Registers the callbacks that forget the role; from _PG_init. */
void
pgtrade_acting_init(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(acting_xact_callback, NULL);
	RegisterSubXactCallback(acting_subxact_callback, NULL);
	callbacks_registered = true;
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

/*
 * The function fn must take the arguments after the first skip of this
 * call (its SQL declaration's) and return what the call returns: a
 * kind's function may have been altered or replaced since it was checked.
 */
static void
check_kind_signature(FunctionCallInfo fcinfo, Oid fn, int skip)
{
	int	 nargs = PG_NARGS() - skip;
	Oid *want_types;
	Oid *have_types;
	int	 want_n;
	int	 have_n;
	Oid	 want_ret = get_func_signature(fcinfo->flinfo->fn_oid, &want_types,
									   &want_n);

	if (get_func_rettype(fn) != want_ret ||
		get_func_signature(fn, &have_types, &have_n) == InvalidOid ||
		have_n != nargs || want_n != nargs + skip ||
		memcmp(have_types, want_types + skip, nargs * sizeof(Oid)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("function %u no longer has the signature of its "
						"strategy kind",
						fn)));
}

/*
 * An evaluator's bars must be oldest first, each after the one before:
 * the run's query orders them, and this makes any mistake in that order
 * fail the run instead of feeding indicators a shuffled series.
 */
static void
check_bars_in_order(ArrayType *ts)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	TimestampTz prev = 0;

	deconstruct_array(ts, TIMESTAMPTZOID, sizeof(TimestampTz), true,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		TimestampTz t = nulls[i] ? 0 : DatumGetTimestampTz(elems[i]);

		if (nulls[i] || (i > 0 && t <= prev))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("bars passed to a strategy kind are not in "
							"time order at position %d",
							i + 1)));
		prev = t;
	}
}

/*
 * kind_call(fn regprocedure, params, ts, open, high, low, close,
 * volume): call a built-in kind's C evaluator directly, as the caller,
 * without building and planning a statement for every run.
 */
Datum
pgtrade_kind_call(PG_FUNCTION_ARGS)
{
	Oid		 fn = PG_GETARG_OID(0);
	int		 nargs = PG_NARGS() - 1;
	FmgrInfo flinfo;
	LOCAL_FCINFO(call, FUNC_MAX_ARGS);
	Datum result;
	int	  i;

	check_kind_signature(fcinfo, fn, 1);
	if (nargs == 7 && !PG_ARGISNULL(2))
		check_bars_in_order(PG_GETARG_ARRAYTYPE_P(2));
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*call, &flinfo, nargs, PG_GET_COLLATION(), NULL,
							 NULL);
	for (i = 0; i < nargs; i++)
	{
		call->args[i].value = PG_GETARG_DATUM(i + 1);
		call->args[i].isnull = PG_ARGISNULL(i + 1);
		if (call->args[i].isnull && flinfo.fn_strict)
			PG_RETURN_NULL();
	}
	result = FunctionCallInvoke(call);
	if (call->isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * kind_call_as(role name, fn regprocedure, arg1, ..., argN): call a user
 * kind's function as its role, whatever the function says of itself.
 *
 * Checking beforehand that the function is SECURITY DEFINER and owned by
 * the kind's role is not enough: its owner can ALTER it to SECURITY
 * INVOKER between the check and the call, from another session, and it
 * would then run with the rights of pgtrade's function that calls it,
 * the extension owner's.  So the call itself runs with current_user set
 * to the kind's role (as SECURITY DEFINER functions are run), in a
 * security-restricted operation (no SET ROLE, no temporary objects, no
 * cursors WITH HOLD, as for the functions VACUUM and ANALYZE call), and
 * with the role noted as the caller.  A function that is still SECURITY
 * DEFINER switches to its own owner, which register_kind saw to be the
 * same role.  SQL declares one variant per signature (validator,
 * evaluator); the arguments after the second are passed on as they are.
 */
Datum
pgtrade_kind_call_as(PG_FUNCTION_ARGS)
{
	Name	 role = PG_GETARG_NAME(0);
	Oid		 fn = PG_GETARG_OID(1);
	int		 nargs = PG_NARGS() - 2;
	Oid		 role_oid = get_role_oid(NameStr(*role), false);
	Oid		 save_userid;
	int		 save_sec;
	FmgrInfo flinfo;
	LOCAL_FCINFO(call, FUNC_MAX_ARGS);
	volatile Datum result = (Datum) 0;
	volatile bool  isnull = true;
	int			   i;

	if (acting)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a strategy kind's code cannot run another kind's")));
	if (superuser_arg(role_oid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a strategy kind's role may not be a superuser")));
	check_kind_signature(fcinfo, fn, 2);
	/* an evaluator (params, ts, open, ...) gets its bars in order */
	if (nargs == 7 && !PG_ARGISNULL(3))
		check_bars_in_order(PG_GETARG_ARRAYTYPE_P(3));
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*call, &flinfo, nargs, PG_GET_COLLATION(), NULL,
							 NULL);
	for (i = 0; i < nargs; i++)
	{
		call->args[i].value = PG_GETARG_DATUM(i + 2);
		call->args[i].isnull = PG_ARGISNULL(i + 2);
		if (call->args[i].isnull && flinfo.fn_strict)
			PG_RETURN_NULL();
	}

	GetUserIdAndSecContext(&save_userid, &save_sec);
	strlcpy(acting_role, NameStr(*role), sizeof(acting_role));
	acting_level = GetCurrentTransactionNestLevel();
	acting = true;
	SetUserIdAndSecContext(role_oid,
						   save_sec | SECURITY_RESTRICTED_OPERATION |
							   SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		result = FunctionCallInvoke(call);
		isnull = call->isnull;
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
		acting_clear();
	}
	PG_END_TRY();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
