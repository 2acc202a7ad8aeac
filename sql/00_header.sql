/*
 * pgtrade install script, assembled from sql/ in file name order.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgtrade" to load this file. \quit
