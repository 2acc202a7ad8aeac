/*-------------------------------------------------------------------------
 *
 * acting_role.h
 *	  The role a user's strategy kind acts as, noted while its code runs
 *	  (acting_role.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_ACTING_ROLE_H
#define PGTRADE_ACTING_ROLE_H

extern void pgtrade_acting_init(void);

#endif /* PGTRADE_ACTING_ROLE_H */
